"""Debian's headless Chromium, driven by Playwright, for the tests that load
pages (the HTML report, the help pages) and for the pictures and icons
scripts in docs/.

Playwright is told where Chromium is and never downloads a browser of its
own (no ``playwright install``): ``make system-deps`` installs Debian's
``chromium``. The switches keep it from calling home (updates, sync,
safe-browsing lists) while it runs, so that every request a test sees is one
the page made; --no-sandbox because the tests run as root.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()
