"""Routes of access codes and visitor passes: staff set a site's code settings, issue codes to
residents and cancel them; a resident sees, activates and cancels their codes and issues passes
to visitors, with a QR image to share (docs/codes.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import CodesDep
from cloud.api.me import me_of
from cloud.codes.passes import PassRequest
from cloud.errors import ERROR_RESPONSES
from shared.contract import Weekday


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeSettingsIn(_In):
    alphabet: str | None = Field(None, max_length=10, description="digits (keypads) or "
                                 "letters (upper-case and digits, no 0/O or 1/I)")
    length: int | None = Field(None, ge=8, le=10)
    per_person: int | None = Field(None, ge=1, le=4, description="live codes a person holds")
    activation_days: int | None = Field(None, ge=1, le=3660)
    duration_days: int | None = Field(None, ge=1, le=3660)
    first_use_activates: bool | None = Field(None, description="an issued code is activated "
                                             "by its first use at a gate")
    eligible: list[Literal["owner", "tenant", "committee"]] | None = Field(
        None, max_length=3, description="the kinds of people given codes (never companies)")
    free: list[Literal["owner", "tenant", "committee"]] | None = Field(
        None, max_length=3, description="the eligible kinds whose codes are free; the others' "
        "are on subscription")
    subscription_days: int | None = Field(None, ge=1, le=3660, description="how long a "
                                          "subscription code is usable (never under 45)")
    renew_before_free: int | None = Field(None, ge=0, le=30, description="days before expiry "
                                          "the daily job checks a free code")
    renew_before_subscription: int | None = Field(None, ge=0, le=30)
    auto_issue: bool | None = Field(None, description="the daily job issues codes to people "
                                    "who became eligible, up to per_person")


class IssueIn(_In):
    resident: str = Field(max_length=20)


class PassIn(_In):
    kind: str = Field(max_length=10, description="guest, cab, delivery or helper")
    name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(None, max_length=32)
    vrn: str | None = Field(None, max_length=20)
    valid_from: datetime
    valid_until: datetime
    single_use: bool = Field(True, description="spent by its first entry (a recurring pass "
                             "never is)")
    site: str | None = Field(None, max_length=64)
    days: list[Weekday] = Field(default_factory=list, max_length=7, description="a recurring "
                                "pass (a helper's): the days of the week it opens on")
    start: str | None = Field(None, max_length=5, description="HH:MM on the site's clock")
    end: str | None = Field(None, max_length=5, description="HH:MM or 24:00; before start: "
                            "past midnight")
    schedule: str | None = Field(None, max_length=64, description="or one of the site's "
                                 "schedules to keep to")


class RotateIn(_In):
    reissue: bool = Field(True, description="new codes for every live code's holder (visitor "
                          "passes cancelled); false: the same codes hashed under the new key")


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.put("/sites/{site}/codes/settings")
def put_settings(codes: CodesDep, site: str, body: CodeSettingsIn) -> dict[str, Any]:
    """Set how the site's codes are drawn and live (admin); the gates get the change."""
    return codes.configure(site, **body.model_dump())


@router.get("/sites/{site}/codes/settings")
def get_settings(codes: CodesDep, site: str) -> dict[str, Any]:
    """The site's code settings."""
    return codes.settings(site)


@router.post("/sites/{site}/codes", status_code=201)
def issue(codes: CodesDep, site: str, body: IssueIn, request: Request) -> dict[str, Any]:
    """Issue a resident a code (admin): shown in clear in this answer and in the
    resident's app."""
    who = getattr(request.state, "principal", None)
    return codes.issue(site, body.resident, f"staff:{who.name}" if who else "staff")


@router.post("/sites/{site}/codes/issue-all")
def issue_all(codes: CodesDep,
              site: str, request: Request, count: int | None = Query(None, ge=1, le=4)
              ) -> dict[str, Any]:
    """Issue every eligible person of the site codes up to ``count`` live ones (default
    ``per_person``): ``{people, issued, rules_version}``."""
    who = getattr(request.state, "principal", None)
    return codes.issue_all(site, count, f"staff:{who.name}" if who else "staff")


@router.post("/sites/{site}/codes/rotate")
def rotate(codes: CodesDep,
           site: str, request: Request, body: RotateIn | None = None) -> dict[str, Any]:
    """Draw the site's next code key in one rules change (after a box was stolen): with
    ``reissue`` (the default) every live code's holder gets a new code in its state and
    visitor passes are cancelled; without, the same codes are hashed again (a site of
    before moves to scrypt). ``{generation, reissued, rehashed, cancelled,
    rules_version}``."""
    who = getattr(request.state, "principal", None)
    return codes.rotate(site, body.reissue if body else True,
                        f"staff:{who.name}" if who else "staff")


@router.get("/sites/{site}/codes")
def site_codes(codes: CodesDep, site: str) -> dict[str, Any]:
    """The site's codes and passes, masked."""
    return {"site": site, "codes": codes.of_site(site)}


@router.post("/codes/{code_id}/cancel")
def cancel(codes: CodesDep, code_id: str) -> dict[str, Any]:
    """Cancel a code or pass (admin): refused at every gate at once."""
    return codes.cancel(code_id)


@router.get("/me/codes")
def mine(codes: CodesDep, request: Request) -> dict[str, Any]:
    """The resident's codes and passes, in clear."""
    return {"codes": codes.mine(me_of(request))}


@router.post("/me/codes/{code_id}/activate")
def activate(codes: CodesDep, code_id: str, request: Request) -> dict[str, Any]:
    """Activate an issued code: valid for the site's duration from now."""
    return codes.activate(me_of(request), code_id)


@router.post("/me/passes", status_code=201)
def issue_pass(codes: CodesDep, body: PassIn, request: Request) -> dict[str, Any]:
    """Issue a visitor a pass for a time window: single-use by default, or recurring on
    days of the week and hours (a helper's)."""
    return codes.issue_pass(me_of(request), PassRequest(**body.model_dump()))


@router.post("/me/codes/{code_id}/cancel")
def cancel_mine(codes: CodesDep, code_id: str, request: Request) -> dict[str, Any]:
    """Cancel one's own code or pass."""
    return codes.cancel(code_id, me_of(request))


@router.get("/me/codes/{code_id}/qr.svg")
def qr(codes: CodesDep, code_id: str, request: Request) -> Response:
    """The code as a QR image to share with a visitor."""
    return Response(codes.qr_svg(me_of(request), code_id), media_type="image/svg+xml")

