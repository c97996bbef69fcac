"""From a channel's options to what the transport gets: validation and the per-version cache."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from relaygate.channels.options import ChannelOptions
from relaygate.channels.spec import ChannelSpec
from relaygate.relay.providers.call_options import ChannelCallOptions, call_options

CHANNEL = ChannelSpec(1, "c", "openai", "http://127.0.0.1:1/v1", "sk", {"m": "m"})


@pytest.mark.parametrize(
    "url", ["http://proxy:3128", "http://user:p%40ss@10.0.0.1:8080", "http://[::1]:3128/"]
)
def test_proxy_urls_accepted(url: str) -> None:
    assert ChannelOptions(proxy_url=url).proxy_url == url


@pytest.mark.parametrize(
    "url",
    ["https://proxy:3128", "socks5://proxy:1080", "http://proxy", "http://:3128",
     "http://proxy:99999", "http://proxy:3128/path", "proxy:3128", "http://[::1:3128"],
)  # fmt: skip
def test_proxy_urls_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="host:port"):
        ChannelOptions(proxy_url=url)


def test_a_channel_on_defaults_costs_nothing_per_call() -> None:
    assert call_options(CHANNEL) is None
    cache = ChannelCallOptions()
    assert cache(CHANNEL) is None


def test_options_are_built_once_per_channel_version() -> None:
    cache = ChannelCallOptions()
    tuned = dataclasses.replace(CHANNEL, idle_timeout=5.0, proxy_url="http://u:p@proxy:3128")
    first = cache(tuned)
    assert first is not None and first.idle_timeout == 5.0 and first.connect_timeout is None
    assert first.proxy is not None and (first.proxy.host, first.proxy.port) == ("proxy", 3128)
    assert cache(tuned) is first
    changed = dataclasses.replace(tuned, idle_timeout=7.0)  # a reload: a new spec object
    second = cache(changed)
    assert second is not None and second is not first and second.idle_timeout == 7.0
