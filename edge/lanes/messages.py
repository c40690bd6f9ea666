"""The messages a lane handles, in order, on its own thread (``edge.lanes.lane``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.adapters.relay import GateInputs
from edge.core.types import PlateEvidence
from shared.wire.commands import OpenCommand


@dataclass(frozen=True, slots=True)
class TagRead:
    epc: str
    frame_ns: int


@dataclass(frozen=True, slots=True)
class PlateRead:
    evidence: PlateEvidence
    frame: Any
    box: tuple[int, int, int, int] | None
    frame_ns: int
    final: bool


@dataclass(frozen=True, slots=True)
class Inputs:
    inputs: GateInputs | None


@dataclass(frozen=True, slots=True)
class DeviceState:
    device: str  # "reader" | "relay"
    up: bool
    why: str


@dataclass(frozen=True, slots=True)
class RulesChanged:
    pass


@dataclass(frozen=True, slots=True)
class Command:
    cmd: OpenCommand
    retained: bool


@dataclass(frozen=True, slots=True)
class GuardOpen:
    user: str
    role: str
    reason: str
    vrn: str | None
    hold: bool = False  # keep the boom up (the hold relay) until released


@dataclass(frozen=True, slots=True)
class CodeEntry:
    code: str  # as typed or read; never recorded in clear
    source: str  # guard (the panel's code box), keypad or qr
    user: str | None = None  # the guard who typed it


@dataclass(frozen=True, slots=True)
class VisitorOpen:
    request: dict[str, Any]  # a walk-in the flat approved, as the cloud gave it
    user: str
    role: str


@dataclass(frozen=True, slots=True)
class Release:
    user: str


@dataclass(frozen=True, slots=True)
class ClearCodeLock:
    user: str  # the guard who ends the gate's keypad (and QR) lock
