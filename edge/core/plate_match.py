"""Matching a plate read against the allowlist, safely (pure).

Exact first. Otherwise a read may match a plate that differs from it in exactly one position
by an OCR look-alike (O/0, I/1, B/8, …), and only when that plate is the single candidate:
a read one look-alike away from two allowlisted plates is ambiguous and never names a plate.
An exact match that has such a twin in the allowlist is flagged, so policy can ask for more
confidence before opening.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from shared.plates import LOOKALIKE_PAIRS


def _classes() -> dict[str, str]:
    """Union-find over the look-alike pairs: each character → its class representative."""
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    for a, b in LOOKALIKE_PAIRS:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {c: find(c) for pair in LOOKALIKE_PAIRS for c in pair}


_CLASS = _classes()


def skeleton(text: str) -> str:
    """The text with every look-alike replaced by its class representative."""
    return "".join(_CLASS.get(c, c) for c in text)


def _diff(a: str, b: str) -> int:
    return sum(1 for x, y in zip(a, b, strict=True) if x != y)


@dataclass(frozen=True)
class PlateMatch:
    """How a read relates to the allowlist."""

    kind: Literal["exact", "lookalike", "ambiguous", "none"]
    plate: str | None = None
    candidates: tuple[str, ...] = ()
    twin: bool = False  # exact, but another plate is one look-alike away


class PlateIndex:
    """An allowlist of normalised plates, indexed by skeleton."""

    def __init__(self, plates: Iterable[str]) -> None:
        self._plates = frozenset(plates)
        self._groups: dict[str, list[str]] = defaultdict(list)
        for p in self._plates:
            self._groups[skeleton(p)].append(p)
        self._twins = frozenset(
            p for group in self._groups.values() if len(group) > 1 for p in group
            if any(q != p and _diff(p, q) == 1 for q in group)
        )

    def __len__(self) -> int:
        return len(self._plates)

    def match(self, read: str) -> PlateMatch:
        """Exact, single look-alike candidate, ambiguous, or none."""
        if read in self._plates:
            return PlateMatch("exact", read, (read,), twin=read in self._twins)
        near = tuple(sorted(p for p in self._groups.get(skeleton(read), ())
                            if _diff(p, read) == 1))
        if len(near) == 1:
            return PlateMatch("lookalike", near[0], near)
        if near:
            return PlateMatch("ambiguous", None, near)
        return PlateMatch("none")


def agree(candidates: Iterable[tuple[str, float]], index: PlateIndex,
          min_score: float) -> PlateMatch:
    """What the confident candidates of one vehicle agree on.

    Every candidate scoring at least *min_score* is matched; one ambiguous candidate makes
    the whole read ambiguous, and candidates naming different plates make it ambiguous too.
    """
    plates: dict[str, str] = {}
    for text, score in candidates:
        if score < min_score:
            continue
        m = index.match(text)
        if m.kind == "ambiguous":
            return m
        if m.plate is not None:
            plates.setdefault(m.plate, m.kind)
    if len(plates) > 1:
        return PlateMatch("ambiguous", None, tuple(sorted(plates)))
    if plates:
        plate, kind = next(iter(plates.items()))
        return PlateMatch("exact" if kind == "exact" else "lookalike", plate, (plate,))
    return PlateMatch("none")
