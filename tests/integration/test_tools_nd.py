"""ND image generation through the gateway against a fake of the generic task API that
``nd`` channels speak (tools/tasks.py): one task for ``n`` images, submitted with the
checked parameters and their defaults, polled, stored and billed per image; its ranges
refused before any upstream call; a failed task failed over, never billed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.image_tasks import FakeND, image_bytes
from tests.harness import Gateway
from tests.integration.test_money import START, wallet
from tests.integration.tools_kit import (
    DRAW_PRICES,
    dgw,
    draw_gateway,
    envelope_error,
    records,
    tool_channel,
)

__all__ = ["dgw", "draw_gateway"]  # the fixtures, used by name

ND = "/api/v1/ai/draw/nd"
PRICE = DRAW_PRICES["nd"]


@pytest.fixture
def nd() -> Iterator[FakeND]:
    with FakeND() as fake:
        yield fake


def _draw(gw: Gateway, key: str, **form: str) -> httpx.Response:
    with gw.http(key) as http:
        return http.post(ND, data={"prompt": "a lighthouse at dusk", **form})


def test_one_task_makes_n_images_stored_and_billed_each(dgw: Gateway, nd: FakeND) -> None:
    channel = tool_channel(dgw, "nd", nd.base_url, "nd-key")
    key = dgw.make_user_key()
    answer = _draw(dgw, key.key, n="2", width="1001", negative_prompt="fog", seed="9")
    assert answer.status_code == 200, answer.text
    outputs = answer.json()["data"]["outputs"]
    assert [o["seed"] for o in outputs] == [0, 1] and all(o["stored"] for o in outputs)
    (submitted,) = nd.submissions()
    assert submitted.headers["Authorization"] == "Bearer nd-key"
    assert submitted.json == {
        "model": "nd",
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "fog",
        "width": 1000,  # rounded down to a multiple of 8
        "height": 1024,
        "steps": 28,
        "scale": 7,
        "sampler": "k_euler_ancestral",
        "seed": 9,
        "n": 2,
    }
    assert len(nd.polls_seen()) == 3  # running twice, then succeeded
    task = next(iter(nd.tasks))
    with dgw.http() as http:
        got = {http.get(o["url"]).content for o in outputs}
    assert got == {image_bytes(f"{task}-0"), image_bytes(f"{task}-1")}
    (record,) = records(dgw, key.user_id)
    assert record["model"] == "nd" and record["endpoint"] == "tools/draw/nd"
    assert record["channel_id"] == channel["id"] and record["amount"] == 2 * PRICE
    assert wallet(dgw, key.user_id) == (START - 2 * PRICE, 0)


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"width": "63"}, "width"),
        ({"height": "2049"}, "height"),
        ({"steps": "101"}, "steps"),
        ({"scale": "0.5"}, "scale"),
        ({"sampler": "euler"}, "sampler"),
        ({"n": "5"}, "n"),
        ({"seed": str(2**32)}, "seed"),
        ({"model": "flux-dev"}, "model"),
        ({"style": "anime"}, "style"),
    ],
)
def test_nd_ranges_are_a_400_naming_the_parameter(
    dgw: Gateway, nd: FakeND, form: dict[str, str], param: str
) -> None:
    tool_channel(dgw, "nd", nd.base_url, "nd-key")
    key = dgw.make_user_key()
    body = envelope_error(_draw(dgw, key.key, **form), 400)
    assert f"'{param}'" in body["message"]
    assert nd.seen == []
    assert wallet(dgw, key.user_id) == (START, 0)


def test_a_failed_task_fails_over_and_failing_everywhere_is_unbilled(
    dgw: Gateway, nd: FakeND
) -> None:
    with FakeND() as backup:
        tool_channel(dgw, "nd", nd.base_url, "nd-key")
        second = tool_channel(dgw, "nd", backup.base_url, "nd-key", priority=1)
        nd.outcome = "failed"
        key = dgw.make_user_key()
        assert _draw(dgw, key.key).status_code == 200
        assert records(dgw, key.user_id)[0]["channel_id"] == second["id"]
        backup.outcome = "failed"
        envelope_error(_draw(dgw, key.key), 502)
    assert wallet(dgw, key.user_id) == (START - PRICE, 0)
