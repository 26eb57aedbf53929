"""Rasterise the add-in's icon, addin/server/web/icon.svg, to the PNGs that
the manifest names: addin/server/web/static/icons/kpi-<size>.png at 16, 32,
64 and 80 pixels.

Headless chromium draws the SVG at each size (so small sizes are drawn, not
scaled down from a large picture); Pillow writes the PNG without the time
stamps and text chunks a screenshot carries, so the same SVG gives the same
files. Run it after changing the SVG, and commit the PNGs:

    python docs/make_icons.py
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import chromium  # noqa: E402  (after the repository is on the path)

SVG = ROOT / "addin" / "server" / "web" / "icon.svg"
ICONS = ROOT / "addin" / "server" / "web" / "static" / "icons"
#: Office asks for 16, 32 and 80 px (ribbon) and 32 and 64 px (the add-in's tile).
SIZES = (16, 32, 64, 80)


def icon_path(size: int) -> Path:
    return ICONS / f"kpi-{size}.png"


def main() -> list[Path]:
    svg = base64.b64encode(SVG.read_bytes()).decode()
    ICONS.mkdir(parents=True, exist_ok=True)
    written = []
    with chromium() as browser:
        for size in SIZES:
            page = browser.new_page(viewport={"width": size, "height": size})
            page.set_content(
                "<!doctype html><style>html,body{margin:0;background:transparent}</style>"
                f'<img src="data:image/svg+xml;base64,{svg}" width="{size}" height="{size}">'
            )
            page.wait_for_function("document.images[0].complete")
            shot = page.screenshot(omit_background=True, type="png")
            page.close()
            image = Image.open(io.BytesIO(shot)).convert("RGBA")
            if image.size != (size, size):
                raise SystemExit(f"chromium drew {image.size} for a {size} px icon")
            path = icon_path(size)
            image.save(path, format="PNG", optimize=True)
            written.append(path)
    return written


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(ROOT))
