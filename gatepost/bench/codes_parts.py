"""The QR and daily-job parts of ``gatepost bench codes``.

- **qr**: a gate's simulated camera (``--fps``, motion trigger, ``qr: true``) streams to the
  edge daemon. With nobody in front of it the edge's CPU is read over ``--idle-s``, with how
  many frames the QR search looked at (the trigger keeps an empty lane from being searched).
  Then visitors hold their passes' QR codes up, one after another: the camera notes
  ``CLOCK_MONOTONIC`` when it starts showing the QR, the edge the same clock when it has
  decided. Beside it, the two decoders this could use, on the same 960×540 frames in this
  process: zxing-cpp (what the edge uses) and OpenCV's ``QRCodeDetector``.
- **job**: the daily renewal job (``cloud.codes.renewal``) over ``--job-codes`` codes of
  ``--job-sites`` sites, their holders real residents, ends spread over the 60 days, on SQLite
  or a throwaway PostgreSQL: seconds, and the process's peak memory while it runs.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from gatepost.bench.measure import memory, rss_mb, spread

SITE = "qr-site"


def decoders(repeats: int = 40) -> dict[str, Any]:
    """zxing-cpp and OpenCV on a QR frame and an empty frame: ms per frame, and whether each
    found the pass."""
    import cv2
    import zxingcpp

    from edge.adapters.qr import QR_ONLY
    from hardware_sim.camera import empty_scene, qr_scene

    text = "K7PX3MWQ9R"
    frames = {"qr": qr_scene(text), "empty": empty_scene()}
    cv = cv2.QRCodeDetector()
    out: dict[str, Any] = {}
    for name, fn in (("zxing_cpp", lambda f: [r.text for r in zxingcpp.read_barcodes(
            f, formats=QR_ONLY)]), ("opencv", lambda f: [cv.detectAndDecode(f)[0]])):
        got: dict[str, Any] = {}
        for kind, frame in frames.items():
            times, found = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                found = fn(frame)
                times.append((time.perf_counter() - t) * 1000)
            got[f"{kind}_ms"] = spread(times, (50, 99), 2)
            if kind == "qr":
                got["decoded"] = text in found
        out[name] = got
    return out


def qr_part(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """QR shown → decision through the real stack, and the idle cost; its JSON part."""
    from edge.adapters.alpr import missing_models
    from gatepost.bench.camera import cpu_seconds
    from gatepost.devstack.assets import alpr_models
    from gatepost.devstack.stack import GateSpec, Stack, StackOptions, wait_until
    from hardware_sim.camera import qr_scene

    models = alpr_models()
    if (problem := missing_models(models)) is not None:
        return {"error": problem}
    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-qr-"))
    stack = Stack(work, [GateSpec("main-in", SITE, "entry", {"country": "IN",
                                                            "trigger": "motion", "qr": True})],
                  StackOptions(edge_id="qr-box", alpr_models=models))
    stack.world.camera_fps = args.fps
    try:
        stack.start()
        c = stack.cloud
        c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
        c.put(f"/api/v1/sites/{SITE}/codes/settings", json={"alphabet": "letters",
                                                             "length": 10}).raise_for_status()
        who = c.post("/api/v1/residents", json={"phone": "+919812345678", "name": "Host",
                                                "flats": [{"site": SITE, "flat": "A-1"}]})
        key = c.post(f"/api/v1/residents/{who.json()['id']}/keys").json()["key"]
        now = datetime.now(UTC)
        codes, version = [], 0
        app = httpx.Client(base_url=str(c.base_url), timeout=30,
                           headers={"Authorization": f"Bearer {key}"})
        for i in range(args.qr_showings):
            r = app.post("/api/v1/me/passes", json={
                "kind": "guest", "name": f"Guest {i}", "valid_from": now.isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat()})
            r.raise_for_status()
            codes.append(r.json()["code"])
            version = r.json()["rules_version"]
        stack.wait_edge_version(SITE, version, 30)
        health = stack.edge_health
        wait_until(lambda: health()["cameras"]["main-in"]["frames"] > 20, 30,
                   what="the camera streaming")
        assert stack.edge_proc is not None
        cam0 = health()["cameras"]["main-in"]
        t0, cpu0 = time.monotonic(), cpu_seconds(stack.edge_proc.pid)
        time.sleep(args.idle_s)  # the measurement window itself
        idle_s = time.monotonic() - t0
        idle_cpu = (cpu_seconds(stack.edge_proc.pid) - cpu0) / idle_s * 100
        cam1 = health()["cameras"]["main-in"]
        log(f"idle: {idle_cpu:.1f} % of a core; showing {len(codes)} QR passes …")
        gate = stack.world.gates["main-in"]
        assert gate.camera is not None
        latencies: list[float] = []
        missed, reasons = 0, dict[str, int]()
        for code in codes:
            cursor = stack.edge_last_event()
            shown = gate.camera.show(qr_scene(code))
            found = None
            deadline = time.monotonic() + 10
            while found is None and time.monotonic() < deadline:
                events, cursor = stack.edge_events_after(cursor, wait=1.0)
                found = next((e for e in events if e["type"] == "decision"
                              and e["credential"]["kind"] == "code"), None)
            if found is None:
                missed += 1
            else:
                latencies.append((found["decided_mono_ns"] / 1e9 - shown) * 1000)
                reasons[found["reason"]] = reasons.get(found["reason"], 0) + 1
            looked = health()["cameras"]["main-in"]["looked_at"]
            gate.camera.clear()
            wait_until(lambda n=looked: health()["cameras"]["main-in"]["looked_at"] >= n + 2,
                       10, interval=0.05, what="the camera's next frames")
            wait_until(lambda: gate.boom.snapshot().closed_limit, 15, what="boom down")
        dec = decoders()
        # The QR search runs on the frames the trigger wants, the others are counted idle.
        searched = (cam1["looked_at"] - cam0["looked_at"]) - (cam1["idle"] - cam0["idle"])
        per_frame = dec["zxing_cpp"]["empty_ms"]["p50"]
        return {
            "fps": args.fps, "showings": len(codes), "missed": missed, "decisions": reasons,
            "latency_ms": spread(latencies, (50, 99), 1, with_max=True) if latencies else {},
            "idle_s": round(idle_s, 1), "idle_cpu_pct_of_one_core": round(idle_cpu, 2),
            "idle_frames": cam1["frames"] - cam0["frames"], "idle_frames_searched": searched,
            "qr_search_idle_cpu_pct": round(searched * per_frame / 1000 / idle_s * 100, 3),
            "qr_search_if_every_frame_cpu_pct": round(args.fps * per_frame / 10, 2),
            "decoders": dec, **memory(stack)}
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


def _fill(db: Any, n_codes: int, n_sites: int, now: datetime, log: Any) -> None:
    """*n_codes* codes of *n_sites* sites, two per resident, ends spread over 60 days; every
    other site gives its owners free codes, the rest subscription codes, four in five of their
    holders paid up."""
    from shared.codes import registry_digest

    rng = random.Random(7)
    per_site = -(-n_codes // n_sites)
    at = (now - timedelta(days=30)).isoformat()
    for s in range(n_sites):
        site = f"job-{s:04d}"
        regime = "free" if s % 2 == 0 else "subscription"
        with db.write() as c:
            c.execute("INSERT INTO sites(id, name, rules_version, created_at) VALUES "
                      "(?, ?, 0, ?)", (site, site, at))
            c.execute("INSERT INTO site_code_settings(site, alphabet, length, per_person, "
                      "activation_days, duration_days, first_use_activates, code_key, "
                      "updated_at, free) VALUES (?, 'digits', 10, 2, 1825, 60, 0, ?, ?, ?)",
                      (site, os.urandom(32).hex(), at,
                       "owner,tenant,committee" if regime == "free" else "committee"))
            people = [(f"R{s:04d}{i:06d}", f"+91{7000000000 + s * 1_000_000 + i}",
                       f"Resident {i}", at) for i in range(per_site // 2 + 1)]
            c.executemany("INSERT INTO residents(id, phone, name, created_at) VALUES "
                          "(?, ?, ?, ?)", people)
            c.executemany("INSERT INTO resident_flats(resident, site, flat, role) VALUES "
                          "(?, ?, ?, 'owner')", [(p[0], site, f"F-{i}")
                                                 for i, p in enumerate(people)])
            paid = (now + timedelta(days=20)).isoformat()
            if regime == "subscription":
                c.executemany("INSERT INTO code_payments(site, resident, courtesy_until, "
                              "paid_through, updated_at) VALUES (?, ?, ?, ?, ?)",
                              [(site, p[0], at, paid, at) for i, p in enumerate(people)
                               if i % 5])
            rows, registry = [], []
            for i in range(min(per_site, n_codes - s * per_site)):
                code = f"{s:04d}{i:06d}"
                end = now + timedelta(days=rng.uniform(-1, 59))
                active = i % 10 < 7
                rows.append((f"C-{s:04d}-{i:06d}", site, "person", people[i // 2][0], code,
                             registry_digest(f"{site}:{code}"),
                             "active" if active else "issued", at,
                             (end if not active else now + timedelta(days=1800)).isoformat(),
                             at if active else None, at if active else None,
                             end.isoformat() if active else None, 0, f"F-{i // 2}",
                             people[i // 2][2], "bench", regime))
                registry.append((registry_digest(code + site), at))
            c.executemany("INSERT INTO access_codes(id, site, kind, holder, code, hash, status, "
                          "issued_at, activate_by, activated_at, valid_from, valid_until, "
                          "single_use, flat, label, created_by, regime) VALUES (?, ?, ?, ?, ?, "
                          "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            c.executemany("INSERT INTO code_registry(digest, issued_at) VALUES (?, ?)",
                          registry)
        if s % max(1, n_sites // 10) == 0:
            log(f"  site {s + 1}/{n_sites} filled")


def job_part(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """The daily job over ``--job-codes`` codes; its JSON part."""
    from cloud.codes.renewal import Renewals
    from cloud.society.rules import RulesService
    from cloud.storage import Database
    from gatepost.devstack.postgres import TempPostgres

    class _At:
        def __init__(self, t: datetime) -> None:
            self.t = t

        def now(self) -> datetime:
            return self.t

    work = Path(tempfile.mkdtemp(prefix="gatepost-bench-job-"))
    pg = TempPostgres().start() if args.db == "postgresql" else None
    try:
        url = pg.create_database("codes") if pg else str(work / "cloud.sqlite")
        db = Database(url)
        now = datetime.now(UTC).replace(microsecond=0)
        log(f"filling {args.job_codes} codes over {args.job_sites} sites ({args.db}) …")
        t0 = time.monotonic()
        _fill(db, args.job_codes, args.job_sites, now, log)
        fill_s = time.monotonic() - t0
        clock = _At(now)
        rules = RulesService(db, clock)
        Path("/proc/self/clear_refs").write_text("5")  # peak memory from here on
        base_mb = rss_mb(os.getpid())[1]
        t0 = time.monotonic()
        got = Renewals(db, clock, rules.ledger).run()
        run_s = time.monotonic() - t0
        peak = rss_mb(os.getpid())[1]
        t0 = time.monotonic()
        again = Renewals(db, clock, rules.ledger).run()
        again_s = time.monotonic() - t0
        db.close()
        return {"db": args.db, "codes": args.job_codes, "sites": args.job_sites, **got,
                "seconds": round(run_s, 2), "rerun": again, "rerun_seconds": round(again_s, 2),
                "peak_rss_mb": round(peak, 1), "rss_before_mb": round(base_mb, 1),
                "fill_s": round(fill_s, 1)}
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
