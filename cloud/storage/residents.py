"""Storage of residents: people (phone in E.164, name), the flats they live in and the
vehicles that are theirs. ``cloud.people`` calls these."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cloud.storage.dialect import insert_ignore_sql
from cloud.storage.tx import Row, Tx


def by_phone(c: Tx, phone: str) -> Row | None:
    """The live resident with this number."""
    return c.execute("SELECT * FROM residents WHERE phone = ? AND removed_at IS NULL",
                     (phone,)).fetchone()


def get(c: Tx, resident: str) -> Row | None:
    """One resident (a removed one too)."""
    return c.execute("SELECT * FROM residents WHERE id = ?", (resident,)).fetchone()


def insert(c: Tx, resident: str, phone: str, name: str, at: str) -> None:
    """A new resident."""
    c.execute("INSERT INTO residents(id, phone, name, created_at) VALUES (?, ?, ?, ?)",
              (resident, phone, name, at))


def ids_by_phone(c: Tx, phones: Sequence[str]) -> dict[str, str]:
    """The live residents among *phones* (at most 500), by number: their ids."""
    if not phones:
        return {}
    marks = ", ".join("?" for _ in phones)
    return {str(r[0]): str(r[1]) for r in c.execute(
        f"SELECT phone, id FROM residents WHERE removed_at IS NULL AND phone IN ({marks})",
        tuple(phones))}


def insert_many(c: Tx, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """New residents ``(id, phone, name, created_at)``."""
    c.executemany("INSERT INTO residents(id, phone, name, created_at) VALUES (?, ?, ?, ?)", rows)


def rename_many(c: Tx, rows: Sequence[tuple[str, str]]) -> None:
    """Residents ``(id, name)`` renamed."""
    c.executemany("UPDATE residents SET name = ? WHERE id = ?", [(n, r) for r, n in rows])


def add_flats_many(c: Tx, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Flats ``(resident, site, flat, role)`` residents live in (one already there is kept)."""
    c.executemany(insert_ignore_sql("resident_flats", ("resident", "site", "flat", "role")),
                  rows)


def rename(c: Tx, resident: str, name: str) -> None:
    """Change a resident's name."""
    c.execute("UPDATE residents SET name = ? WHERE id = ?", (name, resident))


def add_flats(c: Tx, resident: str, flats: Sequence[tuple[str, str, str]]) -> None:
    """Flats ``(site, flat, role)`` a resident lives in (one already there is kept)."""
    c.executemany(insert_ignore_sql("resident_flats", ("resident", "site", "flat", "role")),
                  [(resident, s, f, r) for s, f, r in flats])


def flats(c: Tx, resident: str) -> list[Row]:
    """A resident's flats: site, flat, role."""
    return c.execute("SELECT site, flat, role FROM resident_flats WHERE resident = ? ORDER BY "
                     "site, flat", (resident,)).fetchall()


def remove(c: Tx, resident: str, at: str) -> None:
    """A resident leaves: no flats, no vehicles of theirs, no pending claims; the row stays
    (events name it)."""
    c.execute("DELETE FROM resident_flats WHERE resident = ?", (resident,))
    c.execute("UPDATE vehicles SET resident = NULL WHERE resident = ?", (resident,))
    c.execute("UPDATE vehicle_claims SET status = 'cancelled', decided_at = ?, note = ? WHERE "
              "resident = ? AND status = 'pending'", (at, "the resident left", resident))
    c.execute("UPDATE residents SET removed_at = ? WHERE id = ?", (at, resident))


def of_site(c: Tx, site: str) -> list[Row]:
    """The live residents of a site with their flat there, by flat: id, phone, name, flat,
    role, company."""
    return c.execute("SELECT r.id, r.phone, r.name, f.flat, f.role, r.company FROM residents r "
                     "JOIN "
                     "resident_flats f ON f.resident = r.id WHERE f.site = ? AND r.removed_at IS "
                     "NULL ORDER BY f.flat, r.name", (site,)).fetchall()


def flat_mates(c: Tx, site: str, flat: str, resident: str) -> list[str]:
    """The other live residents of a flat."""
    return [r[0] for r in c.execute(
        "SELECT r.id FROM residents r JOIN resident_flats f ON f.resident = r.id WHERE "
        "f.site = ? AND f.flat = ? AND r.id <> ? AND r.removed_at IS NULL ORDER BY r.id",
        (site, flat, resident)).fetchall()]


def lives_in(c: Tx, resident: str, site: str) -> bool:
    """Whether the resident has a flat at the site."""
    return c.execute("SELECT 1 FROM resident_flats WHERE resident = ? AND site = ?",
                     (resident, site)).fetchone() is not None


def vehicles(c: Tx, resident: str) -> list[Row]:
    """A resident's vehicles: site, vrn, type, make, model, flat."""
    return c.execute("SELECT site, vrn, type, make, model, flat FROM vehicles WHERE resident = ? "
                     "ORDER BY site, vrn", (resident,)).fetchall()


def set_vehicle_owner(c: Tx, site: str, vrn: str, resident: str | None, make: str,
                      model: str) -> bool:
    """Make a registered vehicle a resident's (None: nobody's); False if there is none."""
    return c.execute("UPDATE vehicles SET resident = ?, make = ?, model = ? WHERE site = ? AND "
                     "vrn = ?", (resident, make, model, site, vrn)).rowcount > 0


