"""What real OpenAI-compatible models refuse in a Chat Completions body, with their
real error texts, for ``FakeOpenAI.refuse``.

Each rule set reads a request body and returns the error the real model answers (status,
OpenAI error object), or None when the model accepts the body. The texts are the ones
users of peers' gateways reported (OpenAI's o-series and gpt-4o, DeepSeek's reasoner,
Qwen's chat template); they make a test fail the way production would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Refusal", "deepseek_reasoner_like", "gpt4o_like", "o3_like", "qwen_template_like"]

Refusal = tuple[int, dict[str, Any]]
Rules = Callable[[dict[str, Any]], Refusal | None]


def _error(message: str, param: str | None, code: str | None, status: int = 400) -> Refusal:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return status, {"error": error}


def _unsupported(name: str) -> Refusal:
    message = f"Unsupported parameter: '{name}' is not supported with this model."
    return _error(message, name, "unsupported_parameter")


def _too_large(body: dict[str, Any], field: str, most: int) -> Refusal | None:
    asked = body.get(field)
    if isinstance(asked, int) and asked > most:
        message = (
            f"{field} is too large: {asked}. This model supports at most {most} completion"
            f" tokens, whereas you provided {asked}."
        )
        return _error(message, field, "invalid_value")
    return None


def _tools_needed(body: dict[str, Any]) -> Refusal | None:
    """OpenAI's own rule on every model: tool fields only with tools."""
    for name in ("parallel_tool_calls", "tool_choice"):
        if name in body and not body.get("tools"):
            message = (
                f"Invalid value for '{name}': '{name}' is only allowed when 'tools' are specified."
            )
            return _error(message, name, None)
    return None


def o3_like(body: dict[str, Any]) -> Refusal | None:
    """An OpenAI o-series reasoning model (o3, o4-mini)."""
    if "max_tokens" in body:
        return _error(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use"
            " 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    for name in ("temperature", "top_p", "stop", "parallel_tool_calls"):
        if name in body:
            return _unsupported(name)
    for index, message in enumerate(body.get("messages") or []):
        if message.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            return _error(f"Invalid value: '{message.get('role')}'.", f"messages[{index}].role",
                          "invalid_value")  # fmt: skip
    return _tools_needed(body) or _too_large(body, "max_completion_tokens", 100_000)


def gpt4o_like(body: dict[str, Any]) -> Refusal | None:
    """An OpenAI chat model that does not reason (gpt-4o, 16,384 output tokens)."""
    if "reasoning_effort" in body:
        return _error("Unrecognized request argument supplied: reasoning_effort", None, None)
    return _tools_needed(body) or _too_large(body, "max_tokens", 16_384)


def deepseek_reasoner_like(body: dict[str, Any]) -> Refusal | None:
    """DeepSeek's thinking model: no ``tool_choice``, 65,536 output tokens at most, only
    the four roles of its message schema, and a tool loop's assistant messages must carry
    their ``reasoning_content`` back."""
    if "tool_choice" in body:
        return _error("deepseek-reasoner does not support this tool_choice", None,
                      "invalid_request_error")  # fmt: skip
    for index, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        if role not in ("system", "user", "assistant", "tool"):
            return _error(
                "Failed to deserialize the JSON body into the target type: messages["
                f"{index}]: unknown variant `{role}`, expected one of `system`, `user`,"
                " `assistant`, `tool`",
                None,
                None,
                status=422,
            )
        if role == "assistant" and message.get("tool_calls") and "reasoning_content" not in message:
            return _error(
                f"Missing `reasoning_content` field in the assistant message at message index"
                f" {index}. For more information, please refer to"
                " https://api-docs.deepseek.com/guides/thinking_mode#tool-calls",
                None,
                "invalid_request_error",
            )
    asked = body.get("max_tokens")
    if isinstance(asked, int) and not 1 <= asked <= 65_536:
        return _error("Invalid max_tokens value, the valid range of max_tokens is [1, 65536]",
                      None, "invalid_request_error")  # fmt: skip
    return None


def qwen_template_like(body: dict[str, Any]) -> Refusal | None:
    """A vLLM server whose Qwen chat template takes a system message only first."""
    for index, message in enumerate(body.get("messages") or []):
        if index and message.get("role") == "system":
            return _error("System message must be at the beginning.", None, None)
    return None
