"""Developers' apps: registered, listed with their revenue, secrets rotated.

A secret is shown once (in the answer that made it) and kept as its SHA-256."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import func, select

from relaygate.accounts.audit import stage
from relaygate.core.errors import InvalidRequest, NotFound
from relaygate.db.engine import Database
from relaygate.oauth.models import OAuthApp, OAuthCharge
from relaygate.oauth.records import AppView, NewApp
from relaygate.oauth.scopes import SCOPES, normalise
from relaygate.oauth.secrets import digest, new_client_id, new_secret

__all__ = ["AppRegistry", "check_app", "view"]

# one label, and a host name of labels (what the OpenAPI document states, api.py)
LABEL = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST = f"{LABEL}(\\.{LABEL})*"
# one or more known scope names separated by spaces (oauth/scopes.py)
_NAME = "(" + "|".join(SCOPES) + ")"
SCOPE = f"^ *{_NAME}( +{_NAME})* *$"
URL = "^https?://[^\\s/]+"
_DOMAIN = re.compile(f"^{HOST}$")


def _url(value: str, field: str) -> str:
    value = value.strip()
    if value and not re.match(URL, value):
        raise InvalidRequest(f"'{field}' must be an http(s) URL.", param=field)
    if len(value) > 500:
        raise InvalidRequest(f"'{field}' is longer than 500 characters.", param=field)
    return value


def check_app(app: NewApp) -> NewApp:
    """The app as stored: names trimmed, domains lower-case, everything in its shape."""
    name = app.name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidRequest("'name' must be 1 to 100 characters.", param="name")
    domains = tuple(dict.fromkeys(d.strip().lower() for d in app.redirect_domains if d.strip()))
    if not 1 <= len(domains) <= 10 or not all(_DOMAIN.match(d) for d in domains):
        raise InvalidRequest(
            "'redirect_domains' must be 1 to 10 host names such as app.example.com.",
            param="redirect_domains",
        )
    return replace(
        app,
        name=name,
        scope=normalise(app.scope),
        logo_url=_url(app.logo_url, "logo_url"),
        homepage=_url(app.homepage, "homepage"),
        redirect_domains=domains,
    )


def view(row: OAuthApp, revenue: int = 0, secret: str | None = None) -> AppView:
    return AppView(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        logo_url=row.logo_url,
        homepage=row.homepage,
        redirect_domains=tuple(row.redirect_domains),
        scope=row.scope,
        public=row.public,
        created_at=row.created_at,
        revenue=revenue,
        secret=secret,
    )


class AppRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(self, owner_id: int, app: NewApp) -> AppView:
        app = check_app(app)
        secret = new_secret()
        row = OAuthApp(
            owner_id=owner_id,
            client_id=new_client_id(),
            secret_hash=digest(secret),
            name=app.name,
            logo_url=app.logo_url,
            homepage=app.homepage,
            redirect_domains=list(app.redirect_domains),
            scope=app.scope,
            public=app.public,
        )
        async with self.db.session() as session, session.begin():
            session.add(row)
            await session.flush()
            stage(
                session,
                "oauth.app_registered",
                actor_id=owner_id,
                subject_user_id=owner_id,
                detail={"client_id": row.client_id, "name": row.name},
            )
        return view(row, secret=secret)

    async def rotate(self, owner_id: int, app_id: int) -> AppView:
        """A new secret; the old one stops working at once (issued tokens stay valid)."""
        secret = new_secret()
        async with self.db.session() as session, session.begin():
            row = await session.get(OAuthApp, app_id, with_for_update=True)
            if row is None or row.owner_id != owner_id:
                raise NotFound("No such app.")
            row.secret_hash = digest(secret)
            stage(
                session,
                "oauth.secret_rotated",
                actor_id=owner_id,
                subject_user_id=owner_id,
                detail={"client_id": row.client_id},
            )
        return view(row, secret=secret)

    async def owned(self, owner_id: int) -> list[AppView]:
        """The owner's apps, newest first, each with what it earned them."""
        async with self.db.session() as session:
            rows = list(
                await session.scalars(
                    select(OAuthApp)
                    .where(OAuthApp.owner_id == owner_id)
                    .order_by(OAuthApp.id.desc())
                )
            )
            sums = dict(
                (
                    await session.execute(
                        select(
                            OAuthCharge.app_id,
                            func.sum(OAuthCharge.amount - OAuthCharge.commission),
                        )
                        .where(OAuthCharge.app_id.in_([r.id for r in rows]))
                        .group_by(OAuthCharge.app_id)
                    )
                ).all()
            )
        return [view(r, int(sums.get(r.id) or 0)) for r in rows]

    async def by_client_id(self, client_id: str) -> AppView | None:
        async with self.db.session() as session:
            row = await session.scalar(select(OAuthApp).where(OAuthApp.client_id == client_id))
        return None if row is None else view(row)

    async def find_owned(self, owner_id: int, client_id: str) -> AppView:
        """The owner's app by client_id; another's (or none) is 404 alike."""
        found = await self.by_client_id(client_id)
        if found is None:
            raise NotFound("No such app.")
        async with self.db.session() as session:
            row = await session.get(OAuthApp, found.id)
        if row is None or row.owner_id != owner_id:
            raise NotFound("No such app.")
        return found
