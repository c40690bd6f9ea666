"""Residents: one identity per person, by phone number (E.164), across the societies where
they have flats. Staff add them one by one or import a CSV; removing one keeps every event and
record that names them (the row stays, marked removed) but unlinks their flats and vehicles:
the active tags of their vehicles are blocked at every gate in the same go (the sticker leaves
with them), unless staff hand the vehicles over to another resident of the society.

Refusals: ``invalid_phone``, ``bad_resident`` (no name, a flat without site or number, a role
other than owner or tenant), ``resident_exists`` (a live resident has the number),
``unknown_resident``, ``unknown_site``, ``unknown_vehicle``, ``not_a_resident_here`` (a
vehicle given to someone without a flat at its site), ``bad_row`` (an import row, with its line
number: nothing of the import is kept).
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.people.claims import VehicleClaims
from cloud.refusals import Refusal
from cloud.society.rules import tag_rule, vehicle_rule
from cloud.storage import Database, Tx, society
from cloud.storage import residents as store
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.contract import Change, TagUpsert, VehicleUpsert
from shared.phone import DEFAULT_REGION, e164
from shared.vocab import TagStatus

ROLES = ("owner", "tenant")
CSV_COLUMNS = ("phone", "name", "site", "flat", "role")
IMPORT_CHUNK = 500  # people an import writes per transaction


@dataclass(frozen=True)
class Flat:
    """A flat (or unit) of a site that a resident lives in, as its owner or a tenant."""

    site: str
    flat: str
    role: str = "owner"


def _flats(items: list[dict[str, Any]] | list[Flat]) -> list[Flat]:
    out = []
    for f in items:
        flat = f if isinstance(f, Flat) else Flat(str(f.get("site", "")), str(f.get("flat", "")),
                                                  str(f.get("role", "owner")))
        if not flat.site or not flat.flat.strip():
            raise CloudError(422, Refusal.BAD_RESIDENT, "a flat needs its site and its number")
        if flat.role not in ROLES:
            raise CloudError(422, Refusal.BAD_RESIDENT,
                             f"role is owner or tenant, not {flat.role!r}")
        out.append(Flat(flat.site, flat.flat.strip(), flat.role))
    return out


def _phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """*raw* in E.164, a number without its country code read as one of *region* (the
    resident's site's country)."""
    try:
        return e164(raw, region)
    except ValueError as exc:
        raise CloudError(422, Refusal.INVALID_PHONE, str(exc)) from exc


class Residents:
    """Adding, importing, reading and removing residents."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger,
                 on_removed: Sequence[Callable[[str], object]] = ()) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.claims = VehicleClaims(db, clock, ledger)
        # Called with a resident who left, after the removal: their codes and passes go.
        self.on_removed = tuple(on_removed)

    def _region(self, sites: list[str]) -> str:
        """Where a number typed without its country code is from: the country of the first of
        *sites* that exists (India when none does)."""
        for site in sites:
            if site and society.site_exists(self.db.conn, site):
                return society.site_country(self.db.conn, site)
        return DEFAULT_REGION

    def _check_sites(self, c: Tx, flats: list[Flat]) -> None:
        for site in {f.site for f in flats}:
            if not society.site_exists(c, site):
                raise CloudError(404, Refusal.UNKNOWN_SITE, f"site {site!r} does not exist")

    def add(self, phone: str, name: str, flats: list[dict[str, Any]] | list[Flat]
            ) -> dict[str, Any]:
        """A new resident with the flats they live in."""
        homes = _flats(flats)
        number = _phone(phone, self._region([f.site for f in homes]))
        if not name.strip():
            raise CloudError(422, Refusal.BAD_RESIDENT, "a resident needs a name")
        rid = f"R-{secrets.token_hex(6).upper()}"
        with self.db.write() as c:
            if store.by_phone(c, number) is not None:
                raise CloudError(409, Refusal.RESIDENT_EXISTS, f"{number} is a resident already")
            self._check_sites(c, homes)
            store.insert(c, rid, number, name.strip(), self.clock.now().isoformat())
            store.add_flats(c, rid, [(f.site, f.flat, f.role) for f in homes])
        return self.get(rid)

    def import_csv(self, text: str) -> dict[str, Any]:
        """Residents from CSV (``phone,name,site,flat,role``; one row per flat): a number
        already known gets the name and flats of the file added; a bad row or an unknown site
        refuses the whole file (with its line, or the number) before anything is written.

        The checked file is written ``IMPORT_CHUNK`` people at a time, each chunk a short
        transaction of its own: other writers take turns with a large import instead of
        waiting it out (on SQLite, one writer at a time, they failed with "database is
        locked"). Writing is idempotent, so an import cut off part-way (a crash) is
        completed by importing the same file again."""
        reader = csv.DictReader(io.StringIO(text))
        missing = [k for k in CSV_COLUMNS[:4] if k not in (reader.fieldnames or [])]
        if missing:
            raise CloudError(422, Refusal.BAD_ROW, f"line 1: the header lacks {', '.join(missing)}")
        people: dict[str, tuple[str, list[Flat]]] = {}
        regions: dict[str, str] = {}  # site → its country, read once
        for row in reader:
            line = reader.line_num
            try:
                site = (row.get("site") or "").strip()
                if site not in regions:
                    regions[site] = self._region([site])
                number = _phone(row.get("phone") or "", regions[site])
                name = (row.get("name") or "").strip()
                if not name:
                    raise CloudError(422, Refusal.BAD_RESIDENT, "no name")
                homes = _flats([{"site": row.get("site"), "flat": row.get("flat"),
                                 "role": (row.get("role") or "owner").strip() or "owner"}])
            except CloudError as exc:
                raise CloudError(422, Refusal.BAD_ROW, f"line {line}: {exc.message}") from exc
            people.setdefault(number, (name, []))[1].extend(homes)
        with self.db.read() as c:  # each site once: a file names a few, row after row
            unknown = {site for site in {f.site for _n, homes in people.values()
                                         for f in homes} if not society.site_exists(c, site)}
        for number, (_name, homes) in people.items():
            for site in sorted({f.site for f in homes} & unknown):
                raise CloudError(422, Refusal.BAD_ROW, f"{number}: site {site!r} does not exist")
        added = updated = 0
        now = self.clock.now().isoformat()
        everyone = list(people.items())
        for i in range(0, len(everyone), IMPORT_CHUNK):
            part = everyone[i:i + IMPORT_CHUNK]
            with self.db.write() as c:
                ids = store.ids_by_phone(c, [number for number, _ in part])
                new = [(f"R-{secrets.token_hex(6).upper()}", number, name, now)
                       for number, (name, _h) in part if number not in ids]
                store.insert_many(c, new)
                store.rename_many(c, [(ids[number], name) for number, (name, _h) in part
                                      if number in ids])
                ids |= {number: rid for rid, number, _n, _a in new}
                store.add_flats_many(c, [(ids[number], f.site, f.flat, f.role)
                                         for number, (_n, homes) in part for f in homes])
            added, updated = added + len(new), updated + len(part) - len(new)
        return {"added": added, "updated": updated}

    def get(self, resident: str) -> dict[str, Any]:
        """A resident with their flats and vehicles."""
        c = self.db.conn
        r = store.get(c, resident)
        if r is None:
            raise CloudError(404, Refusal.UNKNOWN_RESIDENT, f"resident {resident} does not exist")
        return {"id": r["id"], "phone": r["phone"], "name": r["name"],
                "legacy_owner": r["legacy_owner"], "company": bool(r["company"]),
                "created_at": r["created_at"], "removed_at": r["removed_at"],
                "flats": [dict(f) for f in store.flats(c, resident)],
                "vehicles": [dict(v) for v in store.vehicles(c, resident)]}

    def update(self, resident: str, phone: str | None, name: str | None,
               company: bool | None = None) -> dict[str, Any]:
        """Change a resident's phone, name or whether it is a company (a resident made from an
        owner name of before residents gets their phone this way)."""
        number = _phone(phone, self._region(
            [f["site"] for f in store.flats(self.db.conn, resident)])) \
            if phone is not None else None
        if name is not None and not name.strip():
            raise CloudError(422, Refusal.BAD_RESIDENT, "a resident needs a name")
        with self.db.write() as c:
            r = store.get(c, resident)
            if r is None or r["removed_at"]:
                raise CloudError(404, Refusal.UNKNOWN_RESIDENT,
                                 f"resident {resident} does not exist")
            if number is not None:
                other = store.by_phone(c, number)
                if other is not None and other["id"] != resident:
                    raise CloudError(409, Refusal.RESIDENT_EXISTS,
                                     f"{number} is another resident's")
                store.set_phone(c, resident, number)
            if name is not None:
                store.rename(c, resident, name.strip())
            if company is not None:
                store.set_company(c, resident, company)
        return self.get(resident)

    def find(self, phone: str) -> dict[str, Any]:
        """The live resident with this phone number."""
        r = store.by_phone(self.db.conn, _phone(phone))
        if r is None:
            raise CloudError(404, Refusal.UNKNOWN_RESIDENT, "no resident has this number")
        return self.get(r["id"])

    def of_site(self, site: str) -> list[dict[str, Any]]:
        """A site's residents, by flat."""
        if not society.site_exists(self.db.conn, site):
            raise CloudError(404, Refusal.UNKNOWN_SITE, f"site {site!r} does not exist")
        return [dict(r) | {"company": bool(r["company"])}
                for r in store.of_site(self.db.conn, site)]

    def remove(self, resident: str, hand_over_to: str | None = None,
               end_stickers: bool = False) -> dict[str, Any]:
        """A resident leaves: flats and vehicles unlinked, the active tags of their vehicles
        blocked at the gates (or, with *hand_over_to*, the vehicles and their tags that
        resident's, in their flat), and (``on_removed``) their access codes and the passes
        they gave cancelled; nothing that names them is deleted."""
        with self.db.read() as c:
            r = store.get(c, resident)
            if r is None or r["removed_at"]:
                raise CloudError(404, Refusal.UNKNOWN_RESIDENT,
                                 f"resident {resident} does not exist")
            sites = sorted({v["site"] for v in store.vehicles(c, resident)})
            if hand_over_to is None and not end_stickers:
                # A car in a flat others still live in may be the household's, or may leave
                # with its driver: which, only staff know. Neither is guessed.
                shared = [f"{v['vrn']} ({v['flat']})" for v in store.vehicles(c, resident)
                          if v["flat"] and store.flat_mates(c, v["site"], v["flat"], resident)]
                if shared:
                    raise CloudError(409, Refusal.VEHICLES_TO_SETTLE,
                                     "others still live in the flat "
                                     f"of {', '.join(shared)}: hand them over (hand_over_to) "
                                     "or end their stickers (end_stickers)")
            if hand_over_to is not None:
                heir = store.get(c, hand_over_to)
                if heir is None or heir["removed_at"] or hand_over_to == resident:
                    raise CloudError(404, Refusal.UNKNOWN_RESIDENT, f"resident {hand_over_to} does "
                                     "not exist")
                for site in sites:
                    if not store.lives_in(c, hand_over_to, site):
                        raise CloudError(409, Refusal.NOT_A_RESIDENT_HERE,
                                         f"resident {hand_over_to} "
                                         f"has no flat at {site}")
        ended: list[str] = []
        for site in sites:  # one rules change per society, at its gates at once
            self.ledger.change(site, partial(self._vehicles_leave, site=site,
                                              resident=resident, heir=hand_over_to,
                                              ended=ended))
        with self.db.write() as c:
            store.remove(c, resident, self.clock.now().isoformat())
        for hook in self.on_removed:
            hook(resident)
        return self.get(resident) | {"ended_tags": ended, "handed_over_to": hand_over_to}

    def _vehicles_leave(self, c: Tx, site: str, resident: str, heir: str | None,
                        ended: list[str]) -> list[Change]:
        """The leaver's vehicles at *site* go with them (tags blocked, no flat) or to *heir*."""
        at = self.clock.now().isoformat()
        out: list[Change] = []
        for v in [v for v in store.vehicles(c, resident) if v["site"] == site]:
            if heir is not None:
                flats = store.flats_at(c, heir, site)
                if v["flat"] not in flats:
                    store.set_vehicle_flat(c, site, v["vrn"], flats[0])
                store.set_vehicle_owner(c, site, v["vrn"], heir, v["make"], v["model"])
            else:
                store.set_vehicle_owner(c, site, v["vrn"], None, v["make"], v["model"])
                store.set_vehicle_flat(c, site, v["vrn"], None)
                for t in society.site_tags_of_vehicle(c, site, v["vrn"]):
                    if t["status"] == TagStatus.ACTIVE.value:
                        society.update_tag(c, t["epc"], at, status=TagStatus.BLOCKED.value)
                        ended.append(t["epc"])
                        blocked = society.tag(c, t["epc"])
                        assert blocked is not None
                        out.append(TagUpsert(tag=tag_rule(blocked)))
            moved = society.vehicle(c, site, v["vrn"])
            assert moved is not None
            out.append(VehicleUpsert(vehicle=vehicle_rule(moved)))
        return out

    def give_vehicle(self, site: str, vrn: str, resident: str | None, make: str = "",
                     model: str = "") -> dict[str, Any]:
        """Make a registered vehicle of the site a resident's (who lives there), with its make
        and model; None gives it back to nobody."""
        plate = vrn_rules.normalise(vrn)
        with self.db.write() as c:
            if resident is not None:
                r = store.get(c, resident)
                if r is None or r["removed_at"]:
                    raise CloudError(404, Refusal.UNKNOWN_RESIDENT,
                                     f"resident {resident} does not exist")
                if not store.lives_in(c, resident, site):
                    raise CloudError(409, Refusal.NOT_A_RESIDENT_HERE,
                                     f"resident {resident} has no flat at {site}")
            if not store.set_vehicle_owner(c, site, plate, resident, make, model):
                raise CloudError(404, Refusal.UNKNOWN_VEHICLE, f"vehicle {plate} is not registered "
                                 f"at {site}")
        return {"site": site, "vrn": plate, "resident": resident, "make": make, "model": model}
