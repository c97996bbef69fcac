"""A channel's timeouts and proxy as the transport takes them, built once per channel version.

Every HTTP provider hands the shared client the channel's :class:`CallOptions` on every
call. Most channels use the gateway's defaults: for them the lookup answers ``None``
(the client's own defaults) and nothing is allocated per call. A channel with its own
timeouts or a proxy gets one frozen object, rebuilt only when the channel changes (a new
:class:`~relaygate.channels.spec.ChannelSpec` replaces the old one on every reload).
"""

from __future__ import annotations

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.proxy import CallOptions, Proxy

__all__ = ["ChannelCallOptions", "call_options"]


def call_options(channel: ChannelSpec) -> CallOptions | None:
    """The channel's overrides, or None when it uses the gateway's defaults throughout."""
    if (
        channel.connect_timeout is None
        and channel.first_byte_timeout is None
        and channel.idle_timeout is None
        and not channel.proxy_url
    ):
        return None
    return CallOptions(
        channel.connect_timeout,
        channel.first_byte_timeout,
        channel.idle_timeout,
        Proxy.from_url(channel.proxy_url) if channel.proxy_url else None,
    )


class ChannelCallOptions:
    """Per-provider cache of :func:`call_options`, keyed by channel id and version."""

    __slots__ = ("_cached",)

    def __init__(self) -> None:
        self._cached: dict[int, tuple[ChannelSpec, CallOptions | None]] = {}

    def __call__(self, channel: ChannelSpec) -> CallOptions | None:
        cached = self._cached.get(channel.id)
        if cached is None or cached[0] is not channel:
            cached = (channel, call_options(channel))
            self._cached[channel.id] = cached
        return cached[1]
