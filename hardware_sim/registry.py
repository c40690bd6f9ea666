"""A vehicle registry simulator (the national registry a provider fronts): VRN → vehicle type,
make and model, over a small documented JSON protocol (docs/providers.md).

``GET /v1/vehicles/{vrn}`` answers ``200 {vrn, type, make, model}`` or ``404 {"error":
"not_found"}``. Knobs, for the tests, the scenarios and the demo: ``PUT /_sim/vehicles/{vrn}
{type, make, model}`` adds a vehicle; ``PUT /_sim/mode {mode, delay_s}`` makes it answer
``ok``, ``down`` (503), ``slow`` (after ``delay_s``) or ``malformed`` (200 with a body that is
not a vehicle); ``GET /_sim/requests`` counts the look-ups it was asked.
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


class _Mode(BaseModel):
    mode: Mode = "ok"
    delay_s: float = 0.0


class VehicleRegistrySim:
    """The registry: vehicles in memory, one answering mode at a time."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.vehicles: dict[str, dict[str, str]] = {}
        self.mode: Mode = "ok"
        self.delay_s = 0.0
        self.requests = 0
        self._lock = threading.Lock()
        self.web = WebThread(self._app(), host, port)

    @property
    def url(self) -> str:
        """Base URL of the running simulator."""
        return self.web.url

    def start(self) -> VehicleRegistrySim:
        """Serve in a thread."""
        self.web.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.web.stop()

    def add(self, vrn: str, vtype: str = "4W", make: str = "", model: str = "") -> None:
        """A vehicle the registry knows."""
        self.vehicles[normalise(vrn)] = {"type": vtype, "make": make, "model": model}

    def _app(self) -> FastAPI:
        app = FastAPI(title="vehicle registry simulator")

        @app.get("/v1/vehicles/{vrn}")
        def lookup(vrn: str) -> Any:
            with self._lock:
                self.requests += 1
            if self.mode == "down":
                return JSONResponse({"error": "unavailable"}, status_code=503)
            if self.mode == "slow":
                time.sleep(self.delay_s)
            if self.mode == "malformed":
                return JSONResponse({"vehicle": "?"}, status_code=200)
            plate = normalise(vrn)
            found = self.vehicles.get(plate)
            if found is None:
                return JSONResponse({"error": "not_found"}, status_code=404)
            return {"vrn": plate, **found}

        @app.put("/_sim/vehicles/{vrn}")
        def put_vehicle(vrn: str, body: _Vehicle) -> dict[str, Any]:
            self.add(vrn, body.type, body.make, body.model)
            return {"vrn": normalise(vrn), **body.model_dump()}

        @app.put("/_sim/mode")
        def put_mode(body: _Mode) -> dict[str, Any]:
            self.mode, self.delay_s = body.mode, body.delay_s
            return body.model_dump()

        @app.get("/_sim/requests")
        def requests() -> dict[str, int]:
            return {"requests": self.requests}

        return app
