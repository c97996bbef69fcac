"""``/console/rules``: the user's override rules (docs/rules.md).

The list (in the order the rules run) with each rule's hits of the last 30 days and its
last hit, an enable/disable toggle, copy and delete; export (a JSON download that import
takes back) and import (pasted JSON, skip or overwrite a taken name, all or nothing).

The editor (``/new``, ``/<id>``) is one form with two views, the builder (web/rule_form.py)
and the raw JSON, and the dry-run tester beside it: "Run test" sends the rule as edited
(unsaved) or the saved enabled rules through the relay's own engine with a sample
request, and shows the rewritten request and every rule's verdict. Everything goes
through ``RuleService``, as the JSON API does; another user's rule id is the 404 page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relaygate.accounts.sessions import ActiveSession
from relaygate.core.bounds import RowId
from relaygate.core.errors import ClientError, InvalidRequest
from relaygate.rules.api import dry_run_out, export_out
from relaygate.rules.dry_run import Sample
from relaygate.rules.models import OverrideRule
from relaygate.rules.schema import CONDITION_OPS, ENDPOINT_KINDS, RuleDoc
from relaygate.rules.service import ImportMode, RuleQuery, validate, wire
from relaygate.services import ServicesDep
from relaygate.web.forms import page_form, page_form_list
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.rule_form import (
    ACTION_FIELDS,
    RuleForm,
    form_of_doc,
    json_text,
    read_builder,
    read_json,
    read_sample,
)
from relaygate.web.session import ConsoleUserDep, CsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/rules"
_ALL = 100_000  # the list page shows every rule (a tier keeps at most a few hundred)
SAMPLE = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
NOTICES = {
    "saved": N_("Rule saved."),
    "enabled": N_("Rule enabled."),
    "disabled": N_("Rule disabled."),
    "copied": N_("Rule copied; the copy is disabled until you enable it."),
    "deleted": N_("Rule deleted."),
    "imported": N_("Rules imported."),
}
ACTION_LABELS = {
    "rename_model": N_("Rename the model"),
    "set": N_("Set a field"),
    "default": N_("Set a field if absent"),
    "remove": N_("Remove a field"),
    "clamp": N_("Clamp a number"),
    "system_prompt": N_("System prompt"),
    "set_header": N_("Set a header"),
    "remove_header": N_("Remove a header"),
    "block": N_("Block the call"),
}


def _back(done: str) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)


@router.get(PAGE, response_class=HTMLResponse)
async def rules(request: Request, user: ConsoleUserDep, s: ServicesDep, done: str = "") -> Response:
    return await _list_page(request, user, s, notice=NOTICES.get(done, ""))


async def _list_page(
    request: Request,
    user: ActiveSession,
    s: ServicesDep,
    *,
    notice: str = "",
    import_text: str = "",
    import_error: str = "",
) -> HTMLResponse:
    page = await s.rules.listing(user.user_id, RuleQuery(page_size=_ALL))
    limits = await s.rules.limits(user.user_id)
    context = {
        "rules": page.rules,
        "hits": page.hits,
        "limits": limits,
        "notice": notice,
        "import_text": import_text,
        "import_error": import_error,
    }
    status = 400 if import_error else 200
    return render(request, "rules/index.html", context, user=user, status=status)


@router.get(PAGE + "/export")
async def export(user: ConsoleUserDep, s: ServicesDep) -> Response:
    document = export_out(await s.rules.export(user.user_id))
    body = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    headers = {
        "content-disposition": 'attachment; filename="relaygate-rules.json"',
        "cache-control": "no-store",
    }
    return Response(body, media_type="application/json", headers=headers)


@router.post(PAGE + "/import", response_class=HTMLResponse)
async def import_rules(request: Request, user: CsrfDep, s: ServicesDep) -> Response:
    form = await page_form(request)
    text = str(form.get("document", ""))
    mode: ImportMode = "overwrite" if form.get("mode") == "overwrite" else "skip"
    try:
        value = read_json(text) if text.lstrip().startswith("{") else orjson.loads(text)
        found = value.get("rules") if isinstance(value, dict) else value
        if not isinstance(found, list) or not found:
            raise InvalidRequest(N_('Paste an export: a JSON list of rules, or {"rules": [...]}.'))
        docs = [validate(item, f"rules[{n}]") for n, item in enumerate(found)]
        await s.rules.import_rules(user.user_id, docs, mode, actor_id=user.user_id)
    except orjson.JSONDecodeError:
        return await _list_page(
            request, user, s, import_text=text, import_error=N_("This is not a JSON object.")
        )
    except ClientError as exc:
        return await _list_page(request, user, s, import_text=text, import_error=exc.message)
    return _back("imported")


async def _own(s: ServicesDep, user: ActiveSession, rule_id: int) -> OverrideRule:
    return await s.rules.get(user.user_id, rule_id)


@router.get(PAGE + "/new", response_class=HTMLResponse)
async def new_form(
    request: Request, user: ConsoleUserDep, s: ServicesDep, view: str = "builder"
) -> Response:
    return await _editor(request, user, s, RuleForm.blank(), _Editing(view=view))


@router.post(PAGE + "/new", response_class=HTMLResponse)
async def create(request: Request, user: CsrfDep, s: ServicesDep) -> Response:
    return await _submit(request, user, s, None)


@router.get(PAGE + "/{rule_id:int}", response_class=HTMLResponse)
async def edit_form(
    request: Request, rule_id: RowId, user: ConsoleUserDep, s: ServicesDep, view: str = "builder"
) -> Response:
    row = await _own(s, user, rule_id)
    return await _editor(request, user, s, form_of_doc(wire(row)), _Editing(row, view))


@router.post(PAGE + "/{rule_id:int}", response_class=HTMLResponse)
async def update(request: Request, rule_id: RowId, user: CsrfDep, s: ServicesDep) -> Response:
    return await _submit(request, user, s, await _own(s, user, rule_id))


@router.post(PAGE + "/{rule_id:int}/toggle")
async def toggle(rule_id: RowId, user: CsrfDep, s: ServicesDep) -> Response:
    row = await _own(s, user, rule_id)
    await s.rules.set_enabled(user.user_id, [row.id], not row.enabled, actor_id=user.user_id)
    return _back("disabled" if row.enabled else "enabled")


@router.post(PAGE + "/{rule_id:int}/copy")
async def copy(request: Request, rule_id: RowId, user: CsrfDep, s: ServicesDep) -> Response:
    try:
        await s.rules.copy(user.user_id, rule_id, None, actor_id=user.user_id)
    except ClientError as exc:
        if exc.status == 404:
            raise
        return await _list_page(request, user, s, notice=exc.message)
    return _back("copied")


@router.post(PAGE + "/{rule_id:int}/delete")
async def delete(rule_id: RowId, user: CsrfDep, s: ServicesDep) -> Response:
    await s.rules.delete(user.user_id, [rule_id], actor_id=user.user_id)
    return _back("deleted")


@dataclass(frozen=True, slots=True)
class _Editing:
    """What the editor page carries from one POST to the next besides the rule's fields."""

    row: OverrideRule | None = None
    view: str = "builder"
    json: str | None = None  # the JSON view's text (None: the rule as stored)
    tester: Mapping[str, str] = field(
        default_factory=lambda: {"sample": json_text(SAMPLE), "endpoint": "chat", "scope": "this"}
    )


