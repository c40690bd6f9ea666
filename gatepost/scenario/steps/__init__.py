"""The scenario steps, a module per family: each declares its steps' models and registers
their handlers (``gatepost.scenario.registry``). A new module here is found by itself."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    """Import every step module, so that each registers its steps."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")
