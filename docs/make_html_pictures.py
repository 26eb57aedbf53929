"""Pictures of the HTML report (``kpi report FILE --html OUT``) for the docs:
docs/pictures/html-phone-en.png and docs/pictures/html-desktop-en.png.

``kpi new`` writes the English celebrity_video starter workbook, the report
model of ``kpi report`` renders its page, and Debian's headless Chromium
(Playwright, see tests/browser.py) takes a full-page screenshot at a phone's
size and at a desktop's.

    python docs/make_html_pictures.py
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

import kpi_engine
from addin.report.html import write_page
from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from tests.browser import launch

HERE = Path(__file__).resolve().parent
PICTURES = HERE / "pictures"
AS_OF = dt.date(2024, 7, 15)
REFRESHED = dt.datetime(2024, 7, 1, 8, 30)
#: Name, viewport (CSS pixels), pixel ratio and how many screens of the page
#: each picture shows (None: all of it). The phone's two screens show the
#: table and the first charts, at a size the docs can carry.
VIEWPORTS = {
    "phone": ({"width": 390, "height": 844}, 2, 2),
    "desktop": ({"width": 1280, "height": 900}, 1, None),
}


def main(business_type: str = "celebrity_video", language: str = "en") -> list[Path]:
    PICTURES.mkdir(exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        book = new_workbook(
            StarterOptions(business_type, language, as_of=AS_OF), Path(folder) / "book.xlsx"
        )
        page = Path(folder) / "report.html"
        write_page(make_report(book, clock=lambda: REFRESHED), page)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                for name, (viewport, scale, screens) in VIEWPORTS.items():
                    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
                    tab = context.new_page()
                    tab.goto(page.as_uri())
                    target = PICTURES / f"html-{name}-{language}.png"
                    if screens is None:
                        tab.screenshot(path=str(target), full_page=True)
                    else:
                        height = viewport["height"] * screens
                        clip = {"x": 0, "y": 0, "width": viewport["width"], "height": height}
                        tab.screenshot(path=str(target), full_page=True, clip=clip)
                    context.close()
                    written.append(target)
            finally:
                browser.close()
    return written


if __name__ == "__main__":
    for language in kpi_engine.LANGUAGES:
        for path in main(language=language):
            print(path.relative_to(HERE.parent))
