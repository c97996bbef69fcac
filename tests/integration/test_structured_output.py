"""Structured output from the ``openai`` SDK on an ``anthropic`` channel.

``client.chat.completions.parse(response_format=Model)`` and
``client.responses.parse(text_format=Model)`` send a strict JSON schema with bounds
Anthropic refuses (``minLength``, ``maximum``, ``pattern``, ``maxItems``). The fake
Anthropic upstream records what it received: the schema rewritten as Anthropic's SDK
would (bounds in descriptions, every object closed). Its answer is checked against the
caller's original schema: one that breaks it is a 502 ``invalid_structured_output``,
unbilled, which the SDK's own retry turns into a fresh answer. JSON mode reaches Claude
as an instruction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import openai
import pytest
from pydantic import BaseModel, Field

from tests.fakes.anthropic_upstream import Behaviour, FakeAnthropic
from tests.harness import Gateway
from tests.integration.test_anthropic_routes import anthropic_model
from tests.integration.test_money import START, charges, wallet


class Address(BaseModel):
    city: str = Field(min_length=1)
    zip: str = Field(pattern=r"^\d{5}$")


class Person(BaseModel):
    name: str = Field(min_length=2, max_length=20, description="Full name")
    age: int = Field(ge=0, le=150)
    email: str | None
    tags: list[Literal["a", "b"]] = Field(max_length=2)
    home: Address


ANN = {
    "name": "Ann",
    "age": 41,
    "email": None,
    "tags": ["a"],
    "home": {"city": "Lyon", "zip": "69001"},
}
ASK: Any = [{"role": "user", "content": "Who lives at the corner?"}]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as upstream:
        yield upstream


def _answer(**changes: Any) -> Behaviour:
    return Behaviour(text=json.dumps({**ANN, **changes}), input_tokens=20, output_tokens=10)


def _assert_anthropic_schema(schema: dict[str, Any]) -> None:
    """What the fake received for ``Person``: no bound Anthropic refuses, objects closed."""
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "age", "email", "tags", "home"]
    props = schema["properties"]
    assert props["name"] == {
        "type": "string",
        "title": "Name",
        "description": "Full name\n\n{maxLength: 20, minLength: 2}",
    }
    assert props["age"] == {
        "type": "integer",
        "title": "Age",
        "description": "{maximum: 150, minimum: 0}",
    }
    assert props["email"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Email"}
    assert props["tags"] == {
        "type": "array",
        "title": "Tags",
        "items": {"type": "string", "enum": ["a", "b"]},
        "description": "{maxItems: 2}",
    }
    assert props["home"] == {"$ref": "#/$defs/Address"}
    address = schema["$defs"]["Address"]
    assert address["additionalProperties"] is False
    assert address["properties"]["zip"] == {
        "type": "string",
        "title": "Zip",
        "description": '{pattern: "^\\\\d{5}$"}',
    }
    assert address["properties"]["city"]["description"] == "{minLength: 1}"


def test_chat_parse_sends_a_schema_claude_accepts(
    sqlite_gateway: Gateway, fake: FakeAnthropic
) -> None:
    model = anthropic_model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    fake.script(model, _answer())
    completion = sqlite_gateway.openai(key.key).chat.completions.parse(
        model=model, messages=ASK, response_format=Person, max_tokens=200
    )
    assert completion.choices[0].message.parsed == Person.model_validate(ANN)
    [sent] = fake.requests
    fmt = sent.body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    _assert_anthropic_schema(fmt["schema"])


def test_responses_parse_sends_a_schema_claude_accepts(
    sqlite_gateway: Gateway, fake: FakeAnthropic
) -> None:
    model = anthropic_model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    fake.script(model, _answer())
    response = sqlite_gateway.openai(key.key).responses.parse(
        model=model, input="Who lives at the corner?", text_format=Person, store=False
    )
    assert response.output_parsed == Person.model_validate(ANN)
    [sent] = fake.requests
    _assert_anthropic_schema(sent.body["output_config"]["format"]["schema"])


def test_a_strict_answer_off_the_schema_is_an_unbilled_502(
    gateway: Gateway, fake: FakeAnthropic
) -> None:
    model = anthropic_model(gateway, fake, input="3.00", output="15.00")
    key = gateway.make_user_key()
    fake.script(model, _answer(age=200))
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.openai(key.key).chat.completions.parse(
            model=model, messages=ASK, response_format=Person, max_tokens=200
        )
    assert caught.value.status_code == 502
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "invalid_structured_output", error
    assert "$.age: must be <= 150, got 200" in error["message"]
    assert len(fake.requests) == 1
    record = gateway.wait_for_records(user_id=key.user_id)[0]
    assert record["status"] == 502 and (record["amount"], record["free_amount"]) == (0, 0)
    assert wallet(gateway, key.user_id) == (START, 0)
    assert charges(gateway, key.user_id) == []


def test_the_sdk_retry_gets_a_fresh_answer(sqlite_gateway: Gateway, fake: FakeAnthropic) -> None:
    model = anthropic_model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    fake.script(model, Behaviour(text="Here is the person: Ann"), _answer())
    retrying = sqlite_gateway.openai(key.key).with_options(max_retries=1)
    completion = retrying.chat.completions.parse(
        model=model, messages=ASK, response_format=Person, max_tokens=200
    )
    assert completion.choices[0].message.parsed == Person.model_validate(ANN)
    assert len(fake.requests) == 2


def test_responses_strict_answer_off_the_schema_is_a_502(
    sqlite_gateway: Gateway, fake: FakeAnthropic
) -> None:
    model = anthropic_model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    fake.script(model, _answer(home={"city": "Lyon", "zip": "L1"}))
    with pytest.raises(openai.APIStatusError) as caught:
        sqlite_gateway.openai(key.key).responses.parse(
            model=model, input="Who?", text_format=Person, store=False
        )
    assert caught.value.status_code == 502
    assert "$.home.zip: does not match the pattern" in str(caught.value.body)


def test_a_non_strict_schema_answer_is_relayed_as_it_came(
    sqlite_gateway: Gateway, fake: FakeAnthropic
) -> None:
    model = anthropic_model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    fake.script(model, _answer(age=200))
    schema = {"type": "object", "properties": {"age": {"type": "integer", "maximum": 150}}}
    loose: Any = {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}
    completion = sqlite_gateway.openai(key.key).chat.completions.create(
        model=model,
        messages=ASK,
        response_format=loose,
    )
    assert json.loads(completion.choices[0].message.content or "")["age"] == 200


def test_json_mode_asks_claude_for_json_in_the_system_prompt(
    sqlite_gateway: Gateway, fake: FakeAnthropic
) -> None:
    model = anthropic_model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    fake.script(model, Behaviour(text='{"ok": true}'))
    completion = sqlite_gateway.openai(key.key).chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Reply in JSON."}, *ASK],
        response_format={"type": "json_object"},
    )
    assert completion.choices[0].message.content == '{"ok": true}'
    [sent] = fake.requests
    assert "output_config" not in sent.body
    system = [block["text"] for block in sent.body["system"]]
    assert system[0] == "Reply in JSON."
    assert system[1].startswith("Answer with one JSON object and nothing else")


def test_an_answer_off_the_schema_fails_over_without_blaming_the_channel(
    sqlite_gateway: Gateway, fake: FakeAnthropic
) -> None:
    gw = sqlite_gateway
    model = f"claude-so-{uuid.uuid4().hex[:8]}"
    first = gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url, priority=0)
    gw.add_channel(fake, models=[model], type="anthropic", base_url=fake.url, priority=1)
    key = gw.make_user_key()
    fake.script(model, _answer(tags=["a", "b", "a"]), _answer())
    completion = gw.openai(key.key).chat.completions.parse(
        model=model, messages=ASK, response_format=Person, max_tokens=200
    )
    assert completion.choices[0].message.parsed == Person.model_validate(ANN)
    assert len(fake.requests) == 2
    rows: list[dict[str, Any]] = gw.op("GET", "/channels/health")
    health = next(row for row in rows if row["id"] == first["id"])
    assert health["consecutive_failures"] == 0, health


def test_a_streamed_parse_gets_the_rewritten_schema_and_is_not_checked(
    sqlite_gateway: Gateway, fake: FakeAnthropic
) -> None:
    """A stream's text reaches the client as it comes, so it cannot be refused after the
    fact: the SDK's stream helper parses (and validates) the final text itself."""
    model = anthropic_model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    text = json.dumps(ANN)
    fake.script(model, Behaviour(text=text, chunks=[text[:9], text[9:]]))
    with sqlite_gateway.openai(key.key).chat.completions.stream(
        model=model, messages=ASK, response_format=Person, max_tokens=200
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == Person.model_validate(ANN)
    [sent] = fake.requests
    assert sent.body["stream"] is True
    _assert_anthropic_schema(sent.body["output_config"]["format"]["schema"])
