"""Routes a resident's key (the resident app) uses for itself: who it is, its vehicles, and
activating a sticker. Staff issue the key (``POST /api/v1/residents/{id}/keys``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.errors import ERROR_RESPONSES, CloudError
from cloud.people.activation import Activation
from cloud.people.residents import Residents
from cloud.people.vehicle_tags import VehicleTags
from cloud.staff import resident_of


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MyVehicleIn(_In):
    vrn: str = Field(max_length=20, description="as on the registration certificate")
    site: str | None = Field(None, max_length=64, description="the society (needed only when "
                             "the resident lives in several)")


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
        raise CloudError(403, "forbidden", "only a resident's key acts for itself")
    return resident


def me_router(residents: Residents, activation: Activation, tags: VehicleTags) -> APIRouter:
    """The resident app's routes."""
    r = APIRouter(prefix="/api/v1/me", responses=ERROR_RESPONSES)

    @r.get("")
    def whoami(request: Request) -> dict[str, Any]:
        """The resident, with flats and vehicles, and ``flat_vehicles``: the vehicles of their
        flats with tags and locks (who locked and when)."""
        me = me_of(request)
        return residents.get(me) | {"flat_vehicles": tags.overview(me)}

    @r.post("/vehicles", status_code=201)
    def add_vehicle(body: MyVehicleIn, request: Request) -> dict[str, Any]:
        """Add a vehicle by its VRN (looked up at the vehicle registry)."""
        return activation.add_vehicle(me_of(request), body.vrn, body.site)

    @r.post("/tags/activate")
    def activate(body: ActivateIn, request: Request) -> dict[str, Any]:
        """Activate a sticker for one's vehicle; ``next`` says what the app shows next."""
        return activation.activate(me_of(request), body.vrn, body.tag_id, body.secret)

    @r.post("/tags/replace")
    def replace(body: ActivateIn, request: Request) -> dict[str, Any]:
        """A new sticker takes the place of the vehicle's lost (or still active) tag: the old
        one is blocked and marked replaced in the same change."""
        return activation.activate(me_of(request), body.vrn, body.tag_id, body.secret,
                                   replace=True)

    @r.post("/vehicles/{vrn}/lock")
    def lock(vrn: str, request: Request, body: LockIn | None = None) -> dict[str, Any]:
        """Lock the vehicle's tag: the gate refuses its exit at once; entry stays allowed."""
        return tags.lock(me_of(request), vrn, body.until if body else None)

    @r.post("/vehicles/{vrn}/unlock")
    def unlock(vrn: str, request: Request) -> dict[str, Any]:
        """Unlock the vehicle's tag at once."""
        return tags.unlock(me_of(request), vrn)

    @r.post("/vehicles/{vrn}/lost")
    def lost(vrn: str, request: Request) -> dict[str, Any]:
        """Report the vehicle's tag lost or stolen: blocked at every gate at once."""
        return tags.report_lost(me_of(request), vrn)

    return r
