"""The partner port and its HTTP adapter (the protocol of ``hardware_sim.partner``,
docs/partners.md): connect a resident, disconnect one, and forward an event under an
idempotency key. A call has a timeout; a connect that fails is an ``error`` outcome (the resident
tries again later), a forward that fails raises ``PartnerError`` (the outbox tries again after
a back-off)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

PARTNERS = ("mygate", "nobrokerhood", "zipgrid", "apnacomplex")
NAMES = {"mygate": "MyGate", "nobrokerhood": "NoBrokerHood", "zipgrid": "Zipgrid",
         "apnacomplex": "ApnaComplex"}
# MyGate connects residents unless they opt out; the others only when a resident opts in.
DEFAULT_MODE = {"mygate": "opt_out", "nobrokerhood": "opt_in", "zipgrid": "opt_in",
                "apnacomplex": "opt_in"}
NOT_FOUND = ("app_not_installed", "different_phone", "not_mapped_to_society")


@dataclass(frozen=True)
class Connection:
    """A partner's answer to a connect: ``connected``, ``user_not_found`` (with ``reason``) or
    ``error``."""

    state: str
    reason: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Partner:
    """A society's partner as the cloud calls it."""

    name: str
    endpoint: str
    credential: str


class PartnerError(Exception):
    """The partner did not take a call (down, slow, refusing): try again later."""


class PartnerClient(Protocol):
    """What the cloud asks of a partner."""

    def connect(self, p: Partner, society: str, phone: str, vrn: str, name: str) -> Connection:
        """Connect a resident's vehicle; never raises (a failure is ``error``)."""
        ...

    def disconnect(self, p: Partner, society: str, vrn: str) -> None:
        """Tell the partner a resident opted out; ``PartnerError`` if it did not answer."""
        ...

    def forward(self, p: Partner, key: str, payload: dict[str, Any]) -> None:
        """Send one event under its idempotency key; ``PartnerError`` unless it took it."""
        ...


class HttpPartners:
    """Partners over HTTP."""

    def __init__(self, timeout_s: float = 3.0) -> None:
        self.client = httpx.Client(timeout=timeout_s)

    def _post(self, p: Partner, path: str, body: dict[str, Any],
              key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {p.credential}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"{p.endpoint.rstrip('/')}{path}", json=body, headers=headers)

    def connect(self, p: Partner, society: str, phone: str, vrn: str, name: str) -> Connection:
        """Connect a resident's vehicle (see ``PartnerClient``)."""
        try:
            resp = self._post(p, "/v1/residents/connect", {"society": society, "phone": phone,
                                                          "vrn": vrn, "name": name})
            body = resp.json()
        except (httpx.HTTPError, ValueError):
            return Connection("error")
        if resp.status_code == 200 and body.get("status") == "connected":
            return Connection("connected", user_id=str(body.get("user_id") or ""))
        if resp.status_code == 404 and body.get("reason") in NOT_FOUND:
            return Connection("user_not_found", reason=str(body["reason"]))
        return Connection("error")

    def disconnect(self, p: Partner, society: str, vrn: str) -> None:
        """Tell the partner a resident opted out (see ``PartnerClient``)."""
        try:
            resp = self._post(p, "/v1/residents/disconnect", {"society": society, "vrn": vrn})
        except httpx.HTTPError as exc:
            raise PartnerError(str(exc) or type(exc).__name__) from exc
        if resp.status_code != 200:
            raise PartnerError(f"HTTP {resp.status_code}")

    def forward(self, p: Partner, key: str, payload: dict[str, Any]) -> None:
        """Send one event (see ``PartnerClient``): 200 (a duplicate) and 201 both mean taken."""
        try:
            resp = self._post(p, "/v1/events", payload, key)
        except httpx.HTTPError as exc:
            raise PartnerError(str(exc) or type(exc).__name__) from exc
        if resp.status_code not in (200, 201):
            raise PartnerError(f"HTTP {resp.status_code}: {resp.text[:200]}")

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
