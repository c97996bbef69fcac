"""What every image tool (Flux, ND) reads besides its model's own parameters, and how a
checked call becomes a :class:`~relaygate.tools.record.ToolJob`.

Relaygate's own parameters (``response_format``, ``ohmygpt_webhook_url``, ``async``,
``is_public``) say how the images reach the caller and are never sent upstream; the
model's parameters are, with the platform's documented defaults written in, so a call
that leaves one out gets the platform's default rather than whatever the upstream's
own default happens to be (Black Forest Labs' differ for steps, guidance and safety).
The hold is for the images asked for; the bill is for the images returned.
"""

from __future__ import annotations

from typing import Any

from relaygate.core.forms import parse_body
from relaygate.core.units import Usage
from relaygate.relay.media.webhook import MAX_URL_LENGTH, WEBHOOK_FIELD, check_webhook_url
from relaygate.tools.params import Param, read_params
from relaygate.tools.record import ImageDelivery, Incoming, ToolJob

__all__ = [
    "ASPECT_RATIOS",
    "DELIVERY_PARAMS",
    "FLUX_ENDPOINT",
    "ND_ENDPOINT",
    "PROBE_ENDPOINT",
    "SEED",
    "image_job",
    "model_param",
    "prompt_param",
]

FLUX_ENDPOINT = "tools/draw/flux"
ND_ENDPOINT = "tools/draw/nd"
PROBE_ENDPOINT = "tools/draw/probe"  # a channel test: reads a task that does not exist
MAX_PROMPT = 10_000
ASPECT_RATIOS = ("1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
SEED = Param(
    "seed", "integer", "For a reproducible image", minimum=0, maximum=2**32 - 1
)  # fmt: skip

_PORT = r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"

DELIVERY_PARAMS = (
    Param(
        "response_format",
        enum=("url", "b64_json"),
        default="url",
        forward=False,
        description="b64_json: each image's bytes (base64) as well as its URL",
    ),
    Param(
        WEBHOOK_FIELD,
        max_length=MAX_URL_LENGTH,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~-]+" + _PORT + r"(/[!-~]*)?$",
        forward=False,
        description="A public http(s) URL the outcome is POSTed to once, success or failure",
    ),
    Param(
        "async",
        "boolean",
        "true: answer a task id at once; read the images at GET /api/v1/ai/draw/tasks/{id}",
        default=False,
        forward=False,
    ),
    Param(
        "is_public",
        "boolean",
        "The stored images' links: public (opened by anyone who has the link) or"
        " private (the owner's key downloads them)",
        default=True,
        forward=False,
    ),
)


def prompt_param() -> Param:
    return Param(
        "prompt",
        required=True,
        max_length=MAX_PROMPT,
        pattern=r"\S",
        description="What to draw",
    )


def model_param(*names: str) -> Param:
    """The form's ``model``: the route's model (the platform also shows an alias or two);
    the route, not the field, decides the model that is priced and permitted."""
    return Param(
        "model", enum=names, default=names[0], forward=False, description="The route's model"
    )


def _payload(params: tuple[Param, ...], values: dict[str, Any]) -> dict[str, Any]:
    """The forwarded parameters, each documented default filled in."""
    payload: dict[str, Any] = {}
    for param in params:
        if not param.forward:
            continue
        value = values.get(param.name, param.default)
        if value is not None:
            payload[param.name] = value
    return payload


def image_job(
    model: str, params: tuple[Param, ...], incoming: Incoming, count: str | None
) -> ToolJob:
    """A form (the platform's convention) or a JSON object, checked against ``params``
    (which end with :data:`DELIVERY_PARAMS`); ``count``: the parameter that asks for
    several images (none: one)."""
    values = read_params(params, parse_body(incoming.body, incoming.content_type))
    payload = _payload(params, values)
    delivery = ImageDelivery(
        b64=values.get("response_format") == "b64_json",
        public=values.get("is_public", True),
        webhook=check_webhook_url(values.get(WEBHOOK_FIELD)),
        background=values.get("async", False),
    )
    images = int(payload.get(count, 1)) if count else 1
    return ToolJob(model, payload, Usage(images=images), delivery=delivery)
