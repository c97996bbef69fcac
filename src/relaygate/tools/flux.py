"""The five Flux routes (platform-api.md §8.2-8.6): each model's parameters with the
platform's defaults and ranges, checked here so a mistyped call is a 400 naming the
parameter and costs nothing.

The parameters are the platform's (Replicate's names: ``num_outputs``,
``aspect_ratio``, ``num_inference_steps``...); the ``bfl`` channel type's provider
(tools/tasks.py) says them the way Black Forest Labs' API takes them. Every route is
billed per image returned, as the catalogue prices its model (``flux-schnell``,
``flux-dev``, ``flux-pro``, ``flux-1.1-pro``, ``flux-1.1-pro-ultra``).
"""

from __future__ import annotations

from relaygate.tools.draw_params import (
    ASPECT_RATIOS,
    DELIVERY_PARAMS,
    FLUX_ENDPOINT,
    SEED,
    image_job,
    model_param,
    prompt_param,
)
from relaygate.tools.params import Param
from relaygate.tools.record import Incoming, Tool, ToolJob

__all__ = [
    "FLUX_DEV",
    "FLUX_PRO",
    "FLUX_PRO_11",
    "FLUX_PRO_ULTRA",
    "FLUX_SCHNELL",
    "FLUX_TOOLS",
    "PARAMS",
]

_BFL = frozenset({"bfl"})
_IMAGE_URL = r"^([Hh][Tt][Tt][Pp][Ss]?://|data:image/)"
_NUM_OUTPUTS = Param("num_outputs", "integer", "Images to make", minimum=1, maximum=4, default=1)
_ASPECT = Param("aspect_ratio", enum=ASPECT_RATIOS, default="1:1")
_FORMAT = Param("output_format", enum=("webp", "jpg", "png"), default="webp")
_QUALITY = Param(
    "output_quality", "integer", "jpg and webp quality", minimum=0, maximum=100, default=80
)
_SAFETY_OFF = Param("disable_safety_checker", "boolean", default=True)
_UPSAMPLING = Param(
    "prompt_upsampling", "boolean", "Let the model elaborate the prompt", default=False
)

SCHNELL_PARAMS = (
    model_param("flux-schnell"),
    prompt_param(),
    _NUM_OUTPUTS,
    _ASPECT,
    SEED,
    _FORMAT,
    _QUALITY,
    _SAFETY_OFF,
    *DELIVERY_PARAMS,
)
DEV_PARAMS = (
    model_param("flux-dev"),
    prompt_param(),
    Param(
        "image",
        max_length=10 * 1024 * 1024,
        pattern=_IMAGE_URL,
        description="An http(s) or data URL: image to image (the output keeps its aspect ratio)",
    ),
    Param(
        "prompt_strength",
        "number",
        "Image to image: 0.6 to 0.9 recommended",
        minimum=0,
        maximum=1,
        default=0.8,
    ),  # fmt: skip
    _NUM_OUTPUTS,
    _ASPECT,
    Param(
        "num_inference_steps",
        "integer",
        "28 to 50 recommended",
        minimum=1,
        maximum=50,
        default=50,
    ),  # fmt: skip
    Param("guidance", "number", "3 to 5 recommended", minimum=0, maximum=10, default=3.5),
    SEED,
    _FORMAT,
    _QUALITY,
    _SAFETY_OFF,
    *DELIVERY_PARAMS,
)
PRO_PARAMS = (
    model_param("flux-pro"),
    prompt_param(),
    Param("steps", "integer", "Diffusion steps", minimum=1, maximum=50, default=25),
    Param("guidance", "number", "Prompt adherence", minimum=2, maximum=5, default=3),
    Param("interval", "number", "Variety of the output", minimum=1, maximum=4, default=2),
    Param("aspect_ratio", enum=("1:1", "16:9", "2:3", "3:2", "4:5", "5:4", "9:16"), default="1:1"),
    SEED,
    Param("safety_tolerance", "integer", "1 strictest, 5", minimum=1, maximum=5, default=5),
    _FORMAT,
    _QUALITY,
    _UPSAMPLING,
    *DELIVERY_PARAMS,
)
PRO_11_PARAMS = (
    model_param("flux-1.1-pro", "flux-11-pro"),
    prompt_param(),
    Param(
        "aspect_ratio",
        enum=("custom", "1:1", "16:9", "2:3", "3:2", "4:5", "5:4", "9:16", "3:4", "4:3"),
        default="1:1",
    ),
    Param(
        "width",
        "integer",
        "aspect_ratio=custom only; rounded to a multiple of 32",
        minimum=256,
        maximum=1440,
    ),  # fmt: skip
    Param(
        "height",
        "integer",
        "aspect_ratio=custom only; rounded to a multiple of 32",
        minimum=256,
        maximum=1440,
    ),  # fmt: skip
    Param("safety_tolerance", "integer", "1 strictest, 5", minimum=1, maximum=5, default=5),
    SEED,
    _FORMAT,
    _QUALITY,
    _UPSAMPLING,
    *DELIVERY_PARAMS,
)
ULTRA_PARAMS = (
    model_param("flux-1.1-pro-ultra", "flux-11-pro-ultra"),
    prompt_param(),
    Param(
        "image_prompt",
        max_length=10 * 1024 * 1024,
        pattern=_IMAGE_URL,
        description="A jpeg, png or webp image (http(s) or data URL) to start from",
    ),
    Param("image_prompt_strength", "number", minimum=0, maximum=1, default=0.1),
    Param(
        "aspect_ratio",
        enum=("21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3", "9:16", "9:21"),
        default="1:1",
    ),
    Param("safety_tolerance", "integer", "1 strictest, 6", minimum=1, maximum=6, default=5),
    SEED,
    Param("output_format", enum=("jpg", "png"), default="jpg"),
    Param("raw", "boolean", "Less processed, more natural images", default=False),
    *DELIVERY_PARAMS,
)


def _tool(model: str, params: tuple[Param, ...], count: str | None) -> Tool:
    def parse(incoming: Incoming) -> ToolJob:
        return image_job(model, params, incoming, count)

    return Tool(model, FLUX_ENDPOINT, _BFL, parse, task=True)


FLUX_SCHNELL = _tool("flux-schnell", SCHNELL_PARAMS, "num_outputs")
FLUX_DEV = _tool("flux-dev", DEV_PARAMS, "num_outputs")
FLUX_PRO = _tool("flux-pro", PRO_PARAMS, None)
FLUX_PRO_11 = _tool("flux-1.1-pro", PRO_11_PARAMS, None)
FLUX_PRO_ULTRA = _tool("flux-1.1-pro-ultra", ULTRA_PARAMS, None)
FLUX_TOOLS = (FLUX_SCHNELL, FLUX_DEV, FLUX_PRO, FLUX_PRO_11, FLUX_PRO_ULTRA)
# each tool's parameters, by its catalogue name (the OpenAPI operations are written from them)
PARAMS: dict[str, tuple[Param, ...]] = {
    "flux-schnell": SCHNELL_PARAMS,
    "flux-dev": DEV_PARAMS,
    "flux-pro": PRO_PARAMS,
    "flux-1.1-pro": PRO_11_PARAMS,
    "flux-1.1-pro-ultra": ULTRA_PARAMS,
}
