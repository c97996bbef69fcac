"""Install the pinned Claude Code and run ``claude -p`` against a test server.

Why pinned and repo-local: Claude Code's traffic (betas, body fields, retry policy) changes
from release to release, and on Node 20 an unpinned ``npm install`` silently resolves to an
older release. The gateway's tests must drive exactly the client that
``client-requirements.md`` describes, on a fresh clone, with nothing installed by hand. So
the first test that needs it installs ``@anthropic-ai/claude-code@2.1.330`` into
``.cache/clients/claude-code-2.1.330/`` (``$RELAYGATE_CLIENTS_CACHE`` moves the cache, e.g.
onto a CI cache volume), and every later run reuses it. An install that cannot happen
raises :class:`ClientInstallError`: the tests fail, they never skip.

Why a scrubbed environment and a private ``HOME``: a developer's own ``ANTHROPIC_*``
variables, ``~/.claude`` settings, hooks or proxy variables would change what the client
sends, and a test must not write into the developer's home. Each run gets an empty ``HOME``
(and ``TMPDIR``, where Claude Code puts its sockets) that is deleted afterwards, and only the
variables set here.

Permissions (2.1.330, ``-p``): ``Read`` inside the working directory needs no grant; a read
outside it, ``Bash``, ``Write`` and ``Edit`` do (``--allowedTools``, or
``--permission-mode acceptEdits`` for edits). ``--dangerously-skip-permissions`` and
``--permission-mode bypassPermissions`` refuse to start as root (unless ``IS_SANDBOX=1``), so
the helper grants tools by name instead. A tool call that is *not* granted does not fail
the run: the client sends an ``is_error`` ``tool_result`` saying permission was not granted
and exits 0, so assert on the ``tool_result`` the server received.

Usage::

    run = run_claude(base_url, key, "say hi", cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hi\\n"
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CLAUDE_CODE_VERSION",
    "QUIET_ENV",
    "ClaudeRun",
    "ClaudeTimeoutError",
    "ClientInstallError",
    "base_env",
    "claude_env",
    "install_pinned",
    "install_claude_code",
    "run_claude",
]

CLAUDE_CODE_VERSION = "2.1.330"
PACKAGE = "@anthropic-ai/claude-code"
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "RELAYGATE_CLIENTS_CACHE"
DEFAULT_CACHE = REPO_ROOT / ".cache" / "clients"
INSTALL_TIMEOUT = 900.0
"""Seconds for the whole npm install (about 10 s with a warm npm cache, a 200 MB download
otherwise), and for waiting on another process's install."""

QUIET_ENV: Mapping[str, str] = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # else HEAD /api/hello first
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
}
"""The variables that keep Claude Code off the network except for the model calls."""

Auth = Literal["bearer", "x-api-key"]
OutputFormat = Literal["text", "json", "stream-json"]


class ClientInstallError(RuntimeError):
    """The pinned client could not be installed or does not run; the test must fail."""


@dataclass(frozen=True)
class ClaudeRun:
    """What one ``claude -p`` run printed, and how long it took (seconds)."""

    returncode: int
    stdout: str
    stderr: str
    elapsed: float = 0.0

    def json(self) -> Any:
        """The result object of ``output_format="json"``."""
        return json.loads(self.stdout)

    def events(self) -> list[Any]:
        """The event objects of ``output_format="stream-json"``, one per line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


class ClaudeTimeoutError(TimeoutError):
    """``claude -p`` outlived its timeout; its process group was killed.

    Claude Code retries 401 and 5xx answers for minutes instead of failing, so a hang is a
    result worth asserting on: ``partial`` holds what it printed before it was killed.
    """

    def __init__(self, timeout: float, partial: ClaudeRun, pid: int) -> None:
        super().__init__(
            f"claude -p did not finish within {timeout:g} s (killed); "
            f"stderr so far: {partial.stderr[-2000:]!r}"
        )
        self.partial = partial
        self.pid = pid  # also the id of the process group that was killed


# ------------------------------------------------------------------------------ install


def cache_root() -> Path:
    """Where pinned clients live: ``$RELAYGATE_CLIENTS_CACHE`` or ``<repo>/.cache/clients``."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).resolve() if override else DEFAULT_CACHE


