"""The topic map: every MQTT topic, who publishes and who reads it, and what it carries.

This one table is the source of the topic builders (``shared.contract.Topics``), the
subscriptions of the edge and of the cloud, the broker's ACL (``cloud.society.provision``)
and the topic table of docs/mqtt.md (a test compares it with the file). Add a topic here and
everything else follows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from shared.rules import SEGMENT_PATTERN

PREFIX = "gatepost/v1"
HA_PREFIX = "homeassistant"  # Home Assistant's default discovery prefix
SEGMENT = re.compile(SEGMENT_PATTERN)
_FIELD = re.compile(r"\{(\w+)\}")
# Placeholders that are not topic segments of ours: Home Assistant's component (``sensor``).
_FREE = frozenset({"component"})


class Party(StrEnum):
    """Who connects to the broker."""

    EDGE = "edge"
    CLOUD = "cloud"
    HA = "homeassistant"


def seg(value: str) -> str:
    """*value* if it is a valid topic segment, else ValueError (nothing publishes to a
    wildcard)."""
    if not SEGMENT.match(value):
        raise ValueError(f"{value!r} is not a valid topic segment ([A-Za-z0-9_-], 1–64 chars)")
    return value


@dataclass(frozen=True)
class Topic:
    """One topic of the contract."""

    name: str  # the builder's name in ``Topics``
    pattern: str  # placeholders in braces: ``{edge}``, ``{site}``, …
    direction: str
    qos: str
    retained: str
    payload: str  # what it carries, as docs/mqtt.md says it
    publisher: Party
    readers: tuple[Party, ...]
    acl: str = ""  # the ACL's filter when wider than the pattern (``…/#``)
    sub_qos: int = 1  # the QoS our own subscribers ask for
    shared: bool = False  # the cloud subscribes through its shared group
    tail: bool = False  # the last placeholder is one or more segments (``{path}``)
    model: str = ""  # the payload's model in ``shared.contract`` (none: plain text or not ours)
    fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(_FIELD.findall(self.pattern)))

    def build(self, **values: str) -> str:
        """The topic with its placeholders filled; each of ours must be a valid segment (a
        tail's each of its parts; an empty tail leaves the topic's stem)."""
        out = {k: v if k in _FREE else seg(v) for k, v in values.items()
               if not (self.tail and k == self.fields[-1])}
        if not self.tail:
            return self.pattern.format(**out)
        parts = [seg(p) for p in values.get(self.fields[-1], "").split("/") if p]
        stem = self.pattern.removesuffix(f"/{{{self.fields[-1]}}}").format(**out)
        return "/".join([stem, *parts])

    def filter(self, **values: str) -> str:
        """The ACL filter of the topic, with *values* filled."""
        return (self.acl or self.pattern).format(**values)

    @property
    def scope(self) -> tuple[str, ...]:
        """The placeholders of its ACL filter: ``("edge",)``, ``("site",)`` or none."""
        return tuple(_FIELD.findall(self.acl or self.pattern))

    def wildcard(self) -> str:
        """The subscription that matches this topic of every box and site."""
        return self.pattern.format(**{f: "+" for f in self.fields})


_EDGE = f"{PREFIX}/edge/{{edge}}"
_SITE = f"{PREFIX}/site/{{site}}"
_E, _C, _H = Party.EDGE, Party.CLOUD, Party.HA

TOPIC_MAP: tuple[Topic, ...] = (
    Topic("edge_available", f"{_EDGE}/available", "edge → all", "1", "yes",
          "`online`, `offline` (last will) or `stopped` (plain text)", _E, (_C, _H)),
    Topic("edge_events", f"{_EDGE}/events", "edge → cloud", "1", "no", "`Event`", _E, (_C,),
          sub_qos=0, shared=True, model="Event"),
    Topic("edge_acks", f"{_EDGE}/acks", "cloud → edge", "0 (1 before 2026-12-06)", "no",
          "`Ack`", _C, (_E,), model="Ack"),
    Topic("edge_gates", f"{_EDGE}/gates", "edge → cloud", "1", "yes",
          "`EdgeGates`: which gates the box serves, for routing commands", _E, (_C,),
          model="EdgeGates"),
    Topic("edge_commands", f"{_EDGE}/commands/open", "cloud → edge", "1", "**never**",
          "signed open command (`OpenCommand`)", _C, (_E,), acl=f"{_EDGE}/commands/#",
          model="OpenCommand"),
    Topic("edge_responses", f"{_EDGE}/responses", "edge → cloud", "1", "no",
          "`CommandResponse`", _E, (_C,), model="CommandResponse"),
    Topic("edge_state", f"{_EDGE}/state/{{path}}", "edge → Home Assistant", "1", "yes",
          "a state for Home Assistant (`<gate>/<what>`, or `cloud` and `outbox` for the box; "
          "[homeassistant.md](homeassistant.md))", _E, (_H,), acl=f"{_EDGE}/state/#",
          tail=True),
    Topic("ha_config", f"{HA_PREFIX}/{{component}}/gatepost-{{edge}}/{{object_id}}/config",
          "edge → Home Assistant", "1", "yes",
          "a discovery config (JSON; the prefix is `[homeassistant] discovery_prefix`)", _E,
          (_H,), acl=f"{HA_PREFIX}/+/gatepost-{{edge}}/#"),
    Topic("ha_status", f"{HA_PREFIX}/status", "Home Assistant → all", "—", "—",
          "Home Assistant's birth message (no part of Gatepost reads it)", _H, ()),
    Topic("rules_delta", f"{_SITE}/rules/delta", "cloud → edges", "1", "no", "`RulesDelta`",
          _C, (_E,), model="RulesDelta"),
    Topic("rules_version", f"{_SITE}/rules/version", "cloud → edges", "1", "yes",
          "`RulesVersion`", _C, (_E, _C), model="RulesVersion"),
)
TOPICS = {t.name: t for t in TOPIC_MAP}
ALL_TOPIC_PATTERNS = [t.pattern for t in TOPIC_MAP]


def subscriptions(party: Party, *, edge: str = "", sites: Iterable[str] = (),
                  share: str = "") -> list[tuple[str, int]]:
    """What *party* subscribes to: a box its own topics and its sites' (*edge*, *sites*); the
    cloud every box's and site's, the shared ones through *share* (``$share/<group>/``)."""
    mine = [t for t in TOPIC_MAP if party in t.readers]
    if party is Party.CLOUD:
        return [((share if t.shared else "") + t.wildcard(), t.sub_qos) for t in mine]
    subs = [(t.build(edge=edge), t.sub_qos) for t in mine if "site" not in t.fields]
    for site in sites:
        subs += [(t.build(site=site), t.sub_qos) for t in mine if "site" in t.fields]
    return subs


def acl(party: Party, *, edges: Iterable[str] = (), sites: Iterable[str] = ()) -> list[str]:
    """The ACL lines (``topic read|write …``) of one user: a box (*edges* is itself, *sites*
    its sites), or a site's Home Assistant (*edges*: the boxes serving the site). Each topic
    is granted by its ACL filter: the ones of no box or site first, then each box's, then
    each site's."""
    def lines(scope: tuple[str, ...], **values: str) -> list[str]:
        mine = [t for t in TOPIC_MAP if t.scope == scope]
        return [f"topic write {t.filter(**values)}" for t in mine if t.publisher is party] + \
            [f"topic read {t.filter(**values)}" for t in mine
             if party in t.readers and t.publisher is not party]

    out = lines(())
    for edge in edges:
        out += lines(("edge",), edge=edge)
    for site in sites:
        out += lines(("site",), site=site)
    return out


def docs_table() -> str:
    """The topic table of docs/mqtt.md."""
    rows = ["| topic | direction | QoS | retained | payload |", "|---|---|---|---|---|"]
    rows += [f"| `{t.pattern}` | {t.direction} | {t.qos} | {t.retained} | {t.payload} |"
             for t in TOPIC_MAP]
    return "\n".join(rows)
