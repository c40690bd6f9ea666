"""Notifications over a real webhook receiver and a real SMTP server (aiosmtpd): expiry warnings
at the seed's lead times, barrier failures to staff (e-mail at most once per 15 minutes per
parking), nothing lost while a channel is down, nothing sent twice, every webhook call signed
(Standard Webhooks) over the bytes it sends."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request, Response
from pydantic import ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from cloud.app import create_app
from cloud.notify import warning_lead
from cloud.settings import CloudSettings
from shared.clock import FileClock
from shared.contract import Event
from shared.vocab import EventType
from shared.webthread import WebThread
from tests.factories import ADMIN, CAR, T0, Api, P, activate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """An SMTP handler that keeps what it receives."""

    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(envelope)
        return "250 OK"


HOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Hook:
    """A webhook receiver that can be switched off (answers 503); it checks each call's
    signature over the bytes received, as a receiver would, with the Standard Webhooks
    library itself."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.signed: list[bool] = []
        self.ids: list[str] = []
        self.up = True
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            if not self.up:
                return Response(status_code=503)
            raw = await request.body()
            try:
                Webhook(HOOK_SECRET).verify(raw, dict(request.headers))
                self.signed.append(True)
            except WebhookVerificationError:
                self.signed.append(False)
            self.got.append(await request.json())
            self.keys.append(request.headers.get("idempotency-key", ""))
            self.ids.append(request.headers.get("webhook-id", ""))
            return Response(status_code=204)

        self.web = WebThread(app, "127.0.0.1", 0)


@pytest.fixture
def world(tmp_path, cloud_db):
    clock_file = tmp_path / "clock.json"
    FileClock.set_time(clock_file, T0)
    inbox, hook = Inbox(), Hook()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    hook.web.start()
    app = create_app(CloudSettings(db=cloud_db, mqtt_url=None, jobs_every_s=0,
                                   webhook_url=f"{hook.web.url}/hook",
                                   webhook_secret=HOOK_SECRET,
                                   smtp=f"127.0.0.1:{smtp.port}",
                                   mail_from="gate@green-acres.test", admin_key=ADMIN),
                     FileClock(clock_file))
    web = WebThread(app, "127.0.0.1", 0)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})
    api = Api(c, clock_file)
    api.app = app
    api.ok("POST", "/api/v1/sites", 201, json={"id": "green-acres"})
    for g, d in (("p-in", "entry"), ("p-out", "exit")):
        api.ok("POST", "/api/v1/sites/green-acres/gates", 201, json={"id": g, "direction": d})
    api.ok("POST", "/api/v1/sites/green-acres/parkings", 201, json={
        "id": "tower-b", "name": "Tower B", "staff_email": "staff@green-acres.test"})
    api.ok("POST", f"{P}/spaces", 201, json={"numbers": "1..3", "size": "small"})
    for unit, upper in (("daily", 30), ("hourly", 48)):
        api.ok("POST", f"{P}/tariffs", 201, json={"size": "small", "unit": unit, "lower": 1,
                                                   "upper": upper, "price": 10})
    activate(api)
    yield api, hook, inbox, smtp
    c.close()
    web.stop()
    hook.web.stop()
    if smtp.loop.is_running():
        smtp.stop()


def deliver(api: Api) -> dict:
    return api.ok("POST", "/api/v1/jobs/notifications")


@pytest.mark.parametrize(("units", "unit", "lead"), [
    (1, "hourly", timedelta(minutes=15)), (3, "hourly", timedelta(minutes=15)),
    (4, "hourly", timedelta(hours=1)), (30, "hourly", timedelta(hours=1)),
    (1, "daily", timedelta(hours=1))])
def test_warning_lead_times(units, unit, lead):
    assert warning_lead(units, unit) == lead


def test_expiry_warning_once_at_fifteen_minutes_for_a_short_rent(world):
    api, hook, _, _ = world
    s = api.ok("POST", f"{P}/subscriptions", 201, json={
        "space": 1, "owner": "B-402", "vehicles": [CAR], "unit": "hourly", "amount": 20})
    api.advance(hours=1, minutes=44)  # 16 minutes before the end
    assert deliver(api)["sent"] == 0 and hook.got == []
    api.advance(minutes=2)
    deliver(api)
    deliver(api)  # again: nothing new
    assert [(m["kind"], m["subscription"]) for m in hook.got] == [("expiry_warning", s["id"])]


