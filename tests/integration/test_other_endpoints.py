"""Legacy completions, embeddings and the model list through the gateway."""

from __future__ import annotations

import openai
import pytest

from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.assertions import assert_openai_error


def _model_and_client(gw: Gateway, fake: FakeOpenAI) -> tuple[str, openai.OpenAI]:
    ch = gw.add_channel(fake)
    return next(iter(ch["models"])), gw.openai(gw.make_user_key().key)


def test_legacy_completion_non_stream(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client = _model_and_client(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="once upon a time", prompt_tokens=4, completion_tokens=4))
    raw = client.completions.with_raw_response.create(model=model, prompt="Tell a story")
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "once upon a time"
    assert completion.usage is not None and completion.usage.total_tokens == 8
    upstream = fake.requests_for("/v1/completions")[-1]
    assert upstream.body["prompt"] == "Tell a story"
    assert raw.http_response.content == upstream.response_body


def test_legacy_completion_stream(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client = _model_and_client(sqlite_gateway, fake)
    fake.script(model, Behaviour(text="a b c d"))
    chunks = list(
        client.completions.create(
            model=model, prompt="x", stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "a b c d"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


def test_embeddings_base64_default(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    """The SDK asks for base64 by default and decodes float32 LE itself."""
    model, client = _model_and_client(sqlite_gateway, fake)
    result = client.embeddings.create(model=model, input=["first", "second"])
    assert fake.requests[-1].body["encoding_format"] == "base64"
    assert fake.requests[-1].body["input"] == ["first", "second"]
    assert [d.embedding for d in result.data] == [
        [0.5, -0.25, 1.5, 0.125],
        [1.5, 0.75, 2.5, 1.125],
    ]
    assert result.usage.prompt_tokens == 11


def test_embeddings_float(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client = _model_and_client(sqlite_gateway, fake)
    raw = client.embeddings.with_raw_response.create(
        model=model, input="only one", encoding_format="float"
    )
    assert fake.requests[-1].body["encoding_format"] == "float"
    assert raw.parse().data[0].embedding == [0.5, -0.25, 1.5, 0.125]
    assert raw.http_response.content == fake.requests[-1].response_body


def test_models_list_and_retrieve(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    model, client = _model_and_client(sqlite_gateway, fake)
    ids = {m.id for m in client.models.list()}
    assert {model, "relaygate-echo"} <= ids
    retrieved = client.models.retrieve(model)
    assert retrieved.id == model and retrieved.object == "model"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model-anywhere")
    assert_openai_error(info.value.response, 404)


def test_models_list_is_openai_shape(sqlite_gateway: Gateway) -> None:
    key = sqlite_gateway.make_user_key()
    with sqlite_gateway.http(key.key) as http:
        response = http.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    for item in body["data"]:
        assert {"id", "object", "created", "owned_by"} <= set(item)
        assert item["object"] == "model"


def test_models_need_a_key(sqlite_gateway: Gateway) -> None:
    with sqlite_gateway.http() as http:
        response = http.get("/v1/models")
    assert_openai_error(response, 401, ("invalid_api_key", "missing_api_key"))
