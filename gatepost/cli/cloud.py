"""The ``gatepost cloud …`` commands: run, migrate, copy, rules-reset, backup, restore,
import-tags, provision, add-staff, add-edge."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any


def cloud_command(args: argparse.Namespace) -> int:
    """Run the ``gatepost cloud`` subcommand the arguments name."""
    if args.cloud_cmd == "provision":
        return _provision(args)
    if args.cloud_cmd in ("add-staff", "add-edge"):
        return _add_staff(args)
    if args.cloud_cmd == "import-tags":
        return _import_tags(args)
    if args.cloud_cmd == "copy":
        from cloud.service import copy

        return copy(args.src, args.dst)
    if args.cloud_cmd == "migrate":
        from cloud.service import migrate

        return migrate(args.db or _cloud_db(args))
    if args.cloud_cmd in ("backup", "restore"):
        from cloud import backups

        db = args.db or _cloud_db(args)
        return backups.backup(db, args.file, args.force) if args.cloud_cmd == "backup" else \
            backups.restore(args.file, db, args.force)
    if args.cloud_cmd == "rules-reset":
        from cloud.service import rules_reset

        return rules_reset(args.db or _cloud_db(args), args.reason)
    return _cloud_run(args)


def _cloud_db(args: argparse.Namespace) -> str:
    from cloud.storage import default_db

    if not os.environ.get("GATEPOST_DB"):
        args.data_dir.mkdir(parents=True, exist_ok=True)
    return default_db(args.data_dir)


RUN_FLAGS = ("data_dir", "db", "mqtt_url", "host", "port", "workers", "clock_file", "mqtt_user",
             "mqtt_tls_ca", "mqtt_tls_cert", "mqtt_tls_key", "jobs_every_s", "payments_url",
             "vehicle_registry_url", "fastag_registry_url", "public_url", "webhook_url", "smtp",
             "mail_from")


def _cloud_run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cloud.service import run
    from cloud.settings import CloudSettings

    given: dict[str, Any] = {k: getattr(args, k) for k in RUN_FLAGS
                             if getattr(args, k) is not None}
    if args.no_mqtt:
        given["mqtt_url"] = None
    try:
        settings = CloudSettings(**given)
    except ValidationError as exc:
        for err in exc.errors():
            print(f"gatepost cloud run: {'.'.join(map(str, err['loc']))}: {err['msg']}",
                  file=sys.stderr)
        return 2
    return run(settings)


def _import_tags(args: argparse.Namespace) -> int:
    """Import a sticker batch straight into the database; the boxes take the new (inactive)
    tags with the site's next rules change or snapshot."""

    from cloud.society.inventory import Inventory
    from cloud.society.rules import RulesService
    from shared.clock import SystemClock

    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        print(f"gatepost cloud import-tags: {exc}", file=sys.stderr)
        return 2

    def run(db):
        clock = SystemClock()
        ledger = RulesService(db, clock).ledger  # (and the epoch of a new database drawn)
        return Inventory(db, clock, ledger).import_stickers(args.site, text, args.batch)

    return _on_db(args, run)


def _on_db(args: argparse.Namespace, what: Callable[[Any], Any]) -> int:
    """Print what *what* makes of the cloud's database as JSON; a refusal is exit 2."""
    import json

    from cloud.errors import CloudError
    from cloud.storage import Database

    db = Database(args.db or _cloud_db(args))
    try:
        print(json.dumps(what(db)))
    except CloudError as exc:
        print(f"gatepost cloud {args.cloud_cmd}: {exc.reason}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        db.close()
    return 0


def _provision(args: argparse.Namespace) -> int:
    import json

    from cloud.society.provision import EdgeGrant, provision

    try:
        grants = [EdgeGrant.parse(e) for e in args.edge]
    except ValueError as exc:
        print(f"gatepost cloud provision: {exc}", file=sys.stderr)
        return 2
    done = provision(args.out, grants, args.cloud_user)
    print(json.dumps({"password_file": str(done.password_file), "acl_file": str(done.acl_file),
                      "credentials": str(done.credentials_file),
                      "users": sorted(done.passwords)}, indent=2))
    return 0


def _add_staff(args: argparse.Namespace) -> int:
    from cloud.api.fleet import provision_edge
    from cloud.fleet import Fleet, GateRef
    from cloud.society.provision import EdgeGrant
    from cloud.staff import Staff
    from cloud.storage import Database
    from shared.clock import SystemClock

    edge = None
    gates: list[GateRef] = []
    if args.cloud_cmd == "add-edge":
        try:
            edge = EdgeGrant.parse(args.edge)
            gates = [GateRef.parse(g) for g in args.gate]
        except ValueError as exc:
            print(f"gatepost cloud add-edge: {exc}", file=sys.stderr)
            return 2

    def make(db: Database) -> Any:
        clock = SystemClock()
        staff = Staff(db, clock)
        if edge is not None:
            return provision_edge(Fleet(db, clock), staff, edge.edge, list(edge.sites), gates)
        return staff.add(args.name, [r for r in args.roles.split(",") if r], args.resident)

    return _on_db(args, make)
