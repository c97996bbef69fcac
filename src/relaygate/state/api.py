"""OpenAI's stateful routes: stored Responses, Conversations, stored chat completions.

They are OpenAI's API, called by OpenAI's SDKs, so they answer in OpenAI's error format
(``{"error": {message, type, param, code}}``) rather than the platform envelope the
rest of the control plane uses: the router's route class renders its own errors. The
caller is the owner of the API key (``Authorization: Bearer`` or ``x-api-key``).

The platform's menu lists the stored-completion routes as POST. ``POST
/v1/chat/completions/{id}`` is OpenAI's update when the body has ``metadata`` and a
retrieve otherwise; the POST forms of list and delete would collide with creating a
completion and with that update, so they are not offered (docs/state.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from fastapi.routing import APIRoute

from relaygate.accounts.api import presented_key
from relaygate.core.bounds import INT32_MAX
from relaygate.core.error_formats import render_error
from relaygate.core.errors import InvalidRequest, RelaygateError
from relaygate.core.openapi import SSE_CONTENT
from relaygate.services import AccountsDep, StateDep
from relaygate.state.schemas import (
    METADATA_SCHEMA,
    ConversationCreate,
    ConversationOut,
    Deleted,
    ItemsCreate,
    MetadataUpdate,
    ObjectList,
    Page,
    PageQuery,
    list_out,
)

__all__ = ["router"]


def _error(err: RelaygateError) -> Response:
    answer = render_error("openai", err)
    headers = dict(answer.headers)
    return Response(answer.body, answer.status, headers, media_type=answer.content_type)


def _invalid(exc: RequestValidationError) -> InvalidRequest:
    """The first validation problem as OpenAI words it (param named, status 400)."""
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return InvalidRequest("We could not parse the JSON body of your request.")
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    if first.get("type") == "missing" and where:
        return InvalidRequest(f"Missing required parameter: '{where}'.", param=where)
    message = str(first.get("msg", "invalid value"))
    return InvalidRequest(f"Invalid '{where}': {message}." if where else message, param=where)


class OpenAIErrorRoute(APIRoute):
    """A route that renders its errors (ours and validation's) in OpenAI's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except RelaygateError as err:
                return _error(err)
            except RequestValidationError as exc:
                return _error(_invalid(exc))

        return run


async def _caller(request: Request, accounts: AccountsDep) -> int:
    principal = await accounts.authenticate(presented_key(request), time.time())
    return principal.user_id


User = Annotated[int, Depends(_caller)]
State = StateDep
Limit = Annotated[int, Query(ge=1, le=100)]
Sequence = Annotated[int, Query(ge=-1, le=INT32_MAX)]  # an event's sequence_number
Order = Annotated[Literal["asc", "desc"] | None, Query()]
After = Annotated[
    str | None,
    Query(
        min_length=1,
        description="The id of an object in this list; an id not in it is a 400 (`after`).",
    ),
]

_OPENAI_ERROR = {
    "description": "OpenAI error object",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}},
}
_DOC: dict[str, Any] = {"security": [{"bearer": []}, {"apiKey": []}]}
_SSE = {"cache-control": "no-cache", "x-accel-buffering": "no"}

router = APIRouter(
    route_class=OpenAIErrorRoute,
    responses=dict.fromkeys((400, 401, 404, 500), _OPENAI_ERROR),
)


def _query(after: str | None, limit: int, order: str | None, default: str) -> PageQuery:
    return PageQuery(after, limit, (order or default) == "desc")


# ---------------------------------------------------------------- responses
RESPONSES = "OpenAI: stored responses"


