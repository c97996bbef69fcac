"""Where the consent page sends the browser back to (platform-api.md §5.2): the app's
``redirect_uri`` with ``code`` and ``state``, or the seed's ``redirect_template`` (base64
of a query such as ``?code={code}&state={state}&tgid=1``) appended to it.

The result is checked again against the app's domains: a template could otherwise move
the host (``@evil.example/?code={code}`` turns the URI's host into evil.example)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote, urlencode, urlsplit

from relaygate.core.errors import InvalidRequest

__all__ = ["approved_target", "check_template", "denied_target"]


def _join(uri: str, query: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(query)


def check_template(template: str) -> str:
    """The decoded template (``""`` for none); a 400 naming the field when it is unusable."""
    if not template:
        return ""
    try:
        padded = template + "=" * (-len(template) % 4)
        text = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            "redirect_template is not base64 text.", param="redirect_template"
        ) from exc
    if "{code}" not in text or len(text) > 1000:
        raise InvalidRequest("redirect_template must contain {code}.", param="redirect_template")
    return text


def _checked(target: str, domains: tuple[str, ...]) -> str:
    host = (urlsplit(target).hostname or "").lower()
    if host not in domains:
        raise InvalidRequest("The redirect leaves the app's domains.", param="redirect_template")
    return target


def approved_target(
    redirect_uri: str, template: str, code: str, state: str, domains: tuple[str, ...]
) -> str:
    if template:
        filled = template.replace("{code}", quote(code, safe="")).replace(
            "{state}", quote(state, safe="")
        )
        return _checked(redirect_uri + filled, domains)
    query = {"code": code, **({"state": state} if state else {})}
    return _checked(_join(redirect_uri, query), domains)


def denied_target(redirect_uri: str, state: str, domains: tuple[str, ...]) -> str:
    query = {"error": "access_denied", **({"state": state} if state else {})}
    return _checked(_join(redirect_uri, query), domains)
