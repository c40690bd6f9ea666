"""The ``gatepost edge …`` commands that act on a box's data or devices: add-guard, resync,
backup, check."""

from __future__ import annotations

import argparse
import json
import sys
import time

import httpx


def add_guard(args: argparse.Namespace, cfg) -> int:
    import getpass

    from edge.store.accounts import Accounts
    from edge.store.db import EdgeDB
    from shared.clock import clock_from

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = EdgeDB(cfg.data_dir / "edge.sqlite")
    try:
        Accounts(db, clock_from(cfg.clock_file)).add(args.username, args.role, password)
    except ValueError as exc:
        print(f"gatepost edge add-guard: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(f"{args.role} {args.username} added to {cfg.id}")
    return 0


def local_api(cfg) -> tuple[str, dict[str, str]]:
    """The box's local API as this machine reaches it, and the headers it wants."""
    host = cfg.api.host if cfg.api.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    headers = {"Authorization": f"Bearer {cfg.api.token}"} if cfg.api.token else {}
    return f"http://{host}:{cfg.api.port}", headers


def resync(args: argparse.Namespace, cfg) -> int:
    """Ask the running daemon for a snapshot of every site and wait until each is replaced;
    with the daemon stopped, mark the cache so its next start takes one."""
    from edge.store.cache import RulesCache
    from edge.store.db import EdgeDB

    base, headers = local_api(cfg)
    try:
        before = httpx.get(f"{base}/api/health", headers=headers, timeout=5).json()
        r = httpx.post(f"{base}/api/rules/resync", headers=headers, timeout=5)
    except httpx.TransportError:
        db = EdgeDB(cfg.data_dir / "edge.sqlite")
        try:
            sites = RulesCache(db).request_resync()
        finally:
            db.close()
        print(json.dumps({"daemon": "stopped", "marked": sites,
                          "note": "the next start takes a snapshot of these sites"}))
        return 0
    if r.status_code != 200:
        print(f"gatepost edge resync: {r.status_code} {r.text}", file=sys.stderr)
        return 2
    sites = r.json()["resync"]
    start = before.get("counters", {}).get("snapshots", 0)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        h = httpx.get(f"{base}/api/health", headers=headers, timeout=5).json()
        if h.get("counters", {}).get("snapshots", 0) >= start + len(sites):
            print(json.dumps({"daemon": "running", "resynced": sites, "rules": h["rules"],
                              "epochs": h.get("rules_epochs", {})}))
            return 0
        time.sleep(0.2)
    print(f"gatepost edge resync: no snapshot within {args.timeout:g} s (is the cloud "
          "reachable?); the box keeps trying", file=sys.stderr)
    return 1


def backup(args: argparse.Namespace, cfg) -> int:
    """``gatepost edge backup FILE``: the box's database (rules cache, event log, accounts),
    copied while the daemon runs. Evidence photos are files beside it (``evidence/``)."""
    from shared.backup import BackupError, copy_sqlite

    try:
        got = copy_sqlite(cfg.data_dir / "edge.sqlite", args.file, overwrite=args.force)
    except BackupError as exc:
        print(f"gatepost edge backup: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"backup": got["file"], "edge": cfg.id, "bytes": got["bytes"],
                      "seconds": got["s"]}))
    return 0


def check(args: argparse.Namespace, cfg) -> int:
    """``gatepost edge check``: each part of the box reached and its result printed; exit 1
    if any failed."""
    from gatepost.cli.check import Result, run_checks

    def emit(res: Result) -> None:
        if args.json:
            print(json.dumps(res), flush=True)
        else:
            print(f"{'ok  ' if res['ok'] else 'FAIL'}  {res['check']:<7} {res['target']:<16} "
                  f"{res['detail']}", flush=True)

    return 0 if run_checks(cfg, args.listen_s, args.timeout, emit) else 1
