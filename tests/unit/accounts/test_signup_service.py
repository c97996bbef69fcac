"""SignupService's entry points for the console and tools, on a migrated SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from relaygate.accounts.mailer import LogMailer
from relaygate.accounts.models import User
from relaygate.accounts.sessions import BrowserSessions
from relaygate.accounts.signup import LoginLimits, SignupService
from relaygate.core.errors import PermissionDenied
from relaygate.db.engine import Database
from relaygate.db.migrate import upgrade
from relaygate.kv.memory import MemoryRateCounter


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/signup.db"
    upgrade(url)  # runs its own event loop: a sync fixture
    return url


@pytest.fixture
async def svc(db_url: str) -> AsyncIterator[SignupService]:
    db = Database(db_url)
    service = SignupService(
        db,
        LogMailer(),
        "https://gw.example.test/",
        BrowserSessions(db, timedelta(days=30), timedelta(days=7)),
        rates=MemoryRateCounter(),
        limits=LoginLimits(per_address_per_minute=5, per_ip_per_minute=2, per_ip_per_hour=0),
    )
    yield service
    await service.aclose()
    await db.dispose()


def _token(link: str) -> str:
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "gw.example.test", "/console/auth")
    return parse_qs(parts.query)["token"][0]


async def test_issue_link_signs_in_without_a_mail(svc: SignupService) -> None:
    link = await svc.issue_link(" Operator@Example.test ")
    assert svc.mailer.recent_links("operator@example.test") == []
    verified = await svc.verify(_token(link))
    assert verified.email == "operator@example.test" and verified.is_new


async def test_request_login_mails_once_limits_are_passed(svc: SignupService) -> None:
    for _ in range(3):
        await svc.request_login("ada@example.test", None, client_ip="192.0.2.1")
    await svc.aclose()  # the mails go out after the call returns
    links = svc.mailer.recent_links("ada@example.test")
    assert len(links) == 2  # the third was over the per-IP limit of 2
    await svc.request_login("ada@example.test", None, client_ip="192.0.2.2")
    await svc.aclose()
    assert len(svc.mailer.recent_links("ada@example.test")) == 3


async def test_start_session_refuses_a_disabled_or_missing_account(svc: SignupService) -> None:
    async with svc.db.session() as session, session.begin():
        session.add(User(email="off@example.test", is_disabled=True))
        session.add(User(email="on@example.test"))
    async with svc.db.session() as session:
        users = {u.email: u.id for u in (await session.scalars(select(User))).all()}
    started = await svc.start_session(users["on@example.test"])
    assert started.session_token.startswith("rgs_") and not started.is_new
    assert await svc.session_user(started.session_token) == users["on@example.test"]
    for user_id in (users["off@example.test"], 999_999):
        with pytest.raises(PermissionDenied):
            await svc.start_session(user_id)
