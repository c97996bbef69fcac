"""What the tool tests share: a gateway of their own (the tools' names are global, so no
other test's channels may serve them), prices, and channel helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.harness import Gateway, start_gateway

GOOGLE_PRICE = 5000  # micro-units per call: 0.005
SERPER_PRICE = 1000  # 0.001 per call
TTS_PER_CHARACTER = 16  # $16 per million characters: 16 micro-units a character
HIT_PERCENT = 25  # what a cached search costs, in percent of its price
TOOL_TYPES = ("google_search", "serper", "azure_speech", "bfl", "nd")
# the image tools' prices per image (micro-units), and Flux Pro 1.1's model multiplier
DRAW_PRICES = {
    "flux-schnell": 3_000,
    "flux-dev": 25_000,
    "flux-pro": 50_000,
    "flux-1.1-pro": 40_000,
    "flux-1.1-pro-ultra": 60_000,
    "nd": 10_000,
}
PRO_11_MULTIPLIER = "1.5"
DRAW_QUOTA = 64 * 1024  # bytes a user may store: a test fills it to see images fall back


@pytest.fixture(scope="module")
def tools_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(
        f"sqlite:///{tmp_path_factory.mktemp('tools')}/gw.db",
        search_cache_seconds=600,
        search_cache_hit_billing=f"{HIT_PERCENT}%",
    )
    gw.op("PUT", "/models/google-search", json={"per_call": "0.005"})
    gw.op("PUT", "/models/serper-search", json={"per_call": "0.001"})
    gw.op("PUT", "/models/azure-tts", json={"per_character": "16"})
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def draw_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway for the image tools: short task timeouts, quick polls, webhooks allowed
    to the local receiver, and a small storage quota."""
    gw = start_gateway(
        f"sqlite:///{tmp_path_factory.mktemp('draw')}/gw.db",
        tools_task_timeout_seconds=1.5,
        tools_task_async_timeout_seconds=1.5,
        tools_task_poll_seconds=0.02,
        webhook_allow_private=True,
        files_quota_bytes=DRAW_QUOTA,
        files_quota_bytes_by_tier=dict.fromkeys(("free", "vip", "premium"), DRAW_QUOTA),
    )
    for model, price in DRAW_PRICES.items():
        body = {"per_image": str(Decimal(price) / 1_000_000)}
        if model == "flux-1.1-pro":
            body["multiplier"] = PRO_11_MULTIPLIER
        gw.op("PUT", f"/models/{model}", json=body)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def dgw(draw_gateway: Gateway) -> Iterator[Gateway]:
    """The image tools' gateway, its tool channels removed after each test."""
    yield draw_gateway
    for channel in draw_gateway.op("GET", "/channels"):
        if channel["type"] in TOOL_TYPES:
            draw_gateway.op("DELETE", f"/channels/{channel['id']}")


@pytest.fixture
def gw(tools_gateway: Gateway) -> Iterator[Gateway]:
    """The module's gateway, its tool channels removed after each test."""
    yield tools_gateway
    for channel in tools_gateway.op("GET", "/channels"):
        if channel["type"] in TOOL_TYPES:
            tools_gateway.op("DELETE", f"/channels/{channel['id']}")


def tool_channel(
    gw: Gateway, kind: str, base_url: str, api_key: str | list[str], **fields: Any
) -> dict[str, Any]:
    body = {
        "name": f"{kind}-{uuid.uuid4().hex[:8]}",
        "type": kind,
        "base_url": base_url,
        "api_key": api_key,
        **fields,
    }
    channel: dict[str, Any] = gw.op("POST", "/channels", json=body)
    return channel


def envelope_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The platform envelope of an error, after checking its status and shape."""
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == status and body["data"] is None, body
    assert isinstance(body["errorType"], str) and body["message"], body
    assert response.headers["x-request-id"]
    return body


def records(gw: Gateway, user_id: int) -> list[dict[str, Any]]:
    """The user's usage records, newest first (the writer may lag a moment)."""
    return gw.wait_for_records(user_id=user_id)
