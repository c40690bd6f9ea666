"""A payment provider simulator: a small local HTTP service the tests and the demo start.

``POST /payments {amount, reference, callback}`` opens a payment and returns its ``id`` and a
``pay_url``; ``POST /payments/{id}/pay`` is the resident paying: the provider then calls the
merchant's ``callback`` with ``{payment_id, reference, amount, status}`` signed the Standard
Webhooks way over the body's bytes (``shared.webhooks``: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), retrying until it is acknowledged (as real providers do, so callbacks
may arrive twice; each retry is the same message, with the same id).
``POST /payments/{id}/refund {amount}`` records a refund. ``fail_callbacks`` makes the first
calls fail, to test that nothing is lost.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from shared import webhooks
from shared.webthread import WebThread


class _Open(BaseModel):
    amount: int
    reference: str
    callback: str


class _Refund(BaseModel):
    amount: int


class PaymentSim:
    """The provider: payments in memory, callbacks signed with the merchant's secret."""

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.secret = secret
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        # every attempt: its payload, the bytes sent and their headers, and the status code
        self.callbacks: list[dict[str, Any]] = []
        self.fail_callbacks = 0
        self._lock = threading.Lock()
        self.web = WebThread(self._app(), host, port)

    @property
    def url(self) -> str:
        """Base URL of the running simulator."""
        return self.web.url

    def start(self) -> PaymentSim:
        """Serve in a thread."""
        self.web.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.web.stop()

    def pay(self, payment_id: str, tries: int = 5) -> dict[str, Any]:
        """The resident pays; the merchant is told, with retries until it acknowledges."""
        with self._lock:
            p = self.payments.get(payment_id)
            if p is None:
                raise KeyError(payment_id)
            p["status"] = "paid"
        body = {"payment_id": payment_id, "reference": p["reference"], "amount": p["amount"],
                "status": "paid"}
        raw = json.dumps(body).encode()
        msg_id = f"msg_{payment_id}_paid"
        for _ in range(tries):
            headers = webhooks.headers(self.secret, msg_id, raw)
            sent = {"body": body, "raw": raw, "headers": headers}
            if self.fail_callbacks > 0:
                self.fail_callbacks -= 1
                self.callbacks.append(sent | {"status": 599})
                continue
            try:
                r = httpx.post(p["callback"], content=raw, timeout=10,
                               headers=headers | {"Content-Type": "application/json"})
            except httpx.HTTPError:
                self.callbacks.append(sent | {"status": 598})
                continue
            self.callbacks.append(sent | {"status": r.status_code})
            if r.status_code < 300:
                p["acknowledged"] = True
                break
        return p

    def _app(self) -> FastAPI:
        app = FastAPI(title="payment provider simulator")

        @app.post("/payments", status_code=201)
        def open_payment(body: _Open) -> dict[str, Any]:
            pid = f"pay_{secrets.token_hex(6)}"
            with self._lock:
                self.payments[pid] = {"id": pid, "amount": body.amount,
                                      "reference": body.reference, "callback": body.callback,
                                      "status": "open", "acknowledged": False}
            return {"id": pid, "pay_url": f"{self.url}/payments/{pid}/pay"}

        @app.post("/payments/{pid}/pay")
        def pay(pid: str) -> dict[str, Any]:
            try:
                return self.pay(pid)
            except KeyError as exc:
                raise HTTPException(404, "no such payment") from exc

        @app.post("/payments/{pid}/refund")
        def refund(pid: str, body: _Refund) -> dict[str, Any]:
            p = self.payments.get(pid)
            if p is None or p["status"] != "paid":
                raise HTTPException(409, "only a paid payment can be refunded")
            if body.amount > p["amount"]:
                raise HTTPException(409, "a refund cannot exceed the payment")
            entry = {"payment_id": pid, "amount": body.amount}
            self.refunds.append(entry)
            return entry

        return app
