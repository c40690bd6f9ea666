"""The MQTT contract: every topic and the payload model that travels on it.

Both the edge and the cloud import this module, so a topic or a field cannot drift apart.
The topics come from the topic map (``shared.wire.topics``), the events' data and the commands
from ``shared.wire.events`` and ``shared.wire.commands``. Documented in docs/mqtt.md, whose
topic table is generated from the map (a test keeps it equal).

Conventions: topic segments are ``[A-Za-z0-9_-]`` only; retained messages carry *state*
(``available``, ``rules/version``), never commands; events are QoS 1, not retained, with an
id unique per gate (``<gate>:<seq>``) that the cloud acknowledges.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
)

# The rules and the typed changes live in shared.rules; this contract re-exports them.
from shared.rules import (
    CHANGE_FIELDS,  # noqa: F401
    CHANGE_MODELS,  # noqa: F401
    CHANGES,  # noqa: F401
    OPS,  # noqa: F401
    SEGMENT_PATTERN,  # noqa: F401
    AccountDelete,  # noqa: F401
    AccountRule,
    AccountUpsert,  # noqa: F401
    Change,
    CodeConfig,
    CodeDelete,  # noqa: F401
    CodeRule,
    CodesConfig,  # noqa: F401
    CodeUpsert,  # noqa: F401
    GateRule,
    GateUpsert,  # noqa: F401
    ParkingRule,
    ParkingUpsert,  # noqa: F401
    PresenceRule,  # noqa: F401
    PresenceSet,  # noqa: F401
    ScheduleDelete,  # noqa: F401
    ScheduleRule,
    ScheduleUpsert,  # noqa: F401
    ScheduleWindow,  # noqa: F401
    SiteRule,
    SiteSettings,  # noqa: F401
    SubscriptionDelete,  # noqa: F401
    SubscriptionRule,
    SubscriptionUpsert,  # noqa: F401
    TagDelete,  # noqa: F401
    TagRule,
    TagUpsert,  # noqa: F401
    VehicleDelete,  # noqa: F401
    VehicleRule,
    VehicleUpsert,  # noqa: F401
    Weekday,  # noqa: F401
)
from shared.rules import WireModel as _Model
from shared.vocab import EventType
from shared.wire.commands import OpenCommand  # noqa: F401  (a payload of the topic map)
from shared.wire.events import DATA_MODELS, EventData
from shared.wire.topics import (  # noqa: F401  (the topic map; re-exported)
    ALL_TOPIC_PATTERNS,
    HA_PREFIX,
    PREFIX,
    SEGMENT,
    TOPIC_MAP,
    TOPICS,
    seg,
)

MAX_EVENT_BYTES = 64 * 1024  # an event's JSON, at most: the cloud refuses larger ones
MAX_DELTA_BYTES = 3 * 1024 * 1024  # larger deltas go out as a version bump (a snapshot)
MAX_BATCH_EVENTS = 500  # events in one EventBatch message, at most
MAX_BATCH_BYTES = 1024 * 1024  # an EventBatch's JSON, at most
SNAPSHOT_NDJSON = "application/x-ndjson"  # the media type of a snapshot sent line by line
class Topics:
    """Topic builders, made from the topic map (``shared.wire.topics``); each validates its
    segments so nothing publishes to a wildcard."""

    @staticmethod
    def edge_available(edge: str) -> str:
        """Retained ``online`` / ``offline`` (last will) / ``stopped`` of one edge box."""
        return TOPICS["edge_available"].build(edge=edge)

    @staticmethod
    def edge_events(edge: str) -> str:
        """Events from one edge box to the cloud (QoS 1, not retained)."""
        return TOPICS["edge_events"].build(edge=edge)

    @staticmethod
    def edge_acks(edge: str) -> str:
        """The cloud's acknowledgements of stored events (QoS 0, not retained)."""
        return TOPICS["edge_acks"].build(edge=edge)

    @staticmethod
    def edge_gates(edge: str) -> str:
        """Retained list of the gates one edge box serves (how the cloud routes commands)."""
        return TOPICS["edge_gates"].build(edge=edge)

    @staticmethod
    def edge_commands(edge: str) -> str:
        """Signed commands to one edge box (QoS 1, never retained)."""
        return TOPICS["edge_commands"].build(edge=edge)

    @staticmethod
    def edge_responses(edge: str) -> str:
        """The box's answers to commands, by command id (QoS 1, not retained)."""
        return TOPICS["edge_responses"].build(edge=edge)

    @staticmethod
    def edge_state(edge: str, *parts: str) -> str:
        """Retained state of one edge box for Home Assistant (``…/state/<gate>/<what>``)."""
        return TOPICS["edge_state"].build(edge=edge, path="/".join(seg(p) for p in parts))

    @staticmethod
    def ha_config(prefix: str, component: str, edge: str, object_id: str) -> str:
        """A retained Home Assistant discovery config: ``<prefix>/<component>/gatepost-<edge>/
        <object_id>/config`` (the node id scopes a box's configs in the broker's ACL)."""
        topic = TOPICS["ha_config"].build(component=component, edge=edge, object_id=object_id)
        return prefix + topic.removeprefix(HA_PREFIX)

    @staticmethod
    def rules_delta(site: str) -> str:
        """Rule changes of one site, from-version → to-version (QoS 1, not retained)."""
        return TOPICS["rules_delta"].build(site=site)

    @staticmethod
    def rules_version(site: str) -> str:
        """Retained current rules version of one site."""
        return TOPICS["rules_version"].build(site=site)

    # Subscriptions of the cloud (wildcards are for subscribing only).
    ALL_EVENTS = TOPICS["edge_events"].wildcard()
    ALL_AVAILABLE = TOPICS["edge_available"].wildcard()
    ALL_GATES = TOPICS["edge_gates"].wildcard()
    ALL_RESPONSES = TOPICS["edge_responses"].wildcard()
    ALL_VERSIONS = TOPICS["rules_version"].wildcard()

    @staticmethod
    def parse_edge(topic: str) -> str | None:
        """The edge id in an ``edge/<id>/…`` topic, or None."""
        parts = topic.split("/")
        if len(parts) >= 4 and "/".join(parts[:2]) == PREFIX and parts[2] == "edge":
            return parts[3]
        return None


