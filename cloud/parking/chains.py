"""What every service of subscriptions reads and checks inside its transaction: a subscription
and its chain (``prev``), its standing, its tariff, whether a space is free for it, what the
gates get of it, and the rent a payment buys. Functions of the caller's ``Tx``, no state."""

from __future__ import annotations

from datetime import datetime

from cloud.errors import CloudError
from cloud.parking.rules import _t, sub_rule
from cloud.parking.service import HOLDING, parking_row, space_row, tariff_bands
from cloud.refusals import Refusal
from cloud.storage import Row, Tx
from cloud.storage import residents as residents_store
from cloud.storage import society as society_store
from cloud.storage import subscriptions as store
from shared import vrn as vrn_rules
from shared.contract import Change, SubscriptionDelete, SubscriptionUpsert
from shared.parking import LIVE, Band, Standing, band_for, cost, longest_rent, standing


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
    raise CloudError(422, Refusal.AMOUNT_TOO_SMALL,
                     f"{amount} pays for no rent under these tariffs")


def rent_terms(bands: list[Band], camera: list[Band] | None, *, amount: int | None,
               units: int | None, free: bool, by_units: bool) -> tuple[int, int]:
    """How many units a rent lasts and what is paid for it: *units* priced by the bands (or
    free) when *by_units*, else the longest rent *amount* pays for."""
    if by_units:
        if not units:
            raise CloudError(422, Refusal.UNITS_REQUIRED, "say how many days or hours")
        if band_for(units, bands) is None:
            raise CloudError(422, Refusal.TOO_LONG,
                             f"the longest rent is {longest_rent(bands)} units")
        return units, 0 if free else cost(units, bands) + (cost(units, camera) if camera else 0)
    if amount is None:
        raise CloudError(422, Refusal.AMOUNT_REQUIRED, "say how much was paid")
    return units_for(amount, bands, camera), amount


def sub_row(c: Tx, sub: str) -> Row:
    """One subscription, or 404."""
    r = store.get(c, sub)
    if r is None:
        raise CloudError(404, Refusal.UNKNOWN_SUBSCRIPTION, f"subscription {sub} does not exist")
    return r


def site_of(c: Tx, parking: str) -> str:
    """The site of *parking* (404 when there is no such parking)."""
    return str(parking_row(c, parking)["site"])


def history(c: Tx, sub: str, at: datetime, what: str, detail: str = "") -> None:
    """One line of a subscription's history."""
    store.add_history(c, sub, at.isoformat(), what, detail)


def inside(c: Tx, sub: str) -> bool:
    """Whether a vehicle of the subscription is inside its parking."""
    return store.vehicle_inside(c, sub)


def changes_of(c: Tx, ids: list[str]) -> list[Change]:
    """What the gates get of *ids* as they stand in this transaction."""
    out: list[Change] = []
    for i in ids:
        r = sub_row(c, i)
        if r["status"] in LIVE:
            out.append(SubscriptionUpsert(subscription=sub_rule(c, r)))
        else:
            out.append(SubscriptionDelete(key=i))
    return out


def tariff_of(c: Tx, parking: str, space: int, unit: str,
              camera: bool) -> tuple[list[Band], list[Band] | None]:
    """The space's bands for *unit* and, when *camera*, the camera's (409 ``no_tariff``)."""
    size = space_row(c, parking, space)["size"]
    bands = tariff_bands(c, parking, "space", unit, size)
    if not bands:
        raise CloudError(409, Refusal.NO_TARIFF, f"no {unit} tariff for {size} spaces of {parking}")
    cam = tariff_bands(c, parking, "camera", unit, None) if camera else None
    if camera and not cam:
        raise CloudError(409, Refusal.NO_TARIFF, f"no {unit} camera tariff at {parking}")
    return bands, cam


def check_space_free(c: Tx, parking: str, space: int, start: datetime, end: datetime,
                     chain: set[str]) -> None:
    """Refuse unless *space* is rentable and held by nobody but *chain* in [start, end)."""
    s = space_row(c, parking, space)
    if not s["rentable"]:
        raise CloudError(409, Refusal.SPACE_UNAVAILABLE, f"space {space} is not rentable")
    if s["available_until"] and _t(s["available_until"]) < end:
        raise CloudError(409, Refusal.SPACE_UNAVAILABLE,
                         f"space {space} is available only until {s['available_until']}")
    for o in store.holding_space(c, parking, space, HOLDING):
        if o["id"] not in chain and _t(o["start"]) < end and start < _t(o["end"]):
            raise CloudError(409, Refusal.SPACE_TAKEN,
                             f"space {space} is held by subscription {o['id']}")


def root_of(c: Tx, sub: str) -> str:
    """The first subscription of *sub*'s chain."""
    while (prev := store.prev_of(c, sub)) is not None:
        sub = prev
    return sub


def chain_of(c: Tx, sub: str) -> list[str]:
    """*sub* and every later subscription of its chain, in order. An extension that was
    deactivated (or lapsed unpaid) ends the chain: the one before it may be extended again."""
    out = [sub]
    while (nxt := store.next_of(c, out[-1])) is not None:
        out.append(nxt)
    return out


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
                raise CloudError(409, Refusal.VEHICLE_NOT_YOURS, f"{vrn} is not your flat's "
                                 "vehicle: only your flat's vehicles may be listed, or "
                                 "its owner asks the office to list it")


def parking_country(c: Tx, parking: str) -> str:
    """The country of *parking*'s site: its plates are of that country (404: no parking)."""
    return society_store.site_country(c, site_of(c, parking))


def vehicle_of(v: dict[str, str], country: str = "IN") -> dict[str, str]:
    """A subscription's vehicle as given, its VRN validated as one of *country*'s (422
    ``bad_vrn``)."""
    try:
        plate = vrn_rules.validate(v["vrn"], country)
    except (KeyError, ValueError) as exc:
        raise CloudError(422, Refusal.BAD_VRN, f"vehicle {v}: {exc}") from exc
    return {"vrn": plate, "type": v.get("type", "4W"), "make": v.get("make", "")}


def require_offer(parking: Row, accepted: bool) -> None:
    """Where the parking requires it, a resident orders only after accepting its offer."""
    if parking["offer_required"] and not accepted:
        raise CloudError(409, Refusal.OFFER_NOT_ACCEPTED,
                         f"parking {parking['id']} requires accepting its offer first: "
                         f"{parking['rules_text'] or '(no text)'}")
