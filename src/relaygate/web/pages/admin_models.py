"""``/console/admin/models``: the model catalogue, official prices and multipliers.

Each row is its own form (no script needed; console.js saves a row in place); a change
goes through ``CatalogueService.put``, as ``PUT /api/v1/operator/models/<model>`` does,
with its audit line, and the relay prices the next call with it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from relaygate.core.errors import NotFound
from relaygate.services import PricesDep
from relaygate.web.forms import FormErrors, page_form
from relaygate.web.i18n import N_
from relaygate.web.price_form import PRICE_FIELDS, price_row, read_price
from relaygate.web.render import render
from relaygate.web.session import ConsoleOperatorDep, CsrfDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/admin/models"
NOTICES = {
    "added": N_("Model price added."),
    "saved": N_("Price saved."),
    "deleted": N_("Model price removed."),
}
LABELS = {
    "input": N_("Input"),
    "output": N_("Output"),
    "cached_input": N_("Cached input"),
    "cache_write": N_("Cache write"),
    "reasoning": N_("Reasoning"),
    "per_call": N_("Per call"),
    "per_image": N_("Per image"),
    "per_character": N_("Per million characters"),
    "per_second": N_("Per second of audio"),
}
ROW_FIELDS = ("input", "output", "cached_input", "cache_write", "per_call")


async def _page(
    request: Request,
    user: Any,
    prices: PricesDep,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    posted: dict[str, Any] | None = None,
    posted_for: str = "",
    status: int = 200,
) -> HTMLResponse:
    rows = [price_row(row) for row in await prices.all()]
    context = {
        "rows": rows,
        "errors": errors or {},  # model ("" for the add form) → field → message
        "posted": posted or {},  # what was typed into the form that failed
        "posted_for": posted_for,  # its model ("" for the add form)
        "labels": LABELS,
        "row_fields": ROW_FIELDS,
        "all_fields": PRICE_FIELDS,
        "notice": NOTICES.get(request.query_params.get("done", "")),
    }
    return render(request, "admin/models.html", context, user=user, status=status)


@router.get(PAGE, response_class=HTMLResponse)
async def models(request: Request, user: ConsoleOperatorDep, prices: PricesDep) -> HTMLResponse:
    return await _page(request, user, prices)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post(PAGE + "/new", response_model=None)
async def add_price(
    request: Request, _: ConsoleOperatorDep, user: CsrfDep, prices: PricesDep
) -> Response:
    form = await page_form(request)
    model = str(form.get("model", "")).strip()
    try:
        if not model or len(model) > 200:
            raise FormErrors({"model": "a model name of 1 to 200 characters"})
        if any(row.model == model for row in await prices.all()):
            raise FormErrors({"model": "this model has a price already: edit its row"})
        fields = read_price(form, None)
    except FormErrors as err:
        return await _page(request, user, prices, errors={"": err.errors}, posted=form, status=400)
    await prices.put(model, fields, actor_id=user.user_id)
    return RedirectResponse(f"{PAGE}?done=added", status_code=303)


@router.post(PAGE + "/edit", response_model=None)
async def edit_price(
    request: Request, _: ConsoleOperatorDep, user: CsrfDep, prices: PricesDep
) -> Response:
    """One row saved; with ``Accept: application/json`` (console.js) the answer is the
    row's errors or its saved values instead of a page."""
    form = await page_form(request)
    model = str(form.get("model", ""))
    current = next((price_row(r) for r in await prices.all() if r.model == model), None)
    if current is None:
        raise NotFound(f"The model '{model}' has no price.")
    try:
        fields = read_price(form, current)
    except FormErrors as err:
        if _wants_json(request):
            return JSONResponse({"errors": err.errors}, status_code=400)
        return await _page(
            request,
            user,
            prices,
            errors={model: err.errors},
            posted=form,
            posted_for=model,
            status=400,
        )
    saved = price_row(await prices.put(model, fields, actor_id=user.user_id))
    if _wants_json(request):
        return JSONResponse(
            {"model": model, "values": saved.values, "multiplier": saved.multiplier}
        )
    return RedirectResponse(f"{PAGE}?done=saved", status_code=303)


@router.post(PAGE + "/delete", response_model=None)
async def delete_price(
    request: Request, _: ConsoleOperatorDep, user: CsrfDep, prices: PricesDep
) -> Response:
    model = str((await page_form(request)).get("model", ""))
    await prices.remove(model, actor_id=user.user_id)
    return RedirectResponse(f"{PAGE}?done=deleted", status_code=303)
