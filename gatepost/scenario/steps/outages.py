"""The steps that break and mend the system: ``link`` (the box's network to the cloud),
``broker`` (Mosquitto), ``edge`` (the daemon killed, stopped, started, restarted) and
``reader`` (a reader's line down or up, or its faults)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Literal

from gatepost.devstack.stack import wait_until
from gatepost.scenario.base import ScenarioError
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step
from gatepost.scenario.sync import caught_up
from hardware_sim.reader import ReaderFaults


@step("link", Literal["down", "up"])
def link(run: Run, state: str, expect: dict[str, Any] | None) -> dict[str, Any]:
    """Cut or restore the box's links to the cloud (MQTT and HTTP)."""
    st = run.stack
    assert st.mqtt_link and st.http_link
    for lk in (st.mqtt_link, st.http_link):
        lk.down() if state == "down" else lk.up()
    if state == "up" and run.edge_running:
        wait_until(lambda: st.edge_health()["cloud_connected"], 10, what="the edge to reconnect")
        return {"action": "link", "link": state, "errors": caught_up(run)}
    return {"action": "link", "link": state}


@step("broker", Literal["down", "up"])
def broker(run: Run, state: str, expect: dict[str, Any] | None) -> dict[str, Any]:
    """Stop or start the broker."""
    st = run.stack
    if state == "down":
        st.broker.stop()
        return {"action": "broker", "broker": state}
    st.broker.start()
    if run.edge_running:
        wait_until(lambda: st.edge_health()["cloud_connected"], 15,
                   what="the edge to reconnect")
    wait_until(lambda: st.cloud.get("/api/v1/health").json()["mqtt_connected"],
               15, what="the cloud to reconnect")
    return {"action": "broker", "broker": "up", "errors": caught_up(run)}


@step("edge", Literal["kill", "start", "stop", "restart"])
def edge(run: Run, what: str, expect: dict[str, Any] | None) -> dict[str, Any]:
    """Kill, stop, start or restart the edge daemon."""
    st = run.stack
    got: dict[str, Any] = {"action": "edge", "edge": what}
    if what in ("kill", "stop", "restart"):
        # The panel keeps its sessions in memory: a guard signs in again to the next one.
        for client in run.guard_clients.values():
            client.close()
        run.guard_clients.clear()
    if what in ("kill",):
        st.kill_edge()
        run.edge_running = False
    if what in ("stop", "restart"):
        got["exit_code"] = st.stop_edge()
        run.edge_running = False
    if what in ("start", "restart"):
        st.start_edge()
        run.edge_running = True
        for site in run.sites:
            v = st.cloud.get(f"/api/v1/sites/{site}/rules").json()["version"]
            if st.mqtt_link and st.mqtt_link.is_up:
                st.wait_edge_version(site, v, 10)
    errors = [f"edge exited with {got['exit_code']}"] if got.get("exit_code") else []
    return {**got, "errors": errors}


def _reader_keys(spec: dict[str, Any]) -> None:
    if "gate" not in spec or not set(spec) <= {"gate", "line", "faults"}:
        raise ValueError("reader: {gate, line: down|up} or {gate, faults: {...}}")


@step("reader", dict[str, Any], check=_reader_keys)
def reader(run: Run, spec: dict[str, Any], expect: dict[str, Any] | None) -> dict[str, Any]:
    """A gate's reader line down or up, or faults set on it."""
    g = run.stack.world.gates[spec["gate"]]
    if spec.get("line") == "down":
        g.reader.line_down()
    elif spec.get("line") == "up":
        g.reader.line_up()
    for k, v in (spec.get("faults") or {}).items():
        if k not in {f.name for f in fields(ReaderFaults)}:
            raise ScenarioError(f"unknown reader fault {k!r}")
        setattr(g.reader.faults, k, v)
    return {"action": "reader", **spec}
