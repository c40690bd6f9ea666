"""Shared fixtures: real broker, simulator parts, and where the shared assets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from gatepost.broker import Broker
from gatepost.browser import launch
from gatepost.postgres import TempPostgres

ROOT = Path(__file__).resolve().parent.parent
# The session's PostgreSQL is a throwaway cluster without fsync (tests do not wait on the
# disk), which the cloud refuses to serve from unless told; the test of that refusal says
# otherwise itself. Cloud processes the tests start inherit this.
os.environ.setdefault("GATEPOST_ALLOW_ASYNC_COMMIT", "true")
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


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for the whole run (started on first use, removed after)."""
    with TempPostgres() as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgresql"])
def cloud_db(request, tmp_path: Path) -> str:
    """The cloud's database, once on each backend: a SQLite file, or a fresh PostgreSQL
    database in the session's cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "cloud.sqlite")
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one per test module."""
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def shots(artifacts: Path) -> Path:
    """Where the panel's screenshots go."""
    d = artifacts / "panel"
    d.mkdir(parents=True, exist_ok=True)
    return d
