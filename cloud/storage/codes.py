"""Storage of access codes: each site's code settings, the registry of every code ever issued
(digests, never deleted), the codes and visitor passes, committee members with their mandates,
and what people have paid for their codes. ``cloud.codes`` calls these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloud.storage.dialect import insert_ignore_sql, upsert_sql
from cloud.storage.tx import Row, Tx, in_chunks

SETTINGS = ("site", "alphabet", "length", "per_person", "activation_days", "duration_days",
            "first_use_activates", "code_key", "updated_at", "eligible", "free",
            "subscription_days", "renew_before_free", "renew_before_subscription",
            "auto_issue", "code_salt", "code_pepper", "code_cost", "code_generation")
CODE = ("id", "site", "kind", "holder", "code", "hash", "status", "issued_at", "activate_by",
        "activated_at", "valid_from", "valid_until", "single_use", "schedule", "flat", "vrn",
        "label", "visitor_kind", "visitor_phone", "created_by", "regime", "key_generation")
LIVE = ("issued", "active")  # the statuses of a code a gate may still accept
FIELDS = frozenset({"status", "activated_at", "valid_from", "valid_until", "used_at",
                    "activate_by", "renewed_at", "schedule", "hash", "key_generation"})
MEMBER = ("site", "resident", "role", "flat", "external", "mandate_start", "mandate_end",
          "updated_at")


def settings(c: Tx, site: str) -> Row | None:
    """A site's code settings (with its key: salt, pepper, cost and generation, or the legacy
    HMAC key of generation 0)."""
    return c.execute("SELECT * FROM site_code_settings WHERE site = ?", (site,)).fetchone()


def set_settings(c: Tx, values: Sequence[Any]) -> None:
    """Write a site's code settings (``SETTINGS`` order)."""
    c.execute(upsert_sql("site_code_settings", SETTINGS, ("site",)), tuple(values))


def register(c: Tx, digest: str, at: str) -> bool:
    """Record a code as issued forever; False if it ever was."""
    return c.execute(insert_ignore_sql("code_registry", ("digest", "issued_at")),
                     (digest, at)).rowcount > 0


def registered(c: Tx, digests: Sequence[str]) -> set[str]:
    """Those of *digests* the registry holds: codes issued before."""
    return {r[0] for r in in_chunks(c, "SELECT digest FROM code_registry WHERE digest IN "
                                       "({ids})", digests)}


def insert(c: Tx, values: Sequence[Any]) -> None:
    """A new code (``CODE`` order)."""
    c.execute(f"INSERT INTO access_codes({', '.join(CODE)}) VALUES "
              f"({', '.join('?' for _ in CODE)})", tuple(values))


def get(c: Tx, code_id: str) -> Row | None:
    """One code by id."""
    return c.execute("SELECT * FROM access_codes WHERE id = ?", (code_id,)).fetchone()


def by_hash(c: Tx, site: str, digest: str) -> Row | None:
    """A site's code by its keyed hash (what a gate's event names)."""
    return c.execute("SELECT * FROM access_codes WHERE site = ? AND hash = ?",
                     (site, digest)).fetchone()


def update(c: Tx, code_id: str, **fields: Any) -> None:
    """Change some of a code's fields."""
    update_many(c, tuple(fields), [(*fields.values(), code_id)])


def live_of(c: Tx, holder: str, site: str, kind: str) -> list[Row]:
    """A holder's codes of a kind at a site that are not cancelled, expired or spent."""
    return c.execute("SELECT * FROM access_codes WHERE holder = ? AND site = ? AND kind = ? "
                     "AND status IN ('issued', 'active') ORDER BY issued_at",
                     (holder, site, kind)).fetchall()


def get_many(c: Tx, ids: Sequence[str]) -> list[Row]:
    """Codes by id (those that exist), in no particular order."""
    return in_chunks(c, "SELECT * FROM access_codes WHERE id IN ({ids})", ids)


