"""Frozen values the decision core takes and returns. No IO here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from edge.core.parking import SubRecord
from edge.core.plate_match import PlateIndex
from shared.codes import CodeKey
from shared.locks import is_locked
from shared.schedule import Schedule
from shared.vocab import (
    AlertKind,
    AntiPassback,
    CredentialKind,
    CredentialMode,
    Direction,
    Outcome,
    Reason,
    TagStatus,
)


@dataclass(frozen=True, slots=True)
class PlateEvidence:
    """What the camera saw of one vehicle: candidate plates with their weakest-slot scores."""

    candidates: tuple[tuple[str, float], ...]

    @property
    def best(self) -> tuple[str, float]:
        """The highest-scoring candidate."""
        return max(self.candidates, key=lambda c: c[1]) if self.candidates else ("", 0.0)


@dataclass(frozen=True, slots=True)
class Credential:
    """Something presented at a gate: a tag's EPC, a plate read (with the camera's evidence),
    a signed command's id or a guard's name. ``edge.core.credentials`` resolves each kind."""

    kind: CredentialKind
    value: str
    evidence: PlateEvidence | None = None

    @property
    def key(self) -> str:
        """Identity used for de-duplication."""
        return f"{self.kind}:{self.value}"

    @classmethod
    def tag(cls, epc: str) -> Credential:
        """A tag read."""
        return cls(CredentialKind.TAG, epc.upper())

    @classmethod
    def code(cls, typed: str) -> Credential:
        """A code typed on a keypad, read from a QR or told to the guard, as entered (the
        resolver puts its keyed hash in its place: a code never leaves the lane in clear)."""
        return cls(CredentialKind.CODE, typed)

    @classmethod
    def plate(cls, evidence: PlateEvidence) -> Credential:
        """A plate read; its value is the best candidate until the match names the plate."""
        return cls(CredentialKind.PLATE, evidence.best[0], evidence)


_MODE_KINDS = {
    CredentialMode.TAG: frozenset({CredentialKind.TAG}),
    CredentialMode.PLATE: frozenset({CredentialKind.PLATE}),
    CredentialMode.EITHER: frozenset({CredentialKind.TAG, CredentialKind.PLATE}),
    CredentialMode.BOTH: frozenset({CredentialKind.TAG, CredentialKind.PLATE}),
}


@dataclass(frozen=True, slots=True)
class GateInfo:
    """A gate as the edge is wired to it."""

    id: str
    site: str
    direction: Direction
    credentials: CredentialMode = CredentialMode.EITHER
    mismatch: str = "deny"  # "deny" or "alert": what a tag/plate disagreement does
    anti_passback: AntiPassback = AntiPassback.OFF
    accepts: frozenset[CredentialKind] | None = None  # kinds that may open (None: the mode's)
    agree: bool | None = None  # every accepted kind must name the vehicle (None: the mode's)

    def accepted(self) -> frozenset[CredentialKind]:
        """The credential kinds that may open this gate."""
        if self.accepts is not None:
            return self.accepts
        return _MODE_KINDS[self.credentials]

    def must_agree(self) -> bool:
        """Whether every accepted kind must name the same vehicle before the gate opens."""
        return self.credentials is CredentialMode.BOTH if self.agree is None else self.agree


@dataclass(frozen=True, slots=True)
class RecentCredential:
    """The last credential of one kind decided at a gate, for fusing tag and plate."""

    kind: str
    vrn: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """A cached access code or visitor pass (``shared.contract.CodeRule``), with whether this
    box has already spent it (a single-use pass let in)."""

    hash: str
    site: str
    kind: str  # person or visitor
    status: str  # issued, active, cancelled, expired, spent
    valid_from: datetime | None
    valid_until: datetime | None
    activate_by: datetime | None
    single_use: bool
    schedule: str | None
    flat: str | None
    vrn: str | None
    label: str
    spent: bool = False


@dataclass(frozen=True, slots=True)
class CodeSettings:
    """How a site's codes are read: its key (None: the box lacks the pepper the cloud gives
    after a start), its alphabet, whether a first use activates."""

    key: CodeKey | None
    alphabet: str
    first_use_activates: bool


@dataclass(frozen=True, slots=True)
class TagRecord:
    """A cached tag."""

    epc: str
    site: str
    status: TagStatus
    vrn: str | None
    locked: bool
    locked_until: datetime | None
    schedule: str | None = None  # the schedule its entries keep to (a tag group's)

    def is_locked(self, now: datetime) -> bool:
        """Locked now: locked with no end, or before its end (``shared.locks``)."""
        return is_locked(self.locked, self.locked_until, now)


@dataclass(frozen=True, slots=True)
class Policy:
    """Tunables of the decision."""

    dedup_hold_s: float = 5.0
    plate_min_score: float = 0.3
    fusion_window_s: float = 10.0
    redecide_s: float = 3.0  # a refused credential still in the field is decided again


class CacheView(Protocol):
    """Read-only view of the local cache that ``decide`` consults."""

    def tag(self, epc: str) -> TagRecord | None:
        """The cached tag with this EPC."""
        ...

    def is_inside(self, vrn: str) -> bool | None:
        """Whether the vehicle is inside the site (None: not known)."""
        ...

    def recent(self, gate_id: str, kind: str) -> RecentCredential | None:
        """The last decided credential of *kind* at this gate."""
        ...

    def vehicle_tags(self, vrn: str) -> list[TagRecord]:
        """Tags linked to a vehicle."""
        ...

    def plate_index(self, site: str) -> PlateIndex:
        """The site's vehicles as a plate allowlist."""
        ...

    def parking_of(self, gate_id: str) -> tuple[str, bool] | None:
        """The parking whose barrier this gate is, and whether it is active (None: a
        society-perimeter gate)."""
        ...

    def subscriptions(self, parking: str, vrn: str) -> list[SubRecord]:
        """The cached subscriptions of a vehicle at a parking."""
        ...

    def vehicle_schedule(self, site: str, vrn: str) -> str | None:
        """The schedule a registered vehicle of the site is bound to (None: none)."""
        ...

    def schedule(self, site: str, name: str) -> Schedule | None:
        """The site's schedule of this name (None: not held)."""
        ...

    def code_settings(self, site: str) -> CodeSettings | None:
        """How the site's codes are read (None: the site has no codes)."""
        ...

    def code(self, site: str, digest: str) -> CodeRecord | None:
        """The site's code with this keyed hash."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a credential, and why."""

    outcome: Outcome
    reason: Reason
    gate: str
    credential: Credential
    at: datetime
    vrn: str | None = None
    direction: Direction | None = None
    detail: str = ""
    subscription: str | None = None
    alerts: tuple[AlertKind, ...] = ()  # what a guard must see
    schedule: str | None = None  # the schedule that refused an entry (outside_schedule)

    @property
    def opens(self) -> bool:
        """Whether the barrier should be pulsed."""
        return self.outcome is Outcome.OPEN
