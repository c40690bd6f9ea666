"""The MQTT contract: every topic and the payload model that travels on it.

Both the edge and the cloud import this module, so a topic or a field cannot drift apart.
Documented in docs/mqtt.md; a test checks each topic here is documented there.

Conventions: topic segments are ``[A-Za-z0-9_-]`` only; retained messages carry *state*
(``available``, ``rules/version``), never commands; events are QoS 1, not retained, with an
id unique per gate (``<gate>:<seq>``) that the cloud acknowledges.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared import schedule as schedules
from shared.vocab import Direction, EventType, TagStatus, VehicleType

PREFIX = "gatepost/v1"
MAX_EVENT_BYTES = 64 * 1024  # an event's JSON, at most: the cloud refuses larger ones
MAX_DELTA_BYTES = 3 * 1024 * 1024  # larger deltas go out as a version bump (a snapshot)
MAX_BATCH_EVENTS = 500  # events in one EventBatch message, at most
MAX_BATCH_BYTES = 1024 * 1024  # an EventBatch's JSON, at most
SNAPSHOT_NDJSON = "application/x-ndjson"  # the media type of a snapshot sent line by line
SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _seg(value: str) -> str:
    if not SEGMENT.match(value):
        raise ValueError(f"{value!r} is not a valid topic segment ([A-Za-z0-9_-], 1–64 chars)")
    return value


class Topics:
    """Topic builders; each validates its segments so nothing publishes to a wildcard."""

    @staticmethod
    def edge_available(edge: str) -> str:
        """Retained ``online`` / ``offline`` (last will) / ``stopped`` of one edge box."""
        return f"{PREFIX}/edge/{_seg(edge)}/available"

    @staticmethod
    def edge_events(edge: str) -> str:
        """Events from one edge box to the cloud (QoS 1, not retained)."""
        return f"{PREFIX}/edge/{_seg(edge)}/events"

    @staticmethod
    def edge_acks(edge: str) -> str:
        """The cloud's acknowledgements of stored events (QoS 1, not retained)."""
        return f"{PREFIX}/edge/{_seg(edge)}/acks"

    @staticmethod
    def edge_gates(edge: str) -> str:
        """Retained list of the gates one edge box serves (how the cloud routes commands)."""
        return f"{PREFIX}/edge/{_seg(edge)}/gates"

    @staticmethod
    def edge_commands(edge: str) -> str:
        """Signed commands to one edge box (QoS 1, never retained)."""
        return f"{PREFIX}/edge/{_seg(edge)}/commands/open"

    @staticmethod
    def edge_responses(edge: str) -> str:
        """The box's answers to commands, by command id (QoS 1, not retained)."""
        return f"{PREFIX}/edge/{_seg(edge)}/responses"

    @staticmethod
    def edge_state(edge: str, *parts: str) -> str:
        """Retained state of one edge box for Home Assistant (``…/state/<gate>/<what>``)."""
        return "/".join([f"{PREFIX}/edge/{_seg(edge)}/state", *(_seg(p) for p in parts)])

    @staticmethod
    def ha_config(prefix: str, component: str, edge: str, object_id: str) -> str:
        """A retained Home Assistant discovery config: ``<prefix>/<component>/gatepost-<edge>/
        <object_id>/config`` (the node id scopes a box's configs in the broker's ACL)."""
        return f"{prefix}/{component}/gatepost-{_seg(edge)}/{_seg(object_id)}/config"

    @staticmethod
    def rules_delta(site: str) -> str:
        """Rule changes of one site, from-version → to-version (QoS 1, not retained)."""
        return f"{PREFIX}/site/{_seg(site)}/rules/delta"

    @staticmethod
    def rules_version(site: str) -> str:
        """Retained current rules version of one site."""
        return f"{PREFIX}/site/{_seg(site)}/rules/version"

    # Subscriptions of the cloud (wildcards are for subscribing only).
    ALL_EVENTS = f"{PREFIX}/edge/+/events"
    ALL_AVAILABLE = f"{PREFIX}/edge/+/available"
    ALL_GATES = f"{PREFIX}/edge/+/gates"
    ALL_RESPONSES = f"{PREFIX}/edge/+/responses"
    ALL_VERSIONS = f"{PREFIX}/site/+/rules/version"

    @staticmethod
    def parse_edge(topic: str) -> str | None:
        """The edge id in an ``edge/<id>/…`` topic, or None."""
        parts = topic.split("/")
        if len(parts) >= 4 and "/".join(parts[:2]) == PREFIX and parts[2] == "edge":
            return parts[3]
        return None


