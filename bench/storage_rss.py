"""Memory of a 1 GB upload and download: the files API streams, it never holds a file.

Starts ``relaygate serve`` (SQLite, a local blob directory) in a subprocess, uploads one
file of ``--size-mb`` megabytes generated on the fly (never in this process's memory
either) to 127.0.0.1, then downloads it, while a thread samples the gateway's RSS every
20 ms. Prints the idle RSS (after a warm-up upload), the peak during the upload and during
the download, and the throughput of each. The SHA-256 the gateway records is checked
against the one computed while sending, and again over the downloaded bytes.
Results: docs/benchmarks.md#file-storage-memory.

    python -m bench.storage_rss [--size-mb 1024] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Children, free_port, rss_mb, signals_as_interrupt, wait_port

VENV_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"
ADMIN_KEY = "sk-" + ("StorageRssBenchAdminKey0123456789" * 2)[:48]
BLOCK = 1024 * 1024
BOUNDARY = "relaygate-bench-boundary"


class Sampler:
    """The peak RSS of a process tree between :meth:`reset` calls, sampled in a thread."""

    def __init__(self, pid: int, period: float = 0.02) -> None:
        self.pid = pid
        self.period = period
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(self.period)

    def start(self) -> None:
        self._thread.start()

    def reset(self) -> None:
        self.peak = rss_mb(self.pid)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Sent:
    digest: str = ""


def _body(size_mb: int, sent: Sent) -> Iterator[bytes]:
    """The multipart body: headers, then ``size_mb`` blocks of pseudo-random bytes (one
    random block, each copy varied by its index, so nothing compresses or deduplicates)."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="filename"\r\n\r\nbench.bin\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    seed = os.urandom(BLOCK)
    digest = hashlib.sha256()
    for index in range(size_mb):
        block = index.to_bytes(8, "big") + seed[8:]
        digest.update(block)
        yield block
    sent.digest = digest.hexdigest()
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _body_length(size_mb: int) -> int:
    return sum(len(part) for part in _body(0, Sent())) + size_mb * BLOCK


def _serve(work: Path, port: int, children: Children) -> int:
    env = dict(
        os.environ,
        RELAYGATE_DATABASE_URL=f"sqlite:///{work}/bench.db",
        RELAYGATE_BOOTSTRAP_ADMIN_KEY=ADMIN_KEY,
        RELAYGATE_BLOB_URL=f"file://{work}/files",
        RELAYGATE_FILES_MAX_BYTES=str(64 * 1024**3),
        RELAYGATE_FILES_QUOTA_BYTES=str(256 * 1024**3),
        RELAYGATE_FILES_MAX_BYTES_BY_TIER="{}",
        RELAYGATE_FILES_QUOTA_BYTES_BY_TIER="{}",
    )
    argv = [str(VENV_BIN / "relaygate"), "serve", "--port", str(port)]
    proc = children.start(argv, work / "gateway.log", env=env, cwd=work)
    wait_port(port, 60, proc)
    return proc.pid


def _upload(client: httpx.Client, size_mb: int) -> tuple[dict[str, object], str, float]:
    sent = Sent()
    started = time.perf_counter()
    response = client.post(
        "/api/v1/user/files/upload",
        content=_body(size_mb, sent),
        headers={
            "content-type": f"multipart/form-data; boundary={BOUNDARY}",
            "content-length": str(_body_length(size_mb)),
        },
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    data: dict[str, object] = response.json()["data"]
    return data, sent.digest, elapsed


def _download(client: httpx.Client, uid: str) -> tuple[str, int, float]:
    digest = hashlib.sha256()
    size = 0
    started = time.perf_counter()
    with client.stream("GET", f"/api/v1/user/files/download/{uid}") as response:
        response.raise_for_status()
        for chunk in response.iter_raw(BLOCK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size, time.perf_counter() - started


def run(size_mb: int, work: Path) -> None:
    children = Children()
    try:
        port = free_port()
        pid = _serve(work, port, children)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600
        ) as client:
            _upload(client, 1)  # warm-up: every code path of an upload loaded
            time.sleep(1.0)
            idle = rss_mb(pid)
            sampler = Sampler(pid)
            sampler.start()
            sampler.reset()
            file, sent_digest, up_s = _upload(client, size_mb)
            up_peak = sampler.peak
            assert file["sha256"] == sent_digest, "the recorded SHA-256 differs"
            sampler.reset()
            got_digest, got_size, down_s = _download(client, str(file["fileUniqueID"]))
            down_peak = sampler.peak
            sampler.stop()
        assert got_size == size_mb * BLOCK and got_digest == sent_digest, "download differs"
        mb = size_mb * BLOCK / 1e6
        print(f"file: {size_mb} MiB ({size_mb * BLOCK} bytes), SHA-256 checked both ways")
        print(f"gateway RSS idle (after a warm-up upload): {idle:7.1f} MiB")
        print(
            f"upload:   peak RSS {up_peak:7.1f} MiB (+{up_peak - idle:5.1f}), "
            f"{up_s:6.1f} s, {mb / up_s:6.1f} MB/s"
        )
        print(
            f"download: peak RSS {down_peak:7.1f} MiB (+{down_peak - idle:5.1f}), "
            f"{down_s:6.1f} s, {mb / down_s:6.1f} MB/s"
        )
    finally:
        children.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    with signals_as_interrupt():
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            run(args.size_mb, args.keep)
        else:
            with tempfile.TemporaryDirectory(prefix="rg-storage-rss-") as work:
                run(args.size_mb, Path(work))


if __name__ == "__main__":
    main()
