"""A resident adds their vehicle and activates a sticker from the app (the seed's flow).

``add_vehicle``: the VRN is valid (``vrn_invalid``), the vehicle registry knows it
(``vehicle_not_found``; ``provider_unavailable`` when it cannot say), and the resident lives at
the site (``not_a_resident_here``); the vehicle is registered there as theirs, with the
registry's type, make and model, when it is new there or theirs already, or proven by the secret
of its sticker; one registered without them waits for staff (``cloud.people.claims``).

``activate``: every check has its own code, in this order: ``vrn_invalid``;
``vehicle_not_found``; ``secret_mismatch`` (the tag id and secret match no sticker: an unknown
tag id answers the same as a wrong secret, so answers tell nobody which ids exist);
``tag_other_society`` (the sticker is mapped to a society the resident has no flat in);
``tag_already_active``; ``vehicle_type_mismatch`` (the sticker's 2W/4W against the registry's);
``vehicle_of_another_resident`` or ``vehicle_not_yours`` (a registered vehicle that is not the
resident's or their flat's: claim it first); ``vehicle_already_tagged`` (the vehicle holds an
active tag at that society already: one active tag of a kind per vehicle, our reading of the
seed's fourth check). Every try takes an attempt first, within the limits of
``cloud.people.guesses`` (``too_many_attempts``); each wrong one is audited and counted. On
success the vehicle (registered as the resident's if it was new) and the active tag go to the
gates in one rules change, and the answer says what the app shows next.

A **FITkit** sticker has no EPC of its own: after the checks above, the vehicle's FASTag is looked
up at the FASTag registry and the sticker binds its EPC, so the gate reads the FASTag. Outcomes
past the checks: bound; ``fastag_not_found`` (the vehicle has no FASTag); ``fastag_inactive``
(blacklisted or closed at the registry); ``fastag_in_use`` (that FASTag is a tag of another
vehicle or society here); ``provider_unavailable`` (nothing changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.people import guesses
from cloud.people.claims import VehicleClaims, refuse_unless_mine, standing, take_vehicle
from cloud.people.registry import (
    Fastag,
    FastagRegistry,
    ProviderUnavailable,
    VehicleDetails,
    VehicleRegistry,
)
from cloud.refusals import Refusal
from cloud.society.rules import tag_rule
from cloud.storage import Database, Tx, inventory, residents, society
from cloud.storage.staff import write_audit
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.contract import Change, TagUpsert
from shared.vocab import TagStatus

NEXT = ["fastag_recharge_offer"]  # the app's FASTag recharge screen


class Activation:
    """The resident's side of vehicles and stickers."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger, registry: VehicleRegistry | None,
                 on_failure: Callable[[str], None] | None = None,
                 fastags: FastagRegistry | None = None,
                 on_activated: Callable[[str, str, str], dict[str, Any] | None] | None = None
                 ) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.registry = registry
        self.fastags = fastags
        # After an activation: the society's partner app connects or offers (its answer is
        # the activation's ``partner``); None where no partner apps are wired.
        self.on_activated = on_activated
        self.on_failure = on_failure  # counts each refused activation by reason (metrics)
        self.claims = VehicleClaims(db, clock, ledger)

    # Shared checks ----------------------------------------------------------------------------
    def _resident(self, c: Tx, resident: str) -> Any:
        row = residents.get(c, resident)
        if row is None or row["removed_at"]:
            raise CloudError(403, Refusal.FORBIDDEN, "this key acts for no resident")
        return row

    def _lookup(self, raw_vrn: str, sites: list[str]) -> VehicleDetails:
        """The vehicle as the registry knows it; its plate valid in the country of one of
        *sites* (the resident's)."""
        with self.db.read() as c:
            countries = sorted({society.site_country(c, s) for s in sites}) or ["IN"]
        problems = [vrn_rules.problem(raw_vrn, country) for country in countries]
        if all(problems):
            raise CloudError(422, Refusal.VRN_INVALID, f"{raw_vrn!r} is not a registration "
                             f"number: {problems[0]}")
        vrn = vrn_rules.normalise(raw_vrn)
        if self.registry is None:
            raise CloudError(503, Refusal.PROVIDER_UNAVAILABLE, "no vehicle registry is configured")
        try:
            found = self.registry.lookup(vrn)
        except ProviderUnavailable as exc:
            raise CloudError(503, Refusal.PROVIDER_UNAVAILABLE, "the vehicle registry cannot be "
                             "reached now: try again in a few minutes") from exc
        if found is None:
            raise CloudError(404, Refusal.VEHICLE_NOT_FOUND, f"the vehicle registry has no vehicle "
                             f"{vrn}: check the number on the registration certificate")
        return VehicleDetails(vrn, found.type, found.make, found.model)

    # Routes' operations -----------------------------------------------------------------------
    def add_vehicle(self, resident: str, vrn: str, site: str | None, secret: str | None = None,
                    source: str = "?") -> tuple[int, dict[str, Any]]:
        """Register a vehicle of the resident's at a society they live in (201), or file the
        claim staff confirm (202) when it is registered there without them and no *secret* of
        its sticker proves it theirs."""
        with self.db.read() as c:
            self._resident(c, resident)
            sites = sorted({f["site"] for f in residents.flats(c, resident)})
        if site is None:
            if len(sites) != 1:
                raise CloudError(422, Refusal.SITE_REQUIRED, "you live in several societies: say "
                                 "which one the vehicle is for")
            site = sites[0]
        car = self._lookup(vrn, [site])
        if site not in sites:
            raise CloudError(409, Refusal.NOT_A_RESIDENT_HERE, f"you have no flat at {site}")
        return self.claims.add(resident, site, car, secret, source)

    def activate(self, resident: str, vrn: str, tag_id: str, secret: str,
                 replace: bool = False, source: str = "?") -> dict[str, Any]:
        """Activate a sticker for the resident's vehicle (the checks in the module's order),
        for a request from the address *source*. With *replace*, the sticker takes the place
        of the vehicle's tags at that society (a lost one, blocked, or one still active): they
        are blocked and marked replaced in the same change (``nothing_to_replace`` if the
        vehicle has none)."""
        with self.db.read() as c:
            self._resident(c, resident)
            flat_sites = sorted({f["site"] for f in residents.flats(c, resident)})
        car = self._lookup(vrn, flat_sites)
        with self.db.read() as c:
            sticker = inventory.by_tag_id(c, tag_id)
            # The holder: a resident naming a vehicle of their own flat counts on their own
            # account only (others' guesses do not lock them out). Judged without the sticker,
            # so the counters taken, and so the answers, say nothing of which tag ids exist.
            holder = any(standing(c, f["site"], resident, car.vrn) == "mine"
                         for f in residents.flats(c, resident))
        budgets = guesses.keys(resident, source, [tag_id], holder)
        try:
            right = guesses.attempt(self.db, budgets, self.clock.now(), secret,
                                    [sticker["secret_hash"]] if sticker is not None else [])
        except CloudError as exc:
            self._count(exc.reason)
            raise
        if not right:
            wrong = "secret_mismatch" if sticker is not None else "tag_not_found"
            with self.db.write() as c:
                write_audit(c, self.clock.now().isoformat(), None, f"resident:{resident}",
                            "POST", "/api/v1/me/tags/activate", 403, f"{wrong}: tag id {tag_id}")
            self._count(wrong)  # the failure is committed: only then refuse
            raise CloudError(403, Refusal.SECRET_MISMATCH, "the tag id and secret code match no "
                             "sticker: check the id printed on it, scratch the panel and type "
                             "the code again")
        assert sticker is not None
        site = sticker["site"]
        fitkit = sticker["kind"] == "fitkit"
        fastag = self._fastag(car.vrn) if fitkit and not sticker["activated_at"] else None
        bound: dict[str, str] = {}  # the EPC the gate reads now: the sticker's or the FASTag's

        def fn(c: Tx) -> list[Change]:
            if not residents.lives_in(c, resident, site):
                raise CloudError(409, Refusal.TAG_OTHER_SOCIETY, "this sticker belongs to another "
                                 "society than yours: ask your society's office for one")
            now_sticker = inventory.by_tag_id(c, tag_id)
            assert now_sticker is not None
            tag = society.tag(c, now_sticker["epc"]) if now_sticker["epc"] else None
            if now_sticker["activated_at"] or (not fitkit and (
                    tag is None or tag["status"] != TagStatus.INACTIVE.value)):
                raise CloudError(409, Refusal.TAG_ALREADY_ACTIVE, "this sticker was activated "
                                 "already")
            if sticker["vehicle_type"] != car.type:
                raise CloudError(422, Refusal.VEHICLE_TYPE_MISMATCH, f"this sticker is for a "
                                 f"{sticker['vehicle_type']} and {car.vrn} is a {car.type}")
            # Lock, lost and replace act only on vehicles of the resident's flats: a sticker
            # of one's own does not make someone else's vehicle one's own.
            refuse_unless_mine(c, site, resident, car.vrn)
            old = [t for t in society.site_tags_of_vehicle(c, site, car.vrn)
                   if t["status"] in (TagStatus.ACTIVE.value, TagStatus.BLOCKED.value)
                   and (inventory.by_epc(c, t["epc"]) or {"replaced_by": None})["replaced_by"]
                   is None]
            if replace and not old:
                raise CloudError(409, Refusal.NOTHING_TO_REPLACE,
                                 f"{car.vrn} has no tag to replace "
                                 "at this society: activate the sticker instead")
            if not replace and any(t["status"] == TagStatus.ACTIVE.value for t in old):
                raise CloudError(409, Refusal.VEHICLE_ALREADY_TAGGED,
                                 f"{car.vrn} has an active tag "
                                 "already: report it lost to replace it")
            epc = self._bindable(c, fastag, site, car.vrn, old if replace else []) \
                if fitkit else sticker["epc"]
            bound["epc"] = epc
            at = self.clock.now().isoformat()
            changes = [take_vehicle(c, site, resident, car, at)]
            for t in old if replace else []:
                society.update_tag(c, t["epc"], at, status=TagStatus.BLOCKED.value)
                if (gone := inventory.by_epc(c, t["epc"])) is not None:
                    inventory.mark_replaced(c, gone["tag_id"], tag_id)
                blocked = society.tag(c, t["epc"])
                assert blocked is not None
                changes.append(TagUpsert(tag=tag_rule(blocked)))
            if fitkit and society.tag(c, epc) is None:
                society.insert_tag(c, epc, site, TagStatus.ACTIVE.value, car.vrn, car.type, at)
            else:
                society.update_tag(c, epc, at, status=TagStatus.ACTIVE.value, vrn=car.vrn)
            if fitkit:
                inventory.bind(c, tag_id, epc, at)
            inventory.mark_activated(c, tag_id, resident, at)
            active = society.tag(c, epc)
            assert active is not None
            return [*changes, TagUpsert(tag=tag_rule(active))]

        try:
            delta = self.ledger.change(site, fn)
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
            raise CloudError(503, Refusal.PROVIDER_UNAVAILABLE, "the FASTag registry cannot be "
                             "reached now: try again in a few minutes")
        if fastag is None:
            raise CloudError(404, Refusal.FASTAG_NOT_FOUND, f"{vrn} has no FASTag at the national "
                             "registry: buy one, or use an RFID sticker")
        if not fastag.usable:
            raise CloudError(409, Refusal.FASTAG_INACTIVE, f"the FASTag of {vrn} is "
                             f"{fastag.status} at its bank: have it reactivated, then try "
                             "again")
        held = society.tag(c, fastag.epc)
        if held is not None and held["epc"] not in {t["epc"] for t in replacing} and \
                (held["site"] != site or held["vrn"] not in (None, vrn)
                 or held["status"] == TagStatus.ACTIVE.value):
            raise CloudError(409, Refusal.FASTAG_IN_USE, f"the FASTag of {vrn} is registered here "
                             "as another tag: ask the society's office")
        return fastag.epc

    def _count(self, reason: str) -> None:
        if self.on_failure is not None:
            self.on_failure(reason)
