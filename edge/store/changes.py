"""How the rules cache applies each change of a delta: one handler per op, in one table
(``APPLY``, op → handler), and the row writers the snapshot shares with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge.core.parking import area_key
from edge.store import codes as codes_store
from shared.contract import (
    AccountDelete,
    AccountRule,
    AccountUpsert,
    CodeDelete,
    CodesConfig,
    CodeUpsert,
    GateUpsert,
    ParkingUpsert,
    PresenceSet,
    ScheduleDelete,
    ScheduleRule,
    ScheduleUpsert,
    SiteRule,
    SiteSettings,
    SubscriptionDelete,
    SubscriptionRule,
    SubscriptionUpsert,
    TagDelete,
    TagRule,
    TagUpsert,
    VehicleDelete,
    VehicleUpsert,
)
from shared.country import OF_BEFORE

Peppers = codes_store.Peppers
Handler = Callable[[Any, str, Any, Peppers], None]
"""Applies one change in the delta's transaction: (cursor, the delta's site, change, peppers)."""

TAG_COLS = "epc, site, status, vrn, locked, locked_until, schedule"
TAG_INSERT = f"INSERT OR REPLACE INTO tags({TAG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
VEHICLE_INSERT = ("INSERT OR REPLACE INTO vehicles(site, vrn, type, flat, schedule) VALUES "
                  "(?, ?, ?, ?, ?)")


def tag_row(t: TagRule) -> tuple:
    """A tag rule as a row of ``tags``."""
    return (t.epc.upper(), t.site, t.status.value, t.vrn, int(t.locked),
            t.locked_until.isoformat() if t.locked_until else None, t.schedule)


def upsert_sub(c: Any, site: str, s: SubscriptionRule) -> None:
    """A subscription and its vehicles, replacing what was held of it."""
    c.execute("INSERT OR REPLACE INTO subscriptions(id, site, parking, space, status, unit, "
              "start, end, paid_through, continued, debt_price, schedule) VALUES "
              "(?,?,?,?,?,?,?,?,?,?,?,?)",
              (s.id, site, s.parking, s.space, s.status, s.unit, s.start.isoformat(),
               s.end.isoformat(), s.paid_through.isoformat(), int(s.continued),
               s.debt_price, s.schedule))
    c.execute("DELETE FROM sub_vehicles WHERE sub = ?", (s.id,))
    c.executemany("INSERT OR REPLACE INTO sub_vehicles(sub, vrn) VALUES (?, ?)",
                  [(s.id, v) for v in s.vrns])


def upsert_schedule(c: Any, site: str, s: ScheduleRule) -> None:
    """A schedule, kept as its JSON."""
    c.execute("INSERT OR REPLACE INTO schedules(site, name, rule) VALUES (?, ?, ?)",
              (site, s.name, s.model_dump_json()))


def upsert_account(c: Any, site: str, a: AccountRule) -> None:
    """Cloud accounts replace local ones of the same name; a new hash clears failures."""
    c.execute(
        "INSERT INTO accounts(username, role, pw_hash, failures, locked_until, source, "
        "created_at, site) VALUES (?, ?, ?, 0, NULL, 'cloud', datetime('now'), ?) "
        "ON CONFLICT(username) DO UPDATE SET role = excluded.role, site = excluded.site, "
        "source = 'cloud', failures = CASE WHEN pw_hash = excluded.pw_hash THEN failures "
        "ELSE 0 END, locked_until = CASE WHEN pw_hash = excluded.pw_hash THEN locked_until "
        "ELSE NULL END, pw_hash = excluded.pw_hash",
        (a.username, a.role, a.pw_hash, site))


def _tag_upsert(c: Any, site: str, ch: TagUpsert, _: Peppers) -> None:
    c.execute(TAG_INSERT, tag_row(ch.tag))


def _tag_delete(c: Any, site: str, ch: TagDelete, _: Peppers) -> None:
    c.execute("DELETE FROM tags WHERE epc = ?", (ch.key.upper(),))


def _vehicle_upsert(c: Any, site: str, ch: VehicleUpsert, _: Peppers) -> None:
    v = ch.vehicle
    c.execute(VEHICLE_INSERT, (site, v.vrn, v.type.value, v.flat, v.schedule))


def _vehicle_delete(c: Any, site: str, ch: VehicleDelete, _: Peppers) -> None:
    c.execute("DELETE FROM vehicles WHERE site = ? AND vrn = ?", (site, ch.key))


def _gate_upsert(c: Any, site: str, ch: GateUpsert, _: Peppers) -> None:
    g = ch.gate
    c.execute("INSERT OR REPLACE INTO cloud_gates(site, id, direction, name, command_key, "
              "parking) VALUES (?, ?, ?, ?, ?, ?)",
              (site, g.id, g.direction.value, g.name, g.command_key, g.parking))


def _parking_upsert(c: Any, site: str, ch: ParkingUpsert, _: Peppers) -> None:
    c.execute("INSERT OR REPLACE INTO parkings(site, id, active) VALUES (?, ?, ?)",
              (site, ch.parking.id, int(ch.parking.active)))


def _sub_upsert(c: Any, site: str, ch: SubscriptionUpsert, _: Peppers) -> None:
    upsert_sub(c, site, ch.subscription)


def _sub_delete(c: Any, site: str, ch: SubscriptionDelete, _: Peppers) -> None:
    c.execute("DELETE FROM sub_vehicles WHERE sub = ?", (ch.key,))
    c.execute("DELETE FROM subscriptions WHERE id = ?", (ch.key,))


def _presence_set(c: Any, site: str, ch: PresenceSet, _: Peppers) -> None:
    p = ch.presence
    c.execute("INSERT OR REPLACE INTO presence(vrn, inside, at) VALUES (?, ?, datetime('now'))",
              (area_key(p.parking, p.vrn), int(p.inside)))


def _schedule_upsert(c: Any, site: str, ch: ScheduleUpsert, _: Peppers) -> None:
    upsert_schedule(c, site, ch.schedule)


def _schedule_delete(c: Any, site: str, ch: ScheduleDelete, _: Peppers) -> None:
    c.execute("DELETE FROM schedules WHERE site = ? AND name = ?", (site, ch.key))


def _account_upsert(c: Any, site: str, ch: AccountUpsert, _: Peppers) -> None:
    upsert_account(c, site, ch.account)


def _account_delete(c: Any, site: str, ch: AccountDelete, _: Peppers) -> None:
    c.execute("DELETE FROM accounts WHERE username = ? AND source = 'cloud' AND site = ?",
              (ch.key, site))


def _code_upsert(c: Any, site: str, ch: CodeUpsert, _: Peppers) -> None:
    codes_store.upsert(c, ch.code)


def _code_delete(c: Any, site: str, ch: CodeDelete, _: Peppers) -> None:
    codes_store.delete(c, site, ch.key)


def _codes_config(c: Any, site: str, ch: CodesConfig, peppers: Peppers) -> None:
    codes_store.set_config(c, site, ch.code_config, peppers)


def set_site_settings(c: Any, site: str, settings: SiteRule | None) -> None:
    """The site's country, language, currency and zone as the cloud last sent them. None (a
    cloud of before, or a site of the settings of before: the cloud sends none for such a
    site, nor its later zone changes) leaves the box none: its zone comes from the schedules."""
    if settings is None or (settings.country, settings.locale, settings.currency) == OF_BEFORE:
        c.execute("DELETE FROM site_settings WHERE site = ?", (site,))
        return
    c.execute("INSERT OR REPLACE INTO site_settings(site, country, locale, currency, timezone) "
              "VALUES (?, ?, ?, ?, ?)", (site, settings.country, settings.locale,
                                         settings.currency, settings.timezone))


def _site_settings(c: Any, site: str, ch: SiteSettings, _peppers: Peppers) -> None:
    set_site_settings(c, site, ch.settings)


APPLY: dict[str, Handler] = {
    "tag.upsert": _tag_upsert,
    "tag.delete": _tag_delete,
    "vehicle.upsert": _vehicle_upsert,
    "vehicle.delete": _vehicle_delete,
    "gate.upsert": _gate_upsert,
    "account.upsert": _account_upsert,
    "account.delete": _account_delete,
    "parking.upsert": _parking_upsert,
    "subscription.upsert": _sub_upsert,
    "subscription.delete": _sub_delete,
    "presence.set": _presence_set,
    "schedule.upsert": _schedule_upsert,
    "schedule.delete": _schedule_delete,
    "code.upsert": _code_upsert,
    "code.delete": _code_delete,
    "codes.config": _codes_config,
    "site.settings": _site_settings,
}
"""Op → handler: every op of ``shared.contract.OPS`` once (a test checks)."""
