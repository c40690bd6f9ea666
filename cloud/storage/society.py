"""Storage of the society rules: sites, gates, vehicles, tags, panel accounts, the log of rule
changes and the rules epoch. The society domain (``cloud.society``) calls these in its own
transaction and writes no SQL of its own; each function is one statement or a few, on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cloud.storage.dialect import for_update, insert_ignore_sql, upsert_sql
from cloud.storage.tx import Row, Transaction, Tx

# Sites ----------------------------------------------------------------------------------------


def site_exists(c: Tx, site: str, lock: bool = False) -> bool:
    """Whether the site exists; with *lock*, its row stays locked until commit (two processes
    changing one site take turns)."""
    sql = "SELECT 1 FROM sites WHERE id = ?" + (for_update(c) if lock else "")
    return c.execute(sql, (site,)).fetchone() is not None


def insert_site(c: Tx, site: str, name: str, at: str, timezone: str | None,
                country: str = "IN", locale: str = "en", currency: str = "INR") -> None:
    """A new site at rules version 0."""
    c.execute("INSERT INTO sites(id, name, created_at, timezone, country, locale, currency) "
              "VALUES (?, ?, ?, ?, ?, ?, ?)", (site, name, at, timezone, country, locale,
                                               currency))


def site(c: Tx, site: str) -> Row | None:
    """The site: id, name, rules_version, timezone, country, locale, currency."""
    return c.execute("SELECT id, name, rules_version, timezone, country, locale, currency "
                     "FROM sites WHERE id = ?", (site,)).fetchone()


def site_country(c: Tx, site: str) -> str:
    """The site's country (ISO 3166-1 alpha-2; ``IN`` for a site that is not there)."""
    row = c.execute("SELECT country FROM sites WHERE id = ?", (site,)).fetchone()
    return str(row[0]) if row else "IN"


def set_site_country(c: Tx, site: str, country: str, locale: str, currency: str) -> None:
    """Set the site's country, language and currency."""
    c.execute("UPDATE sites SET country = ?, locale = ?, currency = ? WHERE id = ?",
              (country, locale, currency, site))


def rules_version(c: Tx, site: str) -> int:
    """The site's current rules version."""
    return int(c.execute("SELECT rules_version FROM sites WHERE id = ?", (site,)).scalar())


def set_rules_version(c: Tx, site: str, version: int) -> None:
    """Move the site's rules version."""
    c.execute("UPDATE sites SET rules_version = ? WHERE id = ?", (version, site))


def rules_versions(c: Tx, site: str | None = None) -> dict[str, int]:
    """The rules version of every site (or of *site* alone)."""
    if site is None:
        rows = c.execute("SELECT id, rules_version FROM sites")
    else:
        rows = c.execute("SELECT id, rules_version FROM sites WHERE id = ?", (site,))
    return {r[0]: int(r[1]) for r in rows}


def site_timezone(c: Tx, site: str) -> str | None:
    """The site's IANA time zone (None: not set)."""
    row = c.execute("SELECT timezone FROM sites WHERE id = ?", (site,)).fetchone()
    return row[0] if row else None


def set_site_timezone(c: Tx, site: str, timezone: str) -> None:
    """Set the site's time zone."""
    c.execute("UPDATE sites SET timezone = ? WHERE id = ?", (timezone, site))


def log_changes(c: Tx, site: str, version: int, changes_json: str, at: str) -> None:
    """Keep the changes that made *version* of the site's rules."""
    c.execute("INSERT INTO rule_changes(site, version, changes, at) VALUES (?, ?, ?, ?)",
              (site, version, changes_json, at))


# Gates ----------------------------------------------------------------------------------------


def gate(c: Tx, site: str, gate_id: str) -> Row | None:
    """One gate of a site."""
    return c.execute("SELECT * FROM gates WHERE site = ? AND id = ?",
                     (site, gate_id)).fetchone()


def upsert_gate(c: Tx, site: str, gate_id: str, direction: str, name: str, key: str,
                parking: str | None, external_id: str | None) -> None:
    """Add a gate or replace its fields."""
    c.execute(upsert_sql("gates", ("site", "id", "direction", "name", "command_key", "parking",
                                   "external_id"), ("site", "id")),
              (site, gate_id, direction, name, key, parking, external_id))


def site_gates(c: Tx, site: str) -> list[Row]:
    """Every gate of a site."""
    return c.execute("SELECT * FROM gates WHERE site = ?", (site,)).fetchall()


# Vehicles -------------------------------------------------------------------------------------


def vehicle(c: Tx, site: str, vrn: str) -> Row | None:
    """One registered vehicle of a site."""
    return c.execute("SELECT * FROM vehicles WHERE site = ? AND vrn = ?", (site, vrn)).fetchone()


