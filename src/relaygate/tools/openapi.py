"""OpenAPI description of the tool routes (raw ASGI, so the framework cannot see them),
written from the same :class:`~relaygate.tools.params.Param` records that check the
calls: the document and the routes accept the same things."""

from __future__ import annotations

from typing import Any

from relaygate.core.envelope import ErrorEnvelope
from relaygate.tools.flux import PARAMS as FLUX_PARAMS
from relaygate.tools.nd import ND_PARAMS
from relaygate.tools.params import Param
from relaygate.tools.routes import ROUTES, TASKS_PATH, VOICE_PARAMS, VOICES_PATH
from relaygate.tools.search import GOOGLE_PARAMS, SERPER_PARAMS
from relaygate.tools.tts import FORMATS, SSML_TYPES, TTS_PARAMS

__all__ = ["IMAGE_TAG", "TAG", "tool_paths"]

TAG = "tools: search and speech"
IMAGE_TAG = "tools: images (Flux, ND)"
_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
_WHY = {
    400: "A parameter outside its documented range (the message names it), or the"
    " upstream refused the call",
    401: "No API key, an unknown one, or a key not permitted to use this tool",
    402: "The balance cannot pay for this call",
    403: "A VIP-only tool and a free account",
    404: "No channel serves this tool yet (or the upstream answered 404)",
    409: "The upstream answered 409",
    413: "The body is larger than the gateway takes (or the upstream said so)",
    429: "Too many requests for the account's RPM tier; retry after `retry-after` seconds",
    431: "The request headers are too large",
    500: "A bug in Relaygate; the connection closes after this answer",
    502: "The upstream answered badly (every channel tried); never billed",
    503: "No channel could be reached (or every breaker is open); never billed",
    504: "The upstream did not answer in time; never billed",
}
_IMAGE_WHY = {
    **_WHY,
    400: "A parameter outside its documented range (the message names it), or the"
    " upstream refused the call (its moderation included); never billed",
    502: "The upstream's task failed on every channel; never billed",
    504: "The images were not ready within tools_task_timeout_seconds; never billed"
    " (async=true suits long jobs)",
}
_CALL_ERRORS = (400, 401, 402, 403, 404, 409, 413, 429, 431, 500, 502, 503, 504)
_VOICE_ERRORS = (400, 401, 404, 409, 413, 431, 500, 502, 503, 504)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UPSTREAM_JSON = {
    "application/json": {
        "schema": {"type": "object", "description": "The upstream's answer, as it came"}
    }
}


def _errors(*statuses: int, why: dict[int, str] = _WHY) -> dict[str, Any]:
    schema = ErrorEnvelope.model_json_schema()
    content = {"application/json": {"schema": schema}}
    return {str(s): {"description": why[s], "content": content} for s in statuses}


def _query(params: tuple[Param, ...]) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "schema": p.schema(),
            "description": p.description,
        }
        for p in params
    ]


def _object(params: tuple[Param, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [p.name for p in params if p.required],
        "properties": {p.name: p.schema() for p in params},
        "additionalProperties": False,
    }


def _operation(summary: str, description: str, tag: str = TAG, **fields: Any) -> dict[str, Any]:
    return {"tags": [tag], "summary": summary, "description": description,
            "security": _SECURITY, **fields}  # fmt: skip


def _google() -> dict[str, Any]:
    return _operation(
        "Google Custom Search",
        "Google's Custom Search JSON API, relayed: Google's JSON answer as it came. Billed"
        " per call (`google-search`); `key` may carry the Relaygate key instead of the"
        " `Authorization` header. `start` + `num` may be at most 100.",
        parameters=_query(GOOGLE_PARAMS),
        responses={
            "200": {"description": "Google's answer", "content": _UPSTREAM_JSON},
            **_errors(*_CALL_ERRORS),
        },
    )


def _serper() -> dict[str, Any]:
    schema = _object(SERPER_PARAMS)
    return _operation(
        "Google search by Serper",
        "A form (or a JSON object); Serper's JSON answer as it came. Billed per call"
        " (`serper-search`).",
        requestBody={
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            },
        },
        responses={
            "200": {"description": "Serper's answer", "content": _UPSTREAM_JSON},
            **_errors(*_CALL_ERRORS),
        },
    )


def _tts() -> dict[str, Any]:
    fields = _object(TTS_PARAMS)
    ssml = {"schema": {"type": "string", "description": "An SSML document (no DTD)"}}
    output = {"type": "string", "enum": list(FORMATS), "default": FORMATS[3]}
    return _operation(
        "Azure text to speech",
        "SSML (`application/ssml+xml`, the format in `output_format` or Azure's"
        " `X-Microsoft-OutputFormat` header) or the fields `text`, `voice`, `rate`, `pitch`,"
        " `output_format` as a form or JSON. The audio is streamed as Azure sends it."
        " Billed per character of text (`azure-tts`), SSML markup not counted.",
        parameters=[
            {"name": "output_format", "in": "query", "required": False, "schema": output},
            {
                "name": "X-Microsoft-OutputFormat",
                "in": "header",
                "required": False,
                "schema": output,
            },
        ],  # fmt: skip
        requestBody={
            "required": True,
            "content": {
                **dict.fromkeys(SSML_TYPES, ssml),
                "application/x-www-form-urlencoded": {"schema": fields},
                "application/json": {"schema": fields},
            },
        },
        responses={
            "200": {
                "description": "The audio, streamed",
                "content": {
                    "audio/mpeg": _BINARY,
                    "audio/x-wav": _BINARY,
                    "audio/ogg": _BINARY,
                    "audio/webm": _BINARY,
                    "application/octet-stream": _BINARY,
                },
            },
            **_errors(*_CALL_ERRORS),
        },
    )


