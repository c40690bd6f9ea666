"""Bulk import of subscriptions: a parking moving its residents from another system (and the
benchmarks, which need 100,000 of them). One transaction, one rules version."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.parking.chains import parking_country, vehicle_of
from cloud.parking.service import HOLDING
from cloud.refusals import Refusal
from cloud.storage import Tx
from cloud.storage import parking as parking_store
from cloud.storage import subscriptions as store
from shared.contract import Change, SubscriptionRule, SubscriptionUpsert
from shared.parking import UNIT


def import_subscriptions(ledger: Ledger, now: datetime, site: str, parking: str,
                         items: list[dict[str, Any]], by: str = "import") -> dict[str, Any]:
    """Create active subscriptions of *parking* (of *site*) as they stand elsewhere: ``{space,
    owner, vehicles, unit, units, amount?, start?}`` each, starting *now* unless ``start``
    says otherwise."""
    ids: list[str] = []

    def fn(c: Tx) -> list[Change]:
        spaces = store.space_rentable(c, parking)
        held = store.held_spaces(c, parking, HOLDING)
        rows, cars = [], []
        country = parking_country(c, parking)
        taken: set[str] = set()
        for i, it in enumerate(items):
            space = int(it["space"])
            if not spaces.get(space):
                raise CloudError(409, Refusal.SPACE_UNAVAILABLE,
                                 f"item {i}: space {space} is not a "
                                 "rentable space of this parking")
            if space in held:
                raise CloudError(409, Refusal.SPACE_TAKEN, f"item {i}: space {space} is taken")
            held.add(space)
            unit = it.get("unit", "daily")
            if unit not in UNIT or int(it.get("units", 0)) < 1:
                raise CloudError(422, Refusal.BAD_ITEM,
                                 f"item {i}: unit daily|hourly and units ≥ 1")
            start = datetime.fromisoformat(it["start"]) if it.get("start") else now
            end = start + int(it["units"]) * UNIT[unit]
            sid = f"S-{secrets.token_hex(6).upper()}"
            while sid in taken:  # 48 random bits: a repeat is rare, but never twice
                sid = f"S-{secrets.token_hex(6).upper()}"
            taken.add(sid)
            ids.append(sid)
            status = "future" if start > now else "active"
            rows.append((sid, parking, space, it.get("owner", ""), unit, int(it["units"]),
                         start.isoformat(), end.isoformat(), end.isoformat(),
                         int(it.get("amount", 0)), status, now.isoformat(), by))
            vehicles = it.get("vehicles") or []
            if not vehicles:
                raise CloudError(422, Refusal.NO_VEHICLE, f"item {i}: at least one vehicle")
            cars += [(sid, v["vrn"], v.get("type", "4W"), v.get("make", ""))
                     for v in (vehicle_of(x if isinstance(x, dict) else {"vrn": x},
                                          country)
                               for x in vehicles)]
        store.insert_imported(c, rows, cars, now.isoformat(), by)
        price = parking_store.space_prices(c, parking)
        by_sub: dict[str, list[str]] = {}
        for sid, vrn, _t, _m in cars:
            by_sub.setdefault(sid, []).append(vrn)
        # Built from the rows just written; over 10,000 changes go out as a version bump and
        # the gates take a snapshot.
        return [SubscriptionUpsert(subscription=SubscriptionRule(
            id=r[0], parking=parking, space=r[2], status=r[10], unit=r[4],
            start=datetime.fromisoformat(r[6]), end=datetime.fromisoformat(r[7]),
            paid_through=datetime.fromisoformat(r[8]), vrns=by_sub[r[0]],
            debt_price=price.get((parking, r[2], r[4]), 0))) for r in rows]

    delta = ledger.change(site, fn)
    return {"imported": len(ids), "rules_version": delta.to_version, "site": site}
