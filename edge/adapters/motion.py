"""Motion in a camera's view: the cheap trigger that keeps an empty lane from costing CPU."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


class MotionTrigger:
    """Active from the first frame that differs from the learned empty scene until the scene
    has been calm for ``hold_s``.

    The background learns only while calm, so a vehicle that stops in front of the barrier
    keeps recognition going (a plate is not read once and then forgotten). A scene that stays
    changed for ``relearn_s`` (a car parked in view, a light left on) becomes the new background.
    """

    def __init__(self, threshold: float = 6.0, hold_s: float = 3.0, relearn_s: float = 120.0,
                 size: tuple[int, int] = (64, 36)) -> None:
        self.threshold = threshold
        self.hold_s = hold_s
        self.relearn_s = relearn_s
        self.size = size
        self._bg: Any = None
        self._until = 0.0
        self._since: float | None = None
        self.present = False  # the last frame differed from the empty scene

    def level(self, image: Any) -> float:
        """Mean absolute difference from the background, in grey levels."""
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), self.size,
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._bg is None or self._bg.shape != small.shape:
            self._bg = small
            return 0.0
        diff = float(np.mean(np.abs(small - self._bg)))
        self._last = small
        return diff

    def active(self, image: Any, now: float) -> bool:
        """Whether to recognise this frame."""
        diff = self.level(image)
        self.present = diff > self.threshold
        if self.present:
            self._until = now + self.hold_s
            self._since = self._since or now
            if now - self._since > self.relearn_s:
                self._bg = self._last
                self._since = None
        elif now >= self._until:
            self._since = None
            if self._bg is not None and hasattr(self, "_last"):
                cv2.accumulateWeighted(self._last, self._bg, 0.1)
        return now < self._until