def _voices() -> dict[str, Any]:
    voice = {
        "type": "object",
        "properties": {
            name: {"type": "string"}
            for name in (
                "Name",
                "DisplayName",
                "LocalName",
                "ShortName",
                "Gender",
                "Locale",
                "LocaleName",
                "SampleRateHertz",
                "VoiceType",
                "Status",
                "WordsPerMinute",
            )
        },  # fmt: skip
    }
    return _operation(
        "Azure text-to-speech voices",
        "Azure's voice list (cached), filtered by `locale` (`zh-CN`, or `zh` for every"
        " Chinese locale) and `gender`. Free: the key needs permission for `azure-tts`.",
        parameters=_query(VOICE_PARAMS),
        responses={
            "200": {
                "description": "The voices that match",
                "content": {"application/json": {"schema": {"type": "array", "items": voice}}},
            },
            **_errors(*_VOICE_ERRORS),
        },
    )


_IMAGE_OUTPUT = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {
            "type": "string",
            "description": "The stored image's link (public, or the owner's download), or"
            " the upstream's own URL when it could not be stored",
        },
        "fileUniqueID": {"type": "string", "description": "The stored file's id"},
        "is_public": {"type": "boolean"},
        "stored": {"type": "boolean", "description": "false: the URL is the upstream's"},
        "note": {"type": "string", "description": "Why the image was not stored"},
        "content_type": {"type": "string", "examples": ["image/jpeg"]},
        "b64_json": {"type": "string", "description": "response_format=b64_json"},
        "seed": {"type": "integer"},
    },
}
_OUTPUTS = {"type": "array", "items": _IMAGE_OUTPUT}
_ERROR = ErrorEnvelope.model_json_schema()


def _enveloped(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["statusCode", "message", "data"],
                "properties": {
                    "statusCode": {"type": "integer"},
                    "message": {"type": "string"},
                    "data": data,
                },
            }
        }
    }


_IMAGE_ERRORS = (400, 401, 402, 404, 409, 413, 429, 431, 500, 502, 503, 504)
_MODELS = {
    "flux-schnell": "Flux Schnell",
    "flux-dev": "Flux Dev",
    "flux-pro": "Flux Pro",
    "flux-1.1-pro": "Flux Pro 1.1",
    "flux-1.1-pro-ultra": "Flux 1.1 Pro Ultra",
    "nd": "ND image generation",
}


def _image(model: str, params: tuple[Param, ...]) -> dict[str, Any]:
    schema = _object(params)
    answer = {
        "type": "object",
        "description": "The images (outputs), or with async=true the task (task_id, status)",
        "properties": {
            "outputs": _OUTPUTS,
            "task_id": {"type": "string"},
            "model": {"type": "string"},
            "status": {"type": "string", "enum": ["pending"]},
        },
    }
    return _operation(
        _MODELS[model],
        f"A form (the platform's convention) or a JSON object. Billed per image returned"
        f" (`{model}`); a failed, refused or timed-out task is not billed. The images are"
        " stored in the caller's files (public or private link: `is_public`);"
        " `async=true` answers a task id at once (read it at"
        " `GET /api/v1/ai/draw/tasks/{task_id}`).",
        IMAGE_TAG,
        requestBody={
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            },
        },
        responses={
            "200": {"description": "The images, or the task", "content": _enveloped(answer)},
            **_errors(*_IMAGE_ERRORS, why=_IMAGE_WHY),
        },
    )


def _task() -> dict[str, Any]:
    task = {
        "type": "object",
        "required": ["task_id", "model", "status", "created_at"],
        "properties": {
            "task_id": {"type": "string"},
            "model": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "outputs": _OUTPUTS,
            "error": _ERROR,
        },
    }
    return _operation(
        "An image task",
        "An `async=true` image call's task: `pending`, then `succeeded` with its outputs or"
        " `failed` with its error (never billed). Only its owner may read it (any of"
        " their keys); it is kept for `tools_task_keep_seconds` (a day).",
        IMAGE_TAG,
        parameters=[
            {
                "name": "task_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        ],
        responses={
            "200": {"description": "The task", "content": _enveloped(task)},
            **_errors(401, 404, 431, 500),
        },
    )


def tool_paths() -> dict[str, Any]:
    """Every tool route, by path and method."""
    operations = {"google-search": _google, "serper-search": _serper, "azure-tts": _tts}
    params = {**FLUX_PARAMS, "nd": ND_PARAMS}
    paths: dict[str, Any] = {}
    for route in ROUTES:
        model = route.tool.model
        made = _image(model, params[model]) if model in params else operations[model]()
        paths[route.path] = {route.method.lower(): made}
    paths[VOICES_PATH] = {"get": _voices()}
    paths[TASKS_PATH + "{task_id}"] = {"get": _task()}
    return paths
