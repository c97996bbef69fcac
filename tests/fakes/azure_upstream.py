"""A fake Azure OpenAI resource: Azure's addressing and auth over FakeOpenAI's answers.

Azure names the model by a deployment in the path and the API version in the query
(``/openai/deployments/{deployment}/chat/completions?api-version=...``), or, in its v1
API, at ``/openai/v1/chat/completions``; the key comes in an ``api-key`` header. Each
request's addressing is recorded in ``seen`` so tests can assert where a call went.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from tests.fakes.openai_upstream import FakeOpenAI

__all__ = ["AzureCall", "FakeAzure"]


@dataclass(frozen=True)
class AzureCall:
    path: str
    api_version: str | None
    deployment: str | None
    api_key: str | None
    authorization: str | None


class FakeAzure(FakeOpenAI):
    def __init__(self, api_key: str = "azure-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.seen: list[AzureCall] = []

    @property
    def base_url(self) -> str:
        """The resource URL an operator pastes (no ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    def _add_routes(self, app: web.Application) -> None:
        for route in ("/openai/deployments/{deployment}/", "/openai/v1/"):
            app.router.add_post(route + "chat/completions", self._azure(self._chat))
            app.router.add_post(route + "embeddings", self._azure(self._embeddings))

    def _azure(self, answer: web.Handler) -> web.Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            call = AzureCall(
                request.path,
                request.query.get("api-version"),
                request.match_info.get("deployment"),
                request.headers.get("api-key"),
                request.headers.get("Authorization"),
            )
            self.seen.append(call)
            if call.api_key != self.api_key:
                error = {"error": {"code": "401", "message": "Access denied: invalid key"}}
                return web.json_response(error, status=401)
            if call.deployment is not None and not call.api_version:  # v1 needs none
                return web.json_response({"error": {"message": "api-version missing"}}, status=404)
            return await answer(request)

        return handler
