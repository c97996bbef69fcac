"""Operator route to read usage records."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request

from relaygate.accounts.api import OperatorDep
from relaygate.billing.schemas import UsageOut, UsageQuery
from relaygate.billing.service import UsageService
from relaygate.core.envelope import envelope

__all__ = ["router"]


def usage(request: Request) -> UsageService:
    return cast(UsageService, request.app.state.usage)


router = APIRouter(prefix="/api/v1/operator", tags=["operator: usage"])


@router.get("/usage", summary="List usage records, newest first")
async def list_usage(
    _: OperatorDep,
    svc: Annotated[UsageService, Depends(usage)],
    request_id: str | None = None,
    user_id: int | None = None,
    key_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows = await svc.search(UsageQuery(request_id, user_id, key_id, limit))
    return envelope([UsageOut.model_validate(r).model_dump(mode="json") for r in rows])
