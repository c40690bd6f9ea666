"""``gatepost sim run``: the simulator on its own, with an HTTP control API."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict

from hardware_sim.world import SimWorld


class VehicleIn(BaseModel):
    """A vehicle to send to a gate."""

    model_config = ConfigDict(extra="forbid")
    gate: str
    epc: str | None = None
    drive_through: bool = True
    give_up_after: float = 3.0


def create_app(world: SimWorld) -> FastAPI:
    """Control API of a running simulator."""
    app = FastAPI(title="Gatepost hardware simulator")

    @app.get("/gates")
    def gates() -> dict:
        """Booms, relays, loops and reader fields."""
        return world.state()

    @app.get("/wiring/{gate}")
    def wiring(gate: str) -> dict:
        """The edge config sections for a gate."""
        if gate not in world.gates:
            raise HTTPException(404, f"no gate {gate}")
        return world.edge_wiring(gate)

    @app.post("/vehicles")
    def vehicle(body: VehicleIn) -> dict:
        """Send a vehicle; returns when it has passed or given up."""
        if body.gate not in world.gates:
            raise HTTPException(404, f"no gate {body.gate}")
        r = world.vehicle(body.gate, body.epc, drive_through=body.drive_through,
                          give_up_after=body.give_up_after)
        return {"gate": r.gate, "epc": r.epc, "opened": r.opened, "passed": r.passed,
                "waited_s": round(r.waited_s, 3)}

    return app
