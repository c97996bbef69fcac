"""Override rules on the media routes and embeddings (docs/rules.md "Media routes"), with
the official openai SDK against the fake upstream's media routes:

* a rule renames the image model, clamps ``n`` and tags the request with a header: the
  upstream sees all three, and the hold and the bill count the images it was asked for;
* an image edit (a multipart upload) is renamed and a form field set through the rules;
* a block on audio is a 403 in OpenAI's format, never reaches the upstream and is not
  billed; a condition compares a transcription's form text;
* embeddings are renamed like every JSON route.
"""

from __future__ import annotations

import uuid

import openai
import pytest

from tests.fakes.media_routes import PNG
from tests.fakes.openai_upstream import FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_audio import make_wav
from tests.integration.test_images import settled
from tests.integration.test_money import START, wallet
from tests.integration.test_rules_relay import create_rule, headers_of


def _pair(gw: Gateway, fake: FakeOpenAI, price: dict[str, str]) -> tuple[str, str, str]:
    """Two public models on one channel: the one asked for, and the one a rule picks
    (served upstream as its third name)."""
    tag = uuid.uuid4().hex[:8]
    asked, chosen, upstream = f"m-asked-{tag}", f"m-chosen-{tag}", f"m-up-{tag}"
    gw.add_channel(fake, models={asked: f"m-asked-up-{tag}", chosen: upstream})
    gw.op("PUT", f"/models/{asked}", json=price)
    gw.op("PUT", f"/models/{chosen}", json=price)
    return asked, chosen, upstream


def test_image_generation_runs_the_rules(gateway: Gateway, fake: FakeOpenAI) -> None:
    asked, chosen, upstream = _pair(gateway, fake, {"per_image": "0.04"})
    key = gateway.make_user_key()
    rule = create_rule(
        gateway,
        key,
        {
            "name": "cheap images",
            "match": {"endpoints": ["images"], "models": [asked]},
            "actions": [
                {"type": "rename_model", "to": chosen},
                {"type": "clamp", "path": "/n", "max": 1},
                {"type": "set_header", "name": "x-team", "value": "design"},
            ],
        },
    )
    raw = gateway.openai(key.key).images.with_raw_response.generate(
        model=asked, prompt="a lighthouse", n=3, response_format="b64_json"
    )
    assert raw.parse().data is not None and len(raw.parse().data or []) == 1
    sent = fake.media.received[-1]
    assert sent.json is not None and (sent.json["model"], sent.json["n"]) == (upstream, 1)
    assert headers_of(fake)["x-team"] == "design"
    bill = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (bill["model"], bill["rules"], bill["images"]) == (chosen, str(rule["id"]), 1)
    assert bill["amount"] == 40_000  # one image, not three


def test_image_edit_upload_is_renamed_and_its_form_written(
    sqlite_gateway: Gateway, fake: FakeOpenAI
) -> None:
    gateway = sqlite_gateway
    asked, chosen, upstream = _pair(gateway, fake, {"per_image": "0.04"})
    key = gateway.make_user_key()
    create_rule(
        gateway,
        key,
        {
            "name": "square edits",
            "match": {"endpoints": ["images"]},
            "actions": [
                {"type": "rename_model", "to": chosen},
                {"type": "set", "path": "/size", "value": "1024x1024"},
                {"type": "set", "path": "/n", "value": 1},
                {"type": "remove", "path": "/user"},
            ],
        },
    )
    result = gateway.openai(key.key).images.edit(
        model=asked, image=("a.png", PNG, "image/png"), prompt="blue", n=2, user="me"
    )
    assert result.data is not None and len(result.data) == 1
    sent = fake.media.received[-1]
    assert sent.path == "/v1/images/edits" and sent.model == upstream
    assert (sent.fields["size"], sent.fields["n"]) == (["1024x1024"], ["1"])
    assert "user" not in sent.fields
    assert sent.files == [("image", "a.png", "image/png", PNG)]
    assert settled(gateway, key.user_id, 1)[0]["images"] == 1


def test_a_block_on_audio_is_403_and_not_billed(gateway: Gateway, fake: FakeOpenAI) -> None:
    asked, _, _ = _pair(gateway, fake, {"per_character": "15"})
    key = gateway.make_user_key()
    rule = create_rule(
        gateway,
        key,
        {
            "name": "no speech",
            "match": {"endpoints": ["audio"], "models": [asked]},
            "actions": [{"type": "block", "message": "Speech is off for this account."}],
        },
    )
    before = len(fake.media.received)
    sdk = gateway.openai(key.key)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.audio.speech.create(model=asked, voice="alloy", input="hello")
    error = refused.value.body
    assert isinstance(error, dict)
    assert (error["message"], error["type"], error["code"]) == (
        "Speech is off for this account.",
        "permission_error",
        "blocked_by_rule",
    )
    assert len(fake.media.received) == before
    bill = gateway.wait_for_usage(refused.value.response.headers["x-request-id"])
    assert (bill["status"], bill["amount"], bill["rules"]) == (403, 0, str(rule["id"]))
    assert wallet(gateway, key.user_id) == (START, 0)

    with pytest.raises(openai.PermissionDeniedError):  # an upload is refused alike
        sdk.audio.transcriptions.create(model=asked, file=("a.wav", make_wav(1.0), "audio/wav"))
    assert len(fake.media.received) == before


def test_a_condition_reads_a_transcription_form(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    gateway = sqlite_gateway
    asked, _, _ = _pair(gateway, fake, {"per_second": "0.0001"})
    key = gateway.make_user_key()
    create_rule(
        gateway,
        key,
        {
            "name": "french only",
            "match": {
                "endpoints": ["audio"],
                "conditions": [{"path": "/language", "op": "ne", "value": "fr"}],
            },
            "actions": [{"type": "block", "message": "French only."}],
        },
    )
    sdk = gateway.openai(key.key)
    wav = ("a.wav", make_wav(1.0), "audio/wav")
    with pytest.raises(openai.PermissionDeniedError):
        sdk.audio.transcriptions.create(model=asked, file=wav, language="en")
    assert sdk.audio.transcriptions.create(model=asked, file=wav, language="fr").text
    assert fake.media.received[-1].fields["language"] == ["fr"]


def test_embeddings_are_renamed(sqlite_gateway: Gateway, fake: FakeOpenAI) -> None:
    gateway = sqlite_gateway
    asked, chosen, upstream = _pair(gateway, fake, {"input": "1", "output": "0"})
    key = gateway.make_user_key()
    rule = create_rule(
        gateway,
        key,
        {
            "name": "small embeddings",
            "match": {"endpoints": ["embeddings"]},
            "actions": [{"type": "rename_model", "to": chosen}],
        },
    )
    raw = gateway.openai(key.key).embeddings.with_raw_response.create(model=asked, input="hi")
    assert raw.parse().data
    assert fake.requests[-1].body["model"] == upstream
    bill = gateway.wait_for_usage(raw.headers["x-request-id"])
    assert (bill["model"], bill["rules"]) == (chosen, str(rule["id"]))
