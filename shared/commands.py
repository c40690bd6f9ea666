"""Signed gate commands: what the cloud signs and the edge verifies (HMAC-SHA256, per gate).

A command carries an id, the gate, optionally a vehicle, when it was issued and when it expires
(at most 30 s later), and a signature over the canonical JSON of everything else, made with the
gate's own key. The edge refuses anything unsigned, wrongly signed, expired, replayed (an id it
has seen) or delivered as a retained message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.signing import canonical
from shared.wire.commands import OpenCommand

MAX_LIFETIME = timedelta(seconds=30)
CLOCK_SKEW = timedelta(seconds=5)


def new_key() -> str:
    """A fresh per-gate key (hex)."""
    return secrets.token_hex(32)


def sign(body: dict[str, Any], key: str) -> str:
    """The hex HMAC-SHA256 of a command body."""
    return hmac.new(bytes.fromhex(key), canonical(body), hashlib.sha256).hexdigest()


def open_command(site: str, gate: str, key: str, now: datetime, *, vrn: str | None = None,
                 by: str = "", lifetime: timedelta = timedelta(seconds=15)) -> OpenCommand:
    """A signed open command."""
    body = {"type": "command", "action": "open", "id": str(uuid.uuid4()), "site": site,
            "gate": gate, "vrn": vrn, "by": by, "issued_at": now.isoformat(),
            "expires_at": (now + min(lifetime, MAX_LIFETIME)).isoformat()}
    return OpenCommand.model_validate({**body, "sig": sign(body, key)})


def make_open(site: str, gate: str, key: str, now: datetime, *, vrn: str | None = None,
              by: str = "", lifetime: timedelta = timedelta(seconds=15)) -> dict[str, Any]:
    """A signed open command, as the JSON object it travels as."""
    return open_command(site, gate, key, now, vrn=vrn, by=by, lifetime=lifetime).wire()


@dataclass(frozen=True)
class Verdict:
    """Whether a command may be acted on; ``cause`` names the refusal."""

    ok: bool
    cause: str = ""


def verify(command: OpenCommand | dict[str, Any], key: str | None, now: datetime, *, seen: bool,
           retained: bool) -> Verdict:
    """Check a received command (pure): signature, lifetime, replay and retain flag."""
    cmd = command.wire() if isinstance(command, OpenCommand) else command
    if retained:
        return Verdict(False, "retained")
    sig = cmd.get("sig")
    if not sig:
        return Verdict(False, "unsigned")
    if key is None:
        return Verdict(False, "no key for this gate")
    body = {k: v for k, v in cmd.items() if k != "sig"}
    if not hmac.compare_digest(str(sig), sign(body, key)):
        return Verdict(False, "bad_signature")
    try:
        issued = datetime.fromisoformat(str(cmd["issued_at"]))
        expires = datetime.fromisoformat(str(cmd["expires_at"]))
    except (KeyError, ValueError):
        return Verdict(False, "malformed")
    if issued.tzinfo is None or expires.tzinfo is None:  # a time without a zone means nothing
        return Verdict(False, "malformed")
    if expires - issued > MAX_LIFETIME or issued > now + CLOCK_SKEW or now >= expires:
        return Verdict(False, "expired")
    if seen:
        return Verdict(False, "replayed")
    return Verdict(True)
