"""Partners: privacy and isolation (issue 25), each hole tried from outside against the real
cloud over HTTP, a real broker, the partner simulators on their own ports, on SQLite and
PostgreSQL: a link judged as of the time the car passed, a partner API that shows only what the
partner was sent, a partner that drips or floods its answers holding back nobody else, internal
endpoints refused, every call signed, an offset past any list refused, and a resident who leaves
taking their link with them. (A pass made while offline, with the box's own backlog, is the
scenario ``tests/scenarios/partner_offline_opt_out.yaml``.)"""

from __future__ import annotations

import ipaddress
import resource
import threading
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cloud.outbound import Targets, networks
from hardware_sim.partner import PartnerSim
from hardware_sim.registry import VehicleRegistrySim
from shared.contract import Event
from shared.vocab import EventType
from tests.factories import linked_cloud

LOOPBACK = "127.0.0.0/8"
SLOW, FAST = "acacia", "banyan"  # the slow society sorts first: it was served first
PEOPLE = {  # phone → (site, flat, vrn, sticker, secret)
    "+919811000001": (SLOW, "A-1", "MH12AA0001", "AC-0001", "100001"),
    "+919811000002": (SLOW, "A-2", "MH12AA0002", "AC-0002", "100002"),
    "+919811000003": (SLOW, "A-3", "MH12AA0003", "AC-0003", "100003"),
    "+919811000004": (FAST, "B-1", "MH12BB0001", "BA-0001", "200001"),
    "+919811000005": (FAST, "B-2", "MH12BB0002", "BA-0002", "200002"),
}
HEADER = "tag_id,secret,epc,vehicle_type\n"


