"""``/console/admin/channels``: the operator's channels, their health, and their forms.

The list shows each channel's breaker, error rate and latency as this replica sees them
(channels/health.py: breakers are per process) and its benched keys (relay/keyring.py),
by masked hint. Create, edit, enable/disable, delete and test go through the same
ChannelService and ChannelProber as ``/api/v1/operator/channels`` (web/channel_form.py
reads the form into the API's models), each change with an audit line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.channels.models import Channel
from relaygate.channels.options import split_keys
from relaygate.core.bounds import RowId
from relaygate.core.errors import InvalidRequest
from relaygate.services import ServicesDep
from relaygate.web.channel_form import (
    CHANNEL_TYPES,
    ChannelForm,
    form_of,
    key_hints,
    read_create,
    read_patch,
)
from relaygate.web.forms import FormErrors, page_form
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep, CsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/channels"
NOTICES = {
    "created": N_("Channel created."),
    "saved": N_("Channel saved."),
    "deleted": N_("Channel deleted."),
    "enabled": N_("Channel enabled."),
    "disabled": N_("Channel disabled."),
}
BREAKER = {
    "closed": N_("Closed: healthy"),
    "open": N_("Open: passed over"),
    "half_open": N_("Half-open: on trial"),
}


@dataclass(frozen=True, slots=True)
class ChannelLine:
    """One channel with its health, as the list shows it."""

    id: int
    name: str
    type: str
    models: tuple[str, ...]
    priority: int
    weight: int
    enabled: bool
    source: str
    key_hints: tuple[str, ...]
    benched: tuple[str, ...]  # hints of the keys set aside now
    health: dict[str, Any]


def _line(row: Channel, s: ServicesDep) -> ChannelLine:
    hints = key_hints(row.api_key)
    benched = s.key_ring.benched(row.id, len(split_keys(row.api_key or "")))
    return ChannelLine(
        id=row.id,
        name=row.name,
        type=row.type,
        models=tuple(sorted(row.models or {})),
        priority=row.priority,
        weight=row.weight,
        enabled=row.enabled,
        source=row.source,
        key_hints=hints,
        benched=tuple(hints[i] for i in benched if i < len(hints)),
        health=s.channel_health.state(row.id),
    )


@router.get(PAGE, response_class=HTMLResponse)
async def channels(request: Request, user: ConsoleOperatorDep, s: ServicesDep) -> HTMLResponse:
    lines = [_line(row, s) for row in await s.channels.all()]
    notice = NOTICES.get(request.query_params.get("done", ""))
    return render(
        request,
        "admin/channels.html",
        {"channels": lines, "notice": notice, "BREAKER": BREAKER},
        user=user,
    )


def _form_page(
    request: Request,
    user: Any,
    form: ChannelForm,
    *,
    row: Channel | None = None,
    s: ServicesDep | None = None,
    errors: dict[str, str] | None = None,
    result: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "form": form,
        "channel": _line(row, s) if row is not None and s is not None else None,
        "types": CHANNEL_TYPES,
        "BREAKER": BREAKER,
        "errors": errors or {},
        "result": result,
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render(request, "admin/channel_form.html", context, user=user, status=status)


def _posted_form(form: dict[str, Any], header_names: tuple[str, ...] = ()) -> ChannelForm:
    """What the operator typed, shown again with the errors (never the keys)."""
    return ChannelForm(
        name=str(form.get("name", "")),
        type=str(form.get("type", "openai")),
        base_url=str(form.get("base_url", "")),
        models=str(form.get("models", "")),
        priority=str(form.get("priority", "0")),
        weight=str(form.get("weight", "1")),
        enabled=form.get("enabled") == "on",
        header_names=header_names,
        options=str(form.get("options", "{}")),
    )


@router.get(PAGE + "/new", response_class=HTMLResponse)
async def new_channel(request: Request, user: ConsoleOperatorDep) -> HTMLResponse:
    return _form_page(request, user, ChannelForm())


@router.post(PAGE + "/new", response_model=None)
async def create_channel(
    request: Request, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> Response:
    form = await page_form(request)
    try:
        fields = read_create(form)
        row = await s.channels.create(fields, actor_id=user.user_id)
    except FormErrors as err:
        return _form_page(request, user, _posted_form(form), errors=err.errors, status=400)
    except InvalidRequest as err:  # the name is taken
        errors = {err.param or "form": err.message}
        return _form_page(request, user, _posted_form(form), errors=errors, status=400)
    return RedirectResponse(f"{PAGE}/{row.id}?done=created", status_code=303)


@router.get(PAGE + "/{channel_id}", response_class=HTMLResponse)
async def channel(
    request: Request, channel_id: RowId, user: ConsoleOperatorDep, s: ServicesDep
) -> HTMLResponse:
    row = await s.channels.get(channel_id)
    return _form_page(request, user, form_of(row), row=row, s=s)


@router.post(PAGE + "/{channel_id}", response_model=None)
async def edit_channel(
    request: Request, channel_id: RowId, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> Response:
    row = await s.channels.get(channel_id)
    form = await page_form(request)
    try:
        changes = read_patch(form, row)
        await s.channels.update(channel_id, changes, actor_id=user.user_id)
    except (FormErrors, InvalidRequest) as err:
        errors = err.errors if isinstance(err, FormErrors) else {err.param or "form": err.message}
        shown = _posted_form(form, form_of(row).header_names)
        shown.type = row.type
        return _form_page(request, user, shown, row=row, s=s, errors=errors, status=400)
    return RedirectResponse(f"{PAGE}/{channel_id}?done=saved", status_code=303)


@router.post(PAGE + "/{channel_id}/enabled", response_model=None)
async def toggle_channel(
    request: Request, channel_id: RowId, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> Response:
    await s.channels.get(channel_id)  # 404 first
    enable = (await page_form(request)).get("enabled") == "true"
    await s.channels.update(channel_id, {"enabled": enable}, actor_id=user.user_id)
    done = "enabled" if enable else "disabled"
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


@router.post(PAGE + "/{channel_id}/delete", response_model=None)
async def delete_channel(
    channel_id: RowId, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> Response:
    await s.channels.delete(channel_id, actor_id=user.user_id)
    return RedirectResponse(f"{PAGE}?done=deleted", status_code=303)


@router.post(PAGE + "/{channel_id}/test", response_class=HTMLResponse)
async def test_channel(
    request: Request, channel_id: RowId, _: ConsoleOperatorDep, user: CsrfDep, s: ServicesDep
) -> HTMLResponse:
    """A real call per key (ChannelProber); the answer is this page, not a redirect: the
    result is of the moment, and sending the test again is what reloading should do."""
    row = await s.channels.get(channel_id)
    try:
        result = await s.channel_tester.test(await s.channels.spec(channel_id))
    except InvalidRequest as err:
        result = {"ok": False, "status": None, "latency_ms": None, "refused": err.message}
    return _form_page(request, user, form_of(row), row=row, s=s, result=result)