def set_vehicle_flat(c: Tx, site: str, vrn: str, flat: str | None) -> None:
    """Move a registered vehicle to a flat (a car that changed hands goes to its new owner's)."""
    c.execute("UPDATE vehicles SET flat = ? WHERE site = ? AND vrn = ?", (flat, site, vrn))


def flats_at(c: Tx, resident: str, site: str) -> list[str]:
    """The flats a resident lives in at a site."""
    return [str(r[0]) for r in c.execute("SELECT flat FROM resident_flats WHERE resident = ? "
                                         "AND site = ? ORDER BY flat", (resident, site))]


def flat_vehicles(c: Tx, resident: str) -> list[Row]:
    """The vehicles of every flat the resident lives in (theirs and their flat-mates'): site,
    flat, vrn, resident."""
    return c.execute("SELECT v.site, v.flat, v.vrn, v.resident FROM vehicles v JOIN "
                     "resident_flats f ON f.site = v.site AND f.flat = v.flat WHERE "
                     "f.resident = ? ORDER BY v.site, v.flat, v.vrn", (resident,)).fetchall()


def legacy_id(name: str) -> str:
    """The resident id an owner name of before residents gets (as migration 0012 gave it)."""
    return "R-" + hashlib.sha256(f"legacy:{name}".encode()).hexdigest()[:12].upper()


def names(c: Tx, resident: str) -> set[str]:
    """What a resident is known by in parking records: the id, and the owner name of before
    residents existed, if any."""
    row = c.execute("SELECT id, legacy_owner FROM residents WHERE id = ?",
                    (resident,)).fetchone()
    return {resident} if row is None else {n for n in (row[0], row[1]) if n}


def ensure_legacy(c: Tx, name: str, at: str) -> str:
    """The resident an owner name stands for (one made, without a phone, if there is none)."""
    if get(c, name) is not None:
        return name
    row = c.execute("SELECT id FROM residents WHERE legacy_owner = ?", (name,)).fetchone()
    if row is not None:
        return str(row[0])
    rid = legacy_id(name)
    c.execute("INSERT INTO residents(id, phone, name, created_at, legacy_owner) VALUES "
              "(?, NULL, ?, ?, ?)", (rid, name, at, name))
    return rid


def set_phone(c: Tx, resident: str, phone: str) -> None:
    """Set a resident's phone (E.164)."""
    c.execute("UPDATE residents SET phone = ? WHERE id = ?", (phone, resident))


def set_company(c: Tx, resident: str, company: bool) -> None:
    """Mark a resident as a company (a legal entity) or a person."""
    c.execute("UPDATE residents SET company = ? WHERE id = ?", (int(company), resident))


def by_name(c: Tx, name: str) -> Row | None:
    """The resident an owner name stands for: by id, or by the name of before residents."""
    return get(c, name) or c.execute("SELECT * FROM residents WHERE legacy_owner = ?",
                                     (name,)).fetchone()


# Claims: a resident says a registered vehicle without a resident is theirs; staff decide. ----
CLAIM_COLUMNS = "id, site, vrn, resident, status, created_at, decided_at, decided_by, note"


def add_claim(c: Tx, site: str, vrn: str, resident: str, at: str) -> Row:
    """The resident's pending claim of the vehicle (the one already pending, if any)."""
    c.execute(insert_ignore_sql("vehicle_claims", ("site", "vrn", "resident", "status",
                                                   "created_at")),
              (site, vrn, resident, "pending", at))
    row = c.execute(f"SELECT {CLAIM_COLUMNS} FROM vehicle_claims WHERE site = ? AND vrn = ? AND "
                    "resident = ? AND status = 'pending'", (site, vrn, resident)).fetchone()
    assert row is not None
    return row


def claim(c: Tx, site: str, claim_id: int) -> Row | None:
    """One claim of a site."""
    return c.execute(f"SELECT {CLAIM_COLUMNS} FROM vehicle_claims WHERE site = ? AND id = ?",
                     (site, claim_id)).fetchone()


def claims(c: Tx, *, site: str | None = None, resident: str | None = None,
           status: str | None = None) -> list[Row]:
    """Claims of a site or of a resident (of one status, if given), oldest first."""
    where, args = [], []
    for col, value in (("site", site), ("resident", resident), ("status", status)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    return c.execute(f"SELECT {CLAIM_COLUMNS} FROM vehicle_claims WHERE "
                     f"{' AND '.join(where) or '1 = 1'} ORDER BY id", args).fetchall()


def decide_claim(c: Tx, claim_id: int, status: str, at: str, by: str, note: str) -> bool:
    """Settle a pending claim (confirmed, refused, cancelled); False if it was not pending."""
    return c.execute("UPDATE vehicle_claims SET status = ?, decided_at = ?, decided_by = ?, "
                     "note = ? WHERE id = ? AND status = 'pending'",
                     (status, at, by, note, claim_id)).rowcount > 0


def close_other_claims(c: Tx, site: str, vrn: str, at: str, by: str) -> None:
    """The vehicle is someone's now: the other pending claims of it are refused."""
    c.execute("UPDATE vehicle_claims SET status = 'refused', decided_at = ?, decided_by = ?, "
              "note = ? WHERE site = ? AND vrn = ? AND status = 'pending'",
              (at, by, "the vehicle was given to another resident", site, vrn))


def registrations(c: Tx, vrn: str) -> list[Row]:
    """Where a vehicle is registered, at any society: site, flat, resident."""
    return c.execute("SELECT site, flat, resident FROM vehicles WHERE vrn = ? ORDER BY site",
                     (vrn,)).fetchall()
