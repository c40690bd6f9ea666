"""Taking a site's full rules from the cloud: NDJSON streamed into a file beside the cache
(never whole in memory), then applied to the cache line by line in one transaction."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from edge.store.cache import RulesCache
from shared.contract import SNAPSHOT_NDJSON, SnapshotHead


def take_snapshot(http_url: str, site: str, api_key: str | None,
                  cache: RulesCache) -> SnapshotHead:
    """Replace *site*'s cached rules with the cloud's; raises ``httpx.HTTPError``,
    ``ValueError`` (a snapshot cut short, or not one) or ``OSError``, and then nothing
    changed."""
    headers = {"Accept": SNAPSHOT_NDJSON}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    path = cache.db.path
    folder = None if path.startswith("file:") else Path(path).parent
    with tempfile.TemporaryFile(dir=folder) as spool:
        with httpx.stream("GET", f"{http_url}/api/v1/sites/{site}/rules", timeout=30,
                          headers=headers) as r:
            r.raise_for_status()
            for chunk in r.iter_bytes(1 << 16):
                spool.write(chunk)
        spool.seek(0)
        return cache.apply_snapshot_lines(spool)
