"""The scenario steps of people, partners and codes, dispatched for the runner: residents in
their app, the registries' and the partner's knobs, visitor passes, codes typed on a keypad or
at the panel, and what the partner and the cloud hold of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatepost.scenario.admin import admin_step
from gatepost.scenario.codes import (
    codes_job,
    expect_code,
    guard_code,
    keypad_step,
    qr_step,
    visitor_step,
)
from gatepost.scenario.partners import expect_partner, partner_step
from gatepost.scenario.residents import registry_step, resident_step
from gatepost.scenario.walkins import admit, answer, walk_in

if TYPE_CHECKING:
    from gatepost.scenario.runner import ScenarioRun
    from gatepost.scenario.schema import Step


def check(expect: dict[str, Any] | None, got: dict[str, Any]) -> list[str]:
    """Each expected key against what a step got; an error per difference."""
    errors = []
    for key, want in (expect or {}).items():
        if got.get(key) != want:
            errors.append(f"{key}: expected {want!r}, got {got.get(key)!r}")
    return errors


def people_step(run: ScenarioRun, step: Step) -> dict[str, Any] | None:
    """The step's result, if it is one of these steps (None: the runner's own)."""
    if step.visitor and (step.visitor.walk_in or step.visitor.admit):
        got = walk_in(run, step.visitor) if step.visitor.walk_in else admit(run, step.visitor)
        return {**got, "errors": got.pop("errors", []) + check(step.expect, got)}
    if step.visitor and (step.visitor.approve or step.visitor.deny):
        got = answer(run, step.visitor)
        return {**got, "errors": got.pop("errors", []) + check(step.expect, got)}
    if step.resident or step.visitor:
        got = resident_step(run, step.resident) if step.resident else \
            visitor_step(run, step.visitor)  # type: ignore[arg-type]
        errors = got.pop("errors", []) + run._synced(got)
        return {**got, "errors": errors + check(step.expect, got)}
    if step.keypad or step.guard_code or step.qr:
        got = keypad_step(run, step.keypad) if step.keypad else \
            qr_step(run, step.qr) if step.qr else \
            guard_code(run, step.guard_code)  # type: ignore[arg-type]
        return {**got, "errors": got.pop("errors", []) + check(step.expect, got)}
    if step.registry:
        return registry_step(run, step.registry.mode, step.registry.delay_s,
                             step.registry.which)
    if step.partner:
        return partner_step(run, step.partner.mode, step.partner.delay_s)
    if step.expect_code:
        return expect_code(run, step.expect_code)
    if step.codes_job:
        got = codes_job(run)
        return {**got, "errors": got.pop("errors", []) + check(step.expect, got)}
    if step.expect_partner:
        return expect_partner(run, step.expect_partner)
    return admin_step(run, step)
