"""``POST /v1/moderations`` through the gateway with the openai SDK, billed per call."""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import books


def test_moderation_is_relayed_and_billed_per_call(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = f"mod-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model])
    gateway.op("PUT", f"/models/{model}", json={"per_call": "0.002"})
    key = gateway.make_user_key()
    fake.script(model, Behaviour(text="awful"))
    result = gateway.openai(key.key).moderations.create(
        model=model, input=["you are awful", "have a nice day"]
    )
    assert [r.flagged for r in result.results] == [True, False]
    assert fake.requests[-1].path == "/v1/moderations"
    record = gateway.usage(user_id=key.user_id)[0]
    assert record["endpoint"] == "moderations" and record["status"] == 200
    assert record["official_cost"] == 2_000 and record["amount"] == 2_000
    books(gateway, key.user_id)


def test_echo_model_answers_moderations(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    result = gateway.openai(key.key).moderations.create(model="relaygate-echo", input="hello")
    assert len(result.results) == 1 and result.results[0].flagged is False


def test_moderation_cannot_stream(gateway: Gateway, fake: FakeOpenAI) -> None:
    model = f"mod-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model])
    with gateway.http(gateway.make_user_key().key) as http:
        refused = http.post("/v1/moderations", json={"model": model, "input": "x", "stream": True})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "stream"


def test_multimodal_input_is_relayed(gateway: Gateway, fake: FakeOpenAI) -> None:
    """The third shape of OpenAI's ``input``: text and image parts, sent as given."""
    model = f"mod-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model])
    parts: list[Any] = [
        {"type": "text", "text": "a picture"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    result = gateway.openai(gateway.make_user_key().key).moderations.create(
        model=model, input=parts
    )
    assert len(result.results) == 2
    assert fake.requests[-1].body["input"] == parts


BAD_INPUTS = [
    ({"input": 5}, "input"),
    ({"input": [1, 2]}, "input[0]"),
    ({"input": ["fine", {"type": "text", "text": "mixed"}]}, "input"),
    ({"input": [{"type": "text"}]}, "input[0].text"),
    ({"input": [{"type": "text", "text": 7}]}, "input[0].text"),
    ({"input": [{"type": "text", "text": "x"}, {"type": "audio", "audio": "x"}]}, "input[1].type"),
    ({"input": [{"type": "image_url"}]}, "input[0].image_url"),
    ({"input": [{"type": "image_url", "image_url": {"uri": "x"}}]}, "input[0].image_url.url"),
    ({"input": [{"type": "image_url", "image_url": "https://x/y.png"}]}, "input[0].image_url"),
    ({"input": "x", "model": 5}, "model"),
    ({"input": "x", "model": ["omni-moderation-latest"]}, "model"),
]


@pytest.mark.parametrize(("body", "param"), BAD_INPUTS)
def test_malformed_input_is_a_400_naming_the_field(
    gateway: Gateway, fake: FakeOpenAI, body: dict[str, Any], param: str
) -> None:
    """Refused before any upstream is called (nothing billed), in OpenAI's error shape."""
    model = f"mod-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(fake, models=[model])
    key = gateway.make_user_key()
    sent = len(fake.requests)
    with gateway.http(key.key) as http:
        refused = http.post("/v1/moderations", json={"model": model, **body})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert repr(param.split(".")[-1].split("[")[0]).strip("'") in error["message"]
    assert len(fake.requests) == sent


def test_the_sdk_sees_a_bad_request_naming_the_field(gateway: Gateway) -> None:
    client = gateway.openai(gateway.make_user_key().key)
    with pytest.raises(openai.BadRequestError) as refused:
        client.moderations.create(input=[{"type": "video", "video": "x"}])  # type: ignore[arg-type]
    assert refused.value.status_code == 400
    body = refused.value.body
    assert isinstance(body, dict) and body["param"] == "input[0].type"


def test_model_is_optional_and_null_means_the_default(gateway: Gateway) -> None:
    """No model, or ``"model": null``, is OpenAI's default moderation model (not
    configured on this gateway: refused as an unknown model, not as a bad field)."""
    with gateway.http(gateway.make_user_key().key) as http:
        for body in ({"input": "hello", "model": None}, {"input": "hello"}):
            answer = http.post("/v1/moderations", json=body)
            assert answer.status_code != 400, answer.text
            assert "omni-moderation-latest" in answer.json()["error"]["message"]