Availability = Literal["online", "offline", "stopped"]


class Event(_Model):
    """One thing that happened at a gate. ``id`` is ``<gate>:<seq>``, unique and idempotent."""

    id: str = Field(max_length=100, description="'<gate>:<seq>', seq increasing per gate from 1")
    type: EventType
    site: str = Field(max_length=64)
    edge: str = Field(max_length=64)
    gate: str = Field(max_length=64)
    seq: int = Field(ge=1, le=2**62)
    at: AwareDatetime = Field(description="business time of the edge clock, ISO 8601 with its "
                              "offset (a time without one is refused)")
    data: dict[str, Any] = Field(default_factory=dict, description="the JSON object as it "
                                 "travels; ``body`` reads it as its type's model")

    @cached_property
    def body(self) -> EventData:
        """The data as the model of the event's type (``shared.wire.events``); a
        ``ValidationError`` when it does not fit. Read on first use: the edge's outbox keeps
        whatever it is given, and the cloud reads it at its door, event by event. (Not a
        field: it is neither compared nor sent; ``data`` is not changed after construction.)"""
        return DATA_MODELS[self.type].model_validate(self.data)


class EventBatch(_Model):
    """Several events of one box in one message (a box draining a backlog); the cloud treats
    each as if it had come alone, and acknowledges them as usual."""

    type: Literal["events"] = "events"
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)

    @staticmethod
    def join(events_json: Sequence[str]) -> str:
        """A batch of events already written as JSON (the edge's outbox writes them), with
        ``type`` first as a cloud before :func:`parse_events` looks for it; the same bytes
        as ``EventBatch(events=…)`` in compact JSON, without parsing each event again."""
        return '{"type":"events","events":[' + ",".join(events_json) + "]}"


def _message_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "batch" if kind == "events" else "event"


# What arrives on an ``events`` topic: one event, or a batch of them, told apart by ``type``.
_EVENTS_MESSAGE: TypeAdapter[Event | EventBatch] = TypeAdapter(Annotated[
    Annotated[Event, Tag("event")] | Annotated[EventBatch, Tag("batch")],
    Discriminator(_message_kind)])


