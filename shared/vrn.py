"""Vehicle registration numbers (VRN) as people type them: normalisation and validation by the
site's country, in one place for the cloud and the box.

- **India** (``IN``): state series ``MH12AB1234``, ``DL3CAF0001`` and the Bharat series
  ``22BH1234AA``.
- **Russia** (``RU``): private ``А123ВС77`` / ``A123BC777`` (a letter, three digits, two
  letters, a region of two digits, or three not starting with 0), taxi ``АА12377`` (two letters,
  three digits, region) and trailers ``АА123477`` (two letters, four digits, region). Only the
  12 Cyrillic letters with Latin look-alikes are used, and a plate typed in either alphabet is
  one vehicle: ``normalise`` writes them in Latin, as a camera reads them.
- **Brazil** (``BR``): the old ``ABC-1234`` and Mercosul ``BRA2E19``, each kept as typed (the
  2018 conversion's equivalence of ``ABC1234`` and ``ABC1C34`` is not matched yet: the camera's
  reading would have to end in the same form).
- Any other country (``GENERIC``, the European fallback): 2–10 letters and digits.

The camera's reading of a plate (``shared.plates``) ends in the same forms.
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

# The Cyrillic letters of Russian plates and their Latin look-alikes.
CYRILLIC_TO_LATIN = str.maketrans("АВЕКМНОРСТУХавекмнорстух", "ABEKMHOPCTYXABEKMHOPCTYX")
RU_LETTERS = "ABEKMHOPCTYX"
_RU_REGION = r"(?:[0-9]{2}|[1-9][0-9]{2})"
_RU = {
    "private": re.compile(rf"^[{RU_LETTERS}][0-9]{{3}}[{RU_LETTERS}]{{2}}{_RU_REGION}$"),
    "taxi": re.compile(rf"^[{RU_LETTERS}]{{2}}[0-9]{{3}}{_RU_REGION}$"),
    "trailer": re.compile(rf"^[{RU_LETTERS}]{{2}}[0-9]{{4}}{_RU_REGION}$"),
}
_BR_OLD = re.compile(r"^[A-Z]{3}[0-9]{4}$")
_BR_MERCOSUL = re.compile(r"^[A-Z]{3}[0-9][A-Z][0-9]{2}$")

# What a refusal names as the country's formats.
EXPECTED = {
    "IN": "MH12AB1234, DL3CAF0001 or 22BH1234AA",
    "RU": "А123ВС77 or A123BC777 (private), АА12377 (taxi) or АА123477 (trailer), in Cyrillic "
          "or Latin letters А В Е К М Н О Р С Т У Х",
    "BR": "BRA2E19 (Mercosul) or ABC-1234 (old)",
    "GENERIC": "2 to 10 letters and digits",
}
COUNTRY_NAMES = {"IN": "an Indian", "RU": "a Russian", "BR": "a Brazilian"}


def normalise(text: str) -> str:
    """Upper-case, Cyrillic look-alikes in Latin, separators stripped: ``"mh 12-ab 1234"`` →
    ``"MH12AB1234"``, ``"а123вс 77"`` → ``"A123BC77"``."""
    return _SEPARATORS.sub("", text.translate(CYRILLIC_TO_LATIN)).upper()


def india_problem(vrn: str) -> str | None:
    """Why *vrn* is not a valid Indian registration number, or None when it is."""
    v = normalise(vrn)
    if _INDIA_BH.match(v):
        return None
    if not _INDIA_STATE.match(v):
        return (
            f"{vrn!r} is not an Indian registration number "
            f"(expected e.g. {EXPECTED['IN']})"
        )
    if v[:2] not in INDIA_STATES:
        return (f"{vrn!r} starts with {v[:2]!r}, which is not an Indian state or territory code "
                f"(expected e.g. {EXPECTED['IN']})")
    return None


def problem(vrn: str, country: str = "IN") -> str | None:
    """Why *vrn* is not a registration number of *country*, naming its formats; None when it
    is one."""
    c = country.upper()
    v = normalise(vrn)
    if c == "IN":
        return india_problem(v)
    if c == "RU":
        if any(f.match(v) for f in _RU.values()):
            return None
    elif c == "BR":
        if _BR_OLD.match(v) or _BR_MERCOSUL.match(v):
            return None
    elif _GENERIC.match(v):
        return None
    return (f"{vrn!r} is not {COUNTRY_NAMES.get(c, 'a')} registration number "
            f"(expected {EXPECTED.get(c, EXPECTED['GENERIC'])})")


def validate(vrn: str, country: str = "IN") -> str:
    """Return the normalised VRN or raise ``ValueError`` with the reason."""
    why = problem(vrn, country)
    if why:
        raise ValueError(why)
    return normalise(vrn)
