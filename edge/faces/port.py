"""The box as its faces see it: what the local API, the panel, metrics and Home Assistant may
read, and the few things they may ask.

The daemon (``edge.daemon.wiring.EdgeDaemon``) provides this port; a face is handed it and
imports this module, never the daemon (a contract in ``.importlinter`` keeps it so). Reads
are read-only: a face changes nothing except through the asks below, each answered by the
gate's lane or recorded by the box like any other event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from edge.config import EdgeConfig, GateConfig
    from edge.core.parking import SubRecord
    from edge.core.types import Decision, TagRecord
    from edge.peers.exchange import SpendPeers
    from edge.store.accounts import Accounts
    from edge.store.reads import StoreReads
    from edge.store.retention import DiskState
    from shared.clock import Clock
    from shared.counters import Counters
    from shared.schedule import Schedule


@dataclass(frozen=True)
class SiteClocks:
    """What a face needs to show the box's times: names only, resolved by the face
    (``edge.faces.panel.times``), which falls back past a zone this box's tzdata lacks."""

    locale: str  # ``api.locale``
    default_zone: str | None  # ``api.timezone``
    zones: dict[str, str | None]  # site → the zone its schedules carry (None: none yet)
    sites: dict[str, str]  # gate → its site
    now: datetime


class Gate(Protocol):
    """What a face sees of one gate's lane."""

    @property
    def cfg(self) -> GateConfig: ...

    @property
    def hold_wired(self) -> bool: ...

    def as_dict(self) -> dict[str, Any]:
        """The lane at a glance: devices, boom, queue, the vehicle in front."""
        ...


class LiveEvents(Protocol):
    """The live events as the lanes record them (``edge.store.ring.EventRing``)."""

    @property
    def last_id(self) -> int: ...

    def after(self, local_id: int, wait_s: float = 0.0, limit: int = 500) -> list[dict]:
        """Events after a local id; waits up to *wait_s* for the first one."""
        ...


class EventLog(Protocol):
    """The event log's queue for the cloud, as counted (``edge.store.outbox.Outbox``)."""

    def size(self) -> int: ...

    def oldest_waiting_at(self) -> str | None: ...

    def file_bytes(self) -> int: ...


class Evidence(Protocol):
    """The evidence photos (``edge.store.evidence.EvidenceStore``)."""

    def path(self, name: str) -> Path | None: ...

    def used_bytes(self) -> int: ...


class DiskWatch(Protocol):
    """The data disk's free space at the last pruning (``edge.store.retention.Retention``)."""

    @property
    def disk(self) -> DiskState: ...


class CachedRules(Protocol):
    """The rules the cloud sent, as a face reads them (``edge.store.cache.RulesCache``)."""

    def tag(self, epc: str) -> TagRecord | None: ...

    def tags_of(self, vrn: str) -> list[TagRecord]: ...

    def schedule(self, site: str, name: str) -> Schedule | None: ...

    def subscriptions(self, parking: str | None, vrn: str) -> list[SubRecord]: ...

    def version(self, site: str) -> int: ...

    def epoch(self, site: str) -> str: ...


class Whereabouts(Protocol):
    """Who is inside, as a face reads it (``edge.store.cache.Presence``); a correction is an
    ask (``Box.correct_presence``)."""

    def is_inside(self, vrn: str) -> bool | None: ...

    def inside_now(self, limit: int = 50) -> list[tuple[str, str, str | None]]: ...


class WalkInRequests(Protocol):
    """The walk-in requests this box asked the cloud (``edge.adapters.walkins.WalkIns``);
    opening for one is an ask (``Box.visitor_open``)."""

    def ask(self, site: str, gate: str, flat: str, name: str, kind: str, user: str,
            phone: str = "", vrn: str = "") -> dict[str, Any]:
        """Ask the flat; the request as the cloud holds it."""
        ...

    def status(self, rid: str) -> dict[str, Any]:
        """A request as the cloud holds it now."""
        ...

    def recent(self) -> list[dict[str, Any]]:
        """The requests this box asked, newest first."""
        ...