def update_many(c: Tx, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """The same fields (*names*) of many codes: each row their values, then the code's id."""
    if not names or set(names) - FIELDS:
        raise ValueError(f"code fields are {sorted(FIELDS)}")
    sets = ", ".join(f"{k} = ?" for k in names)
    c.executemany(f"UPDATE access_codes SET {sets} WHERE id = ?", [tuple(r) for r in rows])


def live_counts(c: Tx, site: str) -> dict[str, int]:
    """How many live person codes each holder has at a site."""
    return {r[0]: int(r[1]) for r in c.execute(
        "SELECT holder, count(*) FROM access_codes WHERE site = ? AND kind = 'person' AND "
        "status IN ('issued', 'active') GROUP BY holder", (site,)).fetchall()}


def of_holder(c: Tx, holder: str) -> list[Row]:
    """Every code of a holder, newest first."""
    return c.execute("SELECT * FROM access_codes WHERE holder = ? ORDER BY issued_at DESC, id",
                     (holder,)).fetchall()


def of_site(c: Tx, site: str) -> list[Row]:
    """Every code of a site, newest first."""
    return c.execute("SELECT * FROM access_codes WHERE site = ? ORDER BY issued_at DESC, id",
                     (site,)).fetchall()


def gate_codes(c: Tx, site: str) -> list[Row]:
    """The codes a site's gates hold: those hashed under the site's current key (settled ones
    too, so a gate can say why it refuses them; a rotation leaves the older ones behind)."""
    return c.execute("SELECT a.* FROM access_codes a JOIN site_code_settings s ON s.site = "
                     "a.site WHERE a.site = ? AND a.key_generation = s.code_generation ORDER "
                     "BY a.hash", (site,)).fetchall()


def live_of_site(c: Tx, site: str) -> list[Row]:
    """A site's live codes and passes (issued or active), oldest first."""
    return c.execute("SELECT * FROM access_codes WHERE site = ? AND status IN ('issued', "
                     "'active') ORDER BY issued_at, id", (site,)).fetchall()


def due(c: Tx, status: str, horizon: str, after: tuple[str, str], limit: int) -> list[Row]:
    """Codes of *status* (``active``: by the end of their use, ``issued``: by the end of
    their activation window) ending by *horizon*, in order of that end and id after *after*:
    what the daily job renews, lets lapse or expires, read down the index a page at a time."""
    end = "valid_until" if status == "active" else "activate_by"
    return c.execute(f"SELECT * FROM access_codes WHERE status = ? AND {end} <= ? AND "
                     f"({end} > ? OR ({end} = ? AND id > ?)) ORDER BY {end}, id LIMIT ?",
                     (status, horizon, after[0], after[0], after[1], limit)).fetchall()


def holder_flats(c: Tx, holders: Sequence[str]) -> list[Row]:
    """The flats (site, resident, role) of live residents among *holders* that are not
    companies."""
    return in_chunks(c, "SELECT f.site, f.resident, f.role FROM resident_flats f JOIN "
                      "residents r ON r.id = f.resident WHERE f.resident IN ({ids}) AND "
                      "r.removed_at IS NULL AND r.company = 0", holders)


def holder_seats(c: Tx, holders: Sequence[str]) -> list[Row]:
    """The committee seats of live residents among *holders* that are not companies."""
    return in_chunks(c, "SELECT m.* FROM committee_members m JOIN residents r ON r.id = "
                      "m.resident WHERE m.resident IN ({ids}) AND r.removed_at IS NULL AND "
                      "r.company = 0", holders)


def holder_payments(c: Tx, holders: Sequence[str]) -> list[Row]:
    """What *holders* have paid for their codes, at every site."""
    return in_chunks(c, "SELECT site, resident, paid_through FROM code_payments WHERE "
                      "resident IN ({ids})", holders)


def all_settings(c: Tx) -> list[Row]:
    """Every site's code settings."""
    return c.execute("SELECT * FROM site_code_settings").fetchall()


# Committee members ---------------------------------------------------------------------------
def set_member(c: Tx, values: Sequence[Any]) -> None:
    """Write a committee member of a site (``MEMBER`` order)."""
    c.execute(upsert_sql("committee_members", MEMBER, ("site", "resident")), tuple(values))


def member(c: Tx, site: str, resident: str) -> Row | None:
    """A site's committee member."""
    return c.execute("SELECT * FROM committee_members WHERE site = ? AND resident = ?",
                     (site, resident)).fetchone()


def members(c: Tx, site: str) -> list[Row]:
    """A site's committee members with their names and whether each is a company."""
    return c.execute("SELECT m.*, r.name, r.company FROM committee_members m JOIN residents r "
                     "ON r.id = m.resident WHERE m.site = ? ORDER BY m.role, r.name",
                     (site,)).fetchall()


def remove_member(c: Tx, site: str, resident: str) -> bool:
    """A member leaves the committee; False if they were not on it."""
    return c.execute("DELETE FROM committee_members WHERE site = ? AND resident = ?",
                     (site, resident)).rowcount > 0


# Payments ------------------------------------------------------------------------------------
def payment(c: Tx, site: str, resident: str) -> Row | None:
    """What a person has paid for their codes at a site."""
    return c.execute("SELECT * FROM code_payments WHERE site = ? AND resident = ?",
                     (site, resident)).fetchone()


def payments(c: Tx, site: str) -> dict[str, Row]:
    """Every person's payments at a site, by resident."""
    return {r["resident"]: r for r in c.execute(
        "SELECT * FROM code_payments WHERE site = ?", (site,)).fetchall()}


def set_payment(c: Tx, site: str, resident: str, courtesy_until: str, paid_through: str,
                at: str) -> None:
    """Write a person's payments for their codes."""
    c.execute(upsert_sql("code_payments", ("site", "resident", "courtesy_until",
                                           "paid_through", "updated_at"), ("site", "resident")),
              (site, resident, courtesy_until, paid_through, at))


# Reports -------------------------------------------------------------------------------------
def report_rows(c: Tx, sites: Sequence[str]) -> list[Row]:
    """The person codes of *sites* with their holders, by site, flat, holder."""
    marks = ", ".join("?" for _ in sites)
    return c.execute(
        "SELECT a.*, r.name AS holder_name, r.phone AS holder_phone FROM access_codes a JOIN "
        f"residents r ON r.id = a.holder WHERE a.kind = 'person' AND a.site IN ({marks}) "
        "ORDER BY a.site, a.flat, r.name, a.issued_at", tuple(sites)).fetchall()
