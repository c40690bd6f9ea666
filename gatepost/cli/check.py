"""``gatepost edge check``: commissioning a box. Each part the config names is reached the way
the daemon reaches it, and each result is printed: the config, each gate's reader line and relay
board (its loop and limits read), the broker (with the box's credentials) and the cloud (its
health, and each site's rules with the box's key). Run it before starting the daemon, or with
the daemon stopped: a serial reader line has one reader at a time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from edge.adapters.reader import SerialReader
from edge.adapters.relay import ModbusBarrier, ModbusBus
from edge.config import EdgeConfig, GateConfig
from shared.contract import SNAPSHOT_NDJSON
from shared.mqtt_tls import broker_address, use_tls

Result = dict[str, Any]


def _result(check: str, target: str, ok: bool, detail: str, **more: Any) -> Result:
    return {"check": check, "target": target, "ok": ok, "detail": detail, **more}


def check_reader(gate: GateConfig, listen_s: float, timeout: float) -> Result:
    """Open the gate's reader line (within *timeout*) and listen for *listen_s*: frames read
    and rejected."""
    assert gate.reader is not None
    up = threading.Event()
    why: list[str] = []

    def on_state(is_up: bool, reason: str) -> None:
        if is_up:
            up.set()
        else:
            why.append(reason)

    reader = SerialReader(gate.id, gate.reader.url, baud=gate.reader.baud,
                          protocol=gate.reader.protocol, on_epc=lambda epc, ns: None,
                          on_state=on_state)
    reader.start()
    try:
        opened = up.wait(timeout)
        if opened:
            time.sleep(listen_s)  # listening is the check: frames in this window are counted
        stats = reader.stats()
    finally:
        reader.stop()
    if not opened:
        return _result("reader", gate.id, False, f"{gate.reader.url}: "
                       f"{why[-1] if why else 'did not open'}")
    rejected = sum(stats["rejected"].values())
    return _result("reader", gate.id, True, f"{gate.reader.url} open; {stats['frames']} frames "
                   f"in {listen_s:g} s, {rejected} rejected", frames=stats["frames"],
                   rejected=stats["rejected"])


def check_relay(gate: GateConfig) -> Result:
    """Read the board's inputs: the gate's loop and limits."""
    assert gate.relay is not None
    r = gate.relay
    bus = ModbusBus(r.url, timeout_s=r.timeout_ms / 1000, baudrate=r.baud)
    try:
        inputs = ModbusBarrier(bus, unit=r.unit, relay=r.relay, loop_input=r.loop_input,
                               open_input=r.open_input, closed_input=r.closed_input
                               ).read_inputs()
    finally:
        bus.close()
    if inputs is None:
        return _result("relay", gate.id, False, f"{r.url} unit {r.unit}: no answer")
    boom = "open" if inputs.open_limit else "closed" if inputs.closed_limit else "between"
    return _result("relay", gate.id, True, f"{r.url} unit {r.unit}: loop "
                   f"{'occupied' if inputs.loop else 'free'}, boom {boom}",
                   loop=inputs.loop, open_limit=inputs.open_limit,
                   closed_limit=inputs.closed_limit)


def check_broker(cfg: EdgeConfig, timeout: float) -> Result:
    """Connect to the broker with the box's credentials (and TLS, when configured)."""
    c = cfg.cloud
    host, port, _ = broker_address(c.mqtt_url)
    answer: list[Any] = []
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gatepost-check-{cfg.id}")

    def on_connect(cl, userdata, flags, reason_code, properties) -> None:
        answer.append(reason_code)
        done.set()

    client.on_connect = on_connect
    try:
        use_tls(client, c.mqtt_url, c.tls_ca, c.tls_cert, c.tls_key)
        if c.username:
            client.username_pw_set(c.username, c.password)
        client.connect(host, port, keepalive=10)
        client.loop_start()
        done.wait(timeout)
    except (OSError, ValueError) as exc:
        return _result("broker", c.mqtt_url, False, str(exc))
    finally:
        client.loop_stop()
        client.disconnect()
    if not answer:
        return _result("broker", c.mqtt_url, False, f"no answer in {timeout:g} s")
    code = answer[0]
    if code.is_failure:
        return _result("broker", c.mqtt_url, False, f"refused: {code}")
    return _result("broker", c.mqtt_url, True, f"connected as {c.username or 'anonymous'}")


def check_cloud(cfg: EdgeConfig, timeout: float) -> Iterator[Result]:
    """The cloud's health, then each site's rules with the box's key (the head of the
    snapshot only: its version and epoch)."""
    url = cfg.cloud.http_url.rstrip("/")
    try:
        health = httpx.get(f"{url}/api/v1/health", timeout=timeout)
        health.raise_for_status()
    except httpx.HTTPError as exc:
        yield _result("cloud", url, False, str(exc))
        return
    yield _result("cloud", url, True, "answering")
    headers = {"Accept": SNAPSHOT_NDJSON}
    if cfg.cloud.api_key:
        headers["Authorization"] = f"Bearer {cfg.cloud.api_key}"
    for site in cfg.sites:
        try:
            with httpx.stream("GET", f"{url}/api/v1/sites/{site}/rules", headers=headers,
                              timeout=timeout) as r:
                if r.status_code != 200:
                    r.read()
                    yield _result("rules", site, False, f"{r.status_code}: {r.text[:200]}")
                    continue
                head = json.loads(next(r.iter_lines()))
        except (httpx.HTTPError, StopIteration, ValueError) as exc:
            yield _result("rules", site, False, f"{exc!r}")
            continue
        yield _result("rules", site, True, f"v{head.get('version')} of epoch "
                      f"{head.get('epoch')}", version=head.get("version"))


def run_checks(cfg: EdgeConfig, listen_s: float = 2.0, timeout: float = 5.0,
               emit: Callable[[Result], None] = print) -> bool:
    """Every check, each result passed to *emit* as it comes; whether all passed."""
    results: list[Result] = []

    def out(res: Result) -> None:
        results.append(res)
        emit(res)

    out(_result("config", cfg.id, True, f"{len(cfg.gates)} gates, sites {', '.join(cfg.sites)}"))
    for gate in cfg.gates:
        if gate.reader is not None:
            out(check_reader(gate, listen_s, timeout))
        if gate.relay is not None:
            out(check_relay(gate))
    out(check_broker(cfg, timeout))
    for res in check_cloud(cfg, timeout):
        out(res)
    return all(r["ok"] for r in results)
