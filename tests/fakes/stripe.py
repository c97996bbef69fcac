"""A Stripe-compatible HTTP server for the tests: just what the gateway's SDK calls make.

The official ``stripe`` SDK talks to it over HTTP (``RELAYGATE_STRIPE_API_BASE``):
``POST /v1/checkout/sessions`` and ``GET`` one, ``POST /v1/customers``, ``POST
/v1/invoices``, ``POST /v1/invoiceitems``, ``POST /v1/invoices/{id}/finalize``. A test
plays the payer and Stripe's dashboard:

    with FakeStripe(webhook_secret="whsec_test") as fake:
        fake.webhook_url = gateway.url + "/api/v1/payments/stripe/webhook"
        event = fake.complete("cs_test_…")   # the payment succeeds: a signed webhook
        fake.deliver(event)                  # a replay of the same delivery
        fake.deliver(event, secret="wrong")  # a forged one
        fake.refund("cs_test_…", 500)        # charge.refunded, signed

Webhooks are signed as Stripe signs them: ``Stripe-Signature: t=<unix>,v1=<hex
HMAC-SHA256(secret, f"{t}.{payload}")>``. ``event(...)`` builds one without sending it,
so a test can reorder deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

__all__ = ["Delivery", "FakeStripe", "signature"]


def signature(secret: str, payload: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass
class Delivery:
    """One event as Stripe would POST it (kept so a test can send it again)."""

    id: str
    type: str
    payload: bytes


@dataclass
class FakeStripe:
    webhook_secret: str = "whsec_test_secret"
    webhook_url: str = ""
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeStripe:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(sock, ready), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Stripe did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        if self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get)
        app.router.add_post("/v1/customers", self._create_customer)
        app.router.add_post("/v1/invoices", self._create_invoice)
        app.router.add_post("/v1/invoiceitems", self._create_item)
        app.router.add_post("/v1/invoices/{id}/finalize", self._finalize)
        app.router.add_get("/pay/{id}", self._pay_page)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
        ready.set()
        self._loop.run_forever()

    # ---------------------------------------------------------------- the API
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    async def _form(self, request: web.Request) -> dict[str, str]:
        auth = request.headers.get("Authorization", "")
        form = {k: str(v) for k, v in (await request.post()).items()}
        with self._lock:
            self.requests.append((request.method, request.path, {**form, "_auth": auth}))
        return form

    @staticmethod
    def _metadata(form: dict[str, str], prefix: str = "metadata") -> dict[str, str]:
        start = prefix + "["
        return {k[len(start) : -1]: v for k, v in form.items() if k.startswith(start)}

    def _store(self, obj: dict[str, Any]) -> web.Response:
        with self._lock:
            self.objects[obj["id"]] = obj
        return web.json_response(obj)

    async def _create_session(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        sid = self._new_id("cs")
        amount = int(form["line_items[0][price_data][unit_amount]"])
        return self._store(
            {
                "id": sid,
                "object": "checkout.session",
                "mode": form.get("mode", "payment"),
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": amount,
                "currency": form["line_items[0][price_data][currency]"],
                "client_reference_id": form.get("client_reference_id"),
                "customer_email": form.get("customer_email"),
                "metadata": self._metadata(form),
                "pi_metadata": self._metadata(form, "payment_intent_data[metadata]"),
                "payment_intent": None,
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
                "url": f"{self.base_url}/pay/{sid}",
            }
        )

    async def _get(self, request: web.Request) -> web.Response:
        obj = self.objects.get(request.match_info["id"])
        if obj is None:
            return web.json_response({"error": {"type": "invalid_request_error"}}, status=404)
        return web.json_response(obj)

    async def _create_customer(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        cid = self._new_id("cus")
        return self._store({"id": cid, "object": "customer", "email": form.get("email")})

    async def _create_invoice(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        return self._store(
            {
                "id": self._new_id("in"),
                "object": "invoice",
                "status": "draft",
                "customer": form["customer"],
                "currency": form.get("currency", "usd"),
                "collection_method": form.get("collection_method"),
                "metadata": self._metadata(form),
                "amount_due": 0,
                "amount_paid": 0,
                "hosted_invoice_url": None,
                "payment_intent": None,
            }
        )

    async def _create_item(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        with self._lock:
            invoice = self.objects[form["invoice"]]
            invoice["amount_due"] += int(form["amount"])
        return self._store({"id": self._new_id("ii"), "object": "invoiceitem", **form})

    async def _finalize(self, request: web.Request) -> web.Response:
        await self._form(request)
        with self._lock:
            invoice = self.objects[request.match_info["id"]]
            invoice["status"] = "open"
            invoice["hosted_invoice_url"] = f"{self.base_url}/pay/{invoice['id']}"
        return web.json_response(invoice)

    async def _pay_page(self, request: web.Request) -> web.Response:
        """What a browser sent to the pay URL sees (a test then calls ``complete``)."""
        oid = request.match_info["id"]
        return web.Response(
            text=f"<html><title>Pay {oid}</title><h1>Pay {oid}</h1></html>",
            content_type="text/html",
        )

    # ---------------------------------------------------------------- the payer's side
    def event(self, type_: str, obj: dict[str, Any]) -> Delivery:
        eid = self._new_id("evt")
        body = {
            "id": eid,
            "object": "event",
            "api_version": "2025-01-01",
            "created": int(time.time()),
            "type": type_,
            "livemode": False,
            "data": {"object": obj},
        }
        return Delivery(eid, type_, json.dumps(body).encode())

    def pay(self, object_id: str) -> Delivery:
        """Mark a session or invoice paid; the event saying so (not sent)."""
        with self._lock:
            obj = self.objects[object_id]
            obj["payment_intent"] = obj["payment_intent"] or self._new_id("pi")
            if obj["object"] == "checkout.session":
                obj.update(status="complete", payment_status="paid")
                return self.event("checkout.session.completed", dict(obj))
            obj.update(status="paid", amount_paid=obj["amount_due"])
            return self.event("invoice.paid", dict(obj))

    def complete(self, object_id: str) -> Delivery:
        """The payment succeeds: the signed webhook is sent (and returned for replays)."""
        delivery = self.pay(object_id)
        response = self.deliver(delivery)
        assert response.status_code == 200, response.text
        return delivery

    def refund_event(self, object_id: str, amount_refunded: int) -> Delivery:
        """``charge.refunded`` for the payment of a session or invoice (cumulative amount)."""
        with self._lock:
            obj = self.objects[object_id]
            obj["payment_intent"] = obj["payment_intent"] or self._new_id("pi")
            charge = {
                "id": self._new_id("ch"),
                "object": "charge",
                "payment_intent": obj["payment_intent"],
                "amount": obj.get("amount_total") or obj.get("amount_due"),
                "amount_refunded": amount_refunded,
                "refunded": True,
                "metadata": {},
            }
        return self.event("charge.refunded", charge)

    def dispute_event(self, object_id: str, amount: int) -> Delivery:
        """``charge.dispute.created`` for the payment of a session or invoice."""
        with self._lock:
            obj = self.objects[object_id]
            obj["payment_intent"] = obj["payment_intent"] or self._new_id("pi")
            dispute = {
                "id": self._new_id("dp"),
                "object": "dispute",
                "payment_intent": obj["payment_intent"],
                "amount": amount,
                "status": "needs_response",
                "metadata": {},
            }
            self.objects[dispute["id"]] = dispute
        return self.event("charge.dispute.created", dict(dispute))

    def dispute_closed_event(self, dispute_id: str, status: str) -> Delivery:
        """``charge.dispute.closed`` for a dispute ``dispute_event`` made: ``status`` is
        "won", "lost" or "warning_closed"."""
        with self._lock:
            dispute = self.objects[dispute_id]
            dispute["status"] = status
        return self.event("charge.dispute.closed", dict(dispute))

    def deliver(
        self,
        delivery: Delivery,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        payload: bytes | None = None,
    ) -> httpx.Response:
        """POST one delivery to the gateway, signed (with ``secret`` to forge, ``timestamp``
        to make it stale, ``payload`` to tamper with the body after signing)."""
        stamp = int(time.time()) if timestamp is None else timestamp
        header = signature(secret or self.webhook_secret, delivery.payload, stamp)
        return httpx.post(
            self.webhook_url,
            content=payload if payload is not None else delivery.payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=30,
        )
