"""The files API over HTTP (platform-api.md §9; docs/storage.md), on both blob stores: a
local directory (SQLite gateway) and an S3-compatible server (moto's, over HTTP) behind a
PostgreSQL + Redis gateway, the scale-out shape.

Uploads, downloads with ranges and ETags, every metadata route, another user's file as a
404 everywhere, a deleted file gone from every route at once, file names that try to be
paths, HTML and SVG served as attachments, size limits (413) and quotas (403) by tier."""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.s3 import ACCESS_KEY, SECRET_KEY, FakeS3
from tests.harness import Gateway, IssuedKey, create_pg_database, drop_pg_database, start_gateway
from tests.integration.console import csrf_token, signed_in

UPLOAD = "/api/v1/user/files/upload"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[FakeS3]:
    with FakeS3() as server:
        yield server


@pytest.fixture(scope="module")
def s3_gateway(s3_server: FakeS3) -> Iterator[Gateway]:
    """PostgreSQL, Redis and S3: every file route of a scale-out replica."""
    url = create_pg_database()
    gw = start_gateway(
        url,
        kv_url="redis://127.0.0.1:6379/0",
        kv_prefix=f"rg-files-{uuid.uuid4().hex[:8]}:",
        blob_url=s3_server.url(s3_server.new_bucket()),
        blob_access_key_id=ACCESS_KEY,
        blob_secret_access_key=SECRET_KEY,
    )
    try:
        yield gw
    finally:
        gw.stop()
        drop_pg_database(url)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.postgres)])
def gw(request: pytest.FixtureRequest, gateway_pool: Any) -> Gateway:
    if request.param == "local":
        found: Gateway = gateway_pool.get("sqlite")
        return found
    s3: Gateway = request.getfixturevalue("s3_gateway")
    return s3


def _user(gw: Gateway) -> tuple[IssuedKey, httpx.Client]:
    key = gw.make_user_key()
    return key, gw.http(key.key)


def _free_user(gw: Gateway) -> httpx.Client:
    """A user who never topped up: the free tier's limits."""
    user_id = int(gw.create_user()["id"])
    return gw.http(gw.make_user_key(user_id=user_id).key)


def upload(
    http: httpx.Client,
    data: bytes,
    name: str = "notes.txt",
    mime: str = "text/plain",
    **fields: Any,
) -> httpx.Response:
    return http.post(UPLOAD, files={"file": (name, data, mime)}, data=fields)


