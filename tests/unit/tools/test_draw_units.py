"""The pure parts of the image tools: the platform's Flux parameters as Black Forest Labs
takes them, the task outcomes each upstream reports, numbers, image types, and the
default channels."""

from __future__ import annotations

import pytest

from relaygate.channels.schemas import ChannelCreate
from relaygate.core.errors import InvalidRequest
from relaygate.tools.images import image_type
from relaygate.tools.params import Param
from relaygate.tools.tasks import BFLProvider, NDProvider, Outcome, bfl_body


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("16:9", (1376, 768)),
        ("9:16", (768, 1376)),
        ("21:9", (1440, 672)),  # 1564 wide at a megapixel: BFL's largest side instead
        ("2:3", (832, 1248)),
    ],
)
def test_an_aspect_ratio_is_a_megapixel_in_multiples_of_32(
    ratio: str, size: tuple[int, int]
) -> None:
    body = bfl_body({"prompt": "p", "aspect_ratio": ratio})
    assert (body["width"], body["height"]) == size
    assert body["width"] % 32 == 0 and body["height"] % 32 == 0


def test_custom_sizes_are_rounded_and_ultra_keeps_its_ratio() -> None:
    custom = bfl_body({"prompt": "p", "aspect_ratio": "custom", "width": 1000, "height": 260})
    assert (custom["width"], custom["height"]) == (992, 256)
    ultra = bfl_body({"prompt": "p", "aspect_ratio": "21:9", "raw": True, "image_prompt":
                      "data:image/png;base64,AAAA", "image_prompt_strength": 0.3})  # fmt: skip
    assert ultra == {"prompt": "p", "aspect_ratio": "21:9", "raw": True, "image_prompt": "AAAA",
                     "image_prompt_strength": 0.3}  # fmt: skip


def test_the_platforms_names_become_bfls() -> None:
    body = bfl_body(
        {"prompt": "p", "num_inference_steps": 30, "guidance": 3.5, "image": "https://x.test/a.png",
         "prompt_strength": 0.8, "num_outputs": 2, "output_quality": 80, "output_format": "webp",
         "disable_safety_checker": False, "model": "flux-dev"}
    )  # fmt: skip
    assert body == {"prompt": "p", "width": 1024, "height": 1024, "steps": 30, "guidance": 3.5,
                    "image_prompt": "https://x.test/a.png", "safety_tolerance": 2,
                    "output_format": "jpeg"}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "data", "outcome"),
    [
        (200, {"status": "Pending"}, None),
        (200, {"status": "Ready", "result": {"sample": "https://d.test/1.jpg", "seed": 3}},
         Outcome(images=({"url": "https://d.test/1.jpg", "seed": 3},))),
        (200, {"status": "Ready", "result": {"sample": "file:///etc/passwd"}},
         Outcome(failed="Ready without an image")),
        (200, {"status": "Error"}, Outcome(failed="Error")),
        (200, {"status": "Task not found"}, Outcome(failed="Task not found")),
        (404, None, Outcome(failed="Task not found")),
        (200, "not an object", Outcome(failed="a poll was answered 200 without a task's status")),
    ],
)  # fmt: skip
def test_bfl_task_outcomes(status: int, data: object, outcome: Outcome | None) -> None:
    assert BFLProvider.outcome(BFLProvider.__new__(BFLProvider), status, data) == outcome


def test_moderation_is_a_refusal_and_nd_outcomes() -> None:
    bfl = BFLProvider.__new__(BFLProvider)
    refused = bfl.outcome(200, {"status": "Request Moderated"})
    assert refused is not None and refused.refused and "prompt" in refused.refused
    nd = NDProvider.__new__(NDProvider)
    assert nd.outcome(200, {"status": "running"}) is None
    made = nd.outcome(200, {"status": "succeeded", "images": [{"url": "https://x/1"}, 3]})
    assert made == Outcome(images=({"url": "https://x/1"},))
    assert nd.outcome(200, {"status": "failed", "error": {"message": "oom"}}) == Outcome(
        failed="oom"
    )


@pytest.mark.parametrize("raw", ["0.5", 0.5, 1, "1e-1", ".5"])
def test_numbers_are_read_from_text_and_json(raw: object) -> None:
    assert 0 <= Param("g", "number", minimum=0, maximum=1).read(raw) <= 1


@pytest.mark.parametrize("raw", ["nan", "inf", True, "1,5", "", None, "2"])
def test_numbers_out_of_range_or_not_numbers_are_refused(raw: object) -> None:
    with pytest.raises(InvalidRequest, match="'g'"):
        Param("g", "number", minimum=0, maximum=1).read(raw)


def test_image_types_are_read_from_the_bytes() -> None:
    assert image_type(b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert image_type(b"<html>") is None


def test_image_channels_default_to_their_tools() -> None:
    bfl = ChannelCreate(name="b", type="bfl")
    assert bfl.base_url == "https://api.bfl.ai" and "flux-schnell" not in bfl.models
    assert bfl.models["flux-1.1-pro-ultra"] == "flux-pro-1.1-ultra"
    nd = ChannelCreate(name="n", type="nd", base_url="http://nd.internal:9000")
    assert nd.models == {"nd": "nd"}
    with pytest.raises(ValueError, match="base_url"):
        ChannelCreate(name="n", type="nd")  # ND's task API is the operator's own
