"""A site's rules are streamed, never built whole: the JSON shape is the ``RulesSnapshot`` it
always was, the NDJSON shape (what the edge asks for) replaces a cache line by line, and a
snapshot cut short changes nothing. Real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from cloud.app import create_app
from cloud.settings import CloudSettings
from edge.store.cache import RulesCache
from edge.store.db import EdgeDB
from shared.clock import SystemClock
from shared.contract import RulesSnapshot
from shared.webthread import WebThread

ADMIN = "gpk_test_admin_key"
SITE = "green-acres"
N = 1200  # more than a page of the cloud's cursor and a chunk of the response


def _epc(i: int) -> str:
    return f"E2801160600002040000{i:04X}"


def _vrn(i: int) -> str:
    return f"MH12AB{i:04d}"


@pytest.fixture
def cloud(cloud_db):
    app = create_app(CloudSettings(db=cloud_db, mqtt_url=None, jobs_every_s=0,
                                   admin_key=ADMIN), SystemClock())
    web = WebThread(app, "127.0.0.1", 0)
    web.start()
    c = httpx.Client(base_url=web.url, timeout=30, headers={"X-Api-Key": ADMIN})
    c.post("/api/v1/sites", json={"id": SITE}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/gates", json={"id": "main-in", "direction": "entry"}
           ).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/vehicles/bulk", json={"vehicles": [
        {"vrn": _vrn(i), "type": "4W", "flat": f"B-{i}"} for i in range(N)]}).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/tags/bulk", json={"tags": [
        {"epc": _epc(i), "vrn": _vrn(i), "status": "active"} for i in range(N)]}
           ).raise_for_status()
    c.post(f"/api/v1/tags/{_epc(7)}/lock", json={"until": "2026-12-31T18:00:00+05:30"}
           ).raise_for_status()
    c.post(f"/api/v1/sites/{SITE}/accounts", json={"username": "ravi", "role": "guard",
                                                   "password": "booth-password-1"}
           ).raise_for_status()
    yield c, app
    c.close()
    web.stop()


def _sorted(s: RulesSnapshot) -> RulesSnapshot:
    return s.model_copy(update={"tags": sorted(s.tags, key=lambda t: t.epc),
                                "vehicles": sorted(s.vehicles, key=lambda v: v.vrn)})


def test_the_streamed_json_is_the_snapshot_it_always_was(cloud):
    c, app = cloud
    r = c.get(f"/api/v1/sites/{SITE}/rules")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    streamed = RulesSnapshot.model_validate_json(r.content)
    assert _sorted(streamed) == _sorted(app.state.services.rules.snapshot(SITE))
    assert len(streamed.tags) == N and streamed.epoch == app.state.services.rules.epoch()
    assert c.get("/api/v1/sites/nowhere/rules").status_code == 404


def test_ndjson_replaces_a_cache_and_a_cut_one_changes_nothing(cloud, tmp_path):
    c, app = cloud
    r = c.get(f"/api/v1/sites/{SITE}/rules", headers={"Accept": "application/x-ndjson"})
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = r.text.splitlines()
    assert len(lines) == 1 + 2 * N + 1 and '"end"' in lines[-1]
    db = EdgeDB(tmp_path / "edge.sqlite")
    try:
        cache = RulesCache(db)
        head = cache.apply_snapshot_lines(lines)
        assert head.version == app.state.services.rules.versions()[SITE]
        assert cache.counts()["tags"] == N and cache.counts()["vehicles"] == N
        locked = cache.tag(_epc(7))
        assert locked is not None and locked.locked and locked.locked_until is not None
        assert cache.flat(SITE, _vrn(3)) == "B-3"
        assert db.conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
        # A newer snapshot that is cut short (no end line, or counts that do not add up)
        # is refused whole: the rules held stay as they were.
        c.post(f"/api/v1/tags/{_epc(1)}/block").raise_for_status()
        newer = c.get(f"/api/v1/sites/{SITE}/rules",
                      headers={"Accept": "application/x-ndjson"}).text.splitlines()
        for cut in (newer[:-1], newer[:N] + newer[-1:]):
            with pytest.raises(ValueError, match="cut"):
                cache.apply_snapshot_lines(cut)
            assert cache.version(SITE) == head.version
            assert cache.tag(_epc(1)).status.value == "active"
            assert cache.counts()["tags"] == N
        cache.apply_snapshot_lines(newer)
        assert cache.tag(_epc(1)).status.value == "blocked"
    finally:
        db.close()
