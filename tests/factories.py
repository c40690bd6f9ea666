"""What tests build, in one place: clouds served over real HTTP, residents and their apps, the
parking cloud on a virtual clock, the decision core's view, scenario runs and stacks. Test
modules import these (and conftest's fixtures), never each other (tests/tools/test_tests_tree.py
keeps it so)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cloud.app import create_app
from cloud.settings import CloudSettings
from edge.core.parking import SubRecord
from edge.core.plate_match import PlateIndex
from edge.core.types import GateInfo, RecentCredential, TagRecord
from edge.store.cache import RulesCache
from gatepost.devstack.stack import GateSpec, Stack, StackOptions
from gatepost.scenario.runner import run_files
from shared.clock import Clock, FileClock, SystemClock
from shared.schedule import Schedule
from shared.vocab import Direction, TagStatus
from shared.webthread import WebThread

ADMIN = "gpk_test_admin_key"  # the admin key of every cloud a test serves in process
SITE = "green-acres"
EPC = "E2801160600002040000AB01"


# The cloud over real HTTP --------------------------------------------------------------------
@contextmanager
def cloud_api(db: str, sites: tuple[str, ...] = (), clock: Clock | None = None,
              **settings: Any) -> Iterator[httpx.Client]:
    """The cloud on *db* (with *settings*, on *clock*: the system's by default), its *sites*
    created; an admin client."""
    web = WebThread(create_app(CloudSettings(db=db, mqtt_url=None, admin_key=ADMIN,
                                             jobs_every_s=0, **settings),
                               clock or SystemClock()),
                    "127.0.0.1", 0)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=30, headers={"X-Api-Key": ADMIN})
    try:
        for site in sites:
            c.post("/api/v1/sites", json={"id": site}).raise_for_status()
        yield c
    finally:
        c.close()
        web.stop()


@contextmanager
def resident_app(staff: httpx.Client, phone: str = "9876543210", name: str = "Asha",
                 site: str = "green-acres", flat: str = "B-402"
                 ) -> Iterator[tuple[dict[str, Any], httpx.Client]]:
    """A resident of *site* added by *staff*, and a client of their app (their own key)."""
    who = staff.post("/api/v1/residents", json={
        "phone": phone, "name": name, "flats": [{"site": site, "flat": flat}]}).json()
    key = staff.post(f"/api/v1/residents/{who['id']}/keys").json()["key"]
    with httpx.Client(base_url=str(staff.base_url), timeout=30,
                      headers={"X-Api-Key": key}) as me:
        yield who, me


@contextmanager
def linked_cloud(db: str, broker_url: str, **settings: Any
                 ) -> Iterator[tuple[httpx.Client, Any]]:
    """The cloud on *db* linked to the broker at *broker_url* (with *settings*, on the
    system's clock), served over real HTTP: an admin client and the app."""
    app = create_app(CloudSettings(db=db, mqtt_url=broker_url, admin_key=ADMIN, jobs_every_s=0,
                                   **settings), SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    app.state.services.link.start(app.state.services.rules)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=60, headers={"X-Api-Key": ADMIN})
    try:
        yield c, app
    finally:
        c.close()
        app.state.services.link.stop()
        web.stop()


def refused(r: httpx.Response, status: int, reason: str) -> str:
    """Assert *r* is a refusal with *status* and *reason*; its message."""
    assert r.status_code == status, r.text
    assert r.json()["detail"]["reason"] == reason, r.text
    return str(r.json()["detail"]["message"])


def open_parking(admin: httpx.Client, spaces: str) -> None:
    """An active parking p1 at the society's two gates, with small spaces at 10 a day."""
    admin.post("/api/v1/sites/green-acres/parkings", json={"id": "p1", "name": "P1"})
    for g in ("p-in", "p-out"):
        admin.put(f"/api/v1/sites/green-acres/gates/{g}/parking", json={"parking": "p1"})
    admin.post("/api/v1/parkings/p1/activate").raise_for_status()
    admin.post("/api/v1/parkings/p1/spaces", json={"numbers": spaces, "size": "small"})
    admin.post("/api/v1/parkings/p1/tariffs", json={"size": "small", "lower": 1, "upper": 9,
                                                    "price": 10}).raise_for_status()


# A cloud linked to a broker, whose rules epoch tests follow ------------------------------------
T1, T2, T3, T4 = (f"E28011606000020400000{n}01" for n in "1234")


@dataclass
class Cloud:
    app: object
    web: WebThread
    api: httpx.Client

    def stop(self) -> None:
        self.api.close()
        self.app.state.services.link.stop()  # type: ignore[attr-defined]
        self.web.stop()

    def tag(self, epc: str, status: str = "active") -> int:
        r = self.api.post(f"/api/v1/sites/{SITE}/tags", json={
            "epc": epc, "vrn": "MH12AB1234", "status": status})
        assert r.status_code == 201, r.text
        return int(r.json()["rules_version"])

    def block(self, epc: str) -> int:
        r = self.api.post(f"/api/v1/tags/{epc}/block")
        assert r.status_code == 200, r.text
        return int(r.json()["rules_version"])

    @property
    def epoch(self) -> str:
        return self.app.state.services.rules.epoch()  # type: ignore[attr-defined]


def start_cloud(db: str, broker) -> Cloud:
    app = create_app(CloudSettings(db=db, mqtt_url=broker.url, admin_key=ADMIN,
                                   jobs_every_s=0, history_check_s=0.2), SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    app.state.services.link.start(app.state.services.rules)
    web.start()
    assert app.state.services.link.connected.wait(10)
    return Cloud(app, web, httpx.Client(base_url=web.url, timeout=10,
                                        headers={"X-Api-Key": ADMIN}))


def status(cache: RulesCache, epc: str) -> str | None:
    t = cache.tag(epc)
    return t.status.value if t else None


# Paid parking in the cloud, on a virtual clock -----------------------------------------------
T0 = datetime.fromisoformat("2026-12-01T10:00:00+05:30")
P = "/api/v1/parkings/tower-b"
CAR = {"vrn": "MH12AB1234", "type": "4W", "make": "Maruti"}


class Api:
    def __init__(self, c: httpx.Client, clock_file) -> None:
        self.c, self.clock_file = c, clock_file

    def ok(self, method: str, url: str, status: int = 200, **kw) -> dict:
        r = self.c.request(method, url, **kw)
        assert r.status_code == status, r.text
        return r.json()

    def refused(self, method: str, url: str, status: int, reason: str, **kw) -> str:
        r = self.c.request(method, url, **kw)
        assert r.status_code == status, r.text
        assert r.json()["detail"]["reason"] == reason, r.text
        return r.json()["detail"]["message"]

    def advance(self, **kw) -> None:
        FileClock.advance(self.clock_file, timedelta(**kw))
        self.ok("POST", "/api/v1/jobs/transitions")

    def sub(self, sid: str) -> dict:
        return self.ok("GET", f"/api/v1/subscriptions/{sid}")


@contextmanager
def parking_api(tmp_path: Path, cloud_db: str) -> Iterator[Api]:
    """The cloud on *cloud_db* on a virtual clock at T0, with the society's parking tower-b
    (inactive: ``activate``), its spaces and tariffs; a client of it."""
    clock_file = tmp_path / "clock.json"
    FileClock.set_time(clock_file, T0)
    app = create_app(CloudSettings(db=cloud_db, mqtt_url=None, jobs_every_s=0,
                                   admin_key=ADMIN), FileClock(clock_file))
    web = WebThread(app, "127.0.0.1", 0)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=10, headers={"X-Api-Key": ADMIN})
    a = Api(c, clock_file)
    a.app = app  # type: ignore[attr-defined]
    a.ok("POST", "/api/v1/sites", 201, json={"id": "green-acres"})
    for g, d in (("p-in", "entry"), ("p-out", "exit")):
        a.ok("POST", "/api/v1/sites/green-acres/gates", 201, json={"id": g, "direction": d})
    a.ok("POST", "/api/v1/sites/green-acres/parkings", 201, json={
        "id": "tower-b", "name": "Tower B basement", "refunds": True,
        "rules_text": "Park nose-in."})
    a.ok("POST", f"{P}/spaces", 201, json={"numbers": "4..7", "size": "small",
                                            "labels": ["near lift"]})
    for lo, hi, price in ((1, 15, 100), (16, 90, 80), (91, 180, 50)):
        a.ok("POST", f"{P}/tariffs", 201, json={"size": "small", "unit": "daily",
                                                 "lower": lo, "upper": hi, "price": price})
    a.ok("POST", f"{P}/tariffs", 201, json={"kind": "camera", "unit": "daily", "lower": 1,
                                             "upper": 180, "price": 20})
    yield a
    c.close()
    web.stop()


def activate(api: Api) -> None:
    """Tower-b at the society's two gates, activated."""
    for g in ("p-in", "p-out"):
        api.ok("PUT", f"/api/v1/sites/green-acres/gates/{g}/parking",
               json={"parking": "tower-b"})
    api.ok("POST", f"{P}/activate")


def staff_sub(api: Api, amount: int = 700, space: int = 4, **kw) -> dict:
    return api.ok("POST", f"{P}/subscriptions", 201, json={
        "space": space, "owner": "Flat B-402", "vehicles": [CAR], "amount": amount} | kw)


# The decision core's view of the gate, for its tables ----------------------------------------
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@dataclass
class View:
    tags: dict[str, TagRecord] = field(default_factory=dict)
    inside: dict[str, bool] = field(default_factory=dict)
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def tag(self, epc: str) -> TagRecord | None:
        return self.tags.get(epc)

    def is_inside(self, vrn: str) -> bool | None:
        return self.inside.get(vrn)

    def last_seen(self, gate_id: str, credential_key: str) -> datetime | None:
        return self.seen.get((gate_id, credential_key))

    recents: dict[tuple[str, str], RecentCredential] = field(default_factory=dict)
    plates: list[str] = field(default_factory=list)

    def recent(self, gate_id: str, kind: str) -> RecentCredential | None:
        return self.recents.get((gate_id, kind))

    def vehicle_tags(self, vrn: str) -> list[TagRecord]:
        return [t for t in self.tags.values() if t.vrn == vrn]

    def plate_index(self, site: str) -> PlateIndex:
        return PlateIndex(self.plates)

    parkings: dict[str, tuple[str, bool]] = field(default_factory=dict)  # gate → parking
    subs: list[SubRecord] = field(default_factory=list)

    def parking_of(self, gate_id: str) -> tuple[str, bool] | None:
        return self.parkings.get(gate_id)

    def subscriptions(self, parking: str, vrn: str) -> list[SubRecord]:
        return [s for s in self.subs if s.parking == parking and vrn in s.vrns]

    schedules: dict[str, Schedule] = field(default_factory=dict)
    vehicle_schedules: dict[str, str] = field(default_factory=dict)

    def vehicle_schedule(self, site: str, vrn: str) -> str | None:
        return self.vehicle_schedules.get(vrn)

    def schedule(self, site: str, name: str) -> Schedule | None:
        return self.schedules.get(name)


def tag(status=TagStatus.ACTIVE, site="green-acres", locked=False, until=None, vrn="MH12AB1234"):
    return TagRecord(EPC, site, status, vrn, locked, until)


IN = GateInfo("main-in", "green-acres", Direction.ENTRY)
OUT = GateInfo("main-out", "green-acres", Direction.EXIT)


# Reading what the daemons say ----------------------------------------------------------------
def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text → {(sample name, sorted labels): value}, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


# Scenarios -----------------------------------------------------------------------------------
def run_passing(path: Path, workdir: Path) -> list[dict]:
    """Run one scenario file; assert every line is ok; return the JSON lines."""
    out = io.StringIO()
    code = run_files([path], workdir, out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    failed = [x for x in lines if not x["ok"]]
    assert code == 0 and not failed, json.dumps(failed, indent=1)
    return lines


# Stacks --------------------------------------------------------------------------------------
class Stacks:
    """Builds ``Stack``s (broker, cloud, simulator, edge daemon) in *workdir* and stops every
    one it built: conftest's ``make_stack`` and ``make_module_stack`` fixtures."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.built: list[Stack] = []

    def __call__(self, gates: list[GateSpec], options: StackOptions | None = None, *,
                 start: bool = True, workdir: Path | None = None) -> Stack:
        """A stack of *gates* with *options*, started unless *start* is false (to set it up
        further first, then ``start()`` it); stopped when the fixture ends, or before with
        ``stop`` (``Stack.stop`` is not safe to call twice: a keypad's reader refuses it)."""
        stack = Stack(workdir or self.workdir, gates, options)
        self.built.append(stack)
        if start:
            stack.start()
        return stack

    def stop(self, stack: Stack) -> None:
        """Stop *stack* now (where a test's own clean-up must come after it), not again."""
        self.built.remove(stack)
        stack.stop()

    def stop_all(self) -> None:
        while self.built:
            self.stop(self.built[-1])
