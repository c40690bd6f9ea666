"""Evidence of plate decisions: the full frame and the plate crop as JPEG, on bounded disk.

Files are ``<event id>.frame.jpg`` and ``<event id>.crop.jpg``; when the folder passes its
budget the oldest files go first.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import cv2

log = logging.getLogger(__name__)


class EvidenceStore:
    """A folder with a byte budget and oldest-first eviction."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._used: int | None = None

    def _name(self, event_id: str, kind: str) -> Path:
        return self.folder / f"{event_id.replace(':', '_')}.{kind}.jpg"

    def save(self, event_id: str, frame: Any, box: tuple[int, int, int, int] | None) -> list[str]:
        """Write the frame and crop; return their file names."""
        self.folder.mkdir(parents=True, exist_ok=True)
        written = []
        parts = [("frame", frame)]
        if box is not None:
            x1, y1, x2, y2 = box
            parts.append(("crop", frame[max(0, y1):y2, max(0, x1):x2]))
        with self._lock:
            used = self._count()
            for kind, img in parts:
                ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if not ok or img.size == 0:
                    continue
                path = self._name(event_id, kind)
                path.write_bytes(jpg.tobytes())
                written.append(path.name)
                used += len(jpg)
            self._used = used
            self._evict()
        return written

    def path(self, name: str) -> Path | None:
        """A stored file by name, if it is still there."""
        p = self.folder / Path(name).name
        return p if p.is_file() else None

    def prune(self, older_than_s: float | None = None, free_bytes: int = 0) -> tuple[int, int]:
        """Remove photos older than *older_than_s* seconds, then the oldest until *free_bytes*
        are freed; (files removed, bytes freed)."""
        with self._lock:
            if not self.folder.is_dir():
                return 0, 0
            cutoff = time.time() - older_than_s if older_than_s is not None else None
            return self._remove_oldest(cutoff, free_bytes)

    def used_bytes(self) -> int:
        """Bytes the photos hold (counted once, then kept up to date)."""
        with self._lock:
            return self._count()

    def _count(self) -> int:
        if self._used is None:
            self._used = self._scan() if self.folder.is_dir() else 0
        return self._used

    def _scan(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.jpg"))

    def _evict(self) -> None:
        if self._count() > self.max_bytes:
            self._remove_oldest(None, self._count() - self.max_bytes)

    def _remove_oldest(self, cutoff: float | None, free_bytes: int) -> tuple[int, int]:
        """Oldest first: every photo older than *cutoff* (a ``time.time()``), then more until
        *free_bytes* are freed. Called under the lock."""
        files = sorted(((p.stat().st_mtime, p.stat().st_size, p)
                        for p in self.folder.glob("*.jpg")), key=lambda f: f[0])
        removed = freed = 0
        for mtime, size, p in files:
            if not ((cutoff is not None and mtime < cutoff) or freed < free_bytes):
                break
            p.unlink(missing_ok=True)
            removed += 1
            freed += size
        self._used = max(0, self._count() - freed)
        return removed, freed
