"""Storage of paid parking: parkings, spaces, tariffs, subscriptions and their vehicles.
``cloud.parking`` (and the notifications it raises) call these."""

from __future__ import annotations

from cloud.storage.tx import Row, Tx


def parking(c: Tx, parking_id: str) -> Row | None:
    """One parking (deleted ones too)."""
    return c.execute("SELECT * FROM parkings WHERE id = ?", (parking_id,)).fetchone()


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
