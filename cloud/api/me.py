"""Routes a resident's key (the resident app) uses for itself: who it is, its vehicles, and
activating a sticker. Staff issue the key (``POST /api/v1/residents/{id}/keys``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import ActivationDep, ResidentsDep, VehicleTagsDep
from cloud.errors import ERROR_RESPONSES, CloudError
from cloud.refusals import Refusal
from cloud.staff import resident_of


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MyVehicleIn(_In):
    vrn: str = Field(max_length=20, description="as on the registration certificate")
    site: str | None = Field(None, max_length=64, description="the society (needed only when "
                             "the resident lives in several)")
    secret: str | None = Field(None, max_length=64, description="the secret code of the sticker "
                               "on the vehicle: proves a vehicle registered without you is yours "
                               "(without it, the office confirms)")


class LockIn(_In):
    until: datetime | None = Field(None, description="locked until this time; none: until "
                                   "unlocked")


class ActivateIn(_In):
    vrn: str = Field(max_length=20)
    tag_id: str = Field(max_length=32, description="printed on the sticker")
    secret: str = Field(max_length=64, description="under the sticker's scratch panel")


def me_of(request: Request) -> str:
    """The resident a request's key acts for (``forbidden`` for any other key)."""
    resident = resident_of(request)
    if resident is None:
        raise CloudError(403, Refusal.FORBIDDEN, "only a resident's key acts for itself")
    return resident


def source_of(request: Request) -> str:
    """The address a request came from (what guessing limits count per source)."""
    return request.client.host if request.client else "?"


router = APIRouter(prefix="/api/v1/me", responses=ERROR_RESPONSES)


@router.get("")
def whoami(residents: ResidentsDep, tags: VehicleTagsDep, request: Request) -> dict[str, Any]:
    """The resident, with flats and vehicles, and ``flat_vehicles``: the vehicles of their
    flats with tags and locks (who locked and when)."""
    me = me_of(request)
    return residents.get(me) | {"flat_vehicles": tags.overview(me)}


@router.post("/vehicles", status_code=201, responses={202: {
         "description": "a claim of a vehicle registered without you, waiting for the office"}})
def add_vehicle(activation: ActivationDep, body: MyVehicleIn, request: Request) -> Any:
    """Add a vehicle by its VRN (looked up at the vehicle registry): yours at once (201)
    when it is new at the society, yours or your flat's already, or proven by the
    ``secret`` of its sticker; else a claim the office confirms (202, ``pending``)."""
    status, out = activation.add_vehicle(me_of(request), body.vrn, body.site,
                                         body.secret, source_of(request))
    return out if status == 201 else JSONResponse(out, status_code=status)


@router.get("/vehicle-claims")
def my_claims(activation: ActivationDep, request: Request) -> dict[str, Any]:
    """The resident's claims of vehicles: pending, confirmed, refused or cancelled."""
    return {"claims": activation.claims.of_resident(me_of(request))}


@router.post("/tags/activate")
def activate(activation: ActivationDep, body: ActivateIn, request: Request) -> dict[str, Any]:
    """Activate a sticker for one's vehicle; ``next`` says what the app shows next."""
    return activation.activate(me_of(request), body.vrn, body.tag_id, body.secret,
                               source=source_of(request))


@router.post("/tags/replace")
def replace(activation: ActivationDep, body: ActivateIn, request: Request) -> dict[str, Any]:
    """A new sticker takes the place of the vehicle's lost (or still active) tag: the old
    one is blocked and marked replaced in the same change."""
    return activation.activate(me_of(request), body.vrn, body.tag_id, body.secret,
                               replace=True, source=source_of(request))


@router.post("/vehicles/{vrn}/lock")
def lock(tags: VehicleTagsDep,
         vrn: str, request: Request, body: LockIn | None = None) -> dict[str, Any]:
    """Lock the vehicle's tag: the gate refuses its exit at once; entry stays allowed."""
    return tags.lock(me_of(request), vrn, body.until if body else None)


@router.post("/vehicles/{vrn}/unlock")
def unlock(tags: VehicleTagsDep, vrn: str, request: Request) -> dict[str, Any]:
    """Unlock the vehicle's tag at once."""
    return tags.unlock(me_of(request), vrn)


@router.post("/vehicles/{vrn}/lost")
def lost(tags: VehicleTagsDep, vrn: str, request: Request) -> dict[str, Any]:
    """Report the vehicle's tag lost or stolen: blocked at every gate at once."""
    return tags.report_lost(me_of(request), vrn)

