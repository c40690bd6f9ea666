"""Storage of parking subscriptions: the subscriptions and their chains (``prev``), their
vehicles, payments and history, who is inside each parking, and the occupancy log.
``cloud.parking`` calls these in its own transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud.storage.dialect import upsert_sql
from cloud.storage.tx import Row, Tx


def _in(values: Sequence[Any]) -> str:
    return f"({','.join('?' * len(values))})"


# Subscriptions --------------------------------------------------------------------------------


def get(c: Tx, sub: str) -> Row | None:
    """One subscription."""
    return c.execute("SELECT * FROM subscriptions WHERE id = ?", (sub,)).fetchone()


def insert(c: Tx, sub: str, parking: str, space: int, owner: str, users_json: str, unit: str,
           units: int, start: str, end: str, camera: bool, amount: int, status: str,
           hold_until: str | None, at: str, by: str) -> None:
    """A new subscription (the first of its chain), paid through its end."""
    c.execute("INSERT INTO subscriptions(id, parking, space, owner, users, unit, units, start, "
              "\"end\", paid_through, camera, amount, paid_in_app, status, prev, hold_until, "
              "created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0,?,NULL,?,?,?)",
              (sub, parking, space, owner, users_json, unit, units, start, end, end, int(camera),
               amount, status, hold_until, at, by))


def insert_extension(c: Tx, sub: str, tail: str, units: int, start: str, end: str, amount: int,
                     status: str, hold_until: str | None, at: str, by: str) -> None:
    """A subscription that extends *tail*: its parking, space, owner, users, unit, camera,
    schedule and vehicles, from *start* to *end*."""
    c.execute("INSERT INTO subscriptions(id, parking, space, owner, users, unit, units, start, "
              "\"end\", paid_through, camera, amount, paid_in_app, status, prev, hold_until, "
              "created_at, created_by, schedule) SELECT ?, parking, space, owner, users, unit, "
              "?, ?, ?, ?, camera, ?, 0, ?, id, ?, ?, ?, schedule FROM subscriptions WHERE id = ?",
              (sub, units, start, end, end, amount, status, hold_until, at, by, tail))
    c.execute("INSERT INTO sub_vehicles(sub, vrn, type, make) SELECT ?, vrn, type, make FROM "
              "sub_vehicles WHERE sub = ?", (sub, tail))


def insert_imported(c: Tx, rows: Sequence[Sequence[Any]],
                    cars: Sequence[tuple[str, str, str, str]], at: str, by: str) -> None:
    """Subscriptions of an import: rows ``(id, parking, space, owner, unit, units, start, end,
    paid_through, amount, status, created_at, created_by)`` and their vehicles."""
    c.executemany("INSERT INTO subscriptions(id, parking, space, owner, unit, units, start, "
                  "\"end\", paid_through, amount, status, created_at, created_by) VALUES "
                  "(?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    add_vehicles(c, cars)
    c.executemany("INSERT INTO sub_history(sub, at, what, detail) VALUES (?, ?, 'created', ?)",
                  [(r[0], at, f"imported by {by}") for r in rows])


FIELDS = frozenset({"status", "start", "end", "paid_through", "paid_in_app", "hold_until",
                    "space", "owner", "users", "refund"})


def update(c: Tx, sub: str, **fields: Any) -> None:
    """Change some fields of a subscription."""
    unknown = set(fields) - FIELDS
    if unknown or not fields:
        raise ValueError(f"subscription fields are {sorted(FIELDS)}, not {sorted(unknown)}")
    sets = ", ".join(f'"{k}" = ?' for k in fields)
    c.execute(f"UPDATE subscriptions SET {sets} WHERE id = ?", (*fields.values(), sub))


def set_statuses(c: Tx, moves: Sequence[tuple[str, str, str]], at: str) -> None:
    """Status moves ``(new, id, old)``, each with its line of history."""
    c.executemany("UPDATE subscriptions SET status = ? WHERE id = ?",
                  [(new, sid) for new, sid, _ in moves])
    c.executemany("INSERT INTO sub_history(sub, at, what, detail) VALUES (?, ?, 'status', ?)",
                  [(sid, at, f"{old} → {new}") for new, sid, old in moves])


def prev_of(c: Tx, sub: str) -> str | None:
    """The subscription *sub* extends."""
    row = c.execute("SELECT prev FROM subscriptions WHERE id = ?", (sub,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def next_of(c: Tx, sub: str) -> str | None:
    """The subscription that extends *sub* (lapsed and archived ones aside)."""
    row = c.execute("SELECT id FROM subscriptions WHERE prev = ? AND status NOT IN ('lapsed', "
                    "'archive')", (sub,)).fetchone()
    return None if row is None else str(row[0])


def continued(c: Tx, statuses: Sequence[str], sub: str | None = None) -> set[str]:
    """The subscriptions (or *sub* alone) that one in *statuses* extends."""
    if sub is not None:
        return {r[0] for r in c.execute(f"SELECT prev FROM subscriptions WHERE prev = ? AND "
                                        f"status IN {_in(statuses)}", (sub, *statuses))}
    return {r[0] for r in c.execute(f"SELECT prev FROM subscriptions WHERE prev IS NOT NULL AND "
                                    f"status IN {_in(statuses)}", tuple(statuses))}


def of_parking(c: Tx, parking: str, status: str | None = None) -> list[Row]:
    """A parking's subscriptions (of one status), newest first."""
    sql = ("SELECT id, space, owner, status, start, \"end\", amount, unit, created_at FROM "
           "subscriptions WHERE parking = ?" + (" AND status = ?" if status else ""))
    return c.execute(sql + " ORDER BY created_at DESC",
                     (parking, status) if status else (parking,)).fetchall()


