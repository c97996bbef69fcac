"""``relaygate serve | migrate | create-admin``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from relaygate.core.drain import Drain
from relaygate.ops.logs import configure as configure_logging
from relaygate.settings import Settings, load_settings

__all__ = ["main"]

# seconds past the shutdown grace for the streams ended at its deadline to send their
# ending and commit their bills, before the server cancels whatever still runs
SETTLE_SECONDS = 5


class _Server(uvicorn.Server):
    """uvicorn's server, telling the gateway the moment a signal asks it to stop: its
    readiness turns 503 and the grace's deadline is set (core/drain.py)."""

    def __init__(self, config: uvicorn.Config, drain: Drain, grace: int) -> None:
        super().__init__(config)
        self.drain = drain
        self.grace = grace

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.drain.begin(self.grace)
        super().handle_exit(sig, frame)


def _settings(args: argparse.Namespace) -> Settings:
    database_url = getattr(args, "database_url", None)
    if database_url == "-":  # on standard input, kept off the command line (db/migrate.py)
        database_url = sys.stdin.readline().strip()
    return load_settings(
        args.config,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        database_url=database_url,
    )


def _serve(args: argparse.Namespace) -> None:
    from relaygate.app import create_app
    from relaygate.web.static import AssetsMissing

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format, settings.call_log)
    try:
        app = create_app(settings)
    except AssetsMissing as err:
        raise SystemExit(f"relaygate: {err}") from None
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=settings.access_log,
        log_config=None,  # ops/logs.py formats uvicorn's lines too (text or JSON)
        log_level=settings.log_level,
        # SIGTERM: stop accepting, let calls in flight finish for the grace, end the
        # streams still open at its deadline, then cancel what is left (docs/deploy.md)
        timeout_graceful_shutdown=settings.shutdown_grace_seconds + SETTLE_SECONDS,
        proxy_headers=False,  # the app reads them, from trusted proxies only (web/proxies.py)
    )
    server = _Server(config, app.drain, settings.shutdown_grace_seconds)
    server.run()
    if not server.started:  # as uvicorn.run: a failed start exits with status 3
        sys.exit(3)


def _migrate(args: argparse.Namespace) -> None:
    from relaygate.db.migrate import upgrade

    upgrade(_settings(args).database_url)
    print("database is up to date")


def _create_admin(args: argparse.Namespace) -> None:
    """Print a new management key for the operator (for a lost key)."""
    from relaygate.accounts.service import AccountService
    from relaygate.db.engine import Database
    from relaygate.db.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.database_url)

    async def run() -> str:
        db = Database(settings.database_url)
        accounts = AccountService(db, settings.key_cache_ttl)
        boot = await accounts.bootstrap(settings.operator_email, None)
        if boot.admin_key is not None:
            key = boot.admin_key
        else:
            key = (
                await accounts.issue_key(boot.operator.id, remark="operator key", is_admin=True)
            ).key
        await db.dispose()
        return key

    print(asyncio.run(run()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="relaygate", description="Relaygate AI API gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the gateway")
    serve.add_argument("--config", type=Path, help="TOML file with [settings] and [[channels]]")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)
    for name, run, text in (
        ("migrate", _migrate, "apply database migrations"),
        ("create-admin", _create_admin, "issue a new operator key"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", type=Path)
        sub.add_argument(
            "--database-url", help="overrides RELAYGATE_DATABASE_URL ('-': read it from stdin)"
        )
        sub.set_defaults(run=run)
    args = parser.parse_args(argv)
    args.run(args)
