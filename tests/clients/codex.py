"""Install the pinned Codex CLI and run ``codex exec`` against a test server.

Why pinned and repo-local: Codex's traffic (headers, body fields, tools, retry policy)
changes from release to release, and on Node 20 an unpinned ``npm install`` can resolve
to an older release. The gateway's tests must drive exactly the client that
``client-requirements.md`` §5.2 describes, on a fresh clone, with nothing installed by hand.
So the first test that needs it installs ``@openai/codex@0.169.0`` into
``.cache/clients/codex-0.169.0/`` (``$RELAYGATE_CLIENTS_CACHE`` moves the cache), and every
later run reuses it. An install that cannot happen raises :class:`ClientInstallError`: the
tests fail, they never skip.

The npm package is a 3 kB Node launcher (``bin/codex.js``) with no install script. The
program itself is a native (musl, static) binary in a platform package that the launcher
lists as an *optional* dependency under an npm alias (``@openai/codex-linux-x64`` =
``npm:@openai/codex@0.169.0-linux-x64``, 167 MB packed, 420 MB installed).
``--omit=optional`` (or an ``optional=false`` npmrc) installs the launcher alone, which
then fails at run time with ``Missing optional dependency``; so the install forces
optional dependencies on, checks both packages' versions, and runs ``codex --version``
through the launcher, which proves the binary is there and runs.

Why a private ``CODEX_HOME`` and ``HOME``: Codex reads ``$CODEX_HOME/config.toml`` (default
``~/.codex``), writes its session logs and state there, and a developer's own config,
``OPENAI_*`` variables or login would change what it sends. Each run gets a fresh home
holding only the ``config.toml`` written here (a ``gateway`` provider with
``wire_api = "responses"``, analytics off, no update check), deleted afterwards.

Sandbox (0.169.0, ``codex exec``): the default is ``read-only`` with approvals ``never``;
commands the model asks for (the ``exec_command`` tool) run inside the bundled bubblewrap
sandbox, which reads the working directory fine. ``sandbox`` selects another mode
(``workspace-write``, ``danger-full-access``).

Usage::

    run = run_codex(base_url, key, "say hi", cwd=tmp_path, timeout=60, model="gpt-5-codex")
    assert run.returncode == 0, run.stderr
    assert run.last_message == "hi"
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.clients.claude_code import (
    ClientInstallError,
    _Killed,
    _run_bounded,
    base_env,
    install_pinned,
)

__all__ = [
    "CODEX_VERSION",
    "ClientInstallError",
    "CodexRun",
    "CodexTimeoutError",
    "codex_config",
    "install_codex",
    "run_codex",
]

CODEX_VERSION = "0.169.0"
PACKAGE = "@openai/codex"
INSTALL_TIMEOUT = 900.0
"""Seconds for the whole npm install (about 4 s with a warm npm cache, a 167 MB
download otherwise), and for waiting on another process's install."""

KEY_ENV = "RELAYGATE_CODEX_KEY"
"""The variable the ``gateway`` provider's ``env_key`` names: Codex sends its value as
``Authorization: Bearer``."""

Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]