def parse_events(payload: bytes | bytearray | str) -> list[Event]:
    """The events of one message on an ``events`` topic: a single event (at most
    ``MAX_EVENT_BYTES``) or an ``EventBatch`` (at most ``MAX_BATCH_BYTES``); ValueError (a
    ``ValidationError`` among them) for anything else. Each event's ``data`` is read against
    its type's model by the caller, one event at a time, so one event that does not fit never
    holds back the others of its batch."""
    if len(payload) > MAX_BATCH_BYTES:
        raise ValueError(f"{len(payload)} bytes, more than {MAX_BATCH_BYTES}")
    message = _EVENTS_MESSAGE.validate_json(payload)
    events = list(message.events) if isinstance(message, EventBatch) else [message]
    if not isinstance(message, EventBatch) and len(payload) > MAX_EVENT_BYTES:
        raise ValueError(f"{len(payload)} bytes, more than {MAX_EVENT_BYTES}")
    return events


class Ack(_Model):
    """Event ids the cloud has stored; the edge deletes them from its outbox."""

    type: Literal["ack"] = "ack"
    ids: list[str] = Field(max_length=100_000)


class EdgeGates(_Model):
    """The gates one box serves, retained so the cloud can route commands."""

    type: Literal["edge.gates"] = "edge.gates"
    edge: str = Field(max_length=64)
    gates: list[dict[str, str]] = Field(max_length=1000)


class CommandResponse(_Model):
    """A box's answer to one command."""

    transaction: str = Field(max_length=100, description="the command id")
    status: Literal["ok", "error"]
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class RulesDelta(_Model):
    """Changes that take a site's rules from ``from_version`` to ``to_version``."""

    type: Literal["rules.delta"] = "rules.delta"
    site: str
    from_version: int = Field(ge=0)
    to_version: int = Field(ge=1)
    changes: list[Change]
    epoch: str = Field("", max_length=64, description="the cloud's rules history this version "
                       "belongs to; a box holding another epoch takes a snapshot")


class RulesVersion(_Model):
    """The retained current version of a site's rules."""

    type: Literal["rules.version"] = "rules.version"
    site: str
    version: int = Field(ge=0)
    epoch: str = Field("", max_length=64, description="the cloud's rules history this version "
                       "belongs to; a box holding another epoch takes a snapshot")


class RulesSnapshot(_Model):
    """The full rule set of a site at one version (served over HTTP)."""

    site: str
    version: int
    gates: list[GateRule]
    vehicles: list[VehicleRule]
    tags: list[TagRule]
    accounts: list[AccountRule] = Field(default_factory=list)
    parkings: list[ParkingRule] = Field(default_factory=list)
    subscriptions: list[SubscriptionRule] = Field(default_factory=list)
    schedules: list[ScheduleRule] = Field(default_factory=list)
    codes: list[CodeRule] = Field(default_factory=list)
    code_config: CodeConfig | None = None
    epoch: str = Field("", max_length=64, description="the cloud's rules history this version "
                       "belongs to; a box holding another epoch takes a snapshot")
    settings: SiteRule | None = Field(None, description="the site's country, language, "
                                      "currency and zone (none from a cloud of before)")


class SnapshotHead(_Model):
    """The first line of a rules snapshot sent as NDJSON (``Accept: application/x-ndjson``):
    everything but the vehicles, tags and subscriptions, which follow a line each."""

    type: Literal["rules.snapshot"] = "rules.snapshot"
    site: str
    version: int
    epoch: str = ""
    gates: list[GateRule]
    accounts: list[AccountRule] = Field(default_factory=list)
    parkings: list[ParkingRule] = Field(default_factory=list)
    schedules: list[ScheduleRule] = Field(default_factory=list)
    code_config: CodeConfig | None = None
    settings: SiteRule | None = None


class SnapshotLine(_Model):
    """Every later line of an NDJSON snapshot: one vehicle, tag, subscription or code, or the
    last line, ``end``, with the count of each (a snapshot without it was cut short)."""

    vehicle: VehicleRule | None = None
    tag: TagRule | None = None
    subscription: SubscriptionRule | None = None
    code: CodeRule | None = None
    end: dict[str, int] | None = None

    def which(self) -> tuple[str, Any]:
        """The line's kind and item."""
        for kind in ("vehicle", "tag", "subscription", "code"):
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise ValueError("an empty snapshot line")
