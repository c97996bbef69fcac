"""Golden translations: a request or response in one dialect, the exact body in the other.

``tests/fixtures/<source dialect>/{request,response}_<case>.to_<target>.json`` holds the
input, the expected output and a description of what the case pins down. Besides the
exact match, each output is checked against the official wire format of its dialect
(../shared/spec for OpenAI, the anthropic SDK's types for Anthropic), and each OpenAI
input against the spec too, so a fixture cannot drift into an invented shape.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anthropic.types
import openai.types.chat
import pytest

from relaygate.relay.translate import ANTHROPIC, OPENAI, translate_request, translate_response
from tests.unit.relay.dialects.spec import (
    assert_anthropic_request,
    assert_openai_request,
    openai_errors,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DIRECTORIES = {OPENAI: "openai_chat", ANTHROPIC: "anthropic_messages"}
CASES = sorted(FIXTURES.glob("*/request_*.json")) + sorted(FIXTURES.glob("*/response_*.json"))
# wire-formats.md §2: the fields of a Message (stop_* are null-able, never absent)
MESSAGE_FIELDS = {"id", "type", "role", "content", "model", "stop_reason", "stop_sequence", "usage"}


def _load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text())
    return fixture


def _translate(fixture: dict[str, Any]) -> dict[str, Any]:
    """The translation of the fixture's input; ``created`` is checked to be the current
    time and taken out, since it is the one field that cannot be golden."""
    if fixture["kind"] == "request":
        return translate_request(fixture["from"], fixture["to"], fixture["input"])
    before = int(time.time())
    out = translate_response(
        fixture["from"], fixture["to"], fixture["input"], model=fixture["model"]
    )
    if fixture["to"] == OPENAI:
        created = out.pop("created")
        assert isinstance(created, int) and before <= created <= int(time.time())
    return out


def test_there_are_golden_cases_in_both_directions() -> None:
    kinds = {(_load(path)["kind"], _load(path)["from"]) for path in CASES}
    assert kinds == {(k, d) for k in ("request", "response") for d in (OPENAI, ANTHROPIC)}


@pytest.mark.parametrize("path", CASES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_golden_translation(path: Path) -> None:
    fixture = _load(path)
    assert path.parent.name == DIRECTORIES[fixture["from"]]
    assert path.stem.endswith(f".to_{fixture['to']}")
    assert _translate(fixture) == fixture["expected"]


@pytest.mark.parametrize("path", CASES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_golden_output_follows_the_wire_format(path: Path) -> None:
    fixture = _load(path)
    out = _translate(fixture)
    if fixture["to"] == OPENAI and fixture["kind"] == "request":
        assert_openai_request(out)
    elif fixture["to"] == OPENAI:
        out["created"] = int(time.time())
        assert openai_errors(out, "CreateChatCompletionResponse") == []
        openai.types.chat.ChatCompletion.model_validate(out)
    elif fixture["kind"] == "request":
        assert_anthropic_request(out)
    else:
        assert set(out) == MESSAGE_FIELDS
        anthropic.types.Message.model_validate(out)


@pytest.mark.parametrize(
    "path",
    [path for path in CASES if _load(path)["from"] == OPENAI and "request_" in path.name],
    ids=lambda path: path.stem,
)
def test_openai_request_fixtures_follow_the_spec(path: Path) -> None:
    """Clients speak the spec; upstream answers from DeepSeek or vLLM do not (no
    ``refusal``, extra ``reasoning_content``), so only request inputs are held to it."""
    assert openai_errors(_load(path)["input"], "CreateChatCompletionRequest") == []
