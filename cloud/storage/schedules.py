"""Storage of the time-of-day access profiles: a site's named schedules, and the bindings of
vehicles, tags and subscriptions to them (``cloud.society.schedules`` calls these)."""

from __future__ import annotations

from cloud.storage.dialect import upsert_sql
from cloud.storage.tx import Row, Tx


def site_schedules(c: Tx, site: str) -> list[Row]:
    """Every schedule of a site, by name."""
    return c.execute("SELECT * FROM schedules WHERE site = ? ORDER BY name", (site,)).fetchall()


def exists(c: Tx, site: str, name: str) -> bool:
    """Whether the site has a schedule of this name."""
    return c.execute("SELECT 1 FROM schedules WHERE site = ? AND name = ?",
                     (site, name)).fetchone() is not None


def upsert(c: Tx, site: str, name: str, label: str, windows_json: str, holidays_json: str,
           at: str) -> None:
    """Create or replace a schedule."""
    c.execute(upsert_sql("schedules", ("site", "name", "label", "windows", "holidays",
                                       "updated_at"), ("site", "name")),
              (site, name, label, windows_json, holidays_json, at))


def delete(c: Tx, site: str, name: str) -> None:
    """Delete a schedule."""
    c.execute("DELETE FROM schedules WHERE site = ? AND name = ?", (site, name))


def usage(c: Tx, site: str, name: str) -> dict[str, int]:
    """How many vehicles, tags, subscriptions and live codes of the site are bound to the
    schedule."""
    return {
        "vehicles": int(c.execute("SELECT count(*) FROM vehicles WHERE site = ? AND "
                                  "schedule = ?", (site, name)).scalar()),
        "tags": int(c.execute("SELECT count(*) FROM tags WHERE site = ? AND schedule = ?",
                              (site, name)).scalar()),
        "subscriptions": int(c.execute(
            "SELECT count(*) FROM subscriptions s JOIN parkings p ON p.id = s.parking WHERE "
            "p.site = ? AND s.schedule = ?", (site, name)).scalar()),
        "codes": int(c.execute("SELECT count(*) FROM access_codes WHERE site = ? AND schedule = "
                               "? AND status IN ('issued', 'active')", (site, name)).scalar()),
    }


def bind_subscription(c: Tx, site: str, sub: str, name: str | None) -> Row | None:
    """Bind a subscription of one of the site's parkings to a schedule (None: unbind); its row
    after, or None if the site has no such subscription."""
    if c.execute("SELECT 1 FROM subscriptions s JOIN parkings p ON p.id = s.parking WHERE "
                 "s.id = ? AND p.site = ?", (sub, site)).fetchone() is None:
        return None
    c.execute("UPDATE subscriptions SET schedule = ? WHERE id = ?", (name, sub))
    return c.execute("SELECT * FROM subscriptions WHERE id = ?", (sub,)).fetchone()
