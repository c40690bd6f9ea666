"""Payments through a provider port: open a payment for a resident's draft, take the
provider's signed callback (idempotent), and send refunds back the way the money came."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx

from cloud.errors import CloudError
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
            raise CloudError(502, "payment_provider_down", f"the payment provider: {exc}") from exc
        return dict(r.json())

    def refund(self, payment_id: str, amount: int) -> None:
        try:
            r = call(lambda: httpx.post(f"{self.base_url}/payments/{payment_id}/refund",
                                        json={"amount": amount}, timeout=self.timeout_s),
                     retry_on=NOT_SENT)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            raise CloudError(502, "refund_failed", f"the payment provider refused: {exc}") from exc
