"""The partner port and its HTTP adapter (the protocol of ``hardware_sim.partner``,
docs/partners.md): connect a resident, disconnect one, and forward an event under an
idempotency key. Every call is signed (Standard Webhooks, ``shared.webhooks``) with the
society's signing secret, and bounded (``cloud.outbound``): a total deadline, an answer
size cap, and no internal address unless the operator allows it. A connect that fails is an
``error`` outcome (the resident tries again later), a forward that fails raises ``PartnerError``
(the outbox tries again after a back-off)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from cloud.outbound import Answer, CallFailed, Outbound, Targets
from shared import webhooks

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
    secret: str = ""  # the society's signing secret (``whsec_…``)


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

    def __init__(self, targets: Targets | None = None, deadline_s: float = 5.0,
                 max_bytes: int = 64 * 1024) -> None:
        self.http = Outbound(targets or Targets(), deadline_s, max_bytes)

    def _post(self, p: Partner, path: str, body: dict[str, Any],
              key: str | None = None) -> Answer:
        raw = json.dumps(body).encode()
        # The event's own id names an event (a resend is the same message); a connect or
        # disconnect is a message of its own.
        msg_id = key or f"msg_{secrets.token_hex(12)}"
        headers = {"Authorization": f"Bearer {p.credential}"}
        if p.secret:
            headers |= webhooks.headers(p.secret, msg_id, raw)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.http.post(f"{p.endpoint.rstrip('/')}{path}", raw, headers)

    def connect(self, p: Partner, society: str, phone: str, vrn: str, name: str) -> Connection:
        """Connect a resident's vehicle (see ``PartnerClient``)."""
        try:
            got = self._post(p, "/v1/residents/connect", {"society": society, "phone": phone,
                                                         "vrn": vrn, "name": name})
            body = json.loads(got.body)
        except (CallFailed, ValueError):
            return Connection("error")
        if not isinstance(body, dict):
            return Connection("error")
        if got.status == 200 and body.get("status") == "connected":
            return Connection("connected", user_id=str(body.get("user_id") or ""))
        if got.status == 404 and body.get("reason") in NOT_FOUND:
            return Connection("user_not_found", reason=str(body["reason"]))
        return Connection("error")

    def disconnect(self, p: Partner, society: str, vrn: str) -> None:
        """Tell the partner a resident opted out (see ``PartnerClient``)."""
        try:
            got = self._post(p, "/v1/residents/disconnect", {"society": society, "vrn": vrn})
        except CallFailed as exc:
            raise PartnerError(str(exc)) from exc
        if got.status != 200:
            raise PartnerError(f"HTTP {got.status}")

    def forward(self, p: Partner, key: str, payload: dict[str, Any]) -> None:
        """Send one event (see ``PartnerClient``): 200 (a duplicate) and 201 both mean taken."""
        try:
            got = self._post(p, "/v1/events", payload, key)
        except CallFailed as exc:
            raise PartnerError(str(exc)) from exc
        if got.status not in (200, 201):
            raise PartnerError(f"HTTP {got.status}: {got.body[:200].decode(errors='replace')}")

    def close(self) -> None:
        """Close the connections."""
        self.http.close()
