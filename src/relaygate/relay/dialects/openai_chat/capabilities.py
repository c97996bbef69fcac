"""What an OpenAI-compatible model accepts in a Chat Completions body, by model family.

A translated call (Claude Code on GPT or DeepSeek, Codex on a chat channel) carries
fields its caller never wrote; the upstream refuses whole calls over fields some models
do not take: OpenAI's reasoning models refuse ``max_tokens``, ``temperature``,
``stop`` and (o-series) ``parallel_tool_calls``; its chat models refuse
``reasoning_effort``; ``deepseek-reasoner`` refuses ``tool_choice`` and a tool loop without its
``reasoning_content``; o1-mini refuses a
``system`` message; Qwen, Llama and Gemma chat templates refuse a system message that
is not first; every model refuses an output limit above its own. So the renderer asks a
:class:`ModelCapabilities` what to send instead of sending one body to all.

:func:`builtin_capabilities` knows the common families by name; a channel can correct or
extend it per model (``options.models``, applied by ``channel_capabilities``). A model no
family matches gets :data:`UNKNOWN`: what the translation always sent, which most
OpenAI-compatible servers (vLLM, Ollama, OpenRouter) accept. See docs/compatibility.md,
"Model capabilities".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Literal

__all__ = [
    "UNKNOWN",
    "ModelCapabilities",
    "SystemRole",
    "TokenField",
    "builtin_capabilities",
    "family_name",
    "matches",
]

SystemRole = Literal["system", "developer", "user"]
TokenField = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What one upstream model accepts; each field names what the body may carry.

    ``reasoning_effort``: the caller's thinking is sent as ``reasoning_effort``.
    ``sampling``: ``temperature`` and ``top_p`` are sent. ``stop``: stop sequences can
    be sent (if not, a call with some is refused: dropping them changes the answer).
    ``max_tokens_field``: the name the output limit goes by.
    ``max_output_tokens``: the most output tokens the model gives (a larger limit is
    lowered to it). ``system_role``: the role system text is sent in (``user`` for
    models that take no instructions role). ``mid_conversation_system``: system text
    may stay where the caller put it; if not, it joins the leading system message.
    ``reasoning_content``: the model's earlier reasoning goes back in its assistant
    messages. ``parallel_tool_calls``: the field is sent (with tools). ``tool_choice``: ``auto``
    is sent (a forced choice always is: leaving it out would change the answer)."""

    reasoning_effort: bool = True
    sampling: bool = True
    stop: bool = True
    max_tokens_field: TokenField = "max_tokens"
    max_output_tokens: int | None = None
    system_role: SystemRole = "system"
    mid_conversation_system: bool = True
    reasoning_content: bool = False
    parallel_tool_calls: bool = True
    tool_choice: bool = True


UNKNOWN = ModelCapabilities()

_CHAT = ModelCapabilities(reasoning_effort=False)  # OpenAI's non-reasoning chat models
# OpenAI's reasoning models: max_completion_tokens, no sampling or stop, developer role
_OPENAI_REASONING = ModelCapabilities(
    sampling=False,
    stop=False,
    max_tokens_field="max_completion_tokens",
    system_role="developer",
)
_O_SERIES = replace(_OPENAI_REASONING, parallel_tool_calls=False, max_output_tokens=100_000)
# template families whose chat templates raise "System message must be at the beginning"
_FIRST_SYSTEM = ModelCapabilities(mid_conversation_system=False)

# (glob on the lower-cased name without a vendor prefix, capabilities); first match wins
_FAMILIES: tuple[tuple[str, ModelCapabilities], ...] = (
    ("o1-mini*", replace(_O_SERIES, reasoning_effort=False, system_role="user",
                         max_output_tokens=65_536)),
    ("o1-preview*", replace(_O_SERIES, reasoning_effort=False, system_role="user",
                            max_output_tokens=32_768)),
    ("o1*", _O_SERIES),
    ("o3*", _O_SERIES),
    ("o4-mini*", _O_SERIES),
    ("gpt-5*-chat*", replace(_CHAT, max_output_tokens=16_384)),
    ("gpt-5*", replace(_OPENAI_REASONING, max_output_tokens=128_000)),
    ("gpt-4o*", replace(_CHAT, max_output_tokens=16_384)),
    ("chatgpt-4o*", replace(_CHAT, max_output_tokens=16_384)),
    ("gpt-4.1*", replace(_CHAT, max_output_tokens=32_768)),
    ("gpt-4-turbo*", replace(_CHAT, max_output_tokens=4_096)),
    ("gpt-4-*preview*", replace(_CHAT, max_output_tokens=4_096)),
    ("gpt-4", replace(_CHAT, max_output_tokens=8_192)),
    ("gpt-4-0613", replace(_CHAT, max_output_tokens=8_192)),
    ("gpt-3.5-turbo*", replace(_CHAT, max_output_tokens=4_096)),
    # DeepSeek's thinking model takes no effort, ignores sampling, refuses tool_choice and
    # a tool loop whose assistant messages lack their reasoning_content
    ("deepseek-reasoner*", ModelCapabilities(
        reasoning_effort=False, sampling=False, tool_choice=False, max_output_tokens=65_536,
        reasoning_content=True)),
    ("deepseek-r1*", ModelCapabilities(reasoning_effort=False, sampling=False,
                                       tool_choice=False)),
    ("deepseek-chat*", replace(_CHAT, max_output_tokens=8_192)),
    ("qwen*", _FIRST_SYSTEM),
    ("qwq*", _FIRST_SYSTEM),
    ("gemma*", _FIRST_SYSTEM),
    ("llama*", _FIRST_SYSTEM),
    ("meta-llama*", _FIRST_SYSTEM),
    ("mistral*", _FIRST_SYSTEM),
    ("mixtral*", _FIRST_SYSTEM),
)  # fmt: skip


def family_name(model: str) -> str:
    """``openai/o3`` (OpenRouter), ``Qwen/Qwen3-32B`` (vLLM) -> ``o3``, ``qwen3-32b``."""
    return model.rsplit("/", 1)[-1].strip().lower()


def matches(pattern: str, model: str) -> bool:
    """A channel's pattern (a name or a glob) against a model name, case-insensitively,
    with or without the name's vendor prefix."""
    glob = pattern.strip().lower()
    return fnmatchcase(model.strip().lower(), glob) or fnmatchcase(family_name(model), glob)


def builtin_capabilities(*names: str) -> ModelCapabilities:
    """The capabilities of the first known family among ``names`` (the upstream's model
    name first, then the public one); :data:`UNKNOWN` when none is known."""
    for name in names:
        family = family_name(name)
        for glob, capabilities in _FAMILIES:
            if family and fnmatchcase(family, glob):
                return capabilities
    return UNKNOWN
