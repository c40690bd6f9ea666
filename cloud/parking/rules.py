"""What the gates get of gates, parkings and subscriptions: the rules they cache (``RulesSnapshot``
and ``subscription.upsert`` changes), built straight from the cloud's tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cloud.storage import Row, Tx
from cloud.storage import parking as store
from cloud.storage import subscriptions as subs_store
from shared.contract import GateRule, ParkingRule, SubscriptionRule
from shared.parking import LIVE
from shared.vocab import Direction


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s)


def gate_rule(row: Row | Mapping[str, Any]) -> GateRule:
    """What the gates get of a stored gate (a row, or a row's dict with changes): its
    direction, name, command key and the parking it is a barrier of, if any."""
    return GateRule(id=row["id"], direction=Direction(row["direction"]), name=row["name"],
                    command_key=row["command_key"], parking=row["parking"])


def continued(c: Tx, sub: str) -> bool:
    """Whether a live subscription follows *sub* (its extension takes over at the end)."""
    return bool(subs_store.continued(c, LIVE, sub))


def sub_rule(c: Tx, row: Row) -> SubscriptionRule:
    """What a gate needs of one subscription."""
    vrns = [v["vrn"] for v in subs_store.vehicles(c, row["id"])]
    price = store.debt_price(c, row["parking"], row["space"], row["unit"], bool(row["camera"]))
    return SubscriptionRule(id=row["id"], parking=row["parking"], space=row["space"],
                            status=row["status"], unit=row["unit"], start=_t(row["start"]),
                            end=_t(row["end"]), paid_through=_t(row["paid_through"]),
                            vrns=vrns, continued=continued(c, row["id"]), debt_price=int(price),
                            schedule=row["schedule"])


def site_parking_rules(c: Tx, site: str
                       ) -> tuple[list[ParkingRule], list[SubscriptionRule]]:
    """The parkings of a site and their live subscriptions, for a rules snapshot."""
    parkings = [ParkingRule(id=r["id"], active=bool(r["active"]))
                for r in store.site_parkings(c, site)]
    rows = subs_store.of_site(c, site, LIVE)
    # Whole-site queries rather than three per subscription: snapshots of 100,000 stay quick.
    vrns: dict[str, list[str]] = {}
    for sid, vrn in subs_store.vehicles_of_site(c, site, LIVE):
        vrns.setdefault(sid, []).append(vrn)
    continued = subs_store.continued(c, LIVE)
    space_price = store.space_prices(c)
    camera_price = store.camera_prices(c)
    subs = [SubscriptionRule(
        id=r["id"], parking=r["parking"], space=r["space"], status=r["status"], unit=r["unit"],
        start=_t(r["start"]), end=_t(r["end"]), paid_through=_t(r["paid_through"]),
        vrns=vrns.get(r["id"], []), continued=r["id"] in continued,
        debt_price=space_price.get((r["parking"], r["space"], r["unit"]), 0)
        + (camera_price.get((r["parking"], r["unit"]), 0) if r["camera"] else 0),
        schedule=r["schedule"])
        for r in rows]
    return parkings, subs
