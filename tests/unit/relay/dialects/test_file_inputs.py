"""Which parts name a stored file, per dialect, and which ids are ours (the rest of the
behaviour, filling them from real uploads, is tests/integration/test_file_inputs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from relaygate.core.errors import InvalidRequest
from relaygate.relay.dialects.file_inputs import FileBytes, mentions_files, stored_id, url_id
from relaygate.relay.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES

OURS = "ENthMCy_5zr5zN3GRJseM"
PNG = FileBytes(OURS, "a.png", "image/png", b"\x89PNG")
PDF = FileBytes(OURS, "r.pdf", "application/pdf", b"%PDF")


def test_ids_of_ours_and_of_upstreams() -> None:
    assert stored_id(OURS) == OURS
    assert stored_id(f"relaygate-file://{OURS}") == OURS
    assert stored_id("file-6F2ksmvXxt4VdoqmHRw6kL") is None  # OpenAI's
    assert stored_id("file_011CNha8iCJcU1wXNR6q4V8w") is None  # Anthropic's
    assert stored_id(None) is None
    assert url_id(f"relaygate-file://{OURS}") == OURS
    assert url_id(OURS) is None  # a bare id is not a URL
    assert url_id("https://example.com/a.png") is None


def test_the_cheap_scan() -> None:
    assert not mentions_files(b'{"messages":[{"role":"user","content":"hi"}]}')
    assert mentions_files(b'{"file":{"file_id":"x"}}')
    assert mentions_files(b'{"url":"relaygate-file:\\/\\/x"}')  # escaped slashes


def test_chat_parts_found_and_filled() -> None:
    payload: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"type": "file", "file": {"file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"}},
                    {
                        "type": "file",
                        "file": {"file_id": OURS},
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            },
        ]
    }
    (found,) = OPENAI_CHAT.file_inputs("chat/completions", payload)
    assert found.uid == OURS and found.param == "messages[1].content[3].file.file_id"
    found.fill(PNG)  # an image named in a file part becomes an image part
    assert payload["messages"][1]["content"][3] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw=="},
        "cache_control": {"type": "ephemeral"},
    }
    assert OPENAI_CHAT.file_inputs("embeddings", payload) == []


def test_image_slots_refuse_documents() -> None:
    payload: dict[str, Any] = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "file", "file_id": OURS}}],
            }
        ]
    }
    (found,) = ANTHROPIC_MESSAGES.file_inputs("messages", payload)
    with pytest.raises(InvalidRequest, match="not an image") as caught:
        found.fill(PDF)
    assert caught.value.param == "messages[0].content[0].source.file_id"


def test_anthropic_tool_results_and_responses_outputs_are_searched() -> None:
    claude: dict[str, Any] = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "url", "url": f"relaygate-file://{OURS}"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    (found,) = ANTHROPIC_MESSAGES.file_inputs("messages/count_tokens", claude)
    assert found.param == "messages[0].content[0].content[0].source.url"
    found.fill(PDF)
    block = claude["messages"][0]["content"][0]["content"][0]
    assert block["source"] == {
        "type": "base64",
        "media_type": "application/pdf",
        "data": "JVBERg==",
    }
    responses: dict[str, Any] = {
        "input": [
            {
                "type": "function_call_output",
                "call_id": "c",
                "output": [{"type": "input_file", "file_url": f"relaygate-file://{OURS}"}],
            }
        ]
    }
    (found,) = OPENAI_RESPONSES.file_inputs("responses", responses)
    assert found.param == "input[0].output[0].file_url"
    found.fill(PDF)
    assert responses["input"][0]["output"][0] == {
        "type": "input_file",
        "filename": "r.pdf",
        "file_data": "data:application/pdf;base64,JVBERg==",
    }
