"""Stored files as model inputs (docs/storage.md "Files as model inputs"), with the
official SDKs against fake upstreams that record what they received.

A file uploaded through the files API is named by id in each dialect's own part shape
(Chat Completions, Responses, Messages); the upstream receives the inline part its
dialect takes (a base64 data URL, Anthropic's base64 source), with bytes equal to the
upload, whether the call is passed through or translated. Another user's id, an unknown
one and a fine-tuning file are a 400 in the caller's dialect naming the id, and the
upstream is never called; an id of the upstream's own shape passes through untouched.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.responses_upstream import FakeOpenAIResponses
from tests.harness import Gateway, IssuedKey
from tests.integration.test_files_api import uploaded

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
PDF = b"%PDF-1.7\n" + os.urandom(3000) + b"\n%%EOF\n"
TEXT = "Quarterly notes: revenue up, costs down.\n"


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def _files(gw: Gateway, key: IssuedKey) -> dict[str, str]:
    """A PNG (CHAT), a PDF (COMMON) and a text file (LLM_TMP), uploaded as a user would."""
    with gw.http(key.key) as http:
        png = uploaded(http, PNG, name="chart.png", mime="image/png", purpose="2")
        pdf = uploaded(http, PDF, name="report.pdf", mime="application/pdf", purpose="0")
        txt = uploaded(http, TEXT.encode(), name="notes.txt", mime="text/plain", purpose="3")
    return {"png": png["fileUniqueID"], "pdf": pdf["fileUniqueID"], "txt": txt["fileUniqueID"]}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _model(gw: Gateway, fake: Any, **channel: Any) -> str:
    model = f"m-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model], **channel)
    return model


def _anthropic(gw: Gateway, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)


def _chat_parts(fake: FakeOpenAI) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = fake.requests[-1].body["messages"][0]["content"]
    return parts


# ------------------------------------------------------------------ Chat Completions


def test_chat_completions_image_and_pdf_by_id(gateway: Gateway, fake: FakeOpenAI) -> None:
    key = gateway.make_user_key()
    ids = _files(gateway, key)
    model = _model(gateway, fake)
    answer = gateway.openai(key.key).chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What do these show?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": f"relaygate-file://{ids['png']}", "detail": "low"},
                    },
                    {"type": "file", "file": {"file_id": ids["pdf"]}},
                    {"type": "file", "file": {"file_id": ids["png"], "filename": "x.png"}},
                ],
            }
        ],
    )
    assert answer.choices[0].message.content
    text, image, document, image_as_file = _chat_parts(fake)
    assert text == {"type": "text", "text": "What do these show?"}
    assert image == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}", "detail": "low"},
    }
    assert document == {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{_b64(PDF)}"},
    }
    # an image named in a file part goes as an image part: OpenAI's file parts are documents
    assert image_as_file == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{_b64(PNG)}"},
    }


def test_chat_completions_translated_to_anthropic(
    sqlite_gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    """An OpenAI caller's file on a Claude channel: Anthropic's base64 blocks upstream."""
    key = sqlite_gateway.make_user_key()
    ids = _files(sqlite_gateway, key)
    model = _model(sqlite_gateway, fake_anthropic, type="anthropic", base_url=fake_anthropic.url)
    sqlite_gateway.openai(key.key).chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"relaygate-file://{ids['png']}"}},
                    {"type": "file", "file": {"file_id": ids["pdf"]}},
                ],
            }
        ],
    )
    image, document = fake_anthropic.requests[-1].body["messages"][0]["content"]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": _b64(PNG)}
    assert document["type"] == "document"
    assert document["source"] == {
        "type": "base64",
        "media_type": "application/pdf",
        "data": _b64(PDF),
    }


# ------------------------------------------------------------------ Responses


def test_responses_by_id_native_and_translated(
    sqlite_gateway: Gateway, fake: FakeOpenAI, native: FakeOpenAIResponses
) -> None:
    gw = sqlite_gateway
    key = gw.make_user_key()
    ids = _files(gw, key)
    content: Any = [
        {"type": "input_text", "text": "Summarise."},
        {"type": "input_image", "file_id": ids["png"], "detail": "high"},
        {"type": "input_file", "file_id": ids["pdf"]},
    ]
    client = gw.openai(key.key)
    on_native = _model(gw, native, options={"responses_api": True})
    client.responses.create(model=on_native, input=[{"role": "user", "content": content}])
    parts = native.requests[-1].body["input"][-1]["content"]
    assert parts[1] == {
        "type": "input_image",
        "image_url": f"data:image/png;base64,{_b64(PNG)}",
        "detail": "high",
    }
    assert parts[2] == {
        "type": "input_file",
        "filename": "report.pdf",
        "file_data": f"data:application/pdf;base64,{_b64(PDF)}",
    }
    # the same call on a Chat Completions channel: translated from the inline parts
    on_chat = _model(gw, fake)
    client.responses.create(model=on_chat, input=[{"role": "user", "content": content}])
    _, image, document = _chat_parts(fake)
    assert image["image_url"]["url"] == f"data:image/png;base64,{_b64(PNG)}"
    assert document["file"]["file_data"] == f"data:application/pdf;base64,{_b64(PDF)}"


# ------------------------------------------------------------------ Messages


def test_messages_image_and_documents_by_id(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    key = gateway.make_user_key()
    ids = _files(gateway, key)
    model = _model(gateway, fake_anthropic, type="anthropic", base_url=fake_anthropic.url)
    _anthropic(gateway, key.key).messages.create(
        model=model,
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "file", "file_id": ids["png"]}},
                    {
                        "type": "document",
                        "source": {"type": "file", "file_id": ids["pdf"]},
                        "title": "Q4",
                    },
                    {"type": "document", "source": {"type": "file", "file_id": ids["txt"]}},
                    {"type": "text", "text": "Compare them."},
                ],
            }
        ],
    )
    image, pdf, txt, text = fake_anthropic.requests[-1].body["messages"][0]["content"]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": _b64(PNG)},
    }
    assert pdf == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": _b64(PDF)},
        "title": "Q4",
    }
    assert txt["source"] == {"type": "text", "media_type": "text/plain", "data": TEXT}
    assert text == {"type": "text", "text": "Compare them."}


def test_messages_translated_to_chat_completions(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    key = sqlite_gateway.make_user_key()
    ids = _files(sqlite_gateway, key)
    model = _model(sqlite_gateway, fake)
    _anthropic(sqlite_gateway, key.key).messages.create(
        model=model,
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "file", "file_id": ids["png"]}},
                    {"type": "text", "text": "What is it?"},
                ],
            }
        ],
    )
    image = _chat_parts(fake)[0]
    assert image["image_url"]["url"] == f"data:image/png;base64,{_b64(PNG)}"


# ------------------------------------------------------------------ refusals


def test_another_users_file_is_a_400_in_every_dialect(
    sqlite_gateway: Gateway, fake: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    gw = sqlite_gateway
    owner, stranger = gw.make_user_key(), gw.make_user_key()
    theirs = _files(gw, owner)["png"]
    chat_model = _model(gw, fake)
    claude = _model(gw, fake_anthropic, type="anthropic", base_url=fake_anthropic.url)
    client = gw.openai(stranger.key)
    calls_before = (len(fake.requests), len(fake_anthropic.requests))

    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model=chat_model,
            messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": theirs}}]}],
        )
    assert theirs in chat.value.message
    error = chat.value.body
    assert isinstance(error, dict)
    assert error["param"] == "messages[0].content[0].file.file_id"
    assert error["code"] == "file_not_found"

    with pytest.raises(openai.BadRequestError) as responses:
        client.responses.create(
            model=chat_model,
            input=[
                {
                    "role": "user",
                    "content": [{"type": "input_image", "file_id": theirs, "detail": "auto"}],
                }
            ],
        )
    assert theirs in responses.value.message

    with pytest.raises(anthropic.BadRequestError) as messages:
        _anthropic(gw, stranger.key).messages.create(
            model=claude,
            max_tokens=16,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "file", "file_id": theirs}}],
                }
            ],
        )
    assert theirs in messages.value.message
    assert messages.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]

    # the owner's own call with the same id works; nothing reached an upstream before
    assert (len(fake.requests), len(fake_anthropic.requests)) == calls_before
    gw.openai(owner.key).chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": theirs}}]}],
    )
    assert _chat_parts(fake)[0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_unusable_files_are_refused_naming_the_id(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    gw = sqlite_gateway
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        tuning = uploaded(
            http, b'{"messages": []}\n', name="t.jsonl", mime="application/jsonl", purpose="1"
        )
        pdf = uploaded(http, PDF, name="r.pdf", mime="application/pdf")
    model = _model(gw, fake)
    client = gw.openai(key.key)

    def refused(part: dict[str, Any]) -> openai.BadRequestError:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": [part]}],  # type: ignore[list-item]
            )
        return caught.value

    finetune = refused({"type": "file", "file": {"file_id": tuning["fileUniqueID"]}})
    assert tuning["fileUniqueID"] in finetune.message and "FINETUNE" in finetune.message
    not_image = refused(
        {"type": "image_url", "image_url": {"url": f"relaygate-file://{pdf['fileUniqueID']}"}}
    )
    assert "not an image" in not_image.message
    unknown = "A" * 21
    assert unknown in refused({"type": "file", "file": {"file_id": unknown}}).message
    assert not fake.requests


def test_files_over_the_input_cap_are_a_413(gateway_factory: Any, fake: FakeOpenAI) -> None:
    gw = gateway_factory(files_input_max_bytes=1000)
    key = gw.make_user_key()
    with gw.http(key.key) as http:
        png = uploaded(http, PNG, name="big.png", mime="image/png")
    with pytest.raises(openai.APIStatusError) as caught:
        gw.openai(key.key).chat.completions.create(
            model=_model(gw, fake),
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "file", "file": {"file_id": png["fileUniqueID"]}}],
                }
            ],
        )
    assert caught.value.status_code == 413
    assert png["fileUniqueID"] in caught.value.message


def test_upstream_file_ids_pass_through_byte_identical(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    """An OpenAI file id is the upstream's: the body goes on exactly as it was sent."""
    key = sqlite_gateway.make_user_key()
    model = _model(sqlite_gateway, fake)
    body = (
        b'{"model":"' + model.encode() + b'","messages":[{"role":"user","content":['
        b'{"type":"file","file":{"file_id":"file-6F2ksmvXxt4VdoqmHRw6kL"}},'
        b'{"type":"text","text":"read it"}]}]}'
    )
    with httpx.Client(base_url=sqlite_gateway.url, timeout=30) as http:
        response = http.post(
            "/v1/chat/completions",
            content=body,
            headers={"Authorization": f"Bearer {key.key}", "content-type": "application/json"},
        )
    assert response.status_code == 200, response.text
    assert fake.requests[-1].raw == body