def in_statuses(c: Tx, statuses: Sequence[str], parking: str | None = None) -> list[Row]:
    """Subscriptions in *statuses* (of one parking), each with its parking's ``site``."""
    where, args = f"s.status IN {_in(statuses)}", tuple(statuses)
    if parking:
        where, args = where + " AND s.parking = ?", (*args, parking)
    return c.execute(f"SELECT s.*, p.site FROM subscriptions s JOIN parkings p ON "
                     f"p.id = s.parking WHERE {where}", args).fetchall()


def of_site(c: Tx, site: str, statuses: Sequence[str]) -> list[Row]:
    """The subscriptions in *statuses* of every parking of a site."""
    return c.execute(f"SELECT s.* FROM subscriptions s JOIN parkings p ON p.id = s.parking "
                     f"WHERE p.site = ? AND s.status IN {_in(statuses)}",
                     (site, *statuses)).fetchall()


def vehicles_of_site(c: Tx, site: str, statuses: Sequence[str]) -> list[tuple[str, str]]:
    """(subscription, vrn) of the subscriptions in *statuses* of a site's parkings."""
    return [(r[0], r[1]) for r in c.execute(
        f"SELECT v.sub, v.vrn FROM sub_vehicles v JOIN subscriptions s ON s.id = v.sub JOIN "
        f"parkings p ON p.id = s.parking WHERE p.site = ? AND s.status IN {_in(statuses)}",
        (site, *statuses))]


def of_vehicle(c: Tx, parking: str, vrn: str, statuses: Sequence[str]) -> list[Row]:
    """The subscriptions in *statuses* at *parking* that name the vehicle."""
    return c.execute(f"SELECT s.* FROM subscriptions s JOIN sub_vehicles v ON v.sub = s.id "
                     f"WHERE s.parking = ? AND v.vrn = ? AND s.status IN {_in(statuses)}",
                     (parking, vrn, *statuses)).fetchall()


def holding(c: Tx, parking: str, statuses: Sequence[str]) -> list[Row]:
    """The subscriptions in *statuses* of a parking, by start."""
    return c.execute(f"SELECT * FROM subscriptions WHERE parking = ? AND status IN "
                     f"{_in(statuses)} ORDER BY start", (parking, *statuses)).fetchall()


def holding_space(c: Tx, parking: str, space: int, statuses: Sequence[str]) -> list[Row]:
    """The subscriptions in *statuses* that hold one space."""
    return c.execute(f"SELECT id, start, \"end\" FROM subscriptions WHERE parking = ? AND "
                     f"space = ? AND status IN {_in(statuses)}",
                     (parking, space, *statuses)).fetchall()


def holding_past(c: Tx, parking: str, space: int, statuses: Sequence[str],
                 until: str) -> Row | None:
    """A subscription in *statuses* holding the space beyond *until*."""
    return c.execute(f"SELECT id, \"end\" FROM subscriptions WHERE parking = ? AND space = ? AND "
                     f"status IN {_in(statuses)} AND \"end\" > ?",
                     (parking, space, *statuses, until)).fetchone()


def held_spaces(c: Tx, parking: str, statuses: Sequence[str]) -> set[int]:
    """The spaces of a parking that a subscription in *statuses* holds."""
    return {r[0] for r in c.execute(f"SELECT space FROM subscriptions WHERE parking = ? AND "
                                    f"status IN {_in(statuses)}", (parking, *statuses))}


