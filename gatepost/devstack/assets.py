"""Where the stack finds the assets kept beside the checkout: plate photographs and models."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    """The project's shared assets: $GATEPOST_SHARED, else ../shared beside the checkout."""
    env = os.environ.get("GATEPOST_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


def plates_dir() -> Path:
    """Plate photographs: $GATEPOST_PLATES, else <shared>/plates."""
    env = os.environ.get("GATEPOST_PLATES")
    return Path(env) if env else shared_dir() / "plates"


def alpr_models() -> Path:
    """Plate models: $GATEPOST_ALPR_MODELS, else <shared>/models."""
    env = os.environ.get("GATEPOST_ALPR_MODELS")
    return Path(env) if env else shared_dir() / "models"
