"""The installer's commissioning commands, run as processes against simulated hardware."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hardware_sim.barrier import BarrierTiming, Boom
from hardware_sim.reader import ReaderFaults, SimReader
from hardware_sim.relay_board import BoardBank, BoardServer, RelayBoard

EPC_A = "E2801160600002040000AB01"
EPC_B = "E2801160600002040000AB02"


def gatepost(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gatepost.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def reader():
    r = SimReader("t", rate_hz=50, faults=ReaderFaults(garbage=1.0, corrupt_crc=0.3, split=0.3,
                                                       seed=3))
    r.start()
    yield r
    r.stop()


def test_reader_listen_prints_deduplicated_reads_and_rejections(reader):
    reader.tag_enter(EPC_A)
    reader.tag_enter(EPC_B)
    p = gatepost("hw", "reader", "listen", "--url", reader.url, "--count", "2", "--json",
                 "--timeout", "20")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    reads = [x for x in lines if x["type"] == "read"]
    assert sorted(x["epc"] for x in reads) == [EPC_A, EPC_B]  # each once despite 50/s
    rejected = [x for x in lines if x["type"] == "rejected"]
    assert rejected and all(x["reason"] in {"bad_crc", "garbage", "stale_partial"}
                            for x in rejected)


def test_reader_listen_over_a_pseudo_terminal():
    r = SimReader("pty", transport="pty", rate_hz=20)
    r.start()
    try:
        r.tag_enter(EPC_A)
        p = gatepost("hw", "reader", "listen", "--url", r.url, "--count", "1", "--json",
                     "--timeout", "20")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout.splitlines()[0])["epc"] == EPC_A
    finally:
        r.stop()


def test_reader_listen_times_out_when_nothing_is_read(reader):
    p = gatepost("hw", "reader", "listen", "--url", reader.url, "--count", "1", "--timeout", "1")
    assert p.returncode == 1
    assert "stopped: the reader at" in p.stdout and "no frame came" in p.stdout


def test_reader_listen_says_why_a_dead_reader_gave_nothing():
    dead = SimReader("gone")
    dead.start()
    url = dead.url
    dead.stop()  # nothing listens there any more
    p = gatepost("hw", "reader", "listen", "--url", url, "--count", "1", "--timeout", "1",
                 "--json")
    assert p.returncode == 1
    last = json.loads(p.stdout.splitlines()[-1])
    assert last["type"] == "stopped" and not last["ok"]
    assert "never answered" in last["reason"] and "refused" in last["reason"].lower()


@pytest.fixture
def board():
    bank = BoardBank()
    b = bank.add(RelayBoard(2, Boom(BarrierTiming(rise_s=0.1))))
    s = BoardServer(bank)
    s.start()
    yield b, s
    s.stop()


def test_relay_pulse_flashes_the_named_relay(board):
    b, s = board
    p = gatepost("hw", "relay", "pulse", "--url", s.url, "--unit", "2", "--relay", "1",
                 "--ms", "500")
    out = json.loads(p.stdout)
    assert p.returncode == 0 and out["ok"] and out["units_100ms"] == 5
    assert b.flash_writes == 1 and b.pulses[0].relay == 0
    assert b.boom.wait_for(lambda st: st.open_limit, 5)


def test_relay_pulse_reports_a_silent_board(board):
    _, s = board
    p = gatepost("hw", "relay", "pulse", "--url", s.url, "--unit", "7", "--relay", "1",
                 "--ms", "500")
    assert p.returncode == 1 and json.loads(p.stdout)["ok"] is False


def test_relay_pulse_refuses_a_relay_that_does_not_exist(board):
    _, s = board
    p = gatepost("hw", "relay", "pulse", "--url", s.url, "--relay", "9", "--ms", "500")
    assert p.returncode == 2 and "relay must be 1..8" in p.stdout
