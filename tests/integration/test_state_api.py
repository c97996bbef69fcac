"""The state the gateway owns, over real HTTP with the openai SDK, on SQLite and PostgreSQL.

``POST /v1/responses`` and ``store: true`` chat completions are wired into the relay
elsewhere; here responses and completions are seeded through the same ``StateService``
the relay calls, opened on the gateway's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import openai
import pytest
from sqlalchemy import update

from relaygate.core.clock import utcnow
from relaygate.core.errors import NotFound
from relaygate.db.engine import Database
from relaygate.state.models import Conversation, StoredResponse
from relaygate.state.service import StateService
from tests.harness import Gateway, run_sync
from tests.integration.assertions import assert_openai_error

T = TypeVar("T")
ECHO = "relaygate-echo"


def with_state(gw: Gateway, use: Callable[[StateService], Awaitable[T]], **kw: Any) -> T:
    """Run ``use`` with a StateService on the gateway's database (as the relay would)."""

    async def go() -> T:
        db = Database(gw.db_url)
        try:
            options = {"max_item_bytes": 1 << 20, "retention_days": 0, **kw}
            return await use(StateService(db, **options))
        finally:
            await db.dispose()

    return run_sync(go())


def message(role: str, text: str) -> dict[str, Any]:
    part = {"type": "output_text" if role == "assistant" else "input_text", "text": text}
    ident = f"msg_{uuid.uuid4().hex}"
    return {"type": "message", "id": ident, "role": role, "status": "completed", "content": [part]}


_RESPONSE = {"object": "response", "status": "completed", "model": "gpt-test", "store": True}


def response(text: str, previous: str | None = None, **fields: Any) -> dict[str, Any]:
    ident, out = f"resp_{uuid.uuid4().hex}", [message("assistant", text)]
    return {**_RESPONSE, "id": ident, "output": out, "previous_response_id": previous, **fields}


def save(
    gw: Gateway, user: int, body: dict[str, Any], inputs: list[Any], conv: str | None = None
) -> None:
    with_state(gw, lambda s: s.save_response(user, body, inputs, conversation_id=conv))


def user_items(texts: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text} for text in texts]


def texts(items: Any) -> list[str]:
    return [getattr(i, "content", None) and i.content[0].text for i in items]


def test_conversation_lifecycle(gateway: Gateway) -> None:
    client = gateway.openai(gateway.make_user_key().key)
    conv = client.conversations.create(items=user_items(["hello"]), metadata={"topic": "demo"})
    assert conv.id.startswith("conv_") and conv.object == "conversation"
    assert conv.metadata == {"topic": "demo"} and conv.created_at > 0
    assert client.conversations.retrieve(conv.id).metadata == {"topic": "demo"}
    assert client.conversations.update(conv.id, metadata={"k": "v"}).metadata == {"k": "v"}
    added = client.conversations.items.create(
        conv.id,
        items=[
            {"type": "message", "role": "assistant", "content": "hi there"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ],
    )
    assert [i.type for i in added.data] == ["message", "function_call_output"]
    assert added.data[0].id.startswith("msg_") and added.has_more is False
    listed = client.conversations.items.list(conv.id)  # newest first by default
    assert [i.type for i in listed.data] == ["function_call_output", "message", "message"]
    first = listed.data[-1]
    assert first.content[0].type == "input_text" and first.content[0].text == "hello"
    assert added.data[0].content[0].type == "output_text"
    got = client.conversations.items.retrieve(first.id, conversation_id=conv.id)
    assert got.id == first.id and got.role == "user"
    after_delete = client.conversations.items.delete(first.id, conversation_id=conv.id)
    assert after_delete.id == conv.id and after_delete.object == "conversation"
    assert len(client.conversations.items.list(conv.id).data) == 2
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(first.id, conversation_id=conv.id)
    deleted = client.conversations.delete(conv.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conv.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError) as info:
        client.conversations.retrieve(conv.id)
    assert_openai_error(info.value.response, 404)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conv.id)


