"""The local rules cache: tags, vehicles, gates and versions per site, plus vehicle presence."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from edge.core.parking import SubRecord
from edge.core.types import CodeRecord, CodeSettings, TagRecord
from edge.store import codes as codes_store
from edge.store.changes import (
    APPLY,
    TAG_COLS,
    TAG_INSERT,
    VEHICLE_INSERT,
    set_site_settings,
    tag_row,
    upsert_account,
    upsert_schedule,
    upsert_sub,
)
from edge.store.db import EdgeDB
from shared.contract import (
    RulesDelta,
    RulesSnapshot,
    ScheduleRule,
    SnapshotHead,
    SnapshotLine,
)
from shared.schedule import Schedule
from shared.vocab import TagStatus

log = logging.getLogger(__name__)

_TAG_SQL = f"SELECT {TAG_COLS} FROM tags WHERE epc = ?"


def _tag_record(r: Any) -> TagRecord:
    return TagRecord(r[0], r[1], TagStatus(r[2]), r[3], bool(r[4]),
                     datetime.fromisoformat(r[5]) if r[5] else None, r[6])


@lru_cache(maxsize=1024)
def _schedule(rule_json: str) -> Schedule:
    """A cached schedule, parsed once per text (the decision path reads it often)."""
    return ScheduleRule.model_validate_json(rule_json).to_schedule()


RESYNC = "!resync"  # an epoch no cloud draws: the next sync step takes a snapshot


class RulesCache:
    """Reads on any thread in microseconds; writes as whole snapshots or ordered deltas."""

    def __init__(self, db: EdgeDB, runtime_dir: Path | None = None) -> None:
        self.db = db
        # Sites with a vehicle bound to a schedule, kept between rules writes: a site without
        # one costs the decision path no query for the vehicle's schedule.
        self._scheduled: frozenset[str] | None = None
        self._writes = 0
        # the sites' code peppers: memory (and the runtime tmpfs) only
        self.peppers = codes_store.Peppers(runtime_dir)

    def _rules_written(self) -> None:
        self._writes += 1
        self._scheduled = None

    def _sites_scheduled(self) -> frozenset[str]:
        known = self._scheduled
        if known is None:
            writes = self._writes
            known = frozenset(r[0] for r in self.db.conn.execute(
                "SELECT DISTINCT site FROM vehicles WHERE schedule IS NOT NULL"))
            if writes == self._writes:  # no write since the count was read: keep it
                self._scheduled = known
        return known

    # Reads (the decision path) ----------------------------------------------------------------
    def tag(self, epc: str) -> TagRecord | None:
        """The cached tag with this EPC."""
        row = self.db.conn.execute(_TAG_SQL, (epc.upper(),)).fetchone()
        return None if row is None else _tag_record(row)

    def tags_of(self, vrn: str) -> list[TagRecord]:
        """Tags linked to a vehicle."""
        rows = self.db.conn.execute(f"SELECT {TAG_COLS} FROM tags WHERE vrn = ?", (vrn,))
        return [_tag_record(r) for r in rows]

    def vehicle_schedule(self, site: str, vrn: str) -> str | None:
        """The schedule a registered vehicle is bound to."""
        if site not in self._sites_scheduled():
            return None
        row = self.db.conn.execute("SELECT schedule FROM vehicles WHERE site = ? AND vrn = ?",
                                   (site, vrn)).fetchone()
        return row[0] if row else None

    def schedule(self, site: str, name: str) -> Schedule | None:
        """The site's schedule of this name, as the cloud sent it."""
        row = self.db.conn.execute("SELECT rule FROM schedules WHERE site = ? AND name = ?",
                                   (site, name)).fetchone()
        return _schedule(row[0]) if row else None

    def code_settings(self, site: str) -> CodeSettings | None:
        """How the site's codes are read (None: it has none)."""
        return codes_store.settings(self.db.conn, site, self.peppers)

    def needs_code_key(self, site: str) -> bool:
        """Whether the site's codes wait for the pepper a snapshot brings (after a start)."""
        return codes_store.lacks_pepper(self.db.conn, site, self.peppers)

    def code(self, site: str, digest: str) -> CodeRecord | None:
        """The site's code with this keyed hash."""
        return codes_store.code(self.db.conn, site, digest)

    def vehicles(self, site: str) -> list[str]:
        """The VRNs registered at a site, and those of its live subscriptions (the plate
        allowlist)."""
        return [r[0] for r in self.db.conn.execute(
            "SELECT vrn FROM vehicles WHERE site = ? UNION SELECT v.vrn FROM sub_vehicles v "
            "JOIN subscriptions s ON s.id = v.sub WHERE s.site = ?", (site, site))]

    def flat(self, site: str, vrn: str) -> str | None:
        """The flat a registered vehicle belongs to, if the cloud named one."""
        row = self.db.conn.execute("SELECT flat FROM vehicles WHERE site = ? AND vrn = ?",
                                   (site, vrn)).fetchone()
        return row[0] if row else None

    def parking_of(self, site: str, gate: str) -> tuple[str, bool] | None:
        """The parking whose barrier the gate is, and whether that parking is active."""
        row = self.db.conn.execute(
            "SELECT g.parking, p.active FROM cloud_gates g LEFT JOIN parkings p ON "
            "p.id = g.parking WHERE g.site = ? AND g.id = ?", (site, gate)).fetchone()
        if row is None or row[0] is None:
            return None
        return str(row[0]), bool(row[1])

    def subscriptions(self, parking: str | None, vrn: str) -> list[SubRecord]:
        """Cached subscriptions of a vehicle at a parking (any parking with None), with all
        their vehicles: one query, on the parking gate's decision path."""
        sql = ("SELECT s.id, s.parking, s.space, s.status, s.unit, s.start, s.end, "
               "s.paid_through, s.continued, s.debt_price, (SELECT group_concat(x.vrn, ' ') "
               "FROM sub_vehicles x WHERE x.sub = s.id), s.schedule FROM sub_vehicles v JOIN "
               "subscriptions s ON s.id = v.sub WHERE v.vrn = ?")
        args: tuple = (vrn,)
        if parking is not None:
            sql, args = sql + " AND s.parking = ?", (vrn, parking)
        return [SubRecord(r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]),
                          datetime.fromisoformat(r[6]), datetime.fromisoformat(r[7]),
                          bool(r[8]), tuple(r[10].split(" ")), int(r[9]), r[11])
                for r in self.db.conn.execute(sql, args)]

    def gate_key(self, site: str, gate: str) -> str | None:
        """The key that signs this gate's commands, as the cloud sent it."""
        row = self.db.conn.execute("SELECT command_key FROM cloud_gates WHERE site=? AND id=?",
                                   (site, gate)).fetchone()
        return str(row[0]) if row and row[0] else None

    def seen_command(self, command_id: str) -> bool:
        """Whether a command with this id was already accepted."""
        return self.db.conn.execute("SELECT 1 FROM commands_seen WHERE id = ?",
                                    (command_id,)).fetchone() is not None

    def remember_command(self, command_id: str, at: datetime) -> bool:
        """Record an accepted command id; False if it was already there (a replay race)."""
        with self.db.write() as c:
            c.execute("DELETE FROM commands_seen WHERE at < ?",
                      ((at - timedelta(days=1)).isoformat(),))
            return c.execute("INSERT OR IGNORE INTO commands_seen(id, at) VALUES (?, ?)",
                             (command_id, at.isoformat())).rowcount == 1

    def version(self, site: str) -> int:
        """The rules version held for *site* (0: never synced)."""
        row = self.db.conn.execute("SELECT version FROM site_rules WHERE site = ?",
                                   (site,)).fetchone()
        return int(row[0]) if row else 0

    def epoch(self, site: str) -> str:
        """The cloud rules history the held version belongs to ('' before any epoch)."""
        row = self.db.conn.execute("SELECT epoch FROM site_rules WHERE site = ?",
                                   (site,)).fetchone()
        return str(row[0]) if row else ""

    def request_resync(self) -> list[str]:
        """Mark every site's rules for a snapshot at the next sync step (a stopped daemon's
        next start); the sites marked."""
        with self.db.write() as c:
            c.execute("UPDATE site_rules SET epoch = ?", (RESYNC,))
            return [r[0] for r in c.execute("SELECT site FROM site_rules ORDER BY site")]

    def counts(self) -> dict[str, int]:
        """How many rows of each kind are cached."""
        c = self.db.conn
        return {
            "tags": c.execute("SELECT count(*) FROM tags").fetchone()[0],
            "vehicles": c.execute("SELECT count(*) FROM vehicles").fetchone()[0],
            "subscriptions": c.execute("SELECT count(*) FROM subscriptions").fetchone()[0],
            "codes": codes_store.count(c),
        }

    # Writes ---------------------------------------------------------------------------------
    def apply_snapshot(self, snap: RulesSnapshot) -> None:
        """Replace everything of the snapshot's site in one transaction."""
        self._replace(SnapshotHead(site=snap.site, version=snap.version, epoch=snap.epoch,
                                   gates=snap.gates, accounts=snap.accounts,
                                   parkings=snap.parkings, schedules=snap.schedules,
                                   code_config=snap.code_config, settings=snap.settings),
                      iter([*(("vehicle", v) for v in snap.vehicles),
                            *(("tag", t) for t in snap.tags),
                            *(("subscription", s) for s in snap.subscriptions),
                            *(("code", x) for x in snap.codes)]))

    def apply_snapshot_lines(self, lines: Iterable[str | bytes]) -> SnapshotHead:
        """Replace a site's rules from the NDJSON snapshot's lines (``cloud.society.snapshot``),
        one line in memory at a time, in one transaction; a snapshot whose ``end`` line is
        missing or whose counts differ is refused (``ValueError``) and nothing changes."""
        it = iter(lines)
        try:
            head = SnapshotHead.model_validate_json(next(it))
        except StopIteration:
            raise ValueError("an empty snapshot") from None
        counted = {"vehicles": 0, "tags": 0, "subscriptions": 0}
        ended: dict[str, int] = {}

        def items() -> Iterator[tuple[str, Any]]:
            for line in it:
                if not line.strip():
                    continue
                item = SnapshotLine.model_validate_json(line)
                if item.end is not None:
                    ended.update(item.end)
                    return
                kind, value = item.which()
                counted[f"{kind}s"] = counted.get(f"{kind}s", 0) + 1
                yield kind, value

        def check() -> None:
            if ended != counted:
                raise ValueError(f"the snapshot was cut: {counted} of {ended or 'no end'}")

        self._replace(head, items(), check)
        return head

    def _replace(self, head: SnapshotHead, items: Iterator[tuple[str, Any]],
                 check: Callable[[], None] | None = None) -> None:
        site = head.site
        n_tags = 0
        with self.db.write() as c:
            for table in ("tags", "vehicles", "cloud_gates", "parkings", "schedules"):
                c.execute(f"DELETE FROM {table} WHERE site = ?", (site,))
            c.execute("DELETE FROM sub_vehicles WHERE sub IN (SELECT id FROM subscriptions "
                      "WHERE site = ?)", (site,))
            c.execute("DELETE FROM subscriptions WHERE site = ?", (site,))
            for p in head.parkings:
                c.execute("INSERT OR REPLACE INTO parkings(site, id, active) VALUES (?, ?, ?)",
                          (site, p.id, int(p.active)))
            c.executemany("INSERT OR REPLACE INTO cloud_gates(site, id, direction, name, "
                          "command_key, parking) VALUES (?, ?, ?, ?, ?, ?)",
                          [(site, g.id, g.direction.value, g.name, g.command_key, g.parking)
                           for g in head.gates])
            for sched in head.schedules:
                upsert_schedule(c, site, sched)
            codes_store.clear_site(c, site)
            codes_store.set_config(c, site, head.code_config, self.peppers)
            set_site_settings(c, site, head.settings)
            tags: list[tuple] = []
            vehicles: list[tuple] = []
            codes: list[tuple] = []
            for kind, value in items:
                if kind == "tag":
                    tags.append(tag_row(value))
                    n_tags += 1
                elif kind == "code":
                    codes.append(codes_store.row(value))
                    if len(codes) >= 5000:
                        codes_store.insert(c, codes)
                elif kind == "vehicle":
                    vehicles.append((site, value.vrn, value.type.value, value.flat,
                                     value.schedule))
                else:
                    upsert_sub(c, site, value)
                if len(tags) >= 5000:
                    self._insert_tags(c, tags)
                if len(vehicles) >= 5000:
                    self._insert_vehicles(c, vehicles)
            self._insert_tags(c, tags)
            self._insert_vehicles(c, vehicles)
            codes_store.insert(c, codes)
            if check is not None:
                check()  # raises: the transaction rolls back, the old rules stay
            c.execute("DELETE FROM accounts WHERE source = 'cloud' AND site = ? AND username "
                      f"NOT IN ({','.join('?' * len(head.accounts))})",
                      (site, *(a.username for a in head.accounts)))
            for a in head.accounts:
                upsert_account(c, site, a)
            self._set_version(c, site, head.version, head.epoch)
        self._rules_written()
        log.info("rules of %s replaced by snapshot v%s of epoch %s (%s tags)", site,
                 head.version, head.epoch or "-", n_tags)

    @staticmethod
    def _insert_tags(c, rows: list[tuple]) -> None:
        c.executemany(TAG_INSERT, rows)
        rows.clear()

    @staticmethod
    def _insert_vehicles(c, rows: list[tuple]) -> None:
        c.executemany(VEHICLE_INSERT, rows)
        rows.clear()

    def apply_delta(self, delta: RulesDelta) -> str:
        """Apply a delta that follows what is held: "applied"; "stale" (a copy of one applied
        already); "epoch" (of another rules history) or "gap" (does not follow): take a
        snapshot."""
        with self.db.write() as c:
            held, epoch = self._held(c, delta.site)
            if delta.epoch != epoch:
                return "epoch"
            if delta.to_version <= held:
                return "stale"
            if delta.from_version != held:
                return "gap"
            for ch in delta.changes:
                APPLY[ch.op](c, delta.site, ch, self.peppers)
            self._set_version(c, delta.site, delta.to_version, epoch)
        self._rules_written()
        return "applied"

    @staticmethod
    def _held(c, site: str) -> tuple[int, str]:
        row = c.execute("SELECT version, epoch FROM site_rules WHERE site = ?",
                        (site,)).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, "")

    @staticmethod
    def _set_version(c, site: str, version: int, epoch: str) -> None:
        c.execute("INSERT INTO site_rules(site, version, epoch) VALUES (?, ?, ?) ON "
                  "CONFLICT(site) DO UPDATE SET version = excluded.version, epoch = "
                  "excluded.epoch", (site, version, epoch))


class Presence:
    """Whether each vehicle is inside, flipped by passes."""

    def __init__(self, db: EdgeDB) -> None:
        self.db = db

    def is_inside(self, vrn: str) -> bool | None:
        """True inside, False outside, None never seen."""
        row = self.db.conn.execute("SELECT inside FROM presence WHERE vrn = ?",
                                   (vrn,)).fetchone()
        return None if row is None else bool(row[0])

    def inside_now(self, limit: int = 50) -> list[tuple[str, str, str | None]]:
        """Vehicles inside a site (not its parkings), newest first: (vrn, since, flat)."""
        return [(r[0], r[1], r[2]) for r in self.db.conn.execute(
            "SELECT p.vrn, p.at, v.flat FROM presence p LEFT JOIN vehicles v ON v.vrn = p.vrn "
            "WHERE p.inside = 1 AND instr(p.vrn, '/') = 0 ORDER BY p.at DESC LIMIT ?",
            (limit,))]

    def set(self, conn, vrn: str, inside: bool, at: datetime) -> None:
        """Record the vehicle's state inside the caller's transaction."""
        conn.execute("INSERT OR REPLACE INTO presence(vrn, inside, at) VALUES (?, ?, ?)",
                     (vrn, int(inside), at.isoformat()))
