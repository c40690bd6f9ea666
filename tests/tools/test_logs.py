"""Logs as operators read them: JSON lines for shippers, priorities for the journal, INFO for
the daemons; ``--version``; every ``--help`` shows its defaults."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from gatepost.cli import _every_parser, _setup_logging, build_parser

# `cloud rules-reset` logs one WARNING line ("rules epoch is now …") and prints JSON on stdout.
RESET = ["cloud", "rules-reset", "--reason", "test"]


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
        stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gatepost.cli", *args, "--db",
                           str(tmp_path / "cloud.sqlite")], stdout=subprocess.PIPE,
                          stderr=stderr, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items()
                               if k not in ("JOURNAL_STREAM", "GATEPOST_LOG_FORMAT")}
                          | (env or {}))


def test_json_lines_for_log_shippers(tmp_path: Path):
    done = run(tmp_path, "--log-format", "json", *RESET)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stderr.splitlines()]
    reset = [x for x in lines if "rules epoch is now" in x["message"]]
    assert len(reset) == 1
    assert reset[0]["level"] == "WARNING" and reset[0]["logger"] == "cloud.society.epoch"
    assert reset[0]["time"].startswith("20") and "T" in reset[0]["time"]
    same = run(tmp_path, *RESET, env={"GATEPOST_LOG_FORMAT": "json"})  # from the environment
    assert all(json.loads(x)["level"] for x in same.stderr.splitlines())


def test_under_the_journal_each_line_has_its_priority_and_no_time(tmp_path: Path):
    with open(tmp_path / "journal", "w+") as err:
        st = os.fstat(err.fileno())
        done = run(tmp_path, *RESET, env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
                   stderr=err)
        err.seek(0)
        lines = err.read().splitlines()
    assert done.returncode == 0
    line = next(x for x in lines if "rules epoch is now" in x)
    assert line.startswith("<4>WARNING cloud.society.epoch: rules epoch is now")
    plain = run(tmp_path, *RESET)  # not the journal's stream: the time leads
    assert plain.stderr.startswith("20") and " WARNING cloud.society.epoch: " in plain.stderr


@pytest.mark.parametrize(("argv", "level"), [
    (["edge", "run", "--config", "x.toml"], logging.INFO),
    (["cloud", "run"], logging.INFO),
    (["cloud", "backup", "f.sqlite"], logging.WARNING),
    (["-v", "cloud", "backup", "f.sqlite"], logging.DEBUG),
])
def test_the_daemons_log_at_info_the_tools_at_warning(argv, level, monkeypatch):
    monkeypatch.delenv("GATEPOST_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    before = root.level
    try:
        _setup_logging(build_parser().parse_args(argv))
        assert root.level == level
    finally:
        root.setLevel(before)
        for h in [h for h in root.handlers if h.get_name() == "gatepost"]:
            root.removeHandler(h)


def test_version_and_defaults_in_every_help():
    v = subprocess.run([sys.executable, "-m", "gatepost.cli", "--version"],
                       capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and v.stdout.strip() == f"gatepost {version('gatepost')}"
    parsers = _every_parser(build_parser())
    assert len(parsers) > 30
    for parser in parsers:
        text = " ".join(parser.format_help().split())
        for a in parser._actions:
            if a.option_strings and a.default not in (None, False, [], argparse.SUPPRESS) \
                    and a.help != argparse.SUPPRESS:
                assert f"(default: {a.default})" in text, (parser.prog, a.dest)
