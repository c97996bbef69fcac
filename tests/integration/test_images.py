"""``POST /v1/images/generations`` and ``/v1/images/edits`` through the gateway, with the
openai SDK and plain HTTP: model mapping, the multipart re-encoding, exact bills by the
images returned, failures unbilled, failover counted in the bill row."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import orjson

from tests.fakes.media_routes import PNG, MediaBehaviour
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import START, books, funded_key, wallet

PER_IMAGE = {"per_image": "0.04"}  # 40_000 micro-units an image


def settled(gw: Gateway, user_id: int, count: int) -> list[dict[str, Any]]:
    """The user's bill rows once ``count`` are written (failed calls are written late)."""
    deadline = time.monotonic() + 10
    while len(records := gw.usage(user_id=user_id)) < count:
        assert time.monotonic() < deadline, records
        time.sleep(0.05)
    return records


def _mapped(gw: Gateway, fake: FakeOpenAI, **price: str) -> tuple[str, str]:
    """A public model served by ``fake`` under another name, priced."""
    public, upstream = f"img-{uuid.uuid4().hex[:8]}", f"up-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models={public: upstream})
    gw.op("PUT", f"/models/{public}", json=price or PER_IMAGE)
    return public, upstream


def test_generation_is_mapped_and_billed_per_image(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, upstream = _mapped(gateway, fake)
    key = gateway.make_user_key()
    result = gateway.openai(key.key).images.generate(
        model=public, prompt="a lighthouse", n=3, response_format="b64_json"
    )
    assert result.data is not None and len(result.data) == 3
    assert base64.b64decode(result.data[0].b64_json or "") == PNG
    sent = fake.media.received[-1]
    assert sent.path == "/v1/images/generations" and sent.json is not None
    assert sent.json["model"] == upstream and sent.json["n"] == 3
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "images/generations" and record["status"] == 200
    assert record["images"] == 3 and record["attempts"] == 1
    assert record["official_cost"] == 120_000 and record["amount"] == 120_000
    assert wallet(gateway, key.user_id) == (START - 120_000, 0)


def test_form_urlencoded_generation_goes_upstream_as_json(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    public, upstream = _mapped(gateway, fake)
    key = gateway.make_user_key()
    form = {"model": public, "prompt": "a fox", "n": "2", "response_format": "url"}
    with gateway.http(key.key) as http:
        answer = http.post("/v1/images/generations", data=form)
    assert answer.status_code == 200, answer.text
    assert [d["url"] for d in answer.json()["data"]] == [
        "https://images.fake/0.png",
        "https://images.fake/1.png",
    ]
    sent = fake.media.received[-1]
    assert sent.content_type == "application/json"
    assert sent.json == {"model": upstream, "prompt": "a fox", "n": 2, "response_format": "url"}
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["images"] == 2 and record["amount"] == 80_000
    books(gateway, key.user_id)


def test_bad_form_values_are_refused_before_the_upstream(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    public, _ = _mapped(gateway, fake)
    key = gateway.make_user_key()
    with gateway.http(key.key) as http:
        for field, value in (("n", "two"), ("stream", "perhaps"), ("output_compression", "x")):
            form = {"model": public, "prompt": "p", field: value}
            refused = http.post("/v1/images/generations", data=form)
            assert refused.status_code == 400
            error = refused.json()["error"]
            assert error["param"] == field and error["type"] == "invalid_request_error"
        missing = http.post("/v1/images/generations", json={"model": public})
        assert missing.status_code == 400 and missing.json()["error"]["param"] == "prompt"
    assert fake.media.received == []
    assert wallet(gateway, key.user_id) == (START, 0)


def test_token_usage_of_gpt_image_models_is_billed_too(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, _ = _mapped(gateway, fake, per_image="0.01", input="5", output="40")
    key = gateway.make_user_key()
    usage = {
        "input_tokens": 50,
        "output_tokens": 4160,
        "total_tokens": 4210,
        "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
    }
    fake.media.script(None, MediaBehaviour(usage=usage))
    gateway.openai(key.key).images.generate(model=public, prompt="a map", n=2)
    record = gateway.usage(user_id=key.user_id)[0]
    assert (record["prompt_tokens"], record["completion_tokens"], record["images"]) == (
        50,
        4160,
        2,
    )
    # 50 × $5/M + 4160 × $40/M + 2 × $0.01 = 250 + 166_400 + 20_000 micro-units
    assert record["official_cost"] == 186_650 and record["amount"] == 186_650
    books(gateway, key.user_id)


def test_edit_uploads_every_image_intact(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, upstream = _mapped(gateway, fake)
    key = gateway.make_user_key()
    first, second = PNG + b"first", bytes(range(256)) * 8
    mask = b"\x89PNG mask bytes"
    result = gateway.openai(key.key).images.edit(
        model=public,
        image=[("one.png", first, "image/png"), ("two.webp", second, "image/webp")],
        mask=("mask.png", mask, "image/png"),
        prompt="make it blue",
        n=2,
        size="1024x1024",
    )
    assert result.data is not None and len(result.data) == 2
    sent = fake.media.received[-1]
    assert sent.path == "/v1/images/edits" and sent.content_type.startswith("multipart/form-data")
    assert sent.model == upstream
    assert sent.fields["prompt"] == ["make it blue"] and sent.fields["n"] == ["2"]
    images = [f for f in sent.files if f[0].startswith("image")]
    assert [(f[1], f[2], f[3]) for f in images] == [
        ("one.png", "image/png", first),
        ("two.webp", "image/webp", second),
    ]
    assert ("mask", "mask.png", "image/png", mask) in sent.files
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "images/edits" and record["images"] == 2
    assert record["amount"] == 80_000
    books(gateway, key.user_id)


def test_edit_drops_the_webhook_field_and_rewrites_the_boundary(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    public, upstream = _mapped(gateway, fake)
    key = gateway.make_user_key()
    data = {"model": public, "prompt": "p", "ohmygpt_webhook_url": "https://hooks.example/x"}
    files = [("image", ("a.png", PNG, "image/png"))]
    with gateway.http(key.key) as http:
        answer = http.post("/v1/images/edits", data=data, files=files)
    assert answer.status_code == 200, answer.text
    sent = fake.media.received[-1]
    assert set(sent.fields) == {"model", "prompt"} and sent.model == upstream
    assert b"ohmygpt_webhook_url" not in fake.requests[-1].raw
    assert "boundary=relaygate-" in sent.content_type
    assert sent.files == [("image", "a.png", "image/png", PNG)]


def test_failed_calls_are_not_billed(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, _ = _mapped(gateway, fake)
    key = gateway.make_user_key()
    refusal = {"error": {"message": "Your prompt was rejected.", "type": "invalid_request_error",
                         "param": "prompt", "code": "content_policy_violation"}}  # fmt: skip
    fake.script(None, Behaviour(status=400, error_body=refusal), Behaviour(status=500))
    with gateway.http(key.key) as http:
        rejected = http.post("/v1/images/generations", json={"model": public, "prompt": "x"})
        assert rejected.status_code == 400
        assert rejected.json() == refusal  # the upstream's own answer, passed on
        broken = http.post("/v1/images/generations", json={"model": public, "prompt": "x"})
        assert broken.status_code == 502
    records = settled(gateway, key.user_id, 2)
    assert sorted(r["status"] for r in records) == [400, 502]
    assert all(r["amount"] == 0 and r["images"] == 0 for r in records)
    assert wallet(gateway, key.user_id) == (START, 0)


def test_failover_from_a_failing_channel_counts_two_attempts(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    model = f"img-{uuid.uuid4().hex[:8]}"
    with FakeOpenAI() as failing:
        failing.default = Behaviour(status=500)
        gateway.add_channel(failing, models=[model], priority=0)
        gateway.add_channel(fake, models=[model], priority=1)
        gateway.op("PUT", f"/models/{model}", json=PER_IMAGE)
        key = gateway.make_user_key()
        result = gateway.openai(key.key).images.generate(model=model, prompt="p")
        assert failing.media.received and failing.media.received[-1].model == model
    assert result.data is not None and len(result.data) == 1
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["status"] == 200 and record["attempts"] == 2
    assert record["images"] == 1 and record["amount"] == 40_000
    manager = gateway.make_user_key(user_id=key.user_id, is_admin=True)
    with gateway.http(manager.key) as http:
        bills = http.get("/api/v1/user/bills").json()["data"]
    assert bills[0]["attempts"] == 2 and bills[0]["images"] == 1
    books(gateway, key.user_id)


def test_streamed_generation_is_metered_from_its_events(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, _ = _mapped(gateway, fake)
    key = gateway.make_user_key()
    body = {"model": public, "prompt": "p", "n": 2, "stream": True}
    with gateway.http(key.key) as http:
        answer = http.post("/v1/images/generations", json=body)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [
        orjson.loads(line[6:]) for line in answer.content.splitlines() if line.startswith(b"data: ")
    ]
    assert [e["type"] for e in events].count("image_generation.completed") == 2
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["stream"] is True and record["images"] == 2 and record["amount"] == 80_000


def test_unfunded_user_gets_402_before_the_upstream(gateway: Gateway, fake: FakeOpenAI) -> None:
    public, _ = _mapped(gateway, fake)
    key = funded_key(gateway)
    with gateway.http(key.key) as http:
        refused = http.post("/v1/images/generations", json={"model": public, "prompt": "p"})
    assert refused.status_code == 402
    assert fake.media.received == []


def test_echo_model_draws_offline(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    sdk = gateway.openai(key.key)
    drawn = sdk.images.generate(model="relaygate-echo", prompt="a cat", n=2)
    assert drawn.data is not None and len(drawn.data) == 2
    assert base64.b64decode(drawn.data[0].b64_json or "").startswith(b"\x89PNG\r\n\x1a\n")
    as_url = sdk.images.generate(model="relaygate-echo", prompt="a cat", response_format="url")
    assert as_url.data is not None and (as_url.data[0].url or "").startswith(
        "data:image/png;base64,"
    )
    edited = sdk.images.edit(
        model="relaygate-echo",
        image=[("a.png", PNG, "image/png"), ("b.png", PNG, "image/png")],
        prompt="blue",
    )
    assert edited.data is not None and "edited 2 image(s)" in (edited.data[0].revised_prompt or "")
    records = gateway.usage(user_id=key.user_id)
    assert sorted(r["images"] for r in records) == [1, 1, 2]
