"""Every wire format's Dialect record, by name and by channel type.

The only place that knows which dialects exist: the pipeline looks a call's records up
here once, when its route is chosen (the caller's by its endpoint, the channel's by
:func:`for_call`), and reads fields from then on. Adding a wire format is one record in
its package and one line in ``_RECORDS`` (docs/dialects.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.dialects import DialectName
from relaygate.relay.dialects.anthropic_messages.dialect import DIALECT as ANTHROPIC_MESSAGES
from relaygate.relay.dialects.openai_chat.dialect import DIALECT as OPENAI_CHAT
from relaygate.relay.dialects.openai_responses.dialect import DIALECT as OPENAI_RESPONSES
from relaygate.relay.dialects.record import Dialect

__all__ = [
    "ANTHROPIC_MESSAGES",
    "CHANNEL_DIALECTS",
    "OPENAI_CHAT",
    "OPENAI_RESPONSES",
    "RECORDS",
    "dialect_of",
    "for_call",
    "for_channel",
]

# keyed by DialectName, a StrEnum: its plain string finds the same record
RECORDS: Mapping[str, Dialect] = MappingProxyType(
    {record.name: record for record in (OPENAI_CHAT, ANTHROPIC_MESSAGES, OPENAI_RESPONSES)}
)

# channel type -> the dialect its upstream speaks (a Responses channel is an OpenAI-type
# channel with ``responses_api`` set: see :func:`for_call`)
CHANNEL_DIALECTS: Mapping[str, Dialect] = MappingProxyType(
    {
        "openai": OPENAI_CHAT,
        "azure_openai": OPENAI_CHAT,
        "echo": OPENAI_CHAT,
        "anthropic": ANTHROPIC_MESSAGES,
    }
)


def dialect_of(name: str) -> Dialect:
    """The record of a dialect by name (a ``DialectName``, or its string value); an
    unknown name is a programming error (ValueError), never a caller's."""
    record = RECORDS.get(name)
    if record is None:
        raise ValueError(f"unknown dialect {name!r}")
    return record


def for_channel(channel_type: str) -> Dialect:
    """The dialect a channel type's upstream speaks (anything unknown is OpenAI-compatible)."""
    return CHANNEL_DIALECTS.get(channel_type, OPENAI_CHAT)


def for_call(channel: ChannelSpec, client: str) -> Dialect:
    """The dialect a call is sent to ``channel`` in (``client``: the caller's): the
    channel's own, or Responses for a Responses caller when the upstream serves that API
    itself."""
    if client == DialectName.RESPONSES and channel.responses_api:
        return OPENAI_RESPONSES
    return for_channel(channel.type)
