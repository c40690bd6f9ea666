"""Rules can never go stale: a cloud restored from a backup, re-created or reset starts a new
rules epoch, and a box that sees another epoch (or a delta or version that does not follow what
it holds) replaces its cache from a snapshot. Real Mosquitto, real cloud over HTTP, the edge's
real link and cache; on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import paho.mqtt.client as mqtt
import pytest

from cloud.storage.copy import copy_database
from edge.adapters.cloud_link import CloudLink
from edge.store.cache import RulesCache
from edge.store.db import EdgeDB
from edge.store.outbox import Outbox
from gatepost.devstack.stack import wait_until
from shared.contract import RulesDelta, Topics
from shared.vocab import TagStatus
from tests.factories import SITE, T1, T2, T3, T4, Cloud, start_cloud, status


def first_sync(edge, cloud: Cloud, cache: RulesCache) -> tuple[CloudLink, int]:
    """A box started and holding the cloud's current rules; its link and that version."""
    link = edge()
    v = cloud.api.get("/api/v1/health").json()["rules"][SITE]
    wait_until(lambda: cache.version(SITE) == v, 10, what="first sync")
    return link, v


@pytest.fixture
def world(tmp_path, broker, cloud_db, request):
    cloud = start_cloud(cloud_db, broker)
    cloud.api.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    cloud.api.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH12AB1234"}
                   ).raise_for_status()
    key = cloud.api.post("/api/v1/edges", json={"id": "box-1", "sites": [SITE]}).json()["key"]
    cloud.tag(T1)
    cloud.tag(T2)
    db = EdgeDB(tmp_path / "edge.sqlite")
    cache = RulesCache(db)
    state = {"cloud": cloud}

    def edge() -> CloudLink:
        link = CloudLink("box-1", [SITE], mqtt_url=broker.url, http_url=state["cloud"].web.url,
                         outbox=Outbox(db, "box-1", {"main-in": SITE}), cache=cache,
                         api_key=key)
        link.start()
        state.setdefault("links", []).append(link)
        return link

    def fresh_db() -> str:
        if "postgresql" in request.node.callspec.id:
            return request.getfixturevalue("postgres").create_database()
        return str(tmp_path / f"cloud-{len(state)}.sqlite")

    yield state, edge, cache, fresh_db
    for link in state.get("links", []):
        link.stop()
    state["cloud"].stop()
    db.close()


def test_back_up_change_restore_change_the_edge_follows_the_restored_cloud(world, broker,
                                                                         tmp_path, cloud_db):
    state, edge, cache, fresh_db = world
    cloud: Cloud = state["cloud"]
    link, v = first_sync(edge, cloud, cache)
    first_epoch = cache.epoch(SITE)
    assert first_epoch == cloud.epoch and first_epoch
    backup = str(tmp_path / "backup.sqlite")
    copy_database(cloud_db, backup)                       # back up
    cloud.block(T1)                                       # change: T1 lost, T3 issued
    held = cloud.tag(T3)
    wait_until(lambda: cache.version(SITE) == held and status(cache, T1) == "blocked", 5,
               what="the changes at the edge")
    cloud.stop()                                          # restore into a new database
    restored = fresh_db()
    copy_database(backup, restored)
    cloud = state["cloud"] = start_cloud(restored, broker)
    link.http_url = cloud.web.url
    # The broker still holds version `held` of the old epoch, which the restored database has
    # not reached: the cloud starts a new epoch and the edge replaces its rules.
    wait_until(lambda: cache.epoch(SITE) == cloud.epoch != first_epoch, 10,
               what="the edge on the restored cloud's new epoch")
    assert cache.version(SITE) == v < held
    assert status(cache, T1) == "active" and status(cache, T3) is None
    assert cloud.app.state.services.link.counters["history_rewound"] >= 1
    after = cloud.tag(T4)                                 # change again: deltas flow
    cloud.block(T2)
    wait_until(lambda: status(cache, T2) == "blocked", 5, what="the next change at the edge")
    assert status(cache, T4) == "active" and cache.version(SITE) == after + 1
    assert link.counters["delta_applied"] >= 2


def test_an_edge_away_during_the_restore_resyncs_though_the_numbers_caught_up(
        world, broker, tmp_path, cloud_db):
    state, edge, cache, fresh_db = world
    cloud: Cloud = state["cloud"]
    link, _ = first_sync(edge, cloud, cache)
    backup = str(tmp_path / "backup.sqlite")
    copy_database(cloud_db, backup)
    cloud.block(T1)
    held = cloud.tag(T3)
    wait_until(lambda: cache.version(SITE) == held, 5, what="the changes at the edge")
    link.stop()                                           # the box is offline from here
    cloud.stop()
    restored = fresh_db()
    copy_database(backup, restored)
    cloud = state["cloud"] = start_cloud(restored, broker)
    cloud.tag(T4)                                         # the restored cloud catches up:
    assert cloud.block(T2) == held                        # same number, other rules
    link = edge()                                         # back online, even after restart
    wait_until(lambda: cache.epoch(SITE) == cloud.epoch, 10, what="the resync")
    assert cache.version(SITE) == held
    assert [status(cache, t) for t in (T1, T2, T3, T4)] == ["active", "blocked", None,
                                                           "active"]


