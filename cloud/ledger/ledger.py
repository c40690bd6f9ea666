"""The ledger's unit of work: change the rules, bump the version, log, commit, publish."""

from __future__ import annotations

from collections.abc import Callable

from cloud.errors import CloudError
from cloud.ledger import log
from cloud.refusals import Refusal
from cloud.storage import Database, Tx
from cloud.storage import society as store
from shared.clock import Clock
from shared.contract import Change, RulesDelta

ChangeFn = Callable[[Tx], list[Change]]
"""Writes a change of the rules in the given transaction and returns what the gates get."""


class Ledger:
    """Every rule change of the cloud: one version of a site's rules per call of ``change``."""

    def __init__(self, db: Database, clock: Clock,
                 publish: Callable[[RulesDelta], None] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.publish = publish  # the delta to the site's boxes, after the commit
        self.on_change = on_change  # once per version made (metrics)

    def change(self, site: str, fn: ChangeFn) -> RulesDelta:
        """Run *fn* as the next version of *site*'s rules and publish it; ``unknown_site``
        (404) when the site does not exist. What *fn* raises rolls the whole change back."""
        with self.db.write() as c:
            # The site's row is locked first, before anything the change writes refers to it:
            # two processes changing one site then take turns and get consecutive versions.
            if not store.site_exists(c, site, lock=True):
                raise CloudError(404, Refusal.UNKNOWN_SITE, f"site {site!r} does not exist")
            delta = self._record(c, site, fn(c))
        if self.on_change:
            self.on_change()
        if self.publish:
            self.publish(delta)
        return delta

    def _record(self, c: Tx, site: str, changes: list[Change]) -> RulesDelta:
        old = store.rules_version(c, site)
        new = old + 1
        store.set_rules_version(c, site, new)
        store.log_changes(c, site, new, log.dumps(changes), self.clock.now().isoformat())
        return RulesDelta(site=site, from_version=old, to_version=new, changes=changes,
                          epoch=store.epoch(c) or "")  # as cloud.society.epoch reads it
