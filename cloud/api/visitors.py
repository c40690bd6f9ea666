"""Routes of walk-in visitors: the gate's box (or staff) asks a flat, the flat's residents
answer in their app, the box reads the answer (``cloud.codes.walkins``; docs/codes.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import WalkInsDep
from cloud.api.me import me_of
from cloud.errors import ERROR_RESPONSES


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gate: str = Field(max_length=64)
    flat: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=120)
    kind: str = Field("guest", max_length=10, description="guest, cab, delivery or helper")
    phone: str | None = Field(None, max_length=32)
    vrn: str | None = Field(None, max_length=20)
    asked_by: str = Field("guard", max_length=64, description="the guard at the panel")


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


def edge_of(request: Request) -> str | None:
    """The box whose key asks (its name without ``edge:``), or None for staff."""
    who = getattr(request.state, "principal", None)
    if who is not None and who.edge_sites is not None:
        return str(who.name).removeprefix("edge:")
    return None  # staff ask for any gate


@router.post("/sites/{site}/visitor-requests", status_code=201)
def ask(walkins: WalkInsDep, site: str, body: AskIn, request: Request) -> dict[str, Any]:
    """Ask a flat's residents to let a visitor in (a gate's box, for its own gate):
    ``{id, status: "pending", residents, expires_at, …}``."""
    return walkins.ask(edge_of(request), site, body.gate, body.flat, body.name, body.kind,
                       body.asked_by, body.phone, body.vrn)


@router.get("/sites/{site}/visitor-requests/{rid}")
def get(walkins: WalkInsDep, site: str, rid: str) -> dict[str, Any]:
    """A request as it stands: ``pending``, ``approved`` (with who), ``denied``,
    ``entered`` or ``expired``."""
    return walkins.get(site, rid)


@router.get("/me/visitor-requests")
def mine(walkins: WalkInsDep, request: Request) -> dict[str, Any]:
    """The requests waiting for an answer from the resident's flats."""
    return {"requests": walkins.pending_for(me_of(request))}


@router.post("/me/visitor-requests/{rid}/approve")
def approve(walkins: WalkInsDep, rid: str, request: Request) -> dict[str, Any]:
    """Let the visitor in: the guard's panel shows it at once."""
    return walkins.answer(me_of(request), rid, True)


@router.post("/me/visitor-requests/{rid}/deny")
def deny(walkins: WalkInsDep, rid: str, request: Request) -> dict[str, Any]:
    """Turn the visitor away."""
    return walkins.answer(me_of(request), rid, False)

