"""The route groups serve exactly what ``/v1`` serves, billed as the group.

Every ``/v1`` operation of the OpenAPI document gets one item here: it is called with
the official SDKs (their base URL set to the group's, as Claude Code and Codex set
theirs) on ``/v1`` and under each route group, and each group's answer must have the
status and the shape of ``/v1``'s (a fresh user per base URL, so lists hold the same
things). A call that is billed must be recorded with the group and priced with its
multiplier. The table of calls must cover the document: a new ``/v1`` route without a
call here fails ``test_every_documented_v1_route_is_walked``.
"""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import pytest

from relaygate.relay.groups import ROUTE_GROUPS
from tests.fakes.media_routes import PNG
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway

MESSAGES: Any = [{"role": "user", "content": "hello there"}]
PRICE = {  # every call below costs something (token prices are per million tokens)
    "input": "1000",
    "output": "2000",
    "per_image": "0.01",
    "per_character": "1000",
    "per_second": "0.0001",
}
ROUTE_MULTIPLIER = "0.2"  # the default of route_multipliers, for both groups
BASES = {"": "", **ROUTE_GROUPS}  # route group ("" for /v1) -> the prefix of its paths
METHODS = ("get", "post", "delete", "put", "patch")


def _wav(seconds: float, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\0\0" * int(seconds * rate))
    return out.getvalue()


def _documented() -> list[str]:
    """``"METHOD /v1/path"`` for every /v1 operation of the document the gateway serves,
    built at collection time (one test item each)."""
    from relaygate.app import create_app
    from relaygate.settings import load_settings

    app = create_app(load_settings(database_url="sqlite:///:memory:"))
    paths: dict[str, Any] = app.control.openapi()["paths"]
    return sorted(
        f"{method.upper()} {path}"
        for path, item in paths.items()
        if path.startswith("/v1/")
        for method in item
        if method in METHODS
    )


DOCUMENTED = _documented()


SLOW = "-slow"  # the suffix of a model whose upstream answers after 30 s


@dataclass
class Clients:
    """The SDKs and an HTTP client, all pointed at one base (``/v1`` or a group's)."""

    openai: openai.OpenAI
    anthropic: anthropic.Anthropic
    http: httpx.Client
    model: str


def _raw(call: Callable[[], Any]) -> Any:
    """The HTTP answer of an SDK ``with_raw_response`` call, an error status included
    (an ``httpx`` response, of the httpx the SDK uses)."""
    try:
        return call().http_response
    except (openai.APIStatusError, anthropic.APIStatusError) as err:
        return err.response


# ------------------------------------------------------------ what each operation needs
def _stored_chat(c: Clients) -> str:
    made = c.openai.chat.completions.create(model=c.model, messages=MESSAGES, store=True)
    return str(made.id)


def _stored_response(c: Clients, **fields: Any) -> str:
    return str(c.openai.responses.create(model=c.model, input="hello", **fields).id)


def _conversation(c: Clients) -> str:
    items: Any = [{"type": "message", "role": "user", "content": "hello"}]
    return c.openai.conversations.create(items=items).id


def _item(c: Clients) -> tuple[str, str]:
    conversation = _conversation(c)
    first = c.openai.conversations.items.list(conversation).data[0]
    return conversation, str(first.id)


def _file(name: str, data: bytes, kind: str) -> Any:
    return (name, data, kind)


# One call per documented /v1 operation, made through ``Clients`` (so the base decides
# the path), returning the HTTP answer.
Call = Callable[[Clients], Any]
CALLS: dict[str, Call] = {
    "POST /v1/chat/completions": lambda c: _raw(
        lambda: c.openai.chat.completions.with_raw_response.create(model=c.model, messages=MESSAGES)
    ),
    "GET /v1/chat/completions": lambda c: (
        _stored_chat(c),
        _raw(lambda: c.openai.chat.completions.with_raw_response.list()),
    )[1],
    "GET /v1/chat/completions/{completion_id}": lambda c: _raw(
        lambda: c.openai.chat.completions.with_raw_response.retrieve(_stored_chat(c))
    ),
    "POST /v1/chat/completions/{completion_id}": lambda c: _raw(
        lambda: c.openai.chat.completions.with_raw_response.update(
            _stored_chat(c), metadata={"k": "v"}
        )
    ),
    "DELETE /v1/chat/completions/{completion_id}": lambda c: _raw(
        lambda: c.openai.chat.completions.with_raw_response.delete(_stored_chat(c))
    ),
    "GET /v1/chat/completions/{completion_id}/messages": lambda c: _raw(
        lambda: c.openai.chat.completions.messages.with_raw_response.list(_stored_chat(c))
    ),
    "POST /v1/completions": lambda c: _raw(
        lambda: c.openai.completions.with_raw_response.create(model=c.model, prompt="hello")
    ),
    "POST /v1/embeddings": lambda c: _raw(
        lambda: c.openai.embeddings.with_raw_response.create(model=c.model, input="hello")
    ),
    "POST /v1/moderations": lambda c: _raw(
        lambda: c.openai.moderations.with_raw_response.create(model=c.model, input="hello")
    ),
    "GET /v1/models": lambda c: _raw(lambda: c.openai.models.with_raw_response.list()),
    "GET /v1/models/{model}": lambda c: _raw(
        lambda: c.openai.models.with_raw_response.retrieve(c.model)
    ),
    "POST /v1/responses": lambda c: _raw(
        lambda: c.openai.responses.with_raw_response.create(model=c.model, input="hello")
    ),
    "POST /v1/responses/compact": lambda c: _raw(
        lambda: c.openai.responses.with_raw_response.compact(
            model=c.model, input=[{"role": "user", "content": "hello"}]
        )
    ),
    "GET /v1/responses/{response_id}": lambda c: _raw(
        lambda: c.openai.responses.with_raw_response.retrieve(_stored_response(c))
    ),
    "DELETE /v1/responses/{response_id}": lambda c: _raw(
        lambda: c.openai.responses.with_raw_response.delete(_stored_response(c))
    ),
    "POST /v1/responses/{response_id}/cancel": lambda c: _raw(
        lambda: c.openai.responses.with_raw_response.cancel(
            str(c.openai.responses.create(model=c.model + SLOW, input="hi", background=True).id)
        )
    ),
    "GET /v1/responses/{response_id}/input_items": lambda c: _raw(
        lambda: c.openai.responses.input_items.with_raw_response.list(_stored_response(c))
    ),
    "POST /v1/conversations": lambda c: _raw(
        lambda: c.openai.conversations.with_raw_response.create(metadata={"k": "v"})
    ),
    "GET /v1/conversations/{conversation_id}": lambda c: _raw(
        lambda: c.openai.conversations.with_raw_response.retrieve(_conversation(c))
    ),
    "POST /v1/conversations/{conversation_id}": lambda c: _raw(
        lambda: c.openai.conversations.with_raw_response.update(
            _conversation(c), metadata={"k": "v"}
        )
    ),
    "DELETE /v1/conversations/{conversation_id}": lambda c: _raw(
        lambda: c.openai.conversations.with_raw_response.delete(_conversation(c))
    ),
    "GET /v1/conversations/{conversation_id}/items": lambda c: _raw(
        lambda: c.openai.conversations.items.with_raw_response.list(_conversation(c))
    ),
    "POST /v1/conversations/{conversation_id}/items": lambda c: _raw(
        lambda: c.openai.conversations.items.with_raw_response.create(
            _conversation(c), items=[{"type": "message", "role": "user", "content": "more"}]
        )
    ),
    "GET /v1/conversations/{conversation_id}/items/{item_id}": lambda c: (
        lambda ids: _raw(
            lambda: c.openai.conversations.items.with_raw_response.retrieve(
                ids[1], conversation_id=ids[0]
            )
        )
    )(_item(c)),
    "DELETE /v1/conversations/{conversation_id}/items/{item_id}": lambda c: (
        lambda ids: _raw(
            lambda: c.openai.conversations.items.with_raw_response.delete(
                ids[1], conversation_id=ids[0]
            )
        )
    )(_item(c)),
    "POST /v1/messages": lambda c: _raw(
        lambda: c.anthropic.messages.with_raw_response.create(
            model=c.model, max_tokens=64, messages=MESSAGES
        )
    ),
    "POST /v1/messages/count_tokens": lambda c: _raw(
        lambda: c.anthropic.messages.with_raw_response.count_tokens(
            model=c.model, messages=MESSAGES
        )
    ),
    "POST /v1/complete": lambda c: c.http.post(  # the anthropic SDK 2.x dropped it
        "/v1/complete",
        headers={"anthropic-version": "2023-06-01"},
        json={
            "model": c.model,
            "prompt": "\n\nHuman: hello\n\nAssistant:",
            "max_tokens_to_sample": 64,
        },
    ),
    "POST /v1/images/generations": lambda c: _raw(
        lambda: c.openai.images.with_raw_response.generate(model=c.model, prompt="a cat")
    ),
    "POST /v1/images/edits": lambda c: _raw(
        lambda: c.openai.images.with_raw_response.edit(
            model=c.model, image=_file("a.png", PNG, "image/png"), prompt="blue"
        )
    ),
    "POST /v1/audio/speech": lambda c: _raw(
        lambda: c.openai.audio.speech.with_raw_response.create(
            model=c.model, voice="alloy", input="hello"
        )
    ),
    "POST /v1/audio/transcriptions": lambda c: _raw(
        lambda: c.openai.audio.transcriptions.with_raw_response.create(
            model=c.model, file=_file("a.wav", _wav(0.5), "audio/wav")
        )
    ),
    "POST /v1/audio/translations": lambda c: _raw(
        lambda: c.openai.audio.translations.with_raw_response.create(
            model=c.model, file=_file("a.wav", _wav(0.5), "audio/wav")
        )
    ),
}
# The calls that are billed (count_tokens is free; the state routes bill nothing).
BILLED = {
    op
    for op in CALLS
    if op.startswith("POST ")
    and "{" not in op
    and op not in ("POST /v1/messages/count_tokens", "POST /v1/conversations")
}


def _shape(value: Any) -> Any:
    """The structure of a JSON value without its data: keys, and types of the leaves
    (a list's shape is its first element's)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


@dataclass(frozen=True)
class Outcome:
    status: int
    content_type: str
    shape: Any


def _outcome(response: Any) -> Outcome:
    kind = response.headers.get("content-type", "").split(";")[0]
    shape = _shape(response.json()) if kind == "application/json" else len(response.content) > 0
    return Outcome(response.status_code, kind, shape)


@pytest.fixture(scope="module")
def world(gateway_pool: Any) -> Iterator[tuple[Gateway, str]]:
    """The SQLite gateway and a priced model of its own on the built-in echo upstream
    (route groups are routing: the database does not matter here)."""
    gw: Gateway = gateway_pool.get("sqlite")
    model = f"grouped-{uuid.uuid4().hex[:8]}"
    gw.op("POST", "/channels", json={"name": model, "type": "echo", "models": [model]})
    gw.op("PUT", f"/models/{model}", json=PRICE)
    with FakeOpenAI() as slow:  # a background run still going when it is cancelled
        slow.default = Behaviour(latency=30)
        gw.add_channel(slow, models=[model + SLOW])
        yield gw, model


def _clients(gw: Gateway, model: str, prefix: str) -> Clients:
    key = gw.make_user_key().key
    base = gw.url + prefix
    return Clients(
        openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0),
        anthropic.Anthropic(base_url=base, api_key=key, max_retries=0),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30),
        model,
    )


def test_every_documented_v1_route_is_walked() -> None:
    assert sorted(CALLS) == DOCUMENTED


@pytest.mark.parametrize("operation", DOCUMENTED)
def test_route_groups_answer_as_v1(operation: str, world: tuple[Gateway, str]) -> None:
    gw, model = world
    call = CALLS[operation]
    outcomes: dict[str, Outcome] = {}
    for group, prefix in BASES.items():
        clients = _clients(gw, model, prefix)
        with clients.http:
            answer = call(clients)
        outcomes[group] = _outcome(answer)
        if operation in BILLED:
            record = gw.wait_for_usage(answer.headers["x-request-id"])
            assert record["route_group"] == group, (operation, record)
            multiplier = ROUTE_MULTIPLIER if group else "1"
            assert (record["status"], record["route_multiplier"]) == (200, multiplier), record
            assert record["amount"] > 0, record
    plain = outcomes.pop("")
    assert plain.status == 200, (operation, plain)
    for group, outcome in outcomes.items():
        assert outcome == plain, (operation, group)


@pytest.mark.parametrize("group", sorted(ROUTE_GROUPS))
def test_models_without_v1_under_a_group(group: str, world: tuple[Gateway, str]) -> None:
    """``…/<group>/models`` (the platform's documented form) is ``/v1/models``."""
    gw, model = world
    key = gw.make_user_key().key
    with gw.http(key) as http:
        listed = http.get(ROUTE_GROUPS[group] + "/models")
        one = http.get(f"{ROUTE_GROUPS[group]}/models/{model}")
        plain = http.get(f"/v1/models/{model}")
        unknown = http.get(ROUTE_GROUPS[group] + "/v2/models")
    assert listed.status_code == 200 and model in {m["id"] for m in listed.json()["data"]}
    assert one.json() == plain.json()
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"].endswith(ROUTE_GROUPS[group] + "/v2/models)")


def test_a_media_call_in_a_group_spends_the_groups_package(world: tuple[Gateway, str]) -> None:
    """A package scoped to ``cc-omg`` pays a Claude Code route's image call (at official
    price), not the same call on ``/v1``."""
    gw, model = world
    body = {"name": f"pkg-{uuid.uuid4().hex[:8]}", "amount": "5", "scope_routes": ["cc-omg"]}
    kind = gw.op("POST", "/package-types", json=body)
    key = gw.make_user_key()
    gw.op("POST", f"/users/{key.user_id}/packages", json={"type_id": kind["id"]})
    records = []
    for prefix in (ROUTE_GROUPS["cc-omg"], ""):
        sdk = openai.OpenAI(base_url=gw.url + prefix + "/v1", api_key=key.key, max_retries=0)
        raw = sdk.images.with_raw_response.generate(model=model, prompt="a cat")
        records.append(gw.wait_for_usage(raw.http_response.headers["x-request-id"]))
    grouped, plain = records
    assert (grouped["route_group"], grouped["package_amount"]) == ("cc-omg", 10_000), grouped
    assert grouped["amount"] == 0
    assert (plain["route_group"], plain["package_amount"]) == ("", 0), plain
    assert plain["amount"] == 10_000
