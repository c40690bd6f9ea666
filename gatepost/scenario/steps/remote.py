"""The ``remote_open`` scenario step: an honest open through the cloud API, or a tampered
command published straight to the broker with the cloud's own credentials (the strongest
position an attacker could hold short of the gate's key)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, Literal

import httpx
import paho.mqtt.client as mqtt
from pydantic import Field

from cloud.society.provision import CLOUD_USER
from gatepost.devstack.stack import wait_until
from gatepost.scenario.base import Model, check
from gatepost.scenario.context import Run
from gatepost.scenario.registry import step
from shared.clock import FileClock
from shared.commands import make_open, new_key
from shared.contract import Topics


class RemoteOpenStep(Model):
    gate: str
    vehicle: str | None = None
    tamper: Literal["none", "unsigned", "bad_signature", "expired", "replayed",
                    "retained"] = "none"
    resident: str | None = Field(None, description="ask with this resident's own API key (the "
                                 "owner or a user of the subscription) instead of staff's")


class RemoteExpect(Model):
    decision: Literal["open", "deny", "none"] | None = None
    reason: str | None = None
    cause: str | None = None
    barrier_opened: bool | None = None
    status: int | None = None


def _publish(run: Run, payload: bytes, retain: bool = False) -> None:
    st = run.stack
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="scenario-attacker")
    c.username_pw_set(CLOUD_USER, st.auth.passwords[CLOUD_USER])
    c.connect("127.0.0.1", st.broker.port)
    c.loop_start()
    try:
        c.publish(Topics.edge_commands(st.opt.edge_id), payload, qos=1,
                  retain=retain).wait_for_publish(5)
    finally:
        c.loop_stop()
        c.disconnect()


def _decision(run: Run, cursor: int, command_id: str, reason: str | None) -> dict | None:
    return run.await_event(cursor, lambda e: e["type"] == "decision"
                      and e["credential"]["kind"] == "command"
                      and e["credential"]["value"] == command_id
                      and (reason is None or e["reason"] == reason), 5)


def _as_resident(run: Run, resident: str) -> httpx.Client:
    """A client holding *resident*'s own API key, made by the admin on first use."""
    st = run.stack
    keys = run.resident_keys
    if resident not in keys:
        r = st.cloud.post("/api/v1/staff", json={"name": resident, "roles": [],
                                                 "resident": resident})
        r.raise_for_status()
        keys[resident] = r.json()["key"]
    return httpx.Client(base_url=st.cloud.base_url, timeout=30,
                        headers={"X-Api-Key": keys[resident]})


def remote_open(run: Run, spec: RemoteOpenStep) -> dict[str, Any]:
    """Play one remote open and report what the gate did with it."""
    st = run.stack
    site = run.site_of_gate[spec.gate]
    cursor = st.edge_last_event()
    out: dict[str, Any] = {"gate": spec.gate, "tamper": spec.tamper}
    if spec.tamper == "none":
        client = _as_resident(run, spec.resident) if spec.resident else st.cloud
        try:
            r = client.post(f"/api/v1/sites/{site}/gates/{spec.gate}/open",
                            json={"vrn": spec.vehicle, "by": "scenario"})
        finally:
            if client is not st.cloud:
                client.close()
        body = r.json()
        out["status"] = r.status_code
        if r.status_code != 200:
            detail = body.get("detail") if isinstance(body.get("detail"), dict) else {}
            return {**out, "decision": "none", "reason": detail.get("reason"),
                    "cause": detail.get("message"), "barrier_opened": False}
        cid, want = body["command"], None
    else:
        gates = st.cloud.get(f"/api/v1/sites/{site}/rules").json()["gates"]
        key = next(g["command_key"] for g in gates if g["id"] == spec.gate)
        now = FileClock(st.clock_file).now()
        cmd = make_open(site, spec.gate, key, now, vrn=spec.vehicle, by="scenario")
        if spec.tamper == "unsigned":
            cmd.pop("sig")
        elif spec.tamper == "bad_signature":
            cmd = {**make_open(site, spec.gate, new_key(), now, vrn=spec.vehicle), "id": cmd["id"]}
        elif spec.tamper == "expired":
            cmd = make_open(site, spec.gate, key, now - timedelta(seconds=60), vrn=spec.vehicle)
        cid, want = cmd["id"], "command_rejected"
        payload = json.dumps(cmd).encode()
        if spec.tamper == "retained":
            # Retained messages reach a box only when it (re)subscribes: cut its link, leave the
            # command retained on the broker, and let the box come back to it.
            assert st.mqtt_link is not None
            st.mqtt_link.down()
            _publish(run, payload, retain=True)
            st.mqtt_link.up()
            wait_until(lambda: st.edge_health()["cloud_connected"], 10, what="reconnect")
        else:
            _publish(run, payload)
            if spec.tamper == "replayed":
                first = _decision(run, cursor, cid, None)
                out["first"] = first["reason"] if first else None
                _publish(run, payload)
    d = _decision(run, cursor, cid, want)
    if spec.tamper == "retained":
        _publish(run, b"", retain=True)  # clear it from the broker
    if d is None:
        return {**out, "decision": "none", "reason": None, "cause": None,
                "barrier_opened": False}
    opened = d["outcome"] == "open" and run.await_event(
        cursor, lambda e: e["type"] == "open" and e.get("decision") == d["event_id"]
        and e.get("ok"), 3) is not None
    cause = d["detail"] if d["reason"] == "command_rejected" else None
    return {**out, "decision": d["outcome"], "reason": d["reason"], "cause": cause,
            "barrier_opened": opened}


@step("remote_open", RemoteOpenStep, expect=RemoteExpect)
def remote_open_step(run: Run, spec: RemoteOpenStep, expect: dict[str, Any] | None
                     ) -> dict[str, Any]:
    """An open through the cloud API, or a tampered command at the broker; what the gate did."""
    got = remote_open(run, spec)
    return {"action": "remote_open", **got, "errors": check(expect, got)}