def test_conversation_item_pages(gateway: Gateway) -> None:
    client = gateway.openai(gateway.make_user_key().key)
    conv = client.conversations.create(items=user_items(f"m{i}" for i in range(20)))
    client.conversations.items.create(conv.id, items=user_items(f"m{i}" for i in range(20, 25)))
    first = client.conversations.items.list(conv.id, limit=10, order="asc")
    assert texts(first.data) == [f"m{i}" for i in range(10)] and first.has_more
    assert first.first_id == first.data[0].id and first.last_id == first.data[-1].id
    every = list(client.conversations.items.list(conv.id, limit=7, order="asc"))  # SDK pages on
    assert texts(every) == [f"m{i}" for i in range(25)]
    newest = list(client.conversations.items.list(conv.id, limit=10))
    assert texts(newest) == [f"m{i}" for i in reversed(range(25))]
    tail = client.conversations.items.list(conv.id, after=first.data[-1].id, order="asc", limit=100)
    assert texts(tail.data) == [f"m{i}" for i in range(10, 25)] and tail.has_more is False
    back = client.conversations.items.list(conv.id, after=first.data[2].id, order="desc")
    assert texts(back.data) == ["m1", "m0"] and back.has_more is False


def test_stored_responses_and_chains(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    client = gateway.openai(key.key)
    one = response("four", metadata={})
    save(gateway, key.user_id, one, [message("system", "be brief"), *user_items(["2+2?"])])
    two = response("six", previous=one["id"])
    save(gateway, key.user_id, two, [message("user", "3+3?")])
    save(gateway, key.user_id, two, [message("user", "replayed")])  # idempotent: no change
    got = client.responses.retrieve(two["id"])
    assert (got.id, got.status, got.previous_response_id) == (two["id"], "completed", one["id"])
    assert got.output_text == "six"
    inputs = client.responses.input_items.list(one["id"])  # newest first by default
    assert texts(inputs.data) == ["2+2?", "be brief"] and inputs.has_more is False
    assert inputs.data[0].id.startswith("msg_")  # the short form got an id and content parts
    page = client.responses.input_items.list(one["id"], limit=1, order="asc")
    assert texts(page.data) == ["be brief"] and page.has_more
    rest = client.responses.input_items.list(one["id"], after=page.last_id, order="asc")
    assert texts(rest.data) == ["2+2?"] and not rest.has_more
    history = with_state(gateway, lambda s: s.history(key.user_id, two["id"]))
    assert [i["content"][0]["text"] for i in history] == ["be brief", "2+2?", "four", "3+3?", "six"]
    assert client.responses.delete(one["id"]) is None
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(one["id"])
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(one["id"])
    history = with_state(gateway, lambda s: s.history(key.user_id, two["id"]))
    assert [i["content"][0]["text"] for i in history] == ["3+3?", "six"]  # the chain ends there
    with gateway.http(key.key) as http:
        gone = assert_openai_error(http.get(f"/v1/responses/{one['id']}"), 404)
        assert gone["message"] == f"Response with id '{one['id']}' not found."
        body = http.delete(f"/v1/responses/{two['id']}").json()
    assert body == {"id": two["id"], "object": "response", "deleted": True}


def test_responses_in_a_conversation(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    client = gateway.openai(key.key)
    conv = client.conversations.create(items=[{"role": "user", "content": "earlier"}])
    unstored = response("answer", store=False, conversation={"id": conv.id})
    save(gateway, key.user_id, unstored, [message("user", "question")], conv.id)
    save(gateway, key.user_id, unstored, [message("user", "question")], conv.id)  # a replay
    items = list(client.conversations.items.list(conv.id, order="asc"))
    assert texts(items) == ["earlier", "question", "answer"]
    assert items[2].id == unstored["output"][0]["id"]
    with pytest.raises(openai.NotFoundError):  # not stored, but in the conversation
        client.responses.retrieve(unstored["id"])
    stored = response("second answer", conversation={"id": conv.id})
    save(gateway, key.user_id, stored, [message("user", "again")], conv.id)
    everything = with_state(gateway, lambda s: s.conversation_items(key.user_id, conv.id))
    assert [i["content"][0]["text"] for i in everything] == [
        "earlier",
        "question",
        "answer",
        "again",
        "second answer",
    ]
    assert client.responses.retrieve(stored["id"]).output_text == "second answer"
    client.conversations.delete(conv.id)
    with pytest.raises(NotFound) as info:  # the relay's call: 404 naming the parameter
        with_state(gateway, lambda s: s.conversation_items(key.user_id, conv.id))
    assert info.value.param == "conversation"


def seed_completion(gw: Gateway, user: int, n: int, model: str, tag: str) -> str:
    """A ``store: true`` chat completion: a system and a user message (as content parts)."""
    question = {"role": "user", "content": [{"type": "text", "text": f"q{n}"}]}
    messages = [{"role": "system", "content": "sys"}, question]
    request = {"model": model, "metadata": {"tag": tag, "n": str(n)}, "messages": messages}
    answer = {"role": "assistant", "content": f"a{n}"}
    body = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "model": model}
    body["choices"] = [{"index": 0, "finish_reason": "stop", "message": answer}]
    with_state(gw, lambda s: s.save_chat_completion(user, request, body))
    return str(body["id"])


def test_another_users_ids_are_not_found(gateway: Gateway) -> None:
    owner, other = gateway.make_user_key(), gateway.make_user_key()
    mine, theirs = gateway.openai(owner.key), gateway.openai(other.key)
    conv = mine.conversations.create(items=user_items(["secret"]))
    item_id = mine.conversations.items.list(conv.id).data[0].id
    resp = response("private")
    save(gateway, owner.user_id, resp, [message("user", "q")])
    chat = seed_completion(gateway, owner.user_id, 0, "m", "x")
    for call in (
        lambda: theirs.conversations.retrieve(conv.id),
        lambda: theirs.conversations.update(conv.id, metadata={"a": "b"}),
        lambda: theirs.conversations.delete(conv.id),
        lambda: theirs.conversations.items.list(conv.id),
        lambda: theirs.conversations.items.create(conv.id, items=user_items(["x"])),
        lambda: theirs.conversations.items.retrieve(item_id, conversation_id=conv.id),
        lambda: theirs.conversations.items.delete(item_id, conversation_id=conv.id),
        lambda: theirs.responses.retrieve(resp["id"]),
        lambda: theirs.responses.delete(resp["id"]),
        lambda: theirs.responses.input_items.list(resp["id"]),
        lambda: theirs.chat.completions.retrieve(chat),
        lambda: theirs.chat.completions.update(chat, metadata={"a": "b"}),
        lambda: theirs.chat.completions.delete(chat),
        lambda: theirs.chat.completions.messages.list(chat),
    ):
        with pytest.raises(openai.NotFoundError) as info:
            call()
        assert_openai_error(info.value.response, 404)
    assert theirs.chat.completions.list().data == []
    with pytest.raises(NotFound) as failure:
        with_state(gateway, lambda s: s.history(other.user_id, resp["id"]))
    assert str(failure.value) == f"Previous response with id '{resp['id']}' not found."
    assert failure.value.param == "previous_response_id"
    assert mine.conversations.retrieve(conv.id).id == conv.id  # untouched by the attempts
    assert len(mine.conversations.items.list(conv.id).data) == 1
    assert mine.responses.retrieve(resp["id"]).id == resp["id"]
    assert [c.id for c in mine.chat.completions.list().data] == [chat]


def test_stored_chat_completions(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    client = gateway.openai(key.key)
    tags = [("m-a", "x"), ("m-b", "y"), ("m-a", "y"), ("m-a", "x")]
    seeded = [seed_completion(gateway, key.user_id, n, *tag) for n, tag in enumerate(tags)]
    listed = client.chat.completions.list()
    assert [c.id for c in listed.data] == seeded and not listed.has_more  # oldest first
    assert listed.data[0].metadata == {"tag": "x", "n": "0"}
    assert [c.id for c in client.chat.completions.list(model="m-b").data] == [seeded[1]]
    tagged = client.chat.completions.list(metadata={"tag": "x"}, model="m-a")
    assert [c.id for c in tagged.data] == [seeded[0], seeded[3]]
    page = client.chat.completions.list(limit=2, order="desc")
    assert [c.id for c in page.data] == [seeded[3], seeded[2]] and page.has_more
    rest = client.chat.completions.list(limit=2, order="desc", after=page.data[-1].id)
    assert [c.id for c in rest.data] == [seeded[1], seeded[0]] and not rest.has_more
    assert [c.id for c in client.chat.completions.list(limit=1)] == seeded  # the SDK pages on
    got = client.chat.completions.retrieve(seeded[2])
    assert got.choices[0].message.content == "a2" and got.model == "m-a"
    updated = client.chat.completions.update(seeded[2], metadata={"reviewed": "yes"})
    assert updated.metadata == {"reviewed": "yes"}
    assert client.chat.completions.list(metadata={"tag": "y"}).data[0].id == seeded[1]
    messages = client.chat.completions.messages.list(seeded[2])
    assert [m.id for m in messages.data] == [f"{seeded[2]}-0", f"{seeded[2]}-1"]
    assert messages.data[1].content == "q2" and messages.data[1].content_parts[0].text == "q2"  # type: ignore[index]
    assert messages.data[0].content == "sys" and messages.data[0].content_parts is None
    one = client.chat.completions.messages.list(seeded[2], limit=1, order="desc")
    assert [m.id for m in one.data] == [f"{seeded[2]}-1"] and one.has_more
    with gateway.http(key.key) as http:  # the platform's POST form of a retrieve
        assert http.post(f"/v1/chat/completions/{seeded[0]}", json={}).json()["id"] == seeded[0]
    deleted = client.chat.completions.delete(seeded[0])
    assert (deleted.id, deleted.deleted, deleted.object) == (
        seeded[0],
        True,
        "chat.completion.deleted",
    )
    assert seeded[0] not in [c.id for c in client.chat.completions.list().data]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve(seeded[0])


def user_item_with(number: int) -> Any:
    return {"role": "user", "content": "x", "extra": number}


def test_validation_errors_are_openai_400s(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    client = gateway.openai(key.key)
    conv = client.conversations.create()
    assert conv.metadata == {}
    convs, items = client.conversations, client.conversations.items
    cases: list[tuple[Callable[[], Any], str | None]] = [
        (lambda: convs.create(items=user_items(range(21))), "items"),
        (lambda: convs.create(metadata={f"k{i}": "v" for i in range(17)}), "metadata"),
        (lambda: convs.update(conv.id, metadata={"k": "v" * 513}), "metadata.k"),
        (lambda: items.create(conv.id, items=[{"role": "robot", "content": "x"}]), "items[0].role"),
        # an object as the role was a 500 (unhashable in the set of roles)
        (lambda: items.create(conv.id, items=[{"role": {}, "content": "x"}]), "items[0].role"),
        # a number past 64 bits was a 500 (orjson cannot measure the item)
        (lambda: items.create(conv.id, items=[user_item_with(2**64)]), "items[0]"),
        (lambda: items.create(conv.id, items=[{"type": "item_reference", "id": "m"}]), "items[0]"),
        (lambda: items.list(conv.id, limit=101), "limit"),
        (lambda: items.list(conv.id, limit=0), "limit"),
        (lambda: items.list(conv.id, after="msg_nope"), "after"),
        (lambda: client.chat.completions.list(order="sideways"), "order"),  # type: ignore[arg-type]
        (lambda: client.chat.completions.list(after="chatcmpl-nope"), "after"),
    ]
    for call, param in cases:
        with pytest.raises(openai.BadRequestError) as info:
            call()
        error = assert_openai_error(info.value.response, 400)
        assert error["param"] == param and error["type"] == "invalid_request_error", error
    with gateway.http(key.key) as http:
        missing = assert_openai_error(http.post(f"/v1/conversations/{conv.id}/items", json={}), 400)
        assert missing["message"] == "Missing required parameter: 'items'."
        assert_openai_error(http.post("/v1/conversations", content=b"{bad"), 400)
        streamed = http.get(f"/v1/responses/resp_{uuid.uuid4().hex}?stream=true")
        assert_openai_error(streamed, 404)  # replay is served (test_responses_background.py)
    assert client.conversations.items.list(conv.id).data == []  # nothing was added


def test_concurrent_appends_keep_every_item(gateway: Gateway) -> None:
    client = gateway.openai(gateway.make_user_key().key)
    conv = client.conversations.create()

    def add(n: int) -> None:
        client.conversations.items.create(conv.id, items=user_items([f"c{n}"] * 2))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(16)))
    items = list(client.conversations.items.list(conv.id, order="asc", limit=100))
    assert len(items) == 32 and len({i.id for i in items}) == 32
    assert sorted(texts(items)) == sorted(f"c{n}" for n in range(16) for _ in range(2))


def test_cancel_only_background_responses(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    running = response("", background=True, status="in_progress")
    done = response("done")
    for body in (running, done):
        save(gateway, key.user_id, body, [message("user", "q")])
    client = gateway.openai(key.key)
    assert client.responses.cancel(running["id"]).status == "cancelled"
    assert client.responses.retrieve(running["id"]).status == "cancelled"
    assert client.responses.cancel(running["id"]).status == "cancelled"  # again: unchanged
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.cancel(done["id"])
    assert_openai_error(info.value.response, 400)


def test_item_size_limit(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(state_max_item_bytes=2048)
    client = gw.openai(gw.make_user_key().key)
    with pytest.raises(openai.BadRequestError) as info:
        client.conversations.create(items=[{"role": "user", "content": "x" * 3000}])
    error = assert_openai_error(info.value.response, 400, "item_too_large")
    assert error["param"] == "items[0]"


def test_routing_auth_and_unknown_paths(gateway: Gateway) -> None:
    key = gateway.make_user_key().key
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        assert_openai_error(http.get("/v1/conversations/conv_x"), 401, "missing_api_key")
        bad = http.get("/v1/chat/completions", headers={"Authorization": "Bearer sk-nope"})
        assert_openai_error(bad, 401, "invalid_api_key")
        by_header = http.post("/v1/conversations", headers={"x-api-key": key}, json={})
        assert by_header.status_code == 200 and by_header.json()["object"] == "conversation"
        auth = {"Authorization": f"Bearer {key}"}
        for method, path in [
            ("GET", "/v1/conversations/c/items/i/extra"),
            ("PUT", "/v1/conversations/c"),
            ("POST", "/v1/responses/resp_1"),
            ("GET", "/v1/responses/"),
            ("GET", "/v1/conversations"),
        ]:
            answer = http.request(method, path, headers=auth)
            assert assert_openai_error(answer, 404)["message"] == f"Invalid URL ({method} {path})"
        chat = {"model": ECHO, "messages": user_items(["hi"])}
        relayed = http.post("/v1/chat/completions", headers=auth, json=chat)
        assert relayed.status_code == 200 and relayed.json()["object"] == "chat.completion"
        assert http.get("/v1/chat/completions", headers=auth).json()["object"] == "list"


def test_retention_sweep(gateway: Gateway) -> None:
    key = gateway.make_user_key()
    client = gateway.openai(key.key)
    old_conv, new_conv = client.conversations.create(), client.conversations.create()
    old, new = response("old"), response("new")
    save(gateway, key.user_id, old, [message("user", "q")])
    save(gateway, key.user_id, new, [message("user", "q")])

    async def age(state: StateService) -> int:
        past, conversation, stored = utcnow() - timedelta(days=10), Conversation, StoredResponse
        async with state.db.session() as session, session.begin():
            await session.execute(
                update(stored).where(stored.id == old["id"]).values(created_at=past)
            )
            mark = update(conversation).where(conversation.id == old_conv.id)
            await session.execute(mark.values(updated_at=past))
        return await state.sweep()

    assert with_state(gateway, age, retention_days=5) >= 2
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(old["id"])
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(old_conv.id)
    assert client.responses.retrieve(new["id"]).id == new["id"]
    assert client.conversations.retrieve(new_conv.id).id == new_conv.id
