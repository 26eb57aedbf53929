"""Pictures of the add-in's task pane for the docs: docs/pictures/
taskpane-start-en.png (a starter workbook being written, step by step),
taskpane-browser-en.png (the KPI browser on NPS) and taskpane-start-nl.png
(the pane in a Dutch Office).

A real ``kpi serve`` (on a free loopback port, noncommercial licence key)
serves the page; Debian's headless Chromium (Playwright, see tests/browser.py)
shows it at a task pane's width, with the in-memory workbook of
tests/officejs_stub.js in place of office.js, as in tests/test_taskpane.py.

    python docs/make_taskpane_pictures.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.addin_support import running_server  # noqa: E402
from tests.browser import launch  # noqa: E402

PICTURES = HERE / "pictures"
STUB = (HERE.parent / "tests" / "officejs_stub.js").read_text(encoding="utf-8")
#: A task pane in Excel is about 350 CSS pixels wide.
VIEWPORT = {"width": 350, "height": 640}
#: Holds the second call of start_workbook until the picture is taken.
HOLD = """
(() => {
  const fetched = window.fetch.bind(window);
  let calls = 0;
  window.fetch = async (url, options) => {
    if (String(url).includes("start_workbook") && ++calls === 2) {
      await new Promise((resolve) => { window.__release = resolve; });
    }
    return fetched(url, options);
  };
})();
"""


def _pane(browser: Any, url: str, display_language: str) -> Any:
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=2)
    page = context.new_page()
    page.add_init_script(f"globalThis.__officeStubLanguage = {display_language!r};")
    page.route(
        re.compile(r".*/office-js/.*/office\.js$"),
        lambda route: route.fulfill(body=STUB, content_type="text/javascript"),
    )
    page.goto(url + "/taskpane.html")
    page.wait_for_selector("body[data-ready=true]")
    return page


def _start_picture(browser: Any, url: str, language: str, display_language: str) -> Path:
    page = _pane(browser, url, display_language)
    page.evaluate(HOLD)
    page.select_option("#business-type", "celebrity_video")
    page.click("#start-button")
    page.wait_for_function("() => typeof window.__release === 'function'")
    page.wait_for_timeout(1000)  # the progress bar's width is animated
    target = PICTURES / f"taskpane-start-{language}.png"
    page.screenshot(path=str(target))
    page.evaluate("window.__release()")
    page.wait_for_selector("#start-done:not(.d-none)", timeout=120_000)
    page.context.close()
    return target


def _browser_picture(browser: Any, url: str) -> Path:
    page = _pane(browser, url, "en-US")
    page.click("[data-tab=browse]")
    page.fill("#kpi-search", "promoter")
    page.click("#kpi-list li[data-kpi=nps]")
    page.click("#insert-button")
    page.wait_for_selector("#insert-done:not(.d-none)")
    page.evaluate("document.activeElement.blur()")
    target = PICTURES / "taskpane-browser-en.png"
    page.screenshot(path=str(target), full_page=True)
    page.context.close()
    return target


def main() -> list[Path]:
    PICTURES.mkdir(exist_ok=True)
    with running_server() as server, sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            return [
                _start_picture(browser, server.url, "en", "en-US"),
                _browser_picture(browser, server.url),
                _start_picture(browser, server.url, "nl", "nl-NL"),
            ]
        finally:
            browser.close()


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(HERE.parent))
