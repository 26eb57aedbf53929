"""Debian's headless Chromium, driven by Playwright, for the HTML report's
tests and pictures. Playwright's own browser downloads are never used
(no ``playwright install``): ``make system-deps`` installs Debian's
``chromium``, and these switches keep it from calling home while it runs, so
that every request a test sees is one the page made."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",  # the tests run as root in a container, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def chromium_path() -> Path:
    """Debian's Chromium, or a message saying how to install it."""
    found = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        raise RuntimeError("needs Debian's chromium at /usr/bin/chromium: make system-deps")
    return Path(found)


def launch(playwright: Any) -> Any:
    """A headless Chromium browser of ``playwright`` (sync API)."""
    return playwright.chromium.launch(
        executable_path=str(chromium_path()), args=list(CHROMIUM_ARGS), headless=True
    )
