"""A Responses turn for an upstream that serves the Responses API itself."""

from __future__ import annotations

from typing import Any

from relaygate.relay.dialects.openai_responses.output import unseal

__all__ = ["native_body"]


def native_body(payload: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """Relaygate's history goes in ``input``, because the chain may have begun on another
    channel, whose ids the upstream has never seen. Reasoning that Relaygate sealed for
    another vendor's model is left out (only that vendor can read it)."""
    out = {k: v for k, v in payload.items() if k not in ("previous_response_id", "conversation")}
    if history:
        current = payload.get("input")
        turn = [{"role": "user", "content": current}] if isinstance(current, str) else current
        replay = [item for item in history if not _sealed(item)]
        out["input"] = [*replay, *(turn if isinstance(turn, list) else [])]
    return out


def _sealed(item: dict[str, Any]) -> bool:
    return item.get("type") == "reasoning" and unseal(item.get("encrypted_content")) is not None
