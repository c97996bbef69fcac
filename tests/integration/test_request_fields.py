"""Request fields are checked the same way on every relay route.

A token limit, ``n``, a sampling number or a flag of the wrong type or out of OpenAI's
(or Anthropic's) documented range is a 400 in the route's own error format naming the
field, before any upstream is called or anything is billed. ``null`` is "not set" for
each of them, as OpenAI's schema says: a request the upstream's schema accepts is never
refused. Driven with the openai SDK (``extra_body`` sends any JSON value) and, for the
Anthropic route, raw HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway, IssuedKey

USER = [{"role": "user", "content": "hi"}]
BASE: dict[str, dict[str, Any]] = {
    "chat": {"messages": USER},
    "completions": {"prompt": "hi"},
    "embeddings": {"input": "hi"},
    "responses": {"input": "hi"},
}

# (route, field, refused value)
BAD: list[tuple[str, str, Any]] = [
    *(
        (route, field, value)
        for route in ("chat", "completions")
        for field, value in [
            ("max_tokens", "ten"),
            ("max_tokens", -5),
            ("max_tokens", 1e30),
            ("max_tokens", 10.5),
            ("max_tokens", True),
            ("max_tokens", 2**63),  # past 64 bits
            ("max_tokens", [10]),
            ("n", 1e20),
            ("n", 0),
            ("n", 129),
            ("n", "2"),
            ("temperature", "hot"),
            ("temperature", 2.5),
            ("temperature", -0.1),
            ("temperature", False),
            ("top_p", 1.5),
            ("frequency_penalty", 3),
            ("presence_penalty", -2.5),
            ("seed", "42"),
            ("seed", 2**64),
            ("stream", "yes"),
            ("stream", 1),
            ("stream_options", "yes"),
            ("user", 7),
        ]
    ),
    ("chat", "max_tokens", 0),
    ("chat", "max_completion_tokens", "ten"),
    ("chat", "max_completion_tokens", -1),
    ("chat", "max_completion_tokens", 0),
    ("chat", "logprobs", "yes"),
    ("chat", "top_logprobs", 21),
    ("chat", "store", "true"),
    ("chat", "parallel_tool_calls", 1),
    ("completions", "max_tokens", -1),
    ("completions", "best_of", 21),
    ("completions", "logprobs", 6),
    ("completions", "logprobs", True),
    ("completions", "echo", "yes"),
    ("embeddings", "dimensions", 0),
    ("embeddings", "dimensions", "256"),
    ("embeddings", "dimensions", 1e30),
    ("embeddings", "encoding_format", "int8"),
    ("embeddings", "encoding_format", 1),
    ("embeddings", "input", []),
    ("embeddings", "input", 42),
    ("embeddings", "input", {"text": "hi"}),
    ("embeddings", "input", ["a", 1]),
    ("embeddings", "input", [[1, 2], "a"]),
    ("embeddings", "input", [[]]),
    ("embeddings", "input", [True, False]),
    ("embeddings", "input", ["x"] * 2049),
    ("embeddings", "user", ["me"]),
    ("embeddings", "stream", True),
    ("responses", "max_output_tokens", "ten"),
    ("responses", "max_output_tokens", -5),
    ("responses", "max_output_tokens", 1e30),
    ("responses", "temperature", 3),
    ("responses", "top_p", "1"),
    ("responses", "top_logprobs", 21),
    ("responses", "store", "no"),
    ("responses", "background", 1),
    ("responses", "truncation", "sometimes"),
    ("responses", "stream", "yes"),
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAIResponses]:
    with FakeOpenAIResponses() as server:
        yield server


@pytest.fixture(scope="module")
def served(gateway_pool: Any, upstream: FakeOpenAIResponses) -> tuple[Gateway, str, IssuedKey]:
    gw: Gateway = gateway_pool.get("sqlite")
    model = f"fields-{uuid.uuid4().hex[:8]}"
    gw.add_channel(upstream, models=[model], options={"responses_api": True})
    return gw, model, gw.make_user_key()


def _create(sdk: openai.OpenAI, route: str, model: str, extra: dict[str, Any]) -> Any:
    """The route's SDK call with ``extra`` written into the JSON body as it is."""
    if route == "chat":
        return sdk.chat.completions.create(model=model, messages=USER, extra_body=extra)  # type: ignore[arg-type]
    if route == "completions":
        return sdk.completions.create(model=model, prompt="hi", extra_body=extra)
    if route == "embeddings":
        body = {"input": "hi", **extra}  # input itself is among the fields tried
        return sdk.embeddings.create(model=model, input="", extra_body=body)
    return sdk.responses.create(model=model, input="hi", extra_body=extra)


