"""``gatepost edge restore FILE``: a box's backup put back on a box (the same one, or one that
replaces it), with the daemon stopped.

The event log in the backup ends where the backup was taken, but the box went on numbering and
sending events after it, and the cloud stored them. A restored box that numbered from the
backup again would give new events ids the cloud already holds, and the cloud would take each
of them for a resend: stored never. So the restore first asks the cloud for the last number it
holds per gate of this box (``GET /api/v1/edges/{edge}/sequences``, with the box's key) and
refuses while the cloud cannot say; then each gate goes on from the higher of the backup's and
the cloud's. The rules cache is marked for a snapshot at the next start.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

from gatepost.cli.edge import local_api
from shared.backup import BackupError, copy_sqlite, has_tables


def _daemon_running(cfg) -> bool:
    base, headers = local_api(cfg)
    try:
        httpx.get(f"{base}/api/health", headers=headers, timeout=2)
    except httpx.TransportError:
        return False
    return True


def _cloud_seqs(cfg, timeout: float) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {cfg.cloud.api_key}"} if cfg.cloud.api_key else {}
    r = httpx.get(f"{cfg.cloud.http_url.rstrip('/')}/api/v1/edges/{cfg.id}/sequences",
                  headers=headers, timeout=timeout)
    r.raise_for_status()
    return {k: int(v) for k, v in r.json()["gates"].items()}


def edge_restore(args: argparse.Namespace, cfg) -> int:
    """Restore, continue each gate's numbers past the cloud's, mark the rules for a snapshot;
    print what was done."""
    from edge.store.cache import RulesCache
    from edge.store.db import EdgeDB

    target = cfg.data_dir / "edge.sqlite"
    try:
        if _daemon_running(cfg):
            raise BackupError("the daemon is running: stop it first")
        if not Path(args.file).is_file() or not has_tables(Path(args.file), "events",
                                                          "gate_seq"):
            raise BackupError(f"{args.file} is not a backup of a box")
        if target.exists() and not args.force:
            raise BackupError(f"{target} exists: restore over it with --force")
    except BackupError as exc:
        print(f"gatepost edge restore: {exc}", file=sys.stderr)
        return 2
    try:
        cloud = _cloud_seqs(cfg, args.timeout)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        print(f"gatepost edge restore: the cloud must say where this box's event numbers are "
              f"before it is restored ({exc}); nothing was changed", file=sys.stderr)
        return 1
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    copy_sqlite(Path(args.file), target, overwrite=True)
    db = EdgeDB(target)  # brought to this release's schema on open
    try:
        with db.write() as c:
            for g in cfg.gates:
                c.execute("INSERT INTO gate_seq(gate, seq) VALUES (?, ?) ON CONFLICT(gate) DO "
                          "UPDATE SET seq = max(seq, excluded.seq)",
                          (g.id, cloud.get(f"{g.site}/{g.id}", 0)))
        seqs = {r[0]: int(r[1]) for r in db.conn.execute("SELECT gate, seq FROM gate_seq")}
        sites = RulesCache(db).request_resync()
    finally:
        db.close()
    print(json.dumps({"restored": str(target), "from": str(args.file), "continues": seqs,
                      "cloud": cloud, "resync": sites}))
    return 0
