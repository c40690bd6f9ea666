"""What each type of event carries: one model per ``Event.type``, and the alert kinds.

``Event.data`` travels as a JSON object; ``Event.body`` is its reading as the model of the
event's type (``DATA_MODELS``). The fields are declared in the order the edge writes them, and
:meth:`EventData.wire` gives back only the fields that were set, so an event's JSON is the same
bytes it was before the models (``tests/shared/test_wire_events.py`` pins them).

Every field may be absent: a box of an older release leaves out what it did not know yet, and
the defaults say what such an absence meant all along (a pass without ``direction`` was an
entry). Fields the model does not know are kept (``extra="allow"``): a newer box's event is
read, stored and forwarded whole by an older cloud.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.vocab import AlertKind as AlertKind  # the alert kinds, read here too
from shared.vocab import Direction, EventType


class EventData(BaseModel):
    """The data of one event: known fields typed, unknown ones kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON object as it travels: the fields that were set, in the edge's order."""
        return self.model_dump(mode="json", exclude_unset=True)


class CredentialRef(EventData):
    """The credential a read or a decision was on (``kind`` is a ``CredentialKind``)."""

    kind: str = ""
    value: str | None = None


class GuardRef(EventData):
    """The guard who opened by hand, and why."""

    user: str | None = None
    role: str | None = None
    reason: str | None = None


class VisitorRef(EventData):
    """A walk-in visitor a flat approved (``request`` is the cloud's request id)."""

    request: str | None = None
    name: str | None = None
    kind: str | None = None
    flat: str | None = None
    approved_by: str | None = None
    approved_name: str | None = None


class CodeUse(EventData):
    """Where a code was entered (``keypad``, ``qr``, ``guard``) and by whom."""

    source: str | None = None
    by: str | None = None


class CommandRef(EventData):
    """The signed command a read was on."""

    by: str | None = None
    issued_at: str | None = None
    retained: bool | None = None


class ReadData(EventData):
    """``read``: what the reader saw, before the decision."""

    credential: CredentialRef | None = None
    guard: GuardRef | None = None
    source: str | None = None
    command: CommandRef | None = None
    visitor: VisitorRef | None = None
    redecided: bool | None = None


class DecisionData(EventData):
    """``decision``: what the gate did with a credential, and why."""

    credential: CredentialRef | None = None
    # Strings, not Outcome, Reason or Direction: a newer box's new value must not make an
    # older cloud refuse the event (it would stay in the box's outbox for ever).
    outcome: str | None = None
    reason: str | None = None
    vrn: str | None = None
    direction: str | None = None
    detail: str | None = None
    visitor: VisitorRef | None = None
    guard: GuardRef | None = None
    code: CodeUse | None = None
    alerts: list[str] | None = None
    subscription: str | None = None
    schedule: str | None = None
    flat: str | None = None
    evidence: list[str] | None = None
    ocr: list[Any] | None = None


class OpenData(EventData):
    """``open``: the relay's pulse for a decision."""

    decision: str | None = None
    ok: bool = False
    vrn: str | None = None
    pulse_ms: int | None = None
    read_to_ack_ms: float | None = None
    error: str | None = None


class PassData(EventData):
    """``pass``: a vehicle cleared the loop (``vrn`` None: nobody the gate opened for)."""

    vrn: str | None = None
    decision: str | None = None
    # A string (see DecisionData); a pass without one counts as an entry.
    direction: str | None = Direction.ENTRY.value
    attributed: bool | None = None
    parking: str | None = None


class OpenUnconfirmedData(EventData):
    """``open_unconfirmed``: a decision that opens, with no record of its pulse."""

    decision: str | None = None
    vrn: str | None = None
    intended_at: str | None = None
    detail: str | None = None


class HoldData(EventData):
    """``hold``: the boom held up by the hold relay, or released."""

    held: bool | None = None
    by: str | None = None
    ok: bool | None = None


class FaultData(EventData):
    """``fault``: a device went down or came back."""

    device: str | None = None
    state: str | None = None
    error: str | None = None


class AlertData(EventData):
    """``alert``: something a guard must see (``alert`` is an :class:`AlertKind`)."""

    alert: str = ""  # an AlertKind; a string so that a newer box's kind is still read
    decision: str | None = None
    vrn: str | None = None
    source: str | None = None
    until: str | None = None
    locks_in_a_row: int | None = None
    by: str | None = None
    was_locked: dict[str, str] | None = None
    detail: str | None = None


class PresenceData(EventData):
    """``presence``: a vehicle (or a walk-in visitor) put inside or outside by hand."""

    visitor: str | None = None
    label: str | None = None
    flat: str | None = None
    vrn: str | None = None
    inside: bool | None = None
    by: str | None = None
    was: bool | None = None


DATA_MODELS: dict[EventType, type[EventData]] = {
    EventType.READ: ReadData,
    EventType.DECISION: DecisionData,
    EventType.OPEN: OpenData,
    EventType.PASS: PassData,
    EventType.OPEN_UNCONFIRMED: OpenUnconfirmedData,
    EventType.HOLD: HoldData,
    EventType.FAULT: FaultData,
    EventType.ALERT: AlertData,
    EventType.PRESENCE: PresenceData,
}
TYPE_OF: dict[type[EventData], EventType] = {model: t for t, model in DATA_MODELS.items()}

