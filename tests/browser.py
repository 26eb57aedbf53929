"""Debian's chromium, headless, driven by Playwright: the help pages' render
test and docs/make_icons.py use it.

Playwright is told where chromium is and never downloads a browser of its
own (`make system-deps` installs Debian's). The switches keep chromium from
calling home (updates, sync, safe-browsing lists), which would add requests
that no page asked for; --no-sandbox because the tests run as root.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium, closed afterwards."""
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is needed (make system-deps installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
