"""The rules ledger: the one unit of work that changes a site's rules.

``Ledger.change(site, fn)`` locks the site's row, runs *fn* in the transaction (it writes the
rules and returns the typed changes, ``shared.contract.Change``), bumps the site's rules
version, records the changes in the change log, commits, and publishes the delta. Every rule
change of the cloud goes through it; ``cloud.ledger.log`` reads and writes the stored log.
"""

from cloud.ledger.ledger import ChangeFn, Ledger

__all__ = ["ChangeFn", "Ledger"]
