"""Every public contract is documented: CLI commands and flags, topics, reasons, scenario steps."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from gatepost.cli import build_parser
from gatepost.scenario.schema import Step
from gatepost.scenario.steps.cloud import CLOUD_ACTIONS
from shared.contract import ALL_TOPIC_PATTERNS
from shared.vocab import EventType, Reason

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def commands() -> list[tuple[list[str], argparse.ArgumentParser]]:
    out = []

    def walk(path: list[str], p: argparse.ArgumentParser) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out.append((path, p))
        for action in subs:
            for name, child in action.choices.items():
                walk([*path, name], child)

    walk([], build_parser())
    return out


COMMANDS = commands()


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_every_command_and_flag_is_documented(path, parser):
    text = (DOCS / "cli.md").read_text()
    assert f"gatepost {' '.join(path)}`" in text
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--help":
                assert opt in text, f"{opt} of gatepost {' '.join(path)} is not in docs/cli.md"


@pytest.mark.parametrize("path", [c[0] for c in COMMANDS], ids=[" ".join(c[0]) for c in COMMANDS])
def test_every_command_has_help(path):
    p = subprocess.run([sys.executable, "-m", "gatepost.cli", *path, "--help"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "usage: gatepost" in p.stdout


def test_every_topic_and_event_type_is_documented():
    text = (DOCS / "mqtt.md").read_text()
    for topic in ALL_TOPIC_PATTERNS:
        assert topic in text
    for t in EventType:
        assert f"`{t.value}`" in text


def test_every_reason_code_is_documented():
    text = (DOCS / "reasons.md").read_text()
    for r in Reason:
        assert f"`{r.value}`" in text


def test_every_scenario_action_is_documented():
    text = (DOCS / "scenarios.md").read_text()
    for key in Step.model_fields:
        assert f"`{key}" in text, key
    for action in CLOUD_ACTIONS:
        assert f"`{action}`" in text


def test_readme_opens_with_the_two_commands():
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:10])
    assert "make demo" in head and "make test" in head


def test_changelog_names_every_reason_and_command():
    text = (ROOT / "CHANGELOG.md").read_text()
    for r in Reason:
        assert r.value in text
    for path, _ in COMMANDS:
        assert path[-1] in text


def test_every_refusal_code_of_the_cloud_is_documented():
    """Each reason a cloud route can refuse with is in the refusals table of cloud-api.md."""
    from cloud.refusals import Refusal

    doc = (ROOT / "docs" / "cloud-api.md").read_text()
    table = doc[doc.index("## Refusals"):]
    codes = {r.value for r in Refusal}  # every literal in cloud/ is one: test_refusal_codes
    assert len(codes) > 40
    missing = sorted(c for c in codes if f"`{c}`" not in table)
    assert not missing, f"refusal codes not in docs/cloud-api.md: {missing}"


def _config_keys(model: type, prefix: str = "") -> list[str]:
    """Every key of the edge config, as docs/config.md spells it (``gates[].reader.url``)."""
    import types
    import typing

    from pydantic import BaseModel

    keys = []
    for name, field in model.model_fields.items():
        inner = field.annotation
        if typing.get_origin(inner) in (typing.Union, types.UnionType):  # X | None
            inner = next(a for a in typing.get_args(inner) if a is not type(None))
        item = typing.get_args(inner)[0] if typing.get_origin(inner) is list else None
        if isinstance(item, type) and issubclass(item, BaseModel):
            keys += _config_keys(item, f"{prefix}{name}[].")
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            keys += _config_keys(inner, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_the_config_table_and_example_name_every_key():
    import re

    from edge.config import EdgeConfig

    documented = set()
    for line in (DOCS / "config.md").read_text().splitlines():
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", line.split(" | ")[0])
        parent = names[0].rpartition(".")[0]
        documented.add(names[0])
        documented |= {f"{parent}.{n}" if parent and "." not in n else n for n in names[1:]}
    keys = _config_keys(EdgeConfig)
    assert len(keys) > 50
    assert [k for k in keys if k not in documented] == []
    example = (DOCS.parent / "config" / "edge.example.toml").read_text()
    missing = [k for k in keys if not re.search(
        rf"^#?\s*{re.escape(k.rpartition('.')[2])}\s*=", example, re.M)]
    assert missing == []


def test_the_grafana_dashboard_asks_only_for_metrics_that_exist():
    import json
    import re

    dash = json.loads((DOCS / "grafana" / "gatepost-fleet.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) > 15
    documented = (DOCS / "metrics.md").read_text()
    names = {re.sub(r"_(bucket|sum|count)$", "", n) for e in exprs
             for n in re.findall(r"gatepost_[a-z_]+", e)}
    assert sorted(n for n in names if f"`{n}`" not in documented
                  and f"`{n.removeprefix('gatepost_edge')}`" not in documented) == []