def test_rules_reset_makes_every_edge_replace_its_rules(world, broker, cloud_db):
    state, edge, cache, _ = world
    cloud: Cloud = state["cloud"]
    link, v = first_sync(edge, cloud, cache)
    before = cache.epoch(SITE)
    snapshots = link.counters["snapshots"]
    out = subprocess.run([sys.executable, "-m", "gatepost.cli", "cloud", "rules-reset", "--db",
                          cloud_db, "--reason", "test"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert f'"was": "{before}"' in out.stdout
    # The running cloud notices the new epoch and republishes; the edge takes a snapshot.
    wait_until(lambda: cache.epoch(SITE) == cloud.epoch != before, 10, what="the new epoch")
    assert link.counters["snapshots"] == snapshots + 1 and cache.version(SITE) == v


def test_a_delta_that_jumps_or_a_version_that_went_back_brings_a_snapshot(world, broker):
    state, edge, cache, _ = world
    cloud: Cloud = state["cloud"]
    link, v = first_sync(edge, cloud, cache)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cloud-peer")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        snapshots = link.counters["snapshots"]
        jump = RulesDelta(site=SITE, from_version=v + 5, to_version=v + 6, changes=[],
                          epoch=cloud.epoch)
        pub.publish(Topics.rules_delta(SITE), jump.model_dump_json(), qos=1).wait_for_publish(5)
        wait_until(lambda: link.counters["snapshots"] == snapshots + 1, 5, what="snapshot")
        assert cache.version(SITE) == v and status(cache, T1) == TagStatus.ACTIVE.value
        # A live version behind the one held is old news (a snapshot went past it) ...
        cache.apply_delta(RulesDelta(site=SITE, from_version=v, to_version=v + 3, changes=[],
                                     epoch=cloud.epoch))
        behind = f'{{"site": "{SITE}", "version": {v}, "epoch": "{cloud.epoch}"}}'
        pub.publish(Topics.rules_version(SITE), behind, qos=1).wait_for_publish(5)
        pub.publish(Topics.rules_delta(SITE), RulesDelta(
            site=SITE, from_version=v + 3, to_version=v + 4, changes=[], epoch=cloud.epoch
        ).model_dump_json(), qos=1).wait_for_publish(5)  # a barrier: handled after it
        wait_until(lambda: cache.version(SITE) == v + 4, 5, what="the barrier delta")
        assert link.counters["version_rewound"] == 0
        # ... but the version the broker holds when a box (re)connects is the cloud's word.
        link.stop()
        pub.publish(Topics.rules_version(SITE), behind, qos=1, retain=True).wait_for_publish(5)
        link = edge()
        wait_until(lambda: cache.version(SITE) == v, 5, what="back to the cloud's version")
        assert link.counters["version_rewound"] == 1
    finally:
        pub.loop_stop()
        pub.disconnect()


@pytest.mark.stack
def test_gatepost_edge_resync_on_a_running_and_a_stopped_box(tmp_path, make_stack):
    from gatepost.devstack.stack import GateSpec

    stack = make_stack([GateSpec("main-in", SITE, "entry")])
    stack.cloud.post("/api/v1/sites", json={"id": SITE})
    r = stack.cloud.post(f"/api/v1/sites/{SITE}/vehicles", json={"vrn": "MH12AB1234"})
    stack.wait_edge_version(SITE, r.json()["rules_version"], 10)
    cfg = str(tmp_path / "edge.toml")

    def resync() -> str:
        out = subprocess.run([sys.executable, "-m", "gatepost.cli", "edge", "resync",
                              "--config", cfg, "--timeout", "20"], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    before = stack.edge_health()["counters"].get("snapshots", 0)
    assert '"resynced": ["green-acres"]' in resync()
    assert stack.edge_health()["counters"]["snapshots"] == before + 1
    stack.stop_edge()
    assert '"marked": ["green-acres"]' in resync()
    stack.start_edge()
    wait_until(lambda: stack.edge_health()["counters"].get("snapshots", 0) >= 1, 10,
               what="the snapshot at start")
    health = stack.edge_health()
    assert health["rules_epochs"][SITE] == stack.cloud.get(
        "/api/v1/health").json()["rules_epoch"]
