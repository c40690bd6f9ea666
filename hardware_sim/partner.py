"""A simulator of the partner visitor-management apps (MyGate, NoBrokerHood, Zipgrid,
ApnaComplex): one protocol for all four, each under its own path, as docs/partners.md says.

- ``POST /{partner}/v1/residents/connect {society, phone, vrn, name}`` answers ``200 {status:
  "connected", user_id}`` or ``404 {status: "user_not_found", reason}`` with ``reason``
  ``app_not_installed``, ``different_phone`` or ``not_mapped_to_society``;
- ``POST /{partner}/v1/residents/disconnect {society, vrn}`` answers ``200``;
- ``POST /{partner}/v1/events`` with an ``Idempotency-Key`` header (our event id) answers ``201
  {status: "accepted"}``, or ``200 {status: "duplicate"}`` for a key it has taken already.

Every call needs ``Authorization: Bearer TOKEN`` (``token``). Once it knows a society's
signing secret (``set_secret``), a call about that society must be signed with it (Standard
Webhooks, ``shared.webhooks``), else it answers ``401 {error: "bad_signature"}``; each event
received records whether its signature verified (``verified``: None when no secret is known).

Knobs, for the tests, the scenarios and the demo: ``PUT /_sim/users/{phone} {outcome,
partner?}`` decides how a phone connects (an unknown phone's app is not installed); ``PUT
/_sim/mode {mode, delay_s, size_mb}`` makes it answer ``ok``, ``down`` (503), ``slow`` (after
``delay_s``), ``error`` (500), ``drip`` (its answer one byte every ``delay_s``: a partner that
never quite stops answering) or ``flood`` (an answer of ``size_mb`` megabytes); ``PUT
/_sim/secrets/{partner}/{society} {secret}`` tells it a society's signing secret; ``GET
/_sim/received`` lists the events it accepted (each key once, in arrival order) and how many
posts it took; ``GET /_sim/connections`` lists the residents connected.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import Body, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from shared import webhooks
from shared.webthread import WebThread

BODY = Body(...)
PARTNERS = ("mygate", "nobrokerhood", "zipgrid", "apnacomplex")
Mode = Literal["ok", "down", "slow", "error", "drip", "flood"]
DRIP_BYTES = 64  # a dripped answer is padded to this: at one byte a second, over a minute
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
    size_mb: float = 300.0


class _Secret(BaseModel):
    secret: str


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
        self.size_mb = 300.0
        self.secrets: dict[tuple[str, str], str] = {}  # (partner, society) → signing secret
        self.bad_signatures = 0
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

    def connections_list(self) -> list[dict[str, Any]]:
        """The residents connected: partner, society, vrn and the partner's user id."""
        with self._lock:
            return [{"partner": p, "society": s, "vrn": v, "user_id": u}
                    for (p, s, v), u in self.connections.items()]

    def set_secret(self, partner: str, society: str, secret: str) -> None:
        """From now on, calls of *partner* about *society* must be signed with *secret*."""
        self.secrets[(partner, society)] = secret

    def _answer(self, content: dict[str, Any], status: int = 200) -> Response:
        """An answer as the mode has it: whole, dripped or flooded."""
        if self.mode == "drip":
            text = json.dumps(content).encode().ljust(DRIP_BYTES)
            delay = self.delay_s or 1.0

            async def drip() -> AsyncIterator[bytes]:
                for i in range(len(text)):
                    yield text[i:i + 1]
                    await asyncio.sleep(delay)

            return StreamingResponse(drip(), status_code=status, media_type="application/json")
        if self.mode == "flood":
            chunk = b" " * 65536
            chunks = int(self.size_mb * 1024 * 1024) // len(chunk)

            async def flood() -> AsyncIterator[bytes]:
                for _ in range(chunks):
                    yield chunk

            return StreamingResponse(flood(), status_code=status, media_type="application/json")
        return JSONResponse(content, status_code=status)

    def _outcome(self, partner: str, phone: str) -> str:
        return self.users.get((partner, phone)) or self.users.get((None, phone)) \
            or "app_not_installed"

    def _app(self) -> FastAPI:
        app = FastAPI(title="partner apps simulator")

        async def signature(partner: str, request: Request) -> bool | None:
            """Whether the call is signed with its society's secret (None: none is known)."""
            raw = await request.body()
            try:
                society = json.loads(raw).get("society")
            except (ValueError, AttributeError):
                society = None
            secret = self.secrets.get((partner, str(society)))
            return None if secret is None else webhooks.verify(secret, raw, request.headers)

        signed = Depends(signature)

        def gate(partner: str, authorization: str | None,
                 verified: bool | None) -> JSONResponse | None:
            if partner not in PARTNERS:
                return JSONResponse({"error": "no_such_partner"}, status_code=404)
            if authorization != f"Bearer {self.token}":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            if verified is False:
                with self._lock:
                    self.bad_signatures += 1
                return JSONResponse({"error": "bad_signature"}, status_code=401)
            if self.mode == "down":
                return JSONResponse({"error": "unavailable"}, status_code=503)
            if self.mode == "error":
                return JSONResponse({"error": "internal"}, status_code=500)
            if self.mode == "slow":
                time.sleep(self.delay_s)
            return None

        @app.post("/{partner}/v1/residents/connect")
        def connect(partner: str, body: _Connect, authorization: str | None = Header(None),
                    verified: bool | None = signed) -> Any:
            if (refused := gate(partner, authorization, verified)) is not None:
                return refused
            outcome = self._outcome(partner, body.phone)
            if outcome != "connected":
                return self._answer({"status": "user_not_found", "reason": outcome}, 404)
            user = f"{partner}-{body.phone[-6:]}"
            with self._lock:
                self.connections[(partner, body.society, body.vrn)] = user
            return self._answer({"status": "connected", "user_id": user})

        @app.post("/{partner}/v1/residents/disconnect")
        def disconnect(partner: str, body: _Disconnect, authorization: str | None = Header(None),
                       verified: bool | None = signed) -> Any:
            if (refused := gate(partner, authorization, verified)) is not None:
                return refused
            with self._lock:
                self.connections.pop((partner, body.society, body.vrn), None)
            return self._answer({"status": "disconnected"})

        @app.post("/{partner}/v1/events")
        def event(partner: str, body: dict[str, Any] = BODY,
                  authorization: str | None = Header(None),
                  idempotency_key: str | None = Header(None),
                  verified: bool | None = signed) -> Any:
            with self._lock:
                self.posts += 1
            if (refused := gate(partner, authorization, verified)) is not None:
                return refused
            if not idempotency_key:
                return JSONResponse({"error": "idempotency_key_required"}, status_code=400)
            with self._lock:
                if (partner, idempotency_key) in self.keys:
                    self.duplicates += 1
                    return self._answer({"status": "duplicate"}, 200)
                self.keys.add((partner, idempotency_key))
                self.received.append({**body, "partner": partner, "key": idempotency_key,
                                      "verified": verified})
                self.arrivals.append(time.monotonic())
            return self._answer({"status": "accepted"}, 201)

        @app.put("/_sim/users/{phone}")
        def put_user(phone: str, body: _User) -> dict[str, Any]:
            self.set_user(phone, body.outcome, body.partner)
            return {"phone": phone, **body.model_dump()}

        @app.put("/_sim/mode")
        def put_mode(body: _Mode) -> dict[str, Any]:
            self.mode, self.delay_s, self.size_mb = body.mode, body.delay_s, body.size_mb
            return body.model_dump()

        @app.put("/_sim/secrets/{partner}/{society}")
        def put_secret(partner: str, society: str, body: _Secret) -> dict[str, Any]:
            self.set_secret(partner, society, body.secret)
            return {"partner": partner, "society": society}

        @app.get("/_sim/received")
        def received() -> dict[str, Any]:
            return {"events": self.events(), "posts": self.posts,
                    "duplicates": self.duplicates}

        @app.get("/_sim/connections")
        def connections() -> dict[str, Any]:
            return {"connections": self.connections_list()}

        return app
