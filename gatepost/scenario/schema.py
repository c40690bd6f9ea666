"""The scenario file format (docs/scenarios.md): a public contract, extended compatibly.

Every model forbids unknown keys, so a typo is an error with its step and key path, never a
silently ignored expectation. The set-up's models are in ``gatepost.scenario.defs``; each
step's model is beside its handler in ``gatepost.scenario.steps``.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from gatepost.scenario.base import ScenarioError
from gatepost.scenario.defs import ScenarioSetup
from gatepost.scenario.step import Step

__all__ = ["Scenario", "ScenarioError", "Step", "load"]


class Scenario(ScenarioSetup):
    """One scenario file: its set-up and its steps."""

    steps: list[Step] = Field(min_length=1)


def load(path: Path) -> Scenario:
    """Parse and validate one file, or raise ScenarioError."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: no such file") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping with name, site and steps")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = list(err["loc"])
            where = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
                where = f"step {loc[1] + 1}" + ("." + ".".join(str(p) for p in loc[2:])
                                                 if len(loc) > 2 else "")
            lines.append(f"{path}: {where or 'top level'}: {err['msg']}")
        raise ScenarioError("\n".join(lines)) from exc
