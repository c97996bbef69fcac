"""The mock upstream: one nginx worker answering instantly with fixed OpenAI-shaped bodies.

nginx cannot branch on the JSON request body, so the two answers live on two paths:

* ``POST /json/v1/chat/completions``   -> a ``chat.completion`` JSON object with usage
* ``POST /stream/v1/chat/completions`` -> ``text/event-stream``: 20 content chunks, one usage
  chunk (``choices: []``) and ``data: [DONE]``

The bodies are static files; nginx answers 405 to a POST on a static file, so
``error_page 405 =200 $uri`` re-serves the file as a 200 (an internal GET).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from collections.abc import Sequence
from pathlib import Path
from subprocess import Popen

import orjson

from bench.common import LOAD_CORE, Children, free_port, http, wait_port

MODEL_JSON = "bench-json"
MODEL_STREAM = "bench-stream"
STREAM_CONTENT_CHUNKS = 20
CREATED = 1_763_000_000

USAGE = {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29}


def json_body() -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench0000000000000000000000",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL_JSON,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Hello! A fixed answer from the benchmark mock upstream.",
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
            "system_fingerprint": "fp_bench",
        }
    )


def stream_body() -> bytes:
    base = {
        "id": "chatcmpl-bench0000000000000000000000",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL_STREAM,
        "system_fingerprint": "fp_bench",
    }
    events: list[bytes] = []
    for i in range(STREAM_CONTENT_CHUNKS):
        delta: dict[str, str] = {"content": f"tok{i} "}
        if i == 0:
            delta = {"role": "assistant", "content": "tok0 "}
        finish = "stop" if i == STREAM_CONTENT_CHUNKS - 1 else None
        chunk = {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        events.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    events.append(b"data: " + orjson.dumps({**base, "choices": [], "usage": USAGE}) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


def request_body(stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": MODEL_STREAM if stream else MODEL_JSON,
        "messages": [{"role": "user", "content": "hi"}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def counted_log(workdir: Path, port: int) -> Path:
    """The access log of a counted server block: one line per request it answered."""
    return workdir / f"access-{port}.log"


def nginx_config(workdir: Path, port: int, counted_ports: Sequence[int] = ()) -> str:
    """The mock's config: ``port`` without access log (the direct baseline and the usual
    channels), plus one identical server per ``counted_ports`` entry that logs each request
    to its own file, so a test can count what each of several upstreams received."""
    user_line = ""
    if os.geteuid() == 0:
        # As root nginx would drop the worker to "nobody"; keep it as the current user.
        user_line = (
            f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
        )
    tmp = workdir / "nginx-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    www = workdir / "www"
    for prefix, body in (("json", json_body()), ("stream", stream_body())):
        path = www / prefix / "v1" / "chat" / "completions"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    servers = "".join(
        _server(p, www, "off" if p == port else f"{counted_log(workdir, p)} counted")
        for p in (port, *counted_ports)
    )
    return f"""
{user_line}
daemon off;
master_process on;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{
    worker_connections 4096;
    multi_accept on;
}}
http {{
    access_log off;
    log_format counted '$status';
    server_tokens off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 16m;
{servers}}}
"""


def _server(port: int, www: Path, log: str) -> str:
    """One listener; every listener serves the same two answers, so channels differ only by port."""
    return f"""
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        access_log {log};
        # POST on a static file is a 405; error_page turns it into an internal GET of the
        # same file with status 200. (`return 200 '...'` would be simpler, but nginx caps a
        # config token at 4 KiB and the SSE body is larger.)
        root {www};
        etag off;
        if_modified_since off;
        location = /json/v1/chat/completions {{
            default_type application/json;
            error_page 405 =200 $uri;
        }}
        location = /stream/v1/chat/completions {{
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            error_page 405 =200 $uri;
        }}
        location / {{
            default_type application/json;
            return 404 '{{"error":{{"message":"mock: unknown path","type":"not_found"}}}}';
        }}
    }}
"""


def start_nginx(
    children: Children,
    workdir: Path,
    core: str = LOAD_CORE,
    counted_ports: Sequence[int] = (),
) -> tuple[int, Popen[bytes]]:
    """Start the mock on ``core``; returns (port, process). Verifies both answers.

    ``counted_ports``: extra listeners with an access log each (see ``nginx_config``).
    """
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(workdir, port, counted_ports))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    argv = ["taskset", "-c", core, nginx, "-p", str(workdir), "-c", str(conf), "-e", "stderr"]
    proc = children.start(argv, workdir / "nginx.log")
    for p in (port, *counted_ports):
        wait_port(p, 10, proc)
    base = f"http://127.0.0.1:{port}"
    status, headers, body = http("POST", f"{base}/json/v1/chat/completions", request_body(False))
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if status != 200 or body != json_body() or not ctype.startswith("application/json"):
        raise RuntimeError(f"mock json answer wrong: {status} {ctype} {body[:200]!r}")
    status, headers, body = http("POST", f"{base}/stream/v1/chat/completions", request_body(True))
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if status != 200 or body != stream_body() or not ctype.startswith("text/event-stream"):
        raise RuntimeError(f"mock stream answer wrong: {status} {ctype} {body[:200]!r}")
    return port, proc
