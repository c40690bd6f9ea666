"""The ``gatepost`` command line: daemons, simulator, scenarios, commissioning tools, benches."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gatepost.cli.bench import BENCHES, add_bench_parsers


def _setup_logging(args: argparse.Namespace) -> None:
    """INFO for the daemons (one line per state change), WARNING for the tools; ``-v`` DEBUG;
    ``$GATEPOST_LOG_LEVEL`` over all of them."""
    from shared.logs import setup_logging

    daemon = args.command in ("edge", "cloud") and getattr(args, f"{args.command}_cmd") == "run"
    default = "DEBUG" if args.verbose else "INFO" if daemon else "WARNING"
    setup_logging(os.environ.get("GATEPOST_LOG_LEVEL", default), args.log_format)


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's default in its help, unless it has none worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS, []) or \
                not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _every_parser(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [p]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _every_parser(child)
    return found


def _db_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="database: a SQLite file or postgresql://USER@HOST/DB "
                   "(default $GATEPOST_DB, else cloud.sqlite in the data dir)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gatepost")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The full argument tree (also used by the docs test)."""
    p = argparse.ArgumentParser(prog="gatepost", description="Edge gate controller with "
                                "cloud sync, hardware simulator and scenario runner.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"gatepost {_version()}")
    p.add_argument("--log-format", choices=["text", "json"],
                   default=os.environ.get("GATEPOST_LOG_FORMAT", "text"),
                   help="log lines as text or as JSON objects (for log shippers); "
                   "also $GATEPOST_LOG_FORMAT")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run broker, cloud, simulator and edge, then a scripted "
                          "day at a society gate")
    demo.add_argument("--scenario", type=Path, help="scenario to play (default: the demo day)")
    demo.add_argument("--exit", action="store_true", help="exit after the scenario instead of "
                      "serving until Ctrl-C")
    demo.add_argument("--workdir", type=Path, help="where state and logs go (default: a temp dir)")
    demo.add_argument("--panel-port", type=int, default=8081, help="edge panel port (0: any)")

    edge = sub.add_parser("edge", help="the edge daemon").add_subparsers(dest="edge_cmd",
                                                                          required=True)
    er = edge.add_parser("run", help="run the edge daemon in the foreground")
    er.add_argument("--config", type=Path, required=True, help="TOML config file")
    er.add_argument("--validate-config", action="store_true",
                    help="check the config, print each error with its key path, and exit")

    ag = edge.add_parser("add-guard", help="create a guard or supervisor account on this box")
    ag.add_argument("--config", type=Path, required=True, help="the edge's TOML config")
    ag.add_argument("--username", required=True, help="the account's name")
    ag.add_argument("--role", choices=["guard", "supervisor"], default="guard", help="role")
    ag.add_argument("--password-stdin", action="store_true",
                    help="read the password from standard input instead of prompting")

    ek = edge.add_parser("check", help="commissioning: reach each reader, relay board, the "
                         "broker and the cloud as the config says, and print each result")
    ek.add_argument("--config", type=Path, required=True, help="the edge's TOML config")
    ek.add_argument("--listen-s", type=float, default=2.0,
                    help="seconds to listen on each reader line")
    ek.add_argument("--timeout", type=float, default=5.0,
                    help="seconds to wait for the broker and the cloud")
    ek.add_argument("--json", action="store_true", help="one JSON object a line")

    eb = edge.add_parser("backup", help="copy this box's database to FILE while it runs "
                         "(SQLite's online backup)")
    eb.add_argument("file", type=Path, help="the backup file to write")
    eb.add_argument("--config", type=Path, required=True, help="the edge's TOML config")
    eb.add_argument("--force", action="store_true", help="overwrite FILE if it exists")

    et = edge.add_parser("restore", help="put a backup back on a stopped box; its event "
                         "numbers go on past the cloud's")
    et.add_argument("file", type=Path, help="the backup to restore")
    et.add_argument("--config", type=Path, required=True, help="the edge's TOML config")
    et.add_argument("--force", action="store_true", help="replace the box's database")
    et.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for the cloud")

    rs = edge.add_parser("resync", help="replace this box's rules cache with a snapshot from "
                         "the cloud, whatever the versions say")
    rs.add_argument("--config", type=Path, required=True, help="the edge's TOML config")
    rs.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for the new snapshot of every site")

    cloud = sub.add_parser("cloud", help="the cloud API").add_subparsers(dest="cloud_cmd",
                                                                         required=True)
    cr = cloud.add_parser("run", help="run the cloud API and its MQTT side", description=(
        "Each flag may also come from its GATEPOST_* environment variable (GATEPOST_DB, "
        "GATEPOST_WORKERS, …); secrets (GATEPOST_MQTT_PASSWORD, GATEPOST_PAYMENTS_SECRET, "
        "GATEPOST_ADMIN_KEY) only from the environment or systemd credentials."))
    cr.add_argument("--data-dir", type=Path, help="SQLite lives here (default var/cloud)")
    _db_flag(cr)
    cr.add_argument("--mqtt-url", help="broker URL (default mqtt://127.0.0.1:1883)")
    cr.add_argument("--no-mqtt", action="store_true", help="HTTP only")
    cr.add_argument("--host", help="bind address (default 127.0.0.1)")
    cr.add_argument("--port", type=int, help="HTTP port (default 8080)")
    cr.add_argument("--workers", type=int, help="processes serving HTTP and sharing the "
                    "event stream (default 1)")
    cr.add_argument("--clock-file", type=Path, help="simulation: shared virtual clock")
    cr.add_argument("--mqtt-user", help="broker user (password in $GATEPOST_MQTT_PASSWORD)")
    cr.add_argument("--mqtt-tls-ca", type=Path, help="broker CA (PEM): MQTT over TLS")
    cr.add_argument("--mqtt-tls-cert", type=Path, help="client certificate (PEM), with "
                    "--mqtt-tls-key, for a broker that requires one")
    cr.add_argument("--mqtt-tls-key", type=Path, help="the client certificate's key (PEM)")
    cr.add_argument("--jobs-every", type=float, dest="jobs_every_s",
                    help="seconds between subscription status runs (0: on demand only; "
                    "default 30)")
    cr.add_argument("--vehicle-registry-url", help="vehicle registry base URL: residents' "
                    "vehicles are looked up there (docs/providers.md)")
    cr.add_argument("--fastag-registry-url", help="FASTag registry base URL: a FITkit sticker "
                    "binds the EPC of the vehicle's FASTag found there (docs/providers.md)")
    cr.add_argument("--payments-url", help="payment provider base URL (secret in "
                    "$GATEPOST_PAYMENTS_SECRET)")
    cr.add_argument("--public-url", help="the cloud's own address, for provider callbacks "
                    "(default http://HOST:PORT)")
    cr.add_argument("--webhook-url", help="notifications are POSTed here")
    cr.add_argument("--smtp", help="HOST:PORT of the SMTP server for e-mail")
    cr.add_argument("--mail-from", help="sender of e-mail (default gatepost@localhost)")
    cp = cloud.add_parser("provision", help="broker users and ACL for the cloud and edge boxes")
    cp.add_argument("--out", type=Path, required=True, help="folder for passwd, acl, "
                    "credentials.json")
    cp.add_argument("--edge", action="append", required=True, metavar="EDGE:SITE[,SITE]",
                    help="an edge box and the sites it serves (repeat per box)")
    cp.add_argument("--cloud-user", default="gatepost-cloud", help="the cloud's broker user")
    cs = cloud.add_parser("add-staff", help="a staff member (or resident) and an API key")
    cs.add_argument("--data-dir", type=Path, default=Path("var/cloud"), help="the cloud's data")
    _db_flag(cs)
    cs.add_argument("--name", required=True, help="who the key belongs to")
    cs.add_argument("--roles", default="", help="comma-separated: view_parkings, "
                    "edit_parkings, manage_devices, admin")
    cs.add_argument("--resident", help="a resident's key: the owner name it acts for")
    ce = cloud.add_parser("add-edge", help="an edge box's API key for its sites' rules")
    ce.add_argument("--data-dir", type=Path, default=Path("var/cloud"), help="the cloud's data")
    _db_flag(ce)
    ce.add_argument("--edge", required=True, metavar="EDGE:SITE[,SITE]",
                    help="the box and the sites it serves (as for provision)")
    ce.add_argument("--gate", action="append", default=[], metavar="SITE/GATE",
                    help="a gate the box holds by name (repeat); a site none of whose gates "
                    "is named is served whole")
    ci = cloud.add_parser("import-tags", help="import a batch of stickers (CSV tag_id,secret,"
                          "epc,vehicle_type) mapped to a site: all or none")
    ci.add_argument("file", type=Path, help="the CSV file")
    ci.add_argument("--site", required=True, help="the society the stickers are mapped to")
    ci.add_argument("--batch", default="", help="a name for the batch (default: the time)")
    ci.add_argument("--data-dir", type=Path, default=Path("var/cloud"), help="the cloud's data")
    _db_flag(ci)
    cy = cloud.add_parser("copy", help="copy a cloud's data into a new, empty database")
    cy.add_argument("--from", dest="src", required=True, help="the database to read "
                    "(a SQLite file, sqlite:///PATH or postgresql://…)")
    cy.add_argument("--to", dest="dst", required=True, help="the empty database to fill")
    cm = cloud.add_parser("migrate", help="bring a cloud database's schema to this release")
    cm.add_argument("--data-dir", type=Path, default=Path("var/cloud"), help="the cloud's data")
    _db_flag(cm)
    cz = cloud.add_parser("rules-reset", help="start a new rules epoch: every box replaces its "
                          "rules from a snapshot")
    cz.add_argument("--data-dir", type=Path, default=Path("var/cloud"), help="the cloud's data")
    _db_flag(cz)
    cz.add_argument("--reason", default="operator", help="recorded with the new epoch")

    cb = cloud.add_parser("backup", help="copy a running cloud's SQLite database to FILE")
    cb.add_argument("file", type=Path, help="the backup file to write")
    cb.add_argument("--data-dir", type=Path, default=Path("var/cloud"), help="the cloud's data")
    _db_flag(cb)
    cb.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    ct = cloud.add_parser("restore", help="put a backup in place of a stopped cloud's SQLite "
                          "database and start a new rules epoch")
    ct.add_argument("file", type=Path, help="the backup to restore")
    ct.add_argument("--data-dir", type=Path, default=Path("var/cloud"), help="the cloud's data")
    _db_flag(ct)
    ct.add_argument("--force", action="store_true", help="replace the existing database")

    sim = sub.add_parser("sim", help="the hardware simulator").add_subparsers(dest="sim_cmd",
                                                                              required=True)
    sr = sim.add_parser("run", help="simulate readers, relay boards and booms")
    sr.add_argument("--gates", default="main-in,main-out", help="comma-separated gate ids")
    sr.add_argument("--control-port", type=int, default=7100, help="HTTP control API port")
    sr.add_argument("--rise-s", type=float, default=1.0, help="boom rise time, s")
    sr.add_argument("--rate-hz", type=float, default=20.0, help="scan frames per second per tag")

    sc = sub.add_parser("scenario", help="scenario files").add_subparsers(dest="sc_cmd",
                                                                          required=True)
    scr = sc.add_parser("run", help="run scenario files against the real stack")
    scr.add_argument("files", nargs="+", type=Path, help="YAML scenario files")
    scr.add_argument("--workdir", type=Path, help="keep state and logs here")

    hw = sub.add_parser("hw", help="commissioning tools for real hardware").add_subparsers(
        dest="hw_cmd", required=True)
    reader = hw.add_parser("reader", help="RFID reader tools").add_subparsers(
        dest="reader_cmd", required=True)
    rl = reader.add_parser("listen", help="print de-duplicated tag reads from a reader")
    rl.add_argument("--url", required=True, help="device path or pyserial URL "
                    "(socket://HOST:PORT)")
    rl.add_argument("--protocol", default="uhf18", choices=["uhf18"], help="reader protocol")
    rl.add_argument("--baud", type=int, default=57600, help="baud rate")
    rl.add_argument("--count", type=int, help="stop after N de-duplicated reads")
    rl.add_argument("--hold", type=float, default=5.0, help="de-dup hold time, s")
    rl.add_argument("--json", action="store_true", help="one JSON object per line")
    rl.add_argument("--timeout", type=float, help="give up after this many seconds")
    relay = hw.add_parser("relay", help="relay board tools").add_subparsers(
        dest="relay_cmd", required=True)
    rp = relay.add_parser("pulse", help="flash-on one relay of a Modbus relay board")
    rp.add_argument("--url", required=True, help="tcp://HOST:PORT or a serial device (RTU)")
    rp.add_argument("--unit", type=int, default=1, help="Modbus unit id")
    rp.add_argument("--relay", type=int, required=True, help="relay 1–8")
    rp.add_argument("--ms", type=int, required=True, help="pulse length, ms (100 ms steps)")
    rp.add_argument("--baud", type=int, default=9600, help="RTU baud rate")

    add_bench_parsers(sub)
    for parser in _every_parser(p):
        parser.formatter_class = _HelpFormatter
    return p