_PLATFORM_SUFFIX = {
    ("linux", "x86_64"): "linux-x64",
    ("linux", "aarch64"): "linux-arm64",
    ("linux", "arm64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-x64",
    ("darwin", "arm64"): "darwin-arm64",
}


class CodexTimeoutError(TimeoutError):
    """``codex exec`` outlived its timeout; its process group was killed.

    Codex retries 401/404 for seconds and 5xx or a stream cut before ``response.completed``
    up to 30 times, so a hang is a result worth asserting on: ``partial`` holds what it
    printed before it was killed.
    """

    def __init__(self, timeout: float, partial: CodexRun, pid: int) -> None:
        super().__init__(
            f"codex exec did not finish within {timeout:g} s (killed); "
            f"stderr so far: {partial.stderr[-2000:]!r}"
        )
        self.partial = partial
        self.pid = pid  # also the id of the process group that was killed


@dataclass(frozen=True)
class CodexRun:
    """What one ``codex exec`` run printed, its last message, and how long it took."""

    returncode: int
    stdout: str
    stderr: str
    elapsed: float = 0.0
    last_message: str | None = None
    """The content of ``-o FILE``: the agent's final message, no trailing newline added;
    None when Codex did not write the file (it writes it only when a turn finished)."""
    config: str = field(default="", repr=False)
    """The ``config.toml`` the run used, for failure messages."""

    def events(self) -> list[Any]:
        """The JSONL events of a ``json=True`` run (``thread.started``, ``turn.started``,
        ``item.*``, ``turn.completed``), one per stdout line."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


# ------------------------------------------------------------------------------ install


def _platform_suffix() -> str:
    key = (sys.platform, platform.machine().lower())
    try:
        return _PLATFORM_SUFFIX[key]
    except KeyError:
        raise ClientInstallError(f"{PACKAGE} ships no native binary for {key}") from None


def install_codex(
    version: str = CODEX_VERSION,
    *,
    root: Path | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> Path:
    """Return the ``codex`` executable of ``version``, installing it first if needed.

    Cheap when installed (two ``package.json`` reads and a ``codex --version``). Installs
    under an exclusive file lock into a staging directory that is renamed into place, so
    two pytest processes never install twice and a killed install never leaves a
    directory that looks complete.
    """
    return install_pinned(
        PACKAGE, version, f"codex-{version}", _install_problem, _executable,
        root=root, timeout=timeout,
    )  # fmt: skip


def _executable(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "codex"


def _install_problem(prefix: Path, version: str) -> str | None:
    """Why ``prefix`` does not hold a working ``version``, or None when it does.

    The launcher's and the platform package's ``package.json`` say which release npm put
    there; ``codex --version`` (through the launcher, as a user runs it) proves the
    native binary is in place and runs on this machine.
    """
    suffix = _platform_suffix()
    modules = prefix / "node_modules" / "@openai"
    for name, expected in (("codex", version), (f"codex-{suffix}", f"{version}-{suffix}")):
        try:
            manifest = json.loads((modules / name / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return f"@openai/{name} is not installed"
        if manifest.get("version") != expected:
            return f"@openai/{name} {manifest.get('version')} installed, not {expected}"
    with tempfile.TemporaryDirectory(prefix="codex-home-") as home:
        try:
            out = subprocess.run(
                [str(_executable(prefix)), "--version"],
                env=_base_env(Path(home)),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"codex --version failed: {exc}"
    if out.returncode != 0 or out.stdout.strip() != f"codex-cli {version}":
        return f"codex --version printed {out.stdout!r} {out.stderr[-1000:]!r}"
    return None


# ---------------------------------------------------------------------------------- run


def _base_env(home: Path) -> dict[str, str]:
    """The shared private environment, plus Codex's own home and no colours."""
    return {**base_env(home), "CODEX_HOME": str(home / ".codex"), "NO_COLOR": "1"}


def codex_config(
    base_url: str,
    model: str,
    *,
    sandbox: Sandbox = "read-only",
    provider_name: str = "Relaygate",
) -> str:
    """The ``config.toml`` of a run: one ``gateway`` provider speaking the Responses API.

    ``base_url`` ends where a user's OpenAI base URL ends (``.../v1``); Codex appends
    ``/responses``. The key comes from ``$RELAYGATE_CODEX_KEY`` (``env_key``), sent as
    ``Authorization: Bearer``. Everything else keeps the run offline and
    non-interactive: analytics off (else about 5 s of failed uploads per run), no update
    check, approvals ``never`` (``codex exec`` never prompts; a command the sandbox
    refuses goes back to the model as the tool's output). Retries are Codex's own
    defaults (``request_max_retries`` 4, ``stream_max_retries`` 5), as a user has them,
    so a gateway answer that makes Codex retry shows up as extra upstream requests; a
    test can lower them with ``extra_args=["-c", "model_providers.gateway.…=0"]``.
    """
    return "\n".join(
        [
            f"model = {_toml(model)}",
            'model_provider = "gateway"',
            'approval_policy = "never"',
            f"sandbox_mode = {_toml(sandbox)}",
            "check_for_update_on_startup = false",
            "",
            "[analytics]",
            "enabled = false",
            "",
            "[model_providers.gateway]",
            f"name = {_toml(provider_name)}",
            f"base_url = {_toml(base_url)}",
            f"env_key = {_toml(KEY_ENV)}",
            'wire_api = "responses"',
            "",
        ]
    )


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML accepts)."""
    return json.dumps(value)


def run_codex(
    base_url: str,
    api_key: str,
    prompt: str,
    *,
    cwd: Path,
    timeout: float = 60.0,
    model: str = "gpt-5-codex",
    extra_args: Sequence[str] = (),
    json: bool = False,
    sandbox: Sandbox = "read-only",
    extra_env: Mapping[str, str] | None = None,
    executable: Path | None = None,
) -> CodexRun:
    """Run ``codex exec`` in ``cwd`` against ``base_url`` and return what it printed.

    The command is ``codex exec --skip-git-repo-check --strict-config --color never
    [--json] -o FILE [extra_args] -- prompt``: ``--skip-git-repo-check`` because a test's
    directory is no git repository (Codex refuses to start otherwise),
    ``--strict-config`` so a key of :func:`codex_config` that a later release no longer
    knows fails the run instead of being ignored, ``-o`` so the final message is read
    exactly (:attr:`CodexRun.last_message`) rather than picked out of the banner Codex
    prints. ``json=True`` makes stdout one JSON event per line (:meth:`CodexRun.events`).
    ``sandbox`` is the sandbox mode for the commands the model asks for.

    Raises :class:`CodexTimeoutError` after ``timeout`` seconds, having killed the whole
    process group (Codex, its sandbox and any command it started).
    """
    exe = executable or install_codex()
    home = Path(tempfile.mkdtemp(prefix="codex-home-"))
    try:
        env = _base_env(home)
        config = codex_config(base_url, model, sandbox=sandbox)
        codex_home = Path(env["CODEX_HOME"])
        codex_home.mkdir()
        (codex_home / "config.toml").write_text(config, encoding="utf-8")
        env[KEY_ENV] = api_key
        env.update(extra_env or {})
        last = home / "last-message.txt"
        args = [str(exe), "exec", "--skip-git-repo-check", "--strict-config", "--color", "never"]
        if json:
            args.append("--json")
        args += ["-o", str(last), *extra_args, "--", prompt]  # "--": a prompt may start "-"
        try:
            code, out, err, elapsed = _run_bounded(args, cwd=cwd, env=env, timeout=timeout)
        except _Killed as killed:
            partial = CodexRun(
                killed.partial.returncode,
                killed.partial.stdout,
                killed.partial.stderr,
                killed.partial.elapsed,
                config=config,
            )
            raise CodexTimeoutError(timeout, partial, killed.pid) from None
        message = last.read_text(encoding="utf-8") if last.exists() else None
        return CodexRun(code, out, err, elapsed, last_message=message, config=config)
    finally:
        shutil.rmtree(home, ignore_errors=True)
