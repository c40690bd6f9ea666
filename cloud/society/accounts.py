"""Guard and supervisor accounts of a site's panels, kept in the cloud and synced to its
edge boxes as rules. The cloud hashes the password once; only the scrypt hash leaves it."""

from __future__ import annotations

from cloud.errors import CloudError
from cloud.ledger import Ledger
from cloud.refusals import Refusal
from cloud.storage import Database, Tx
from cloud.storage import society as store
from shared.clock import Clock
from shared.contract import AccountDelete, AccountRule, AccountUpsert, Change, RulesDelta
from shared.passwords import hash_password

MIN_PASSWORD = 10
ROLES = ("guard", "supervisor")


class Accounts:
    """A site's panel accounts; each change is a rules change."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger

    def add(self, site: str, username: str, role: str, password: str) -> RulesDelta:
        """Create or replace a panel account of *site* (a new password resets it)."""
        if not username or not username.isprintable() or len(username) > 64:
            raise CloudError(422, Refusal.BAD_USERNAME, "user names are 1–64 printable characters")
        if role not in ROLES:
            raise CloudError(422, Refusal.BAD_ROLE, "role must be guard or supervisor")
        if len(password) < MIN_PASSWORD:
            raise CloudError(422, Refusal.WEAK_PASSWORD,
                             f"passwords need at least {MIN_PASSWORD} characters")
        pw_hash = hash_password(password)

        def fn(c: Tx) -> list[Change]:
            store.upsert_account(c, site, username, role, pw_hash, self.clock.now().isoformat())
            return [AccountUpsert(account=AccountRule(username=username, role=role,
                                                      pw_hash=pw_hash))]

        return self.ledger.change(site, fn)

    def remove(self, site: str, username: str) -> RulesDelta:
        """Delete a panel account; the edge drops it and its sessions."""

        def fn(c: Tx) -> list[Change]:
            if not store.delete_account(c, site, username):
                raise CloudError(404, Refusal.UNKNOWN_ACCOUNT,
                                 f"{username} is not an account of {site}")
            return [AccountDelete(key=username)]

        return self.ledger.change(site, fn)

    def of_site(self, site: str) -> list[dict]:
        """User names and roles of a site (never the hashes)."""
        return [{"username": r["username"], "role": r["role"], "created_at": r["created_at"]}
                for r in store.site_accounts(self.db.conn, site)]
