"""``gatepost bench cloud-jobs``: the cloud's own work over 100,000 subscriptions.

The cloud's services run in this process on a fresh SQLite file and a virtual clock. The
setup goes through the same bulk import an operator would use; a tenth of the vehicles are
inside. Measured:
- the status job (``Subscriptions.transition``) when nothing is due, several runs;
- one run when every subscription ends at once (most archived, the tenth inside overdue);
- the two Excel reports over all of them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from cloud.parking import reports
from cloud.parking.presence import Presence
from cloud.parking.service import ParkingService
from cloud.parking.subscriptions import SubscriptionService
from cloud.society.rules import RulesService
from cloud.storage import Database
from gatepost.bench.measure import machine, plate_vrn, spread
from shared.clock import FileClock
from shared.vocab import Direction

T0 = datetime.fromisoformat("2026-12-01T09:00:00+05:30")


def _setup(work: Path, n: int) -> tuple[Database, Presence, Path, float]:
    clock_file = work / "clock.json"
    FileClock.set_time(clock_file, T0)
    db = Database(work / "cloud.sqlite")
    clock = FileClock(clock_file)
    rules = RulesService(db, clock)
    parking = ParkingService(db, clock, rules.ledger)
    subs = SubscriptionService(db, clock, rules.ledger)
    t0 = time.perf_counter()
    rules.create_site("bench", "Bench")
    for gate, d in (("in", Direction.ENTRY), ("out", Direction.EXIT)):
        rules.add_gate("bench", gate, d)
    parking.add("bench", "p1", {"name": "Bench parking"})
    for gate in ("in", "out"):
        parking.link_gate("bench", gate, "p1")
    parking.set_active("p1", True)
    parking.add_spaces("p1", f"1..{n}", "small")
    parking.add_tariff("p1", "space", "daily", "short", 1, 15, 100, "small")
    parking.add_tariff("p1", "space", "daily", "long", 16, 90, 80, "small")
    subs.import_many("p1", [{"space": i + 1, "owner": f"flat-{i}",
                             "vehicles": [plate_vrn(i)], "units": 30, "amount": 2400}
                            for i in range(n)])
    at = T0.isoformat()
    with db.write() as c:
        c.executemany("INSERT INTO parking_presence(parking, vrn, inside, at) VALUES "
                      "('p1', ?, 1, ?)", [(plate_vrn(i), at) for i in range(0, n, 10)])
        by_space = {r[0]: (r[1], r[2]) for r in c.execute(
            "SELECT s.space, s.id, v.vrn FROM subscriptions s JOIN sub_vehicles v ON "
            "v.sub = s.id")}
        c.executemany(
            "INSERT INTO occupancy_log(parking, space, vrn, sub, inside, at, source) VALUES "
            "('p1', ?, ?, ?, ?, ?, 'pass')",
            [(k // 2 + 1, by_space[k // 2 + 1][1], by_space[k // 2 + 1][0], k % 2 == 0,
              (T0 + timedelta(minutes=k)).isoformat()) for k in range(n)])
    return db, Presence(db, clock, rules.ledger), clock_file, time.perf_counter() - t0


def _timed(fn, runs: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return times, out


def bench_cloud_jobs(args: argparse.Namespace) -> int:
    """Run the cloud jobs benchmark and print one JSON object."""
    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-cloud-"))
    try:
        db, presence, clock_file, setup_s = _setup(work, args.subscriptions)
        idle, moved_idle = _timed(presence.transition, args.runs)
        FileClock.advance(clock_file, timedelta(days=31))
        end_all, moved = _timed(presence.transition, 1)
        rep_s, data = _timed(lambda: reports.subscriptions_xlsx(db, ["p1"], None, None),
                             args.runs)
        rep_o, occ = _timed(lambda: reports.occupancy_xlsx(db, "p1", None, None), args.runs)
        rows = db.conn.execute("SELECT count(*) FROM occupancy_log").scalar()
        out = {
            "bench": "cloud-jobs", "subscriptions": args.subscriptions, "runs": args.runs,
            "setup_s": round(setup_s, 1),
            "transition_ms": spread(idle, (50, 95), 1, with_max=True),
            "transition_moved_when_idle": moved_idle or {},
            "transition_all_end_ms": round(end_all[0], 1),
            "transition_moved_all_end": moved,
            "report_subscriptions_ms": spread(rep_s, (50,), 1, with_max=True),
            "report_subscriptions_bytes": len(data),  # type: ignore[arg-type]
            "report_occupancy_ms": spread(rep_o, (50,), 1, with_max=True),
            "report_occupancy_rows": rows, "report_occupancy_bytes": len(occ),  # type: ignore[arg-type]
            "machine": machine(),
        }
        db.close()
        print(json.dumps(out, indent=None if args.json else 2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
