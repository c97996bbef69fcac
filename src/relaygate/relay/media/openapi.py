"""OpenAPI description of the media routes (merged by ``relay/openapi.py``).

The bodies follow OpenAI's published schemas (CreateImageRequest, CreateImageEditRequest,
CreateSpeechRequest, CreateTranscriptionRequest, CreateTranslationRequest), reduced to
the fields the gateway reads or adds; every other field is passed upstream as sent.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.openapi import SSE_CONTENT
from relaygate.relay.openapi_common import OPENAI_ERRORS as _ERRORS
from relaygate.relay.openapi_common import OPENAI_TAG as _TAG

__all__ = ["media_paths"]

_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
_WEBHOOK = {
    "type": "string",
    "format": "uri",
    "maxLength": 2000,
    "description": "Platform extension: POSTed once with the outcome (docs/media.md).",
}
_FILE = {"type": "string", "format": "binary"}


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": True,
    }


def _operation(
    summary: str, bodies: dict[str, Any], answers: dict[str, Any], description: str
) -> dict[str, Any]:
    return {
        "post": {
            "tags": [_TAG],
            "summary": summary,
            "description": description,
            "security": _SECURITY,
            "requestBody": {"required": True, "content": bodies},
            "responses": {
                "200": {"description": "The upstream's answer", "content": answers},
                **_ERRORS,
            },
        }
    }


def _images_answer() -> dict[str, Any]:
    return {
        "application/json": {"schema": {"$ref": "#/components/schemas/ImagesResponse"}},
        "text/event-stream": SSE_CONTENT,
    }


def _generation() -> dict[str, Any]:
    schema = _object(
        ["prompt"],
        {
            "prompt": {"type": "string", "minLength": 1},
            "model": {"type": "string", "minLength": 1, "default": "dall-e-2"},
            "n": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
            "size": {"type": "string"},
            "quality": {"type": "string"},
            "response_format": {"type": "string", "enum": ["url", "b64_json"]},
            "output_compression": {"type": "integer"},
            "partial_images": {"type": "integer", "minimum": 0, "maximum": 3},
            "stream": {"type": "boolean", "default": False},
            "ohmygpt_webhook_url": _WEBHOOK,
        },
    )
    bodies = {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema},
    }
    note = "JSON or form-urlencoded (form values are coerced: n, output_compression, ...)."
    return _operation("Create images", bodies, _images_answer(), note)


def _edit() -> dict[str, Any]:
    schema = _object(
        ["image", "prompt"],
        {
            "image": {"oneOf": [_FILE, {"type": "array", "items": _FILE, "maxItems": 16}]},
            "image[]": {"type": "array", "items": _FILE},
            "mask": _FILE,
            "prompt": {"type": "string", "minLength": 1},
            "model": {"type": "string", "minLength": 1},
            "n": {"type": "integer", "minimum": 1, "maximum": 10},
            "size": {"type": "string"},
            "quality": {"type": "string"},
            "response_format": {"type": "string", "enum": ["url", "b64_json"]},
            "background": {"type": "string"},
            "stream": {"type": "boolean"},
            "ohmygpt_webhook_url": _WEBHOOK,
        },
    )
    note = (
        "multipart/form-data: one or several images (image or image[]), optional mask;"
        " a file is a part with a `filename` (a part without one is text, so the image"
        " is missing: a 400)."
    )
    bodies = {"multipart/form-data": {"schema": schema}}
    return _operation("Edit or extend images", bodies, _images_answer(), note)


_VOICE_NAME = {"type": "string", "minLength": 1}


def _speech() -> dict[str, Any]:
    schema = _object(
        ["model", "input", "voice"],
        {
            "model": {"type": "string", "minLength": 1},
            "input": {"type": "string", "minLength": 1, "maxLength": 4096},
            # an empty voice is refused as missing (media/request.py)
            "voice": {"oneOf": [_VOICE_NAME, {"type": "object"}]},
            "instructions": {"type": "string"},
            "response_format": {"type": "string"},
            "speed": {"type": "number", "minimum": 0.25, "maximum": 4},
            "stream_format": {"type": "string", "enum": ["sse", "audio"]},
        },
    )
    # a form carries text only: there the voice is a name, not an object
    form = {**schema, "properties": {**schema["properties"], "voice": _VOICE_NAME}}
    bodies = {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": form},
    }
    binary = {"schema": {"type": "string", "format": "binary"}}
    answers = {
        "audio/mpeg": binary,
        "audio/wav": binary,
        "application/octet-stream": binary,
        "text/event-stream": SSE_CONTENT,
    }
    note = "The audio is streamed as the upstream sends it, with its content type."
    return _operation("Generate audio from text", bodies, answers, note)


def _audio_in(summary: str, transcription: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "file": _FILE,
        "model": {"type": "string", "minLength": 1},
        "prompt": {"type": "string", "minLength": 1},
        "response_format": {
            "type": "string",
            "enum": ["json", "text", "srt", "verbose_json", "vtt"],
        },
        "temperature": {"type": "number"},
    }
    if transcription:
        properties["language"] = {"type": "string"}
        properties["timestamp_granularities[]"] = {"type": "array", "items": {"type": "string"}}
    bodies = {"multipart/form-data": {"schema": _object(["file", "model"], properties)}}
    answers = {
        "application/json": {"schema": {"type": "object", "required": ["text"]}},
        "text/plain": {"schema": {"type": "string"}},
    }
    note = "Billed per started second of audio, or by tokens when the upstream reports them."
    return _operation(summary, bodies, answers, note)


def media_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """The five media paths and the component schemas they refer to."""
    paths = {
        "/v1/images/generations": _generation(),
        "/v1/images/edits": _edit(),
        "/v1/audio/speech": _speech(),
        "/v1/audio/transcriptions": _audio_in("Transcribe audio into text", True),
        "/v1/audio/translations": _audio_in("Translate audio into English text", False),
    }
    schemas = {
        "ImagesResponse": {
            "type": "object",
            "required": ["created"],
            "properties": {
                "created": {"type": "integer"},
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string"},
                            "b64_json": {"type": "string"},
                            "revised_prompt": {"type": "string"},
                        },
                    },
                },
                "usage": {"type": "object"},
            },
        }
    }
    return paths, schemas
