"""A simulator of the partner visitor-management apps (MyGate, NoBrokerHood, Zipgrid,
ApnaComplex): one protocol for all four, each under its own path, as docs/partners.md says.

- ``POST /{partner}/v1/residents/connect {society, phone, vrn, name}`` answers ``200 {status:
  "connected", user_id}`` or ``404 {status: "user_not_found", reason}`` with ``reason``
  ``app_not_installed``, ``different_phone`` or ``not_mapped_to_society``;
- ``POST /{partner}/v1/residents/disconnect {society, vrn}`` answers ``200``;
- ``POST /{partner}/v1/events`` with an ``Idempotency-Key`` header (our event id) answers ``201
  {status: "accepted"}``, or ``200 {status: "duplicate"}`` for a key it has taken already.

Every call needs ``Authorization: Bearer TOKEN`` (``token``). Knobs, for the tests, the
scenarios and the demo: ``PUT /_sim/users/{phone} {outcome, partner?}`` decides how a phone
connects (an unknown phone's app is not installed); ``PUT /_sim/mode {mode, delay_s}`` makes it
answer ``ok``, ``down`` (503), ``slow`` (after ``delay_s``) or ``error`` (500); ``GET
/_sim/received`` lists the events it accepted (each key once, in arrival order) and how many
posts it took; ``GET /_sim/connections`` lists the residents connected.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from fastapi import Body, FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.webthread import WebThread

BODY = Body(...)
PARTNERS = ("mygate", "nobrokerhood", "zipgrid", "apnacomplex")
Mode = Literal["ok", "down", "slow", "error"]
Outcome = Literal["connected", "app_not_installed", "different_phone", "not_mapped_to_society"]


class _Connect(BaseModel):
    society: str
    phone: str
    vrn: str
    name: str = ""


class _Disconnect(BaseModel):
    society: str
    vrn: str


class _User(BaseModel):
    outcome: Outcome = "connected"
    partner: str | None = None  # None: the same outcome at every partner


class _Mode(BaseModel):
    mode: Mode = "ok"
    delay_s: float = 0.0


class PartnerSim:
    """The four partners, in memory, one answering mode at a time."""

    def __init__(self, token: str = "partner-sim-token", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.token = token
        self.users: dict[tuple[str | None, str], str] = {}
        self.connections: dict[tuple[str, str, str], str] = {}  # (partner, society, vrn)
        self.received: list[dict[str, Any]] = []
        self.keys: set[tuple[str, str]] = set()
        self.arrivals: list[float] = []  # time.monotonic() of each event accepted
        self.posts = 0
        self.duplicates = 0  # posts of a key taken before (a resend after a lost answer)
        self.mode: Mode = "ok"
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self.web = WebThread(self._app(), host, port)

    @property
    def url(self) -> str:
        """Base URL of the running simulator (a partner's endpoint is ``url/{partner}``)."""
        return self.web.url

    def endpoint(self, partner: str) -> str:
        """The endpoint a society integrated with *partner* is configured with."""
        return f"{self.url}/{partner}"

    def start(self) -> PartnerSim:
        """Serve in a thread."""
        self.web.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.web.stop()

    def set_user(self, phone: str, outcome: str = "connected", partner: str | None = None) -> None:
        """How *phone* connects (at *partner*, or at all of them)."""
        self.users[(partner, phone)] = outcome

    def events(self, partner: str | None = None, vrn: str | None = None) -> list[dict[str, Any]]:
        """The events accepted, each once, in the order they arrived."""
        with self._lock:
            return [e for e in self.received if (partner is None or e["partner"] == partner)
                    and (vrn is None or e["vrn"] == vrn)]

    def _outcome(self, partner: str, phone: str) -> str:
        return self.users.get((partner, phone)) or self.users.get((None, phone)) \
            or "app_not_installed"

    def _app(self) -> FastAPI:
        app = FastAPI(title="partner apps simulator")

        def gate(partner: str, authorization: str | None) -> JSONResponse | None:
            if partner not in PARTNERS:
                return JSONResponse({"error": "no_such_partner"}, status_code=404)
            if authorization != f"Bearer {self.token}":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            if self.mode == "down":
                return JSONResponse({"error": "unavailable"}, status_code=503)
            if self.mode == "error":
                return JSONResponse({"error": "internal"}, status_code=500)
            if self.mode == "slow":
                time.sleep(self.delay_s)
            return None

        @app.post("/{partner}/v1/residents/connect")
        def connect(partner: str, body: _Connect,
                    authorization: str | None = Header(None)) -> Any:
            if (refused := gate(partner, authorization)) is not None:
                return refused
            outcome = self._outcome(partner, body.phone)
            if outcome != "connected":
                return JSONResponse({"status": "user_not_found", "reason": outcome},
                                    status_code=404)
            user = f"{partner}-{body.phone[-6:]}"
            with self._lock:
                self.connections[(partner, body.society, body.vrn)] = user
            return {"status": "connected", "user_id": user}

        @app.post("/{partner}/v1/residents/disconnect")
        def disconnect(partner: str, body: _Disconnect,
                       authorization: str | None = Header(None)) -> Any:
            if (refused := gate(partner, authorization)) is not None:
                return refused
            with self._lock:
                self.connections.pop((partner, body.society, body.vrn), None)
            return {"status": "disconnected"}

        @app.post("/{partner}/v1/events")
        def event(partner: str, body: dict[str, Any] = BODY,
                  authorization: str | None = Header(None),
                  idempotency_key: str | None = Header(None)) -> Any:
            with self._lock:
                self.posts += 1
            if (refused := gate(partner, authorization)) is not None:
                return refused
            if not idempotency_key:
                return JSONResponse({"error": "idempotency_key_required"}, status_code=400)
            with self._lock:
                if (partner, idempotency_key) in self.keys:
                    self.duplicates += 1
                    return JSONResponse({"status": "duplicate"}, status_code=200)
                self.keys.add((partner, idempotency_key))
                self.received.append({**body, "partner": partner, "key": idempotency_key})
                self.arrivals.append(time.monotonic())
            return JSONResponse({"status": "accepted"}, status_code=201)

        @app.put("/_sim/users/{phone}")
        def put_user(phone: str, body: _User) -> dict[str, Any]:
            self.set_user(phone, body.outcome, body.partner)
            return {"phone": phone, **body.model_dump()}

        @app.put("/_sim/mode")
        def put_mode(body: _Mode) -> dict[str, Any]:
            self.mode, self.delay_s = body.mode, body.delay_s
            return body.model_dump()

        @app.get("/_sim/received")
        def received() -> dict[str, Any]:
            return {"events": self.events(), "posts": self.posts,
                    "duplicates": self.duplicates}

        @app.get("/_sim/connections")
        def connections() -> dict[str, Any]:
            with self._lock:
                return {"connections": [{"partner": p, "society": s, "vrn": v, "user_id": u}
                                        for (p, s, v), u in self.connections.items()]}

        return app
