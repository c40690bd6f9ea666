"""Licence-plate text: per-country normalisation with position-aware look-alike repair.

OCR output (or a typed plate) becomes the canonical form the allowlist uses, or ``None`` when
it cannot be a plate of that country: malformed reads are dropped, never matched. Cyrillic
letters become their Latin look-alikes (Russian plates use only A B E K M H O P C T Y X).

A template marks each position as a letter (``L``) or a digit (``D``). When a read misses its
template only by look-alikes in the wrong class (``0`` where a letter must be, ``B`` where a
digit must be), those positions are repaired, and the number repaired is reported so a caller
can treat repaired reads with more suspicion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.vrn import CYRILLIC_TO_LATIN, INDIA_STATES, RU_LETTERS

_SEPARATORS = re.compile(r"[\s\-.·_/|]")

# Pairs an OCR model confuses; letter ↔ digit repairs use the same table.
LOOKALIKE_PAIRS: tuple[tuple[str, str], ...] = (
    ("O", "0"), ("D", "0"), ("Q", "0"), ("I", "1"), ("L", "1"), ("B", "8"), ("S", "5"),
    ("Z", "2"), ("G", "6"), ("A", "4"), ("T", "7"),
)
_TO_DIGIT = {a: b for a, b in LOOKALIKE_PAIRS}
_TO_LETTER = {b: a for a, b in reversed(LOOKALIKE_PAIRS)}  # first pair wins: 0 → O


@dataclass(frozen=True)
class Format:
    """One plate layout of a country."""

    name: str
    template: str  # L letter, D digit
    letters: str | None = None  # allowed letters, when not all of A–Z
    # Extra check on the whole text (e.g. Indian state codes).
    check: re.Pattern[str] | None = None


_IN_STATE_RE = re.compile(rf"^(?:{'|'.join(sorted(INDIA_STATES))})")
_IN_SERIES = ("LLDDLLDDDD", "LLDDLDDDD", "LLDDLLLDDDD", "LLDDDDDD", "LLDLLLDDDD", "LLDLLDDDD",
              "LLDLDDDD", "LLDDDDD")

FORMATS: dict[str, tuple[Format, ...]] = {
    # State series: state, RTO district (1–2 digits), series (0–3 letters), number (4 digits).
    "IN": (*(Format("state series", t, check=_IN_STATE_RE) for t in _IN_SERIES),
           Format("BH series", "DDLLDDDDLL"), Format("BH series", "DDLLDDDDL")),
    "RU": (Format("private", "LDDDLLDD", RU_LETTERS),
           Format("private", "LDDDLLDDD", RU_LETTERS)),
    "BR": (Format("old", "LLLDDDD"), Format("Mercosul", "LLLDLDD")),
}
COUNTRIES = (*FORMATS, "GENERIC")
_GENERIC = re.compile(r"^[A-Z0-9]{3,10}$")


@dataclass(frozen=True)
class Plate:
    """A normalised plate and how much repair it took."""

    text: str
    country: str
    format: str
    repaired: int = 0


def clean(raw: str) -> str:
    """Upper-case, Cyrillic to Latin, separators removed."""
    return _SEPARATORS.sub("", raw.translate(CYRILLIC_TO_LATIN)).upper()


def _fit(text: str, fmt: Format) -> tuple[str, int] | None:
    if len(text) != len(fmt.template):
        return None
    out, repaired = [], 0
    for ch, kind in zip(text, fmt.template, strict=True):
        if kind == "D":
            if not ch.isdigit():
                if ch not in _TO_DIGIT:
                    return None
                ch, repaired = _TO_DIGIT[ch], repaired + 1
        else:
            if not ch.isalpha():
                if ch not in _TO_LETTER:
                    return None
                ch, repaired = _TO_LETTER[ch], repaired + 1
            if fmt.letters and ch not in fmt.letters:
                return None
        out.append(ch)
    fitted = "".join(out)
    if fmt.check and not fmt.check.match(fitted):
        return None
    return fitted, repaired


def normalise(raw: str, country: str = "GENERIC", *, max_repairs: int = 2) -> Plate | None:
    """The canonical plate for *raw* in *country*, or None when it cannot be one.

    Among the country's formats the fit needing the fewest repairs wins; more than
    ``max_repairs`` repaired positions is treated as a bad read.
    """
    text = clean(raw)
    c = country.upper()
    if c in FORMATS:
        best: Plate | None = None
        for fmt in FORMATS[c]:
            fit = _fit(text, fmt)
            if fit and fit[1] <= max_repairs and (best is None or fit[1] < best.repaired):
                best = Plate(fit[0], c, fmt.name, fit[1])
        return best
    if c != "GENERIC":
        raise ValueError(f"unknown country {country!r}; known: {', '.join(COUNTRIES)}")
    return Plate(text, "GENERIC", "generic") if _GENERIC.match(text) else None