def install_claude_code(
    version: str = CLAUDE_CODE_VERSION,
    *,
    root: Path | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> Path:
    """Return the ``claude`` executable of ``version``, installing it first if needed.

    Cheap when installed (a ``package.json`` read and a ``claude --version``), so callers
    need not cache the answer. Installs under an exclusive file lock into a staging
    directory that is renamed into place, so two pytest processes never install twice and
    a killed install never leaves a directory that looks complete.
    """
    return install_pinned(
        PACKAGE, version, f"claude-code-{version}", _install_problem, _executable,
        root=root, timeout=timeout,
    )  # fmt: skip


def install_pinned(
    package: str,
    version: str,
    name: str,
    problem_of: Callable[[Path, str], str | None],
    executable: Callable[[Path], Path],
    *,
    root: Path | None,
    timeout: float,
) -> Path:
    """Install npm ``package@version`` once into ``<cache>/<name>`` and return its program.

    ``problem_of(prefix, version)`` says why an install is unusable (None: it is fine).
    Installs under an exclusive file lock into a staging directory that is renamed into
    place, so two pytest processes never install twice and a killed install never leaves
    a directory that looks complete. Shared by every pinned client (Claude Code, Codex).
    """
    root = root or cache_root()
    prefix = root / name
    if problem_of(prefix, version) is None:
        return executable(prefix)
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(root / f"{name}.lock", timeout):
        if problem_of(prefix, version) is not None:  # another process may have finished
            _install(root, prefix, package, version, timeout, problem_of)
    problem = problem_of(prefix, version)
    if problem:
        raise ClientInstallError(f"{package}@{version} in {prefix}: {problem}")
    return executable(prefix)


def _executable(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "claude"


def _install_problem(prefix: Path, version: str) -> str | None:
    """Why ``prefix`` does not hold a working ``version``, or None when it does.

    The ``package.json`` version says which release npm put there; ``claude --version``
    proves the postinstall replaced the placeholder with the native binary (it does not
    under ``--ignore-scripts`` or ``--omit=optional``).
    """
    manifest = prefix / "node_modules" / PACKAGE / "package.json"
    try:
        found = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return "not installed"
    if found != version:
        return f"version {found} installed"
    with tempfile.TemporaryDirectory(prefix="claude-home-") as home:
        try:
            out = subprocess.run(
                [str(_executable(prefix)), "--version"],
                env=base_env(Path(home)),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"claude --version failed: {exc}"
    if out.returncode != 0 or not out.stdout.startswith(f"{version} "):
        return f"claude --version printed {out.stdout!r} {out.stderr[-1000:]!r}"
    return None


@contextlib.contextmanager
def _exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an ``flock`` on ``path``; the kernel drops it if the holder dies."""
    deadline = time.monotonic() + timeout
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ClientInstallError(
                        f"waited {timeout:g} s for another install to release {path}"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _install(
    root: Path,
    prefix: Path,
    package: str,
    version: str,
    timeout: float,
    problem_of: Callable[[Path, str], str | None],
) -> None:
    """``npm install`` the pinned package into a staging directory, then move it into place.

    The flags make the result independent of the user's npm configuration: scripts on (the
    postinstall copies the native binary into place), optional dependencies on (the native
    binary is one), and no engine check (the package asks for Node 22, but what runs is the
    native binary, which needs no Node at all).
    """
    npm = shutil.which("npm")
    if npm is None:
        raise ClientInstallError(
            f"npm is not on PATH; the tests need Node.js >= 20 with npm to install {package}"
        )
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{prefix.name}-", dir=root))
    try:
        cmd = [
            npm,
            "install",
            "--prefix",
            str(staging),
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--ignore-scripts=false",
            "--include=optional",
            "--engine-strict=false",
            "--loglevel=error",
            f"{package}@{version}",
        ]
        try:
            code, out, err, _ = _run_bounded(
                cmd, cwd=staging, env=dict(os.environ), timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise ClientInstallError(f"{' '.join(cmd)} took over {timeout:g} s") from None
        if code != 0:
            raise ClientInstallError(
                f"{' '.join(cmd)} exited {code}:\n{out[-3000:]}\n{err[-3000:]}"
            )
        problem = problem_of(staging, version)
        if problem:
            raise ClientInstallError(f"after npm install: {problem}\n{err[-3000:]}")
        if prefix.exists():  # a broken or different install: we hold the lock, replace it
            shutil.rmtree(prefix)
        staging.chmod(0o755)  # mkdtemp made it private
        staging.rename(prefix)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------- run


def base_env(home: Path) -> dict[str, str]:
    """A minimal environment rooted at a private ``home``; nothing from the user leaks in."""
    tmp = home / "tmp"
    tmp.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }


def claude_env(
    base_url: str,
    api_key: str,
    *,
    home: Path,
    auth: Auth = "bearer",
    model: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a run: private home, base URL, key, quiet switches.

    ``auth="bearer"`` sets ``ANTHROPIC_AUTH_TOKEN`` (sent as ``Authorization: Bearer``),
    ``"x-api-key"`` sets ``ANTHROPIC_API_KEY`` (sent as ``x-api-key``); the gateway must take
    both. ``extra_env`` is applied last, so it can override anything here.
    """
    env = base_env(home)
    env["ANTHROPIC_BASE_URL"] = base_url
    env["ANTHROPIC_AUTH_TOKEN" if auth == "bearer" else "ANTHROPIC_API_KEY"] = api_key
    env.update(QUIET_ENV)
    if model is not None:
        env["ANTHROPIC_MODEL"] = model
    env.update(extra_env or {})
    return env


def run_claude(
    base_url: str,
    api_key: str,
    prompt: str,
    *,
    cwd: Path,
    timeout: float = 60.0,
    model: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    auth: Auth = "bearer",
    allowed_tools: Sequence[str] = ("Read",),
    permission_mode: str | None = None,
    output_format: OutputFormat = "text",
    extra_args: Sequence[str] = (),
    executable: Path | None = None,
) -> ClaudeRun:
    """Run ``claude -p prompt`` in ``cwd`` against ``base_url`` and return what it printed.

    ``base_url`` is what a user puts in ``ANTHROPIC_BASE_URL`` (the client appends
    ``/v1/messages?beta=true``). ``allowed_tools`` is passed as ``--allowedTools`` (``Read``
    by default, so reads outside ``cwd`` work too); grant ``Bash``/``Write``/``Edit`` for
    tool loops that run or change things. ``output_format="json"`` gives one result object
    (``run.json()["result"]``, ``num_turns``, ``usage``) for exact assertions;
    ``"stream-json"`` adds ``--verbose``, which the client requires for it.

    Raises :class:`ClaudeTimeoutError` after ``timeout`` seconds, having killed the whole
    process group (the client and any tool processes it started).
    """
    exe = executable or install_claude_code()
    args = [str(exe), "-p", "--output-format", output_format]
    if output_format == "stream-json":
        args.append("--verbose")
    if allowed_tools:
        args += ["--allowedTools", ",".join(allowed_tools)]
    if permission_mode is not None:
        args += ["--permission-mode", permission_mode]
    args += [*extra_args, "--", prompt]  # "--": a prompt may start with "-"
    with tempfile.TemporaryDirectory(prefix="claude-home-") as home:
        env = claude_env(
            base_url, api_key, home=Path(home), auth=auth, model=model, extra_env=extra_env
        )
        try:
            code, out, err, elapsed = _run_bounded(args, cwd=cwd, env=env, timeout=timeout)
        except _Killed as killed:
            raise ClaudeTimeoutError(timeout, killed.partial, killed.pid) from None
    return ClaudeRun(code, out, err, elapsed)


class _Killed(subprocess.TimeoutExpired):
    def __init__(self, cmd: Sequence[str], timeout: float, partial: ClaudeRun, pid: int) -> None:
        super().__init__(list(cmd), timeout)
        self.partial = partial
        self.pid = pid


def _run_bounded(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[int, str, str, float]:
    """Run ``cmd`` in its own session; on timeout kill the group and raise ``_Killed``.

    A new session makes the child a process-group leader, so the tool processes Claude Code
    (or npm) starts die with it instead of outliving the test.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = _drain(proc)
        partial = ClaudeRun(proc.returncode, out, err, time.monotonic() - start)
        raise _Killed(cmd, timeout, partial, proc.pid) from None
    finally:
        # Stragglers: a process the client left running in its group. The group id is
        # still ours; the leader was reaped a moment ago, so the id cannot have been reused.
        _kill_group(proc.pid)
    return proc.returncode, out, err, time.monotonic() - start


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _drain(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Collect what a killed process printed; give up if something else holds its pipes."""
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return "", ""
    return out or "", err or ""
