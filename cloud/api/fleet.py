"""Routes of the fleet: provision a box (its key, its sites and gates), move gates between
boxes, and list the boxes with their availability and assignment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import FleetDep, StaffDep
from cloud.errors import ERROR_RESPONSES, CloudError
from cloud.fleet import Fleet, GateRef, check_gates
from cloud.refusals import Refusal
from cloud.staff import Staff

_ID = r"^[A-Za-z0-9_-]+$"


class GateIn(BaseModel):
    """One gate of one site."""

    model_config = ConfigDict(extra="forbid")
    site: str = Field(pattern=_ID, max_length=64)
    gate: str = Field(pattern=_ID, max_length=64)


class AssignmentIn(BaseModel):
    """The sites a box serves, and the gates it holds by name (a site none of whose gates
    are named is served whole: every gate no other box holds by name)."""

    model_config = ConfigDict(extra="forbid")
    sites: list[Annotated[str, Field(pattern=_ID, max_length=64)]] = Field(
        min_length=1, max_length=1000,
        description="the sites whose rules it reads and whose gates it serves")
    gates: list[GateIn] = Field(default_factory=list, max_length=10_000,
                                description="gates it holds by name, each of one of its sites")


class EdgeIn(AssignmentIn):
    """A new box."""

    id: str = Field(pattern=_ID, max_length=64, description="the edge box's id")


def _refs(body: AssignmentIn) -> list[GateRef]:
    return [GateRef(g.site, g.gate) for g in body.gates]


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post("/edges", status_code=201)
def add_edge(fleet: FleetDep, staff: StaffDep, body: EdgeIn) -> dict[str, Any]:
    """A box's API key (shown only in this answer) and its assignment: it reads the
    rules of its own sites, and the cloud accepts its events, gate claims and command
    answers for its own gates only."""
    return provision_edge(fleet, staff, body.id, body.sites, _refs(body))


@router.put("/edges/{edge}/assignment")
def reassign(fleet: FleetDep, staff: StaffDep, edge: str, body: AssignmentIn) -> dict[str, Any]:
    """Replace a box's sites and gates (its key stays); a gate named here leaves the box
    that held it (a replaced box)."""
    if not staff.named(f"edge:{edge}"):
        raise CloudError(404, Refusal.UNKNOWN_EDGE, f"no box {edge} was provisioned")
    return fleet.assign(edge, body.sites, _refs(body))


@router.get("/edges/{edge}/sequences")
def sequences(fleet: FleetDep, staff: StaffDep, edge: str) -> dict[str, Any]:
    """The last event number stored per gate of a box (``{"site/gate": seq}``): what a
    box restored from a backup continues from, so that none of its new events reuses an
    id the cloud holds. A box's own key may read its own."""
    if not staff.named(f"edge:{edge}"):
        raise CloudError(404, Refusal.UNKNOWN_EDGE, f"no box {edge} was provisioned")
    return {"edge": edge, "gates": fleet.last_seqs(edge)}


@router.get("/edges")
def edges(fleet: FleetDep) -> dict[str, Any]:
    """Every box: last availability, sites, gates held by name, sites served whole."""
    return {"edges": fleet.boxes()}


def provision_edge(fleet: Fleet, staff: Staff, edge: str, sites: list[str],
                   gates: list[GateRef]) -> dict[str, Any]:
    """Issue a box's key and record what it serves."""
    check_gates(sites, gates)  # before a key is issued for a box that cannot be assigned
    got = staff.add_edge(edge, sites)
    return got | fleet.assign(edge, sites, gates)