def insert_vehicle(c: Tx, site: str, vrn: str, vtype: str, flat: str | None, at: str) -> None:
    """Register a vehicle."""
    c.execute("INSERT INTO vehicles(site, vrn, type, flat, created_at) VALUES (?, ?, ?, ?, ?)",
              (site, vrn, vtype, flat, at))


def upsert_vehicles(c: Tx, site: str, rows: Sequence[tuple[str, str, str | None]],
                    at: str) -> None:
    """Register many vehicles ``(vrn, type, flat)``; one listed again keeps its schedule."""
    c.executemany(upsert_sql("vehicles", ("site", "vrn", "type", "flat", "created_at"),
                             ("site", "vrn")), [(site, v, t, f, at) for v, t, f in rows])


def delete_vehicle(c: Tx, site: str, vrn: str) -> bool:
    """Remove a vehicle; False if it was not there."""
    return c.execute("DELETE FROM vehicles WHERE site = ? AND vrn = ?",
                     (site, vrn)).rowcount > 0


def site_vehicles(c: Tx, site: str) -> list[Row]:
    """Every vehicle of a site."""
    return c.execute("SELECT * FROM vehicles WHERE site = ?", (site,)).fetchall()


def stream_vehicles(c: Transaction, site: str, page: int) -> Iterator[Row]:
    """The site's vehicles by VRN, a page at a time."""
    return c.stream("SELECT vrn, type, flat, schedule FROM vehicles WHERE site = ? ORDER BY vrn",
                    (site,), page)


def vehicle_schedules(c: Tx, site: str) -> dict[str, str]:
    """The schedule of each vehicle of the site bound to one."""
    return {r[0]: r[1] for r in c.execute(
        "SELECT vrn, schedule FROM vehicles WHERE site = ? AND schedule IS NOT NULL", (site,))}


def set_vehicle_schedule(c: Tx, site: str, vrn: str, name: str | None) -> bool:
    """Bind a vehicle to a schedule (None: unbind); False if there is no such vehicle."""
    return c.execute("UPDATE vehicles SET schedule = ? WHERE site = ? AND vrn = ?",
                     (name, site, vrn)).rowcount > 0


# Tags -----------------------------------------------------------------------------------------

TAG_FIELDS = frozenset({"status", "vrn", "locked", "locked_until", "schedule", "locked_by",
                        "locked_at"})


def tag(c: Tx, epc: str) -> Row | None:
    """One tag, by EPC (any site)."""
    return c.execute("SELECT * FROM tags WHERE epc = ?", (epc,)).fetchone()


def insert_tag(c: Tx, epc: str, site: str, status: str, vrn: str | None,
               vehicle_type: str | None, at: str) -> None:
    """Register a tag."""
    c.execute("INSERT INTO tags(epc, site, status, vrn, vehicle_type, updated_at) VALUES "
              "(?, ?, ?, ?, ?, ?)", (epc, site, status, vrn, vehicle_type, at))


def import_tag(c: Tx, epc: str, site: str, status: str, vrn: str | None, at: str,
               vehicle_type: str | None = None) -> None:
    """Register a tag of a batch; one imported again starts afresh (its type as given,
    unlocked, no schedule), as a new one would."""
    c.execute(upsert_sql("tags", ("epc", "site", "status", "vrn", "vehicle_type", "locked",
                                  "locked_until", "schedule", "updated_at"), ("epc",)),
              (epc, site, status, vrn, vehicle_type, 0, None, None, at))


def update_tag(c: Tx, epc: str, at: str, **fields: Any) -> bool:
    """Change some of a tag's fields (``status``, ``vrn``, ``locked``, ``locked_until``,
    ``schedule``); False if there is no such tag."""
    unknown = set(fields) - TAG_FIELDS
    if unknown or not fields:
        raise ValueError(f"tag fields are {sorted(TAG_FIELDS)}, not {sorted(unknown)}")
    sets = ", ".join(f"{k} = ?" for k in fields)
    return c.execute(f"UPDATE tags SET {sets}, updated_at = ? WHERE epc = ?",
                     (*fields.values(), at, epc)).rowcount > 0


def delete_tag(c: Tx, epc: str) -> None:
    """Delete a tag."""
    c.execute("DELETE FROM tags WHERE epc = ?", (epc,))


def vehicle_tag_epcs(c: Tx, vrn: str) -> list[str]:
    """The EPCs of the tags linked to a vehicle."""
    return [r[0] for r in c.execute("SELECT epc FROM tags WHERE vrn = ?", (vrn,))]


def unlink_vehicle_tags(c: Tx, vrn: str) -> None:
    """A removed vehicle's tags become inactive and unlinked."""
    c.execute("UPDATE tags SET vrn = NULL, status = 'inactive' WHERE vrn = ?", (vrn,))