def _case_id(case: tuple[str, str, Any]) -> str:
    route, field, value = case
    shown = repr(value) if len(repr(value)) < 20 else type(value).__name__
    return f"{route}-{field}={shown}"


@pytest.mark.parametrize("case", BAD, ids=[_case_id(c) for c in BAD])
def test_a_bad_field_is_a_400_naming_it(
    served: tuple[Gateway, str, IssuedKey],
    upstream: FakeOpenAIResponses,
    case: tuple[str, str, Any],
) -> None:
    gw, model, key = served
    route, field, value = case
    calls = len(upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        _create(gw.openai(key.key), route, model, {field: value})
    error = caught.value.body
    assert isinstance(error, dict), error
    assert error["type"] == "invalid_request_error", error
    assert error["param"] == field and f"'{field}'" in error["message"], error
    assert error["code"] in ("invalid_type", "invalid_value"), error
    assert len(upstream.requests) == calls, "a refused request reached the upstream"


NULLABLE: dict[str, dict[str, Any]] = {
    "chat": {
        "max_tokens": None, "max_completion_tokens": None, "n": None, "temperature": None,
        "top_p": None, "frequency_penalty": None, "presence_penalty": None, "seed": None,
        "stream": None, "stream_options": None, "logprobs": None, "top_logprobs": None,
        "store": None, "parallel_tool_calls": None, "user": None,
    },
    "completions": {
        "max_tokens": None, "n": None, "temperature": None, "top_p": None, "best_of": None,
        "logprobs": None, "echo": None, "seed": None, "stream": None, "suffix": None,
    },
    "embeddings": {"dimensions": None, "encoding_format": None, "user": None},
    "responses": {
        "max_output_tokens": None, "temperature": None, "top_p": None, "store": None,
        "stream": None, "truncation": None, "parallel_tool_calls": None, "background": None,
    },
}  # fmt: skip
# Values at the edges of the documented ranges, all accepted.
EDGES: dict[str, dict[str, Any]] = {
    "chat": {"max_tokens": 1, "n": 2, "temperature": 2, "top_p": 0, "seed": -(2**63),
             "frequency_penalty": -2, "presence_penalty": 2.0, "logprobs": True,
             "top_logprobs": 20, "stream_options": None},
    "completions": {"max_tokens": 0, "n": 128, "best_of": 20, "logprobs": 5, "echo": True,
                    "temperature": 0.0, "seed": 2**63 - 1},
    "embeddings": {"dimensions": 1, "encoding_format": "base64"},
    "responses": {"max_output_tokens": 16, "temperature": 1.5, "truncation": "auto",
                  "top_logprobs": 0},
}  # fmt: skip


@pytest.mark.parametrize("values", [NULLABLE, EDGES], ids=["nulls", "edges"])
@pytest.mark.parametrize("route", list(BASE))
def test_nulls_and_documented_edges_are_accepted(
    served: tuple[Gateway, str, IssuedKey],
    upstream: FakeOpenAIResponses,
    route: str,
    values: dict[str, dict[str, Any]],
) -> None:
    gw, model, key = served
    sent = values[route]
    _create(gw.openai(key.key), route, model, sent)
    body = upstream.requests[-1].body
    assert {k: body.get(k) for k in sent if k != "stream_options"} == {
        k: v for k, v in sent.items() if k != "stream_options"
    }  # relayed as sent


@pytest.mark.parametrize(
    "value",
    [[1, 2, 3], [[1, 2], [3]], ["a", "b"], "", ["x"] * 2048],
    ids=["tokens", "token-arrays", "strings", "empty-string", "2048-strings"],
)
def test_every_documented_embeddings_input_shape_is_accepted(
    served: tuple[Gateway, str, IssuedKey], value: Any
) -> None:
    gw, model, key = served
    result = gw.openai(key.key).embeddings.create(model=model, input=value)
    assert result.data


# ----------------------------------------------------------------------- Anthropic
ANTHROPIC_BAD: list[tuple[str, Any]] = [
    ("max_tokens", "ten"),
    ("max_tokens", -5),
    ("max_tokens", 1e30),
    ("max_tokens", 2**63),
    ("temperature", "hot"),
    ("temperature", 1.5),
    ("top_p", -1),
    ("top_k", -1),
    ("top_k", 2.5),
    ("stream", "yes"),
]


@pytest.mark.parametrize(("field", "value"), ANTHROPIC_BAD)
def test_the_anthropic_route_refuses_the_same_way_in_its_format(
    gateway_pool: Any, field: str, value: Any
) -> None:
    gw: Gateway = gateway_pool.get("sqlite")
    with FakeAnthropic() as upstream:
        model = f"fields-{uuid.uuid4().hex[:8]}"
        gw.add_channel(upstream, models=[model], type="anthropic", base_url=upstream.url)
        key = gw.make_user_key()
        body = {"model": model, "max_tokens": 10, "messages": USER, field: value}
        headers = {"x-api-key": key.key, "anthropic-version": "2023-06-01"}
        with gw.http() as http:
            response = http.post("/v1/messages", json=body, headers=headers)
        assert response.status_code == 400, response.text
        error = response.json()
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert error["error"]["message"].startswith(f"{field}:"), error
        assert upstream.requests == []


def test_a_refused_request_is_recorded_unbilled(
    served: tuple[Gateway, str, IssuedKey],
) -> None:
    gw, model, _ = served
    key = gw.make_user_key()
    with pytest.raises(openai.BadRequestError):
        gw.openai(key.key).chat.completions.create(
            model=model,
            messages=USER,
            extra_body={"n": 1e20},  # type: ignore[arg-type]
        )
    [record] = gw.wait_for_records(user_id=key.user_id)
    assert (record["status"], record["amount"], record["attempts"]) == (400, 0, 0)
    assert "'n'" in record["error"]


def test_the_openapi_document_declares_the_checked_fields(gateway_pool: Any) -> None:
    """What a request is refused for is what the document says: the same rule tables."""
    gw: Gateway = gateway_pool.get("sqlite")
    with gw.http() as http:
        paths = http.get("/openapi.json").json()["paths"]

    def fields(path: str) -> dict[str, Any]:
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        properties: dict[str, Any] = body["properties"]
        return properties

    chat = fields("/v1/chat/completions")
    assert chat["n"] == {"type": ["integer", "null"], "minimum": 1, "maximum": 128}
    assert chat["temperature"] == {"type": ["number", "null"], "minimum": 0, "maximum": 2}
    assert chat["max_tokens"]["minimum"] == 1 and chat["max_tokens"]["maximum"] == 2**63 - 1
    assert fields("/v1/completions")["max_tokens"]["minimum"] == 0
    embeddings = fields("/v1/embeddings")
    assert embeddings["encoding_format"]["enum"] == ["float", "base64", None]
    assert embeddings["dimensions"]["minimum"] == 1
    assert fields("/v1/responses")["max_output_tokens"]["minimum"] == 1
    assert fields("/v1/messages")["temperature"]["maximum"] == 1
    assert fields("/api/v1/ai/openai/cc-omg/v1/chat/completions")["n"]["maximum"] == 128