def refused(r: httpx.Response, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["detail"]["reason"] == reason, r.text


def cloud(db: str, broker_url: str, registry_url: str, **settings: Any
          ) -> AbstractContextManager[tuple[httpx.Client, Any]]:
    return linked_cloud(db, broker_url, vehicle_registry_url=registry_url, **settings)


class World:
    """Two societies, their residents and stickers, a partner simulator for each, and the
    cloud (on loopback, allowed explicitly)."""

    def __init__(self, db: str, broker_url: str) -> None:
        self.db, self.broker_url = db, broker_url
        self.registry = VehicleRegistrySim().start()
        self.sims = {SLOW: PartnerSim().start(), FAST: PartnerSim().start()}
        self.keys: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        for phone, (_s, _f, vrn, _t, _x) in PEOPLE.items():
            self.registry.add(vrn, "4W", "Maruti", "Swift")
            for sim in self.sims.values():
                sim.set_user(phone, "connected")

    def populate(self, staff: httpx.Client) -> None:
        for site in (SLOW, FAST):
            staff.post("/api/v1/sites", json={"id": site}).raise_for_status()
            rows = [f"{t},{x},E28011606000020400{i:06X},4W"
                    for i, (s, _f, _v, t, x) in enumerate(PEOPLE.values()) if s == site]
            staff.post(f"/api/v1/sites/{site}/tags/import", content=HEADER + "\n".join(rows),
                       headers={"Content-Type": "text/csv"}).raise_for_status()
        for phone, (site, flat, *_rest) in PEOPLE.items():
            who = staff.post("/api/v1/residents", json={
                "phone": phone, "name": f"R{phone[-1]}", "flats": [
                    {"site": site, "flat": flat}]}).json()
            self.ids[phone] = who["id"]
            self.keys[phone] = staff.post(f"/api/v1/residents/{who['id']}/keys").json()["key"]

    def stop(self) -> None:
        self.registry.stop()
        for sim in self.sims.values():
            sim.stop()


@pytest.fixture
def world(cloud_db, broker):
    w = World(cloud_db, broker.url)
    with cloud(cloud_db, broker.url, w.registry.url, partner_internal_targets=LOOPBACK) as (
            staff, app):
        w.populate(staff)
        yield w, staff, app
    w.stop()


def me(staff: httpx.Client, key: str) -> httpx.Client:
    return httpx.Client(base_url=str(staff.base_url), timeout=60, headers={"X-Api-Key": key})


def integrate(staff: httpx.Client, sim: PartnerSim, site: str) -> dict:
    r = staff.put(f"/api/v1/sites/{site}/partner", json={
        "partner": "mygate", "endpoint": sim.endpoint("mygate"), "credential": sim.token})
    assert r.status_code == 200, r.text
    sim.set_secret("mygate", site, r.json()["signing_secret"])
    return dict(r.json())


def activate(w: World, staff: httpx.Client, phone: str) -> dict:
    _site, _flat, vrn, tag, secret = PEOPLE[phone]
    with me(staff, w.keys[phone]) as app:
        r = app.post("/api/v1/me/tags/activate", json={"vrn": vrn, "tag_id": tag,
                                                       "secret": secret})
    assert r.status_code == 200, r.text
    return dict(r.json()["partner"])


def opt(w: World, staff: httpx.Client, phone: str, opted_in: bool) -> dict:
    with me(staff, w.keys[phone]) as app:
        r = app.put(f"/api/v1/me/vehicles/{PEOPLE[phone][2]}/partner",
                    json={"opted_in": opted_in})
    assert r.status_code == 200, r.text
    return dict(r.json())


def pass_of(phone: str, n: int, at: datetime | None = None) -> Event:
    site, _flat, vrn, *_ = PEOPLE[phone]
    return Event(id=f"main-in:{n}", type=EventType.PASS, site=site, edge=f"box-{site}",
                 gate="main-in", seq=n, at=at or datetime.now(UTC),
                 data={"vrn": vrn, "direction": "entry"})


def outbox(staff: httpx.Client, site: str) -> dict:
    return dict(staff.get(f"/api/v1/sites/{site}/partner").json()["outbox"])


def test_a_link_is_judged_as_it_stood_when_the_car_passed(world) -> None:
    """Opted out, drove in (the box offline), opted back in before the backlog arrived: that
    entry is not forwarded; nor one made before the opt-out that arrives after it; one made
    after the opt-in is."""
    w, staff, app = world
    integrate(staff, w.sims[FAST], FAST)
    phone = "+919811000004"
    assert activate(w, staff, phone)["state"] == "connected"
    before_opt_out = datetime.now(UTC)
    opt(w, staff, phone, False)
    while_opted_out = datetime.now(UTC)
    assert opt(w, staff, phone, True)["state"] == "connected"
    writer = app.state.services.link.writer
    writer.write([pass_of(phone, 1, while_opted_out),
                  pass_of(phone, 2, before_opt_out)])  # the backlog arrives
    writer.write([pass_of(phone, 3, datetime.now(UTC) + timedelta(seconds=1))])
    staff.post("/api/v1/jobs/partner-forward").raise_for_status()
    assert [e["id"] for e in w.sims[FAST].events()] == [f"{FAST}:box-{FAST}:main-in:3"]


def test_the_partner_api_shows_only_what_the_partner_was_sent(world) -> None:
    """A MyGate key reads the entries, vehicles and tags of connected residents only: not an
    opted-out one's, not a never-connected one's, not a flat's."""
    w, staff, app = world
    integrate(staff, w.sims[SLOW], SLOW)
    connected, opted_out, never = "+919811000001", "+919811000002", "+919811000003"
    w.sims[SLOW].set_user(never, "app_not_installed")
    for phone in (connected, opted_out, never):
        activate(w, staff, phone)
    opt(w, staff, opted_out, False)
    app.state.services.link.writer.write(
        [pass_of(p, n) for n, p in enumerate((connected, opted_out, never), 1)])
    key = staff.post("/api/v1/partner-keys", json={"partner": "mygate"}).json()["key"]
    with me(staff, key) as partner:
        events = partner.get(f"/api/v1/partner/sites/{SLOW}/events").json()["events"]
        vehicles = partner.get(f"/api/v1/partner/sites/{SLOW}/vehicles").json()["vehicles"]
        tags = partner.get(f"/api/v1/partner/sites/{SLOW}/tags").json()["tags"]
    assert [e["vrn"] for e in events] == ["MH12AA0001"]
    assert [(v["vrn"], v["flat"]) for v in vehicles] == [("MH12AA0001", "A-1")]
    assert [t["vrn"] for t in tags] == ["MH12AA0001"]


def test_an_offset_past_any_list_is_refused_not_a_server_error(world) -> None:
    w, staff, _app = world
    integrate(staff, w.sims[SLOW], SLOW)
    key = staff.post("/api/v1/partner-keys", json={"partner": "mygate"}).json()["key"]
    with me(staff, key) as partner:
        for what in ("events", "vehicles", "tags"):
            r = partner.get(f"/api/v1/partner/sites/{SLOW}/{what}", params={"offset": 10**30})
            assert r.status_code == 422, (what, r.status_code, r.text)
            assert r.json()["detail"][0]["loc"] == ["query", "offset"]


def test_a_partner_dripping_its_answers_holds_back_no_other_society(world) -> None:
    """MyGate of one society answers one byte a second: another society's entry still goes at
    once, a resident there is connected at once, and a resident of the slow one is answered
    within the call's deadline."""
    w, staff, app = world
    slow, fast = w.sims[SLOW], w.sims[FAST]
    integrate(staff, slow, SLOW)
    integrate(staff, fast, FAST)
    activate(w, staff, "+919811000001")
    activate(w, staff, "+919811000004")
    slow.mode, slow.delay_s = "drip", 1.0
    app.state.services.link.writer.write([pass_of("+919811000001", 1), pass_of("+919811000004", 2)])
    t0 = time.monotonic()
    job: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: job.update(
        staff.post("/api/v1/jobs/partner-forward").json()))
    runner.start()
    while not fast.arrivals and time.monotonic() - t0 < 30:
        time.sleep(0.05)
    assert fast.arrivals and fast.arrivals[0] - t0 < 3.0, "the healthy partner waited"
    t1 = time.monotonic()
    assert activate(w, staff, "+919811000005")["state"] == "connected"
    assert time.monotonic() - t1 < 3.0, "a connect at the healthy society waited"
    t2 = time.monotonic()
    assert activate(w, staff, "+919811000002")["state"] == "error"
    assert time.monotonic() - t2 < 8.0, "the slow partner's answer was waited out"
    runner.join(30)
    assert not runner.is_alive() and time.monotonic() - t0 < 15.0
    assert (job["sent"], job["failed"]) == (1, 1)
    row = app.state.services.db.conn.execute(
        "SELECT last_error FROM partner_outbox WHERE site = ?", (SLOW,)).fetchone()
    assert "no whole answer within 5 s" in row[0]