def count_not_in(c: Tx, parking: str, statuses: Sequence[str]) -> int:
    """How many subscriptions of a parking are in none of *statuses*."""
    return int(c.execute(f"SELECT count(*) FROM subscriptions WHERE parking = ? AND status NOT "
                         f"IN {_in(statuses)}", (parking, *statuses)).scalar())


def archived_with_vehicle(c: Tx, parking: str, vrn: str) -> list[Row]:
    """Archived subscriptions at *parking* that name the vehicle: id, start, end."""
    return c.execute("SELECT s.id, s.start, s.\"end\" FROM subscriptions s JOIN sub_vehicles v "
                     "ON v.sub = s.id WHERE s.parking = ? AND v.vrn = ? AND "
                     "s.status = 'archive'", (parking, vrn)).fetchall()


# Vehicles -------------------------------------------------------------------------------------


def add_vehicles(c: Tx, cars: Sequence[tuple[str, str, str, str]]) -> None:
    """Vehicles ``(sub, vrn, type, make)``."""
    c.executemany("INSERT INTO sub_vehicles(sub, vrn, type, make) VALUES (?, ?, ?, ?)", cars)


def put_vehicle(c: Tx, sub: str, vrn: str, vtype: str, make: str) -> None:
    """Add a vehicle to a subscription, or replace its type and make."""
    c.execute(upsert_sql("sub_vehicles", ("sub", "vrn", "type", "make"), ("sub", "vrn")),
              (sub, vrn, vtype, make))


def remove_vehicle(c: Tx, sub: str, vrn: str) -> bool:
    """Take a vehicle off a subscription; False if it was not on it."""
    return c.execute("DELETE FROM sub_vehicles WHERE sub = ? AND vrn = ?",
                     (sub, vrn)).rowcount > 0


def vehicle_count(c: Tx, sub: str) -> int:
    """How many vehicles a subscription has."""
    return int(c.execute("SELECT count(*) FROM sub_vehicles WHERE sub = ?", (sub,)).scalar())


def vehicles(c: Tx, sub: str) -> list[Row]:
    """A subscription's vehicles: vrn, type, make."""
    return c.execute("SELECT vrn, type, make FROM sub_vehicles WHERE sub = ?", (sub,)).fetchall()


# Payments and history -------------------------------------------------------------------------


def add_payment(c: Tx, sub: str, kind: str, amount: int, at: str, reference: str | None = None,
                documents_json: str | None = None) -> None:
    """A payment (``rent``, ``debt``) or a refund (a negative amount)."""
    c.execute("INSERT INTO sub_payments(sub, kind, amount, at, reference, documents) VALUES "
              "(?, ?, ?, ?, ?, ?)", (sub, kind, amount, at, reference, documents_json or "[]"))


def reference_seen(c: Tx, reference: str) -> bool:
    """Whether a payment with this provider reference is recorded."""
    return c.execute("SELECT 1 FROM sub_payments WHERE reference = ?",
                     (reference,)).fetchone() is not None


def refundable(c: Tx, subs: Sequence[str]) -> list[Row]:
    """Rent paid through the provider for *subs*, newest first: reference, amount."""
    return c.execute(f"SELECT reference, amount FROM sub_payments WHERE sub IN {_in(subs)} AND "
                     f"kind = 'rent' AND reference IS NOT NULL ORDER BY id DESC",
                     tuple(subs)).fetchall()


def last_payment(c: Tx, sub: str) -> Row | None:
    """The latest rent or debt payment of a subscription: id, documents."""
    return c.execute("SELECT id, documents FROM sub_payments WHERE sub = ? AND kind IN ('rent', "
                     "'debt') ORDER BY id DESC LIMIT 1", (sub,)).fetchone()


def set_documents(c: Tx, payment: int, documents_json: str) -> None:
    """Replace the documents of a payment."""
    c.execute("UPDATE sub_payments SET documents = ? WHERE id = ?", (documents_json, payment))


def payments(c: Tx, sub: str) -> list[Row]:
    """A subscription's payments in order: kind, amount, at, reference, documents."""
    return c.execute("SELECT kind, amount, at, reference, documents FROM sub_payments WHERE "
                     "sub = ? ORDER BY id", (sub,)).fetchall()


def add_history(c: Tx, sub: str, at: str, what: str, detail: str = "") -> None:
    """One line of a subscription's history."""
    c.execute("INSERT INTO sub_history(sub, at, what, detail) VALUES (?, ?, ?, ?)",
              (sub, at, what, detail))


def history(c: Tx, sub: str) -> list[Row]:
    """A subscription's history in order: at, what, detail."""
    return c.execute("SELECT at, what, detail FROM sub_history WHERE sub = ? ORDER BY id",
                     (sub,)).fetchall()


