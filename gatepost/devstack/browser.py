"""Debian's chromium, headless, driven by Playwright: for the panel's tests and its bench."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

# Chromium must not reach for Google's services on a closed network: each try costs time.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    """The browser to drive: $GATEPOST_CHROMIUM, else Debian's chromium."""
    for candidate in (os.environ.get("GATEPOST_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def launch(playwright: Any) -> Any:
    """Start a headless chromium through Playwright (``sync_playwright()`` handle)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("chromium not found: `make deps` installs Debian's chromium")
    return playwright.chromium.launch(executable_path=path, args=FLAGS, headless=True)