def test_an_answer_too_large_is_cut_off(world) -> None:
    """A partner answering 300 MB: the cloud stops reading past its cap, fast, and its memory
    does not grow by the answer."""
    w, staff, app = world
    flood = w.sims[SLOW]
    integrate(staff, flood, SLOW)
    activate(w, staff, "+919811000001")
    flood.mode, flood.size_mb = "flood", 300
    app.state.services.link.writer.write([pass_of("+919811000001", 1)])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    t0 = time.monotonic()
    got = staff.post("/api/v1/jobs/partner-forward").json()
    assert time.monotonic() - t0 < 5.0 and got["failed"] == 1
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grew_mb < 100, f"the cloud grew {grew_mb:.0f} MB"
    row = app.state.services.db.conn.execute("SELECT last_error FROM partner_outbox").fetchone()
    assert "more than 65536 bytes" in row[0]


@pytest.mark.parametrize(("ip", "allowed", "refused"), [
    ("8.8.8.8", "", False), ("2001:4860:4860::8888", "", False), ("127.0.0.1", "", True),
    ("127.0.0.1", "127.0.0.0/8", False), ("10.20.1.5", "10.20.0.0/16", False),
    ("10.21.1.5", "10.20.0.0/16", True), ("172.16.0.1", "", True), ("100.64.0.1", "", True),
    ("169.254.169.254", "", True), ("224.0.0.251", "", True), ("0.0.0.0", "", True),
    ("::1", "127.0.0.0/8", True), ("fe80::1", "", True), ("fc00::1", "", True),
    ("::ffff:127.0.0.1", "", True), ("::ffff:127.0.0.1", "127.0.0.0/8", False),
    ("240.0.0.1", "", True)])
def test_which_addresses_a_partner_endpoint_may_have(ip, allowed, refused) -> None:
    why = Targets(networks(allowed)).refusal(ipaddress.ip_address(ip))
    assert (why is not None) is refused, why


@pytest.mark.parametrize("endpoint", [
    "http://127.0.0.1:{port}/mygate", "http://localhost:{port}/mygate", "http://10.1.2.3/x",
    "http://169.254.169.254/latest", "http://[::1]:{port}/x", "http://0.0.0.0:{port}/x",
    "http://192.168.1.10/x", "http://224.0.0.1/x", "http://[::ffff:127.0.0.1]:{port}/x"])
def test_an_internal_endpoint_is_refused_by_default(tmp_path, broker, endpoint) -> None:
    w = World(str(tmp_path / "cloud.sqlite"), broker.url)
    with cloud(w.db, broker.url, w.registry.url) as (staff, _app):
        w.populate(staff)
        url = endpoint.format(port=w.sims[SLOW].web.port)
        refused(staff.put(f"/api/v1/sites/{SLOW}/partner", json={
            "partner": "mygate", "endpoint": url, "credential": "t"}), 422, "internal_endpoint")
    w.stop()


