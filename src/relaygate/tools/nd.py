"""ND image generation (platform-api.md §8.1): ``POST /api/v1/ai/draw/nd``.

The platform's page for it was never found: its path, parameters and upstream are the
spec's design, and so are the ranges here (docs/tools.md says which). It is served by
``nd`` channels, a generic task API Relaygate defines (tools/tasks.py: submit, then
poll), so any diffusion backend behind a small adapter can serve it. Billed per image
returned (``nd`` in the catalogue).
"""

from __future__ import annotations

from relaygate.tools.draw_params import (
    DELIVERY_PARAMS,
    ND_ENDPOINT,
    SEED,
    image_job,
    model_param,
    prompt_param,
)
from relaygate.tools.params import Param
from relaygate.tools.record import Incoming, Tool, ToolJob

__all__ = ["ND", "ND_PARAMS", "SAMPLERS"]

SAMPLERS = (
    "k_euler",
    "k_euler_ancestral",
    "k_dpmpp_2m",
    "k_dpmpp_2s_ancestral",
    "k_dpmpp_sde",
    "ddim",
)
_SIDE = "64 to 2048 pixels, rounded down to a multiple of 8"

ND_PARAMS = (
    model_param("nd"),
    prompt_param(),
    Param("negative_prompt", max_length=10_000, description="What the image must not show"),
    Param("width", "integer", _SIDE, minimum=64, maximum=2048, default=1024),
    Param("height", "integer", _SIDE, minimum=64, maximum=2048, default=1024),
    Param("steps", "integer", "Sampling steps", minimum=1, maximum=100, default=28),
    Param("scale", "number", "Prompt adherence (CFG scale)", minimum=1, maximum=30, default=7),
    Param("sampler", enum=SAMPLERS, default="k_euler_ancestral"),
    SEED,
    Param("n", "integer", "Images to make", minimum=1, maximum=4, default=1),
    *DELIVERY_PARAMS,
)


def parse_nd(incoming: Incoming) -> ToolJob:
    job = image_job(ND.model, ND_PARAMS, incoming, "n")
    for side in ("width", "height"):
        job.payload[side] -= job.payload[side] % 8
    return job


ND = Tool("nd", ND_ENDPOINT, frozenset({"nd"}), parse_nd, task=True)
