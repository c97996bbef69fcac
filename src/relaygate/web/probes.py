"""``/livez`` and ``/readyz``: the container platform's two questions (docs/deploy.md).

*Live* means the process and its event loop still answer: the route does no I/O, so a
dead database never gets a healthy process restarted. *Ready* means this replica should
get traffic: its database answers within a short timeout and is at the code's head
revision, its Redis answers (when the kv is Redis), and it is not draining after a
SIGTERM (core/drain.py). ``/healthz`` (web/pages/landing.py) stays what it always was,
a liveness check without a body beyond ``ok``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from relaygate.services import ServicesDep

__all__ = ["PROBE_TIMEOUT", "router"]

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0  # seconds each dependency may take before the replica counts as not ready
_KV_PROBE_KEY = "probe:readyz"  # read, never written: a round trip and nothing else

router = APIRouter(tags=["Health"])


class Liveness(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok`: the answer itself is the signal.")


class Readiness(BaseModel):
    status: Literal["ready", "not_ready", "draining"] = Field(
        description="`ready` (200); `not_ready` or `draining` (503)"
    )
    checks: dict[str, str] = Field(
        description=(
            "Each dependency checked: `database` (reachable and at the head migration), "
            "`kv` (Redis reachable; `memory` when the kv is in-process), `draining` "
            "(`no`, or `yes` after SIGTERM). `ok` or a short reason."
        )
    )


@router.get(
    "/livez",
    summary="Liveness probe",
    description=(
        "200 while the process and its event loop answer. No database or Redis I/O: a "
        "failing dependency makes the replica not ready (`/readyz`), never not live, so "
        "the platform does not restart healthy processes for an outage elsewhere."
    ),
    response_model=Liveness,
)
async def livez() -> Liveness:
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="Readiness probe",
    description=(
        "200 when this replica should receive traffic; 503 while its database does not "
        f"answer within {PROBE_TIMEOUT:g} s or is not at the head migration, while its "
        "Redis does not answer (when `kv_url` is Redis), and from the moment it received "
        "SIGTERM (draining: finishing the calls in flight before it exits)."
    ),
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready, or draining."}},
)
async def readyz(s: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {"draining": "yes" if s.drain.draining else "no"}
    schema, kv = await asyncio.gather(s.database_probe.check(PROBE_TIMEOUT), _kv_check(s))
    checks["database"] = schema.problem or "ok"
    checks["kv"] = kv
    if s.drain.draining:
        status = "draining"
    elif schema.ok and kv in ("ok", "memory"):
        status = "ready"
    else:
        status = "not_ready"
    body = Readiness(status=status, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if status == "ready" else 503)


async def _kv_check(s: ServicesDep) -> str:
    """One Redis round trip within the timeout; the in-process kv needs none."""
    if s.settings.kv_url.startswith("memory:"):
        return "memory"
    try:
        await asyncio.wait_for(s.kv.counters.get(_KV_PROBE_KEY), PROBE_TIMEOUT)
    except TimeoutError:
        return "kv did not answer in time"
    except Exception:  # the probe's purpose: any failure of the kv is "not ready"
        log.warning("readiness: the kv failed", exc_info=True)
        return "kv unreachable"
    return "ok"
