"""What the gates get of parkings and subscriptions: the rules they cache (``RulesSnapshot``
and ``subscription.upsert`` changes), built straight from the cloud's tables."""

from __future__ import annotations

from datetime import datetime

from cloud.storage import Row, Tx
from shared.contract import ParkingRule, SubscriptionRule
from shared.parking import LIVE


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s)


def continued(c: Tx, sub: str) -> bool:
    """Whether a live subscription follows *sub* (its extension takes over at the end)."""
    return c.execute(f"SELECT 1 FROM subscriptions WHERE prev = ? AND status IN "
                     f"({','.join('?' * len(LIVE))})", (sub, *LIVE)).fetchone() is not None


def sub_rule(c: Tx, row: Row) -> SubscriptionRule:
    """What a gate needs of one subscription."""
    vrns = [r[0] for r in c.execute("SELECT vrn FROM sub_vehicles WHERE sub = ?", (row["id"],))]
    price = c.execute(
        "SELECT coalesce(max(t.price), 0) FROM tariffs t JOIN spaces s ON s.parking = t.parking "
        "AND s.number = ? WHERE t.parking = ? AND t.unit = ? AND t.kind = 'space' AND "
        "t.size = s.size", (row["space"], row["parking"], row["unit"])).scalar()
    if row["camera"]:
        price += c.execute("SELECT coalesce(max(price), 0) FROM tariffs WHERE parking = ? AND "
                           "unit = ? AND kind = 'camera'", (row["parking"], row["unit"])
                           ).scalar()
    return SubscriptionRule(id=row["id"], parking=row["parking"], space=row["space"],
                            status=row["status"], unit=row["unit"], start=_t(row["start"]),
                            end=_t(row["end"]), paid_through=_t(row["paid_through"]),
                            vrns=vrns, continued=continued(c, row["id"]), debt_price=int(price),
                            schedule=row["schedule"])


def space_prices(c: Tx, parking: str | None = None
                 ) -> dict[tuple[str, int, str], int]:
    """The dearest space tariff per (parking, space, unit): what a unit of debt costs there."""
    where, args = ("WHERE s.parking = ? ", (parking,)) if parking else ("", ())
    return {(r[0], r[1], r[2]): r[3] for r in c.execute(
        "SELECT s.parking, s.number, t.unit, max(t.price) FROM spaces s JOIN tariffs t ON "
        "t.parking = s.parking AND t.kind = 'space' AND t.size = s.size " + where +
        "GROUP BY s.parking, s.number, t.unit", args)}


def site_parking_rules(c: Tx, site: str
                       ) -> tuple[list[ParkingRule], list[SubscriptionRule]]:
    """The parkings of a site and their live subscriptions, for a rules snapshot."""
    parkings = [ParkingRule(id=r["id"], active=bool(r["active"]))
                for r in c.execute("SELECT id, active FROM parkings WHERE site = ? AND "
                                   "deleted_at IS NULL", (site,))]
    live = ",".join("?" * len(LIVE))
    rows = c.execute(f"SELECT s.* FROM subscriptions s JOIN parkings p ON p.id = s.parking "
                     f"WHERE p.site = ? AND s.status IN ({live})", (site, *LIVE)).fetchall()
    # Whole-site queries rather than three per subscription: snapshots of 100,000 stay quick.
    vrns: dict[str, list[str]] = {}
    for sid, vrn in c.execute(f"SELECT v.sub, v.vrn FROM sub_vehicles v JOIN subscriptions s ON "
                              f"s.id = v.sub JOIN parkings p ON p.id = s.parking WHERE "
                              f"p.site = ? AND s.status IN ({live})", (site, *LIVE)):
        vrns.setdefault(sid, []).append(vrn)
    continued = {r[0] for r in c.execute(f"SELECT prev FROM subscriptions WHERE prev IS NOT "
                                         f"NULL AND status IN ({live})", LIVE)}
    space_price = space_prices(c)
    camera_price = {(r[0], r[1]): r[2] for r in c.execute(
        "SELECT parking, unit, max(price) FROM tariffs WHERE kind = 'camera' GROUP BY parking, "
        "unit")}
    subs = [SubscriptionRule(
        id=r["id"], parking=r["parking"], space=r["space"], status=r["status"], unit=r["unit"],
        start=_t(r["start"]), end=_t(r["end"]), paid_through=_t(r["paid_through"]),
        vrns=vrns.get(r["id"], []), continued=r["id"] in continued,
        debt_price=space_price.get((r["parking"], r["space"], r["unit"]), 0)
        + (camera_price.get((r["parking"], r["unit"]), 0) if r["camera"] else 0),
        schedule=r["schedule"])
        for r in rows]
    return parkings, subs
