"""The migration child process gets the database URL on its standard input, and a
failure's text never shows the URL's password."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from relaygate.db.migrate import upgrade_in_subprocess


async def test_the_child_migrates_the_database_it_reads_on_stdin(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    await upgrade_in_subprocess(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version >= "0013"


async def test_a_failure_hides_the_password() -> None:
    url = "postgresql://postgres:hunter2secret@127.0.0.1:1/nowhere"  # nothing listens on 1
    with pytest.raises(RuntimeError) as failed:
        await upgrade_in_subprocess(url)
    assert "hunter2secret" not in str(failed.value)
    assert "database migration failed" in str(failed.value)


def _migrate_commands() -> dict[int, str]:
    """This process's ``relaygate migrate`` children: pid -> command line."""
    commands = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # the process ended meanwhile
            continue
        if "relaygate migrate" in text and parent == os.getpid():
            commands[int(cmdline.parent.name)] = text
    return commands


async def test_the_password_is_not_on_the_childs_command_line() -> None:
    """While the child waits for a database that never answers, its command line (what
    ``ps`` shows every user of the machine) carries no part of the URL."""
    import asyncio

    accepted = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # never answers; ends when the child gives up or is killed
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"postgresql://postgres:hunter2secret@127.0.0.1:{port}/db"
    migration = asyncio.create_task(upgrade_in_subprocess(url))
    try:
        await asyncio.wait_for(accepted.wait(), 30)
        commands = _migrate_commands()
        assert commands, "the migration child was not found"
        assert all("hunter2secret" not in c and str(port) not in c for c in commands.values())
    finally:
        for pid in _migrate_commands():  # the child fails, and the task with it
            os.kill(pid, signal.SIGKILL)
        server.close()
        with pytest.raises(RuntimeError):
            await migration
