"""Free text in CSV exports never runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pytest

from edge.faces.panel.queries import events_csv
from shared.cells import safe_cell


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("gate stuck", "gate stuck"),
    ("MH12AB1234", "MH12AB1234"), (42, 42), (-5, -5), ("", ""),
])
def test_safe_cell(value, cell):
    assert safe_cell(value) == cell


def test_a_guards_reason_starting_with_a_formula_sign_is_exported_as_text():
    reason = "=HYPERLINK(\"http://evil\",\"x\")"
    text = events_csv([{"id": 1, "detail": reason, "vrn": "MH12AB1234"}])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["detail"] == "'" + reason and row["vrn"] == "MH12AB1234"
