"""The rules ledger (``cloud.ledger``): one version per change, logged, then published."""

from __future__ import annotations

import pytest

from cloud.errors import CloudError
from cloud.ledger import Ledger, log
from cloud.society.rules import RulesService
from cloud.storage import Database, society
from shared.clock import SystemClock
from shared.contract import RulesDelta, TagDelete, VehicleDelete


@pytest.fixture
def ledger(cloud_db):
    db = Database(cloud_db)
    published: list[RulesDelta] = []
    made: list[int] = []
    ledger = Ledger(db, SystemClock(), publish=published.append,
                    on_change=lambda: made.append(1))
    RulesService(db, SystemClock(), ledger).create_site("s1", "S")
    yield ledger, published, made
    db.close()


def _logged(ledger: Ledger, version: int) -> str:
    return ledger.db.conn.execute("SELECT changes FROM rule_changes WHERE site = 's1' AND "
                                  "version = ?", (version,)).fetchone()[0]


def test_a_change_is_one_version_logged_then_published(ledger) -> None:
    ledger, published, made = ledger
    delta = ledger.change("s1", lambda c: [TagDelete(key="E2"), VehicleDelete(key="KA01X1")])
    assert (delta.from_version, delta.to_version) == (0, 1) and delta.epoch
    assert published == [delta] and made == [1]
    assert log.loads(_logged(ledger, 1)) == delta.changes
    assert _logged(ledger, 1) == log.dumps(delta.changes)
    assert ledger.change("s1", lambda c: []).to_version == 2


def test_a_failing_change_makes_no_version(ledger) -> None:
    ledger, published, made = ledger

    def fn(c):
        society.insert_vehicle(c, "s1", "MH12AB1234", "4W", None, "2026-01-01T00:00:00+00:00")
        raise CloudError(409, "refused", "no")

    with pytest.raises(CloudError):
        ledger.change("s1", fn)
    rules = RulesService(ledger.db, ledger.clock, ledger)
    assert rules.versions("s1") == {"s1": 0} and published == [] and made == []
    assert rules.snapshot("s1").vehicles == []


def test_an_unknown_site_is_refused(ledger) -> None:
    ledger, published, _ = ledger
    with pytest.raises(CloudError) as exc:
        ledger.change("nowhere", lambda c: [])
    assert exc.value.reason == "unknown_site" and published == []
