"""Channel tests: one tiny real call to a channel, on demand or on a timer.

The operator's "test this channel" button and the optional periodic probes send the
smallest call the channel's dialect allows (one user word, at most one output token) to
one of its models, with each of its keys, through the same provider, transport and
timeouts as real traffic. The answer feeds the channel's breaker like a real call's, so a
probe can close a breaker before any caller has to be the trial. Probes cost the operator
a token or two per channel and key each time: periodic probing is off unless
``health_probe_interval`` is set, and probes only the channels that are not known to
work (breaker open or half-open, or never called) unless ``health_probe_all`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from relaygate.channels.health import ChannelHealth
from relaygate.channels.spec import ChannelSpec
from relaygate.core.errors import InvalidRequest, UpstreamFailure
from relaygate.core.redact import redact
from relaygate.relay.dialects.registry import for_channel
from relaygate.relay.masking import channel_secrets
from relaygate.relay.providers.base import Provider, UpstreamCall

__all__ = ["ChannelProber", "ProbeCall"]

log = logging.getLogger(__name__)

_EXCERPT = 300  # characters of the upstream's answer or error shown to the operator


def _probe_call(channel: ChannelSpec, model: str) -> UpstreamCall:
    """The cheapest call the model takes, as the channel's dialect words it."""
    body = for_channel(channel.type).probe(model)
    return UpstreamCall(body.endpoint, body.payload, orjson.dumps(body.payload), False, "probe")


def _scrub(text: str, channel: ChannelSpec) -> str:
    """An upstream's text for the operator, masked like every upstream text (the
    channel's keys, key-like tokens, hosts: core.redact)."""
    return redact(text[: _EXCERPT * 4], channel_secrets(channel, "", ""))[:_EXCERPT]


# A channel type's own cheapest call, by the model (tool) to test: for the types no
# dialect describes (the tools' channels, docs/tools.md)
ProbeCall = Callable[[str], UpstreamCall]


class ChannelProber:
    def __init__(
        self,
        providers: dict[str, Provider],
        health: ChannelHealth,
        probes: Mapping[str, ProbeCall] | None = None,
    ) -> None:
        self.providers = providers
        self.health = health
        self.probes = probes or {}
        self._channels: list[ChannelSpec] = []

    def load(self, channels: list[ChannelSpec]) -> None:
        """The channel snapshot (a ChannelService listener, like the router)."""
        self._channels = channels

    async def test(self, channel: ChannelSpec, model: str | None = None) -> dict[str, Any]:
        """Call ``channel`` once per key; report each key and feed the breaker."""
        if model is not None and model not in channel.models:
            raise InvalidRequest(f"The channel does not serve the model '{model}'.", param="model")
        public = model or next(iter(channel.models), "")
        if not public:
            raise InvalidRequest("The channel serves no model to test.", param="model")
        upstream = channel.models[public] or public
        count = len(channel.keys) or 1
        keys = [await self._try_key(channel, upstream, index) for index in range(count)]
        working = [k for k in keys if k["ok"]]
        if working:
            self.health.succeeded(channel.id, working[0]["latency_ms"])
        else:
            self.health.failed(channel.id)
        first = (working or keys)[0]
        return {
            "channel_id": channel.id,
            "model": public,
            "upstream_model": upstream,
            "ok": bool(working),
            "status": first["status"],
            "latency_ms": first["latency_ms"],
            "keys": keys,
            "health": self.health.state(channel.id),
        }

    async def _try_key(self, channel: ChannelSpec, model: str, index: int) -> dict[str, Any]:
        own = self.probes.get(channel.type)
        call = own(model) if own is not None else _probe_call(channel, model)
        call.key_index = index
        started = time.perf_counter()
        status, text = 0, ""
        try:
            reply = await self.providers[channel.type].send(channel, call)
            try:
                status, text = reply.status, (await reply.read()).decode(errors="replace")
            finally:
                reply.close()
        except UpstreamFailure as err:
            text = err.message
        latency = int((time.perf_counter() - started) * 1000)
        ok = 200 <= status < 300
        return {
            "key": index,
            "ok": ok,
            "status": status or None,
            "latency_ms": latency,
            "answer" if ok else "error": _scrub(text, channel),
        }

    async def probe_every(self, interval: float, every_channel: bool = False) -> None:
        """Probe on a timer until cancelled (see the module docstring for which channels)."""
        while True:
            await asyncio.sleep(interval)
            for channel in self._channels:
                if not channel.enabled or channel.type == "echo" or not channel.models:
                    continue
                state = self.health.state(channel.id)
                if not every_channel and state["state"] == "closed" and state["calls"]:
                    continue  # known to work: real traffic is its probe
                try:
                    await self.test(channel)
                except Exception:  # a probe must never stop the loop
                    log.warning("probing channel %s failed", channel.name, exc_info=True)
