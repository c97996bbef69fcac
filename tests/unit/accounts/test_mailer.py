"""The SMTP mailer against a real SMTP server (tests/fakes/smtp.py), with each option the
mailer offers: STARTTLS (certificate verified), AUTH, plain SMTP; and its failures, which
are logged and reported, never raised."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from relaygate.accounts.mail_text import login_mail
from relaygate.accounts.mailer import LogMailer, SMTPConfig, SMTPMailer, make_mailer
from tests.fakes.smtp import FakeSMTP

LINK = "https://gw.example.test/console/auth?token=abc123"


def _mail(to: str = "ada@example.test", locale: str = "en") -> object:
    return login_mail(to, LINK, 15, locale, "Relaygate")


def _config(smtp: FakeSMTP, **changes: object) -> SMTPConfig:
    values: dict[str, object] = {
        "host": smtp.host,
        "port": smtp.port,
        "user": smtp.user,
        "password": smtp.password,
        "sender": "Relaygate <no-reply@relaygate.test>",
        "starttls": smtp.ca_file is not None,
        "ca_file": str(smtp.ca_file or ""),
        "timeout": 5.0,
    }
    values.update(changes)
    return SMTPConfig(**values)  # type: ignore[arg-type]


async def test_starttls_and_auth_deliver_a_text_and_html_mail(tmp_path: Path) -> None:
    with FakeSMTP(tls_dir=tmp_path, user="relay", password="pw") as smtp:
        sent = await SMTPMailer(_config(smtp)).send(_mail())  # type: ignore[arg-type]
        mail = smtp.wait_for("ada@example.test")
    assert sent is True
    assert mail.over_tls and mail.authenticated_as == "relay"
    assert mail.headers["From"] == "Relaygate <no-reply@relaygate.test>"
    assert mail.subject == "Your sign-in link for Relaygate"
    assert mail.link == LINK
    assert "15 minutes" in mail.text and "wasn't you" in mail.text
    assert f'href="{LINK}"'.replace("&", "&amp;") in mail.html


async def test_plain_smtp_without_auth(tmp_path: Path) -> None:
    with FakeSMTP() as smtp:
        sent = await SMTPMailer(_config(smtp)).send(_mail())  # type: ignore[arg-type]
        mail = smtp.wait_for("ada@example.test")
    assert sent and not mail.over_tls and mail.authenticated_as is None


async def test_chinese_mail(tmp_path: Path) -> None:
    with FakeSMTP() as smtp:
        await SMTPMailer(_config(smtp)).send(_mail(locale="zh"))  # type: ignore[arg-type]
        mail = smtp.wait_for("ada@example.test")
    assert mail.subject == "Relaygate 登录链接"
    assert "15 分钟后失效" in mail.text and mail.link == LINK
    assert 'lang="zh"' in mail.html


async def test_an_untrusted_certificate_is_refused_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the server's CA the STARTTLS upgrade fails: no credentials go out."""
    with FakeSMTP(tls_dir=tmp_path, user="relay", password="pw") as smtp:
        mailer = SMTPMailer(_config(smtp, ca_file=""))
        with caplog.at_level(logging.ERROR):
            sent = await mailer.send(_mail())  # type: ignore[arg-type]
        assert smtp.mails == []
    assert sent is False
    assert "could not send the sign-in mail to ada@example.test" in caplog.text


async def test_a_wrong_password_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeSMTP(tls_dir=tmp_path, user="relay", password="pw") as smtp:
        with caplog.at_level(logging.ERROR):
            sent = await SMTPMailer(_config(smtp, password="nope")).send(_mail())  # type: ignore[arg-type]
        assert smtp.mails == []
    assert sent is False and "could not send" in caplog.text


async def test_a_refusing_or_stopped_server_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeSMTP() as smtp:
        mailer = SMTPMailer(_config(smtp))
        smtp.refusal = "451 4.3.0 try again later"
        with caplog.at_level(logging.ERROR):
            assert await mailer.send(_mail()) is False  # type: ignore[arg-type]
        smtp.stop()
        with caplog.at_level(logging.ERROR):
            assert await mailer.send(_mail()) is False  # type: ignore[arg-type]
    assert caplog.text.count("could not send the sign-in mail") == 2


async def test_without_a_host_links_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    mailer = make_mailer(None)
    assert isinstance(mailer, LogMailer)
    with caplog.at_level(logging.WARNING):
        assert await mailer.send(_mail()) is True  # type: ignore[arg-type]
    assert LINK in caplog.text
    assert mailer.recent_links("ada@example.test") == [LINK]
