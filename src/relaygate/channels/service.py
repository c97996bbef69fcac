"""Use cases of the channels capability.

Channels live in the database whatever declared them (the operator API, the TOML file or
the built-in echo channel); ``source`` says which. The relay never queries this table on
the hot path: it holds a snapshot that is rebuilt after every change made here, and on
the other replicas within ``channel_refresh_interval`` (a kv version counter,
``kv/signal.py``).
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError

from relaygate.accounts.audit import changes_detail, stage
from relaygate.channels.models import Channel
from relaygate.channels.options import ChannelOptions, split_keys
from relaygate.channels.repository import ChannelRepository
from relaygate.channels.spec import ChannelSpec, ModelOverride
from relaygate.core.errors import InvalidRequest, NotFound
from relaygate.db.engine import Database
from relaygate.kv.protocols import Counter
from relaygate.kv.signal import ChangeSignal

__all__ = ["ECHO_MODEL", "VERSION_KEY", "ChannelService"]

ECHO_MODEL = "relaygate-echo"
ECHO_CHANNEL = "echo"
VERSION_KEY = "channels:version"

log = logging.getLogger(__name__)


def _spec(row: Channel) -> ChannelSpec:
    options = ChannelOptions.model_validate(row.options or {})
    keys = split_keys(row.api_key or "")
    return ChannelSpec(
        id=row.id,
        name=row.name,
        type=row.type,
        base_url=row.base_url,
        api_key=keys[0] if keys else "",
        models={str(k): str(v) for k, v in (row.models or {}).items()},
        priority=row.priority,
        weight=row.weight,
        enabled=row.enabled,
        headers={str(k): str(v) for k, v in (row.headers or {}).items()},
        created=calendar.timegm(row.created_at.utctimetuple()),
        responses_api=options.responses_api,
        max_output_tokens=options.max_output_tokens,
        keys=keys,
        api_version=options.api_version,
        connect_timeout=options.connect_timeout,
        first_byte_timeout=options.first_byte_timeout,
        idle_timeout=options.idle_timeout,
        proxy_url=options.proxy_url,
        model_overrides=tuple(
            ModelOverride(pattern, **entry.model_dump())
            for pattern, entry in options.model_capabilities.items()
        ),
        cx=options.cx,
        region=options.region,
    )


class ChannelService:
    def __init__(self, db: Database, counters: Counter) -> None:
        self.db = db
        self._listeners: list[Callable[[list[ChannelSpec]], None]] = []
        # one snapshot read-and-apply at a time (ChangeSignal): a periodic refresh that
        # read the table before an operator's change committed must not apply its stale
        # snapshot after the change's own publish
        self.signal = ChangeSignal(counters, VERSION_KEY, self._rebuild)
        self.snapshot: list[ChannelSpec] = []  # the last one published

    def on_change(self, listener: Callable[[list[ChannelSpec]], None]) -> None:
        self._listeners.append(listener)

    async def publish(self) -> list[ChannelSpec]:
        """Rebuild the snapshot and hand it to every listener (the relay's router)."""
        await self.signal.reload()
        return self.snapshot

    async def _rebuild(self) -> None:
        async with self.db.session() as session:
            specs = [_spec(row) for row in await ChannelRepository(session).all()]
        self.snapshot = specs
        for listener in self._listeners:
            listener(specs)

    async def refresh_every(self, interval: float) -> None:
        """Follow the changes made on other replicas: check the kv counter every
        ``interval`` seconds, re-read the table when it moved (and now and then anyway)."""
        await self.signal.watch(interval)

    async def sync_declared(self, declared: Iterable[dict[str, Any]], echo: bool) -> None:
        """Upsert channels from the config file; create the echo channel once if wanted.

        The file is the source of truth for its channels, so they are overwritten on every
        start; the echo channel is only created, so an operator may disable it for good.
        """
        async with self.db.session() as session, session.begin():
            repo = ChannelRepository(session)
            for fields in declared:
                row = await repo.by_name(fields["name"])
                if row is None:
                    repo.add(Channel(**fields, source="config"))
                else:
                    for name, value in fields.items():
                        setattr(row, name, value)
            if echo and await repo.by_name(ECHO_CHANNEL) is None:
                repo.add(
                    Channel(
                        name=ECHO_CHANNEL,
                        type="echo",
                        models={ECHO_MODEL: ECHO_MODEL},
                        source="builtin",
                    )
                )

    async def all(self) -> list[Channel]:
        async with self.db.session() as session:
            return await ChannelRepository(session).all()

    async def get(self, channel_id: int) -> Channel:
        async with self.db.session() as session:
            row = await ChannelRepository(session).get(channel_id)
        if row is None:
            raise NotFound(f"No channel with id {channel_id}.")
        return row

    async def spec(self, channel_id: int) -> ChannelSpec:
        """The relay's view of one channel (for a channel test)."""
        return _spec(await self.get(channel_id))

    async def create(self, fields: dict[str, Any], *, actor_id: int | None = None) -> Channel:
        """Add a channel (audit line ``channel.create``: its fields, keys masked)."""
        row = Channel(**fields, source="api")

        async def apply(repo: ChannelRepository) -> Channel:
            repo.add(row)
            await repo.session.flush()
            _audit(repo, "channel.create", actor_id, {"channel_id": row.id, **fields})
            return row

        await self._write(apply)
        return row

    async def update(
        self, channel_id: int, changes: dict[str, Any], *, actor_id: int | None = None
    ) -> Channel:
        async def apply(repo: ChannelRepository) -> Channel:
            row = await repo.get(channel_id)
            if row is None:
                raise NotFound(f"No channel with id {channel_id}.")
            for name, value in changes.items():
                setattr(row, name, value)
            _audit(repo, "channel.edit", actor_id, {"channel_id": channel_id, **changes})
            return row

        return await self._write(apply)

    async def delete(self, channel_id: int, *, actor_id: int | None = None) -> None:
        async def apply(repo: ChannelRepository) -> Channel:
            row = await repo.get(channel_id)
            if row is None:
                raise NotFound(f"No channel with id {channel_id}.")
            await repo.delete(row)
            _audit(repo, "channel.delete", actor_id, {"channel_id": channel_id, "name": row.name})
            return row

        await self._write(apply)

    async def _write(self, apply: Callable[[ChannelRepository], Any]) -> Channel:
        async with self.db.session() as session:
            try:
                async with session.begin():
                    row: Channel = await apply(ChannelRepository(session))
            except IntegrityError as exc:
                raise InvalidRequest(
                    "A channel with this name exists already.", param="name"
                ) from exc
        await self.signal.changed()
        return row


def _audit(repo: ChannelRepository, action: str, actor_id: int | None, fields: Any) -> None:
    """The change's audit line; the upstream keys and headers (which may carry keys) are
    named, never stored."""
    detail = changes_detail(fields)
    if "headers" in detail:
        detail["headers"] = sorted(detail["headers"])  # names only
    stage(repo.session, action, actor_id=actor_id, subject_user_id=None, detail=detail)
