"""The daily re-check of FITkit bindings: a FITkit sticker stands for the EPC of its vehicle's
FASTag, and a bank may re-issue a FASTag (a new EPC), blacklist it or close it.

For each bound FITkit sticker the FASTag registry is asked again:

- a new EPC: the binding moves in **one** rules change (the old EPC deleted, the new one upserted
  with the tag's status, lock and schedule), so the gate never holds two EPCs for one virtual
  tag; the resident is told through the notification outbox (``fastag_moved``) and staff see it
  in the audit log;
- blacklisted, closed or gone: the tag becomes ``inactive`` (the gate refuses it) until the
  registry says it is active again, when it is active again (``fastag_inactive`` /
  ``fastag_active`` notifications);
- the registry cannot say: nothing changes, and the sticker is asked again on the next run.

A tag the resident reported lost (blocked) is left alone.
"""

from __future__ import annotations

import logging

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.notify import Notifier
from cloud.people.registry import Fastag, FastagRegistry, ProviderUnavailable
from cloud.refusals import Refusal
from cloud.society.rules import tag_rule
from cloud.storage import Database, Row, Tx, inventory, society
from cloud.storage.staff import write_audit
from shared.clock import Clock
from shared.contract import Change, TagDelete, TagUpsert
from shared.vocab import TagStatus

log = logging.getLogger(__name__)
KEPT = ("vrn", "locked", "locked_until", "schedule", "locked_by", "locked_at")


class FastagBindings:
    """Re-checks FITkit bindings against the FASTag registry."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger, fastags: FastagRegistry | None,
                 notifier: Notifier | None = None) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.fastags = fastags
        self.notifier = notifier

    def recheck(self) -> dict[str, int]:
        """One pass over every bound FITkit sticker; counts of what happened."""
        out = dict.fromkeys(("checked", "moved", "deactivated", "reactivated", "unavailable",
                             "conflicts"), 0)
        if self.fastags is None:
            return out
        with self.db.read() as c:
            rows = inventory.bound_fitkits(c)
        for row in rows:
            if row["status"] == TagStatus.BLOCKED.value or not row["vrn"]:
                continue
            try:
                found = self.fastags.lookup(row["vrn"])
            except ProviderUnavailable as exc:
                log.warning("FASTag of %s not re-checked: %s", row["vrn"], exc)
                out["unavailable"] += 1
                continue
            out["checked"] += 1
            outcome = self._apply(row, found)
            if outcome:
                out[outcome] += 1
        return out

    def _apply(self, row: Row, found: Fastag | None) -> str | None:
        usable = found is not None and found.usable
        at = self.clock.now().isoformat()
        if usable and found is not None and found.epc != row["epc"]:
            with self.db.read() as c:
                held = society.tag(c, found.epc) is not None
            if held:  # the new EPC is another tag here: staff must look
                with self.db.write() as c:
                    self._record(c, row, at, "fastag_conflict", f"the re-issued FASTag "
                                 f"{found.epc} of {row['vrn']} is registered here as another "
                                 "tag: the binding is kept")
                return "conflicts"
            self.ledger.change(row["site"], lambda c: self._move(c, row, found.epc))
            return "moved"
        if not usable and row["status"] == TagStatus.ACTIVE.value:
            why = "has no FASTag" if found is None else f"FASTag is {found.status}"
            self.ledger.change(row["site"],
                               lambda c: self._status(c, row, TagStatus.INACTIVE, why))
            return "deactivated"
        if usable and row["status"] == TagStatus.INACTIVE.value:
            self.ledger.change(row["site"], lambda c: self._status(
                c, row, TagStatus.ACTIVE, "FASTag is active again"))
            return "reactivated"
        with self.db.write() as c:
            inventory.checked(c, row["tag_id"], at)
        return None

    def _move(self, c: Tx, row: Row, epc: str) -> list[Change]:
        old = society.tag(c, row["epc"])
        if old is None or society.tag(c, epc) is not None:
            raise CloudError(409, Refusal.FASTAG_IN_USE, f"FASTag {epc} is registered here already")
        at = self.clock.now().isoformat()
        society.delete_tag(c, row["epc"])
        society.insert_tag(c, epc, row["site"], old["status"], old["vrn"], old["vehicle_type"],
                           at)
        society.update_tag(c, epc, at, **{k: old[k] for k in KEPT})
        inventory.bind(c, row["tag_id"], epc, at)
        self._record(c, row, at, "fastag_moved", f"FITkit {row['tag_id']} of {row['vrn']} "
                     f"moved from FASTag {row['epc']} to the re-issued {epc}",
                     old_epc=row["epc"], new_epc=epc)
        new = society.tag(c, epc)
        assert new is not None
        return [TagDelete(key=row["epc"]),
                TagUpsert(tag=tag_rule(new))]

    def _status(self, c: Tx, row: Row, status: TagStatus, why: str) -> list[Change]:
        at = self.clock.now().isoformat()
        society.update_tag(c, row["epc"], at, status=status.value)
        inventory.checked(c, row["tag_id"], at)
        kind = "fastag_inactive" if status is TagStatus.INACTIVE else "fastag_active"
        self._record(c, row, at, kind, f"FITkit {row['tag_id']}: {row['vrn']} {why}; the tag "
                     f"is {status.value}")
        tag = society.tag(c, row["epc"])
        assert tag is not None
        return [TagUpsert(tag=tag_rule(tag))]

    def _record(self, c: Tx, row: Row, at: str, kind: str, text: str, **extra: str) -> None:
        """Audit the outcome, and tell the resident through the outbox."""
        write_audit(c, at, None, "job:fastag-recheck", "POST", "/api/v1/jobs/fastag-recheck",
                    200, text)
        if self.notifier is not None and kind != "fastag_conflict":
            self.notifier.enqueue(c, f"{kind}:{row['tag_id']}:{at}", kind, text,
                                  {"tag_id": row["tag_id"], "vrn": row["vrn"],
                                   "site": row["site"], "resident": row["resident"], **extra})
        log.info("%s", text)
