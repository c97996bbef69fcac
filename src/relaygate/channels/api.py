"""Operator routes to manage channels at run time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts.api import OPERATOR_ERRORS, OperatorDep
from relaygate.channels.options import split_keys
from relaygate.channels.schemas import ChannelCreate, ChannelOut, ChannelPatch
from relaygate.core.bounds import RowId
from relaygate.core.envelope import envelope, error_responses, refused_when
from relaygate.services import ChannelHealthDep, ChannelsDep, ChannelTesterDep, KeyRingDep

__all__ = ["router"]


class ChannelTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, min_length=1)  # a public name; default: the first


router = APIRouter(
    prefix="/api/v1/operator/channels", tags=["operator: channels"], responses=OPERATOR_ERRORS
)
_NOT_FOUND = error_responses(404)
_NAME_TAKEN = refused_when("a name another channel has")


def _out(row: Any) -> dict[str, Any]:
    return ChannelOut.model_validate(row).model_dump(mode="json")


@router.get("", summary="List channels (upstream keys redacted)")
async def list_channels(_: OperatorDep, svc: ChannelsDep) -> dict[str, Any]:
    return envelope([_out(row) for row in await svc.all()])


@router.get("/health", summary="Each channel's circuit breaker, error rate and latency")
async def channel_health(
    _: OperatorDep, svc: ChannelsDep, health: ChannelHealthDep, keys: KeyRingDep
) -> dict[str, Any]:
    """This replica's view: breakers are per process (see relaygate/channels/health.py)."""
    rows = await svc.all()
    return envelope(
        [
            {
                "id": row.id,
                "name": row.name,
                **health.state(row.id),
                "benched_keys": keys.benched(row.id, len(split_keys(row.api_key or ""))),
            }
            for row in rows
        ]
    )


@router.post(
    "/{channel_id}/test",
    summary="Send one tiny call to a channel, with each key",
    responses={**_NOT_FOUND, **refused_when("a model the channel does not serve")},
)
async def test_channel(
    channel_id: RowId,
    _: OperatorDep,
    svc: ChannelsDep,
    tester: ChannelTesterDep,
    body: Annotated[ChannelTest | None, Body()] = None,
) -> dict[str, Any]:
    """A real call (one word in, at most one token out) per key; the result feeds the
    channel's breaker on this replica. A failing upstream is a 200 with ``ok: false``."""
    spec = await svc.spec(channel_id)
    return envelope(await tester.test(spec, body.model if body else None))


@router.post("", summary="Create a channel", responses=_NAME_TAKEN)
async def create_channel(
    body: ChannelCreate, caller: OperatorDep, svc: ChannelsDep
) -> dict[str, Any]:
    row = await svc.create(body.model_dump(), actor_id=caller.user_id)
    return envelope(_out(row), "Channel created")


@router.get("/{channel_id}", summary="Get a channel", responses=_NOT_FOUND)
async def get_channel(channel_id: RowId, _: OperatorDep, svc: ChannelsDep) -> dict[str, Any]:
    return envelope(_out(await svc.get(channel_id)))


@router.patch(
    "/{channel_id}",
    summary="Update a channel (partial)",
    responses={**_NOT_FOUND, **_NAME_TAKEN},
)
async def update_channel(
    channel_id: RowId, body: ChannelPatch, caller: OperatorDep, svc: ChannelsDep
) -> dict[str, Any]:
    row = await svc.update(channel_id, body.model_dump(exclude_unset=True), actor_id=caller.user_id)
    return envelope(_out(row), "Channel updated")


@router.delete("/{channel_id}", summary="Delete a channel", responses=_NOT_FOUND)
async def delete_channel(
    channel_id: RowId, caller: OperatorDep, svc: ChannelsDep
) -> dict[str, Any]:
    await svc.delete(channel_id, actor_id=caller.user_id)
    return envelope(None, "Channel deleted")
