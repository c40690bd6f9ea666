"""Routes of residents: staff add, import, read and remove them, give vehicles to them, and
confirm or refuse residents' claims of vehicles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import ResidentsDep, StaffDep
from cloud.api.limits import RESIDENTS_CSV_MAX
from cloud.errors import ERROR_RESPONSES, CloudError, RowId
from cloud.refusals import Refusal


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlatIn(_In):
    site: str = Field(max_length=64)
    flat: str = Field(max_length=40, description="the flat or unit, e.g. B-402")
    role: str = Field("owner", max_length=10, description="owner or tenant")


class ResidentIn(_In):
    phone: str = Field(max_length=32, description="any common format; kept as E.164")
    name: str = Field(max_length=200)
    flats: list[FlatIn] = Field(default_factory=list, max_length=50)


class ResidentPatch(_In):
    phone: str | None = Field(None, max_length=32, description="any common format; kept as "
                              "E.164")
    name: str | None = Field(None, max_length=200)
    company: bool | None = Field(None, description="a company (legal entity): never given "
                                 "access codes")


class OwnerIn(_In):
    resident: str | None = Field(max_length=20, description="a resident id; null: nobody's")
    make: str = Field("", max_length=60)
    model: str = Field("", max_length=60)


class RefuseIn(_In):
    reason: str = Field("", max_length=500, description="told to the resident")


def staff_name(request: Request) -> str:
    """Who decided, for the record: ``staff:NAME`` of the request's key."""
    who = getattr(request.state, "principal", None)
    return f"staff:{who.name}" if who is not None else "staff"


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post("/residents", status_code=201)
def add(residents: ResidentsDep, body: ResidentIn) -> dict[str, Any]:
    """Add a resident with the flats they live in."""
    return residents.add(body.phone, body.name, [f.model_dump() for f in body.flats])


@router.post("/residents/import", status_code=201, max_body_size=RESIDENTS_CSV_MAX,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {
                 "type": "string"}}}, "required": True}})
def import_csv(residents: ResidentsDep,
               text: str = Body(..., media_type="text/csv", max_length=20_000_000)
               ) -> dict[str, Any]:
    """Import residents from CSV (``phone,name,site,flat,role``, one row per flat): all
    or nothing."""
    return residents.import_csv(text)


@router.get("/residents")
def find(residents: ResidentsDep, phone: str = Query(..., max_length=32)) -> dict[str, Any]:
    """The resident with this phone number."""
    return residents.find(phone)


@router.get("/residents/{resident}")
def get(residents: ResidentsDep, resident: str) -> dict[str, Any]:
    """A resident with their flats and vehicles."""
    return residents.get(resident)


@router.patch("/residents/{resident}")
def patch(residents: ResidentsDep, resident: str, body: ResidentPatch) -> dict[str, Any]:
    """Change a resident's phone, name or whether it is a company (a resident made from an
    owner name of before residents has no phone until given one here)."""
    return residents.update(resident, body.phone, body.name, body.company)


@router.post("/residents/{resident}/keys", status_code=201)
def add_key(residents: ResidentsDep, staff: StaffDep, resident: str) -> dict[str, Any]:
    """A new API key for the resident's app (shown once): it acts for this resident on
    ``/api/v1/me/…`` and the resident's routes of parking."""
    got = residents.get(resident)
    if got["removed_at"]:
        raise CloudError(404, Refusal.UNKNOWN_RESIDENT, f"resident {resident} was removed")
    key = staff.add(f"resident:{resident}", [], resident=resident)
    return {"resident": resident, "key": key["key"]}


@router.delete("/residents/{resident}")
def remove(residents: ResidentsDep,
           resident: str, hand_over_to: str | None = Query(None, max_length=20),
           end_stickers: bool = Query(False)) -> dict[str, Any]:
    """A resident leaves: their flats and vehicles are unlinked and the active tags of
    their vehicles blocked (``ended_tags``), or, with ``hand_over_to``, the vehicles and
    tags become that resident's; their records stay. A vehicle in a flat others still
    live in is not guessed at: staff say ``hand_over_to`` or ``end_stickers``
    (``vehicles_to_settle`` otherwise)."""
    return residents.remove(resident, hand_over_to, end_stickers)


@router.get("/sites/{site}/residents")
def of_site(residents: ResidentsDep, site: str) -> dict[str, Any]:
    """The residents of a site, by flat."""
    return {"site": site, "residents": residents.of_site(site)}


@router.put("/sites/{site}/vehicles/{vrn}/resident")
def give_vehicle(residents: ResidentsDep, site: str, vrn: str, body: OwnerIn) -> dict[str, Any]:
    """Make a registered vehicle a resident's (one with a flat at the site)."""
    return residents.give_vehicle(site, vrn, body.resident, body.make, body.model)


@router.get("/sites/{site}/vehicle-claims")
def claims(residents: ResidentsDep,
           site: str, status: str | None = Query(None, max_length=10)) -> dict[str, Any]:
    """Residents' claims of vehicles registered without them (``status=pending``: those
    waiting for the office), oldest first."""
    return {"site": site, "claims": residents.claims.of_site(site, status)}


@router.post("/sites/{site}/vehicle-claims/{claim}/confirm")
def confirm(residents: ResidentsDep, site: str, claim: RowId, request: Request) -> dict[str, Any]:
    """The office confirms the vehicle is the claimant's: theirs, in their flat, at once."""
    return residents.claims.confirm(site, claim, staff_name(request))


@router.post("/sites/{site}/vehicle-claims/{claim}/refuse")
def refuse(residents: ResidentsDep,
           site: str, claim: RowId, request: Request, body: RefuseIn | None = None
           ) -> dict[str, Any]:
    """The office refuses a claim: the vehicle stays as it was."""
    return residents.claims.refuse(site, claim, staff_name(request),
                                   body.reason if body else "")

