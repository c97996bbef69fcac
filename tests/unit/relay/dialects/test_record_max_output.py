"""What a call is held for: every output token the upstream can bill, plus the slack.

``Dialect.max_output`` is the output part of the hold (relay/service.py ``reserve``): it
must count every choice of ``n``, every ``best_of`` completion (generated and billed,
not returned) and the rejected part of a prediction; ``default`` per choice when the
body sets no limit, and 0 when asked with ``default=0`` (the caller set no limit).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from relaygate.core.tokens import estimate_tokens
from relaygate.relay.dialects.anthropic_messages.legacy import complete_to_messages
from relaygate.relay.dialects.registry import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES
from relaygate.relay.media.request import IMAGES, parse_call
from relaygate.relay.media.units import estimate
from relaygate.relay.output_cap import CapSlack

CHAT, COMPLETIONS = "chat/completions", "completions"


@pytest.mark.parametrize(
    ("endpoint", "body", "held"),
    [
        (CHAT, {"max_tokens": 100}, 100),
        (CHAT, {"max_tokens": 100, "n": 8}, 800),
        (CHAT, {"max_completion_tokens": 50, "max_tokens": 100, "n": 3}, 150),
        (CHAT, {"n": 4}, 4 * 1024),  # no limit: the default per choice
        (CHAT, {"max_tokens": 100, "n": 2.0}, 200),  # a whole float, as JSON may carry it
        (CHAT, {"max_tokens": 100, "n": "8"}, 100),  # malformed: validation refuses it
        (CHAT, {"max_tokens": 100, "n": 0}, 100),
        (COMPLETIONS, {"max_tokens": 16, "best_of": 5}, 80),  # five generated, all billed
        (COMPLETIONS, {"max_tokens": 16, "best_of": 5, "n": 2}, 80),
        (COMPLETIONS, {"max_tokens": 16, "n": 6, "best_of": 1}, 96),
        ("embeddings", {"input": "x", "n": 8}, 0),
        ("moderations", {"input": "x"}, 0),
    ],
)
def test_openai_holds_cover_every_choice(endpoint: str, body: dict[str, Any], held: int) -> None:
    assert OPENAI_CHAT.max_output(endpoint, body, 1024) == held


def test_a_prediction_is_held_as_output_too() -> None:
    """Rejected prediction tokens are billed at the completion rate."""
    code = "def f(x):\n    return x * 2\n" * 20
    body = {"max_tokens": 100, "prediction": {"type": "content", "content": code}}
    assert OPENAI_CHAT.max_output(CHAT, body, 1024) == 100 + estimate_tokens(code)
    parts = {"type": "content", "content": [{"type": "text", "text": code}]}
    assert OPENAI_CHAT.max_output(CHAT, {"max_tokens": 100, "prediction": parts}, 0) == (
        100 + estimate_tokens(code)
    )


def test_default_zero_says_whether_the_caller_set_a_limit() -> None:
    assert OPENAI_CHAT.max_output(CHAT, {"n": 8}, 0) == 0
    assert OPENAI_CHAT.max_output(CHAT, {"n": 8, "max_tokens": 5}, 0) == 40
    assert OPENAI_RESPONSES.max_output("responses", {}, 0) == 0
    assert OPENAI_RESPONSES.max_output("responses", {"max_output_tokens": 70}, 0) == 70


def test_anthropic_holds_max_tokens_on_both_routes() -> None:
    assert ANTHROPIC_MESSAGES.max_output("messages", {"max_tokens": 300}, 1024) == 300
    legacy = complete_to_messages(
        {"model": "claude-2", "prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": 256}
    )  # the Complete route is held once its body became a Messages one
    assert ANTHROPIC_MESSAGES.max_output("complete", legacy, 1024) == 256


@pytest.mark.parametrize(
    ("percent", "floor", "held", "slack"),
    [(20, 64, 0, 0), (20, 64, 100, 64), (20, 64, 1000, 200), (20, 64, 1001, 201), (0, 0, 50, 0)],
)
def test_the_cap_slack(percent: int, floor: int, held: int, slack: int) -> None:
    assert CapSlack(percent, floor).of(held) == slack


@pytest.mark.parametrize(
    ("fields", "per_image"),
    [
        ({}, 6240),  # quality and size auto: the most an image can cost
        ({"quality": "low", "size": "1024x1024"}, 1024),  # the table's 272, at least the default
        ({"quality": "medium", "size": "1536x1024"}, 1568),
        ({"quality": "high", "size": "1024x1536"}, 6240),
        ({"quality": "high", "size": "1024x1024", "partial_images": 2}, 4160 + 200),
    ],
)
def test_image_holds_cover_every_image_at_its_quality(
    fields: dict[str, Any], per_image: int
) -> None:
    body = orjson.dumps({"model": "gpt-image-1", "prompt": "a cat", "n": 3, **fields})
    held = estimate(parse_call(IMAGES, body, "application/json"), 1024)
    assert (held.images, held.completion_tokens) == (3, 3 * per_image)
