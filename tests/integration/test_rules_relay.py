"""Override rules on real relay calls (issue 15's proof), with the official SDKs against
fake upstreams that record what they received:

* a rule renames a model and strips ``temperature`` for one key only: the upstream sees
  the rewritten body, the bill names the model called (priced as that model) and the
  rule; the user's other key is untouched;
* a block never reaches the upstream and is not charged;
* a system prompt appended to Anthropic Messages through the Claude Code route group;
* a change (disabling the rule) applies to the very next call.

Rules are written through the rules API, as a user would write them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from relaygate.relay.groups import ROUTE_GROUPS
from tests.fakes.anthropic_upstream import Behaviour as ClaudeBehaviour
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway, IssuedKey

USER = [{"role": "user", "content": "Translate: good morning"}]
RULES = "/api/v1/user/override-rules"


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def create_rule(gw: Gateway, key: IssuedKey, rule: dict[str, Any]) -> dict[str, Any]:
    admin = gw.make_user_key(user_id=key.user_id, is_admin=True).key
    with gw.http(admin) as http:
        response = http.post(f"{RULES}/create", json=rule)
    assert response.status_code == 200, response.text
    made: dict[str, Any] = response.json()["data"]
    return made


def rule_call(gw: Gateway, key: IssuedKey, verb: str, body: dict[str, Any]) -> Any:
    admin = gw.make_user_key(user_id=key.user_id, is_admin=True).key
    with gw.http(admin) as http:
        response = http.post(f"{RULES}/{verb}", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def headers_of(fake: FakeOpenAI) -> dict[str, str]:
    return {k.lower(): v for k, v in fake.requests[-1].headers.items()}


def two_models(gw: Gateway, fake: FakeOpenAI) -> tuple[str, str]:
    """A dear model and a cheap one on one channel (unique names: the gateway is shared)."""
    suffix = uuid.uuid4().hex[:8]
    dear, cheap = f"gpt-4-{suffix}", f"gpt-4o-mini-{suffix}"
    gw.add_channel(fake, models=[dear, cheap])
    gw.op("PUT", f"/models/{dear}", json={"input": "30", "output": "60"})
    gw.op("PUT", f"/models/{cheap}", json={"input": "1", "output": "2"})
    return dear, cheap


def test_rename_and_strip_temperature_for_one_key_only(gateway: Gateway, fake: FakeOpenAI) -> None:
    dear, cheap = two_models(gateway, fake)
    pinned = gateway.make_user_key()
    other = gateway.make_user_key(user_id=pinned.user_id)
    rule = create_rule(
        gateway,
        pinned,
        {
            "name": "pin translation model",
            "match": {"key_ids": [pinned.id], "models": ["gpt-4-*"], "endpoints": ["chat"]},
            "actions": [
                {"type": "rename_model", "to": cheap},
                {"type": "remove", "path": "/temperature"},
                {"type": "set_header", "name": "X-Rule", "value": "pinned"},
            ],
        },
    )
    fake.script(cheap, Behaviour(text="Bonjour", prompt_tokens=1000, completion_tokens=1000))
    raw = gateway.openai(pinned.key).chat.completions.with_raw_response.create(
        model=dear, messages=USER, temperature=0.3
    )
    assert raw.parse().choices[0].message.content == "Bonjour"
    sent = fake.requests[-1].body
    assert sent["model"] == cheap and "temperature" not in sent
    assert sent["messages"] == USER
    assert headers_of(fake)["x-rule"] == "pinned"
    assert headers_of(fake)["authorization"].startswith("Bearer sk-channel-")
    bill = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (bill["model"], bill["rules"], bill["status"]) == (cheap, str(rule["id"]), 200)
    assert bill["official_cost"] == 3000  # 1000 + 1000 tokens at the cheap model's prices

    fake.script(dear, Behaviour(text="Good morning"))
    raw = gateway.openai(other.key).chat.completions.with_raw_response.create(
        model=dear, messages=USER, temperature=0.3
    )
    sent = fake.requests[-1].body
    assert (sent["model"], sent["temperature"]) == (dear, 0.3)
    assert "x-rule" not in headers_of(fake)
    bill = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (bill["model"], bill["rules"]) == (dear, None)

    fake.script(cheap, Behaviour(text="Bon"))  # a stream is rewritten alike
    stream = gateway.openai(pinned.key).chat.completions.create(
        model=dear, messages=USER, temperature=0.3, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Bon"
    sent = fake.requests[-1].body
    assert sent["model"] == cheap and "temperature" not in sent and sent["stream"] is True

    assert rule_call(gateway, pinned, "get", {"id": rule["id"]})["hits_30d"] == 2
    manager = gateway.make_user_key(user_id=pinned.user_id, is_admin=True).key
    with gateway.http(manager) as http:
        lines = http.get("/api/v1/user/bills").json()["data"]
        exported = http.get("/api/v1/user/bills", params={"format": "csv"}).text
    assert sorted((line["model"], line["rules"]) for line in lines) == [
        (dear, None),
        (cheap, str(rule["id"])),
        (cheap, str(rule["id"])),
    ]
    assert exported.splitlines()[0].endswith(",keyRemark,rules")


def test_key_permissions_apply_to_the_model_the_rules_chose(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    gw = sqlite_gateway
    dear, cheap = two_models(gw, fake)
    key = gw.make_user_key(permissions=[cheap])
    with pytest.raises(openai.AuthenticationError):  # 401 model_not_permitted, as before
        gw.openai(key.key).chat.completions.create(model=dear, messages=USER)
    create_rule(
        gw,
        key,
        {
            "name": "to cheap",
            "match": {"models": [dear]},
            "actions": [{"type": "rename_model", "to": cheap}],
        },
    )
    fake.script(cheap, Behaviour(text="ok"))
    answer = gw.openai(key.key).chat.completions.create(model=dear, messages=USER)
    assert answer.choices[0].message.content == "ok"
    assert fake.requests[-1].body["model"] == cheap


def test_a_block_never_reaches_the_upstream_and_is_not_charged(
    gateway: Gateway, fake: FakeOpenAI
) -> None:
    dear, _ = two_models(gateway, fake)
    key = gateway.make_user_key()
    rule = create_rule(
        gateway,
        key,
        {
            "name": "no dear model",
            "match": {
                "models": [dear],
                "conditions": [{"path": "/max_tokens", "op": "gt", "value": 4096}],
            },
            "actions": [{"type": "block", "message": "Ask for at most 4096 tokens."}],
        },
    )
    before = len(fake.requests)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        gateway.openai(key.key).chat.completions.create(model=dear, messages=USER, max_tokens=8000)
    assert refused.value.status_code == 403
    error = refused.value.body
    assert isinstance(error, dict)
    assert (error["message"], error["code"]) == ("Ask for at most 4096 tokens.", "blocked_by_rule")
    assert len(fake.requests) == before
    bill = gateway.wait_for_usage(refused.value.response.headers["x-request-id"])
    assert (bill["status"], bill["amount"], bill["rules"]) == (403, 0, str(rule["id"]))

    fake.script(dear, Behaviour(text="fine"))  # the condition does not hold: relayed
    answer = gateway.openai(key.key).chat.completions.create(
        model=dear, messages=USER, max_tokens=100
    )
    assert answer.choices[0].message.content == "fine"
    assert len(fake.requests) == before + 1


def test_a_disabled_rule_stops_at_the_next_call(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    gw = sqlite_gateway
    dear, _ = two_models(gw, fake)
    key = gw.make_user_key()
    rule = create_rule(gw, key, {"name": "block", "actions": [{"type": "block", "message": "no"}]})
    with pytest.raises(openai.PermissionDeniedError):
        gw.openai(key.key).chat.completions.create(model=dear, messages=USER)
    rule_call(gw, key, "batch-toggle", {"ids": [rule["id"]], "enabled": False})
    fake.script(dear, Behaviour(text="through"))
    answer = gw.openai(key.key).chat.completions.create(model=dear, messages=USER)
    assert answer.choices[0].message.content == "through"


def test_system_prompt_appended_to_messages_through_the_claude_code_route(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    model = f"claude-test-{uuid.uuid4().hex[:8]}"
    gateway.add_channel(
        fake_anthropic, models=[model], type="anthropic", base_url=fake_anthropic.url
    )
    key = gateway.make_user_key()
    rule = create_rule(
        gateway,
        key,
        {
            "name": "french in claude code",
            "match": {"route_groups": ["cc-omg"], "endpoints": ["messages"]},
            "actions": [{"type": "system_prompt", "mode": "append", "text": "Answer in French."}],
        },
    )
    group = anthropic.Anthropic(
        base_url=gateway.url + ROUTE_GROUPS["cc-omg"], api_key=key.key, max_retries=0
    )
    fake_anthropic.script(model, ClaudeBehaviour(text="Bonjour"))
    raw = group.messages.with_raw_response.create(
        model=model, max_tokens=64, messages=USER, system="You translate."
    )
    assert raw.parse().content[0].text == "Bonjour"  # type: ignore[union-attr]
    assert fake_anthropic.requests[-1].body["system"] == "You translate.\n\nAnswer in French."
    bill = gateway.wait_for_usage(raw.headers["request-id"])
    assert (bill["route_group"], bill["rules"]) == ("cc-omg", str(rule["id"]))

    blocks: Any = [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
    ]
    group.messages.create(
        model=model, max_tokens=64, messages=USER, system=blocks, stream=True
    ).close()
    assert fake_anthropic.requests[-1].body["system"] == [
        *blocks,
        {"type": "text", "text": "Answer in French."},
    ]

    plain = anthropic.Anthropic(base_url=gateway.url, api_key=key.key, max_retries=0)
    plain.messages.create(model=model, max_tokens=64, messages=USER, system="You translate.")
    assert fake_anthropic.requests[-1].body["system"] == "You translate."  # /v1: no rule