def test_a_down_channel_loses_nothing_and_nothing_is_sent_twice(world):
    api, hook, _, _ = world
    api.ok("POST", f"{P}/subscriptions", 201, json={
        "space": 1, "owner": "B-402", "vehicles": [CAR], "unit": "hourly", "amount": 50})
    hook.up = False
    api.advance(hours=4, minutes=10)  # 50 minutes left of 5 hours: within the hour
    out = deliver(api)
    assert out["failed"] == 1 and out["pending"] == 1
    hook.up = True
    assert deliver(api)["sent"] == 1
    assert deliver(api) == {"queued": 0, "sent": 0, "failed": 0, "pending": 0}
    assert len(hook.got) == 1 and hook.keys[0].startswith("expiry:")


def test_every_webhook_call_is_signed_over_the_bytes_sent(world):
    """The receiver verifies each call with the operator's secret; a retry is the same
    message (the same ``webhook-id``)."""
    api, hook, _, _ = world
    hook.up = False
    _failed(api, "p-in", T0, 1)
    assert deliver(api)["failed"] >= 1
    hook.up = True
    assert deliver(api)["sent"] >= 1
    assert hook.signed == [True] and hook.ids == hook.keys
    assert hook.ids[0].startswith("barrier_failed:")


def test_a_webhook_without_a_secret_is_refused_at_start(tmp_path):
    with pytest.raises(ValidationError, match="webhook_secret"):
        CloudSettings(db=str(tmp_path / "c.sqlite"), mqtt_url=None,
                      webhook_url="http://127.0.0.1:9/hook")


def test_the_scheduled_run_backs_off_a_refusing_channel(world):
    api, hook, _, _ = world
    notifier = api.app.state.services.notifier
    api.ok("POST", f"{P}/subscriptions", 201, json={
        "space": 1, "owner": "B-402", "vehicles": [CAR], "unit": "hourly", "amount": 50})
    hook.up = False
    api.advance(hours=4, minutes=10)
    notifier.scan_expiry()
    tries = []
    for wait_s in (0, 0, 2.1, 0, 3.1, 5.1):  # the back-off: 1–2 s, then 2–3 s, then 4–5 s
        api.advance(seconds=wait_s)
        tries.append(notifier.deliver_once()["failed"])
    assert tries == [1, 0, 1, 0, 1, 1]  # a refusing channel is not hammered at every run
    assert notifier.pending() == 1
    hook.up = True
    assert notifier.deliver_once()["sent"] == 0  # not due yet
    api.advance(seconds=9.1)
    assert notifier.deliver_once()["sent"] == 1 and len(hook.got) == 1


def _failed(api: Api, gate: str, at: datetime, seq: int) -> None:
    api.app.state.services.jobs.on_event(Event(
        id=f"{gate}:{seq}", type=EventType.ALERT, site="green-acres", edge="e1", gate=gate,
        seq=seq, at=at, data={"alert": "barrier_failed", "detail": "relay timeout"}))


def test_barrier_failure_mails_staff_at_most_once_per_fifteen_minutes(world):
    api, hook, inbox, smtp = world
    _failed(api, "p-in", T0, 1)
    _failed(api, "p-out", T0 + timedelta(minutes=5), 2)
    _failed(api, "p-in", T0 + timedelta(minutes=16), 3)
    smtp.stop()  # the mail server is down for a while
    out = deliver(api)
    assert out["sent"] == 3 and out["failed"] == 2  # webhooks went; two mails wait
    again = Controller(inbox, hostname="127.0.0.1", port=smtp.port)  # the server is back
    again.start()
    try:
        assert deliver(api)["sent"] == 2
    finally:
        again.stop()
    assert [m["gate"] for m in hook.got] == ["p-in", "p-out", "p-in"]
    assert len(inbox.mails) == 2
    assert all(m.rcpt_tos == ["staff@green-acres.test"] for m in inbox.mails)
    assert b"Subject: Tower B: barrier p-in failed to open" in inbox.mails[0].content
    # the same event delivered twice (MQTT at-least-once) is one notification
    _failed(api, "p-in", T0, 1)
    assert deliver(api)["sent"] == 0
