"""Storage of paid parking: parkings, spaces, tariffs, subscriptions and their vehicles.
``cloud.parking`` (and the notifications it raises) call these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud.storage.tx import Row, Tx


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


# Parkings -------------------------------------------------------------------------------------

PARKING_COLUMNS = frozenset({"name", "address", "objects", "guard_phone", "refunds",
                             "offer_required", "rules_text", "debt_rules", "external_id",
                             "staff_email"})


def parking(c: Tx, parking_id: str, deleted: bool = True) -> Row | None:
    """One parking (a deleted one only with *deleted*)."""
    live = "" if deleted else " AND deleted_at IS NULL"
    return c.execute(f"SELECT * FROM parkings WHERE id = ?{live}", (parking_id,)).fetchone()


def _columns(fields: dict[str, Any]) -> list[str]:
    unknown = set(fields) - PARKING_COLUMNS
    if unknown:
        raise ValueError(f"not parking columns: {sorted(unknown)}")
    return list(fields)


def insert_parking(c: Tx, parking_id: str, site: str, at: str, fields: dict[str, Any]) -> None:
    """A new parking, inactive, with its details."""
    cols = _columns(fields)
    names = "".join(f", {k}" for k in cols)
    c.execute(f"INSERT INTO parkings(id, site, created_at{names}) VALUES "
              f"(?, ?, ?{', ?' * len(cols)})", (parking_id, site, at, *fields.values()))


def update_parking(c: Tx, parking_id: str, fields: dict[str, Any]) -> None:
    """Change a parking's details."""
    sets = ", ".join(f"{k} = ?" for k in _columns(fields))
    c.execute(f"UPDATE parkings SET {sets} WHERE id = ?", (*fields.values(), parking_id))


def set_parking_active(c: Tx, parking_id: str, active: bool) -> None:
    """Open or close a parking."""
    c.execute("UPDATE parkings SET active = ? WHERE id = ?", (int(active), parking_id))


def mark_deleted(c: Tx, parking_id: str, at: str) -> None:
    """Delete a parking (its records stay for the reports) and forget who is inside it."""
    c.execute("DELETE FROM parking_presence WHERE parking = ?", (parking_id,))
    c.execute("UPDATE parkings SET active = 0, deleted_at = ? WHERE id = ?", (at, parking_id))


def site_parkings(c: Tx, site: str) -> list[Row]:
    """The parkings of a site that are not deleted: id, active."""
    return c.execute("SELECT id, active FROM parkings WHERE site = ? AND deleted_at IS NULL",
                     (site,)).fetchall()


# Spaces ---------------------------------------------------------------------------------------


def space(c: Tx, parking_id: str, number: int) -> Row | None:
    """One space of a parking."""
    return c.execute("SELECT * FROM spaces WHERE parking = ? AND number = ?",
                     (parking_id, number)).fetchone()


def spaces(c: Tx, parking_id: str, number: int | None = None) -> list[Row]:
    """A parking's spaces by number (or the one numbered *number*)."""
    if number:
        return c.execute("SELECT * FROM spaces WHERE parking = ? AND number = ? ORDER BY number",
                         (parking_id, number)).fetchall()
    return c.execute("SELECT * FROM spaces WHERE parking = ? ORDER BY number",
                     (parking_id,)).fetchall()


def existing_numbers(c: Tx, parking_id: str, numbers: Sequence[int]) -> list[int]:
    """Which of *numbers* are spaces of the parking already."""
    return [r[0] for r in c.execute(f"SELECT number FROM spaces WHERE parking = ? AND number "
                                    f"IN ({_marks(numbers)})", (parking_id, *numbers))]


def insert_spaces(c: Tx, parking_id: str, numbers: Sequence[int], size: str, labels_json: str,
                  rentable: bool) -> None:
    """Add spaces of one size."""
    c.executemany("INSERT INTO spaces(parking, number, size, labels, rentable) VALUES "
                  "(?, ?, ?, ?, ?)",
                  [(parking_id, n, size, labels_json, int(rentable)) for n in numbers])


SPACE_COLUMNS = frozenset({"size", "labels", "rentable", "available_until"})


def update_space(c: Tx, parking_id: str, number: int, fields: dict[str, Any]) -> None:
    """Change a space's size, labels, rentable flag or availability end."""
    unknown = set(fields) - SPACE_COLUMNS
    if unknown:
        raise ValueError(f"not space columns: {sorted(unknown)}")
    sets = ", ".join(f"{k} = ?" for k in fields)
    c.execute(f"UPDATE spaces SET {sets} WHERE parking = ? AND number = ?",
              (*fields.values(), parking_id, number))


# Tariffs --------------------------------------------------------------------------------------


