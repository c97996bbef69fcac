"""Fake tool upstreams on the one server base (tests/fakes/scripted.py): Google's Custom
Search JSON API, Serper, and Azure Speech (synthesis and the voice list).

Each checks its key where the real service takes it (Google: the ``key`` query
parameter; Serper: ``X-API-KEY``; Azure: ``Ocp-Apim-Subscription-Key``) and refuses a
wrong one as the real service would (Google 400 ``API_KEY_INVALID``, Serper 403, Azure
401), and answers by default in the
service's own shape; tests script anything else (errors, cuts, held streams).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: N817
from typing import Any

from aiohttp import web

from tests.fakes.scripted import ScriptedServer, Seen, Step

__all__ = ["AUDIO", "VOICES", "FakeAzureSpeech", "FakeGoogle", "FakeSerper"]

AUDIO = [b"ID3-first-frame-", b"second-frame-", b"last-frame"]
VOICES: list[dict[str, Any]] = [
    {"Name": "Microsoft Server Speech Text to Speech Voice (zh-CN, XiaoxiaoNeural)",
     "DisplayName": "Xiaoxiao", "LocalName": "晓晓", "ShortName": "zh-CN-XiaoxiaoNeural",
     "Gender": "Female", "Locale": "zh-CN", "LocaleName": "Chinese (Mandarin, Simplified)",
     "SampleRateHertz": "24000", "VoiceType": "Neural", "Status": "GA",
     "WordsPerMinute": "285"},
    {"Name": "Microsoft Server Speech Text to Speech Voice (zh-CN, YunxiNeural)",
     "DisplayName": "Yunxi", "LocalName": "云希", "ShortName": "zh-CN-YunxiNeural",
     "Gender": "Male", "Locale": "zh-CN", "LocaleName": "Chinese (Mandarin, Simplified)",
     "SampleRateHertz": "24000", "VoiceType": "Neural", "Status": "GA"},
    {"Name": "Microsoft Server Speech Text to Speech Voice (zh-TW, HsiaoChenNeural)",
     "DisplayName": "HsiaoChen", "LocalName": "曉臻", "ShortName": "zh-TW-HsiaoChenNeural",
     "Gender": "Female", "Locale": "zh-TW", "LocaleName": "Chinese (Taiwanese Mandarin)",
     "SampleRateHertz": "24000", "VoiceType": "Neural", "Status": "GA"},
    {"Name": "Microsoft Server Speech Text to Speech Voice (en-US, JennyNeural)",
     "DisplayName": "Jenny", "LocalName": "Jenny", "ShortName": "en-US-JennyNeural",
     "Gender": "Female", "Locale": "en-US", "LocaleName": "English (United States)",
     "SampleRateHertz": "24000", "VoiceType": "Neural", "Status": "GA"},
]  # fmt: skip


class FakeGoogle(ScriptedServer):
    def __init__(self, api_key: str = "google-key") -> None:
        super().__init__()
        self.api_key = api_key

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/customsearch/v1", self._search)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._default)

    def _default(self, seen: Seen) -> Step:
        if seen.query.get("key") != self.api_key:  # as Google answers it: a 400
            error = {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{"reason": "API_KEY_INVALID", "domain": "googleapis.com"}],
            }
            return Step(status=400, json={"error": error})
        q = seen.query.get("q", "")
        items = [
            {"title": f"{q} result {n}", "link": f"https://example.test/{n}",
             "snippet": f"About {q}"}
            for n in range(1, int(seen.query.get("num", "10")) + 1)
        ]  # fmt: skip
        return Step(
            json={
                "kind": "customsearch#search",
                "queries": {"request": [{"searchTerms": q, "cx": seen.query.get("cx")}]},
                "searchInformation": {"totalResults": str(len(items))},
                "items": items,
            }
        )


class FakeSerper(ScriptedServer):
    def __init__(self, api_key: str = "serper-key") -> None:
        super().__init__()
        self.api_key = api_key

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/search", self._search)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._default)

    def _default(self, seen: Seen) -> Step:
        if seen.headers.get("X-API-KEY") != self.api_key:
            return Step(status=403, json={"message": "Unauthorized.", "statusCode": 403})
        params = seen.json
        return Step(
            json={
                "searchParameters": {**params, "type": "search", "engine": "google"},
                "organic": [
                    {"title": f"{params['q']} on Serper", "link": "https://example.test/s",
                     "snippet": "A result", "position": 1}
                ],
            }
        )  # fmt: skip


class FakeAzureSpeech(ScriptedServer):
    """Synthesis answers ``AUDIO`` in three chunks (``audio/mpeg``) after checking that the
    body is SSML with a voice; the voice list answers ``VOICES``."""

    def __init__(self, api_key: str = "azure-speech-key") -> None:
        super().__init__()
        self.api_key = api_key

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/cognitiveservices/v1", self._synthesis)
        app.router.add_get("/cognitiveservices/voices/list", self._voices)

    def syntheses(self) -> list[Seen]:
        return [s for s in self.seen if s.path == "/cognitiveservices/v1"]

    async def _synthesis(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._speak)

    async def _voices(self, request: web.Request) -> web.StreamResponse:
        return await self.answer(request, self._list)

    def _refused(self, seen: Seen) -> Step | None:
        if seen.headers.get("Ocp-Apim-Subscription-Key") != self.api_key:
            return Step(status=401, body=b"", content_type="text/plain")
        return None

    def _speak(self, seen: Seen) -> Step:
        refused = self._refused(seen)
        if refused is not None:
            return refused
        try:
            root = ET.fromstring(seen.body)
        except ET.ParseError:
            return Step(status=400, body=b"invalid SSML", content_type="text/plain")
        if not root.tag.endswith("speak"):
            return Step(status=400, body=b"root must be speak", content_type="text/plain")
        return Step(chunks=list(AUDIO), content_type="audio/mpeg")

    def _list(self, seen: Seen) -> Step:
        return self._refused(seen) or Step(json=VOICES)