ALL_TOPIC_PATTERNS = [
    f"{PREFIX}/edge/{{edge}}/available",
    f"{PREFIX}/edge/{{edge}}/events",
    f"{PREFIX}/edge/{{edge}}/acks",
    f"{PREFIX}/edge/{{edge}}/gates",
    f"{PREFIX}/edge/{{edge}}/commands/open",
    f"{PREFIX}/edge/{{edge}}/responses",
    f"{PREFIX}/site/{{site}}/rules/delta",
    f"{PREFIX}/site/{{site}}/rules/version",
]

Availability = Literal["online", "offline", "stopped"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    data: dict[str, Any] = Field(default_factory=dict)


class EventBatch(_Model):
    """Several events of one box in one message (a box draining a backlog); the cloud treats
    each as if it had come alone, and acknowledges them as usual."""

    type: Literal["events"] = "events"
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class Ack(_Model):
    """Event ids the cloud has stored; the edge deletes them from its outbox."""

    type: Literal["ack"] = "ack"
    ids: list[str] = Field(max_length=100_000)


class GateRule(_Model):
    """A gate as the cloud knows it; ``command_key`` verifies its signed commands."""

    id: str
    direction: Direction
    name: str = ""
    command_key: str | None = None
    parking: str | None = Field(None, description="the parking whose barrier this gate is; "
                                "none for a society-perimeter gate")


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


class VehicleRule(_Model):
    """A vehicle of the site."""

    vrn: str
    type: VehicleType
    flat: str | None = Field(None, description="the flat or unit it belongs to (shown to guards)")
    schedule: str | None = Field(None, description="the schedule its entries keep to, by name "
                                 "(``ScheduleRule``); none: any time")


class TagRule(_Model):
    """A tag as the edge caches it."""

    epc: str
    site: str
    status: TagStatus
    vrn: str | None = None
    locked: bool = False
    locked_until: datetime | None = None
    schedule: str | None = Field(None, description="the schedule entries on this tag keep to "
                                 "(a group of tags shares one); none: any time")


class CodeRule(_Model):
    """An access code or visitor pass as the edge caches it: never the code, only its keyed
    hash (``shared.codes.code_hash`` under the site's key); the edge decides from the rest."""

    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the code")
    site: str
    kind: Literal["person", "visitor"]
    status: Literal["issued", "active", "cancelled", "expired", "spent"] = Field(
        description="issued: not activated yet (opens only where the first use activates it)")
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    activate_by: datetime | None = Field(None, description="an issued code may be activated "
                                         "until then")
    single_use: bool = Field(False, description="spent at its first entry")
    schedule: str | None = Field(None, description="the site's schedule it keeps to (a "
                                 "helper's days and hours)")
    flat: str | None = None
    vrn: str | None = None
    label: str = Field("", max_length=200, description="who it is for, as the guard sees it")


class CodeConfig(_Model):
    """How a site's codes are read at its gates: hashed by ``scrypt(pepper + code, salt)``
    (``shared.codes.CodeKey``), or, at a site not rotated since, by the legacy HMAC ``key``.
    The pepper is sent only to the site's own boxes, which keep it in memory."""

    key: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="legacy: the site's "
                            "HMAC key (hex); absent once the site's codes are hashed by scrypt")
    alphabet: Literal["digits", "letters"]
    first_use_activates: bool = Field(False, description="an issued code is activated by its "
                                      "first use at a gate")
    salt: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="scrypt: the "
                             "site's salt (hex) of this generation")
    cost: int | None = Field(None, ge=2, le=1 << 16, description="scrypt: N (r = 8, p = 1)")
    generation: int | None = Field(None, ge=1, description="scrypt: which key of the site; "
                                   "a rotation draws the next, and a box drops codes of another")
    pepper: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="scrypt: the "
                               "site's secret (hex), only to its own boxes, never on their disk")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ScheduleWindow(_Model):
    """Days of the week and a time range on the site's clock; an ``end`` before ``start``
    runs past midnight (``shared.schedule``)."""

    days: list[Weekday] = Field(min_length=1, max_length=7)
    start: str = Field(pattern=schedules.HHMM.pattern, description="HH:MM, included")
    end: str = Field(pattern=schedules.HHMM.pattern, description="HH:MM or 24:00, excluded")