def bands(c: Tx, parking_id: str, kind: str, unit: str,
          size: str | None) -> list[tuple[int, int, int]]:
    """(lower, upper, price) of the bands of one tariff."""
    return [(r[0], r[1], r[2]) for r in c.execute(
        "SELECT lower, upper, price FROM tariffs WHERE parking = ? AND kind = ? AND unit = ? "
        "AND size IS NOT DISTINCT FROM ?", (parking_id, kind, unit, size))]


def insert_tariff(c: Tx, parking_id: str, kind: str, size: str | None, unit: str, name: str,
                  lower: int, upper: int, price: int) -> int:
    """A tariff band; its id."""
    return int(c.execute("INSERT INTO tariffs(parking, kind, size, unit, name, lower, upper, "
                         "price) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                         (parking_id, kind, size, unit, name, lower, upper, price)).scalar())


def delete_tariff(c: Tx, tariff_id: int) -> bool:
    """Remove a tariff band; False if there was none."""
    return c.execute("DELETE FROM tariffs WHERE id = ?", (tariff_id,)).rowcount > 0


def tariffs(c: Tx, parking_id: str) -> list[Row]:
    """Every band of a parking."""
    return c.execute("SELECT * FROM tariffs WHERE parking = ? ORDER BY kind, size, unit, lower",
                     (parking_id,)).fetchall()


def space_prices(c: Tx, parking_id: str | None = None) -> dict[tuple[str, int, str], int]:
    """The dearest space tariff per (parking, space, unit): what a unit of debt costs there."""
    where, args = ("WHERE s.parking = ? ", (parking_id,)) if parking_id else ("", ())
    return {(r[0], r[1], r[2]): r[3] for r in c.execute(
        "SELECT s.parking, s.number, t.unit, max(t.price) FROM spaces s JOIN tariffs t ON "
        "t.parking = s.parking AND t.kind = 'space' AND t.size = s.size " + where +
        "GROUP BY s.parking, s.number, t.unit", args)}


def camera_prices(c: Tx) -> dict[tuple[str, str], int]:
    """The dearest camera tariff per (parking, unit)."""
    return {(r[0], r[1]): r[2] for r in c.execute(
        "SELECT parking, unit, max(price) FROM tariffs WHERE kind = 'camera' GROUP BY parking, "
        "unit")}


def debt_price(c: Tx, parking_id: str, number: int, unit: str, camera: bool) -> int:
    """What a begun unit of debt costs for one space: its dearest band, plus the camera's."""
    price = int(c.execute(
        "SELECT coalesce(max(t.price), 0) FROM tariffs t JOIN spaces s ON s.parking = t.parking "
        "AND s.number = ? WHERE t.parking = ? AND t.unit = ? AND t.kind = 'space' AND "
        "t.size = s.size", (number, parking_id, unit)).scalar())
    if camera:
        price += int(c.execute("SELECT coalesce(max(price), 0) FROM tariffs WHERE parking = ? "
                               "AND unit = ? AND kind = 'camera'", (parking_id, unit)).scalar())
    return price


def active_ending_after(c: Tx, at: str) -> list[Row]:
    """Active subscriptions that end after *at*: id, parking, space, owner, unit, units, end."""
    return c.execute("SELECT id, parking, space, owner, unit, units, \"end\" FROM subscriptions "
                     "WHERE status = 'active' AND \"end\" > ?", (at,)).fetchall()


# Cameras --------------------------------------------------------------------------------------


def space_numbers(c: Tx, parking_id: str) -> set[int]:
    """The numbers of a parking's spaces."""
    return {r[0] for r in c.execute("SELECT number FROM spaces WHERE parking = ?",
                                    (parking_id,))}


def insert_camera(c: Tx, parking_id: str, name: str, url: str, enabled: bool,
                  parking_camera: bool, sort: int, spaces_json: str) -> Row:
    """Add a camera to a parking; its row."""
    cid = c.execute("INSERT INTO cameras(parking, name, url, enabled, parking_camera, sort, "
                    "spaces) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (parking_id, name, url, int(enabled), int(parking_camera), sort,
                     spaces_json)).scalar()
    row = c.execute("SELECT * FROM cameras WHERE id = ?", (cid,)).fetchone()
    assert row is not None
    return row


def cameras(c: Tx, parking_id: str, enabled_only: bool = False) -> list[Row]:
    """A parking's cameras in their order."""
    only = " AND enabled = 1" if enabled_only else ""
    return c.execute(f"SELECT * FROM cameras WHERE parking = ?{only} ORDER BY sort, id",
                     (parking_id,)).fetchall()


def delete_camera(c: Tx, camera_id: int) -> bool:
    """Remove a camera; False if there was none."""
    return c.execute("DELETE FROM cameras WHERE id = ?", (camera_id,)).rowcount > 0