async def _editor(
    request: Request,
    user: ActiveSession,
    s: ServicesDep,
    form: RuleForm,
    editing: _Editing,
    result: dict[str, Any] | None = None,
) -> HTMLResponse:
    keys = [key for key in await s.accounts.keys_of(user.user_id) if not key.is_admin]
    row = editing.row
    json = editing.json
    if json is None:
        json = json_text(wire(row)) if row is not None else _blank_json()
    context = {
        "form": form,
        "row": row,
        "view": "json" if editing.view == "json" else "builder",
        "json": json,
        "keys": keys,
        "endpoints": ENDPOINT_KINDS,
        "ops": CONDITION_OPS,
        "action_fields": ACTION_FIELDS,
        "action_labels": ACTION_LABELS,
        "tester": editing.tester,
        "result": result,
        "limits": await s.rules.limits(user.user_id),
    }
    status = 400 if form.errors else 200
    return render(request, "rules/form.html", context, user=user, status=status)


def _blank_json() -> str:
    blank = {
        "name": "",
        "description": "",
        "enabled": True,
        "priority": 100,
        "match": {"models": ["gpt-4*"]},
        "actions": [{"type": "rename_model", "to": "gpt-4o-mini"}],
    }
    return json_text(blank)


async def _submit(
    request: Request, user: ActiveSession, s: ServicesDep, row: OverrideRule | None
) -> Response:
    form = await page_form(request)
    view = "json" if form.get("view") == "json" else "builder"
    intent = str(form.get("intent", "save"))
    tester = {
        "sample": str(form.get("sample", "")),
        "endpoint": str(form.get("endpoint", "chat")),
        "scope": "enabled" if form.get("scope") == "enabled" else "this",
    }
    json = str(form.get("json", ""))
    rows: list[int] = []
    if view == "json":
        shown = RuleForm.blank()
        try:
            data = read_json(json)
        except InvalidRequest as exc:
            editing = _Editing(row, view, json, tester)
            return await _editor(request, user, s, shown.with_error("json", exc.message), editing)
    else:
        keys = await page_form_list(request, "key_ids")
        endpoints = await page_form_list(request, "endpoints")
        data, shown, rows = read_builder(form, keys, endpoints)
        json = json_text(data)
    editing = _Editing(row, view, json, tester)
    if intent == "more" or shown.errors:
        return await _editor(request, user, s, shown, editing)
    try:
        doc = validate(data)
        if intent == "test":
            result = await _dry_run(s, user, doc, tester)
            return await _editor(request, user, s, shown, editing, result)
        if row is None:
            await s.rules.create(user.user_id, doc, actor_id=user.user_id)
        else:
            await s.rules.update(user.user_id, row.id, data, actor_id=user.user_id)
    except ClientError as exc:
        if exc.status == 404:
            raise
        place = "json" if view == "json" else exc.param
        return await _editor(request, user, s, shown.with_error(place, exc.message, rows), editing)
    return _back("saved")


async def _dry_run(
    s: ServicesDep, user: ActiveSession, doc: RuleDoc, tester: Mapping[str, str]
) -> dict[str, Any]:
    body = read_sample(tester["sample"])
    endpoint = tester["endpoint"] if tester["endpoint"] in ENDPOINT_KINDS else "chat"
    sample = Sample(body, endpoint)
    rule = doc if tester["scope"] == "this" else None
    return dry_run_out(await s.rules.dry_run(user.user_id, sample, rule, None))
