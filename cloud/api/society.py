"""Routes of the society rules: sites, gates, vehicles, tags, panel accounts, the rules
snapshot, and remote open."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import (
    AccountsDep,
    ClockDep,
    DatabaseDep,
    LinkDep,
    RulesDep,
    StickersDep,
    SubscriptionsDep,
)
from cloud.api.limits import BULK_BODY_MAX
from cloud.errors import ERROR_RESPONSES, CloudError
from cloud.refusals import Refusal
from cloud.society import snapshot as snapshot_stream
from cloud.society.snapshot import NDJSON
from cloud.staff import resident_of
from shared.commands import open_command
from shared.contract import RulesDelta, RulesSnapshot
from shared.locks import refusing_lock
from shared.vocab import Direction, TagStatus, VehicleType


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteIn(_In):
    id: str = Field(max_length=64, description="Site id, [A-Za-z0-9_-]")
    name: str = Field("", max_length=200)
    timezone: str | None = Field(None, max_length=64, description="IANA time zone (needed "
                                 "before its first schedule), e.g. Asia/Kolkata; the "
                                 "country's when a country is given")
    country: str | None = Field(None, max_length=8, description="ISO 3166-1 alpha-2, e.g. IN, "
                                "RU, BR (default IN): plates are validated by it")
    locale: str | None = Field(None, max_length=8, description="en, hi, ru or pt-BR (default: "
                               "the country's)")
    currency: str | None = Field(None, max_length=8, description="ISO 4217, e.g. INR, RUB, BRL "
                                 "(default: the country's)")


class SiteCountryIn(_In):
    country: str | None = Field(None, max_length=8, description="ISO 3166-1 alpha-2; a new "
                                "country brings its language and currency unless given")
    locale: str | None = Field(None, max_length=8, description="en, hi, ru or pt-BR")
    currency: str | None = Field(None, max_length=8, description="ISO 4217")


class GateIn(_In):
    id: str = Field(max_length=64)
    direction: Direction
    name: str = Field("", max_length=200)
    external_id: str | None = Field(None, max_length=200,
                                    description="the barrier's id in another system")


class VehicleIn(_In):
    vrn: str = Field(max_length=20, description="Registration number, e.g. MH12AB1234")
    type: VehicleType = VehicleType.W4
    flat: str | None = Field(None, max_length=40, description="its flat or unit, e.g. B-402")


class TagIn(_In):
    epc: str = Field(max_length=124, description="EPC as hex (96-bit: 24 digits)")
    vrn: str | None = Field(None, max_length=20)
    status: TagStatus = TagStatus.INACTIVE
    vehicle_type: VehicleType | None = None


class BulkTagsIn(_In):
    tags: list[dict[str, Any]] = Field(max_length=100_000,
                                       description="[{epc, vrn?, status?}, …]")


class BulkVehiclesIn(_In):
    vehicles: list[dict[str, Any]] = Field(max_length=100_000,
                                           description="[{vrn, type?, flat?}, …]")


class ActivateIn(_In):
    vrn: str | None = Field(None, max_length=20)


class MoveIn(_In):
    vrn: str = Field(max_length=20, description="the vehicle the tag moves to")
    reason: str = Field(max_length=500, description="why: kept in the audit log")


class OpenIn(_In):
    vrn: str | None = Field(None, max_length=20,
                            description="the vehicle to let through, if known")
    by: str = Field("", max_length=200, description="who asks (staff id, resident id)")


class AccountIn(_In):
    username: str = Field(max_length=64)
    role: str = Field("guard", max_length=20, description="guard or supervisor")
    password: str = Field(max_length=1024,
                          description="at least 10 characters; only its scrypt hash is kept")


class LockIn(_In):
    until: datetime | None = Field(None, description="Locked until this time; none: until "
                                   "unlocked")


def _version(delta: RulesDelta) -> dict:
    return {"site": delta.site, "rules_version": delta.to_version}


router = APIRouter(responses=ERROR_RESPONSES)


@router.post("/api/v1/sites", status_code=201)
def create_site(rules: RulesDep, body: SiteIn) -> dict:
    """Create a site (society or parking)."""
    return rules.create_site(body.id, body.name or body.id, body.timezone, body.country,
                             body.locale, body.currency)


@router.get("/api/v1/sites/{site}")
def get_site(rules: RulesDep, site: str) -> dict:
    """A site: name, rules version, country, language, currency and time zone."""
    return rules.site(site)


@router.patch("/api/v1/sites/{site}")
def set_site_country(rules: RulesDep, site: str, body: SiteCountryIn) -> dict:
    """Change a site's country, language or currency (its zone: ``PUT …/timezone``)."""
    return rules.set_country(site, body.country, body.locale, body.currency)


