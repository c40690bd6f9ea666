"""A site's country and what follows from it: its language, its currency and its clock.

A site has ``country`` (ISO 3166-1 alpha-2), ``locale`` (one the faces are written in),
``currency`` (ISO 4217) and ``timezone`` (IANA). Whatever is not given follows from the
country: India is ``en`` / ``INR`` / ``Asia/Kolkata``, Russia ``ru`` / ``RUB`` /
``Europe/Moscow``, Brazil ``pt-BR`` / ``BRL`` / ``America/Sao_Paulo``; another country gets
English, its own currency, and no zone until one is set. A site made without a country is
Indian, in English and rupees, with no zone until one is set (as sites always were).
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale
from babel.numbers import get_territory_currencies, list_currencies

from shared.schedule import zone

LOCALES = ("en", "hi", "ru", "pt-BR")  # the languages the faces are written in
# country → (locale, time zone): the seeds' countries
DEFAULTS: dict[str, tuple[str, str]] = {
    "IN": ("en", "Asia/Kolkata"),
    "RU": ("ru", "Europe/Moscow"),
    "BR": ("pt-BR", "America/Sao_Paulo"),
}
# Every site's country, language and currency before sites had them: a site of these sends
# its boxes no settings (a box older than them refuses them), and a box holds none for it.
OF_BEFORE = ("IN", "en", "INR")
# CLDR's two-letter territories, less those that are not countries (the EU, the eurozone, the
# UN, outlying Oceania, pseudo-locales, unknown).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})
_TERRITORIES = frozenset(str(t) for t in Locale("en").territories
                         if len(str(t)) == 2 and str(t).isalpha()) - _NOT_COUNTRIES


class CountryError(ValueError):
    """A country, locale, currency or zone that cannot be a site's; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SiteCountry:
    """A site's country, language, currency and time zone (None: not set yet)."""

    country: str = "IN"
    locale: str = "en"
    currency: str = "INR"
    timezone: str | None = None


def site_country(country: str | None = None, locale: str | None = None,
                 currency: str | None = None, timezone: str | None = None) -> SiteCountry:
    """The site's settings from what was given, the rest from the country; ``CountryError``
    names the first that cannot be."""
    if country is None:
        c = "IN"
    else:
        c = country.strip().upper()
        if c not in _TERRITORIES:
            raise CountryError("country", f"{country!r} is not an ISO 3166-1 alpha-2 country "
                                          "code (e.g. IN, RU, BR)")
    if locale is not None and locale not in LOCALES:
        raise CountryError("locale", f"{locale!r} is not a language the faces are written in "
                                     f"({', '.join(LOCALES)})")
    if currency is not None:
        cur = currency.strip().upper()
        if cur not in list_currencies():
            raise CountryError("currency", f"{currency!r} is not an ISO 4217 currency code "
                                           "(e.g. INR, RUB, BRL)")
    else:
        cur = (get_territory_currencies(c) or ["EUR"])[0]
    if timezone is not None:
        try:
            zone(timezone)
        except ValueError as exc:
            raise CountryError("timezone", str(exc)) from exc
    default_locale, default_zone = DEFAULTS.get(c, ("en", ""))
    return SiteCountry(
        country=c, locale=locale or default_locale, currency=cur,
        # A site made without a country keeps no zone until one is set, as before.
        timezone=timezone if timezone is not None else
        (default_zone or None if country is not None else None))


def shown_zone(country: str, timezone: str | None) -> str:
    """The zone a site's times are shown to people in: its own, else its country's (the
    seeds' countries), else UTC."""
    return timezone or DEFAULTS.get(country, ("en", "UTC"))[1]
