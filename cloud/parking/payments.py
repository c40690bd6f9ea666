"""Payments through a provider port: open a payment for a resident's draft, take the
provider's signed callback (idempotent), and send refunds back the way the money came.

The callback is verified over its body's bytes exactly as they arrived (Standard Webhooks,
``shared.webhooks``), before anything parses it: never over a dict parsed and serialised again,
whose bytes need not be the ones signed."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from fastapi import Request

from cloud.errors import CloudError
from cloud.refusals import Refusal
from shared import webhooks
from shared.retry import call

log = logging.getLogger(__name__)


class PaymentProvider(Protocol):
    """What the cloud needs of a payment provider."""

    def open(self, amount: int, reference: str, callback: str) -> dict[str, Any]:
        """Open a payment; returns ``{id, pay_url}``."""
        ...

    def refund(self, payment_id: str, amount: int) -> None:
        """Return *amount* of a paid payment."""
        ...


# Errors that prove a request never reached the provider: tried again (``shared.retry``).
# Anything after that (a timeout reading the answer, a 5xx) is not: the payment or refund might
# have been made, and a second request could make it twice.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


class HttpProvider:
    """A provider reached over HTTP (the simulator in ``hardware_sim.payments`` speaks it)."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def open(self, amount: int, reference: str, callback: str) -> dict[str, Any]:
        try:
            r = call(lambda: httpx.post(f"{self.base_url}/payments", json={
                "amount": amount, "reference": reference, "callback": callback},
                timeout=self.timeout_s), retry_on=NOT_SENT)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            raise CloudError(502, Refusal.PAYMENT_PROVIDER_DOWN,
                             f"the payment provider: {exc}") from exc
        return dict(r.json())

    def refund(self, payment_id: str, amount: int) -> None:
        try:
            r = call(lambda: httpx.post(f"{self.base_url}/payments/{payment_id}/refund",
                                        json={"amount": amount}, timeout=self.timeout_s),
                     retry_on=NOT_SENT)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            raise CloudError(502, Refusal.REFUND_FAILED,
                             f"the payment provider refused: {exc}") from exc


# The callback's body, as /openapi.json shows it (the route reads the raw bytes itself).
CALLBACK_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["payment_id", "reference", "amount", "status"],
    "properties": {"payment_id": {"type": "string"}, "reference": {"type": "string"},
                   "amount": {"type": "integer"}, "status": {"type": "string"}}}}}}}


async def raw_body(request: Request) -> bytes:
    """A request's body, its bytes as they arrived (a route dependency)."""
    return await request.body()


def verified_callback(secret: str, raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The provider's callback once its signature verifies over *raw*: ``bad_signature``
    (403) if it does not, ``bad_callback`` (422) if the signed body is not a callback."""
    if not webhooks.verify(secret, raw, headers):
        raise CloudError(403, Refusal.BAD_SIGNATURE, "the callback's signature does not verify")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("status"), str) or (
            body["status"] == "paid" and not (
                isinstance(body.get("reference"), str) and isinstance(body.get("amount"), int)
                and isinstance(body.get("payment_id"), str))):
        raise CloudError(422, Refusal.BAD_CALLBACK, "a callback is a JSON object with payment_id, "
                         "reference, amount and status")
    return body
