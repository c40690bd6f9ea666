"""The steps a scenario file may hold, each registered once, beside its model and handler.

A step module in ``gatepost.scenario.steps`` declares its value's model and registers its
handler under the step's key::

    @step("advance", str | float, check=parse_duration)
    def advance(run: Run, spec: str | float, expect: dict | None) -> dict: ...

The file format's ``Step`` model gets one optional field per registered key
(``gatepost.scenario.step``), and the runner calls the handler of the key a step sets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gatepost.scenario.context import Run

Handler = Callable[[Run, Any, dict[str, Any] | None], dict[str, Any]]
ExpectModel = type[BaseModel] | Callable[[Any], type[BaseModel]]


@dataclass(frozen=True)
class StepKind:
    """One step of the file format: its key, its value's model and what runs it."""

    key: str
    model: Any  # the annotation of the step's value in a file (a model, a Literal, …)
    run: Handler  # (run, the step's value, its ``expect``) → the step's line
    expect: ExpectModel | None  # the model its ``expect`` must match (or a function of the
    # value giving it); None: the step takes no ``expect``
    check: Callable[[Any], object] | None  # more checks of the value: raises ValueError
    description: str | None


STEPS: dict[str, StepKind] = {}


def step(key: str, model: Any, *, expect: ExpectModel | None = None,
         check: Callable[[Any], object] | None = None, description: str | None = None
         ) -> Callable[[Handler], Handler]:
    """Register the decorated handler as the step *key*, whose value is a *model*."""
    def register(run: Handler) -> Handler:
        if key in STEPS:
            raise RuntimeError(f"scenario step {key!r} registered twice")
        STEPS[key] = StepKind(key, model, run, expect, check, description)
        return run
    return register


def action_of(step: BaseModel) -> tuple[str, Any]:
    """The key a step sets and its value (``("?", None)``: none, in a step not validated)."""
    for key in STEPS:
        value = getattr(step, key, None)
        if value is not None:
            return key, value
    return "?", None


def expect_model(kind: StepKind, value: Any) -> type[BaseModel] | None:
    """The model a step's ``expect`` must match, for this value of the step."""
    if kind.expect is None or isinstance(kind.expect, type):
        return kind.expect
    return kind.expect(value)
