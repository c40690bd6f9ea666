"""Reason and refusal codes are enums: the docs and the tests read them, not the source."""

from __future__ import annotations

import re
from pathlib import Path

from cloud.refusals import Refusal
from shared.vocab import REASON_OUTCOMES, AlertKind, Reason

ROOT = Path(__file__).resolve().parents[2]


def test_every_refusal_is_in_the_refusals_table():
    doc = (ROOT / "docs" / "cloud-api.md").read_text()
    table = doc[doc.index("## Refusals"):]
    assert [r.value for r in Refusal if f"`{r.value}`" not in table] == []


def test_every_code_a_route_raises_is_a_refusal():
    """Until every ``CloudError`` names its code by the enum, a literal must be one of it."""
    found = set()
    for path in (ROOT / "cloud").rglob("*.py"):
        found |= set(re.findall(r'CloudError\(\s*[^,]+,\s*"([a-z_]+)"', path.read_text()))
    assert sorted(found - {r.value for r in Refusal}) == []


def test_codes_travel_as_the_same_strings():
    assert Refusal.UNKNOWN_SITE == "unknown_site" and f"{Refusal.NO_EDGE}" == "no_edge"
    assert Reason.TAG_VALID == "tag_valid" and AlertKind.BARRIER_FAILED == "barrier_failed"
    assert set(REASON_OUTCOMES) == set(Reason)
