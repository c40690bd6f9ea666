"""Subscriptions: a resident's pass for one space (seed 002; docs/parking-rules.md).

Creation by staff (paid or free) or by a resident (a draft that holds the space 15 minutes),
extension, bulk import, and the reads: a subscription with its standing and debt, and who may
act on it. Its other services, composed beside it: ``changes`` (space, owner, users,
documents, vehicles), ``billing`` (payments, refunds, debts) and ``presence`` (presence and
the status machine driven by time and passes, ``shared.parking.standing``).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.parking.chains import (
    chain_of,
    changes_of,
    check_listable,
    check_space_free,
    history,
    inside,
    parking_country,
    rent_terms,
    require_offer,
    root_of,
    site_of,
    standing_of,
    sub_row,
    tariff_of,
    vehicle_of,
)
from cloud.parking.importer import import_subscriptions
from cloud.parking.rules import _t, continued
from cloud.parking.service import parking_row
from cloud.refusals import Refusal
from cloud.storage import Database, Row, Tx
from cloud.storage import residents as residents_store
from cloud.storage import subscriptions as store
from shared import vrn as vrn_rules
from shared.clock import Clock
from shared.contract import Change
from shared.parking import DONE, DRAFT_HOLD, LIVE, UNIT, debt


class SubscriptionService:
    """Creating, extending and reading subscriptions, each change published to the site's
    gates."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def row(self, sub: str) -> Row:
        """One subscription as stored, or 404."""
        return sub_row(self.db.conn, sub)

    def _site(self, parking: str) -> str:
        return site_of(self.db.conn, parking)

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
            raise CloudError(422, Refusal.BAD_UNIT, "unit is daily or hourly")
        if not vehicles:
            raise CloudError(422, Refusal.NO_VEHICLE, "a subscription needs at least one vehicle")
        country = parking_country(self.db.conn, parking)
        cars = [vehicle_of(v, country) for v in vehicles]
        now = self.clock.now()
        sid = f"S-{secrets.token_hex(6).upper()}"
        site = self._site(parking)

        def fn(c: Tx) -> list[Change]:
            p = parking_row(c, parking)
            if not p["active"]:
                raise CloudError(409, Refusal.PARKING_INACTIVE, f"parking {parking} is not active")
            if resident:
                require_offer(p, offer_accepted)
            bands, cam = tariff_of(c, parking, space, unit, camera)
            n, paid = rent_terms(bands, cam, amount=amount, units=units, free=free,
                                 by_units=resident or free)
            end = now + n * UNIT[unit]
            check_space_free(c, parking, space, now, end, set())
            status = "draft" if resident else "active"
            hold = (now + DRAFT_HOLD).isoformat() if resident else None
            if for_resident:
                check_listable(c, by, [v["vrn"] for v in cars])
            store.insert(c, sid, parking, space, owner, json.dumps(users or []), unit, n,
                         now.isoformat(), end.isoformat(), camera, paid, status, hold,
                         now.isoformat(), by)
            store.add_vehicles(c, [(sid, v["vrn"], v["type"], v["make"]) for v in cars])
            if not resident and (paid or documents):
                store.add_payment(c, sid, "rent", paid, now.isoformat(),
                                  documents_json=json.dumps(documents or []))
            history(c, sid, now, "created", f"by {by}" + (" (free)" if free else ""))
            if resident and p["offer_required"]:
                history(c, sid, now, "offer_accepted", f"by {by}")
            return changes_of(c, [sid]) if status in LIVE else []

        delta = self.ledger.change(site, fn)
        return self.get(sid) | {"rules_version": delta.to_version}

    def extend(self, sub: str, *, amount: int | None = None, units: int | None = None,
               free: bool = False, by: str = "staff", resident: bool = False,
               offer_accepted: bool = False) -> dict[str, Any]:
        """A *future* copy that starts where the chain's last subscription ends. Resident: a
        draft for ``units`` that holds the space 15 minutes awaiting payment in the app."""
        now = self.clock.now()
        r = self.row(sub)
        site = self._site(r["parking"])
        nid = f"S-{secrets.token_hex(6).upper()}"

        def fn(c: Tx) -> list[Change]:
            if resident:
                require_offer(parking_row(c, r["parking"]), offer_accepted)
            chain_ids = chain_of(c, sub)
            tail = sub_row(c, chain_ids[-1])
            if tail["status"] == "draft" and tail["prev"] and tail["hold_until"] \
                    and now >= _t(tail["hold_until"]):  # an unpaid extension whose hold ran out
                store.update(c, tail["id"], status="lapsed")
                history(c, tail["id"], now, "status", "lapsed")
                tail = sub_row(c, chain_ids[-2])
            if tail["status"] in DONE or tail["status"] == "draft":
                raise CloudError(409, Refusal.NOT_EXTENDABLE, f"subscription {tail['id']} is "
                                 f"{tail['status']}")
            bands, cam = tariff_of(c, tail["parking"], tail["space"], tail["unit"],
                                   bool(tail["camera"]))
            n, paid = rent_terms(bands, cam, amount=amount, units=units, free=free,
                                 by_units=resident or free or bool(units))
            start = _t(tail["end"])
            end = start + n * UNIT[tail["unit"]]
            chain = set(chain_of(c, root_of(c, sub)))
            check_space_free(c, tail["parking"], tail["space"], start, end, chain)
            status = "draft" if resident else "future" if start > now else "active"
            hold = (now + DRAFT_HOLD).isoformat() if resident else None
            store.insert_extension(c, nid, tail["id"], n, start.isoformat(), end.isoformat(),
                                   paid, status, hold, now.isoformat(), by)
            if paid and not resident:
                store.add_payment(c, nid, "rent", paid, now.isoformat())
            history(c, nid, now, "created", f"extends {tail['id']}, by {by}")
            if resident:  # nothing for the gates until it is paid
                history(c, tail["id"], now, "extension_drafted", f"{nid}, by {by}")
                return []
            history(c, tail["id"], now, "extended", f"by {nid}")
            return changes_of(c, [tail["id"], nid])

        delta = self.ledger.change(site, fn)
        return self.get(nid) | {"rules_version": delta.to_version}

    def import_many(self, parking: str, items: list[dict[str, Any]],
                    by: str = "import") -> dict[str, Any]:
        """Create active subscriptions as they stand elsewhere (``cloud.parking.importer``)."""
        return import_subscriptions(self.ledger, self.clock.now(), self._site(parking), parking,
                                    items, by)

    def get(self, sub: str) -> dict[str, Any]:
        """A subscription with vehicles, payments, history, its standing and debt now."""
        c = self.db.conn
        r = sub_row(c, sub)
        now = self.clock.now()
        is_in = inside(c, sub)
        cont = continued(c, sub) if r["status"] in LIVE else False
        st = standing_of(r, is_in, now, cont)
        owed = 0
        if st.status == "overdue":
            bands, cam = tariff_of(c, r["parking"], r["space"], r["unit"], bool(r["camera"]))
            owed = debt(_t(r["paid_through"]), now, r["unit"], bands, cam)
        return dict(r) | {
            "users": json.loads(r["users"]), "camera": bool(r["camera"]),
            "paid_in_app": bool(r["paid_in_app"]), "inside": is_in, "debt": owed,
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
        r = sub_row(c, sub)
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
            raise CloudError(403, Refusal.FORBIDDEN, "only the owner may do this" if owner_only
                             else "not your subscription")
        return f"resident:{resident}"

    def usable(self, parking: str, vrn: str) -> str:
        """The subscription that lets *vrn* through a barrier of *parking* now (paid and not
        expired, or repaid within its exit window); 409 otherwise."""
        now = self.clock.now()
        c = self.db.conn
        plate = vrn_rules.normalise(vrn)
        for s in store.of_vehicle(c, parking, plate, LIVE):
            st = standing_of(s, inside(c, s["id"]), now)
            if st.status in ("active", "repaid"):
                return str(s["id"])
        raise CloudError(409, Refusal.SUBSCRIPTION_NOT_USABLE,
                         f"{plate} has no paid, unexpired subscription at {parking}")

    def list(self, parking: str, status: str | None = None) -> list[dict[str, Any]]:
        """Subscriptions of a parking, newest first."""
        return [dict(r) for r in store.of_parking(self.db.conn, parking, status)]
