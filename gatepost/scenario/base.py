"""What every part of a scenario shares: the strict model base, durations, the error a file
that cannot be run raises, the check of a step's ``expect`` and the ``expect`` of the steps
that act through the cloud API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shared.clock import parse_duration

Duration = Annotated[float, BeforeValidator(lambda v: parse_duration(v).total_seconds())]


class Model(BaseModel):
    """A part of the file format: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ScenarioError(Exception):
    """A file that cannot be run: names the file, the step and the reason."""


class CloudExpect(Model):
    status: int | None = None
    reason: str | None = None
    partner: str | None = Field(None, description="the partner link's state in the answer")
    partner_reason: str | None = Field(None, description="why the link is user_not_found: "
                                       "app_not_installed, different_phone or "
                                       "not_mapped_to_society")


def check(expect: dict[str, Any] | None, got: dict[str, Any]) -> list[str]:
    """Each expected key against what a step got; an error per difference."""
    errors = []
    for key, want in (expect or {}).items():
        if got.get(key) != want:
            errors.append(f"{key}: expected {want!r}, got {got.get(key)!r}")
    return errors