def uploaded(http: httpx.Client, data: bytes, **kwargs: Any) -> dict[str, Any]:
    response = upload(http, data, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == 200 and body["message"] == "File Upload Success"
    return body["data"]  # type: ignore[no-any-return]


def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


# ------------------------------------------------------------------ upload and download


def test_upload_then_download(gw: Gateway) -> None:
    _, http = _user(gw)
    payload = os.urandom(300_000)
    file = uploaded(
        http,
        payload,
        name="photo.png",
        mime="image/png",
        purpose="2",
        is_public="false",
        tags=["holiday", "2026"],
    )
    uid = file["fileUniqueID"]
    assert len(uid) == 21 and uid == file["fileUniqueId"]
    assert file["size"] == len(payload)
    assert file["sha256"] == hashlib.sha256(payload).hexdigest()
    assert (file["purpose"], file["is_public"], file["tags"]) == (2, False, ["holiday", "2026"])
    assert file["mime_type"] == "image/png" and file["filename"] == "photo.png"
    got = http.get(f"/api/v1/user/files/download/{uid}")
    assert got.status_code == 200
    assert got.content == payload
    assert got.headers["content-type"] == "image/png"
    assert got.headers["etag"] == f'"{file["sha256"]}"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert got.headers["content-disposition"].startswith('inline; filename="photo.png"')
    assert got.headers["accept-ranges"] == "bytes"
    # a private file has no public route
    assert httpx.get(f"{gw.url}/api/v1/files/public/{uid}").status_code == 404


def test_public_file_routes_need_no_key(gw: Gateway) -> None:
    _, http = _user(gw)
    file = uploaded(http, b"for everyone", is_public="true", purpose="0")
    uid = file["fileUniqueID"]
    anonymous = httpx.Client(base_url=gw.url, timeout=30)
    got = anonymous.get(f"/api/v1/files/public/{uid}")
    assert got.status_code == 200 and got.content == b"for everyone"
    assert got.headers["cache-control"].startswith("public")
    meta = _data(anonymous.get(f"/api/v1/files/public/{uid}/metadata"))
    assert meta["fileUniqueId"] == uid and meta["is_public"] is True
    assert anonymous.post("/api/v1/user/files/query", json={}).status_code == 401


def test_ranges_and_conditional_requests(gw: Gateway) -> None:
    _, http = _user(gw)
    payload = bytes(range(256)) * 40  # 10240 bytes
    file = uploaded(http, payload, name="data.bin", mime="application/octet-stream")
    path = f"/api/v1/user/files/download/{file['fileUniqueID']}"
    part = http.get(path, headers={"range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == payload[100:200]
    assert part.headers["content-range"] == "bytes 100-199/10240"
    assert part.headers["content-length"] == "100"
    tail = http.get(path, headers={"range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == payload[-16:]
    rest = http.get(path, headers={"range": "bytes=10000-"})
    assert rest.status_code == 206 and rest.content == payload[10000:]
    beyond = http.get(path, headers={"range": "bytes=10000-99999"})
    assert beyond.status_code == 206 and beyond.content == payload[10000:]
    refused = http.get(path, headers={"range": "bytes=10240-"})
    assert refused.status_code == 416
    assert refused.headers["content-range"] == "bytes */10240"
    assert refused.json()["statusCode"] == 416
    several = http.get(path, headers={"range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == payload
    tag = several.headers["etag"]
    assert http.get(path, headers={"if-none-match": tag}).status_code == 304
    assert http.get(path, headers={"if-none-match": '"other"'}).status_code == 200
    stale = http.get(path, headers={"range": "bytes=0-9", "if-range": '"old"'})
    assert stale.status_code == 200 and stale.content == payload


def test_large_upload_round_trips(gw: Gateway) -> None:
    """Past one S3 part (multipart upload) and many network chunks, sent chunked."""
    _, http = _user(gw)
    block = os.urandom(1024 * 1024)
    count = 20
    boundary = "rg-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="filename"\r\n\r\nbig.bin\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(count):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    response = http.post(
        UPLOAD,
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    file = _data(response)
    assert file["size"] == len(block) * count
    assert file["sha256"] == hashlib.sha256(block * count).hexdigest()
    digest = hashlib.sha256()
    with http.stream("GET", f"/api/v1/user/files/download/{file['fileUniqueID']}") as got:
        assert got.status_code == 200
        for chunk in got.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == file["sha256"]


# ------------------------------------------------------------------ metadata routes


def test_update_accepts_both_spellings(gw: Gateway) -> None:
    _, http = _user(gw)
    uid = uploaded(http, b"x", name="a.txt")["fileUniqueID"]
    for spelling in ("fileUniqueId", "fileUniqueID"):
        body = {spelling: uid, "filename": f"renamed-{spelling}.txt", "tags": ["t"]}
        done = _data(http.post("/api/v1/user/files/update", json=body))
        assert done == {"affectedRows": 1}
    meta = _data(http.post("/api/v1/user/files/metadata", json={"fileUniqueIds": [uid]}))
    assert meta[0]["filename"] == "renamed-fileUniqueID.txt" and meta[0]["tags"] == ["t"]
    expiry = _later(days=2)
    _data(
        http.post(
            "/api/v1/user/files/update",
            json={"fileUniqueId": uid, "expires_at": expiry, "is_public": True, "purpose": 3},
        )
    )
    meta = _data(http.post("/api/v1/user/files/metadata", json={"fileUinqueIds": [uid]}))[0]
    assert meta["expires_at"] is not None and meta["is_public"] and meta["purpose"] == 3
    _data(
        http.post("/api/v1/user/files/update", json={"fileUniqueId": uid, "unset_expires_at": True})
    )
    meta = _data(http.post("/api/v1/user/files/metadata", json={"fileUniqueIds": [uid]}))[0]
    assert meta["expires_at"] is None
    past = http.post(
        "/api/v1/user/files/update", json={"fileUniqueId": uid, "expires_at": _later(days=-1)}
    )
    assert past.status_code == 400 and past.json()["errorType"] == "invalid_request_error"
    bad = http.post("/api/v1/user/files/update", json={"fileUniqueId": uid, "purpose": 9})
    assert bad.status_code == 400


def test_query_filters_and_pages(gw: Gateway) -> None:
    _, http = _user(gw)
    a = uploaded(
        http, b"a", name="Report-2026.pdf", mime="application/pdf", purpose="1", tags=["work", "q1"]
    )
    b = uploaded(
        http, b"b", name="cat.png", mime="image/png", purpose="2", tags=["home"], is_public="true"
    )
    c = uploaded(http, b"c", name="report-draft.txt", purpose="1", tags=["work"])

    def ids(**body: Any) -> list[str]:
        data = _data(http.post("/api/v1/user/files/query", json=body))
        return [f["fileUniqueId"] for f in data["list"]]

    everything = _data(http.post("/api/v1/user/files/query", json={}))
    assert everything["total"] == 3 and everything["page"] == 1
    assert [f["fileUniqueId"] for f in everything["list"]] == [
        c["fileUniqueID"],
        b["fileUniqueID"],
        a["fileUniqueID"],
    ]
    assert ids(purpose=1) == [c["fileUniqueID"], a["fileUniqueID"]]
    assert ids(tags=["work"]) == [c["fileUniqueID"], a["fileUniqueID"]]
    assert ids(tags=["work", "q1"]) == [a["fileUniqueID"]]
    assert ids(is_public=True) == [b["fileUniqueID"]]
    assert ids(filename="REPORT") == [c["fileUniqueID"], a["fileUniqueID"]]
    assert ids(filename="%") == []  # a LIKE wildcard is a character here
    assert ids(created_after=_later(days=1)) == []
    assert len(ids(created_before=_later(days=1))) == 3
    second = _data(http.post("/api/v1/user/files/query", json={"page": 2, "pageSize": 2}))
    assert second["total"] == 3 and [f["fileUniqueId"] for f in second["list"]] == [
        a["fileUniqueID"]
    ]
    assert http.post("/api/v1/user/files/query", json={"pageSize": 101}).status_code == 400


def test_another_users_file_is_not_found(gw: Gateway) -> None:
    _, owner = _user(gw)
    _, other = _user(gw)
    uid = uploaded(owner, b"mine", name="secret.txt")["fileUniqueID"]
    assert other.get(f"/api/v1/user/files/download/{uid}").status_code == 404
    assert _data(other.post("/api/v1/user/files/metadata", json={"fileUniqueIds": [uid]})) == []
    assert _data(other.post("/api/v1/user/files/query", json={}))["total"] == 0
    changed = other.post("/api/v1/user/files/update", json={"fileUniqueId": uid, "filename": "x"})
    assert changed.status_code == 404
    assert _data(other.post("/api/v1/user/files/delete", json={"fileUniqueId": uid})) == {
        "affectedRows": 0
    }
    assert httpx.get(f"{gw.url}/api/v1/files/public/{uid}/metadata").status_code == 404
    assert owner.get(f"/api/v1/user/files/download/{uid}").content == b"mine"  # untouched


def test_deleted_files_are_gone_from_every_route(gw: Gateway) -> None:
    _, http = _user(gw)
    one = uploaded(http, b"1", is_public="true")["fileUniqueID"]
    two = uploaded(http, b"2")["fileUniqueID"]
    three = uploaded(http, b"3")["fileUniqueID"]
    assert _data(http.post("/api/v1/user/files/delete", json={"fileUniqueId": one})) == {
        "affectedRows": 1
    }
    removed = _data(
        http.post("/api/v1/user/files/delete", json={"fileUniqueIds": [two, three, "nope"]})
    )
    assert removed == {"affectedRows": 2}
    for uid in (one, two, three):
        assert http.get(f"/api/v1/user/files/download/{uid}").status_code == 404
        assert httpx.get(f"{gw.url}/api/v1/files/public/{uid}").status_code == 404
        assert httpx.get(f"{gw.url}/api/v1/files/public/{uid}/metadata").status_code == 404
        update = http.post("/api/v1/user/files/update", json={"fileUniqueId": uid, "filename": "x"})
        assert update.status_code == 404
    assert _data(http.post("/api/v1/user/files/metadata", json={"fileUniqueIds": [one, two]})) == []
    assert _data(http.post("/api/v1/user/files/query", json={}))["total"] == 0
    empty = http.post("/api/v1/user/files/delete", json={})
    assert empty.status_code == 400


# ------------------------------------------------------------------ hostile input


def test_a_path_as_file_name_is_only_a_name(gw: Gateway) -> None:
    _, http = _user(gw)
    for name in (
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "/abs/path",
        'quo"te;\r\nx.txt'.replace("\r\n", " "),
    ):
        file = uploaded(http, b"payload", name="x", filename=name)
        assert file["filename"] == name
        got = http.get(f"/api/v1/user/files/download/{file['fileUniqueID']}")
        assert got.status_code == 200 and got.content == b"payload"
        disposition = got.headers["content-disposition"]
        fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
        assert '"' not in fallback and "\\" not in fallback and ";" not in fallback
    if gw.settings.effective_blob_url.startswith("file://"):
        root = Path(gw.settings.effective_blob_url[len("file://") :])
        assert not (root.parent / "etc").exists()
        names = {p.name for p in root.rglob("*") if p.is_file()}
        assert all(len(n) == 21 for n in names), names


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("page.html", "text/html"),
        ("drawing.svg", "image/svg+xml"),
        ("feed.xml", "application/xml"),
        ("app.js", "text/javascript"),
        ("trick.png", "text/html"),  # an image name with an HTML type: still HTML
    ],
)
def test_active_content_is_an_attachment(gw: Gateway, name: str, mime: str) -> None:
    _, http = _user(gw)
    script = b"<html><script>alert(document.cookie)</script></html>"
    file = uploaded(http, script, name=name, mime=mime, is_public="true")
    for url in (
        f"{gw.url}/api/v1/files/public/{file['fileUniqueID']}",
        f"{gw.url}/api/v1/user/files/download/{file['fileUniqueID']}",
    ):
        got = http.get(url)
        assert got.status_code == 200
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"].startswith("sandbox")
        assert got.headers["content-type"] == mime


def test_a_text_file_is_shown_inline(gw: Gateway) -> None:
    _, http = _user(gw)
    file = uploaded(http, b"plain", name="readme.txt", mime="text/plain")
    got = http.get(f"/api/v1/user/files/download/{file['fileUniqueID']}")
    assert got.headers["content-disposition"].startswith("inline;")
    assert got.headers["content-type"] == "text/plain"


def test_bad_uploads_are_400s(gw: Gateway) -> None:
    _, http = _user(gw)
    assert http.post(UPLOAD, data={"filename": "x"}).status_code == 400  # not multipart
    no_file = http.post(UPLOAD, files={"other": ("a", b"x")}, data={"filename": "x"})
    assert no_file.status_code == 400 and "file" in no_file.json()["message"]
    assert upload(http, b"x", purpose="7").status_code == 400
    assert upload(http, b"x", purpose="two").status_code == 400
    assert upload(http, b"x", is_public="maybe").status_code == 400
    assert upload(http, b"x", expires_at="yesterday").status_code == 400
    assert upload(http, b"x", expires_at=_later(days=-1)).status_code == 400
    assert upload(http, b"x", tags=["t"] * 3 + [f"t{i}" for i in range(25)]).status_code == 400
    truncated = http.post(
        UPLOAD,
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert truncated.status_code == 400
    assert _data(http.post("/api/v1/user/files/query", json={}))["total"] == 0


# ------------------------------------------------------------------ limits


def _blob_files(gw: Gateway) -> list[Path]:
    root = Path(gw.settings.effective_blob_url[len("file://") :])
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def small(gateway_factory: Callable[..., Gateway]) -> Gateway:
    """Free users: 64 KiB per file, 100 KiB in all; VIP users: 1 MiB and 2 MiB."""
    return gateway_factory(
        files_max_bytes=64 * 1024,
        files_quota_bytes=100 * 1024,
        files_max_bytes_by_tier={"vip": 1024 * 1024},
        files_quota_bytes_by_tier={"vip": 2 * 1024 * 1024},
    )


def test_a_file_over_the_tier_limit_is_a_413(small: Gateway) -> None:
    http = _free_user(small)
    refused = upload(http, b"x" * (64 * 1024 + 1))
    assert refused.status_code == 413
    body = refused.json()
    assert body["statusCode"] == 413 and body["data"] is None and "free" in body["message"]
    assert _blob_files(small) == []
    # streamed without a length: refused as the bytes pass the limit, nothing kept
    boundary = "lim"

    def chunked() -> Iterator[bytes]:
        yield f"--{boundary}\r\n".encode()
        yield b'Content-Disposition: form-data; name="file"; filename="b"\r\n\r\n'
        for _ in range(40):
            yield b"y" * 4096
        yield f"\r\n--{boundary}--\r\n".encode()

    streamed = http.post(
        UPLOAD,
        content=chunked(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert streamed.status_code == 413
    assert _blob_files(small) == []
    assert upload(http, b"x" * (64 * 1024)).status_code == 200  # exactly the limit fits


def test_a_large_declared_body_is_refused_before_it_is_read(small: Gateway) -> None:
    """A Content-Length far past the limit: answered at once, the body never read (the
    client here sends only the headers and waits)."""
    key = small.make_user_key(user_id=int(small.create_user()["id"]))
    host, port = small.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(
            (
                f"POST {UPLOAD} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {key.key}\r\n"
                "Content-Type: multipart/form-data; boundary=z\r\n"
                f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        answer = conn.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert '"statusCode":413' in answer


def test_quota_exhaustion_is_a_403(small: Gateway) -> None:
    http = _free_user(small)
    for _ in range(3):
        assert upload(http, b"q" * (30 * 1024)).status_code == 200
    refused = upload(http, b"q" * (30 * 1024))
    assert refused.status_code == 403
    assert refused.json()["errorType"] == "permission_error"
    assert "quota" in refused.json()["message"].lower()
    assert len(_blob_files(small)) == 3
    first = _data(http.post("/api/v1/user/files/query", json={}))["list"][0]["fileUniqueId"]
    _data(http.post("/api/v1/user/files/delete", json={"fileUniqueId": first}))
    assert upload(http, b"q" * (30 * 1024)).status_code == 200  # room again


def test_a_vip_user_has_the_vip_limits(small: Gateway) -> None:
    key = small.make_user_key()  # topped up 100: VIP
    http = small.http(key.key)
    assert upload(http, b"v" * (512 * 1024)).status_code == 200
    assert upload(http, b"v" * (1024 * 1024 + 1)).status_code == 413


# ------------------------------------------------------------------ expiry and sessions


def test_expired_files_vanish_and_are_swept(gateway_factory: Callable[..., Gateway]) -> None:
    gw = gateway_factory(files_sweep_interval=0.2)
    _, http = _user(gw)
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    short = uploaded(http, b"short-lived", expires_at=soon, is_public="true")["fileUniqueID"]
    kept = uploaded(http, b"kept")["fileUniqueID"]
    assert len(_blob_files(gw)) == 2
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while _blob_files(gw) and len(_blob_files(gw)) > 1 and datetime.now(UTC) < deadline:
        httpx.get(gw.url + "/openapi.json")  # something to do while the sweep runs
    assert [p.name for p in _blob_files(gw)] == [kept]
    assert http.get(f"/api/v1/user/files/download/{short}").status_code == 404
    assert httpx.get(f"{gw.url}/api/v1/files/public/{short}").status_code == 404
    assert _data(http.post("/api/v1/user/files/query", json={}))["total"] == 1


def test_the_console_session_can_use_the_files_routes(sqlite_gateway: Gateway) -> None:
    with signed_in(sqlite_gateway) as browser:
        no_token = browser.post(UPLOAD, files={"file": ("s.txt", b"session")})
        assert no_token.status_code == 403
        token = csrf_token(browser)
        done = browser.post(
            UPLOAD, files={"file": ("s.txt", b"session")}, headers={"X-CSRF-Token": token}
        )
        uid = _data(done)["fileUniqueID"]
        got = browser.get(f"/api/v1/user/files/download/{uid}")
        assert got.status_code == 200 and got.content == b"session"
