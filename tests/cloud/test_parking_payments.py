"""A resident rents a space in the app: draft, the provider simulator's payment and signed
callback (idempotent, verified over the bytes as sent), the 15-minute hold, and refunds back
through the provider."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import httpx
import pytest

from cloud.app import create_app
from cloud.settings import CloudSettings
from cloud.storage.dialect import upsert_sql
from cloud.storage.residents import legacy_id
from hardware_sim.payments import PaymentSim
from shared.clock import FileClock
from shared.signing import canonical
from shared.webhooks import headers
from shared.webthread import WebThread
from tests.factories import ADMIN, CAR, T0, Api, P, activate

SECRET = "provider-shared-secret"


@pytest.fixture
def world(tmp_path, cloud_db):
    clock_file = tmp_path / "clock.json"
    FileClock.set_time(clock_file, T0)
    sim = PaymentSim(SECRET).start()
    app = create_app(CloudSettings(db=cloud_db, mqtt_url=None, jobs_every_s=0,
                                   payments_url=sim.url, payments_secret=SECRET,
                                   admin_key=ADMIN), FileClock(clock_file))
    web = WebThread(app, "127.0.0.1", 0)
    web.start()
    app.state.services.billing.callback_url = f"{web.url}/api/v1/payments/callback"
    c = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})
    api = Api(c, clock_file)
    api.app = app
    api.ok("POST", "/api/v1/sites", 201, json={"id": "green-acres"})
    for g, d in (("p-in", "entry"), ("p-out", "exit")):
        api.ok("POST", "/api/v1/sites/green-acres/gates", 201, json={"id": g, "direction": d})
    api.ok("POST", "/api/v1/sites/green-acres/parkings", 201, json={
        "id": "tower-b", "name": "Tower B", "refunds": True})
    api.ok("POST", f"{P}/spaces", 201, json={"numbers": "4..5", "size": "small"})
    api.ok("POST", f"{P}/tariffs", 201, json={"size": "small", "unit": "daily", "lower": 1,
                                               "upper": 30, "price": 100})
    activate(api)
    yield api, sim
    c.close()
    web.stop()
    sim.stop()


def rent(api: Api, days: int = 7) -> dict:
    return api.ok("POST", f"{P}/subscriptions/resident", 201, json={
        "space": 4, "owner": "Flat B-402", "vehicles": [CAR], "units": days})


def test_resident_pays_in_the_app_and_the_callback_activates_once(world):
    api, sim = world
    draft = rent(api)
    assert draft["status"] == "draft" and draft["amount"] == 700
    assert draft["payment"]["pay_url"].startswith(sim.url)
    assert api.ok("GET", f"{P}/spaces")["spaces"][0]["status"] == "unavailable"  # held
    sim.fail_callbacks = 1  # the first callback is lost on the way: the provider retries
    httpx.post(draft["payment"]["pay_url"], timeout=10).raise_for_status()
    assert [cb["status"] for cb in sim.callbacks] == [599, 200]
    got = api.sub(draft["id"])
    assert got["status"] == "active" and got["paid_in_app"] is True
    assert [p["kind"] for p in got["payments"]] == ["rent"]
    # the provider calling back again changes nothing
    last = sim.callbacks[-1]
    again = api.ok("POST", "/api/v1/payments/callback", content=last["raw"],
                   headers=last["headers"])
    assert again["status"] == "active" and len(again["payments"]) == 1


def callback(api: Api, raw: bytes, secret: str = SECRET, status: int = 200,
             reason: str | None = None) -> dict:
    """POST *raw* to the callback, signed with *secret* over exactly these bytes."""
    sent = headers(secret, "msg_test", raw) | {"Content-Type": "application/json"}
    if reason is None:
        return api.ok("POST", "/api/v1/payments/callback", status, content=raw, headers=sent)
    api.refused("POST", "/api/v1/payments/callback", status, reason, content=raw,
                headers=sent)
    return {}


def test_a_forged_callback_is_refused(world):
    api, _ = world
    draft = rent(api)
    raw = b'{"payment_id": "pay_x", "reference": "' + draft["id"].encode() + \
        b'", "amount": 700, "status": "paid"}'
    callback(api, raw, "not the secret", 403, "bad_signature")
    api.refused("POST", "/api/v1/payments/callback", 403, "bad_signature", content=raw)
    # the signature of before, over the body's fields re-serialised, counts for nothing now
    fields = {"payment_id": "pay_x", "reference": draft["id"], "amount": 700, "status": "paid"}
    old = fields | {"sig": hmac.new(SECRET.encode(), canonical(fields), hashlib.sha256).hexdigest()}
    api.refused("POST", "/api/v1/payments/callback", 403, "bad_signature", json=old)
    callback(api, raw.replace(b"700", b"1"), SECRET, 409, "wrong_amount")
    callback(api, b"[1, 2]", SECRET, 422, "bad_callback")
    assert api.sub(draft["id"])["status"] == "draft"


def test_the_callback_is_verified_over_the_bytes_as_they_came(world):
    """Keys out of order and spaces where a re-serialisation would put none: the signature
    over those very bytes verifies; a byte changed after signing does not."""
    api, _ = world
    draft = rent(api)
    raw = b'{ "status" : "paid",\n  "amount":700 , "reference": "' + draft["id"].encode() + \
        b'",  "payment_id": "pay_raw" }'
    signed = headers(SECRET, "msg_raw", raw) | {"Content-Type": "application/json"}
    tampered = raw.replace(b"pay_raw", b"pay_rax")
    api.refused("POST", "/api/v1/payments/callback", 403, "bad_signature", content=tampered,
                headers=signed)
    stale = headers(SECRET, "msg_raw", raw, at=time.time() - 3600)
    api.refused("POST", "/api/v1/payments/callback", 403, "bad_signature", content=raw,
                headers=stale | {"Content-Type": "application/json"})
    got = api.ok("POST", "/api/v1/payments/callback", content=raw, headers=signed)
    assert got["status"] == "active" and got["paid_in_app"] is True


def test_an_unpaid_draft_lapses_after_fifteen_minutes_and_frees_the_space(world):
    api, _sim = world
    draft = rent(api)
    api.advance(minutes=14)
    assert api.sub(draft["id"])["status"] == "draft"
    api.advance(minutes=2)
    assert api.sub(draft["id"])["status"] == "lapsed"
    assert api.ok("GET", f"{P}/spaces")["spaces"][0]["status"] == "available"
    late = httpx.post(draft["payment"]["pay_url"], timeout=10).json()
    assert late["acknowledged"] is False  # the cloud refuses to activate a lapsed draft
    assert api.sub(draft["id"])["status"] == "lapsed"


def test_deactivation_refunds_the_days_not_begun_through_the_provider(world):
    api, sim = world
    draft = rent(api)
    httpx.post(draft["payment"]["pay_url"], timeout=10).raise_for_status()
    api.advance(hours=5)  # during day 1 of 7
    out = api.ok("POST", f"/api/v1/subscriptions/{draft['id']}/deactivate",
                 json={"refund": "remaining"})
    assert out["status"] == "archive" and out["refund"] == 600
    assert sim.refunds == [{"payment_id": draft["payment"]["id"], "amount": 600}]
    assert api.sub(draft["id"])["payments"][-1] == {
        "kind": "refund", "amount": -600, "at": out["payments"][-1]["at"], "reference": None,
        "documents": []}


def test_the_hold_keeps_others_off_the_space(world):
    api, _ = world
    rent(api)
    api.refused("POST", f"{P}/subscriptions", 409, "space_taken", json={
        "space": 4, "owner": "C-101", "vehicles": [{"vrn": "DL3CAF0001"}], "amount": 100})


def resident_key(api: Api, who: str) -> httpx.Client:
    key = api.ok("POST", "/api/v1/staff", 201, json={"name": who, "roles": [],
                                                     "resident": who})["key"]
    return httpx.Client(base_url=api.c.base_url, timeout=10, headers={"X-Api-Key": key})


def test_a_user_extends_in_the_app_and_the_paid_extension_follows_on(world):
    api, sim = world
    first = rent(api)
    httpx.post(first["payment"]["pay_url"], timeout=10).raise_for_status()
    owner, family, stranger = (resident_key(api, w) for w in ("Flat B-402", "Flat B-403", "C-101"))
    url = f"/api/v1/subscriptions/{first['id']}"
    assert owner.put(f"{url}/users", json={"users": ["Flat B-403"]}).status_code == 200
    assert stranger.post(f"{url}/extend/resident", json={"units": 3}).status_code == 403
    r = family.post(f"{url}/extend/resident", json={"units": 3})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["amount"] == 300 and draft["prev"] == first["id"]
    assert draft["start"] == api.sub(first["id"])["end"]
    # Nothing reaches the gates before it is paid: the first one is not yet "continued".
    rules = api.ok("GET", "/api/v1/sites/green-acres/rules")
    assert [s["id"] for s in rules["subscriptions"]] == [first["id"]]
    assert rules["subscriptions"][0]["continued"] is False
    httpx.post(draft["payment"]["pay_url"], timeout=10).raise_for_status()
    paid = api.sub(draft["id"])
    assert paid["status"] == "future" and paid["paid_in_app"] is True
    assert paid["start"] == draft["start"] and paid["payments"][0]["amount"] == 300
    rules = api.ok("GET", "/api/v1/sites/green-acres/rules")
    by_id = {s["id"]: s for s in rules["subscriptions"]}
    assert set(by_id) == {first["id"], draft["id"]} and by_id[first["id"]]["continued"] is True
    api.advance(days=7, minutes=1)
    assert api.sub(first["id"])["status"] == "archive"
    assert api.sub(draft["id"])["status"] == "active"
    assert [p["amount"] for p in sim.payments.values()] == [700, 300]


def test_an_unpaid_extension_lapses_and_frees_the_chain_for_another(world):
    api, _sim = world
    first = rent(api)
    httpx.post(first["payment"]["pay_url"], timeout=10).raise_for_status()
    owner = resident_key(api, "Flat B-402")
    url = f"/api/v1/subscriptions/{first['id']}"
    too_long = owner.post(f"{url}/extend/resident", json={"units": 99})
    assert too_long.status_code == 422 and too_long.json()["detail"]["reason"] == "too_long"
    draft = owner.post(f"{url}/extend/resident", json={"units": 2}).json()
    busy = api.c.post(f"{url}/extend", json={"amount": 100})
    assert busy.status_code == 409 and busy.json()["detail"]["reason"] == "not_extendable"
    FileClock.advance(api.clock_file, timedelta(minutes=16))  # before the status job runs
    again = owner.post(f"{url}/extend/resident", json={"units": 1})
    assert again.status_code == 201 and again.json()["start"] == draft["start"]
    assert api.sub(draft["id"])["status"] == "lapsed"
    pending = owner.post(f"{url}/extend/resident", json={"units": 1})  # the new one holds it
    assert pending.status_code == 409 and pending.json()["detail"]["reason"] == "not_extendable"


def test_the_owner_changes_vehicles_of_a_live_subscription_in_the_app(world):
    api, _sim = world
    first = rent(api)
    httpx.post(first["payment"]["pay_url"], timeout=10).raise_for_status()
    owner, stranger = resident_key(api, "Flat B-402"), resident_key(api, "C-101")
    url = f"/api/v1/subscriptions/{first['id']}/vehicles"
    assert stranger.post(url, json={"vrn": "DL3CAF0001"}).status_code == 403
    added = owner.post(url, json={"vrn": "DL3CAF0001", "type": "2W"})
    assert added.status_code == 201, added.text
    assert {v["vrn"] for v in added.json()["vehicles"]} == {"MH12AB1234", "DL3CAF0001"}
    # The key made for the owner name acts for the resident that name became.
    assert added.json()["history"][-1]["detail"] == \
        f"DL3CAF0001 by resident:{legacy_id('Flat B-402')}"
    assert owner.delete(f"{url}/MH12AB1234").status_code == 200
    assert stranger.delete(f"{url}/DL3CAF0001").status_code == 403
    api.ok("POST", f"/api/v1/subscriptions/{first['id']}/deactivate", json={})
    late = owner.post(url, json={"vrn": "KA01AB0001"})
    assert late.status_code == 409 and late.json()["detail"]["reason"] == "not_editable"


def test_deactivation_refunds_the_paid_ones_and_drops_an_unpaid_extension(world):
    api, sim = world
    first = rent(api)
    httpx.post(first["payment"]["pay_url"], timeout=10).raise_for_status()
    owner = resident_key(api, "Flat B-402")
    draft = owner.post(f"/api/v1/subscriptions/{first['id']}/extend/resident",
                       json={"units": 3}).json()
    out = api.ok("POST", f"/api/v1/subscriptions/{first['id']}/deactivate",
                 json={"refund": "full"})
    assert out["status"] == "archive" and out["refund"] == 700  # not the unpaid 300
    assert sim.refunds == [{"payment_id": first["payment"]["id"], "amount": 700}]
    assert api.sub(draft["id"])["status"] == "lapsed"
    late = httpx.post(draft["payment"]["pay_url"], timeout=10).json()
    assert late["acknowledged"] is False and api.sub(draft["id"])["status"] == "lapsed"


def boxes_say(api: Api, availability: str) -> None:
    """What the box serving both barriers last told the cloud (as its MQTT side stores it)."""
    with api.app.state.services.db.write() as c:
        for gate in ("p-in", "p-out"):
            c.execute(upsert_sql("edge_gates", ("site", "gate", "edge", "at"), ("site", "gate")),
                      ("green-acres", gate, "box-1", "2026-12-01T09:00:00"))
        c.execute(upsert_sql("edges", ("id", "availability", "at"), ("id",)),
                  ("box-1", availability, "2026-12-01T09:00:00"))


def test_a_refund_waits_until_the_parkings_boxes_are_online(world):
    """An offline box may hold the pass of a car that is inside: money goes back only once
    every box of the parking's barriers is online. Without a refund, deactivation goes on."""
    api, sim = world
    draft = rent(api)
    httpx.post(draft["payment"]["pay_url"], timeout=10).raise_for_status()
    api.advance(hours=5)
    boxes_say(api, "offline")
    msg = api.refused("POST", f"/api/v1/subscriptions/{draft['id']}/deactivate", 409,
                      "gate_offline", json={"refund": "remaining"})
    assert "box-1" in msg and sim.refunds == []
    assert api.sub(draft["id"])["status"] == "active"
    boxes_say(api, "online")
    out = api.ok("POST", f"/api/v1/subscriptions/{draft['id']}/deactivate",
                 json={"refund": "remaining"})
    assert out["refund"] == 600 and len(sim.refunds) == 1


def test_a_parking_that_requires_its_offer_is_rented_only_once_it_is_accepted(world):
    api, _ = world
    api.ok("PATCH", P, json={"offer_required": True, "rules_text": "Nose-in; no storage."})
    body = {"space": 4, "owner": "Flat B-402", "vehicles": [CAR], "units": 2}
    msg = api.refused("POST", f"{P}/subscriptions/resident", 409, "offer_not_accepted",
                      json=body)
    assert "Nose-in" in msg
    draft = api.ok("POST", f"{P}/subscriptions/resident", 201,
                   json=body | {"offer_accepted": True})
    assert "offer_accepted" in [h["what"] for h in api.sub(draft["id"])["history"]]
    httpx.post(draft["payment"]["pay_url"], timeout=10).raise_for_status()
    url = f"/api/v1/subscriptions/{draft['id']}/extend/resident"
    api.refused("POST", url, 409, "offer_not_accepted", json={"units": 1})
    api.ok("POST", url, 201, json={"units": 1, "offer_accepted": True})
