"""Plate normalisation per country and the look-alike-safe matcher (pure; tables and properties)."""

from __future__ import annotations

import csv

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from edge.core.plate_match import PlateIndex, skeleton
from gatepost.devstack.assets import plates_dir
from shared.plates import FORMATS, LOOKALIKE_PAIRS, RU_LETTERS, normalise

LABELS = plates_dir() / "labels.csv"  # $GATEPOST_PLATES, else ../shared/plates


@pytest.mark.parametrize(("raw", "country", "text", "repaired"), [
    ("mh 12 ab 1234", "IN", "MH12AB1234", 0),
    ("MH-12-A8-1234", "IN", "MH12AB1234", 1),   # 8 where a letter must be
    ("DL3CAF0001", "IN", "DL3CAF0001", 0),
    ("DL3CAF0OO1", "IN", "DL3CAF0001", 2),      # O where digits must be
    ("ABCD123", "BR", "ABC0123", 1),            # D reads as 0 where a digit must be
    ("22BH1234AA", "IN", "22BH1234AA", 0),
    ("KL25F5025", "IN", "KL25F5025", 0),
    ("А123ВС77", "RU", "A123BC77", 0),          # Cyrillic letters
    ("E229PT161", "RU", "E229PT161", 0),
    ("0ZU5764", "BR", "OZU5764", 1),
    ("ABC1D23", "BR", "ABC1D23", 0),            # Mercosul
    ("WOBVWMK4", "GENERIC", "WOBVWMK4", 0),
])
def test_normalise_table(raw, country, text, repaired):
    p = normalise(raw, country)
    assert p is not None and (p.text, p.repaired) == (text, repaired)


@pytest.mark.parametrize(("raw", "country"), [
    ("XX12AB1234", "IN"),     # not a state code
    ("MH12AB123456", "IN"),   # too long
    ("DL3CAFOOO1", "IN"),     # three repairs: more than a read is trusted with
    ("A123FC77", "RU"),       # F is not a Russian plate letter
    ("ABCX123", "BR"),        # X cannot be a digit
    ("OOOOOOO", "BR"),        # would need 4 repairs
    ("!", "GENERIC"),
    ("", "IN"),
])
def test_malformed_reads_are_dropped(raw, country):
    assert normalise(raw, country) is None


def test_unknown_country_is_an_error():
    with pytest.raises(ValueError, match="unknown country"):
        normalise("ABC123", "XX")


@pytest.mark.skipif(not LABELS.exists(),
                    reason=f"optional assets missing: no plate labels at {LABELS}")
def test_every_real_label_is_its_own_normal_form():
    country = {"india": "IN", "russia": "RU", "brazil": "BR", "eu_control": "GENERIC"}
    rows = list(csv.DictReader(LABELS.open()))
    assert rows
    for r in rows:
        p = normalise(r["plate_text"], country[r["country"]])
        assert p is not None and p.text == r["plate_text"] and p.repaired == 0, r


def plate_of(template: str, letters: str = "ABCDEFGHJKLMNPRSTUVWXYZ"):
    parts = [st.sampled_from(letters) if k == "L" else st.sampled_from("0123456789")
             for k in template]
    return st.tuples(*parts).map("".join)


@given(st.sampled_from(FORMATS["BR"]).flatmap(lambda f: plate_of(f.template)))
def test_valid_brazilian_plates_are_fixed_points(text):
    p = normalise(text, "BR")
    assert p is not None and p.text == text and p.repaired == 0
    again = normalise(p.text, "BR")
    assert again == p


@given(st.sampled_from(FORMATS["RU"]).flatmap(lambda f: plate_of(f.template, RU_LETTERS)))
def test_valid_russian_plates_are_fixed_points(text):
    p = normalise(text, "RU")
    assert p is not None and p.text == text and p.repaired == 0


plates = st.sampled_from(FORMATS["BR"]).flatmap(lambda f: plate_of(f.template, "ABDEGIOSTZ"))
PAIRS = [(a, b) for a, b in LOOKALIKE_PAIRS] + [(b, a) for a, b in LOOKALIKE_PAIRS]


def swap_one(text: str, data) -> str | None:
    spots = [(i, b) for i, c in enumerate(text) for a, b in PAIRS if a == c]
    if not spots:
        return None
    i, b = data.draw(st.sampled_from(spots))
    return text[:i] + b + text[i + 1:]


@settings(max_examples=300, deadline=None)
@given(allow=st.lists(plates, min_size=1, max_size=30, unique=True), read=plates)
def test_a_match_is_never_wrong(allow, read):
    m = PlateIndex(allow).match(read)
    if m.kind == "exact":
        assert m.plate == read
    elif m.kind == "lookalike":
        assert read not in allow
        near = [p for p in allow if skeleton(p) == skeleton(read)
                and sum(x != y for x, y in zip(p, read, strict=True)) == 1]
        assert near == [m.plate]
    else:
        assert m.plate is None


@settings(max_examples=300, deadline=None)
@given(read=plates, data=st.data(), others=st.lists(plates, max_size=20))
def test_a_read_one_lookalike_from_two_plates_never_opens(read, data, others):
    a = swap_one(read, data)
    b = swap_one(read, data)
    assume(a is not None and b is not None and a != b)
    allow = {a, b, *others} - {read}
    m = PlateIndex(allow).match(read)
    assert m.kind == "ambiguous" and m.plate is None and {a, b} <= set(m.candidates)


def test_exact_match_flags_a_lookalike_twin():
    idx = PlateIndex(["MH12AB1234", "MH12A81234", "KA01AB0001"])
    assert idx.match("MH12AB1234").twin is True
    assert idx.match("KA01AB0001").twin is False
    assert idx.match("KA01AB000I").kind == "lookalike"
    assert idx.match("KA01AB9999").kind == "none"
