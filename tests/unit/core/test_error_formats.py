"""The error renderers: the exact bytes each format answers with, so a change to one
shows up here before a client notices."""

from __future__ import annotations

from typing import get_args

import pytest

from relaygate.core.error_formats import RENDERERS, ErrorAnswer, ErrorFormat, render_error
from relaygate.core.errors import ModelNotFound, RateLimited, RelaygateError


def test_openai_body_is_the_error_object() -> None:
    err = ModelNotFound("The model 'x' does not exist.", param="model")
    answer = render_error("openai", err, "req_1")
    assert answer == ErrorAnswer(
        404,
        (),
        b'{"error":{"message":"The model \'x\' does not exist.","type":"invalid_request_error",'
        b'"param":"model","code":"model_not_found"}}',
    )


def test_anthropic_body_carries_the_request_id_and_the_status_type() -> None:
    err = RateLimited("Slow down.", headers={"retry-after": "3"})
    answer = render_error("anthropic", err, "req_1")
    assert answer.status == 429
    assert answer.headers == (("retry-after", "3"),)
    assert answer.body == (
        b'{"type":"error","error":{"type":"rate_limit_error","message":"Slow down."},'
        b'"request_id":"req_1"}'
    )
    assert b"request_id" not in render_error("anthropic", err).body


def test_platform_body_is_the_envelope() -> None:
    answer = render_error("platform", RateLimited("Slow down."))
    assert answer.body == (
        b'{"statusCode":429,"message":"Slow down.","data":null,"errorType":"requests"}'
    )
    assert answer.content_type == "application/json"


def test_every_format_has_a_renderer() -> None:
    assert set(RENDERERS) == set(get_args(ErrorFormat))


@pytest.mark.parametrize("fmt", get_args(ErrorFormat))
def test_a_bug_closes_the_connection_after_the_error_own_headers(fmt: ErrorFormat) -> None:
    err = RelaygateError("The server had an error processing your request.", headers={"a": "b"})
    answer = render_error(fmt, err).closing()
    assert answer.status == 500
    assert answer.headers == (("a", "b"), ("connection", "close"))
    assert answer.raw_headers() == [(b"a", b"b"), (b"connection", b"close")]
