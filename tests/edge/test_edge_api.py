"""The edge daemon with no cloud reachable: it still decides; its local API."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from edge.config import EdgeConfig
from edge.daemon.wiring import EdgeDaemon
from edge.faces.api import create_app
from gatepost.devstack.stack import wait_until
from shared.clock import SystemClock
from shared.contract import RulesSnapshot, TagRule
from shared.vocab import Outcome, Reason, TagStatus
from shared.webthread import WebThread
from tests.factories import metric_samples

EPC = "E2801160600002040000AB01"


@pytest.fixture
def daemon(tmp_path: Path):
    cfg = EdgeConfig.model_validate({
        "id": "box1", "data_dir": str(tmp_path / "data"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "api": {"port": 0},
        "gates": [{"id": "main-in", "site": "green-acres", "direction": "entry"}],
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    assert d.cache is not None
    d.cache.apply_snapshot(RulesSnapshot(site="green-acres", version=3, gates=[], vehicles=[],
                                         tags=[TagRule(epc=EPC, site="green-acres",
                                                       status=TagStatus.ACTIVE,
                                                       vrn="MH12AB1234")]))
    web = WebThread(create_app(d), "127.0.0.1", 0)
    web.start()
    yield d, httpx.Client(base_url=web.url, timeout=10)
    web.stop()
    d.stop()


def test_decisions_go_on_with_no_cloud(daemon):
    d, _ = daemon
    first = d.handle_epc("main-in", EPC, time.monotonic_ns())
    again = d.handle_epc("main-in", EPC, time.monotonic_ns())
    stranger = d.handle_epc("main-in", "E28011606000020400000000", time.monotonic_ns())
    assert (first.outcome, first.reason) == (Outcome.OPEN, Reason.TAG_VALID)
    assert again.reason is Reason.DUPLICATE_READ
    assert stranger.reason is Reason.UNKNOWN_CREDENTIAL
    # read + decision for each decided read, the failed open (no relay wired) and its alert
    assert d.outbox is not None and d.outbox.size() == 6
    assert d.counters["open_failures"] == 1
    assert d.link is not None and not d.link.connected


def test_local_api_and_live_page(daemon):
    d, api = daemon
    page = api.get("/")  # the panel needs a signed-in guard (tests/edge/test_panel.py)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    h = api.get("/api/health").json()
    assert h["edge"] == "box1" and h["cloud_connected"] is False and h["cache"]["tags"] == 1
    last = h["last_event_id"]
    d.handle_epc("main-in", EPC, time.monotonic_ns())
    events = api.get("/api/events", params={"after": last, "wait": 2,
                                            "type": "decision"}).json()["events"]
    assert [e["reason"] for e in events] == ["tag_valid"]
    tag = api.get(f"/api/tags/{EPC.lower()}").json()
    assert tag["status"] == "active" and tag["locked"] is False
    assert api.get("/api/tags/ABCD").status_code == 404


def test_long_poll_returns_when_nothing_happens(daemon):
    _, api = daemon
    last = api.get("/api/health").json()["last_event_id"]
    t0 = datetime.now(UTC)
    r = api.get("/api/events", params={"after": last, "wait": 0.2}).json()
    assert r["events"] == [] and r["last"] == last
    assert (datetime.now(UTC) - t0).total_seconds() < 5


def test_a_failing_handler_does_not_stop_the_reader(tmp_path):
    from edge.adapters.reader import SerialReader
    from hardware_sim.reader import SimReader

    sim = SimReader("r", rate_hz=50)
    sim.start()
    calls: list[str] = []

    def explode(epc: str, ns: int) -> None:
        calls.append(epc)
        raise RuntimeError("database is locked")

    reader = SerialReader("r", sim.url, on_epc=explode)
    reader.start()
    try:
        sim.tag_enter(EPC)
        wait_until(lambda: len(calls) >= 5, 10, what="five reads")
        assert reader.handler_errors >= 5 and reader.connected
    finally:
        reader.stop()
        sim.stop()


def plate_daemon(tmp_path: Path, **alpr) -> EdgeDaemon:
    from shared.contract import VehicleRule
    from shared.vocab import VehicleType

    cfg = EdgeConfig.model_validate({
        "id": "box2", "data_dir": str(tmp_path / "d2"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "alpr": alpr,
        "gates": [{"id": "lane", "site": "green-acres", "direction": "entry"}],
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    assert d.cache is not None
    d.cache.apply_snapshot(RulesSnapshot(
        site="green-acres", version=2, gates=[],
        vehicles=[VehicleRule(vrn="MH12AB1234", type=VehicleType.W4)],
        tags=[TagRule(epc=EPC, site="green-acres", status=TagStatus.ACTIVE, vrn="MH12AB1234")]))
    d.rules_versions["green-acres"] = 2
    return d


def test_agreeing_reads_policy(tmp_path):
    import numpy as np

    from edge.core.types import PlateEvidence

    frame = np.zeros((90, 160, 3), np.uint8)
    d = plate_daemon(tmp_path, agreeing_reads=2, instant_score=0.9)
    try:
        weak = PlateEvidence((("MH12AB1Z34", 0.6),))  # a look-alike read
        assert d.handle_plate("lane", weak, frame, None, 0, final=False) is False
        assert d.handle_plate("lane", weak, frame, None, 0, final=False) is True
        assert d.counters["decision_plate_valid"] == 1
        assert list((tmp_path / "d2" / "evidence").glob("*.frame.jpg"))
    finally:
        d.stop()


def test_a_confident_exact_read_opens_at_once_and_a_lone_weak_one_does_not(tmp_path):
    import numpy as np

    from edge.core.types import PlateEvidence

    frame = np.zeros((90, 160, 3), np.uint8)
    d = plate_daemon(tmp_path, agreeing_reads=3)
    try:
        sure = PlateEvidence((("MH12AB1234", 0.97),))
        assert d.handle_plate("lane", sure, frame, None, 0, final=False) is True
        assert d.counters["decision_plate_valid"] == 1
        d.lanes["lane"].clock = FixedLater(d.clock)  # a later visit, past the de-dup hold
        weak = PlateEvidence((("MH12AB1Z34", 0.6),))
        assert d.handle_plate("lane", weak, frame, None, 0, final=True) is True
        assert d.counters["decision_low_confidence"] == 1
    finally:
        d.stop()


class FixedLater:
    """The wrapped clock, one hour on."""

    def __init__(self, clock) -> None:
        self.clock = clock

    def now(self):
        from datetime import timedelta

        return self.clock.now() + timedelta(hours=1)


def test_metrics_for_prometheus(daemon):
    d, api = daemon
    for epc in (EPC, EPC, "E28011606000020400000000"):
        d.handle_epc("main-in", epc, time.monotonic_ns())
    r = api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = metric_samples(r.text)

    def decided(outcome: str, reason: str) -> float:
        return m[("gatepost_edge_decisions_total", (("gate", "main-in"), ("kind", "tag"),
                                                    ("outcome", outcome), ("reason", reason)))]

    assert decided("open", "tag_valid") == 1
    assert decided("ignored", "duplicate_read") == 1
    assert decided("deny", "unknown_credential") == 1
    assert m[("gatepost_edge_relay_open_failures_total", ())] == 1  # no relay wired
    assert m[("gatepost_edge_cloud_connected", ())] == 0
    assert m[("gatepost_edge_rules_version", (("site", "green-acres"),))] == 3
    assert m[("gatepost_edge_outbox_events", ())] == 6
    assert m[("gatepost_edge_outbox_oldest_age_seconds", ())] >= 0
    assert m[("gatepost_edge_panel_sessions", ())] == 0
    # No open was acknowledged, so no latency was observed (tests/e2e/test_metrics.py has some).
    assert not any(name.startswith("gatepost_edge_open_latency") for name, _ in m)


def test_a_device_that_never_came_up_is_on_the_alerts_page(tmp_path: Path):
    from edge.faces.panel.queries import alerts
    from gatepost.devstack.broker import free_port

    cfg = EdgeConfig.model_validate({
        "id": "box1", "data_dir": str(tmp_path / "data"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "api": {"port": 0}, "policy": {"device_wait_s": 0.3},
        "gates": [{"id": "main-in", "site": "green-acres", "direction": "entry",
                   "reader": {"url": f"socket://127.0.0.1:{free_port()}"}}],  # nobody there
    })
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    try:
        # "now" reads the lane's state, set just before the fault event is written.
        wait_until(lambda: "main-in: reader down" in alerts(d)["now"] and alerts(d)["history"],
                   10, what="the boot failure on the Alerts page")
        history = alerts(d)["history"]
        assert any(e["data"].get("device") == "reader" for e in history)
    finally:
        d.stop()
