"""The walk-in client: the box asks the cloud's visitor routes for a flat's answer.

The guard asks a flat's residents through the cloud, the panel shows their answer as soon as
one of them gives it, and the guard opens for an approved visitor, once, as a
``visitor_approved`` decision naming who approved (``edge.lanes.walkins``).

The cloud is asked over HTTP with the box's own key (its gates only). With the cloud out of
reach the guard is told at once and falls back to a call and an ordinary guard open
(``guard_override``). An approval counts only as the cloud last gave it, read within
``FRESH_S``, and lets one entry in: the box remembers the requests it opened for, and the
cloud marks the request ``entered`` when the decision event arrives.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)
FRESH_S = 120.0  # an approval read longer ago than this is read again before opening
TIMEOUT_S = 3.0
KEEP = 200  # requests the box remembers (the panel lists the latest 20)


class CloudUnreachable(Exception):
    """The cloud did not answer: the guard calls the flat instead."""


class Refused(Exception):
    """The cloud or the box refused (a reason a guard can read)."""


@dataclass
class Request:
    """A request as the box last read it."""

    data: dict[str, Any]
    read_at: float = field(default_factory=time.monotonic)
    opened: bool = False


class WalkIns:
    """The box's walk-in requests and its client of the cloud's visitor routes."""

    def __init__(self, http_url: str, api_key: str | None) -> None:
        self.http_url = http_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._requests: dict[str, Request] = {}
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        try:
            r = httpx.request(method, f"{self.http_url}{path}", headers=self.headers,
                              timeout=TIMEOUT_S, **kw)
        except httpx.HTTPError as exc:
            raise CloudUnreachable(str(exc) or type(exc).__name__) from exc
        if r.status_code >= 500:
            raise CloudUnreachable(f"the cloud answered {r.status_code}")
        if r.status_code >= 400:
            detail = r.json().get("detail") if r.headers.get("content-type", "").startswith(
                "application/json") else None
            msg = detail.get("message") if isinstance(detail, dict) else r.text[:200]
            raise Refused(str(msg))
        out: dict[str, Any] = r.json()
        return out

    def ask(self, site: str, gate: str, flat: str, name: str, kind: str, user: str,
            phone: str = "", vrn: str = "") -> dict[str, Any]:
        """Ask the flat; the request as the cloud holds it (``pending``)."""
        body = {"gate": gate, "flat": flat, "name": name, "kind": kind, "asked_by": user,
                **({"phone": phone} if phone else {}), **({"vrn": vrn} if vrn else {})}
        got = self._call("POST", f"/api/v1/sites/{site}/visitor-requests", json=body)
        with self._lock:
            self._requests[got["id"]] = Request(got)
            while len(self._requests) > KEEP:  # the oldest asked first (dicts keep order)
                self._requests.pop(next(iter(self._requests)))
        return got

    def status(self, rid: str) -> dict[str, Any]:
        """A request as the cloud holds it now (``opened``: this box let the visitor in)."""
        with self._lock:
            known = self._requests.get(rid)
        if known is None:
            raise KeyError(rid)
        got = self._call("GET", f"/api/v1/sites/{known.data['site']}/visitor-requests/{rid}")
        with self._lock:
            known.data, known.read_at = got, time.monotonic()
            return {**got, "opened": known.opened}

    def recent(self) -> list[dict[str, Any]]:
        """The requests this box asked, newest first, as last read."""
        with self._lock:
            items = sorted(self._requests.values(), key=lambda r: r.data["asked_at"],
                           reverse=True)
            return [{**r.data, "opened": r.opened} for r in items[:20]]

    def claim(self, rid: str) -> dict[str, Any]:
        """The approved request to open for, once: read again unless read just now; refused
        if it is not approved, was opened for already, or cannot be confirmed."""
        with self._lock:
            known = self._requests.get(rid)
        if known is None:
            raise KeyError(rid)
        if time.monotonic() - known.read_at > FRESH_S or known.data["status"] != "approved":
            try:
                self.status(rid)
            except CloudUnreachable as exc:
                raise Refused("the approval cannot be confirmed with the cloud out of reach: "
                              "call the flat and open with a reason") from exc
        with self._lock:
            if known.data["status"] != "approved":
                raise Refused(f"the request is {known.data['status']}, not approved")
            if known.opened:
                raise Refused("the gate was opened for this visitor already")
            known.opened = True
            return dict(known.data)

    def unclaim(self, rid: str) -> None:
        """The open did not happen: the approval may be used again."""
        with self._lock:
            if rid in self._requests:
                self._requests[rid].opened = False

