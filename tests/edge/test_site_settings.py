"""A site's country, language, currency and zone on the box: held from the cloud's snapshot
and its ``site.settings`` changes, read by the faces (``StoreReads.site_zone``) before the zone
its schedules carry."""

from __future__ import annotations

from edge.store.cache import RulesCache
from edge.store.db import EdgeDB
from edge.store.reads import StoreReads
from shared.contract import (
    RulesDelta,
    RulesSnapshot,
    ScheduleRule,
    ScheduleUpsert,
    SiteRule,
    SiteSettings,
)

SITE = "moscow-park"
MOSCOW = SiteRule(country="RU", locale="ru", currency="RUB", timezone="Europe/Moscow")


def snapshot(version: int, settings: SiteRule | None) -> RulesSnapshot:
    return RulesSnapshot(site=SITE, version=version, gates=[], vehicles=[], tags=[],
                         settings=settings)


def settings_of(db: EdgeDB) -> list[tuple]:
    return [tuple(r) for r in db.conn.execute("SELECT site, country, locale, currency, "
                                              "timezone FROM site_settings")]


def test_the_snapshot_and_its_changes_bring_the_sites_settings(tmp_path):
    db = EdgeDB(tmp_path / "edge.sqlite")
    try:
        cache, reads = RulesCache(db), StoreReads(db)
        assert reads.site_zone(SITE) is None
        cache.apply_snapshot(snapshot(1, MOSCOW))
        assert settings_of(db) == [(SITE, "RU", "ru", "RUB", "Europe/Moscow")]
        assert reads.site_zone(SITE) == "Europe/Moscow"
        moved = MOSCOW.model_copy(update={"timezone": "Europe/Samara", "locale": "en"})
        assert cache.apply_delta(RulesDelta(site=SITE, from_version=1, to_version=2,
                                            changes=[SiteSettings(settings=moved)])) == "applied"
        assert settings_of(db) == [(SITE, "RU", "en", "RUB", "Europe/Samara")]
        assert reads.site_zone(SITE) == "Europe/Samara"
        # The site's own zone comes before the one its schedules carry.
        night = ScheduleRule(name="night", timezone="Asia/Kolkata",
                             windows=[{"days": ["sun"], "start": "22:00", "end": "06:00"}])
        cache.apply_delta(RulesDelta(site=SITE, from_version=2, to_version=3,
                                     changes=[ScheduleUpsert(schedule=night)]))
        assert reads.site_zone(SITE) == "Europe/Samara"
        # A snapshot from a cloud of before carries none: the schedules' zone again.
        cache.apply_snapshot(snapshot(4, None).model_copy(update={"schedules": [night]}))
        assert settings_of(db) == [] and reads.site_zone(SITE) == "Asia/Kolkata"
    finally:
        db.close()


def test_a_site_settings_change_goes_out_as_its_op_alone():
    change = SiteSettings(settings=MOSCOW)
    assert change.model_dump(mode="json", exclude_none=True) == {
        "op": "site.settings", "settings": {"country": "RU", "locale": "ru", "currency": "RUB",
                                            "timezone": "Europe/Moscow"}}


def test_the_box_shows_times_on_the_zone_the_cloud_sent_for_the_site(tmp_path):
    """Its own ``api.timezone`` says Kolkata; the cloud's settings for the site say Moscow:
    the faces' clocks (``Box.site_clocks``, which every page reads through
    ``edge.faces.panel.times``) take the site's."""
    from edge.config import EdgeConfig
    from edge.daemon.wiring import EdgeDaemon
    from edge.faces.panel.times import Times, zone_name
    from shared.clock import SystemClock

    cfg = EdgeConfig.model_validate({
        "id": "box1", "data_dir": str(tmp_path / "data"),
        "cloud": {"mqtt_url": "mqtt://127.0.0.1:9", "http_url": "http://127.0.0.1:9"},
        "api": {"port": 0, "timezone": "Asia/Kolkata"},
        "gates": [{"id": "in", "site": SITE, "direction": "entry"}]})
    d = EdgeDaemon(cfg, SystemClock())
    d.start()
    try:
        assert d.site_clocks().zones == {SITE: None}
        assert zone_name(Times.of(d).zone("in")) == "Asia/Kolkata"
        assert d.cache is not None
        d.cache.apply_snapshot(snapshot(1, MOSCOW))
        assert d.site_clocks().zones == {SITE: "Europe/Moscow"}
        assert zone_name(Times.of(d).zone("in")) == "Europe/Moscow"
    finally:
        d.stop()


def test_a_site_set_back_to_the_settings_of_before_holds_none(tmp_path):
    """The cloud sends a site of Indian, English and rupee settings none, nor its later zone
    changes: a box told so drops what it held, and its zone comes from the schedules again."""
    db = EdgeDB(tmp_path / "edge.sqlite")
    try:
        cache, reads = RulesCache(db), StoreReads(db)
        cache.apply_snapshot(snapshot(1, MOSCOW))
        back = SiteRule(country="IN", locale="en", currency="INR", timezone="Europe/Moscow")
        cache.apply_delta(RulesDelta(site=SITE, from_version=1, to_version=2,
                                     changes=[SiteSettings(settings=back)]))
        assert settings_of(db) == [] and reads.site_zone(SITE) is None
    finally:
        db.close()
