"""The topic map is the one source of the builders, the subscriptions, the ACL and the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.society.provision import EdgeGrant, acl_text
from shared.contract import Topics
from shared.wire.topics import TOPIC_MAP, TOPICS, Party, acl, docs_table, subscriptions

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_docs_table_is_the_generated_one():
    assert docs_table() in (DOCS / "mqtt.md").read_text()


def test_home_assistant_topics_are_in_the_map():
    patterns = [t.pattern for t in TOPIC_MAP]
    assert "gatepost/v1/edge/{edge}/state/{path}" in patterns
    assert "homeassistant/{component}/gatepost-{edge}/{object_id}/config" in patterns
    assert "homeassistant/status" in patterns


@pytest.mark.parametrize("topic", TOPIC_MAP, ids=[t.name for t in TOPIC_MAP])
def test_every_topic_has_a_builder_that_fills_its_pattern(topic):
    values = {"edge": "box-1", "site": "green-acres", "component": "sensor",
              "object_id": "main-in_barrier", "path": "main-in/barrier"}
    if topic.name == "ha_status":
        return
    builder = getattr(Topics, topic.name)
    args = {"edge_state": ("box-1", "main-in", "barrier"),
            "ha_config": ("homeassistant", "sensor", "box-1", "main-in_barrier")}.get(
        topic.name, (values[topic.fields[0]],))
    assert builder(*args) == topic.pattern.format(**values)


def test_builders_refuse_wildcards_and_bad_segments():
    for bad in ("+", "#", "a/b", "", "x" * 65):
        with pytest.raises(ValueError):
            Topics.edge_events(bad)
    with pytest.raises(ValueError):
        Topics.edge_state("box-1", "main-in", "#")
    assert Topics.edge_state("box-1") == "gatepost/v1/edge/box-1/state"
    assert Topics.ha_config("ha2", "sensor", "box-1", "o") == "ha2/sensor/gatepost-box-1/o/config"


def test_subscriptions_of_each_side():
    assert sorted(subscriptions(Party.CLOUD, share="$share/g/")) == sorted([
        ("$share/g/gatepost/v1/edge/+/events", 0), ("gatepost/v1/edge/+/available", 1),
        ("gatepost/v1/edge/+/gates", 1), ("gatepost/v1/edge/+/responses", 1),
        ("gatepost/v1/site/+/rules/version", 1)])
    assert subscriptions(Party.EDGE, edge="b", sites=["s1", "s2"]) == [
        ("gatepost/v1/edge/b/acks", 1), ("gatepost/v1/edge/b/commands/open", 1),
        ("gatepost/v1/site/s1/rules/delta", 1), ("gatepost/v1/site/s1/rules/version", 1),
        ("gatepost/v1/site/s2/rules/delta", 1), ("gatepost/v1/site/s2/rules/version", 1)]


def test_the_acl_as_it_was_written_by_hand():
    assert acl(Party.EDGE, edges=["b"], sites=["s1"]) == [
        "topic write gatepost/v1/edge/b/available", "topic write gatepost/v1/edge/b/events",
        "topic write gatepost/v1/edge/b/gates", "topic write gatepost/v1/edge/b/responses",
        "topic write gatepost/v1/edge/b/state/#", "topic write homeassistant/+/gatepost-b/#",
        "topic read gatepost/v1/edge/b/acks", "topic read gatepost/v1/edge/b/commands/#",
        "topic read gatepost/v1/site/s1/rules/delta",
        "topic read gatepost/v1/site/s1/rules/version"]
    assert sorted(acl(Party.HA, edges=["b"])) == sorted([
        "topic write homeassistant/status", "topic read homeassistant/+/gatepost-b/#",
        "topic read gatepost/v1/edge/b/state/#", "topic read gatepost/v1/edge/b/available"])
    text = acl_text([EdgeGrant("b", ("s1",))])
    assert "user homeassistant-s1\ntopic write homeassistant/status\n" in text
    assert "user gatepost-cloud\ntopic readwrite gatepost/v1/#\n" in text


def test_names_are_unique():
    assert len(TOPICS) == len(TOPIC_MAP)


def test_every_topic_can_be_granted():
    """The ACL grants a topic by a filter naming no box or site, one box, or one site."""
    assert {t.name: t.scope for t in TOPIC_MAP if t.scope not in ((), ("edge",), ("site",))} == {}


@pytest.mark.parametrize("topic", [t for t in TOPIC_MAP if t.model], ids=lambda t: t.name)
def test_each_payload_is_a_model_of_the_contract(topic):
    from pydantic import BaseModel

    import shared.contract

    model = getattr(shared.contract, topic.model)
    assert issubclass(model, BaseModel) and f"`{topic.model}`" in topic.payload
