"""Parkings, their barriers, spaces and tariffs (seed 002; docs/parking-rules.md).

A parking belongs to a site; its barriers are gates of that site linked to it. Changes that
gates need (a parking's activity, a gate's parking) go to the edge as rule changes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.parking.rules import gate_rule
from cloud.refusals import Refusal
from cloud.storage import Database, Row, Tx, society
from cloud.storage import parking as store
from cloud.storage import subscriptions as subs_store
from shared.clock import Clock
from shared.contract import SEGMENT, Change, GateUpsert, ParkingRule, ParkingUpsert
from shared.parking import DONE, LIVE, Band, check_bands

SIZES = ("small", "medium", "large")
PARKING_FIELDS = ("name", "address", "objects", "guard_phone", "refunds", "offer_required",
                  "rules_text", "debt_rules", "external_id", "staff_email")
HOLDING = (*LIVE, "draft")  # statuses that keep a space taken


def parse_numbers(spec: str | int | list[int]) -> list[int]:
    """``4..7`` → [4, 5, 6, 7]; ``"4,9"`` → [4, 9]; a number or a list as given."""
    if isinstance(spec, int):
        return [spec]
    if isinstance(spec, list):
        return [int(n) for n in spec]
    out: list[int] = []
    for part in str(spec).replace(" ", "").split(","):
        try:
            if ".." in part:
                lo, hi = (int(x) for x in part.split("..", 1))
                if hi < lo or hi - lo >= 100_000:
                    raise CloudError(422, Refusal.BAD_RANGE,
                                     f"space range {part} is empty or too long")
                out += range(lo, hi + 1)
            elif part:
                out.append(int(part))
        except ValueError:
            raise CloudError(422, Refusal.BAD_RANGE, f"{part[:40]!r} is not a space number or a "
                             "range like 4..7") from None
    return out


def parking_row(c: Tx, parking: str) -> Row:
    """One parking, or 404."""
    r = store.parking(c, parking, deleted=False)
    if r is None:
        raise CloudError(404, Refusal.UNKNOWN_PARKING, f"parking {parking!r} does not exist")
    return r


def space_row(c: Tx, parking: str, number: int) -> Row:
    """One space of a parking, or 404."""
    r = store.space(c, parking, number)
    if r is None:
        raise CloudError(404, Refusal.UNKNOWN_SPACE, f"space {number} of {parking} does not exist")
    return r


def tariff_bands(c: Tx, parking: str, kind: str, unit: str, size: str | None) -> list[Band]:
    """The bands of one tariff of a parking (a space size's, or the camera's)."""
    return [Band(*r) for r in store.bands(c, parking, kind, unit, size)]


class ParkingService:
    """Parkings, barriers, spaces and tariffs."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    # Parkings -------------------------------------------------------------------------------
    @staticmethod
    def row(c: Tx, parking: str) -> Row:
        """One parking, or 404."""
        return parking_row(c, parking)

    def exists(self, parking: str) -> None:
        """Nothing if *parking* exists; 404 ``unknown_parking`` otherwise."""
        parking_row(self.db.conn, parking)

    def get(self, parking: str) -> dict[str, Any]:
        """A parking with its barriers, as staff and residents see it."""
        r = self.row(self.db.conn, parking)
        out = dict(r) | {"objects": json.loads(r["objects"]), "active": bool(r["active"]),
                         "refunds": bool(r["refunds"]),
                         "offer_required": bool(r["offer_required"])}
        out["barriers"] = [{k: g[k] for k in ("id", "direction", "name", "external_id")}
                           for g in society.parking_gates(self.db.conn, parking)]
        return out

    def add(self, site: str, parking: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A new parking: always created inactive."""
        if not SEGMENT.match(parking):
            raise CloudError(422, Refusal.BAD_ID, "parking ids are 1–64 of [A-Za-z0-9_-]")
        if not fields.get("name"):
            raise CloudError(422, Refusal.BAD_PARKING, "a parking needs a name")

        def fn(c: Tx) -> list[Change]:
            if store.parking(c, parking) is not None:
                raise CloudError(409, Refusal.PARKING_EXISTS, f"parking {parking!r} already exists")
            store.insert_parking(c, parking, site, self.clock.now().isoformat(),
                                 self._fields(fields))
            return [ParkingUpsert(parking=ParkingRule(id=parking, active=False))]

        delta = self.ledger.change(site, fn)
        return self.get(parking) | {"rules_version": delta.to_version}

    def update(self, parking: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change a parking's details (not its activity: see ``activate``)."""
        vals = self._fields(fields)
        if vals:
            with self.db.write() as c:
                self.row(c, parking)
                store.update_parking(c, parking, vals)
        return self.get(parking)

    @staticmethod
    def _fields(fields: dict[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - set(PARKING_FIELDS)
        if unknown:
            raise CloudError(422, Refusal.BAD_PARKING, f"unknown parking fields: {sorted(unknown)}")
        out = {}
        for k, v in fields.items():
            if k == "objects":
                v = json.dumps(list(v or []))
            elif k in ("refunds", "offer_required"):
                v = int(bool(v))
            out[k] = v
        return out

    def set_active(self, parking: str, active: bool) -> dict[str, Any]:
        """Activate (only when its barriers let vehicles both in and out) or deactivate."""
        site = self.row(self.db.conn, parking)["site"]

        def fn(c: Tx) -> list[Change]:
            dirs = {g["direction"] for g in society.parking_gates(c, parking)}
            if active and not ("both" in dirs or {"entry", "exit"} <= dirs):
                raise CloudError(409, Refusal.BARRIERS_INCOMPLETE,
                                 "a parking becomes active only when its barriers let vehicles "
                                 "both in and out (one entry/exit barrier, or an entry and an "
                                 f"exit); it has: {sorted(dirs) or 'none'}")
            store.set_parking_active(c, parking, active)
            return [ParkingUpsert(parking=ParkingRule(id=parking, active=active))]

        delta = self.ledger.change(site, fn)
        return self.get(parking) | {"rules_version": delta.to_version}

    def delete(self, parking: str) -> int:
        """Delete a parking whose subscriptions are all archived. Their records stay for the
        reports; its barriers become society-perimeter gates again."""
        site = self.row(self.db.conn, parking)["site"]

        def fn(c: Tx) -> list[Change]:
            n = subs_store.count_not_in(c, parking, DONE)
            if n:
                raise CloudError(409, Refusal.SUBSCRIPTIONS_NOT_ARCHIVED,
                                 f"{n} subscriptions of {parking} are not archived yet")
            gates = society.parking_gates(c, parking)
            society.unlink_parking_gates(c, parking)
            store.mark_deleted(c, parking, self.clock.now().isoformat())
            return [ParkingUpsert(parking=ParkingRule(id=parking, active=False)),
                    *(GateUpsert(gate=gate_rule(dict(g) | {"parking": None})) for g in gates)]

        return self.ledger.change(site, fn).to_version

    def link_gate(self, site: str, gate: str, parking: str | None) -> int:
        """Make a gate a barrier of *parking* (or a society-perimeter gate with None)."""

        def fn(c: Tx) -> list[Change]:
            g = society.gate(c, site, gate)
            if g is None:
                raise CloudError(404, Refusal.UNKNOWN_GATE, f"gate {gate} of {site} does not exist")
            if parking is not None and self.row(c, parking)["site"] != site:
                raise CloudError(409, Refusal.WRONG_SITE,
                                 f"parking {parking} is not of site {site}")
            society.set_gate_parking(c, site, gate, parking)
            return [GateUpsert(gate=gate_rule(dict(g) | {"parking": parking}))]

        return self.ledger.change(site, fn).to_version

    # Spaces ---------------------------------------------------------------------------------
    def add_spaces(self, parking: str, numbers: str | int | list[int], size: str,
                   labels: list[str] | None = None, rentable: bool = True) -> list[int]:
        """Add one space or a range (``4..7``); numbers never change afterwards."""
        if size not in SIZES:
            raise CloudError(422, Refusal.BAD_SIZE, f"size must be one of {SIZES}")
        labels = list(labels or [])
        if len(labels) > 5:
            raise CloudError(422, Refusal.TOO_MANY_LABELS, "a space has at most 5 labels")
        nums = parse_numbers(numbers)
        if not nums or any(n < 1 for n in nums):
            raise CloudError(422, Refusal.BAD_RANGE, "space numbers are positive")
        with self.db.write() as c:
            self.row(c, parking)
            taken = store.existing_numbers(c, parking, nums)
            if taken:
                raise CloudError(409, Refusal.SPACE_EXISTS, f"spaces {taken} already exist")
            store.insert_spaces(c, parking, nums, size, json.dumps(labels), rentable)
        return nums

    def update_space(self, parking: str, number: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Change size, labels, the rentable flag or "available until" (never the number)."""
        allowed = {"size", "labels", "rentable", "available_until"}
        if "number" in fields:
            raise CloudError(422, Refusal.NUMBER_IMMUTABLE, "a space's number cannot change")
        if set(fields) - allowed:
            raise CloudError(422, Refusal.BAD_SPACE,
                             f"unknown space fields: {set(fields) - allowed}")
        with self.db.write() as c:
            space_row(c, parking, number)
            if "available_until" in fields and fields["available_until"] is not None:
                until = datetime.fromisoformat(str(fields["available_until"]))
                cut = subs_store.holding_past(c, parking, number, HOLDING, until.isoformat())
                if cut:
                    raise CloudError(409, Refusal.CUTS_INTO_SUBSCRIPTION,
                                     f"subscription {cut['id']} runs until {cut['end']}")
                fields = {**fields, "available_until": until.isoformat()}
            if "labels" in fields and len(fields["labels"]) > 5:
                raise CloudError(422, Refusal.TOO_MANY_LABELS, "a space has at most 5 labels")
            if "size" in fields and fields["size"] not in SIZES:
                raise CloudError(422, Refusal.BAD_SIZE, f"size must be one of {SIZES}")
            vals = {k: json.dumps(v) if k == "labels" else (int(v) if k == "rentable" else v)
                    for k, v in fields.items()}
            if vals:
                store.update_space(c, parking, number, vals)
        return self.spaces(parking, number)[0]

    def spaces(self, parking: str, number: int | None = None) -> list[dict[str, Any]]:
        """Spaces with their derived status and current tenant."""
        c = self.db.conn
        self.row(c, parking)
        rows = store.spaces(c, parking, number)
        tenants: dict[int, dict[str, Any]] = {}
        for s in subs_store.holding(c, parking, HOLDING):
            tenants.setdefault(s["space"], {k: s[k] for k in ("id", "space", "owner", "status",
                                                              "end")})
        out = []
        for r in rows:
            tenant = tenants.get(r["number"])
            if not r["rentable"] or tenant:
                status = "unavailable"
            elif r["available_until"]:
                status = "available_until"
            else:
                status = "available"
            out.append({"number": r["number"], "size": r["size"],
                        "labels": json.loads(r["labels"]), "rentable": bool(r["rentable"]),
                        "available_until": r["available_until"], "status": status,
                        "tenant": tenant})
        return out

    # Tariffs --------------------------------------------------------------------------------
    def add_tariff(self, parking: str, kind: str, unit: str, name: str, lower: int, upper: int,
                   price: int, size: str | None = None) -> dict[str, Any]:
        """A band of a space tariff (per size) or a camera tariff; bands may not overlap."""
        if kind not in ("space", "camera"):
            raise CloudError(422, Refusal.BAD_TARIFF, "kind is space or camera")
        if unit not in ("daily", "hourly"):
            raise CloudError(422, Refusal.BAD_TARIFF, "unit is daily or hourly")
        if kind == "space" and size not in SIZES:
            raise CloudError(422, Refusal.BAD_SIZE, f"space tariffs need a size: {SIZES}")
        if kind == "camera":
            size = None
        with self.db.write() as c:
            self.row(c, parking)
            bands = [*tariff_bands(c, parking, kind, unit, size), Band(lower, upper, price)]
            try:
                check_bands(bands)
            except ValueError as exc:
                raise CloudError(409 if "overlap" in str(exc) else 422, Refusal.BAD_TARIFF,
                                 str(exc)) from exc
            tid = store.insert_tariff(c, parking, kind, size, unit, name, lower, upper, price)
        return {"id": tid, "parking": parking, "kind": kind, "size": size,
                "unit": unit, "name": name, "lower": lower, "upper": upper, "price": price}

    def delete_tariff(self, tariff_id: int) -> None:
        """Remove one tariff band."""
        with self.db.write() as c:
            if not store.delete_tariff(c, tariff_id):
                raise CloudError(404, Refusal.UNKNOWN_TARIFF, f"tariff {tariff_id} does not exist")

    def tariffs(self, parking: str) -> list[dict[str, Any]]:
        """Every band of a parking."""
        return [dict(r) for r in store.tariffs(self.db.conn, parking)]