@router.post("/api/v1/sites/{site}/gates", status_code=201)
def add_gate(rules: RulesDep, site: str, body: GateIn) -> dict:
    """Add or update a gate."""
    return _version(rules.add_gate(site, body.id, body.direction, body.name,
                                   body.external_id))


@router.post("/api/v1/sites/{site}/vehicles", status_code=201)
def add_vehicle(rules: RulesDep, site: str, body: VehicleIn) -> dict:
    """Register a vehicle by its VRN."""
    return _version(rules.add_vehicle(site, body.vrn, body.type, body.flat))


@router.post("/api/v1/sites/{site}/vehicles/bulk", status_code=201, max_body_size=BULK_BODY_MAX)
def add_vehicles_bulk(rules: RulesDep, site: str, body: BulkVehiclesIn) -> dict:
    """Register many vehicles in one rules version."""
    return _version(rules.add_vehicles_bulk(site, body.vehicles))


@router.delete("/api/v1/sites/{site}/vehicles/{vrn}")
def remove_vehicle(rules: RulesDep, site: str, vrn: str) -> dict:
    """Remove a vehicle (its tags become inactive)."""
    return _version(rules.remove_vehicle(site, vrn))


@router.post("/api/v1/sites/{site}/tags", status_code=201)
def add_tag(rules: RulesDep, site: str, body: TagIn) -> dict:
    """Register a tag to the site."""
    return _version(rules.add_tag(site, body.epc, body.vrn, body.status, body.vehicle_type))


@router.post("/api/v1/sites/{site}/tags/bulk", status_code=201, max_body_size=BULK_BODY_MAX)
def add_tags_bulk(rules: RulesDep, site: str, body: BulkTagsIn) -> dict:
    """Register many tags in one rules version."""
    return _version(rules.add_tags_bulk(site, body.tags))


@router.get("/api/v1/tags/{epc}")
def get_tag(stickers: StickersDep, epc: str) -> dict:
    """One tag, with its sticker's printed ``tag_id`` and its ``lifecycle`` (inventory,
    active, blocked, replaced or inactive); never a secret."""
    return stickers.tag_view(epc)


@router.post("/api/v1/tags/{epc}/activate")
def activate(rules: RulesDep, epc: str, body: ActivateIn | None = None) -> dict:
    """Activate for a vehicle of the tag's site."""
    return _version(rules.activate_tag(epc, body.vrn if body else None))


@router.post("/api/v1/tags/{epc}/move")
def move(rules: RulesDep, epc: str, body: MoveIn, request: Request) -> dict:
    """Move an active tag to another vehicle of its site, with a reason that is audited;
    its old binding ends in the same rules change (``activate`` never moves an active
    tag: ``tag_bound``)."""
    who = getattr(request.state, "principal", None)
    return _version(rules.move_tag(epc, body.vrn, body.reason, who.name if who else "staff"))


@router.post("/api/v1/tags/{epc}/block")
def block(rules: RulesDep, epc: str) -> dict:
    """Block (revoke) a tag."""
    return _version(rules.block_tag(epc))


@router.post("/api/v1/tags/{epc}/lock")
def lock(rules: RulesDep, epc: str, body: LockIn | None = None) -> dict:
    """Lock a tag: entry allowed, exit denied."""
    return _version(rules.lock_tag(epc, body.until if body else None))


@router.post("/api/v1/tags/{epc}/unlock")
def unlock(rules: RulesDep, epc: str) -> dict:
    """Unlock a tag at once."""
    return _version(rules.unlock_tag(epc))


@router.delete("/api/v1/tags/{epc}")
def remove(rules: RulesDep, epc: str) -> dict:
    """Delete a tag."""
    return _version(rules.remove_tag(epc))


