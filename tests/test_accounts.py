"""Guard accounts: slow hashes, lockout, no enumeration, and `gatepost edge add-guard`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.accounts import Accounts, hash_password, verify_password
from edge.store.db import EdgeDB


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t


@pytest.fixture
def accounts():
    db = EdgeDB(":memory:")
    clock = Clock()
    yield Accounts(db, clock), clock
    db.close()


def test_hashes_are_salted_scrypt_and_verify():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", a) and not verify_password("Correct horse", a)
    assert not verify_password("x", "not a hash")


def test_no_default_account_and_a_good_login(accounts):
    acc, _ = accounts
    assert acc.count() == 0
    acc.add("asha", "supervisor", "long enough pw")
    ok = acc.login("asha", "long enough pw")
    assert ok.ok and ok.role == "supervisor"


def test_ten_wrong_passwords_lock_the_account_for_a_while(accounts):
    acc, clock = accounts
    acc.add("ravi", "guard", "long enough pw")
    results = [acc.login("ravi", "wrong password").reason for _ in range(10)]
    assert results == ["bad_credentials"] * 9 + ["locked"]
    assert acc.login("ravi", "long enough pw").reason == "locked"  # even the right one
    clock.t += timedelta(minutes=16)
    assert acc.login("ravi", "long enough pw").ok


def test_unknown_users_look_like_wrong_passwords(accounts):
    acc, _ = accounts
    assert acc.login("nobody", "whatever pw").reason == "bad_credentials"


@pytest.mark.parametrize(("user", "role", "pw"), [
    ("", "guard", "long enough pw"), ("x", "admin", "long enough pw"), ("x", "guard", "short")])
def test_bad_accounts_are_refused(accounts, user, role, pw):
    acc, _ = accounts
    with pytest.raises(ValueError):
        acc.add(user, role, pw)


def test_add_guard_command(tmp_path: Path):
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'id = "box1"\ndata_dir = "{tmp_path / "data"}"\n'
                   '[[gates]]\nid = "g"\nsite = "s"\ndirection = "entry"\n')
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", "edge", "add-guard", "--config",
                        str(cfg), "--username", "meera", "--role", "supervisor",
                        "--password-stdin"], input="a long secret pass\n", capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    row = sqlite3.connect(tmp_path / "data" / "edge.sqlite").execute(
        "SELECT role, pw_hash FROM accounts WHERE username = 'meera'").fetchone()
    assert row[0] == "supervisor" and "a long secret pass" not in row[1]
    short = subprocess.run([sys.executable, "-m", "gatepost.cli", "edge", "add-guard",
                            "--config", str(cfg), "--username", "x", "--password-stdin"],
                           input="short\n", capture_output=True, text=True, timeout=30)
    assert short.returncode == 2 and "at least" in short.stderr


def test_the_throttle_backs_off_per_address_and_forgets_on_success():
    from edge.panel.throttle import LoginThrottle

    now = [0.0]
    t = LoginThrottle(free=3, base_s=1.0, max_s=8.0, now=lambda: now[0])
    for _ in range(3):
        assert t.wait_s("10.0.0.9") == 0
        t.failed("10.0.0.9")
    waits = []
    for _ in range(5):  # each failure after the free ones doubles the wait, up to the cap
        waits.append(t.wait_s("10.0.0.9"))
        now[0] += waits[-1]
        t.failed("10.0.0.9")
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert t.wait_s("10.0.0.7") == 0  # another device is not slowed
    t.succeeded("10.0.0.9")
    assert t.wait_s("10.0.0.9") == 0


def test_the_throttle_holds_a_bounded_number_of_addresses():
    from edge.panel.throttle import LoginThrottle

    t = LoginThrottle(free=0, capacity=3, now=lambda: 0.0)
    for i in range(5):
        t.failed(f"10.0.0.{i}")
    assert t.wait_s("10.0.0.0") == 0 and t.wait_s("10.0.0.4") > 0