class ScheduleRule(_Model):
    """A named time-of-day access profile of a site, with the site's time zone."""

    name: str = Field(pattern=SEGMENT.pattern, description="[A-Za-z0-9_-], unique per site")
    timezone: str = Field(max_length=64, description="the site's IANA time zone")
    windows: list[ScheduleWindow] = Field(min_length=1, max_length=50)
    holidays: list[date] = Field(default_factory=list, max_length=1000,
                                 description="dates on which no window starts")
    label: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _valid(self) -> ScheduleRule:
        self.to_schedule()  # ValueError names the bad window or zone
        return self

    def to_schedule(self) -> schedules.Schedule:
        """The pure schedule the decision core evaluates."""
        return schedules.build(self.name, self.timezone,
                               [(list(w.days), w.start, w.end) for w in self.windows],
                               self.holidays, self.label)


class AccountRule(_Model):
    """A guard or supervisor of the site's panel; only the scrypt hash travels."""

    username: str
    role: Literal["guard", "supervisor"]
    pw_hash: str


class ParkingRule(_Model):
    """A parking of the site: its gates decide from subscriptions."""

    id: str
    active: bool


class SubscriptionRule(_Model):
    """A subscription as a gate needs it: who, which times, and the status the cloud last set.

    The edge recomputes the status from the times (``shared.parking.standing``), so an
    expired subscription turns overdue at a gate that has lost the cloud.
    """

    id: str
    parking: str
    space: int
    status: str
    unit: Literal["daily", "hourly"]
    start: datetime
    end: datetime
    paid_through: datetime
    vrns: list[str]
    continued: bool = Field(False, description="an extension starts where this one ends")
    debt_price: int = Field(0, description="owed per begun unit once overdue (the dearest band, "
                            "plus the camera's when camera access was paid)")
    schedule: str | None = Field(None, description="the schedule entries on it keep to")


class PresenceRule(_Model):
    """A vehicle put inside or outside by hand (staff correction in the cloud)."""

    vrn: str
    inside: bool
    parking: str | None = None


class Change(_Model):
    """One rule change inside a delta."""

    op: Literal["tag.upsert", "tag.delete", "vehicle.upsert", "vehicle.delete", "gate.upsert",
                "account.upsert", "account.delete", "parking.upsert", "subscription.upsert",
                "subscription.delete", "presence.set", "schedule.upsert", "schedule.delete",
                "code.upsert", "code.delete", "codes.config"]
    tag: TagRule | None = None
    vehicle: VehicleRule | None = None
    gate: GateRule | None = None
    account: AccountRule | None = None
    parking: ParkingRule | None = None
    subscription: SubscriptionRule | None = None
    presence: PresenceRule | None = None
    schedule: ScheduleRule | None = None
    code: CodeRule | None = None
    code_config: CodeConfig | None = None
    key: str | None = Field(default=None, description="epc, vrn, user name, subscription id, "
                            "schedule name or code hash for deletes")


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
