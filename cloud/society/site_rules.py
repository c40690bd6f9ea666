"""What a site's boxes get of the site itself: its country, language, currency and zone.

Sent only for a site whose country, language or currency is not the Indian, English and
rupee one every site had before (a box older than these settings refuses a snapshot or delta
that carries them, and the sites of before must keep working with it): such a site's boxes
take the zone from its schedules, as before. A site that is set back to those defaults is
told so once (its boxes are new enough to have read the others)."""

from __future__ import annotations

from cloud.storage import Tx
from cloud.storage import society as store
from shared.contract import SiteRule, SiteSettings
from shared.country import OF_BEFORE

__all__ = ["OF_BEFORE", "settings_change", "site_rule"]


def site_rule(c: Tx, site: str) -> SiteRule | None:
    """The site's settings as its boxes hold them; None for a site of the settings of before
    (``OF_BEFORE``)."""
    rule = _rule(c, site)
    return None if (rule.country, rule.locale, rule.currency) == OF_BEFORE else rule


def settings_change(c: Tx, site: str, told: bool = False) -> list[SiteSettings]:
    """The change that tells the site's boxes its settings as they now stand: none for a site
    of the settings of before, unless its boxes were *told* other settings before."""
    rule = _rule(c, site)
    if not told and (rule.country, rule.locale, rule.currency) == OF_BEFORE:
        return []
    return [SiteSettings(settings=rule)]


def _rule(c: Tx, site: str) -> SiteRule:
    row = store.site(c, site)
    assert row is not None, site
    return SiteRule(country=row["country"], locale=row["locale"], currency=row["currency"],
                    timezone=row["timezone"])
