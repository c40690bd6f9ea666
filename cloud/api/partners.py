"""Routes of the partner apps: staff integrate a society and see its residents' links; a
resident opts in or out; staff issue partner keys; and the partner API, which a partner's key
reads for the societies that partner serves: only what it was or would be sent, the vehicles
connected to it now, their tags (never secrets) and their entries and exits it was sent,
nothing else (docs/partners.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import DatabaseDep, JobsDep, PartnerLinksDep, StaffDep
from cloud.api.me import me_of
from cloud.errors import ERROR_RESPONSES, CloudError
from cloud.partners.client import PARTNERS
from cloud.refusals import Refusal
from cloud.society.inventory import lifecycle
from cloud.storage import inventory, society
from cloud.storage import partners as partners_store

# Far past any real list, and within every database's integers: a bigger offset is a 422,
# never a database overflow.
MAX_OFFSET = 2**53
OFFSET = Query(0, ge=0, le=MAX_OFFSET, description=f"rows to skip, at most {MAX_OFFSET}")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SitePartnerIn(_In):
    partner: str = Field(max_length=20, description=", ".join(PARTNERS))
    mode: str | None = Field(None, max_length=10, description="opt_in or opt_out (default: "
                             "the partner's own: opt_out for mygate, else opt_in)")
    endpoint: str = Field(max_length=300, description="the partner's base URL for this society")
    credential: str = Field(min_length=1, max_length=500, description="the bearer token the "
                            "partner gave; stored, never returned")


class PartnerOptIn(_In):
    opted_in: bool


class PartnerKeyIn(_In):
    partner: str = Field(max_length=20, description=", ".join(PARTNERS))
    sites: list[str] | None = Field(None, max_length=10_000, description="only these of its "
                                    "societies (default: every society it serves)")


def _tag(c: Any, row: Any) -> dict[str, Any]:
    sticker = inventory.by_epc(c, row["epc"])
    return {"epc": row["epc"], "status": row["status"], "vrn": row["vrn"],
            "tag_id": sticker["tag_id"] if sticker else None,
            "lifecycle": lifecycle(row, sticker), "locked": bool(row["locked"])}


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.put("/sites/{site}/partner")
def put_partner(links: PartnerLinksDep, site: str, body: SitePartnerIn) -> dict[str, Any]:
    """Integrate a society with a partner app (admin): the answer carries
    ``signing_secret``, with which every call to the partner is signed (give it to the
    partner; never shown again but here)."""
    return links.configure(site, body.partner, body.mode, body.endpoint, body.credential)


@router.get("/sites/{site}/partner")
def get_partner(links: PartnerLinksDep, site: str) -> dict[str, Any]:
    """The society's partner (never its credential), every resident vehicle's link to it
    with its state, and the forwarding outbox's counts."""
    return links.site_view(site)


@router.delete("/sites/{site}/partner")
def delete_partner(links: PartnerLinksDep, site: str) -> dict[str, Any]:
    """End the society's integration."""
    return links.remove(site)


@router.post("/partner-keys", status_code=201)
def partner_key(staff: StaffDep, body: PartnerKeyIn) -> dict[str, Any]:
    """A partner's API key (shown only in this answer), scoped to the societies it
    serves."""
    if body.partner not in PARTNERS:
        raise CloudError(422, Refusal.UNKNOWN_PARTNER, f"partners are {', '.join(PARTNERS)}")
    return staff.add_partner(body.partner, body.sites)


@router.post("/jobs/partner-forward")
def forward_now(jobs: JobsDep) -> dict[str, Any]:
    """Forward every pending event to its partner now (the job also runs on a schedule)."""
    return jobs.run_forward(due_only=False)


@router.put("/me/vehicles/{vrn}/partner")
def opt(links: PartnerLinksDep, vrn: str, body: PartnerOptIn, request: Request) -> dict[str, Any]:
    """Opt in (connect, or try again) or out of the society's partner app for a vehicle:
    after an opt-out nothing more is sent, queued events included."""
    return links.set_opt(me_of(request), vrn, body.opted_in)


@router.get("/me/partners")
def my_partners(links: PartnerLinksDep, request: Request) -> dict[str, Any]:
    """The resident's vehicles' links to their societies' partner apps."""
    return {"partners": links.mine(me_of(request))}

# The partner API (a partner's key) ---------------------------------------------------------


@router.get("/partner/sites")
def partner_sites(request: Request) -> dict[str, Any]:
    """The societies this key may read."""
    who = request.state.principal
    return {"partner": who.partner, "sites": list(who.partner_sites)}


@router.get("/partner/sites/{site}/vehicles")
def partner_vehicles(db: DatabaseDep, site: str, request: Request,
                     limit: int = Query(1000, ge=1, le=10_000),
                     offset: int = OFFSET) -> dict[str, Any]:
    """The society's vehicles connected to this partner now, each with its tags."""
    c = db.conn
    shown = partners_store.shown_vrns(c, site, request.state.principal.partner)
    rows = [v for v in society.site_vehicles(c, site) if v["vrn"] in shown]
    return {"site": site, "vehicles": [
        {"vrn": v["vrn"], "type": v["type"], "make": v["make"], "model": v["model"],
         "flat": v["flat"], "tags": [_tag(c, t) for t in
                                     society.site_tags_of_vehicle(c, site, v["vrn"])]}
        for v in rows[offset:offset + limit]]}


@router.get("/partner/sites/{site}/tags")
def partner_tags(db: DatabaseDep,
                 site: str, request: Request, limit: int = Query(1000, ge=1, le=10_000),
                 offset: int = OFFSET) -> dict[str, Any]:
    """The tags of the society's vehicles connected to this partner now (never a
    sticker's secret)."""
    c = db.conn
    shown = partners_store.shown_vrns(c, site, request.state.principal.partner)
    rows = [t for t in society.site_tags(c, site) if t["vrn"] in shown]
    return {"site": site, "tags": [_tag(c, t) for t in rows[offset:offset + limit]]}


@router.get("/partner/sites/{site}/events")
def partner_events(db: DatabaseDep, site: str, request: Request, since: datetime | None = None,
                   limit: int = Query(500, ge=1, le=5000),
                   offset: int = OFFSET) -> dict[str, Any]:
    """The entries and exits the partner was (or is about to be) sent, of vehicles
    connected to it now, oldest first."""
    after = None if since is None else \
        (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    rows = partners_store.shown_events(db.conn, site, request.state.principal.partner,
                                       after, limit, offset)
    return {"site": site, "events": [
        {k: p[k] for k in ("id", "gate", "vrn", "direction", "at")}
        for p in (json.loads(r["payload"]) for r in rows)]}

