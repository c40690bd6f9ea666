"""Shared fixtures: real broker, simulator parts, and where the shared assets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gatepost.broker import Broker

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


@pytest.fixture
def broker(tmp_path: Path):
    """A private Mosquitto on a free loopback port."""
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def artifacts() -> Path:
    """Where tests leave files worth looking at (screenshots, logs)."""
    d = Path(os.environ.get("GATEPOST_ARTIFACTS", ROOT / "test-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d
