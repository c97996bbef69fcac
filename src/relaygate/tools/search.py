"""The search tools: Google Custom Search (``GET``) and Google by Serper (``POST``).

Both relay the upstream's JSON as it came (Google's ``items``/``searchInformation``,
Serper's ``organic``/``knowledgeGraph``/...), after checking every parameter against the
upstream's documented range here, so a mistyped call is a 400 that costs nothing rather
than an upstream error. Each call is billed the tool's per-call price; ``cache=false``
asks for a fresh answer instead of the search cache's (tools/cache.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from relaygate.core.errors import InvalidRequest, UpstreamBadResponse
from relaygate.core.forms import parse_body
from relaygate.core.units import Usage
from relaygate.tools.cache import search_key
from relaygate.tools.params import Param, read_params
from relaygate.tools.record import Answered, Incoming, Tool, ToolJob

__all__ = ["GOOGLE", "GOOGLE_PARAMS", "SERPER", "SERPER_PARAMS", "json_answer"]

GOOGLE_ENDPOINT = "tools/search/google"
SERPER_ENDPOINT = "tools/search/serper"
_JSON = b"application/json"
_QUERY = Param("q", required=True, max_length=2048, pattern=r"\S", description="The query")
_CACHE = Param(
    "cache",
    "boolean",
    "Relaygate's: false asks for a fresh answer, never one from the search cache",
    default=True,
    forward=False,
)
_COUNTRY = r"^[A-Za-z]{2}$"
_LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,4})?$"
_WORD = r"^[A-Za-z]{3,20}$"

GOOGLE_PARAMS = (
    _QUERY,
    Param("num", "integer", "Results to return", minimum=1, maximum=10, default=10),
    Param("start", "integer", "Index of the first result", minimum=1, maximum=100, default=1),
    Param(
        "cx", description="Search engine id (default: the channel's)", pattern=r"^[A-Za-z0-9:_-]+$"
    ),
    Param("safe", enum=("active", "off")),
    Param("filter", enum=("0", "1"), description="Duplicate content filter"),
    Param("c2coff", enum=("0", "1"), description="Simplified/Traditional Chinese search"),
    Param("lr", pattern=r"^lang_[A-Za-z-]{2,10}$", description="Language restriction: lang_xx"),
    Param("cr", max_length=200, description="Country restriction: countryXX, with operators"),
    Param("gl", pattern=_COUNTRY, description="Geolocation of the end user (country code)"),
    Param("hl", pattern=_LANGUAGE, description="Interface language"),
    Param("dateRestrict", pattern=r"^[dwmy][0-9]{1,4}$", description="d[n], w[n], m[n], y[n]"),
    Param("exactTerms", max_length=500),
    Param("excludeTerms", max_length=500),
    Param("orTerms", max_length=500),
    Param("hq", max_length=500, description="Appended to the query as with AND"),
    Param("fileType", max_length=100),
    Param("siteSearch", max_length=500),
    Param("siteSearchFilter", enum=("e", "i")),
    Param("linkSite", max_length=500),
    Param("sort", max_length=200),
    Param("rights", max_length=200),
    Param("lowRange", max_length=100),
    Param("highRange", max_length=100),
    Param("searchType", enum=("image",)),
    Param("imgSize", pattern=_WORD),
    Param("imgType", pattern=_WORD),
    Param("imgColorType", pattern=_WORD),
    Param("imgDominantColor", pattern=_WORD),
    Param("alt", enum=("json",), forward=False),
    Param(
        "key",
        max_length=200,
        forward=False,
        description="Your Relaygate API key, for clients that cannot send a header; never sent on",
    ),
    _CACHE,
)
SERPER_PARAMS = (
    _QUERY,
    Param("gl", pattern=_COUNTRY, description="Country of the search (code)"),
    Param("hl", pattern=_LANGUAGE, description="Language of the results"),
    Param("page", "integer", "Page of results", minimum=1, maximum=100, default=1),
    Param("num", "integer", "Results per page", minimum=1, maximum=100, default=10),
    Param("location", max_length=200, description="Where the search is made from"),
    Param("tbs", max_length=100, description="Time range, e.g. qdr:d"),
    Param("autocorrect", "boolean"),
    _CACHE,
)
_GOOGLE_WINDOW = 100  # Google never returns past its 100th result: start + num <= 100


def _forwarded(params: tuple[Param, ...], values: dict[str, Any]) -> dict[str, Any]:
    kept = {param.name for param in params if param.forward}
    return {name: value for name, value in values.items() if name in kept}


def _job(model: str, params: tuple[Param, ...], values: dict[str, Any]) -> ToolJob:
    payload = _forwarded(params, values)
    cache_key = search_key(model, payload) if values.get("cache", True) else None
    return ToolJob(model, payload, Usage(), cache_key=cache_key)


def parse_google(incoming: Incoming) -> ToolJob:
    """``GET`` query parameters, as Google's Custom Search JSON API names them."""
    raw = dict(parse_qsl(incoming.query.decode("utf-8", "replace"), keep_blank_values=True))
    values = read_params(GOOGLE_PARAMS, raw)
    start, num = values.get("start", 1), values.get("num", 10)
    if start + num > _GOOGLE_WINDOW:
        raise InvalidRequest(
            f"'start' + 'num' may be at most {_GOOGLE_WINDOW} (Google returns no results"
            " past its 100th).",
            param="start",
        )
    return _job(GOOGLE.model, GOOGLE_PARAMS, values)


def parse_serper(incoming: Incoming) -> ToolJob:
    """A form (the platform's convention) or a JSON object (Serper's own)."""
    values = read_params(SERPER_PARAMS, parse_body(incoming.body, incoming.content_type))
    return _job(SERPER.model, SERPER_PARAMS, values)


def json_answer(data: bytes, job: ToolJob) -> Answered:
    """A search answer is relayed as it came, once it proved a JSON object."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamBadResponse("The upstream returned a body that is not valid JSON.")
    return Answered(data, _JSON, job.units)


GOOGLE = Tool(
    model="google-search",
    endpoint=GOOGLE_ENDPOINT,
    channel_types=frozenset({"google_search"}),
    parse=parse_google,
    answer=json_answer,
    query_key=True,
)
SERPER = Tool(
    model="serper-search",
    endpoint=SERPER_ENDPOINT,
    channel_types=frozenset({"serper"}),
    parse=parse_serper,
    answer=json_answer,
)
