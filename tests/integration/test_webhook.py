"""``ohmygpt_webhook_url`` over real HTTP: a local receiver gets exactly one POST with the
documented payload when an image call succeeds or fails (private targets allowed by the
operator), and none at all under the default SSRF guard."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fakes.media_routes import PNG
from tests.fakes.openai_upstream import Behaviour, FakeOpenAI
from tests.harness import Gateway
from tests.integration.test_money import START, funded_key, wallet


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                received.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def wait(self, count: int, seconds: float = 10.0) -> list[tuple[str, dict[str, str], Any]]:
        deadline = time.monotonic() + seconds
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # and no second POST comes after it
        return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def open_gateway(gateway_factory: Callable[..., Gateway]) -> Gateway:
    """A gateway whose operator allows webhooks to private addresses (the receiver)."""
    return gateway_factory(webhook_allow_private=True)


def _model(gw: Gateway, fake: FakeOpenAI) -> str:
    model = f"hook-{uuid.uuid4().hex[:8]}"
    gw.add_channel(fake, models=[model])
    gw.op("PUT", f"/models/{model}", json={"per_image": "0.02"})
    return model


def test_success_posts_the_images_response_once(
    open_gateway: Gateway, fake: FakeOpenAI, receiver: Receiver
) -> None:
    model = _model(open_gateway, fake)
    key = open_gateway.make_user_key()
    body = {"model": model, "prompt": "p", "n": 2, "ohmygpt_webhook_url": receiver.url("/cb?t=1")}
    with open_gateway.http(key.key) as http:
        answer = http.post("/v1/images/generations", json=body)
    assert answer.status_code == 200
    posts = receiver.wait(1)
    assert len(posts) == 1
    path, headers, payload = posts[0]
    assert path == "/cb?t=1" and headers["Content-Type"] == "application/json"
    assert payload == {
        "success": True,
        "status": "succeed",
        "message": None,
        "code": 200,
        "data": answer.json(),
    }
    assert "ohmygpt_webhook_url" not in (fake.media.received[-1].json or {})


def test_failure_posts_the_error_once_and_is_not_billed(
    open_gateway: Gateway, fake: FakeOpenAI, receiver: Receiver
) -> None:
    model = _model(open_gateway, fake)
    key = open_gateway.make_user_key()
    rejected = {"error": {"message": "Your prompt was rejected.", "type": "invalid_request_error"}}
    fake.script(None, Behaviour(status=500), Behaviour(status=400, error_body=rejected))
    with open_gateway.http(key.key) as http:
        form = {"model": model, "prompt": "p", "ohmygpt_webhook_url": receiver.url("/one")}
        assert http.post("/v1/images/generations", data=form).status_code == 502
        assert receiver.wait(1)[0][2] == {
            "success": False,
            "status": "failed",
            "message": "The upstream returned HTTP 500.",
            "code": 502,
            "data": None,
        }
        form["ohmygpt_webhook_url"] = receiver.url("/two")
        assert http.post("/v1/images/generations", data=form).status_code == 400
    posts = receiver.wait(2)
    assert len(posts) == 2 and posts[1][0] == "/two"
    assert posts[1][2] == {
        "success": False,
        "status": "failed",
        "message": "Your prompt was rejected.",
        "code": 400,
        "data": None,
    }
    assert wallet(open_gateway, key.user_id) == (START, 0)


def test_refused_calls_send_no_webhook(
    open_gateway: Gateway, fake: FakeOpenAI, receiver: Receiver
) -> None:
    """A call refused before its hold (no balance, a rate limit, a model the key may not
    use) costs nothing, so it must not make the gateway POST anywhere: else an unfunded
    key could aim the gateway at any URL, as often as it likes."""
    model = _model(open_gateway, fake)
    unfunded = funded_key(open_gateway)
    limited = open_gateway.make_user_key(rpm_limit=1)
    other = open_gateway.make_user_key(permissions=["some-other-model"])
    body = {"model": model, "prompt": "p", "ohmygpt_webhook_url": receiver.url("/hook")}
    statuses = []
    for key in (unfunded, limited, limited, other):
        with open_gateway.http(key.key) as http:
            statuses.append(http.post("/v1/images/generations", json=body).status_code)
    assert statuses == [402, 200, 429, 401]
    posts = receiver.wait(1)
    assert [payload["code"] for _, _, payload in posts] == [200]  # the admitted call only
    assert len(fake.media.received) == 1


def test_an_edit_with_the_echo_model_posts_too(open_gateway: Gateway, receiver: Receiver) -> None:
    key = open_gateway.make_user_key()
    data = {"model": "relaygate-echo", "prompt": "p", "ohmygpt_webhook_url": receiver.url()}
    with open_gateway.http(key.key) as http:
        answer = http.post(
            "/v1/images/edits", data=data, files=[("image", ("a.png", PNG, "image/png"))]
        )
    assert answer.status_code == 200
    posts = receiver.wait(1)
    assert len(posts) == 1 and posts[0][2]["data"] == answer.json()


def test_default_guard_never_calls_a_private_address(
    sqlite_gateway: Gateway, fake: FakeOpenAI, receiver: Receiver
) -> None:
    model = _model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    with sqlite_gateway.http(key.key) as http:
        for host in ("127.0.0.1", "localhost"):
            body = {"model": model, "prompt": "p", "ohmygpt_webhook_url": receiver.url(host=host)}
            assert http.post("/v1/images/generations", json=body).status_code == 200
    assert receiver.wait(1, seconds=1.5) == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "http://", "https://example.com/" + "a" * 2000, "not a url"]
)
def test_a_malformed_url_is_a_400(sqlite_gateway: Gateway, fake: FakeOpenAI, url: str) -> None:
    model = _model(sqlite_gateway, fake)
    key = sqlite_gateway.make_user_key()
    with sqlite_gateway.http(key.key) as http:
        body = {"model": model, "prompt": "p", "ohmygpt_webhook_url": url}
        refused = http.post("/v1/images/generations", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "ohmygpt_webhook_url"
    assert fake.media.received == []
