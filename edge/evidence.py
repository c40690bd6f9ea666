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
            for kind, img in parts:
                ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if not ok or img.size == 0:
                    continue
                path = self._name(event_id, kind)
                path.write_bytes(jpg.tobytes())
                written.append(path.name)
                self._used = (self._used or self._scan()) + len(jpg)
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
            files = sorted(((p.stat().st_mtime, p.stat().st_size, p)
                            for p in self.folder.glob("*.jpg")), key=lambda f: f[0])
            cutoff = time.time() - older_than_s if older_than_s is not None else None
            removed = freed = 0
            for mtime, size, p in files:
                if not ((cutoff is not None and mtime < cutoff) or freed < free_bytes):
                    break
                p.unlink(missing_ok=True)
                removed += 1
                freed += size
            if removed:
                self._used = None  # counted again at the next save
            return removed, freed

    def used_bytes(self) -> int:
        """Bytes the photos hold."""
        with self._lock:
            return self._scan() if self.folder.is_dir() else 0

    def _scan(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.jpg"))

    def _evict(self) -> None:
        if (self._used or 0) <= self.max_bytes:
            return
        files = sorted(self.folder.glob("*.jpg"), key=lambda p: p.stat().st_mtime_ns)
        used = self._scan()
        for p in files:
            if used <= self.max_bytes:
                break
            size = p.stat().st_size
            p.unlink(missing_ok=True)
            used -= size
        self._used = used
