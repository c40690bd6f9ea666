"""Plates as people type them, by the site's country (``shared.vrn``): each country's valid and
invalid examples, the Cyrillic / Latin identity of Russian plates, and refusals that name the
country's formats. And a site's country, language, currency and zone (``shared.country``)."""

from __future__ import annotations

import pytest

from shared import vrn
from shared.country import CountryError, SiteCountry, site_country

VALID = [
    ("IN", "MH12AB1234", "MH12AB1234"), ("IN", "dl 3c af 0001", "DL3CAF0001"),
    ("IN", "22BH1234AA", "22BH1234AA"),
    # Russia: private with 2- and 3-digit regions, taxi, trailer; Cyrillic or Latin, any case.
    ("RU", "A123BC77", "A123BC77"), ("RU", "А123ВС77", "A123BC77"),
    ("RU", "а 123 вс 777", "A123BC777"), ("RU", "О862УУ78", "O862YY78"),
    ("RU", "АА12377", "AA12377"), ("RU", "ЕК123199", "EK123199"),
    ("RU", "АХ123477", "AX123477"), ("RU", "ВМ1234750", "BM1234750"),
    ("RU", "Н250ОР250", "H250OP250"),
    # Brazil: old and Mercosul.
    ("BR", "ABC-1234", "ABC1234"), ("BR", "BRA2E19", "BRA2E19"), ("BR", "bra 2e19", "BRA2E19"),
    # Elsewhere: letters and digits.
    ("DE", "B-MW 1234", "BMW1234"), ("GENERIC", "AB12", "AB12"),
]
INVALID = [
    ("IN", "A123BC77"), ("IN", "ZZ12AB1234"), ("IN", "BRA2E19"),
    ("RU", "MH12AB1234"), ("RU", "0862YY78"),  # a Russian plate never starts with a digit
    ("RU", "Д123ВС77"),  # Д has no Latin look-alike: never on a plate
    ("RU", "A123BC7"), ("RU", "A123BC077"),  # regions are 2 digits, or 3 not starting 0
    ("RU", "Q123BC77"),  # only А В Е К М Н О Р С Т У Х
    ("BR", "AB1234"), ("BR", "ABC12E4"), ("BR", "A123BC77"),
    ("DE", "A"), ("DE", "ABCDEFGHIJK"),
]


@pytest.mark.parametrize(("country", "typed", "kept"), VALID)
def test_a_countrys_plates_are_taken_in_the_form_they_are_kept(country, typed, kept):
    assert vrn.problem(typed, country) is None
    assert vrn.validate(typed, country) == kept


@pytest.mark.parametrize(("country", "typed"), INVALID)
def test_what_is_not_a_countrys_plate_is_refused_naming_its_formats(country, typed):
    with pytest.raises(ValueError) as e:
        vrn.validate(typed, country)
    expected = {"IN": "MH12AB1234", "RU": "А123ВС77", "BR": "BRA2E19", "DE": "letters and digits"}
    assert expected[country] in str(e.value)
    assert {"IN": "Indian", "RU": "Russian", "BR": "Brazilian", "DE": "registration"}[country] \
        in str(e.value)


def test_a_plate_typed_in_cyrillic_is_the_plate_the_camera_reads_in_latin():
    typed = vrn.validate("А123ВС77", "RU")
    assert typed == vrn.normalise("A123BC77") == "A123BC77"
    assert typed.isascii()


def test_a_site_without_a_country_is_indian_in_english_and_rupees_with_no_zone_yet():
    assert site_country() == SiteCountry("IN", "en", "INR", None)


@pytest.mark.parametrize(("country", "expected"), [
    ("in", SiteCountry("IN", "en", "INR", "Asia/Kolkata")),
    ("RU", SiteCountry("RU", "ru", "RUB", "Europe/Moscow")),
    ("BR", SiteCountry("BR", "pt-BR", "BRL", "America/Sao_Paulo")),
    ("DE", SiteCountry("DE", "en", "EUR", None)),
])
def test_the_rest_follows_from_the_country(country, expected):
    assert site_country(country) == expected


def test_what_is_given_wins_over_the_countrys_defaults():
    assert site_country("IN", "hi", "USD", "Asia/Kolkata") == SiteCountry(
        "IN", "hi", "USD", "Asia/Kolkata")
    assert site_country("RU", timezone="Asia/Yekaterinburg").timezone == "Asia/Yekaterinburg"


@pytest.mark.parametrize(("given", "field"), [
    ({"country": "XX"}, "country"), ({"country": "IND"}, "country"),
    ({"country": "EU"}, "country"), ({"country": "ZZ"}, "country"),
    ({"locale": "fr"}, "locale"), ({"currency": "ZZZ"}, "currency"),
    ({"timezone": "IST"}, "timezone"),
])
def test_what_cannot_be_a_sites_is_refused_naming_which(given, field):
    with pytest.raises(CountryError) as e:
        site_country(**given)
    assert e.value.field == field