def last_history(c: Tx, sub: str) -> Row | None:
    """The latest line of a subscription's history: what, detail."""
    return c.execute("SELECT what, detail FROM sub_history WHERE sub = ? ORDER BY id DESC "
                     "LIMIT 1", (sub,)).fetchone()


# Presence and occupancy -----------------------------------------------------------------------


def set_presence(c: Tx, parking: str, vrn: str, inside: bool, at: str) -> bool:
    """A vehicle is now inside or outside a parking; False when this very fact (the same side,
    at the same time) was recorded already: a pass's reaction run again."""
    was = c.execute("SELECT inside, at FROM parking_presence WHERE parking = ? AND vrn = ?",
                    (parking, vrn)).fetchone()
    if was is not None and bool(was[0]) == inside and was[1] == at:
        return False
    c.execute(upsert_sql("parking_presence", ("parking", "vrn", "inside", "at"),
                         ("parking", "vrn")), (parking, vrn, int(inside), at))
    return True


def vehicle_inside(c: Tx, sub: str) -> bool:
    """Whether a vehicle of the subscription is inside its parking."""
    return c.execute("SELECT 1 FROM sub_vehicles v JOIN subscriptions s ON s.id = v.sub JOIN "
                     "parking_presence p ON p.parking = s.parking AND p.vrn = v.vrn WHERE "
                     "v.sub = ? AND p.inside = 1", (sub,)).fetchone() is not None


def with_vehicle_inside(c: Tx) -> set[str]:
    """Every subscription with a vehicle inside its parking."""
    return {r[0] for r in c.execute(
        "SELECT DISTINCT v.sub FROM sub_vehicles v JOIN subscriptions s ON s.id = v.sub JOIN "
        "parking_presence p ON p.parking = s.parking AND p.vrn = v.vrn WHERE p.inside = 1")}


def log_occupancy(c: Tx, parking: str, space: int, vrn: str, sub: str, inside: bool, at: str,
                  source: str) -> None:
    """One line of the occupancy log."""
    c.execute("INSERT INTO occupancy_log(parking, space, vrn, sub, inside, at, source) VALUES "
              "(?, ?, ?, ?, ?, ?, ?)", (parking, space, vrn, sub, int(inside), at, source))


def box_of_barriers(c: Tx, parking: str) -> list[Row]:
    """The parking's barriers with the box that claimed each and its availability: id, edge,
    availability."""
    return c.execute("SELECT g.id, eg.edge, e.availability FROM gates g JOIN edge_gates eg ON "
                     "eg.site = g.site AND eg.gate = g.id LEFT JOIN edges e ON e.id = eg.edge "
                     "WHERE g.parking = ?", (parking,)).fetchall()


# Reports --------------------------------------------------------------------------------------


def _between(sql: str, args: list[object], column: str, lo: str | None, hi: str | None) -> str:
    if lo:
        sql += f" AND {column} >= ?"
        args.append(lo)
    if hi:
        sql += f" AND {column} < ?"
        args.append(hi)
    return sql


def created_between(c: Tx, parkings: Sequence[str], lo: str | None,
                    hi: str | None) -> list[Row]:
    """Subscriptions of *parkings* created in [lo, hi), oldest first: status, id, owner,
    parking, space, start, end, amount, unit, created_at."""
    # No parking named: none (PostgreSQL refuses an empty IN list).
    within = f"parking IN {_in(parkings)}" if parkings else "1 = 0"
    args: list[object] = list(parkings)
    sql = _between(f"SELECT status, id, owner, parking, space, start, \"end\", amount, unit, "
                   f"created_at FROM subscriptions WHERE {within}", args, "created_at", lo, hi)
    return c.execute(sql + " ORDER BY created_at, id", args).fetchall()


def occupancy(c: Tx, parking: str, lo: str | None, hi: str | None) -> list[Row]:
    """The occupancy log of a parking in [lo, hi), oldest first: at, parking, space, vrn, sub,
    inside, source."""
    args: list[object] = [parking]
    sql = _between("SELECT at, parking, space, vrn, sub, inside, source FROM occupancy_log "
                   "WHERE parking = ?", args, "at", lo, hi)
    return c.execute(sql + " ORDER BY at, id", args).fetchall()


def space_rentable(c: Tx, parking: str) -> dict[int, bool]:
    """Each space of a parking and whether it is rentable."""
    return {r[0]: bool(r[1]) for r in c.execute(
        "SELECT number, rentable FROM spaces WHERE parking = ?", (parking,))}
