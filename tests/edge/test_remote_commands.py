"""Signed commands as a box receives them on the real broker: whatever arrives gets an answer,
and only a well-formed, fresh, signed command opens."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from cloud.society.provision import CLOUD_USER
from gatepost.devstack.stack import GateSpec, StackOptions, wait_until
from shared.commands import make_open, sign
from shared.contract import Topics

pytestmark = pytest.mark.stack
SITE = "green-acres"
EDGE = "edge-1"
EPC = "E2801160600002040000AB01"


@pytest.mark.timeout(120)
def test_a_command_with_naive_times_is_answered_with_a_refusal(make_stack):
    stack = make_stack([GateSpec("main-in", SITE, "entry")], StackOptions(edge_id=EDGE))
    answers: dict[str, dict] = {}
    lock = threading.Lock()

    def on_message(client, userdata, msg) -> None:
        body = json.loads(msg.payload)
        with lock:
            answers[body["transaction"]] = body

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cloud-probe")
    c.username_pw_set(CLOUD_USER, stack.auth.passwords[CLOUD_USER])
    c.on_message = on_message
    try:
        stack.site_with_tag(SITE, EPC)
        v = stack.cloud.post(f"/api/v1/sites/{SITE}/gates", json={
            "id": "main-in", "direction": "entry"}).json()["rules_version"]
        stack.wait_edge_version(SITE, v, 15)
        key = next(g["command_key"] for g in stack.cloud.get(
            f"/api/v1/sites/{SITE}/rules").json()["gates"] if g["id"] == "main-in")
        c.connect("127.0.0.1", stack.broker.port)
        c.subscribe(Topics.edge_responses(EDGE), qos=1)
        c.loop_start()
        now = datetime.now()  # naive: no zone, as a careless integrator would send
        body = {"type": "command", "action": "open", "id": str(uuid.uuid4()), "site": SITE,
                "gate": "main-in", "vrn": None, "by": "probe", "issued_at": now.isoformat(),
                "expires_at": (now + timedelta(seconds=15)).isoformat()}
        naive = {**body, "sig": sign(body, key)}
        c.publish(Topics.edge_commands(EDGE), json.dumps(naive), qos=1).wait_for_publish(5)
        wait_until(lambda: naive["id"] in answers, 10, what="an answer to the naive command")
        assert answers[naive["id"]]["status"] == "error"
        assert answers[naive["id"]]["error"] == "malformed"
        assert answers[naive["id"]]["data"]["reason"] == "command_rejected"
        # A command whose fields do not fit is refused unread, and answered all the same.
        odd = {**body, "id": str(uuid.uuid4()), "by": None}
        c.publish(Topics.edge_commands(EDGE), json.dumps(odd), qos=1).wait_for_publish(5)
        wait_until(lambda: odd["id"] in answers, 10, what="an answer to the odd command")
        assert answers[odd["id"]]["status"] == "error"
        assert answers[odd["id"]]["error"] == "malformed"
        assert answers[odd["id"]]["data"]["reason"] == "command_rejected"
        # The lane goes on: a proper command right after is taken.
        good = make_open(SITE, "main-in", key, datetime.now().astimezone(), by="probe")
        c.publish(Topics.edge_commands(EDGE), json.dumps(good), qos=1).wait_for_publish(5)
        wait_until(lambda: good["id"] in answers, 10, what="an answer to the good command")
        assert answers[good["id"]]["status"] == "ok"
        assert answers[good["id"]]["data"]["reason"] == "remote_open"
    finally:
        c.loop_stop()
        c.disconnect()
