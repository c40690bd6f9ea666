"""Vehicle registration numbers (VRN): normalisation and validation.

India first (the society product): state series ``MH12AB1234``, ``DL3CAF0001`` and the Bharat
series ``22BH1234AA``. Other countries come with plate recognition; unknown formats fall back
to a generic alphanumeric check.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-.·_/]")

# Two letters of the state, 1–2 digit RTO, 0–3 series letters, 1–4 digits.
_INDIA_STATE = re.compile(r"^[A-Z]{2}[0-9]{1,2}[A-Z]{0,3}[0-9]{1,4}$")
# Bharat series: year (2 digits), BH, 4 digits, 1–2 letters.
_INDIA_BH = re.compile(r"^[0-9]{2}BH[0-9]{4}[A-Z]{1,2}$")
INDIA_STATES = frozenset([
    "AN", "AP", "AR", "AS", "BR", "CH", "CG", "DD", "DL", "DN", "GA", "GJ", "HP", "HR", "JH",
    "JK", "KA", "KL", "LA", "LD", "MH", "ML", "MN", "MP", "MZ", "NL", "OD", "OR", "PB", "PY",
    "RJ", "SK", "TN", "TR", "TS", "UK", "UP", "WB",
])
_GENERIC = re.compile(r"^[A-Z0-9]{2,10}$")


def normalise(text: str) -> str:
    """Upper-case and strip separators: ``"mh 12-ab 1234"`` → ``"MH12AB1234"``."""
    return _SEPARATORS.sub("", text).upper()


def india_problem(vrn: str) -> str | None:
    """Why *vrn* is not a valid Indian registration number, or None when it is."""
    v = normalise(vrn)
    if _INDIA_BH.match(v):
        return None
    if not _INDIA_STATE.match(v):
        return (
            f"{vrn!r} is not an Indian registration number "
            "(expected e.g. MH12AB1234, DL3CAF0001 or 22BH1234AA)"
        )
    if v[:2] not in INDIA_STATES:
        return f"{vrn!r} starts with {v[:2]!r}, which is not an Indian state or territory code"
    return None


def validate(vrn: str, country: str = "IN") -> str:
    """Return the normalised VRN or raise ``ValueError`` with the reason."""
    v = normalise(vrn)
    if country.upper() == "IN":
        problem = india_problem(v)
        if problem:
            raise ValueError(problem)
        return v
    if not _GENERIC.match(v):
        raise ValueError(f"{vrn!r} is not a plausible registration number")
    return v
