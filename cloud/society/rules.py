"""Sites, gates, vehicles and tags: every change bumps the site's rules version and is
published as a delta (from-version → to-version) after it commits."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.parking.rules import gate_rule, site_parking_rules
from cloud.refusals import Refusal
from cloud.society.epoch import ensure_epoch, epoch_of
from cloud.society.schedule_rules import site_schedules
from cloud.society.site_rules import OF_BEFORE, settings_change, site_rule
from cloud.storage import Database, Row, Tx
from cloud.storage import society as store
from cloud.storage.staff import write_audit
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.commands import new_key
from shared.contract import (
    SEGMENT,
    AccountRule,
    Change,
    GateRule,
    GateUpsert,
    RulesDelta,
    RulesSnapshot,
    TagDelete,
    TagRule,
    TagUpsert,
    VehicleDelete,
    VehicleRule,
    VehicleUpsert,
)
from shared.country import CountryError, SiteCountry, site_country
from shared.vocab import Direction, TagStatus, VehicleType

EPC = re.compile(r"^(?:[0-9A-F]{4}){1,31}$")


def _vehicle_type(raw: object, epc: object) -> VehicleType | None:
    """A bulk row's ``vehicle_type`` (2W or 4W), or none; anything else is refused."""
    if raw in (None, ""):
        return None
    try:
        return VehicleType(str(raw).upper())
    except ValueError:
        raise CloudError(422, Refusal.INVALID_VEHICLE_TYPE,
                         f"tag {epc}: vehicle_type is 2W or 4W, not {raw!r}") from None


def _refuse_silent_move(row: Row | None, vrn: str | None, unbind: bool = False) -> None:
    """An active tag bound to one vehicle is never re-bound to another in passing (nor, in a
    bulk import, *unbind*-ed from it, the first half of a move): that is a ``move``, with a
    reason, on purpose."""
    if row is not None and row["status"] == TagStatus.ACTIVE.value and row["vrn"] \
            and (vrn is not None or unbind) and vrn != row["vrn"]:
        raise CloudError(409, Refusal.TAG_BOUND, f"tag {row['epc']} is active for {row['vrn']}: "
                         f"move it with POST /api/v1/tags/{row['epc']}/move and a reason")


def tag_rule(row: Row) -> TagRule:
    """What the gates get of a stored tag."""
    return TagRule(epc=row["epc"], site=row["site"], status=TagStatus(row["status"]),
                   vrn=row["vrn"], locked=bool(row["locked"]),
                   locked_until=datetime.fromisoformat(row["locked_until"])
                   if row["locked_until"] else None, schedule=row["schedule"])


def vehicle_rule(row: Row) -> VehicleRule:
    """What the gates get of a stored vehicle."""
    return VehicleRule(vrn=row["vrn"], type=VehicleType(row["type"]), flat=row["flat"],
                       schedule=row["schedule"])


def account_rule(row: Row) -> AccountRule:
    """What the gates get of a panel account: only the scrypt hash travels."""
    return AccountRule(username=row["username"], role=row["role"], pw_hash=row["pw_hash"])


def require_site(c: Tx, site: str) -> None:
    """Raise ``unknown_site`` (404) unless *site* exists."""
    if not store.site_exists(c, site):
        raise CloudError(404, Refusal.UNKNOWN_SITE, f"site {site!r} does not exist")


def stored_tag(c: Tx, epc: str) -> Row:
    """A stored tag by EPC (any case), or ``unknown_tag`` (404)."""
    row = store.tag(c, epc.upper())
    if row is None:
        raise CloudError(404, Refusal.UNKNOWN_TAG, f"tag {epc} does not exist")
    return row


