"""The no-script playground's loopback call: where it goes and how it reads an answer."""

from __future__ import annotations

import orjson

from relaygate.web.playground_call import _answer, _message, own_origin


def test_the_call_goes_back_through_the_socket_the_request_came_in_on() -> None:
    assert own_origin({"server": ("127.0.0.1", 8080), "scheme": "http"}) == "http://127.0.0.1:8080"
    assert own_origin({"server": ("::1", 8443), "scheme": "https"}) == "https://[::1]:8443"
    assert own_origin({"server": ("/run/relaygate.sock", None)}) is None
    assert own_origin({}) is None


def test_an_error_reads_as_the_relays_message() -> None:
    body = orjson.dumps({"error": {"message": "User balance is insufficient", "type": "x"}})
    assert _message(body) == "User balance is insufficient"
    assert _message(b"<html>bad gateway</html>") == ""
    assert _message(orjson.dumps({"message": "plain"})) == "plain"


def test_an_answer_is_the_first_choices_text() -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": "Echo: hi"}}]}
    assert _answer(orjson.dumps(body)) == "Echo: hi"
    assert _answer(orjson.dumps({"choices": []})) == ""