def active_tags(c: Tx, site: str, vrn: str) -> list[Row]:
    """The active tags of a vehicle at a site."""
    return c.execute("SELECT * FROM tags WHERE site = ? AND vrn = ? AND status = 'active'",
                     (site, vrn)).fetchall()


def site_tags(c: Tx, site: str) -> list[Row]:
    """Every tag of a site."""
    return c.execute("SELECT * FROM tags WHERE site = ?", (site,)).fetchall()


def stream_tags(c: Transaction, site: str, page: int) -> Iterator[Row]:
    """The site's tags by EPC, a page at a time."""
    return c.stream("SELECT * FROM tags WHERE site = ? ORDER BY epc", (site,), page)


def set_tag_schedule(c: Tx, site: str, epc: str, name: str | None, at: str) -> bool:
    """Bind a tag of the site to a schedule (None: unbind); False if the site has no such
    tag."""
    return c.execute("UPDATE tags SET schedule = ?, updated_at = ? WHERE site = ? AND epc = ?",
                     (name, at, site, epc)).rowcount > 0


# Panel accounts -------------------------------------------------------------------------------


def upsert_account(c: Tx, site: str, username: str, role: str, pw_hash: str, at: str) -> None:
    """Create or replace a panel account."""
    c.execute(upsert_sql("accounts", ("site", "username", "role", "pw_hash", "created_at"),
                         ("site", "username")), (site, username, role, pw_hash, at))


def delete_account(c: Tx, site: str, username: str) -> bool:
    """Delete a panel account; False if there was none."""
    return c.execute("DELETE FROM accounts WHERE site = ? AND username = ?",
                     (site, username)).rowcount > 0


def site_accounts(c: Tx, site: str) -> list[Row]:
    """A site's panel accounts by user name."""
    return c.execute("SELECT * FROM accounts WHERE site = ? ORDER BY username",
                     (site,)).fetchall()


# The rules epoch ------------------------------------------------------------------------------


def epoch(c: Tx) -> str | None:
    """The rules history's epoch (None: not drawn yet)."""
    row = c.execute("SELECT epoch FROM rules_epoch WHERE id = 1").fetchone()
    return str(row[0]) if row else None


def draw_epoch(c: Tx, value: str, at: str, cause: str) -> None:
    """Keep *value* as the epoch unless one is there already."""
    c.execute(insert_ignore_sql("rules_epoch", ("id", "epoch", "since", "cause")),
              (1, value, at, cause))


def replace_epoch(c: Tx, value: str, at: str, cause: str, only_if: str | None = None) -> bool:
    """Make *value* the epoch (with *only_if*, only while the epoch is still that one); False
    if it was not replaced."""
    if only_if is None:
        c.execute("DELETE FROM rules_epoch WHERE id = 1")
        c.execute("INSERT INTO rules_epoch(id, epoch, since, cause) VALUES (1, ?, ?, ?)",
                  (value, at, cause))
        return True
    return c.execute("UPDATE rules_epoch SET epoch = ?, since = ?, cause = ? WHERE id = 1 AND "
                     "epoch = ?", (value, at, cause, only_if)).rowcount == 1


# Gates as barriers of a parking ---------------------------------------------------------------


def parking_gates(c: Tx, parking: str) -> list[Row]:
    """The gates that are barriers of a parking."""
    return c.execute("SELECT * FROM gates WHERE parking = ?", (parking,)).fetchall()


def set_gate_parking(c: Tx, site: str, gate_id: str, parking: str | None) -> None:
    """Make a gate a barrier of *parking* (None: a society-perimeter gate)."""
    c.execute("UPDATE gates SET parking = ? WHERE site = ? AND id = ?", (parking, site, gate_id))


def unlink_parking_gates(c: Tx, parking: str) -> None:
    """Every barrier of a parking becomes a society-perimeter gate."""
    c.execute("UPDATE gates SET parking = NULL WHERE parking = ?", (parking,))


def insert_tags(c: Tx, rows: Sequence[tuple[str, str, str, str | None, str | None, str]]) -> None:
    """Register many tags ``(epc, site, status, vrn, vehicle_type, updated_at)``."""
    c.executemany("INSERT INTO tags(epc, site, status, vrn, vehicle_type, updated_at) VALUES "
                  "(?, ?, ?, ?, ?, ?)", rows)


def site_tags_of_vehicle(c: Tx, site: str, vrn: str) -> list[Row]:
    """Every tag of a vehicle at a site, whatever its status."""
    return c.execute("SELECT * FROM tags WHERE site = ? AND vrn = ? ORDER BY epc",
                     (site, vrn)).fetchall()
