"""The ``gatepost bench …`` parsers, and the module and function that run each bench."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_bench_parsers(sub: argparse._SubParsersAction) -> None:
    """``gatepost bench NAME`` and each bench's flags."""
    bench = sub.add_parser("bench", help="benchmarks printing JSON").add_subparsers(
        dest="bench_cmd", required=True)
    bg = bench.add_parser("gate", help="tag frame → flash-on acknowledged latency")
    bg.add_argument("--reads", type=int, default=2000, help="tag reads to drive")
    bg.add_argument("--tags", type=int, default=100_000, help="tags in the edge cache")
    bg.add_argument("--gates", type=int, default=2, help="gates")
    bg.add_argument("--baud", type=int, default=57600, help="reader baud for the wire floor")
    bg.add_argument("--subscriptions", type=int, default=0,
                    help="make the lanes parking barriers with this many subscriptions")
    bg.add_argument("--confirm-reads", type=int, default=1,
                    help="gates confirm each tag with this many identical reads (the reader "
                    "repeats the frame every 50 ms until the boom opens)")
    bg.add_argument("--json", action="store_true", help="print only the JSON object")
    ba = bench.add_parser("anpr", help="plate pipeline vs plain fast-alpr on labelled photos")
    ba.add_argument("--images", type=Path, required=True, help="folder the labels' paths start in")
    ba.add_argument("--labels", type=Path, required=True,
                    help="CSV with file, plate_text, country")
    ba.add_argument("--models", type=Path, help="model folder (default: $GATEPOST_ALPR_MODELS)")
    ba.add_argument("--decoys", type=int, default=10_000, help="random allowlisted plates")
    ba.add_argument("--min-score", type=float, default=0.3,
                    help="weakest slot a candidate needs to open")
    ba.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    ba.add_argument("--json", action="store_true", help="one-line JSON")
    bc = bench.add_parser("camera", help="edge CPU with idle cameras; arrival → decision")
    bc.add_argument("--fps", type=float, default=10.0, help="frames per second per camera")
    bc.add_argument("--idle-s", type=float, default=20.0, help="idle measurement window, s")
    bc.add_argument("--arrivals", type=int, default=20, help="vehicles to time")
    bc.add_argument("--json", action="store_true", help="one-line JSON")
    bj = bench.add_parser("cloud-jobs", help="status job and Excel reports over many "
                          "subscriptions")
    bj.add_argument("--subscriptions", type=int, default=100_000, help="subscriptions")
    bj.add_argument("--runs", type=int, default=5, help="timed runs of each job")
    bj.add_argument("--json", action="store_true", help="one-line JSON")
    bn = bench.add_parser("noise", help="one lane's reader line pure noise: edge CPU and the "
                          "other lane's latency, against the same without noise")
    bn.add_argument("--reads", type=int, default=500, help="tag reads on the clean lane, per "
                    "phase")
    bn.add_argument("--tags", type=int, default=10_000, help="tags in the edge cache")
    bn.add_argument("--baud", type=int, default=57600, help="the noisy line's baud rate (8N1, "
                    "sent flat out)")
    bn.add_argument("--seconds", type=float, default=10.0, help="CPU measurement window per "
                    "phase, s")
    bn.add_argument("--json", action="store_true", help="one-line JSON")
    bi = bench.add_parser("ingest", help="events a second stored exactly once from many edge "
                          "boxes, against the broker's ceiling in the same run")
    bi.add_argument("--edges", type=int, default=500, help="simulated boxes, each its own "
                    "broker user and site")
    bi.add_argument("--rate", type=float, default=5000.0, help="events a second offered by "
                    "all boxes together (0: each box flat out, window-bound)")
    bi.add_argument("--seconds", type=float, default=20.0, help="how long the boxes generate")
    bi.add_argument("--backlog", type=int, default=0, help="events each box holds at the start "
                    "(the drain after an outage)")
    bi.add_argument("--window", type=int, default=50, help="unacknowledged events per box")
    bi.add_argument("--resend-s", type=float, default=5.0, help="a box resends what is not "
                    "acknowledged after this long")
    bi.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite",
                    help="the cloud's database (postgresql: a throwaway cluster)")
    bi.add_argument("--workers", type=int, default=1, help="cloud processes")
    bi.add_argument("--load-procs", type=int, default=2, help="processes driving the boxes")
    bi.add_argument("--ceiling-s", type=float, default=5.0, help="seconds of the ceiling: the "
                    "same boxes flat out against a bare subscriber that only acks")
    bi.add_argument("--drain-timeout", type=float, default=300.0, help="give up waiting for "
                    "acks after this long, s")
    bi.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    bi.add_argument("--json", action="store_true", help="one-line JSON")
    bo = bench.add_parser("offline", help="a box holds a backlog with its uplink down, then "
                          "drains it: exactly once, bytes per event, drain rate, gate latency")
    bo.add_argument("--events", type=int, default=1_000_000, help="events written to the box's "
                    "event log while offline")
    bo.add_argument("--reads", type=int, default=200, help="reads at the gate idle, offline "
                    "and (repeated) while draining")
    bo.add_argument("--drain-timeout", type=float, default=1800.0, help="give up after, s")
    bo.add_argument("--nice-others", type=int, default=0, help="run the cloud and the broker "
                    "at this nice value: they stand for other machines (0: as they are)")
    bo.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    bo.add_argument("--json", action="store_true", help="one-line JSON")
    bb = bench.add_parser("bulk", help="a bulk tag change at a site whose box caches many: "
                          "request → the box's cache")
    bb.add_argument("--tags", type=int, default=1_000_000, help="tags the box caches")
    bb.add_argument("--change", type=int, default=5000, help="tags changed by each request")
    bb.add_argument("--runs", type=int, default=3, help="changes, one after another")
    bb.add_argument("--json", action="store_true", help="one-line JSON")
    bs = bench.add_parser("snapshot", help="a site's full rules served by the cloud and taken "
                          "by a box: time and each side's memory")
    bs.add_argument("--tags", type=int, default=1_000_000, help="vehicles and tags of the site")
    bs.add_argument("--json", action="store_true", help="one-line JSON")
    bf = bench.add_parser("fanout", help="one rules change at a site many boxes serve → every "
                          "box's cache holds it")
    bf.add_argument("--boxes", type=int, default=100, help="boxes subscribed to the site")
    bf.add_argument("--changes", type=int, default=50, help="changes made one after another")
    bf.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql",
                    help="the cloud's database")
    bf.add_argument("--timeout", type=float, default=10.0, help="seconds a change may take to "
                    "reach every box before it counts as missed")
    bf.add_argument("--json", action="store_true", help="one-line JSON")
    bk = bench.add_parser("faults", help="edge and cloud kill -9s, the broker down, a cloud "
                          "restored from a backup and a forged box: lost, duplicated, "
                          "accepted, stale (all goals 0)")
    bk.add_argument("--kills", type=int, default=20, help="SIGKILLs of the edge")
    bk.add_argument("--cloud-kills", type=int, default=2, help="SIGKILLs of the cloud")
    bk.add_argument("--broker-down-s", type=float, default=3.0,
                    help="seconds the broker is down (0: not at all)")
    bk.add_argument("--outage-s", type=float, default=3.0,
                    help="seconds of uplink outage before each cloud kill")
    bk.add_argument("--stale-every", type=int, default=10,
                    help="a rules round every N edge kills (0: none)")
    bk.add_argument("--rate", type=float, default=100.0, help="reads a second at the gates")
    bk.add_argument("--max-seconds", type=float, default=3600.0,
                    help="stop killing the edge after this long (the JSON says how many)")
    bk.add_argument("--keep", action="store_true", help="keep the work directory")
    bk.add_argument("--json", action="store_true", help="one line of JSON")
    bo = bench.add_parser("onboarding", help="a resident's sticker activation → the gate opens; "
                          "importing a batch of stickers")
    bo.add_argument("--activations", type=int, default=200,
                    help="stickers activated in the app, each then read at the gate")
    bo.add_argument("--stickers", type=int, default=100_000,
                    help="stickers imported in one batch (0: none)")
    bo.add_argument("--forward-events", type=int, default=5000,
                    help="pass events forwarded to the partner app after an outage (0: none)")
    bo.add_argument("--partner-down-s", type=float, default=10.0,
                    help="how long the partner stays down after the events are stored")
    bo.add_argument("--json", action="store_true", help="one line of JSON")
    bp = bench.add_parser("panel", help="decision → visible on Live; remote open → relay pulse")
    bp.add_argument("--reads", type=int, default=200, help="tag reads to watch on the page")
    bp.add_argument("--opens", type=int, default=50, help="remote opens through the cloud")
    bp.add_argument("--json", action="store_true", help="one-line JSON")
    bq = bench.add_parser("codes", help="keypad code → reader flash with many codes cached; "
                          "QR shown → decision and the idle cost; the daily renewal job")
    bq.add_argument("--parts", default="keypad,qr,job",
                    help="comma-separated: keypad, qr, job")
    bq.add_argument("--codes", type=int, default=100_000, help="codes cached at the gate")
    bq.add_argument("--entries", type=int, default=500, help="codes typed on the keypad")
    bq.add_argument("--qr-showings", type=int, default=30, help="QR passes shown to the camera")
    bq.add_argument("--fps", type=float, default=10.0, help="the camera's frames per second")
    bq.add_argument("--idle-s", type=float, default=20.0, help="idle measurement window, s")
    bq.add_argument("--job-codes", type=int, default=1_000_000,
                    help="codes the daily job runs over")
    bq.add_argument("--job-sites", type=int, default=100, help="sites those codes are of")
    bq.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite",
                    help="the daily job's database")
    bq.add_argument("--json", action="store_true", help="one line of JSON")


# `gatepost bench NAME`: the module and function that run it.
BENCHES = {
    "gate": ("gatepost.bench.gate", "bench_gate"),
    "camera": ("gatepost.bench.camera", "bench_camera"),
    "fanout": ("gatepost.bench.fanout", "bench_fanout"),
    "bulk": ("gatepost.bench.bulk", "bench_bulk"),
    "snapshot": ("gatepost.bench.snapshot", "bench_snapshot"),
    "offline": ("gatepost.bench.offline", "bench_offline"),
    "ingest": ("gatepost.bench.ingest", "bench_ingest"),
    "cloud-jobs": ("gatepost.bench.cloud_jobs", "bench_cloud_jobs"),
    "panel": ("gatepost.bench.panel", "bench_panel"),
    "onboarding": ("gatepost.bench.onboarding", "bench_onboarding"),
    "faults": ("gatepost.bench.faults", "bench_faults"),
    "noise": ("gatepost.bench.noise", "bench_noise"),
    "anpr": ("gatepost.bench.anpr", "bench_anpr"),
    "codes": ("gatepost.bench.codes", "bench_codes"),
}