@router.get(
    "/v1/responses/{response_id}",
    tags=[RESPONSES],
    summary="Get a stored response (stream=true: its events, after starting_after)",
    response_model=None,
    openapi_extra=_DOC,
    responses={200: {"content": {"text/event-stream": SSE_CONTENT}}},
)
async def get_response(
    response_id: str, user: User, svc: State, stream: bool = False, starting_after: Sequence = -1
) -> Response | dict[str, Any]:
    """The Response as stored (``include`` is accepted and ignored); with ``stream=true``
    its events as SSE, live while a background response runs (docs/state.md)."""
    if stream:
        events = await svc.background.replay(user, response_id, starting_after)
        return StreamingResponse(events, media_type="text/event-stream", headers=_SSE)
    return await svc.response(user, response_id)


@router.delete(
    "/v1/responses/{response_id}",
    tags=[RESPONSES],
    summary="Delete a stored response",
    response_model=Deleted,
    openapi_extra=_DOC,
)
async def delete_response(response_id: str, user: User, svc: State) -> dict[str, Any]:
    await svc.delete_response(user, response_id)
    return {"id": response_id, "object": "response", "deleted": True}


@router.get(
    "/v1/responses/{response_id}/input_items",
    tags=[RESPONSES],
    summary="List a stored response's input items",
    response_model=ObjectList,
    openapi_extra=_DOC,
)
async def list_input_items(
    response_id: str,
    user: User,
    svc: State,
    after: After = None,
    limit: Limit = 20,
    order: Order = None,
) -> dict[str, Any]:
    return list_out(await svc.input_items(user, response_id, _query(after, limit, order, "desc")))


@router.post(
    "/v1/responses/{response_id}/cancel",
    tags=[RESPONSES],
    summary="Cancel a background response",
    openapi_extra=_DOC,
)
async def cancel_response(response_id: str, user: User, svc: State) -> dict[str, Any]:
    return await svc.cancel_response(user, response_id)


# ---------------------------------------------------------------- conversations
CONVERSATIONS = "OpenAI: conversations"


@router.post(
    "/v1/conversations",
    tags=[CONVERSATIONS],
    summary="Create a conversation",
    response_model=ConversationOut,
    openapi_extra=_DOC,
)
async def create_conversation(
    user: User, svc: State, body: ConversationCreate | None = None
) -> dict[str, Any]:
    body = body or ConversationCreate()
    return await svc.conversations.create(user, body.items, body.metadata)


@router.get(
    "/v1/conversations/{conversation_id}",
    tags=[CONVERSATIONS],
    summary="Get a conversation",
    response_model=ConversationOut,
    openapi_extra=_DOC,
)
async def get_conversation(conversation_id: str, user: User, svc: State) -> dict[str, Any]:
    return await svc.conversations.get(user, conversation_id)


@router.post(
    "/v1/conversations/{conversation_id}",
    tags=[CONVERSATIONS],
    summary="Update a conversation's metadata",
    response_model=ConversationOut,
    openapi_extra=_DOC,
)
async def update_conversation(
    conversation_id: str, body: MetadataUpdate, user: User, svc: State
) -> dict[str, Any]:
    return await svc.conversations.update(user, conversation_id, body.metadata)


@router.delete(
    "/v1/conversations/{conversation_id}",
    tags=[CONVERSATIONS],
    summary="Delete a conversation and its items",
    response_model=Deleted,
    openapi_extra=_DOC,
)
async def delete_conversation(conversation_id: str, user: User, svc: State) -> dict[str, Any]:
    await svc.conversations.delete(user, conversation_id)
    return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}


@router.post(
    "/v1/conversations/{conversation_id}/items",
    tags=[CONVERSATIONS],
    summary="Add items to a conversation (up to 20)",
    response_model=ObjectList,
    openapi_extra=_DOC,
)
async def create_items(
    conversation_id: str, body: ItemsCreate, user: User, svc: State
) -> dict[str, Any]:
    added = await svc.conversations.add_items(user, conversation_id, body.items)
    return list_out(Page(added, has_more=False))


@router.get(
    "/v1/conversations/{conversation_id}/items",
    tags=[CONVERSATIONS],
    summary="List a conversation's items",
    response_model=ObjectList,
    openapi_extra=_DOC,
)
async def list_items(
    conversation_id: str,
    user: User,
    svc: State,
    after: After = None,
    limit: Limit = 20,
    order: Order = None,
) -> dict[str, Any]:
    query = _query(after, limit, order, "desc")
    return list_out(await svc.conversations.items(user, conversation_id, query))


