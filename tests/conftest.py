"""Shared fixtures: real broker, stacks, simulator parts, and where the shared assets live."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from cloud.storage.database import Database
from gatepost.devstack import spawn
from gatepost.devstack.broker import Broker
from gatepost.devstack.browser import launch
from gatepost.devstack.postgres import TempPostgres
from tests.factories import Stacks

ROOT = Path(__file__).resolve().parent.parent
# The session's PostgreSQL is a throwaway cluster without fsync (tests do not wait on the
# disk), which the cloud refuses to serve from unless told; the test of that refusal says
# otherwise itself. Cloud processes the tests start inherit this.
os.environ.setdefault("GATEPOST_ALLOW_ASYNC_COMMIT", "true")
# The stacks' clouds and daemons are forked from a server that imported them once per test
# process (``gatepost.devstack.spawn``): the same commands, without some 3 s of CPU importing
# each. The benchmarks the tests run as commands keep starting new interpreters.
spawn.fork_from_server(True)
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


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file migrated to the newest schema once per test process, for tests to copy
    (every cloud a test makes would otherwise run all the migrations again)."""
    path = tmp_path_factory.mktemp("template") / "cloud.sqlite"
    Database(path).close()
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres) -> str:
    """The name of a PostgreSQL database migrated to the newest schema once per test process,
    that tests' databases are made from (``CREATE DATABASE … TEMPLATE``)."""
    url = postgres.create_database("t_migrated")
    Database(url).close()
    return "t_migrated"


@pytest.fixture(params=["sqlite", "postgresql"])
def cloud_db(request, tmp_path: Path) -> str:
    """The cloud's database, once on each backend: a SQLite file, or a fresh PostgreSQL
    database in the session's cluster; both already at the newest schema, as a cloud leaves
    an empty one when it first starts."""
    if request.param == "sqlite":
        path = tmp_path / "cloud.sqlite"
        with closing(sqlite3.connect(request.getfixturevalue("migrated_sqlite"))) as src, \
                closing(sqlite3.connect(path)) as dst:
            src.backup(dst)
        return str(path)
    return request.getfixturevalue("postgres").create_database(
        template=request.getfixturevalue("migrated_postgres"))


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


@pytest.fixture
def make_stack(tmp_path: Path):
    """Builds the test's stack: ``make_stack(gates, options)`` starts a ``Stack`` in
    ``tmp_path`` (``start=False`` leaves it to the test) and stops it when the test ends."""
    stacks = Stacks(tmp_path)
    try:
        yield stacks
    finally:
        stacks.stop_all()


@pytest.fixture(scope="module")
def make_module_stack(tmp_path_factory: pytest.TempPathFactory):
    """``make_stack`` for a module's fixture: a stack its tests share, in a fresh folder
    (``workdir=tmp_path_factory.mktemp(...)`` to name it), stopped when the module ends."""
    stacks = Stacks(tmp_path_factory.mktemp("stack"))
    try:
        yield stacks
    finally:
        stacks.stop_all()