def test_an_internal_address_is_refused_again_when_the_call_is_made(world) -> None:
    """An endpoint configured while its address was allowed (or resolved elsewhere) is not
    called once it is not: the address is checked on every connection."""
    w, staff, app = world
    sim = w.sims[SLOW]
    integrate(staff, sim, SLOW)
    activate(w, staff, "+919811000001")
    app.state.services.link.writer.write([pass_of("+919811000001", 1)])
    app.state.services.link.stop()
    with cloud(w.db, w.broker_url, w.registry.url) as (strict, _app2):  # no internal targets
        got = strict.post("/api/v1/jobs/partner-forward").json()
        assert (got["sent"], got["failed"]) == (0, 1)
        assert activate(w, strict, "+919811000002")["state"] == "error"
        row = _app2.state.services.db.conn.execute(
            "SELECT last_error FROM partner_outbox").fetchone()
    assert "internal address" in row[0]
    assert sim.posts == 0 and not any(c["vrn"] == "MH12AA0002" for c in
                                      httpx.get(f"{sim.url}/_sim/connections").json()[
                                          "connections"])


def test_every_call_to_the_partner_is_signed(world) -> None:
    """Connect, forward and disconnect carry Standard Webhooks signatures with the society's
    secret, which the admin gets once, kept across a change of the integration; a partner
    that knows it refuses what it did not sign."""
    w, staff, app = world
    sim = w.sims[FAST]
    first = integrate(staff, sim, FAST)
    assert first["signing_secret"].startswith("whsec_")
    assert integrate(staff, sim, FAST)["signing_secret"] == first["signing_secret"]
    assert "signing_secret" not in staff.get(f"/api/v1/sites/{FAST}/partner").json()
    assert activate(w, staff, "+919811000004")["state"] == "connected"
    app.state.services.link.writer.write([pass_of("+919811000004", 1)])
    assert staff.post("/api/v1/jobs/partner-forward").json()["sent"] == 1
    assert [e["verified"] for e in sim.events()] == [True]
    opt(w, staff, "+919811000004", False)
    assert not sim.connections and sim.bad_signatures == 0
    forged = httpx.post(f"{sim.endpoint('mygate')}/v1/events", json={"society": FAST},
                        headers={"Authorization": f"Bearer {sim.token}",
                                 "Idempotency-Key": "forged", "webhook-id": "forged",
                                 "webhook-timestamp": str(int(time.time())),
                                 "webhook-signature": "v1,AAAA"})
    assert forged.status_code == 401 and sim.bad_signatures == 1


def test_a_resident_who_leaves_takes_their_link_and_the_new_owner_connects_as_themselves(
        world) -> None:
    w, staff, app = world
    sim = w.sims[FAST]
    integrate(staff, sim, FAST)
    leaver, heir = "+919811000004", "+919822000006"
    sim.set_user(heir, "connected")
    who = staff.post("/api/v1/residents", json={  # a flat-mate, who keeps the car
        "phone": heir, "name": "Heir", "flats": [{"site": FAST, "flat": "B-1"}]}).json()
    w.ids[heir] = who["id"]
    w.keys[heir] = staff.post(f"/api/v1/residents/{who['id']}/keys").json()["key"]
    activate(w, staff, leaver)
    assert {c["user_id"] for c in sim.connections_list()} == {"mygate-000004"}
    staff.delete(f"/api/v1/residents/{w.ids[leaver]}",
                 params={"hand_over_to": w.ids[heir]}).raise_for_status()
    links = staff.get(f"/api/v1/sites/{FAST}/partner").json()["links"]
    assert [(link["state"], link["reason"]) for link in links] == [
        ("disconnected", "resident_left")]
    assert sim.connections_list() == []  # the partner was told
    app.state.services.link.writer.write([pass_of(leaver, 1)])
    with me(staff, w.keys[heir]) as app_of_heir:  # the car's new owner connects it
        r = app_of_heir.put(f"/api/v1/me/vehicles/{PEOPLE[leaver][2]}/partner",
                            json={"opted_in": True})
    assert r.json()["state"] == "connected", r.text
    app.state.services.link.writer.write(
        [pass_of(leaver, 2, datetime.now(UTC) + timedelta(seconds=1))])
    staff.post("/api/v1/jobs/partner-forward").raise_for_status()
    links = staff.get(f"/api/v1/sites/{FAST}/partner").json()["links"]
    assert [(link["resident"], link["state"]) for link in links] == [(w.ids[heir], "connected")]
    assert {c["user_id"] for c in sim.connections_list()} == {"mygate-000006"}
    assert [e["id"] for e in sim.events()] == [f"{FAST}:box-{FAST}:main-in:2"]