class RulesService:
    """The rule-changing operations of the cloud."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger | None = None) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger or Ledger(db, clock)  # none: changes are not published
        ensure_epoch(db, clock.now().isoformat())

    # Helpers --------------------------------------------------------------------------------
    def _site_of_tag(self, epc: str) -> str:
        return str(stored_tag(self.db.conn, epc)["site"])

    def _tag_change(self, c: Tx, epc: str) -> Change:
        return TagUpsert(tag=tag_rule(stored_tag(c, epc)))

    # Sites and gates --------------------------------------------------------------------------
    def create_site(self, site: str, name: str, timezone: str | None = None,
                    country: str | None = None, locale: str | None = None,
                    currency: str | None = None) -> dict:
        """A new society or parking with rules version 0, its country and what follows from
        it (``shared.country``: language, currency, IANA time zone), each as given or the
        country's own."""
        if not SEGMENT.match(site):
            raise CloudError(422, Refusal.BAD_ID, "site ids are 1–64 of [A-Za-z0-9_-]")
        settings = _site_country(country, locale, currency, timezone)
        with self.db.write() as c:
            if store.site_exists(c, site):
                raise CloudError(409, Refusal.SITE_EXISTS, f"site {site!r} already exists")
            store.insert_site(c, site, name, self.clock.now().isoformat(), settings.timezone,
                              settings.country, settings.locale, settings.currency)
        return {"id": site, "name": name, "rules_version": 0, "timezone": settings.timezone,
                "country": settings.country, "locale": settings.locale,
                "currency": settings.currency}

    def site(self, site: str) -> dict:
        """The site: its name, rules version, country, language, currency and zone."""
        row = store.site(self.db.conn, site)
        if row is None:
            raise CloudError(404, Refusal.UNKNOWN_SITE, f"no site {site!r}")
        return dict(row)

    def set_country(self, site: str, country: str | None = None, locale: str | None = None,
                    currency: str | None = None) -> dict:
        """Change the site's country, language or currency; what is not given stays, except
        what follows from a new country (its language and currency, unless given too). Plates
        registered before are kept as they are; new ones are validated by the new country."""
        now = self.site(site)
        moved = bool(country) and str(country).upper() != now["country"]
        settings = _site_country(country or now["country"],
                                 locale or (None if moved else now["locale"]),
                                 currency or (None if moved else now["currency"]), None)
        told = site_rule(self.db.conn, site) is not None  # its boxes hold settings of another

        def fn(c: Tx) -> list[Change]:
            store.set_site_country(c, site, settings.country, settings.locale, settings.currency)
            return [*settings_change(c, site, told)]

        if told or (settings.country, settings.locale, settings.currency) != OF_BEFORE:
            self.ledger.change(site, fn)
        else:  # the settings of before, as the boxes hold them: no rules change
            with self.db.write() as c:
                fn(c)
        return self.site(site)

    def add_gate(self, site: str, gate: str, direction: Direction, name: str = "",
                 external_id: str | None = None) -> RulesDelta:
        """Add or update a gate of the site; its key, parking and (unless given) external id
        stay."""
        if not SEGMENT.match(gate):
            raise CloudError(422, Refusal.BAD_ID, "gate ids are 1–64 of [A-Za-z0-9_-]")

        def fn(c: Tx) -> list[Change]:
            row = store.gate(c, site, gate)
            key = row["command_key"] if row and row["command_key"] else new_key()
            parking = row["parking"] if row else None
            ext = external_id if external_id is not None else row["external_id"] if row else None
            store.upsert_gate(c, site, gate, direction.value, name, key, parking, ext)
            return [GateUpsert(gate=GateRule(id=gate, direction=direction, name=name,
                                             command_key=key, parking=parking))]

        return self.ledger.change(site, fn)

    # Vehicles ---------------------------------------------------------------------------------
    def add_vehicle(self, site: str, vrn: str, vtype: VehicleType,
                    flat: str | None = None) -> RulesDelta:
        """Register a vehicle (of a flat, when given); the VRN must be a valid registration
        number."""
        try:
            v = vrn_rules.validate(vrn, store.site_country(self.db.conn, site))
        except ValueError as exc:
            raise CloudError(422, Refusal.INVALID_VRN, str(exc)) from exc

        def fn(c: Tx) -> list[Change]:
            if store.vehicle(c, site, v) is not None:
                raise CloudError(409, Refusal.VEHICLE_EXISTS, f"vehicle {v} is already registered")
            store.insert_vehicle(c, site, v, vtype.value, flat, self.clock.now().isoformat())
            return [VehicleUpsert(vehicle=VehicleRule(vrn=v, type=vtype, flat=flat))]

        return self.ledger.change(site, fn)

    def add_vehicles_bulk(self, site: str, vehicles: list[dict]) -> RulesDelta:
        """Register many vehicles in one change (a society's vehicle list)."""
        rows = []
        country = store.site_country(self.db.conn, site)
        for i, item in enumerate(vehicles):
            try:
                rows.append((vrn_rules.validate(str(item["vrn"]), country),
                             VehicleType(item.get("type", "4W")), item.get("flat")))
            except (KeyError, ValueError) as exc:
                raise CloudError(422, Refusal.INVALID_VRN, f"vehicles[{i}]: {exc}") from exc

        def fn(c: Tx) -> list[Change]:
            store.upsert_vehicles(c, site, [(v, t.value, f) for v, t, f in rows],
                                  self.clock.now().isoformat())
            # A vehicle listed again keeps its schedule: the change says so, or the gates
            # would drop the binding the cloud still holds.
            bound = store.vehicle_schedules(c, site)
            return [VehicleUpsert(vehicle=VehicleRule(vrn=v, type=t, flat=f,
                                                      schedule=bound.get(v)))
                    for v, t, f in rows]

        return self.ledger.change(site, fn)

    def remove_vehicle(self, site: str, vrn: str) -> RulesDelta:
        """Remove a vehicle; its tags become inactive and unlinked."""
        v = vrn_rules.normalise(vrn)

        def fn(c: Tx) -> list[Change]:
            if not store.delete_vehicle(c, site, v):
                raise CloudError(404, Refusal.UNKNOWN_VEHICLE, f"vehicle {v} is not registered")
            epcs = store.vehicle_tag_epcs(c, v)
            store.unlink_vehicle_tags(c, v)
            return [VehicleDelete(key=v), *(self._tag_change(c, e) for e in epcs)]

        return self.ledger.change(site, fn)

    # Tags -------------------------------------------------------------------------------------
    def _check_tag_fields(self, c: Tx, site: str, epc: str, vrn: str | None,
                          status: TagStatus, vtype: VehicleType | None) -> tuple[str, str | None]:
        e = epc.upper()
        if not EPC.match(e):
            raise CloudError(422, Refusal.INVALID_EPC,
                             f"EPC {epc!r} must be hex in whole 16-bit words (96-bit: 24 digits)")
        v = vrn_rules.normalise(vrn) if vrn else None
        if v is not None:
            row = store.vehicle(c, site, v)
            if row is None:
                raise CloudError(422, Refusal.UNKNOWN_VEHICLE, f"vehicle {v} is not registered "
                                 f"at site {site}")
            if vtype is not None and row["type"] != vtype.value:
                raise CloudError(422, Refusal.VEHICLE_TYPE_MISMATCH,
                                 f"tag is for {vtype.value} but {v} is a {row['type']}")
        if status is TagStatus.ACTIVE and v is None:
            raise CloudError(422, Refusal.NO_VEHICLE, "an active tag needs a vehicle")
        return e, v

    def add_tag(self, site: str, epc: str, vrn: str | None = None,
                status: TagStatus = TagStatus.INACTIVE,
                vehicle_type: VehicleType | None = None) -> RulesDelta:
        """Register a tag to a site (pre-mapped), optionally linked and active."""

        def fn(c: Tx) -> list[Change]:
            e, v = self._check_tag_fields(c, site, epc, vrn, status, vehicle_type)
            if store.tag(c, e) is not None:
                raise CloudError(409, Refusal.TAG_EXISTS, f"tag {e} is already registered")
            store.insert_tag(c, e, site, status.value, v,
                             vehicle_type.value if vehicle_type else None,
                             self.clock.now().isoformat())
            return [self._tag_change(c, e)]

        return self.ledger.change(site, fn)

    def add_tags_bulk(self, site: str, tags: list[dict]) -> RulesDelta:
        """Register many tags in one change (installers importing a batch of stickers)."""

        def fn(c: Tx) -> list[Change]:
            now = self.clock.now().isoformat()
            changes: list[Change] = []
            for t in tags:
                st = TagStatus(t.get("status", "inactive"))
                vt = _vehicle_type(t.get("vehicle_type"), t.get("epc"))
                e, v = self._check_tag_fields(c, site, t["epc"], t.get("vrn"), st, vt)
                row = store.tag(c, e)
                _refuse_silent_move(row, v, unbind=True)
                if row is not None and row["locked"]:  # an import starts a tag afresh: unlocked
                    raise CloudError(409, Refusal.TAG_LOCKED,
                                     f"tag {e} is locked: unlock it before "
                                     "importing it again")
                store.import_tag(c, e, site, st.value, v, now, vt.value if vt else None)
                changes.append(TagUpsert(tag=TagRule(epc=e, site=site, status=st, vrn=v)))
            return changes

        return self.ledger.change(site, fn)

    def _update_tag(self, epc: str, **fields: Any) -> RulesDelta:
        site = self._site_of_tag(epc)

        def fn(c: Tx) -> list[Change]:
            row = stored_tag(c, epc)
            store.update_tag(c, row["epc"], self.clock.now().isoformat(), **fields)
            return [self._tag_change(c, row["epc"])]

        return self.ledger.change(site, fn)

    def activate_tag(self, epc: str, vrn: str | None = None) -> RulesDelta:
        """Activate a tag for a vehicle of its own site (type must match)."""
        site = self._site_of_tag(epc)

        def fn(c: Tx) -> list[Change]:
            row = stored_tag(c, epc)
            if row["status"] == TagStatus.BLOCKED.value:
                raise CloudError(409, Refusal.TAG_BLOCKED, f"tag {row['epc']} is blocked")
            vt = VehicleType(row["vehicle_type"]) if row["vehicle_type"] else None
            _, v = self._check_tag_fields(c, site, row["epc"], vrn or row["vrn"],
                                          TagStatus.ACTIVE, vt)
            _refuse_silent_move(row, v)
            store.update_tag(c, row["epc"], self.clock.now().isoformat(),
                             status=TagStatus.ACTIVE.value, vrn=v)
            return [self._tag_change(c, row["epc"])]

        return self.ledger.change(site, fn)

    def move_tag(self, epc: str, vrn: str, reason: str, by: str) -> RulesDelta:
        """Move an active tag to another vehicle of its site, on purpose: the old binding ends
        in the same rules change, and who moved it, from which car and why are audited."""
        if not reason.strip():
            raise CloudError(422, Refusal.REASON_REQUIRED, "say why the tag is moved")
        site = self._site_of_tag(epc)

        def fn(c: Tx) -> list[Change]:
            row = stored_tag(c, epc)
            if row["status"] != TagStatus.ACTIVE.value:
                raise CloudError(409, Refusal.TAG_NOT_ACTIVE,
                                 f"tag {row['epc']} is {row['status']}: "
                                 "activate it for a vehicle instead")
            if row["locked"]:  # a locked car's tag is not taken off it to let another leave
                raise CloudError(409, Refusal.TAG_LOCKED, f"tag {row['epc']} is locked: unlock it "
                                 "before moving it")
            vt = VehicleType(row["vehicle_type"]) if row["vehicle_type"] else None
            _, v = self._check_tag_fields(c, site, row["epc"], vrn, TagStatus.ACTIVE, vt)
            if v == row["vrn"]:
                raise CloudError(409, Refusal.SAME_VEHICLE, f"tag {row['epc']} is already {v}'s")
            now = self.clock.now().isoformat()
            store.update_tag(c, row["epc"], now, vrn=v)
            write_audit(c, now, None, by, "POST", f"/api/v1/tags/{row['epc']}/move", 200,
                        f"moved from {row['vrn']} to {v}: {reason.strip()}")
            return [self._tag_change(c, row["epc"])]

        return self.ledger.change(site, fn)

    def block_tag(self, epc: str) -> RulesDelta:
        """Block a tag (lost, stolen, revoked): denied everywhere at once."""
        return self._update_tag(epc, status=TagStatus.BLOCKED.value)

    def lock_tag(self, epc: str, until: datetime | None = None, by: str = "staff"
                 ) -> RulesDelta:
        """Lock: the vehicle may enter but not leave (until *until*, if given); who locked it
        and when are kept for staff and the flat."""
        return self._update_tag(epc, locked=1,
                                locked_until=until.isoformat() if until else None,
                                locked_by=by, locked_at=self.clock.now().isoformat())

    def unlock_tag(self, epc: str) -> RulesDelta:
        """Unlock at once."""
        return self._update_tag(epc, locked=0, locked_until=None, locked_by=None,
                                locked_at=None)

    def remove_tag(self, epc: str) -> RulesDelta:
        """Delete a tag."""
        site = self._site_of_tag(epc)

        def fn(c: Tx) -> list[Change]:
            row = stored_tag(c, epc)
            store.delete_tag(c, row["epc"])
            return [TagDelete(key=row["epc"])]

        return self.ledger.change(site, fn)

    # Reads ------------------------------------------------------------------------------------
    def snapshot(self, site: str) -> RulesSnapshot:
        """The whole rule set of a site at one version."""
        with self.db.read() as c:
            require_site(c, site)
            version = store.rules_version(c, site)
            gates = [gate_rule(r) for r in store.site_gates(c, site)]
            vehicles = [vehicle_rule(r) for r in store.site_vehicles(c, site)]
            tags = [tag_rule(r) for r in store.site_tags(c, site)]
            accounts = [account_rule(r) for r in store.site_accounts(c, site)]
            parkings, subs = site_parking_rules(c, site)
            epoch = epoch_of(c)
            schedules = site_schedules(c, site)
            settings = site_rule(c, site)
        return RulesSnapshot(site=site, version=version, gates=gates, vehicles=vehicles,
                             tags=tags, accounts=accounts, parkings=parkings,
                             subscriptions=subs, schedules=schedules, epoch=epoch,
                             settings=settings)

    def versions(self, site: str | None = None) -> dict[str, int]:
        """Current rules version of every site (or of *site* alone)."""
        return store.rules_versions(self.db.conn, site)

    def gate_site(self, site: str) -> None:
        """Raise ``unknown_site`` unless *site* exists."""
        require_site(self.db.conn, site)

    def epoch(self) -> str:
        """The epoch of the rules history (see ``cloud.society.epoch``)."""
        with self.db.read() as c:
            return epoch_of(c)

    def gate(self, site: str, gate: str) -> Row:
        """One gate, with its command key."""
        row = store.gate(self.db.conn, site, gate)
        if row is None:
            raise CloudError(404, Refusal.UNKNOWN_GATE, f"gate {gate} of {site} does not exist")
        return row

    def usable_tags(self, site: str, vrn: str) -> list[Row]:
        """Active tags of a vehicle at a site."""
        return store.active_tags(self.db.conn, site, vrn_rules.normalise(vrn))


def _site_country(country: str | None, locale: str | None, currency: str | None,
                  timezone: str | None) -> SiteCountry:
    try:
        return site_country(country, locale, currency, timezone)
    except CountryError as exc:
        refusal = {"country": Refusal.INVALID_COUNTRY, "locale": Refusal.INVALID_LOCALE,
                   "currency": Refusal.INVALID_CURRENCY}.get(exc.field, Refusal.INVALID_TIMEZONE)
        raise CloudError(422, refusal, str(exc)) from exc
