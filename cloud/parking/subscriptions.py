"""Subscriptions: a resident's pass for one space (seed 002; docs/parking-rules.md).

Creation by staff (paid or free) or by a resident (a draft that holds the space 15 minutes),
extension, deactivation with refunds, change of space or owner, vehicles, debt, presence, and
the status machine driven by time and passes (``shared.parking.standing``).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from cloud.errors import CloudError
from cloud.parking.rules import _t, continued, sub_rule
from cloud.parking.service import HOLDING, ParkingService
from cloud.storage import Row, Tx
from cloud.storage import residents as residents_store
from cloud.storage import subscriptions as store
from shared import vrn as vrn_rules
from shared.contract import Change
from shared.parking import (
    DONE,
    DRAFT_HOLD,
    LIVE,
    UNIT,
    Band,
    Standing,
    band_for,
    cost,
    debt,
    longest_rent,
    standing,
)


def standing_of(row: Row, inside: bool, now: datetime,
                continued: bool = False) -> Standing:
    """``shared.parking.standing`` of a stored subscription row."""
    return standing(row["status"], _t(row["start"]), _t(row["end"]), _t(row["paid_through"]),
                    row["unit"], inside, now,
                    _t(row["hold_until"]) if row["hold_until"] else None, continued)


def units_for(amount: int, space: list[Band], camera: list[Band] | None) -> int:
    """The longest rent *amount* pays for, space plus camera access when chosen."""
    for n in range(longest_rent(space), 0, -1):
        if band_for(n, space) is None:
            continue
        if camera is not None and band_for(n, camera) is None:
            continue
        if cost(n, space) + (cost(n, camera) if camera is not None else 0) <= amount:
            return n
    raise CloudError(422, "amount_too_small", f"{amount} pays for no rent under these tariffs")


def rent_terms(bands: list[Band], camera: list[Band] | None, *, amount: int | None,
               units: int | None, free: bool, by_units: bool) -> tuple[int, int]:
    """How many units a rent lasts and what is paid for it: *units* priced by the bands (or
    free) when *by_units*, else the longest rent *amount* pays for."""
    if by_units:
        if not units:
            raise CloudError(422, "units_required", "say how many days or hours")
        if band_for(units, bands) is None:
            raise CloudError(422, "too_long", f"the longest rent is {longest_rent(bands)} units")
        return units, 0 if free else cost(units, bands) + (cost(units, camera) if camera else 0)
    if amount is None:
        raise CloudError(422, "amount_required", "say how much was paid")
    return units_for(amount, bands, camera), amount


class SubscriptionService:
    """Everything that changes a subscription, each change published to the site's gates."""

    def __init__(self, parking: ParkingService) -> None:
        self.parking = parking
        self.rules = parking.rules
        self.db = parking.db
        self.clock = parking.clock

    # Helpers --------------------------------------------------------------------------------
    def row(self, c: Tx, sub: str) -> Row:
        """One subscription, or 404."""
        r = store.get(c, sub)
        if r is None:
            raise CloudError(404, "unknown_subscription", f"subscription {sub} does not exist")
        return r

    def _site(self, parking: str) -> str:
        return str(self.parking.row(self.db.conn, parking)["site"])

    @staticmethod
    def _history(c: Tx, sub: str, at: datetime, what: str,
                 detail: str = "") -> None:
        store.add_history(c, sub, at.isoformat(), what, detail)

    def _changes(self, c: Tx, ids: list[str]) -> list[Change]:
        out = []
        for i in ids:
            r = self.row(c, i)
            if r["status"] in LIVE:
                out.append(Change(op="subscription.upsert", subscription=sub_rule(c, r)))
            else:
                out.append(Change(op="subscription.delete", key=i))
        return out

    def _tariff(self, c: Tx, parking: str, space: int, unit: str,
                camera: bool) -> tuple[list[Band], list[Band] | None]:
        size = self.parking._space(c, parking, space)["size"]
        bands = self.parking._bands(c, parking, "space", unit, size)
        if not bands:
            raise CloudError(409, "no_tariff", f"no {unit} tariff for {size} spaces of {parking}")
        cam = self.parking._bands(c, parking, "camera", unit, None) if camera else None
        if camera and not cam:
            raise CloudError(409, "no_tariff", f"no {unit} camera tariff at {parking}")
        return bands, cam

    def _check_space_free(self, c: Tx, parking: str, space: int,
                          start: datetime, end: datetime, chain: set[str]) -> None:
        s = self.parking._space(c, parking, space)
        if not s["rentable"]:
            raise CloudError(409, "space_unavailable", f"space {space} is not rentable")
        if s["available_until"] and _t(s["available_until"]) < end:
            raise CloudError(409, "space_unavailable",
                             f"space {space} is available only until {s['available_until']}")
        for o in store.holding_space(c, parking, space, HOLDING):
            if o["id"] not in chain and _t(o["start"]) < end and start < _t(o["end"]):
                raise CloudError(409, "space_taken",
                                 f"space {space} is held by subscription {o['id']}")

    # Creation -------------------------------------------------------------------------------
    def create(self, parking: str, space: int, owner: str, vehicles: list[dict[str, str]], *,
               unit: str = "daily", amount: int | None = None, units: int | None = None,
               camera: bool = False, free: bool = False, by: str = "staff",
               resident: bool = False, users: list[str] | None = None,
               documents: list[str] | None = None,
               offer_accepted: bool = False, for_resident: bool = True) -> dict[str, Any]:
        """Staff: starts now, length from the amount paid (or ``units`` when free). Resident: a
        draft for ``units`` that holds the space 15 minutes awaiting payment, once they have
        accepted the parking's offer where it requires that; listing only the resident's own
        vehicles unless staff rent for them (not *for_resident*: on the owner's word)."""
        if unit not in UNIT:
            raise CloudError(422, "bad_unit", "unit is daily or hourly")
        if not vehicles:
            raise CloudError(422, "no_vehicle", "a subscription needs at least one vehicle")
        cars = [self._vehicle(v) for v in vehicles]
        now = self.clock.now()
        sid = f"S-{secrets.token_hex(6).upper()}"
        site = self._site(parking)

        def fn(c: Tx) -> list[Change]:
            p = self.parking.row(c, parking)
            if not p["active"]:
                raise CloudError(409, "parking_inactive", f"parking {parking} is not active")
            if resident:
                self._require_offer(p, offer_accepted)
            bands, cam = self._tariff(c, parking, space, unit, camera)
            n, paid = rent_terms(bands, cam, amount=amount, units=units, free=free,
                                 by_units=resident or free)
            end = now + n * UNIT[unit]
            self._check_space_free(c, parking, space, now, end, set())
            status = "draft" if resident else "active"
            hold = (now + DRAFT_HOLD).isoformat() if resident else None
            if for_resident:
                self.check_listable(c, by, [v["vrn"] for v in cars])
            store.insert(c, sid, parking, space, owner, json.dumps(users or []), unit, n,
                         now.isoformat(), end.isoformat(), camera, paid, status, hold,
                         now.isoformat(), by)
            store.add_vehicles(c, [(sid, v["vrn"], v["type"], v["make"]) for v in cars])
            if not resident and (paid or documents):
                store.add_payment(c, sid, "rent", paid, now.isoformat(),
                                  documents_json=json.dumps(documents or []))
            self._history(c, sid, now, "created", f"by {by}" + (" (free)" if free else ""))
            if resident and p["offer_required"]:
                self._history(c, sid, now, "offer_accepted", f"by {by}")
            return self._changes(c, [sid]) if status in LIVE else []

        delta = self.rules._change(site, fn)
        return self.get(sid) | {"rules_version": delta.to_version}

    @staticmethod
    def check_listable(c: Tx, by: str, vrns: list[str]) -> None:
        """A resident (*by* ``resident:NAME``) lists only their own vehicles: theirs or their
        flat's where registered, or registered nowhere (``vehicle_not_yours``; one registered
        without a resident is claimed first). Staff list any, on the owner's word."""
        if not by.startswith("resident:"):
            return
        who = residents_store.by_name(c, by.removeprefix("resident:"))
        rid = who["id"] if who is not None else None
        for vrn in vrns:
            for reg in residents_store.registrations(c, vrn):
                theirs = rid is not None and (reg["resident"] == rid or (
                    reg["flat"] is not None
                    and reg["flat"] in residents_store.flats_at(c, rid, reg["site"])))
                if not theirs:
                    raise CloudError(409, "vehicle_not_yours", f"{vrn} is not your flat's "
                                     "vehicle: only your flat's vehicles may be listed, or "
                                     "its owner asks the office to list it")

    @staticmethod
    def _vehicle(v: dict[str, str]) -> dict[str, str]:
        try:
            plate = vrn_rules.validate(v["vrn"])
        except (KeyError, ValueError) as exc:
            raise CloudError(422, "bad_vrn", f"vehicle {v}: {exc}") from exc
        return {"vrn": plate, "type": v.get("type", "4W"), "make": v.get("make", "")}

    def confirm_payment(self, sub: str, amount: int, reference: str) -> dict[str, Any]:
        """A verified payment of a resident's draft: it starts now (an extension: where its
        chain ends) and counts as paid in the app. The same reference twice changes nothing
        (idempotent)."""
        now = self.clock.now()
        r = self.row(self.db.conn, sub)
        site = self._site(r["parking"])

        def fn(c: Tx) -> list[Change]:
            if store.reference_seen(c, reference):
                return []
            s = self.row(c, sub)
            live = standing_of(s, False, now)
            if live.status != "draft":
                raise CloudError(409, "not_awaiting_payment",
                                 f"subscription {sub} is {live.status}, not awaiting payment")
            if amount != s["amount"]:
                raise CloudError(409, "wrong_amount", f"{amount} paid, {s['amount']} due")
            if s["prev"]:  # an extension keeps its place: it starts where the chain ends
                start = _t(s["start"])
                status = "future" if start > now else "active"
            else:
                start, status = now, "active"
            end = start + s["units"] * UNIT[s["unit"]]
            store.update(c, sub, status=status, start=start.isoformat(), end=end.isoformat(),
                         paid_through=end.isoformat(), paid_in_app=1, hold_until=None)
            store.add_payment(c, sub, "rent", amount, now.isoformat(), reference)
            self._history(c, sub, now, "paid", f"in the app, ref {reference}")
            return self._changes(c, [s["prev"], sub] if s["prev"] else [sub])

        delta = self.rules._change(site, fn)
        return self.get(sub) | {"rules_version": delta.to_version}

    def extend(self, sub: str, *, amount: int | None = None, units: int | None = None,
               free: bool = False, by: str = "staff", resident: bool = False,
               offer_accepted: bool = False) -> dict[str, Any]:
        """A *future* copy that starts where the chain's last subscription ends. Resident: a
        draft for ``units`` that holds the space 15 minutes awaiting payment in the app."""
        now = self.clock.now()
        r = self.row(self.db.conn, sub)
        site = self._site(r["parking"])
        nid = f"S-{secrets.token_hex(6).upper()}"

        def fn(c: Tx) -> list[Change]:
            if resident:
                self._require_offer(self.parking.row(c, r["parking"]), offer_accepted)
            chain_ids = self._chain(c, sub)
            tail = self.row(c, chain_ids[-1])
            if tail["status"] == "draft" and tail["prev"] and tail["hold_until"] \
                    and now >= _t(tail["hold_until"]):  # an unpaid extension whose hold ran out
                store.update(c, tail["id"], status="lapsed")
                self._history(c, tail["id"], now, "status", "lapsed")
                tail = self.row(c, chain_ids[-2])
            if tail["status"] in DONE or tail["status"] == "draft":
                raise CloudError(409, "not_extendable", f"subscription {tail['id']} is "
                                 f"{tail['status']}")
            bands, cam = self._tariff(c, tail["parking"], tail["space"], tail["unit"],
                                      bool(tail["camera"]))
            n, paid = rent_terms(bands, cam, amount=amount, units=units, free=free,
                                 by_units=resident or free or bool(units))
            start = _t(tail["end"])
            end = start + n * UNIT[tail["unit"]]
            chain = set(self._chain(c, self._root(c, sub)))
            self._check_space_free(c, tail["parking"], tail["space"], start, end, chain)
            status = "draft" if resident else "future" if start > now else "active"
            hold = (now + DRAFT_HOLD).isoformat() if resident else None
            store.insert_extension(c, nid, tail["id"], n, start.isoformat(), end.isoformat(),
                                   paid, status, hold, now.isoformat(), by)
            if paid and not resident:
                store.add_payment(c, nid, "rent", paid, now.isoformat())
            self._history(c, nid, now, "created", f"extends {tail['id']}, by {by}")
            if resident:  # nothing for the gates until it is paid
                self._history(c, tail["id"], now, "extension_drafted", f"{nid}, by {by}")
                return []
            self._history(c, tail["id"], now, "extended", f"by {nid}")
            return self._changes(c, [tail["id"], nid])

        delta = self.rules._change(site, fn)
        return self.get(nid) | {"rules_version": delta.to_version}

    @staticmethod
    def _require_offer(parking: Row, accepted: bool) -> None:
        """Where the parking requires it, a resident orders only after accepting its offer."""
        if parking["offer_required"] and not accepted:
            raise CloudError(409, "offer_not_accepted",
                             f"parking {parking['id']} requires accepting its offer first: "
                             f"{parking['rules_text'] or '(no text)'}")

    @staticmethod
    def _root(c: Tx, sub: str) -> str:
        while (prev := store.prev_of(c, sub)) is not None:
            sub = prev
        return sub

    @staticmethod
    def _chain(c: Tx, sub: str) -> list[str]:
        """*sub* and every later subscription of its chain, in order. An extension that was
        deactivated (or lapsed unpaid) ends the chain: the one before it may be extended
        again."""
        out = [sub]
        while (nxt := store.next_of(c, out[-1])) is not None:
            out.append(nxt)
        return out

    def get(self, sub: str) -> dict[str, Any]:
        """A subscription with vehicles, payments, history, its standing and debt now."""
        c = self.db.conn
        r = self.row(c, sub)
        now = self.clock.now()
        inside = self.inside(c, sub)
        cont = continued(c, sub) if r["status"] in LIVE else False
        st = standing_of(r, inside, now, cont)
        owed = 0
        if st.status == "overdue":
            bands, cam = self._tariff(c, r["parking"], r["space"], r["unit"], bool(r["camera"]))
            owed = debt(_t(r["paid_through"]), now, r["unit"], bands, cam)
        return dict(r) | {
            "users": json.loads(r["users"]), "camera": bool(r["camera"]),
            "paid_in_app": bool(r["paid_in_app"]), "inside": inside, "debt": owed,
            "standing": st.status,
            "exit_until": st.exit_until.isoformat() if st.exit_until else None,
            "vehicles": [dict(v) for v in store.vehicles(c, sub)],
            "payments": [dict(p) | {"documents": json.loads(p["documents"])}
                         for p in store.payments(c, sub)],
            "history": [dict(h) for h in store.history(c, sub)],
        }

    def _standing(self, sub: str, resident: str) -> tuple[bool, bool]:
        """Whether *resident* (by id, or by the owner name of before residents) owns *sub*,
        and whether it is one of its users."""
        c = self.db.conn
        r = self.row(c, sub)
        known = residents_store.names(c, resident)
        return r["owner"] in known, bool(known & set(json.loads(r["users"])))

    def may_use(self, sub: str, resident: str) -> bool:
        """Whether *resident* owns *sub* or is one of its users."""
        return any(self._standing(sub, resident))

    def names(self, resident: str) -> set[str]:
        """What a resident is known by as an owner: the id, and its owner name of before."""
        return residents_store.names(self.db.conn, resident)

    def acting(self, sub: str, resident: str | None, *, owner_only: bool) -> str:
        """Who acts on *sub*: ``staff`` (no resident key), or ``resident:ID`` once the
        resident is found to own it (or, unless *owner_only*, to be one of its users); 403
        otherwise."""
        if resident is None:
            return "staff"
        owns, uses = self._standing(sub, resident)
        if not owns and (owner_only or not uses):
            raise CloudError(403, "forbidden", "only the owner may do this" if owner_only
                             else "not your subscription")
        return f"resident:{resident}"

    @staticmethod
    def inside(c: Tx, sub: str) -> bool:
        """Whether a vehicle of the subscription is inside its parking."""
        return store.vehicle_inside(c, sub)

    def list(self, parking: str, status: str | None = None) -> list[dict[str, Any]]:
        """Subscriptions of a parking, newest first."""
        return [dict(r) for r in store.of_parking(self.db.conn, parking, status)]
