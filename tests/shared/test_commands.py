"""Signed commands: every kind of tampering is refused (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.commands import make_open, new_key, sign, verify

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
KEY = new_key()


def good() -> dict:
    return make_open("green-acres", "main-in", KEY, NOW, vrn="MH12AB1234", by="staff:asha")


def test_a_fresh_signed_command_passes():
    assert verify(good(), KEY, NOW + timedelta(seconds=2), seen=False, retained=False).ok


@pytest.mark.parametrize(("tamper", "cause"), [
    (lambda c: c.pop("sig"), "unsigned"),
    (lambda c: c.update(sig="00" * 32), "bad_signature"),
    (lambda c: c.update(gate="main-out"), "bad_signature"),       # moved to another gate
    (lambda c: c.update(vrn="DL3CAF0001"), "bad_signature"),      # another vehicle
])
def test_tampered_commands_are_refused(tamper, cause):
    cmd = good()
    tamper(cmd)
    v = verify(cmd, KEY, NOW, seen=False, retained=False)
    assert not v.ok and v.cause == cause


def test_expired_replayed_retained_and_wrong_key():
    cmd = good()
    assert verify(cmd, KEY, NOW + timedelta(seconds=16), seen=False, retained=False).cause == \
        "expired"
    assert verify(cmd, KEY, NOW, seen=True, retained=False).cause == "replayed"
    assert verify(cmd, KEY, NOW, seen=False, retained=True).cause == "retained"
    assert verify(cmd, new_key(), NOW, seen=False, retained=False).cause == "bad_signature"
    assert verify(cmd, None, NOW, seen=False, retained=False).cause == "no key for this gate"


def test_a_long_lived_command_is_refused_even_if_signed():
    body = {k: v for k, v in good().items() if k != "sig"}
    body["expires_at"] = (NOW + timedelta(minutes=5)).isoformat()
    cmd = {**body, "sig": sign(body, KEY)}
    assert verify(cmd, KEY, NOW, seen=False, retained=False).cause == "expired"


def test_a_command_from_the_future_is_refused():
    cmd = make_open("s", "g", KEY, NOW + timedelta(minutes=1))
    assert verify(cmd, KEY, NOW, seen=False, retained=False).cause == "expired"


def test_times_without_a_zone_are_malformed_not_an_error():
    body = {k: v for k, v in good().items() if k != "sig"}
    body["issued_at"] = NOW.replace(tzinfo=None).isoformat()
    body["expires_at"] = (NOW + timedelta(seconds=10)).replace(tzinfo=None).isoformat()
    cmd = {**body, "sig": sign(body, KEY)}
    assert verify(cmd, KEY, NOW, seen=False, retained=False).cause == "malformed"
