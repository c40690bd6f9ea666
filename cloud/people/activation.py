"""A resident adds their vehicle and activates a sticker from the app (the seed's flow).

``add_vehicle``: the VRN is valid (``vrn_invalid``), the vehicle registry knows it
(``vehicle_not_found``; ``provider_unavailable`` when it cannot say), and the resident lives at
the site (``not_a_resident_here``); the vehicle is registered there as theirs, with the
registry's type, make and model.

``activate``: every check has its own code, in this order: ``vrn_invalid``;
``vehicle_not_found``; ``tag_not_found``; ``secret_mismatch``; ``tag_other_society`` (the sticker
is mapped to a society the resident has no flat in); ``tag_already_active``;
``vehicle_type_mismatch`` (the sticker's 2W/4W against the registry's); ``vehicle_already_tagged``
(the vehicle holds an active tag at that society already: one active tag of a kind per vehicle,
our reading of the seed's fourth check). Unknown tag ids and wrong secrets count against the tag
id and against the resident: after ``MAX_FAILURES`` either is locked for ``LOCK`` and every try
is ``too_many_attempts``; each failure is audited and counted. On success the vehicle (registered
as the resident's if it was not yet) and the active tag go to the gates in one rules change, and
the answer says what the app shows next.

A **FITkit** sticker has no EPC of its own: after the checks above, the vehicle's FASTag is looked
up at the FASTag registry and the sticker binds its EPC, so the gate reads the FASTag. Outcomes
past the checks: bound; ``fastag_not_found`` (the vehicle has no FASTag); ``fastag_inactive``
(blacklisted or closed at the registry); ``fastag_in_use`` (that FASTag is a tag of another
vehicle or society here); ``provider_unavailable`` (nothing changes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cloud.errors import CloudError
from cloud.people.registry import (
    Fastag,
    FastagRegistry,
    ProviderUnavailable,
    VehicleDetails,
    VehicleRegistry,
)
from cloud.society.rules import RulesService, tag_rule, vehicle_rule
from cloud.storage import Tx, inventory, residents, society
from cloud.storage.staff import write_audit
from shared import vrn as vrn_rules
from shared.contract import Change
from shared.passwords import verify_password
from shared.vocab import TagStatus

MAX_FAILURES = 5
LOCK = timedelta(minutes=15)
NEXT = ["fastag_recharge_offer"]  # the app's FASTag recharge screen


class Activation:
    """The resident's side of vehicles and stickers."""

    def __init__(self, rules: RulesService, registry: VehicleRegistry | None,
                 on_failure: Callable[[str], None] | None = None,
                 fastags: FastagRegistry | None = None) -> None:
        self.rules = rules
        self.db = rules.db
        self.clock = rules.clock
        self.registry = registry
        self.fastags = fastags
        # After an activation: the society's partner app connects or offers (its answer is
        # the activation's ``partner``); None where no partner apps are wired.
        self.on_activated: Callable[[str, str, str], dict[str, Any] | None] | None = None
        self.on_failure = on_failure  # counts each refused activation by reason (metrics)

    # Shared checks ----------------------------------------------------------------------------
    def _resident(self, c: Tx, resident: str) -> Any:
        row = residents.get(c, resident)
        if row is None or row["removed_at"]:
            raise CloudError(403, "forbidden", "this key acts for no resident")
        return row

    def _lookup(self, raw_vrn: str) -> VehicleDetails:
        try:
            vrn = vrn_rules.validate(raw_vrn)
        except ValueError as exc:
            raise CloudError(422, "vrn_invalid", f"{raw_vrn!r} is not a registration "
                             f"number: {exc}") from exc
        if self.registry is None:
            raise CloudError(503, "provider_unavailable", "no vehicle registry is configured")
        try:
            found = self.registry.lookup(vrn)
        except ProviderUnavailable as exc:
            raise CloudError(503, "provider_unavailable", "the vehicle registry cannot be "
                             "reached now: try again in a few minutes") from exc
        if found is None:
            raise CloudError(404, "vehicle_not_found", f"the vehicle registry has no vehicle "
                             f"{vrn}: check the number on the registration certificate")
        return VehicleDetails(vrn, found.type, found.make, found.model)

    def _claim_vehicle(self, c: Tx, site: str, resident: str, car: VehicleDetails) -> Change:
        """The vehicle registered at *site* as the resident's (refused if another's)."""
        row = society.vehicle(c, site, car.vrn)
        if row is not None and row["resident"] not in (None, resident):
            raise CloudError(409, "vehicle_of_another_resident", f"{car.vrn} is registered to "
                             "another resident of this society: ask the society's office")
        if row is None:
            flat = next((f["flat"] for f in residents.flats(c, resident) if f["site"] == site),
                        None)
            society.insert_vehicle(c, site, car.vrn, car.type, flat,
                                   self.clock.now().isoformat())
        residents.set_vehicle_owner(c, site, car.vrn, resident, car.make, car.model)
        claimed = society.vehicle(c, site, car.vrn)
        assert claimed is not None
        return Change(op="vehicle.upsert", vehicle=vehicle_rule(claimed))

    # Routes' operations -----------------------------------------------------------------------
    def add_vehicle(self, resident: str, vrn: str, site: str | None) -> dict[str, Any]:
        """Register a vehicle of the resident's at a society they live in."""
        with self.db.read() as c:
            self._resident(c, resident)
            sites = sorted({f["site"] for f in residents.flats(c, resident)})
        if site is None:
            if len(sites) != 1:
                raise CloudError(422, "site_required", "you live in several societies: say "
                                 "which one the vehicle is for")
            site = sites[0]
        car = self._lookup(vrn)
        if site not in sites:
            raise CloudError(409, "not_a_resident_here", f"you have no flat at {site}")
        delta = self.rules._change(site, lambda c: [self._claim_vehicle(c, site, resident,
                                                                        car)])
        return {"site": site, "vrn": car.vrn, "type": car.type, "make": car.make,
                "model": car.model, "rules_version": delta.to_version}

    def activate(self, resident: str, vrn: str, tag_id: str, secret: str,
                 replace: bool = False) -> dict[str, Any]:
        """Activate a sticker for the resident's vehicle (the checks in the module's order).
        With *replace*, the sticker takes the place of the vehicle's tags at that society (a
        lost one, blocked, or one still active): they are blocked and marked replaced in the
        same change (``nothing_to_replace`` if the vehicle has none)."""
        with self.db.read() as c:
            self._resident(c, resident)
        car = self._lookup(vrn)
        now = self.clock.now()
        keys = (f"resident:{resident}", f"tag:{tag_id}")
        with self.db.read() as c:
            self._refuse_if_locked(c, keys, now)
            sticker = inventory.by_tag_id(c, tag_id)
        # The slow hash is checked once, outside any write transaction.
        wrong = None if sticker is not None and verify_password(secret, sticker["secret_hash"]) \
            else "tag_not_found" if sticker is None else "secret_mismatch"
        if wrong is not None:
            with self.db.write() as c:
                self._failed(c, keys, now, resident, tag_id, wrong)
            self._count(wrong)  # the failure is committed: only then refuse
            if sticker is None:
                raise CloudError(404, "tag_not_found", f"no sticker has tag id {tag_id}: "
                                 "check the id printed on the sticker")
            raise CloudError(403, "secret_mismatch", "the secret code does not match this "
                             "sticker: scratch the panel and type the code again")
        assert sticker is not None
        site = sticker["site"]
        fitkit = sticker["kind"] == "fitkit"
        fastag = self._fastag(car.vrn) if fitkit and not sticker["activated_at"] else None
        bound: dict[str, str] = {}  # the EPC the gate reads now: the sticker's or the FASTag's

        def fn(c: Tx) -> list[Change]:
            if not residents.lives_in(c, resident, site):
                raise CloudError(409, "tag_other_society", "this sticker belongs to another "
                                 "society than yours: ask your society's office for one")
            now_sticker = inventory.by_tag_id(c, tag_id)
            assert now_sticker is not None
            tag = society.tag(c, now_sticker["epc"]) if now_sticker["epc"] else None
            if now_sticker["activated_at"] or (not fitkit and (
                    tag is None or tag["status"] != TagStatus.INACTIVE.value)):
                raise CloudError(409, "tag_already_active", "this sticker was activated "
                                 "already")
            if sticker["vehicle_type"] != car.type:
                raise CloudError(422, "vehicle_type_mismatch", f"this sticker is for a "
                                 f"{sticker['vehicle_type']} and {car.vrn} is a {car.type}")
            old = [t for t in society.site_tags_of_vehicle(c, site, car.vrn)
                   if t["status"] in (TagStatus.ACTIVE.value, TagStatus.BLOCKED.value)
                   and (inventory.by_epc(c, t["epc"]) or {"replaced_by": None})["replaced_by"]
                   is None]
            if replace and not old:
                raise CloudError(409, "nothing_to_replace", f"{car.vrn} has no tag to replace "
                                 "at this society: activate the sticker instead")
            if not replace and any(t["status"] == TagStatus.ACTIVE.value for t in old):
                raise CloudError(409, "vehicle_already_tagged", f"{car.vrn} has an active tag "
                                 "already: report it lost to replace it")
            epc = self._bindable(c, fastag, site, car.vrn, old if replace else []) \
                if fitkit else sticker["epc"]
            bound["epc"] = epc
            changes = [self._claim_vehicle(c, site, resident, car)]
            at = self.clock.now().isoformat()
            for t in old if replace else []:
                society.update_tag(c, t["epc"], at, status=TagStatus.BLOCKED.value)
                if (gone := inventory.by_epc(c, t["epc"])) is not None:
                    inventory.mark_replaced(c, gone["tag_id"], tag_id)
                blocked = society.tag(c, t["epc"])
                assert blocked is not None
                changes.append(Change(op="tag.upsert", tag=tag_rule(blocked)))
            if fitkit and society.tag(c, epc) is None:
                society.insert_tag(c, epc, site, TagStatus.ACTIVE.value, car.vrn, car.type, at)
            else:
                society.update_tag(c, epc, at, status=TagStatus.ACTIVE.value, vrn=car.vrn)
            if fitkit:
                inventory.bind(c, tag_id, epc, at)
            inventory.mark_activated(c, tag_id, resident, at)
            for key in keys:
                inventory.clear_failures(c, key)
            active = society.tag(c, epc)
            assert active is not None
            return [*changes, Change(op="tag.upsert", tag=tag_rule(active))]

        try:
            delta = self.rules._change(site, fn)
        except CloudError as exc:
            self._count(exc.reason)
            raise
        out = {"tag_id": tag_id, "epc": bound["epc"], "vrn": car.vrn, "site": site,
               "kind": sticker["kind"], "status": "active", "rules_version": delta.to_version,
               "next": NEXT}
        partner = self.on_activated(resident, site, car.vrn) if self.on_activated else None
        if partner is not None:
            out["partner"] = partner
            if partner["state"] == "offered":
                out["next"] = [*NEXT, "partner_offer"]
        return out

    # FITkit -----------------------------------------------------------------------------------
    def _fastag(self, vrn: str) -> Fastag | ProviderUnavailable | None:
        """The vehicle's FASTag at the registry (the failure, to be told in its turn)."""
        if self.fastags is None:
            return ProviderUnavailable("no FASTag registry is configured")
        try:
            return self.fastags.lookup(vrn)
        except ProviderUnavailable as exc:
            return exc

    @staticmethod
    def _bindable(c: Tx, fastag: Fastag | ProviderUnavailable | None, site: str, vrn: str,
                  replacing: list[Any]) -> str:
        """The EPC a FITkit sticker may bind, or the refusal, past the sticker's checks."""
        if isinstance(fastag, ProviderUnavailable):
            raise CloudError(503, "provider_unavailable", "the FASTag registry cannot be "
                             "reached now: try again in a few minutes")
        if fastag is None:
            raise CloudError(404, "fastag_not_found", f"{vrn} has no FASTag at the national "
                             "registry: buy one, or use an RFID sticker")
        if not fastag.usable:
            raise CloudError(409, "fastag_inactive", f"the FASTag of {vrn} is "
                             f"{fastag.status} at its bank: have it reactivated, then try "
                             "again")
        held = society.tag(c, fastag.epc)
        if held is not None and held["epc"] not in {t["epc"] for t in replacing} and \
                (held["site"] != site or held["vrn"] not in (None, vrn)
                 or held["status"] == TagStatus.ACTIVE.value):
            raise CloudError(409, "fastag_in_use", f"the FASTag of {vrn} is registered here "
                             "as another tag: ask the society's office")
        return fastag.epc

    # Brute force ------------------------------------------------------------------------------
    def _refuse_if_locked(self, c: Tx, keys: tuple[str, ...], now: datetime) -> None:
        for key in keys:
            row = inventory.failures(c, key)
            if row is not None and row["locked_until"] and \
                    datetime.fromisoformat(row["locked_until"]) > now:
                self._count("too_many_attempts")
                raise CloudError(429, "too_many_attempts", "too many wrong tries: try again "
                                 f"after {row['locked_until'][:16]}")

    def _failed(self, c: Tx, keys: tuple[str, ...], now: datetime, resident: str, tag_id: str,
                reason: str) -> None:
        for key in keys:
            row = inventory.failures(c, key)
            n = (int(row["failures"]) if row is not None and not row["locked_until"] else 0) + 1
            locked = (now + LOCK).isoformat() if n >= MAX_FAILURES else None
            inventory.set_failures(c, key, 0 if locked else n, locked, now.isoformat())
        write_audit(c, now.isoformat(), None, f"resident:{resident}", "POST",
                    "/api/v1/me/tags/activate", 403, f"{reason}: tag id {tag_id}")

    def _count(self, reason: str) -> None:
        if self.on_failure is not None:
            self.on_failure(reason)
