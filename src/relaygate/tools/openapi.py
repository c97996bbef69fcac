"""OpenAPI description of the tool routes (raw ASGI, so the framework cannot see them),
written from the same :class:`~relaygate.tools.params.Param` records that check the
calls: the document and the routes accept the same things."""

from __future__ import annotations

from typing import Any

from relaygate.core.envelope import ErrorEnvelope
from relaygate.tools.params import Param
from relaygate.tools.routes import ROUTES, VOICE_PARAMS, VOICES_PATH
from relaygate.tools.search import GOOGLE_PARAMS, SERPER_PARAMS
from relaygate.tools.tts import FORMATS, SSML_TYPES, TTS_PARAMS

__all__ = ["TAG", "tool_paths"]

TAG = "tools: search and speech"
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
_CALL_ERRORS = (400, 401, 402, 403, 404, 409, 413, 429, 431, 500, 502, 503, 504)
_VOICE_ERRORS = (400, 401, 404, 409, 413, 431, 500, 502, 503, 504)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UPSTREAM_JSON = {
    "application/json": {
        "schema": {"type": "object", "description": "The upstream's answer, as it came"}
    }
}


def _errors(*statuses: int) -> dict[str, Any]:
    schema = ErrorEnvelope.model_json_schema()
    content = {"application/json": {"schema": schema}}
    return {str(s): {"description": _WHY[s], "content": content} for s in statuses}


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


def _operation(summary: str, description: str, **fields: Any) -> dict[str, Any]:
    return {"tags": [TAG], "summary": summary, "description": description,
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


def tool_paths() -> dict[str, Any]:
    """Every tool route, by path and method."""
    operations = {"google-search": _google, "serper-search": _serper, "azure-tts": _tts}
    paths: dict[str, Any] = {
        route.path: {route.method.lower(): operations[route.tool.model]()} for route in ROUTES
    }
    paths[VOICES_PATH] = {"get": _voices()}
    return paths