class Stats(Protocol):
    """A reader or camera worker, as counted."""

    def stats(self) -> dict[str, Any]: ...


class Link(Protocol):
    """The box's connection to the cloud's broker, as a face sees it."""

    @property
    def connected(self) -> bool: ...

    @property
    def counters(self) -> Mapping[str, int]: ...

    def publish_retained(self, topic: str, payload: str) -> bool:
        """Publish a retained state (Home Assistant's); False when it could not."""
        ...


class SessionCount(Protocol):
    """The panel's signed-in sessions, as metrics count them."""

    def count(self) -> int: ...


class Metrics(Protocol):
    """The box's Prometheus registry (``edge.faces.metrics.EdgeMetrics``)."""

    def watch(self, box: Box, sessions: SessionCount | None) -> None:
        """Read *box* (and the panel's *sessions*) at every scrape."""
        ...

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        ...


class Box(Protocol):
    """The one port of the box for its faces."""

    # What a face reads ---------------------------------------------------------------------
    @property
    def config(self) -> EdgeConfig: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def counters(self) -> Counters: ...  # a face counts what it refuses

    @property
    def ring(self) -> LiveEvents: ...

    @property
    def evidence(self) -> Evidence: ...

    @property
    def reads(self) -> StoreReads | None: ...  # event log, vehicles, visitors (None: not started)

    @property
    def accounts(self) -> Accounts | None: ...  # the guards' and supervisors' sign-in

    @property
    def cache(self) -> CachedRules | None: ...

    @property
    def presence(self) -> Whereabouts | None: ...

    @property
    def outbox(self) -> EventLog | None: ...

    @property
    def retention(self) -> DiskWatch | None: ...

    @property
    def lanes(self) -> Mapping[str, Gate]: ...

    @property
    def readers(self) -> Mapping[str, Stats]: ...

    @property
    def cameras(self) -> Mapping[str, Stats]: ...

    @property
    def link(self) -> Link | None: ...

    @property
    def walkins(self) -> WalkInRequests: ...

    @property
    def spends(self) -> SpendPeers | None: ...  # the site's other boxes (``/peers/…``)

    @property
    def metrics(self) -> Metrics: ...

    def health(self) -> dict[str, Any]:
        """Everything a guard or a test wants to know at a glance."""
        ...

    def site_clocks(self) -> SiteClocks:
        """The sites' zones, the locale and the time now (reads the store)."""
        ...

    # What a face may ask -------------------------------------------------------------------
    def guard_open(self, gate_id: str, user: str, role: str, reason: str,
                   vrn: str | None = None, hold: bool = False) -> Decision:
        """Open for a guard: a ``guard_override`` decision with who and why."""
        ...

    def enter_code(self, gate_id: str, code: str, source: str,
                   user: str | None = None) -> Decision:
        """A code typed or read out at a gate, decided like any credential."""
        ...

    def clear_code_lock(self, gate_id: str, user: str) -> dict[str, str]:
        """End a gate's keypad (and QR) lock."""
        ...

    def release(self, gate_id: str, user: str) -> bool:
        """Let a held boom close."""
        ...

    def visitor_open(self, gate_id: str, rid: str, user: str, role: str) -> Decision:
        """Open for a walk-in the flat approved, once."""
        ...

    def visitor_left(self, key: str, user: str) -> bool:
        """The guard marks a visitor as gone; False if the visitor was not inside."""
        ...

    def correct_presence(self, site: str, vrn: str, inside: bool, user: str) -> None:
        """A supervisor puts a vehicle inside or outside by hand."""
        ...

    def resync(self) -> list[str] | None:
        """Take a snapshot of every site's rules now; the sites (None: no cloud link)."""
        ...