@router.post("/api/v1/sites/{site}/gates/{gate}/open")
def remote_open(rules: RulesDep, subs: SubscriptionsDep, link: LinkDep, clock: ClockDep,
                site: str, gate: str, body: OpenIn, request: Request) -> dict:
    """Check the cloud's rules, send the gate a signed open, and return its answer.
    A resident's key opens only parking barriers, for the vehicle of a subscription it owns
    or is a user of."""
    g = rules.gate(site, gate)
    resident = resident_of(request)
    if resident and not g["parking"]:
        raise CloudError(403, Refusal.FORBIDDEN, "residents open parking barriers only")
    if g["parking"]:
        if not body.vrn:
            raise CloudError(409, Refusal.VEHICLE_REQUIRED,
                             "a parking barrier opens only for a named vehicle")
        sid = subs.usable(g["parking"], body.vrn)
        if resident and not subs.may_use(sid, resident):
            raise CloudError(403, Refusal.FORBIDDEN, "not your subscription's vehicle")
        if resident:
            body = OpenIn(vrn=body.vrn, by=f"resident:{resident}")
    elif body.vrn:
        tags = rules.usable_tags(site, body.vrn)
        if not tags:
            raise CloudError(409, Refusal.NO_VALID_TAG, f"{body.vrn} has no active tag here")
        locks = ((bool(t["locked"]), datetime.fromisoformat(t["locked_until"])
                  if t["locked_until"] else None) for t in tags)
        if refusing_lock(g["direction"] == "exit", locks, clock.now()):
            raise CloudError(409, Refusal.TAG_LOCKED, f"{body.vrn} is locked and may not leave")
    if link is None or not link.connected.is_set():
        raise CloudError(503, Refusal.NO_BROKER, "the cloud is not connected to the broker")
    edge = link.edge_of(site, gate)
    if edge is None:
        raise CloudError(409, Refusal.NO_EDGE, f"no edge box has reported gate {gate}")
    cmd = open_command(site, gate, g["command_key"], clock.now(), vrn=body.vrn, by=body.by)
    resp = link.send_command(edge, cmd)
    if resp is None:
        raise CloudError(504, Refusal.NO_ANSWER, f"edge {edge} did not answer in time")
    return {"command": cmd.id, "edge": edge, "status": resp.status, **resp.data,
            "error": resp.error}


@router.post("/api/v1/sites/{site}/accounts", status_code=201)
def add_account(accounts: AccountsDep, site: str, body: AccountIn) -> dict:
    """Create or replace a guard or supervisor account of the site's panels."""
    return _version(accounts.add(site, body.username, body.role, body.password))


@router.get("/api/v1/sites/{site}/accounts")
def list_accounts(accounts: AccountsDep, site: str) -> dict:
    """The site's panel accounts (names and roles only)."""
    return {"accounts": accounts.of_site(site)}


@router.delete("/api/v1/sites/{site}/accounts/{username}")
def remove_account(accounts: AccountsDep, site: str, username: str) -> dict:
    """Delete a panel account."""
    return _version(accounts.remove(site, username))


@router.get("/api/v1/sites/{site}/rules", response_model=RulesSnapshot,
            responses={200: {"content": {NDJSON: {}}}})
def snapshot(rules: RulesDep, db: DatabaseDep, site: str, request: Request
             ) -> StreamingResponse:
    """The full rule set at its current version (what a fresh edge loads), streamed as it
    is read: a ``RulesSnapshot``, or NDJSON lines when asked for ``application/x-ndjson``
    (a header, one line per vehicle, tag and subscription, and an ``end`` line with the
    counts). Codes go to the site's own boxes (with the key's pepper) and, as hashes nobody
    can test, to admins; to no one else."""
    rules.gate_site(site)
    who = getattr(request.state, "principal", None)
    codes: snapshot_stream.Codes = "none"
    if who is not None and who.edge_sites is not None and site in who.edge_sites:
        codes = "box"
    elif who is not None and who.has("admin"):
        codes = "hashes"
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(snapshot_stream.ndjson(db, site, codes),
                                 media_type=NDJSON)
    return StreamingResponse(snapshot_stream.json_pieces(db, site, codes),
                             media_type="application/json")

