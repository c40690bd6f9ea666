"""Routes of staff, their keys and the audit log (admin only, by the auth middleware of
``cloud.staff``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import StaffDep
from cloud.errors import ERROR_RESPONSES, CloudError, RowId
from cloud.refusals import Refusal
from cloud.staff import ROLES


class _StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    roles: list[str] = Field(default_factory=list, description=", ".join(ROLES))
    resident: str | None = Field(None, description="a resident's key: the resident id it "
                                 "acts for (an owner name of before residents is that "
                                 "resident's alias: it is found, or made without a phone)")


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post("/staff", status_code=201)
def add(staff: StaffDep, body: _StaffIn) -> dict[str, Any]:
    """A staff member or resident with a new API key (shown only in this answer)."""
    return staff.add(body.name, body.roles, body.resident)


@router.get("/staff")
def list_staff(staff: StaffDep, request: Request) -> dict[str, Any]:
    """Staff and residents with their roles."""
    _admin(request)
    return {"staff": staff.members()}


@router.delete("/staff/{staff_id}")
def revoke(staff: StaffDep, staff_id: RowId) -> dict[str, Any]:
    """Revoke every key of a staff member."""
    staff.revoke(staff_id)
    return {"revoked": staff_id}


@router.get("/audit")
def audit(staff: StaffDep,
          request: Request, limit: int = Query(500, ge=1, le=10_000)) -> dict[str, Any]:
    """The newest writes: who, what, when, and the answer."""
    _admin(request)
    return {"audit": staff.audit_log(limit)}


def _admin(request: Request) -> None:
    who = getattr(request.state, "principal", None)
    if who is None or not who.has("admin"):
        raise CloudError(403, Refusal.FORBIDDEN, "admins only")
