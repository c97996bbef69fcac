"""The Flux routes through the gateway against a fake Black Forest Labs API: each task
submitted and polled until the fake finishes it, its image stored in Relaygate's own
files, billed per image with the model's multiplier; documented ranges refused before
any upstream call; failover; timeouts, failures and moderation never billed; the
asynchronous form; the webhook; permissions."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.image_tasks import FakeBFL, image_bytes
from tests.fakes.scripted import Step
from tests.harness import Gateway
from tests.integration.test_money import START, wallet
from tests.integration.test_webhook import Receiver
from tests.integration.tools_kit import (
    DRAW_PRICES,
    DRAW_QUOTA,
    dgw,
    draw_gateway,
    envelope_error,
    records,
    tool_channel,
)

__all__ = ["dgw", "draw_gateway"]  # the fixtures, used by name

FLUX = "/api/v1/ai/draw/flux/"
TASKS = "/api/v1/ai/draw/tasks/"
PRO_11_IMAGE = 60_000  # 0.04 per image x the model's multiplier 1.5


@pytest.fixture
def bfl() -> Iterator[FakeBFL]:
    with FakeBFL() as fake:
        yield fake


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _bfl_channel(
    gw: Gateway, fake: FakeBFL, keys: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    return tool_channel(gw, "bfl", fake.base_url, keys or fake.api_key, **fields)


def _draw(gw: Gateway, key: str, route: str, **form: Any) -> httpx.Response:
    with gw.http(key) as http:
        return http.post(FLUX + route, data={"prompt": "a red fox in snow", **form})


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["statusCode"] == 200 and answer.headers["x-request-id"], body
    data: dict[str, Any] = body["data"]
    return data


def test_a_task_is_polled_until_ready_stored_and_billed_per_image(
    dgw: Gateway, bfl: FakeBFL
) -> None:
    channel = _bfl_channel(dgw, bfl)
    assert channel["models"]["flux-1.1-pro"] == "flux-pro-1.1"  # BFL's own names by default
    key = dgw.make_user_key()
    data = _ok(_draw(dgw, key.key, "pro-11", aspect_ratio="16:9", seed="7"))
    (output,) = data["outputs"]
    assert output["stored"] is True and output["is_public"] is True
    assert output["url"] == f"{dgw.url}/api/v1/files/public/{output['fileUniqueID']}"
    assert output["content_type"] == "image/jpeg" and output["seed"] == 7
    assert "b64_json" not in output
    (submitted,) = bfl.submissions()
    assert submitted.path == "/v1/flux-pro-1.1" and submitted.headers["x-key"] == "bfl-key"
    assert submitted.json == {  # the platform's parameters as BFL takes them
        "prompt": "a red fox in snow",
        "width": 1376,
        "height": 768,
        "seed": 7,
        "safety_tolerance": 5,
        "prompt_upsampling": False,
        "output_format": "jpeg",
    }
    assert len(bfl.polls_seen()) == 4  # pending three times, then ready
    task_id = next(iter(bfl.tasks))
    with dgw.http() as http:  # the stored image, by its public link: the upstream's bytes
        stored = http.get(output["url"])
    assert stored.status_code == 200 and stored.content == image_bytes(task_id)
    assert key.key not in str(bfl.seen[0].headers)
    (record,) = records(dgw, key.user_id)
    assert record["endpoint"] == "tools/draw/flux" and record["model"] == "flux-1.1-pro"
    assert record["status"] == 200 and record["channel_id"] == channel["id"]
    assert record["official_cost"] == DRAW_PRICES["flux-1.1-pro"]
    assert record["amount"] == PRO_11_IMAGE
    assert wallet(dgw, key.user_id) == (START - PRO_11_IMAGE, 0)


def test_several_images_are_several_tasks_billed_each_with_their_bytes(
    dgw: Gateway, bfl: FakeBFL
) -> None:
    # BFL's own API serves no Schnell: a compatible host's channel names it
    _bfl_channel(dgw, bfl, models={"flux-schnell": "flux-schnell"})
    key = dgw.make_user_key()
    answer = _draw(
        dgw, key.key, "schnell", num_outputs="3", seed="41", response_format="b64_json",
        is_public="false", output_format="png",
    )  # fmt: skip
    outputs = _ok(answer)["outputs"]
    assert len(outputs) == 3 and len(bfl.submissions()) == 3
    assert [s.json["seed"] for s in bfl.submissions()] == [41, 42, 43]  # each image differs
    assert {s.json["output_format"] for s in bfl.submissions()} == {"png"}
    assert {s.json["safety_tolerance"] for s in bfl.submissions()} == {6}  # checker off
    made = {image_bytes(task) for task in bfl.tasks}
    assert {base64.b64decode(o["b64_json"]) for o in outputs} == made
    for output in outputs:  # private: the owner's download link, and only with a key
        assert output["url"].endswith(f"/api/v1/user/files/download/{output['fileUniqueID']}")
        with dgw.http() as http:
            assert http.get(output["url"]).status_code == 401
        with dgw.http(key.key) as http:
            assert http.get(output["url"]).content in made
    (record,) = records(dgw, key.user_id)  # one bill row: the model and the images
    assert record["model"] == "flux-schnell" and record["images"] == 3
    assert record["amount"] == 3 * DRAW_PRICES["flux-schnell"]
    assert wallet(dgw, key.user_id) == (START - 3 * DRAW_PRICES["flux-schnell"], 0)


@pytest.mark.parametrize(
    ("route", "form", "param"),
    [
        ("schnell", {"num_outputs": "5"}, "num_outputs"),
        ("schnell", {"aspect_ratio": "4:3"}, "aspect_ratio"),
        ("schnell", {"output_quality": "101"}, "output_quality"),
        ("schnell", {"output_format": "gif"}, "output_format"),
        ("schnell", {"seed": "-1"}, "seed"),
        ("schnell", {"model": "flux-dev"}, "model"),
        ("dev", {"prompt_strength": "1.5"}, "prompt_strength"),
        ("dev", {"num_inference_steps": "0"}, "num_inference_steps"),
        ("dev", {"guidance": "10.5"}, "guidance"),
        ("dev", {"image": "ftp://example.test/cat.png"}, "image"),
        ("dev", {"num_outputs": "0"}, "num_outputs"),
        ("pro", {"steps": "51"}, "steps"),
        ("pro", {"guidance": "1.5"}, "guidance"),
        ("pro", {"interval": "4.5"}, "interval"),
        ("pro", {"aspect_ratio": "21:9"}, "aspect_ratio"),
        ("pro", {"safety_tolerance": "6"}, "safety_tolerance"),
        ("pro-11", {"width": "255"}, "width"),
        ("pro-11", {"height": "1441"}, "height"),
        ("pro-11", {"safety_tolerance": "0"}, "safety_tolerance"),
        ("pro-11", {"aspect_ratio": "21:9"}, "aspect_ratio"),
        ("pro-11", {"prompt_upsampling": "maybe"}, "prompt_upsampling"),
        ("pro-ultra-11", {"image_prompt_strength": "1.1"}, "image_prompt_strength"),
        ("pro-ultra-11", {"safety_tolerance": "7"}, "safety_tolerance"),
        ("pro-ultra-11", {"output_format": "webp"}, "output_format"),
        ("pro-ultra-11", {"aspect_ratio": "custom"}, "aspect_ratio"),
        ("pro-ultra-11", {"raw": "sometimes"}, "raw"),
        ("pro-ultra-11", {"response_format": "base64"}, "response_format"),
        ("pro", {"prompt": " "}, "prompt"),
        ("pro", {"async": "later"}, "async"),
        ("pro", {"ohmygpt_webhook_url": "ftp://example.test/hook"}, "ohmygpt_webhook_url"),
        ("pro", {"num_outputs": "2"}, "num_outputs"),  # not one of Flux Pro's
    ],
)
def test_each_documented_range_is_a_400_naming_the_parameter(
    dgw: Gateway, bfl: FakeBFL, route: str, form: dict[str, str], param: str
) -> None:
    _bfl_channel(dgw, bfl, models={"flux-schnell": "flux-schnell"})
    key = dgw.make_user_key()
    body = envelope_error(_draw(dgw, key.key, route, **form), 400)
    assert body["errorType"] == "invalid_request_error" and f"'{param}'" in body["message"]
    assert bfl.seen == []  # refused before any upstream call
    assert wallet(dgw, key.user_id) == (START, 0)


def test_a_missing_prompt_and_json_bodies(dgw: Gateway, bfl: FakeBFL) -> None:
    _bfl_channel(dgw, bfl)
    key = dgw.make_user_key()
    with dgw.http(key.key) as http:
        missing = http.post(FLUX + "dev", data={"num_outputs": "1"})
        assert "'prompt' is required" in envelope_error(missing, 400)["message"]
        as_json = http.post(FLUX + "dev", json={"prompt": "x", "guidance": 4.5, "seed": 3})
    _ok(as_json)
    sent = bfl.submissions()[0].json
    assert sent["guidance"] == 4.5 and sent["steps"] == 50  # the platform's default steps


def test_a_task_that_never_finishes_times_out_unbilled(dgw: Gateway, bfl: FakeBFL) -> None:
    _bfl_channel(dgw, bfl)
    bfl.outcome = "never"
    key = dgw.make_user_key()
    body = envelope_error(_draw(dgw, key.key, "dev"), 504)
    assert "did not finish within 1.5 seconds" in body["message"]
    assert "nothing was charged" in body["message"]
    assert len(bfl.submissions()) == 1 and len(bfl.polls_seen()) > 3
    (record,) = records(dgw, key.user_id)
    assert record["status"] == 504 and record["amount"] == 0 and record["images"] == 0
    assert wallet(dgw, key.user_id) == (START, 0)


def test_a_failed_submission_fails_over_and_is_billed_once(dgw: Gateway, bfl: FakeBFL) -> None:
    with FakeBFL() as backup:
        first = _bfl_channel(dgw, bfl)
        second = _bfl_channel(dgw, backup, priority=1)
        bfl.script(Step(status=503, json={"detail": "overloaded"}))
        key = dgw.make_user_key()
        _ok(_draw(dgw, key.key, "pro"))
        assert len(bfl.submissions()) == 1 and len(backup.submissions()) == 1
    (record,) = records(dgw, key.user_id)
    assert record["channel_id"] == second["id"] != first["id"] and record["attempts"] == 2
    assert wallet(dgw, key.user_id) == (START - DRAW_PRICES["flux-pro"], 0)


def test_a_task_that_fails_upstream_fails_over_to_the_next_channel(
    dgw: Gateway, bfl: FakeBFL
) -> None:
    with FakeBFL() as backup:
        _bfl_channel(dgw, bfl)
        second = _bfl_channel(dgw, backup, priority=1)
        bfl.outcome = "Error"
        key = dgw.make_user_key()
        _ok(_draw(dgw, key.key, "pro-ultra-11", raw="true", aspect_ratio="21:9"))
        assert backup.submissions()[0].json["aspect_ratio"] == "21:9"  # Ultra's own ratio
        assert backup.submissions()[0].json["raw"] is True
    (record,) = records(dgw, key.user_id)
    assert record["channel_id"] == second["id"]
    assert wallet(dgw, key.user_id) == (START - DRAW_PRICES["flux-1.1-pro-ultra"], 0)


def test_every_channel_failing_is_a_502_and_a_refused_key_rotates(
    dgw: Gateway, bfl: FakeBFL
) -> None:
    _bfl_channel(dgw, bfl, ["revoked-key", "bfl-key"])
    bfl.outcome = "Error"
    key = dgw.make_user_key()
    body = envelope_error(_draw(dgw, key.key, "pro"), 502)
    assert "Error" not in body["message"]  # the upstream's words are not passed on
    keys = [s.headers["x-key"] for s in bfl.submissions()]
    assert keys == ["revoked-key", "bfl-key"]  # refused (403): the channel's next key
    assert records(dgw, key.user_id)[0]["amount"] == 0
    assert wallet(dgw, key.user_id) == (START, 0)


def test_moderation_is_the_callers_400_and_unbilled(dgw: Gateway, bfl: FakeBFL) -> None:
    _bfl_channel(dgw, bfl)
    bfl.outcome = "Content Moderated"
    key = dgw.make_user_key()
    body = envelope_error(_draw(dgw, key.key, "pro-11"), 400)
    assert "Content Moderated" in body["message"]
    assert wallet(dgw, key.user_id) == (START, 0)


def test_an_image_that_cannot_be_stored_keeps_the_upstream_url(dgw: Gateway, bfl: FakeBFL) -> None:
    _bfl_channel(dgw, bfl)
    key = dgw.make_user_key()
    with dgw.http(key.key) as http:  # the user's quota, filled
        filled = http.post(
            "/api/v1/user/files/upload", files={"file": ("big.bin", b"x" * DRAW_QUOTA)}
        )
    assert filled.status_code == 200, filled.text
    (output,) = _ok(_draw(dgw, key.key, "dev", response_format="b64_json"))["outputs"]
    assert output["stored"] is False and "quota" in output["note"].lower()
    assert output["url"].startswith(bfl.base_url + "/images/")  # the upstream's own URL
    assert base64.b64decode(output["b64_json"]) == image_bytes(next(iter(bfl.tasks)))
    assert wallet(dgw, key.user_id) == (START - DRAW_PRICES["flux-dev"], 0)  # made: billed
    bfl.image_status = 404  # and an image that cannot even be downloaded
    (lost,) = _ok(_draw(dgw, key.key, "dev", response_format="b64_json"))["outputs"]
    assert lost["stored"] is False and "answered 404" in lost["note"] and "b64_json" not in lost


def _task(gw: Gateway, key: str, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        with gw.http(key) as http:
            data = _ok(http.get(TASKS + task_id))
        if data["status"] != "pending" or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def test_an_async_task_answers_at_once_and_bills_when_done(
    dgw: Gateway, bfl: FakeBFL, receiver: Receiver
) -> None:
    _bfl_channel(dgw, bfl)
    key = dgw.make_user_key()
    accepted = _ok(
        _draw(dgw, key.key, "pro-11", **{"async": "true", "ohmygpt_webhook_url": receiver.url()})
    )
    assert accepted["status"] == "pending" and accepted["model"] == "flux-1.1-pro"
    task_id = accepted["task_id"]
    done = _task(dgw, key.key, task_id)
    assert done["status"] == "succeeded" and done["finished_at"] and done["created_at"]
    (output,) = done["outputs"]
    assert output["stored"] is True
    (record,) = records(dgw, key.user_id)
    assert record["status"] == 200 and record["amount"] == PRO_11_IMAGE
    assert wallet(dgw, key.user_id) == (START - PRO_11_IMAGE, 0)
    ((path, _, posted),) = receiver.wait(1)
    assert path == "/hook" and posted["success"] is True and posted["code"] == 200
    assert posted["data"] == {"task_id": task_id, "outputs": done["outputs"]}
    other = dgw.make_user_key()  # another user's task is not there for them
    with dgw.http(other.key) as http:
        envelope_error(http.get(TASKS + task_id), 404)
    same_user = dgw.make_user_key(user_id=key.user_id)  # any key of the owner reads it
    with dgw.http(same_user.key) as http:
        assert _ok(http.get(TASKS + task_id))["status"] == "succeeded"
    with dgw.http() as http:
        envelope_error(http.get(TASKS + task_id), 401)


def test_an_async_task_that_times_out_is_failed_and_unbilled(
    dgw: Gateway, bfl: FakeBFL, receiver: Receiver
) -> None:
    _bfl_channel(dgw, bfl)
    bfl.outcome = "never"
    key = dgw.make_user_key()
    form = {"async": "true", "ohmygpt_webhook_url": receiver.url()}
    task_id = _ok(_draw(dgw, key.key, "dev", **form))["task_id"]
    failed = _task(dgw, key.key, task_id)
    assert failed["status"] == "failed" and "outputs" not in failed
    assert failed["error"]["statusCode"] == 504
    assert records(dgw, key.user_id)[0]["amount"] == 0
    assert wallet(dgw, key.user_id) == (START, 0)
    ((_, _, posted),) = receiver.wait(1)
    assert posted["success"] is False and posted["code"] == 504
    assert posted["data"] == {"task_id": task_id}


def test_the_sync_webhook_reports_a_success_once(
    dgw: Gateway, bfl: FakeBFL, receiver: Receiver
) -> None:
    _bfl_channel(dgw, bfl)
    key = dgw.make_user_key()
    data = _ok(_draw(dgw, key.key, "dev", ohmygpt_webhook_url=receiver.url()))
    ((_, _, posted),) = receiver.wait(1)
    assert posted == {"success": True, "status": "succeed", "message": None, "code": 200,
                      "data": data}  # fmt: skip


def test_permissions_balance_and_unknown_tasks(dgw: Gateway, bfl: FakeBFL) -> None:
    _bfl_channel(dgw, bfl)
    key = dgw.make_user_key(permissions=["flux-dev"])
    refused = envelope_error(_draw(dgw, key.key, "pro-11"), 401)
    assert "flux-1.1-pro" in refused["message"]
    _ok(_draw(dgw, key.key, "dev"))
    broke = dgw.make_user_key(user_id=int(dgw.create_user()["id"]))  # never topped up
    envelope_error(_draw(dgw, broke.key, "dev"), 402)
    with dgw.http(key.key) as http:
        envelope_error(http.get(TASKS + "task_AAAAAAAAAAAAAAAAAAAAAA"), 404)
        envelope_error(http.get(TASKS + "not-a-task"), 404)
    assert len(bfl.submissions()) == 1


def test_no_channel_is_a_404_and_the_channel_test_reads_a_missing_task(
    dgw: Gateway, bfl: FakeBFL
) -> None:
    key = dgw.make_user_key()
    envelope_error(_draw(dgw, key.key, "pro"), 404)
    channel = _bfl_channel(dgw, bfl)
    tested = dgw.op("POST", f"/channels/{channel['id']}/test")
    assert tested["ok"] is True and tested["model"] == "flux-dev"
    assert bfl.seen[-1].path == "/v1/get_result" and bfl.submissions() == []
