"""Commissioning tools for installers, and the standalone simulator command."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime

from edge.adapters.reader import SerialReader
from edge.adapters.relay import ModbusBus
from edge.drivers import uhf18
from edge.drivers.waveshare import RawWriteCoil, flash_on, pulse_units


def serve_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM (for commands that keep serving)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass


def reader_listen(args: argparse.Namespace) -> int:
    """Print de-duplicated tag reads (and rejected frames) until --count or Ctrl-C."""
    seen: dict[str, float] = {}
    done = threading.Event()
    printed = 0
    lock = threading.Lock()

    def emit(obj: dict, text: str) -> None:
        print(json.dumps(obj) if args.json else text, flush=True)

    def on_epc(epc: str, ns: int) -> None:
        nonlocal printed
        now = time.monotonic()
        with lock:
            last = seen.get(epc)
            seen[epc] = now
            if (last is not None and now - last < args.hold) or done.is_set():
                return
            printed += 1
            at = datetime.now(UTC).isoformat()
            emit({"type": "read", "epc": epc, "at": at, "n": printed}, f"{at}  {epc}")
            if args.count and printed >= args.count:
                done.set()

    def on_reject(rej: uhf18.Rejected) -> None:
        emit({"type": "rejected", "reason": rej.reason, "bytes": rej.raw.hex()},
             f"rejected {rej.reason}: {rej.raw.hex(' ')}")

    last_error = {"why": ""}

    def on_state(up: bool, why: str) -> None:
        if not up:
            last_error["why"] = why
            print(f"reader line down: {why}", file=sys.stderr, flush=True)

    reader = SerialReader("listen", args.url, baud=args.baud, protocol=args.protocol,
                          on_epc=on_epc, on_reject=on_reject, on_state=on_state)
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    reader.start()
    try:
        finished = done.wait(args.timeout) if args.timeout else done.wait()
    except KeyboardInterrupt:
        finished = True
    reader.stop()
    if finished:
        return 0
    # Whether any frame came at all decides the message, not the connection flag, which
    # stop() has just cleared.
    if not reader.frames:
        why = (f"the reader at {args.url} never answered in {args.timeout:g} s"
               + (f": {last_error['why']}" if last_error["why"] else
                  " (the line opened but no frame came: check baud, wiring and work mode)"))
    else:
        why = (f"timed out after {args.timeout:g} s with {printed} of {args.count or 'any'} "
               f"reads ({reader.frames} frames, {sum(reader.rejected.values())} rejected)")
    emit({"type": "stopped", "ok": False, "reason": why}, f"stopped: {why}")
    if args.json:
        print(f"stopped: {why}", file=sys.stderr, flush=True)
    return 1


def relay_pulse(args: argparse.Namespace) -> int:
    """Flash-on one relay and report whether the board acknowledged it."""
    bus = ModbusBus(args.url, baudrate=args.baud)
    try:
        req = flash_on(args.relay, args.ms, args.unit)
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 2
    t0 = time.perf_counter()
    reply = bus.call("flash-on", lambda c: c.execute(False, req))
    rtt = (time.perf_counter() - t0) * 1000
    ok = isinstance(reply, RawWriteCoil) and reply.value == req.value
    out = {"ok": ok, "url": args.url, "unit": args.unit, "relay": args.relay, "ms": args.ms,
           "units_100ms": pulse_units(args.ms), "rtt_ms": round(rtt, 3)}
    if not ok:
        out["error"] = f"no acknowledgement from unit {args.unit} at {args.url}"
    print(json.dumps(out))
    bus.close()
    return 0 if ok else 1


def sim_run(args: argparse.Namespace) -> int:
    """Run the simulator with its control API until Ctrl-C or SIGTERM."""
    from hardware_sim.barrier import BarrierTiming
    from hardware_sim.control import create_app
    from hardware_sim.world import SimWorld
    from shared.webthread import WebThread

    gates = [g.strip() for g in args.gates.split(",") if g.strip()]
    world = SimWorld(gates, timing=BarrierTiming(rise_s=args.rise_s, fall_s=args.rise_s),
                     reader_rate_hz=args.rate_hz)
    world.start()
    web = WebThread(create_app(world), "127.0.0.1", args.control_port)
    web.start()
    print(json.dumps({"control": web.url, "gates": {g: world.edge_wiring(g) for g in gates}},
                     indent=2), flush=True)
    serve_until_stopped()
    web.stop()
    world.stop()
    return 0
