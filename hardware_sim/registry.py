"""Simulators of the national registries a provider fronts, over a small documented JSON
protocol (docs/providers.md):

- ``VehicleRegistrySim``: ``GET /v1/vehicles/{vrn}`` answers ``200 {vrn, type, make, model}``;
  ``PUT /_sim/vehicles/{vrn} {type, make, model}`` adds a vehicle.
- ``FastagRegistrySim``: ``GET /v1/fastags/{vrn}`` answers ``200 {vrn, epc, status}``
  (``active``, ``blacklisted`` or ``closed``); ``PUT /_sim/fastags/{vrn} {epc, status}`` issues,
  re-issues or closes a vehicle's FASTag.

Both answer ``404 {"error": "not_found"}`` for what they do not know, and share the knobs for the
tests, the scenarios and the demo: ``PUT /_sim/mode {mode, delay_s}`` makes one answer ``ok``,
``down`` (503), ``slow`` (after ``delay_s``) or ``malformed`` (200 with a body that is not an
answer); ``GET /_sim/requests`` counts the look-ups it was asked.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.vrn import normalise
from shared.webthread import WebThread

Mode = Literal["ok", "down", "slow", "malformed"]


class _Vehicle(BaseModel):
    type: Literal["2W", "4W"] = "4W"
    make: str = ""
    model: str = ""


class _Fastag(BaseModel):
    epc: str
    status: Literal["active", "blacklisted", "closed"] = "active"


class _Mode(BaseModel):
    mode: Mode = "ok"
    delay_s: float = 0.0


class _RegistrySim:
    """Records by VRN in memory, one answering mode at a time."""

    title = "registry simulator"
    path = "/v1/records"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.records: dict[str, dict[str, str]] = {}
        self.mode: Mode = "ok"
        self.delay_s = 0.0
        self.requests = 0
        self._lock = threading.Lock()
        self.web = WebThread(self._app(), host, port)

    @property
    def url(self) -> str:
        """Base URL of the running simulator."""
        return self.web.url

    def start(self) -> _RegistrySim:
        """Serve in a thread."""
        self.web.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.web.stop()

    def _app(self) -> FastAPI:
        app = FastAPI(title=self.title)

        @app.get(self.path + "/{vrn}")
        def lookup(vrn: str) -> Any:
            with self._lock:
                self.requests += 1
            if self.mode == "down":
                return JSONResponse({"error": "unavailable"}, status_code=503)
            if self.mode == "slow":
                time.sleep(self.delay_s)
            if self.mode == "malformed":
                return JSONResponse({"record": "?"}, status_code=200)
            plate = normalise(vrn)
            found = self.records.get(plate)
            if found is None:
                return JSONResponse({"error": "not_found"}, status_code=404)
            return {"vrn": plate, **found}

        @app.put("/_sim/mode")
        def put_mode(body: _Mode) -> dict[str, Any]:
            self.mode, self.delay_s = body.mode, body.delay_s
            return body.model_dump()

        @app.get("/_sim/requests")
        def requests() -> dict[str, int]:
            return {"requests": self.requests}

        self._knobs(app)
        return app

    def _knobs(self, app: FastAPI) -> None:
        """The registry's own ``PUT /_sim/…`` routes."""


class VehicleRegistrySim(_RegistrySim):
    """The vehicle registry: VRN → type, make, model."""

    title = "vehicle registry simulator"
    path = "/v1/vehicles"

    @property
    def vehicles(self) -> dict[str, dict[str, str]]:
        """The vehicles it knows, by VRN."""
        return self.records

    def add(self, vrn: str, vtype: str = "4W", make: str = "", model: str = "") -> None:
        """A vehicle the registry knows."""
        self.records[normalise(vrn)] = {"type": vtype, "make": make, "model": model}

    def _knobs(self, app: FastAPI) -> None:
        @app.put("/_sim/vehicles/{vrn}")
        def put_vehicle(vrn: str, body: _Vehicle) -> dict[str, Any]:
            self.add(vrn, body.type, body.make, body.model)
            return {"vrn": normalise(vrn), **body.model_dump()}


class FastagRegistrySim(_RegistrySim):
    """The FASTag registry: VRN → the EPC of the vehicle's FASTag and its status."""

    title = "FASTag registry simulator"
    path = "/v1/fastags"

    def issue(self, vrn: str, epc: str, status: str = "active") -> None:
        """The vehicle's FASTag is *epc* (a re-issue replaces the one it had)."""
        self.records[normalise(vrn)] = {"epc": epc.upper(), "status": status}

    def _knobs(self, app: FastAPI) -> None:
        @app.put("/_sim/fastags/{vrn}")
        def put_fastag(vrn: str, body: _Fastag) -> dict[str, Any]:
            self.issue(vrn, body.epc, body.status)
            return {"vrn": normalise(vrn), **body.model_dump()}
