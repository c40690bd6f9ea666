"""The edge's SQLite cache and outbox (in-memory and on disk)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from edge.store.cache import Presence, RulesCache
from edge.store.db import EdgeDB
from edge.store.outbox import Outbox
from shared.contract import (
    Event,
    GateRule,
    RulesDelta,
    RulesSnapshot,
    TagDelete,
    TagRule,
    TagUpsert,
    VehicleRule,
    VehicleUpsert,
)
from shared.vocab import Direction, EventType, TagStatus, VehicleType

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
SITE = "green-acres"


def tag(epc: str, **kw) -> TagRule:
    return TagRule(**{"epc": epc, "site": SITE, "status": TagStatus.ACTIVE, "vrn": "MH12AB1234",
                      **kw})


@pytest.fixture(params=["memory", "file"])
def db(request, tmp_path):
    d = EdgeDB(":memory:" if request.param == "memory" else tmp_path / "edge.sqlite")
    yield d
    d.close()


def snapshot(version: int, *tags: TagRule) -> RulesSnapshot:
    return RulesSnapshot(site=SITE, version=version,
                         gates=[GateRule(id="main-in", direction=Direction.ENTRY)],
                         vehicles=[VehicleRule(vrn="MH12AB1234", type=VehicleType.W4)],
                         tags=list(tags))


def test_snapshot_then_deltas(db):
    cache = RulesCache(db)
    assert cache.version(SITE) == 0 and cache.tag("AA01") is None
    cache.apply_snapshot(snapshot(3, tag("AA01"), tag("AA02")))
    assert cache.version(SITE) == 3 and cache.tag("aa01").epc == "AA01"
    d4 = RulesDelta(site=SITE, from_version=3, to_version=4, changes=[
        TagUpsert(tag=tag("AA01", locked=True, locked_until=NOW)),
        TagDelete(key="AA02")])
    assert cache.apply_delta(d4) == "applied"
    t = cache.tag("AA01")
    assert t.locked and t.locked_until == NOW and cache.tag("AA02") is None
    assert cache.apply_delta(d4) == "stale"
    gap = RulesDelta(site=SITE, from_version=6, to_version=7, changes=[])
    assert cache.apply_delta(gap) == "gap" and cache.version(SITE) == 4
    assert cache.flat(SITE, "MH12AB1234") is None
    d5 = RulesDelta(site=SITE, from_version=4, to_version=5, changes=[VehicleUpsert(
        vehicle=VehicleRule(vrn="MH12AB1234", type=VehicleType.W4, flat="B-402"))])
    assert cache.apply_delta(d5) == "applied" and cache.flat(SITE, "MH12AB1234") == "B-402"


def test_snapshot_replaces_only_its_site(db):
    cache = RulesCache(db)
    cache.apply_snapshot(snapshot(1, tag("AA01")))
    other = RulesSnapshot(site="blue-oaks", version=1, gates=[], vehicles=[],
                          tags=[TagRule(epc="BB01", site="blue-oaks", status=TagStatus.ACTIVE)])
    cache.apply_snapshot(other)
    cache.apply_snapshot(snapshot(2))
    assert cache.tag("AA01") is None and cache.tag("BB01").site == "blue-oaks"


def test_outbox_ids_are_per_gate_and_leave_on_ack(db):
    box = Outbox(db, "edge-1", {"main-in": SITE, "main-out": SITE})
    a = box.record("main-in", EventType.READ, NOW, {})
    b = box.record("main-in", EventType.DECISION, NOW, {"outcome": "open"})
    c = box.record("main-out", EventType.PASS, NOW, {})
    assert (a.id, b.id, c.id) == ("main-in:1", "main-in:2", "main-out:1")
    assert [e.id for e in box.pending()] == ["main-in:1", "main-in:2", "main-out:1"]
    assert [e.id for e in box.pending(exclude={"main-in:1"})] == ["main-in:2", "main-out:1"]
    assert box.ack(["main-in:1", "main-in:1", "nope:9"]) == 1
    assert box.size() == 2 and box.last_seq() == {"main-in": 2, "main-out": 1}


def test_the_publishers_json_is_the_event_as_stored(db):
    """SQLite writes the publisher's JSON; it must be the event the box recorded, whatever
    its data holds: lifted columns, non-text values left in place, nested objects, unicode,
    numbers as written."""
    box = Outbox(db, "edge-1", {"main-in": SITE, "p-out": "other-site"})
    datas = [
        {},
        {"outcome": "open", "reason": "tag_valid", "vrn": "MH12AB1234", "direction": "entry",
         "credential": {"kind": "tag", "value": "E2801160600000000000002A"}, "detail": ""},
        {"outcome": "deny", "vrn": None, "credential": {"kind": "plate", "value": "KA01",
                                                          "confidence": 0.873456789012345}},
        {"credential": {"kind": "tag"}, "reason": 7, "alerts": ["loop_stuck"],
         "flat": {"tower": "Ā-1", "no": "१०१"}},
        {"credential": "E28011606000", "vrn": "DL3CAB1234", "n": 12345678901234567,
         "quote": 'he said "open"\n', "x": 1.0, "neg": -0.5e-7, "t": True, "f": False},
    ]
    events = [box.record("main-in" if i % 2 else "p-out", EventType.DECISION, NOW, d)
              for i, d in enumerate(datas)]
    sent = box.waiting_json(0, 100)
    assert [(n, eid) for n, eid, _ in sent] == [
        (n, f["id"]) for n, f in box._waiting(0, 100)]
    assert [Event.model_validate_json(j) for _, _, j in sent] == events  # as the cloud reads
    assert [json.loads(j)["data"] for _, _, j in sent] == datas
    assert [eid for _, eid, _ in box.waiting_json(sent[1][0], 2)] == [e.id for e in events[2:4]]


def test_a_failed_transaction_leaves_no_gap(db):
    box = Outbox(db, "edge-1", {"main-in": SITE})
    with pytest.raises(RuntimeError), db.write() as c:
        box.add(c, "main-in", EventType.READ, NOW, {})
        raise RuntimeError("crash mid-transaction")
    assert box.record("main-in", EventType.READ, NOW, {}).id == "main-in:1"


def test_outbox_survives_reopen(tmp_path):
    d = EdgeDB(tmp_path / "e.sqlite")
    Outbox(d, "edge-1", {"g": SITE}).record("g", EventType.READ, NOW, {"x": 1})
    d.close()
    d2 = EdgeDB(tmp_path / "e.sqlite")
    box = Outbox(d2, "edge-1", {"g": SITE})
    assert [e.data for e in box.pending()] == [{"x": 1}]
    assert box.record("g", EventType.READ, NOW, {}).seq == 2
    d2.close()


def test_presence(db):
    p = Presence(db)
    assert p.is_inside("MH12AB1234") is None
    with db.write() as c:
        p.set(c, "MH12AB1234", True, NOW)
    assert p.is_inside("MH12AB1234") is True


def test_a_delta_of_another_epoch_is_never_applied(db):
    cache = RulesCache(db)
    cache.apply_snapshot(snapshot(5, tag("AA01")).model_copy(update={"epoch": "e1"}))
    assert cache.epoch(SITE) == "e1"
    block = [TagUpsert(tag=tag("AA01", status=TagStatus.BLOCKED))]
    # The numbers follow, the history does not: a snapshot is needed, nothing is applied.
    other = RulesDelta(site=SITE, from_version=5, to_version=6, changes=block, epoch="e2")
    assert cache.apply_delta(other) == "epoch"
    assert cache.version(SITE) == 5 and cache.tag("AA01").status is TagStatus.ACTIVE
    same = other.model_copy(update={"epoch": "e1"})
    assert cache.apply_delta(same) == "applied" and cache.tag("AA01").status is TagStatus.BLOCKED
    # A snapshot replaces what is held even with a lower number (a restored cloud).
    cache.apply_snapshot(snapshot(2, tag("AA01")).model_copy(update={"epoch": "e2"}))
    assert (cache.version(SITE), cache.epoch(SITE)) == (2, "e2")
    assert cache.tag("AA01").status is TagStatus.ACTIVE


def test_resync_marks_every_site_for_a_snapshot(db):
    cache = RulesCache(db)
    cache.apply_snapshot(snapshot(5, tag("AA01")).model_copy(update={"epoch": "e1"}))
    assert cache.request_resync() == [SITE]
    assert cache.epoch(SITE) == "!resync" and cache.version(SITE) == 5
    delta = RulesDelta(site=SITE, from_version=5, to_version=6, changes=[], epoch="e1")
    assert cache.apply_delta(delta) == "epoch"


def test_an_older_files_outbox_and_journal_become_the_event_log(tmp_path):
    from edge.store.db import MIGRATIONS
    from shared.db import ThreadLocalDB

    path = tmp_path / "edge.sqlite"
    old = ThreadLocalDB(path, [m for m in MIGRATIONS if m.name != "011_event_log"])
    ev = {"id": "main-in:2", "type": "decision", "site": SITE, "edge": "box-1",
          "gate": "main-in", "seq": 2, "at": "2026-11-24T08:00:01+00:00",
          "data": {"outcome": "open", "vrn": "MH12AB1234"}}
    gone = {**ev, "id": "main-in:3", "seq": 3, "at": "2026-11-24T08:00:02+00:00",
            "data": {"outcome": "deny"}}
    with old.write() as c:
        c.execute("INSERT INTO journal(id, gate, type, at, outcome, vrn, payload) VALUES "
                  "('main-in:1', 'main-in', 'decision', '2026-11-24T08:00:00+00:00', 'open', "
                  "'MH12AB1234', '{\"outcome\": \"open\", \"vrn\": \"MH12AB1234\"}')")
        c.execute("INSERT INTO journal(id, gate, type, at, outcome, vrn, payload) VALUES "
                  "('main-in:2', 'main-in', 'decision', ?, 'open', 'MH12AB1234', ?)",
                  (ev["at"], '{"outcome": "open", "vrn": "MH12AB1234"}'))
        for e in (ev, gone):  # main-in:3's journal row was pruned, it was never acked
            c.execute("INSERT INTO outbox(id, gate, seq, type, payload, created_at) VALUES "
                      "(?, 'main-in', ?, 'decision', ?, ?)", (e["id"], e["seq"],
                                                            json.dumps(e), e["at"]))
    old.close()
    db = EdgeDB(path)
    try:
        box = Outbox(db, "box-1", {"main-in": SITE})
        assert [(e.id, e.data) for e in box.pending()] == [
            ("main-in:2", {"outcome": "open", "vrn": "MH12AB1234"}),
            ("main-in:3", {"outcome": "deny"})]
        assert db.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 3
        assert db.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    finally:
        db.close()


def test_pruning_gives_space_back_and_the_bound_drops_history_not_the_queue(tmp_path):
    db = EdgeDB(tmp_path / "edge.sqlite")
    try:
        box = Outbox(db, "box-1", {"main-in": SITE})
        with db.write() as c:
            ids = [box.add(c, "main-in", EventType.DECISION, NOW, {"detail": "x" * 400}).id
                   for _ in range(20_000)]
        box.ack(ids[:15_000])
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        on_disk = (tmp_path / "edge.sqlite").stat().st_size
        full = box.file_bytes()
        box.max_bytes = full // 2
        box.prune_journal(datetime(2000, 1, 1, tzinfo=UTC))  # nothing is old enough
        assert box.size() == 5_000  # every unsent event is still there
        left = db.conn.execute("SELECT count(*) FROM events WHERE acked = 1").fetchone()[0]
        assert left < 15_000 and box.file_bytes() <= box.max_bytes
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert (tmp_path / "edge.sqlite").stat().st_size < on_disk * 0.6  # pages went back
        box.max_bytes = 1024  # now only the queue is left: nothing is dropped, it says so
        box.prune_journal(datetime(2000, 1, 1, tzinfo=UTC))
        assert box.size() == 5_000 and box.full
    finally:
        db.close()
