"""Typed events keep the wire: the JSON of every type of event, captured from scenario runs
(and from the edge's builders) before the models, is pinned byte for byte."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from edge.store.db import EdgeDB
from edge.store.outbox import Outbox
from shared.contract import MAX_BATCH_BYTES, MAX_EVENT_BYTES, Event, EventBatch, parse_events
from shared.vocab import Direction, EventType
from shared.wire.events import (
    DATA_MODELS,
    AlertData,
    AlertKind,
    DecisionData,
    OpenData,
    PassData,
    PresenceData,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LINES = (FIXTURES / "wire_events.jsonl").read_text().splitlines()


def test_every_type_of_event_is_pinned():
    assert {json.loads(line)["type"] for line in LINES} == {t.value for t in EventType}


@pytest.mark.parametrize("line", LINES)
def test_the_cloud_reads_each_event_as_its_type(line):
    event = Event.model_validate_json(line)
    assert type(event.body) is DATA_MODELS[event.type]
    assert event.body.wire() == json.loads(line)["data"]


@pytest.mark.parametrize("line", LINES)
def test_the_edge_writes_the_same_bytes_from_the_model(line):
    raw = json.loads(line)
    body = DATA_MODELS[EventType(raw["type"])].model_validate(raw["data"])
    db = EdgeDB(":memory:")
    outbox = Outbox(db, raw["edge"], {raw["gate"]: raw["site"]})
    with db.write() as c:
        if raw["seq"] > 1:
            c.execute("INSERT INTO gate_seq(gate, seq) VALUES (?, ?)", (raw["gate"],
                                                                       raw["seq"] - 1))
        outbox.add(c, raw["gate"], EventType(raw["type"]), datetime.fromisoformat(raw["at"]),
                   body.wire())
    assert outbox.waiting_json()[0][2] == line


def test_typed_readings_and_their_defaults():
    old_pass = Event(id="g:1", type=EventType.PASS, site="s", edge="e", gate="g", seq=1,
                     at=datetime.fromisoformat("2026-11-24T10:00:00+05:30"),
                     data={"vrn": "MH12AB1234", "decision": "g:0"})
    assert isinstance(old_pass.body, PassData)
    assert old_pass.body.direction == Direction.ENTRY  # a box before directions
    assert old_pass.body.wire() == {"vrn": "MH12AB1234", "decision": "g:0"}
    newer = Event(id="g:2", type=EventType.ALERT, site="s", edge="e", gate="g", seq=2,
                  at=datetime.fromisoformat("2026-11-24T10:00:00+05:30"),
                  data={"alert": "a_kind_of_tomorrow", "what": {"x": 1}})
    assert isinstance(newer.body, AlertData) and newer.body.wire() == newer.data
    odd = Event(id="g:3", type=EventType.OPEN, site="s", edge="e", gate="g", seq=3,
                at=datetime.fromisoformat("2026-11-24T10:00:00+05:30"), data={"ok": "perhaps"})
    with pytest.raises(ValueError):
        odd.body  # noqa: B018
    # A message is read whole; the cloud refuses such an event alone, at its door (the others
    # of its batch are stored: tests/cloud/test_cloud_sync.py).
    assert [e.id for e in parse_events(odd.model_dump_json().encode())] == ["g:3"]
    # A newer box's new outcome or direction is read, not refused.
    later = Event(id="g:4", type=EventType.DECISION, site="s", edge="e", gate="g", seq=4,
                  at=datetime.fromisoformat("2026-11-24T10:00:00+05:30"),
                  data={"outcome": "queued", "direction": "sideways", "reason": "new_reason"})
    assert isinstance(later.body, DecisionData) and later.body.wire() == later.data


def test_models_build_what_the_builders_wrote():
    assert OpenData(decision="g:2", ok=True, vrn=None, pulse_ms=1000, read_to_ack_ms=2.5,
                    error="").wire() == {"decision": "g:2", "ok": True, "vrn": None,
                                         "pulse_ms": 1000, "read_to_ack_ms": 2.5, "error": ""}
    assert list(AlertData(alert=AlertKind.BARRIER_FAILED, decision="g:2",
                          detail="x").wire()) == ["alert", "decision", "detail"]
    assert list(PresenceData(vrn="V", inside=True, by="u", was=False).wire()) == \
        ["vrn", "inside", "by", "was"]
    assert DecisionData.model_validate({"credential": {"kind": "tag", "value": "E"},
                                        "outcome": "open"}).credential.kind == "tag"


def test_a_batch_is_its_model_and_the_same_bytes():
    lines = LINES[:3]
    payload = EventBatch.join(lines)
    assert payload == '{"type":"events","events":[' + ",".join(lines) + "]}"
    assert [e.id for e in parse_events(payload.encode())] == [json.loads(x)["id"] for x in lines]
    assert [e.id for e in parse_events(LINES[0].encode())] == [json.loads(LINES[0])["id"]]
    # written by another hand, with its type last, it is still a batch
    spaced = json.dumps({"events": [json.loads(x) for x in lines], "type": "events"})
    assert len(parse_events(spaced.encode())) == 3
    with pytest.raises(ValueError):
        parse_events(b"{" + b" " * (MAX_BATCH_BYTES + 1) + b"}")
    big = json.loads(LINES[0])
    big["data"]["detail"] = "x" * MAX_EVENT_BYTES
    with pytest.raises(ValueError):
        parse_events(json.dumps(big).encode())
    with pytest.raises(ValueError):
        parse_events(b'{"type":"events","events":[]}')


def test_every_alert_kind_is_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "mqtt.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `alert` |"))
    assert [k for k in AlertKind if f"`{k.value}`" not in row] == []
