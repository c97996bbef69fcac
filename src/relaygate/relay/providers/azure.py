"""Azure OpenAI as an upstream channel: OpenAI's wire format, Azure's addressing.

Azure serves the OpenAI API under a resource URL (``https://NAME.openai.azure.com``) and
authenticates with an ``api-key`` header. Two addressing schemes exist, chosen by the
channel's ``options.api_version``:

- a dated version (``2024-10-21``, ``2025-04-01-preview``, ...): the classic scheme, where
  the model is named by a *deployment* in the path:
  ``/openai/deployments/{deployment}/chat/completions?api-version=...``. The deployment is
  the channel's upstream model name (the model mapping: public name → deployment name).
  The Responses API has no deployment segment (``/openai/responses?api-version=...``).
- empty or ``v1``: Azure's version-less v1 API, ``/openai/v1/chat/completions``, with the
  deployment name in the body's ``model`` like OpenAI itself.

The body is the OpenAI body; Azure ignores or accepts its ``model`` field in both schemes.
"""

from __future__ import annotations

from urllib.parse import quote

from relaygate.channels.spec import ChannelSpec
from relaygate.relay.providers.base import UpstreamCall
from relaygate.relay.providers.http import clean_header_line
from relaygate.relay.providers.openai import OpenAIProvider

__all__ = ["AzureOpenAIProvider", "azure_url"]

_UNDEPLOYED = frozenset({"responses"})  # endpoints addressed without a deployment


def _root(base_url: str) -> str:
    """The resource URL, whether the operator pasted it bare or with ``/openai[/v1]``."""
    base = base_url.rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def azure_url(base_url: str, api_version: str, endpoint: str, deployment: str) -> str:
    """Where one call goes (``endpoint`` as OpenAI names it, e.g. ``chat/completions``)."""
    root = _root(base_url)
    if not api_version or api_version == "v1":
        return f"{root}/openai/v1/{endpoint}"
    version = quote(api_version, safe="")
    if endpoint.split("/", 1)[0] in _UNDEPLOYED:
        return f"{root}/openai/{endpoint}?api-version={version}"
    name = quote(deployment, safe="")
    return f"{root}/openai/deployments/{name}/{endpoint}?api-version={version}"


def _azure_header_lines(channel: ChannelSpec, key: str) -> bytes:
    pairs = {**channel.headers, "api-key": key, "Content-Type": "application/json"}
    return b"".join(clean_header_line(name, value) for name, value in pairs.items())


class AzureOpenAIProvider(OpenAIProvider):
    header_lines = staticmethod(_azure_header_lines)

    def url(self, channel: ChannelSpec, call: UpstreamCall) -> str:
        model = call.payload.get("model")
        deployment = model if isinstance(model, str) else ""
        return azure_url(channel.base_url, channel.api_version, call.endpoint, deployment)
