"""The public vocabulary both sides share: directions, statuses, outcomes and reason codes.

Reason codes are a public contract (docs/reasons.md); add new ones, never rename.
"""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """Which way a gate lets vehicles through."""

    ENTRY = "entry"
    EXIT = "exit"
    BOTH = "both"


class VehicleType(StrEnum):
    """Two-wheeler or four-wheeler."""

    W2 = "2W"
    W4 = "4W"


class TagStatus(StrEnum):
    """Life cycle of a tag in the cloud."""

    INACTIVE = "inactive"
    ACTIVE = "active"
    BLOCKED = "blocked"


class Outcome(StrEnum):
    """What the gate does with a credential."""

    OPEN = "open"
    DENY = "deny"
    IGNORED = "ignored"


class Reason(StrEnum):
    """Why a decision came out as it did (docs/reasons.md)."""

    TAG_VALID = "tag_valid"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    TAG_INACTIVE = "tag_inactive"
    TAG_LOCKED = "tag_locked"
    WRONG_SITE = "wrong_site"
    DUPLICATE_READ = "duplicate_read"
    PLATE_VALID = "plate_valid"
    PLATE_AMBIGUOUS = "plate_ambiguous"
    LOW_CONFIDENCE = "low_confidence"
    CREDENTIAL_MISMATCH = "credential_mismatch"
    CREDENTIAL_PENDING = "credential_pending"
    REMOTE_OPEN = "remote_open"
    COMMAND_REJECTED = "command_rejected"
    GUARD_OVERRIDE = "guard_override"
    SUBSCRIPTION_VALID = "subscription_valid"
    NO_SUBSCRIPTION = "no_subscription"
    SUBSCRIPTION_NOT_STARTED = "subscription_not_started"
    SUBSCRIPTION_OVERDUE = "subscription_overdue"
    DEBT_UNPAID = "debt_unpaid"
    SPACE_OCCUPIED = "space_occupied"
    PARKING_INACTIVE = "parking_inactive"
    ANTI_PASSBACK = "anti_passback"
    EXIT_UNSUBSCRIBED = "exit_unsubscribed"
    OUTSIDE_SCHEDULE = "outside_schedule"
    CODE_VALID = "code_valid"
    CODE_UNKNOWN = "code_unknown"
    CODE_NOT_ACTIVE = "code_not_active"
    CODE_EXPIRED = "code_expired"
    CODE_SPENT = "code_spent"
    CODE_CANCELLED = "code_cancelled"
    CODE_KEY_MISSING = "code_key_missing"
    KEYPAD_LOCKED = "keypad_locked"
    VISITOR_APPROVED = "visitor_approved"


class AlertKind(StrEnum):
    """What a guard (or staff) must see: an ``alert`` event's ``alert``, a decision's
    ``alerts`` (docs/mqtt.md). Add new ones, never rename."""

    CREDENTIAL_MISMATCH = "credential_mismatch"
    ANTI_PASSBACK = "anti_passback"
    BARRIER_FAILED = "barrier_failed"
    KEYPAD_LOCKED = "keypad_locked"
    KEYPAD_CLEARED = "keypad_cleared"
    EXIT_UNSUBSCRIBED = "exit_unsubscribed"


class EventType(StrEnum):
    """Kinds of events an edge sends to the cloud."""

    READ = "read"
    DECISION = "decision"
    OPEN = "open"
    PASS = "pass"
    FAULT = "fault"
    ALERT = "alert"
    PRESENCE = "presence"
    OPEN_UNCONFIRMED = "open_unconfirmed"
    HOLD = "hold"


REASON_OUTCOMES: dict[Reason, Outcome] = {
    Reason.TAG_VALID: Outcome.OPEN,
    Reason.UNKNOWN_CREDENTIAL: Outcome.DENY,
    Reason.TAG_INACTIVE: Outcome.DENY,
    Reason.TAG_LOCKED: Outcome.DENY,
    Reason.WRONG_SITE: Outcome.DENY,
    Reason.DUPLICATE_READ: Outcome.IGNORED,
    Reason.PLATE_VALID: Outcome.OPEN,
    Reason.PLATE_AMBIGUOUS: Outcome.DENY,
    Reason.LOW_CONFIDENCE: Outcome.DENY,
    Reason.CREDENTIAL_MISMATCH: Outcome.DENY,
    Reason.CREDENTIAL_PENDING: Outcome.IGNORED,
    Reason.REMOTE_OPEN: Outcome.OPEN,
    Reason.COMMAND_REJECTED: Outcome.DENY,
    Reason.GUARD_OVERRIDE: Outcome.OPEN,
    Reason.SUBSCRIPTION_VALID: Outcome.OPEN,
    Reason.NO_SUBSCRIPTION: Outcome.DENY,
    Reason.SUBSCRIPTION_NOT_STARTED: Outcome.DENY,
    Reason.SUBSCRIPTION_OVERDUE: Outcome.DENY,
    Reason.DEBT_UNPAID: Outcome.DENY,
    Reason.SPACE_OCCUPIED: Outcome.DENY,
    Reason.PARKING_INACTIVE: Outcome.DENY,
    Reason.ANTI_PASSBACK: Outcome.DENY,
    Reason.EXIT_UNSUBSCRIBED: Outcome.OPEN,
    Reason.OUTSIDE_SCHEDULE: Outcome.DENY,
    Reason.CODE_VALID: Outcome.OPEN,
    Reason.CODE_UNKNOWN: Outcome.DENY,
    Reason.CODE_NOT_ACTIVE: Outcome.DENY,
    Reason.CODE_EXPIRED: Outcome.DENY,
    Reason.CODE_SPENT: Outcome.DENY,
    Reason.CODE_CANCELLED: Outcome.DENY,
    Reason.CODE_KEY_MISSING: Outcome.DENY,
    Reason.KEYPAD_LOCKED: Outcome.DENY,
    Reason.VISITOR_APPROVED: Outcome.OPEN,
}


class CredentialMode(StrEnum):
    """Which credentials a gate needs."""

    TAG = "tag"
    PLATE = "plate"
    EITHER = "either"
    BOTH = "both"


class AntiPassback(StrEnum):
    """What a gate does with a second entry (or exit) with no pass the other way between."""

    OFF = "off"
    SOFT = "soft"  # open, and raise an ``anti_passback`` alert
    HARD = "hard"  # deny with ``anti_passback``; a guard can override


class CredentialKind(StrEnum):
    """Kinds of credential a lane decides on (``edge.core.credentials`` resolves each)."""

    TAG = "tag"
    PLATE = "plate"
    COMMAND = "command"
    GUARD = "guard"
    CODE = "code"