@router.get(
    "/v1/conversations/{conversation_id}/items/{item_id}",
    tags=[CONVERSATIONS],
    summary="Get a conversation item",
    openapi_extra=_DOC,
)
async def get_item(conversation_id: str, item_id: str, user: User, svc: State) -> dict[str, Any]:
    return await svc.conversations.item(user, conversation_id, item_id)


@router.delete(
    "/v1/conversations/{conversation_id}/items/{item_id}",
    tags=[CONVERSATIONS],
    summary="Delete a conversation item (returns the conversation)",
    response_model=ConversationOut,
    openapi_extra=_DOC,
)
async def delete_item(conversation_id: str, item_id: str, user: User, svc: State) -> dict[str, Any]:
    return await svc.conversations.delete_item(user, conversation_id, item_id)


# ---------------------------------------------------------------- stored chat completions
COMPLETIONS = "OpenAI: stored chat completions"
_METADATA_BODY = {
    **_DOC,
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"metadata": {"anyOf": [METADATA_SCHEMA, {"type": "null"}]}},
                }
            }
        },
    },
}


def _metadata_filter(request: Request) -> dict[str, str]:
    """``metadata[key]=value`` query pairs, as the SDK sends a metadata filter."""
    pairs: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name.startswith("metadata[") and name.endswith("]"):
            pairs[name[len("metadata[") : -1]] = value
    return pairs


@router.get(
    "/v1/chat/completions",
    tags=[COMPLETIONS],
    summary="List stored chat completions (model and metadata[key]=value filters)",
    response_model=ObjectList,
    openapi_extra=_DOC,
)
async def list_completions(
    request: Request,
    user: User,
    svc: State,
    model: str | None = None,
    after: After = None,
    limit: Limit = 20,
    order: Order = None,
) -> dict[str, Any]:
    query = _query(after, limit, order, "asc")
    page = await svc.completions.search(user, model, _metadata_filter(request), query)
    return list_out(page)


@router.get(
    "/v1/chat/completions/{completion_id}",
    tags=[COMPLETIONS],
    summary="Get a stored chat completion",
    openapi_extra=_DOC,
)
async def get_completion(completion_id: str, user: User, svc: State) -> dict[str, Any]:
    return await svc.completions.get(user, completion_id)


@router.post(
    "/v1/chat/completions/{completion_id}",
    tags=[COMPLETIONS],
    summary="Update a stored chat completion's metadata (without metadata: get it)",
    openapi_extra=_METADATA_BODY,
)
async def update_completion(
    completion_id: str, request: Request, user: User, svc: State
) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("We could not parse the JSON body of your request.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if "metadata" not in body:
        return await svc.completions.get(user, completion_id)
    return await svc.completions.update(user, completion_id, body["metadata"])


@router.delete(
    "/v1/chat/completions/{completion_id}",
    tags=[COMPLETIONS],
    summary="Delete a stored chat completion",
    response_model=Deleted,
    openapi_extra=_DOC,
)
async def delete_completion(completion_id: str, user: User, svc: State) -> dict[str, Any]:
    await svc.completions.delete(user, completion_id)
    return {"id": completion_id, "object": "chat.completion.deleted", "deleted": True}


@router.get(
    "/v1/chat/completions/{completion_id}/messages",
    tags=[COMPLETIONS],
    summary="List a stored chat completion's request messages",
    response_model=ObjectList,
    openapi_extra=_DOC,
)
async def list_messages(
    completion_id: str,
    user: User,
    svc: State,
    after: After = None,
    limit: Limit = 20,
    order: Order = None,
) -> dict[str, Any]:
    query = _query(after, limit, order, "asc")
    return list_out(await svc.completions.messages(user, completion_id, query))
