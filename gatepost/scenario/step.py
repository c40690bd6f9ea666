"""The ``Step`` of the file format, made from the registry: one optional field per registered
step, plus ``expect`` and ``name``; exactly one step key set per step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model, model_validator

from gatepost.scenario import steps
from gatepost.scenario.base import Model
from gatepost.scenario.registry import STEPS, expect_model


def expect_owners() -> str:
    """The refusal of an ``expect`` on a step that takes none: which steps take one."""
    keys = sorted(k for k, kind in STEPS.items() if kind.expect is not None)
    return f"expect: belongs to the steps {', '.join(keys)}"


class StepBase(Model):
    """Exactly one action key per step, plus an optional ``expect``."""

    expect: dict[str, Any] | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> StepBase:
        keys = [k for k in STEPS if getattr(self, k, None) is not None]
        if len(keys) != 1:
            raise ValueError(f"a step needs exactly one action, found {keys or 'none'}")
        kind = STEPS[keys[0]]
        value = getattr(self, kind.key)
        if kind.check is not None:
            kind.check(value)
        if self.expect is not None:
            model = expect_model(kind, value)
            if model is None:
                raise ValueError(expect_owners())
            model.model_validate(self.expect)
        return self


def _build() -> type[StepBase]:
    steps.load_all()
    fields: dict[str, Any] = {
        kind.key: (f"{kind.model} | None" if isinstance(kind.model, str) else kind.model | None,
                   Field(None, description=kind.description))
        for kind in STEPS.values()}  # a str: a forward reference (``list[Step]``)
    model = create_model("Step", __base__=StepBase, __module__=__name__,
                         __doc__=StepBase.__doc__, **fields)
    model.model_rebuild(_types_namespace={"Step": model})
    return model


if TYPE_CHECKING:
    Step = StepBase
else:
    Step = _build()
