"""``/console/prices``: every model the user may call, its official prices, the user's
effective multiplier per route group, and "what would this call cost".

The models are those some enabled channel serves (the relay's router, as ``/v1/models``
lists them) with the catalogue's prices (``console.prices.for_user``). The list is
filtered by ``?q=`` and ordered by ``?sort=`` (the URL is the state; console.js filters
as one types). The prediction is a GET form answered here by ``console.prices.predict``
(the arithmetic ``Charging`` bills with): it needs no script and its answer can be
bookmarked. A form mistake (an unknown model, a negative or non-whole token count) is the
same page with the field's error and status 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from relaygate.billing.prices_view import ModelPriceLine, Prediction
from relaygate.channels.service import ECHO_MODEL
from relaygate.services import ServicesDep
from relaygate.web.i18n import N_
from relaygate.web.render import render
from relaygate.web.session import ConsoleUserDep

__all__ = ["PredictForm", "factor", "router"]

router = APIRouter(include_in_schema=False)
PAGE = "/console/prices"
MAX_TOKENS = 100_000_000  # far beyond any context window; keeps the form's numbers sane
SORTS = {
    "model": lambda line: (line.model,),
    "input": lambda line: (line.prices.input, line.model),
    "output": lambda line: (line.prices.output, line.model),
}
UNKNOWN_MODEL = N_("Choose a model from the list: this one is not available to you.")
NOT_A_COUNT = N_("Enter a whole number of tokens, 0 or more.")
TOO_MANY = N_("Enter at most 100,000,000 tokens.")
UNKNOWN_ROUTE = N_("Choose a route group from the list.")


@dataclass(frozen=True, slots=True)
class PredictForm:
    """The prediction form as sent (strings, so a wrong value is shown back as typed)."""

    model: str
    prompt: str
    completion: str
    route: str
    flex: bool
    errors: dict[str, str]  # field → msgid


def factor(value: Decimal) -> str:
    """A multiplier as written in the settings (``0.2``, ``1``), never in exponent form."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _check_count(raw: str, field: str, errors: dict[str, str]) -> None:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):  # refuses "-5", "1.5", "1e3", "" and "٣"
        errors[field] = NOT_A_COUNT
    elif int(text) > MAX_TOKENS:
        errors[field] = TOO_MANY


def _read_form(request: Request, models: set[str], routes: tuple[str, ...]) -> PredictForm:
    q = request.query_params
    form = PredictForm(
        model=q.get("model", ""),
        prompt=q.get("prompt", "1000"),
        completion=q.get("completion", "1000"),
        route=q.get("route", ""),
        flex=q.get("flex") == "1",
        errors={},
    )
    if "predict" in q:
        if form.model not in models:
            form.errors["model"] = UNKNOWN_MODEL
        _check_count(form.prompt, "prompt", form.errors)
        _check_count(form.completion, "completion", form.errors)
        if form.route not in routes:
            form.errors["route"] = UNKNOWN_ROUTE
    return form


def _other_units(line: ModelPriceLine) -> bool:
    p = line.prices
    return bool(
        p.reasoning is not None or p.per_call or p.per_image or p.per_character or p.per_second
    )


def _matching(lines: tuple[ModelPriceLine, ...], q: str) -> set[str]:
    """The models ``q`` matches (a case-insensitive part of the name, as console.js)."""
    term = q.strip().lower()
    return {line.model for line in lines if term in line.model.lower()}


@router.get(PAGE, response_class=HTMLResponse)
async def prices(
    request: Request, user: ConsoleUserDep, s: ServicesDep, q: str = "", sort: str = "model"
) -> HTMLResponse:
    served = set(s.relay.router.names())  # the tools too (docs/tools.md)
    lines = await s.console.prices.for_user(user.user_id, served=served)
    routes = tuple(lines[0].effective) if lines else ("",)  # "" (/v1) first
    names = {line.model for line in lines}
    form = _read_form(request, names, routes)
    prediction: Prediction | None = None
    if "predict" in request.query_params and not form.errors:
        prediction = await s.console.prices.predict(
            user.user_id,
            form.model,
            int(form.prompt.strip()),
            int(form.completion.strip()),
            route_group=form.route,
            service_tier="flex" if form.flex else None,
        )
    context = {
        "lines": sorted(lines, key=SORTS.get(sort, SORTS["model"])),
        "matching": _matching(lines, q),  # the others are rendered hidden (live filter)
        "models": sorted(names),
        "q": q,
        "sort": sort if sort in SORTS else "model",
        "routes": routes,
        "other_units": any(_other_units(line) for line in lines),  # else no such column
        "form": form,
        "default_model": ECHO_MODEL if ECHO_MODEL in names else min(names, default=""),
        "prediction": prediction,
        "factor": factor,
    }
    status = 400 if form.errors else 200
    return render(request, "prices/index.html", context, user=user, status=status)