def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    _setup_logging(args)
    cmd = args.command
    if cmd == "edge":
        return _edge(args)
    if cmd == "cloud":
        from gatepost.cli.cloud import cloud_command

        return cloud_command(args)
    if cmd == "sim":
        from gatepost.cli.devices import sim_run

        return sim_run(args)
    if cmd == "scenario":
        from gatepost.scenario.runner import run_files

        return run_files(args.files, args.workdir)
    if cmd == "hw":
        from gatepost.cli import devices

        return devices.reader_listen(args) if args.hw_cmd == "reader" else devices.relay_pulse(args)
    if cmd == "bench":  # imported on demand: each bench pulls in what it drives
        module, func = BENCHES[args.bench_cmd]
        run: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), func)
        return run(args)
    if cmd == "demo":
        from gatepost.cli.demo import run_demo

        return run_demo(args)
    return 2


def _edge(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from edge import config as edge_config

    try:
        cfg = edge_config.load(args.config)
    except FileNotFoundError:
        print(f"{args.config}: no such file", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"{args.config}: invalid configuration", file=sys.stderr)
        for line in edge_config.explain(exc):
            print(f"  {line}", file=sys.stderr)
        return 2
    except ValueError as exc:  # TOML syntax
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 2
    if args.edge_cmd in ("add-guard", "resync", "backup", "check", "restore"):
        from gatepost.cli import edge as edge_commands
        from gatepost.cli.restore import edge_restore

        command = {"add-guard": edge_commands.add_guard, "resync": edge_commands.resync,
                   "backup": edge_commands.backup, "check": edge_commands.check,
                   "restore": edge_restore}[args.edge_cmd]
        return command(args, cfg)
    if args.validate_config:
        print(f"{args.config}: OK ({len(cfg.gates)} gates, sites {', '.join(cfg.sites)})")
        return 0
    from edge.daemon.service import run

    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
