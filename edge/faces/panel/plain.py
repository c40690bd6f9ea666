"""Decisions in plain words for the guard: what happened and what it means at the gate.

The words come from the decision's reason and facts carried as data (direction, vehicle,
guard, subscription) or read from the cache (a lock's end), never from parsing ``detail``.
"""

from __future__ import annotations

from typing import Any

_WAY = {"entry": "entry", "exit": "exit", None: "passage"}

_WORDS: dict[str, str] = {
    "tag_valid": "Resident vehicle — {let}",
    "plate_valid": "Registered plate — {let}",
    "subscription_valid": "Parking subscription valid — {let}",
    "remote_open": "Opened remotely",
    "guard_override": "Opened by the guard",
    "unknown_credential": "Unknown tag or plate — not registered here",
    "wrong_site": "Tag of another society",
    "tag_inactive": "Tag not active (never activated, or blocked) — {way} refused",
    "tag_locked": "Locked by owner{until} — exit refused",
    "plate_ambiguous": "Plate unclear: it could be two vehicles",
    "low_confidence": "Plate could not be read",
    "credential_mismatch": "Tag and plate are of different vehicles — possible fraud",
    "command_rejected": "Remote open refused",
    "no_subscription": "No parking subscription for this vehicle",
    "subscription_not_started": "Subscription has not started yet — entry refused",
    "subscription_overdue": "Subscription ended — entry refused",
    "debt_unpaid": "Parking time over — the debt must be paid before exit",
    "exit_unsubscribed": "Let out: its subscription ended while it was parked — staff told",
    "outside_schedule": "Outside its schedule ({schedule}) — entry refused",
    "space_occupied": "Another vehicle of this subscription is already inside",
    "parking_inactive": "Parking is closed",
    "anti_passback": "{passback} — {way} refused",
    "credential_pending": "Waiting for the other credential",
    "duplicate_read": "Same vehicle again",
    "code_valid": "Code valid — {let}",
    "code_unknown": "Unknown code — not issued here (check it was read out right)",
    "code_not_active": "Code not active yet (not activated, or before its time)",
    "code_expired": "Code expired",
    "code_spent": "One-time pass used already",
    "code_cancelled": "Code cancelled by its holder",
    "code_key_missing": "Codes wait for the cloud (the box restarted offline): open by override",
    "visitor_approved": "Visitor approved by the flat — {let}",
}


def plain(e: dict[str, Any], lock_until: str | None = None) -> str:
    """One line a guard understands, for a decision event of the live ring or journal;
    *lock_until* is the end of the lock that refused it, in words ("today, 18:00")."""
    reason = str(e.get("reason") or "")
    direction = e.get("direction")
    let = "let out" if direction == "exit" else "let in"
    passback = ("Already inside: no exit since it came in" if direction == "entry"
                else "Already outside: no entry since it left")
    until = f" until {lock_until}" if lock_until else ""
    text = _WORDS.get(reason, reason.replace("_", " ")).format(
        let=let, way=_WAY.get(direction, "passage"), until=until, passback=passback,
        schedule=e.get("schedule") or "?")
    guard = e.get("guard")
    if reason == "guard_override" and isinstance(guard, dict):
        text += f" ({guard.get('user')}): {guard.get('reason')}"
    elif reason == "visitor_approved" and isinstance(e.get("visitor"), dict):
        v = e["visitor"]
        text += f": {v.get('name')} for {v.get('flat')}, approved by {v.get('approved_name')}"
    elif reason == "command_rejected" and e.get("detail"):
        text += f": {e['detail']}"
    elif reason.startswith("code_") and e.get("detail"):
        text += f" ({e['detail']})"  # who the code is for: the holder's or visitor's name
    elif reason == "remote_open" and e.get("detail"):
        text += f" ({str(e['detail']).removeprefix('by ')})"
    if "anti_passback" in (e.get("alerts") or []) and reason != "anti_passback":
        text += " (anti-passback: it was already on this side)"
    return text
