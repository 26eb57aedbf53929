"""The look of the sheets the add-in writes: one palette for the starter
workbooks (openpyxl), the report sheet written into a package
(``addin.report.writer``) and the report sheet written through the xlwings
Book API (``addin.report.excel``).

A style names what a cell is (a header, a band, a target met); each writer
turns it into its own terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Style:
    bold: bool = False
    italic: bool = False
    size: float = 11
    color: str | None = None  # font colour, RRGGBB
    fill: str | None = None  # background, RRGGBB
    wrap: bool = False
    horizontal: str | None = None  # left, center, right
    vertical: str | None = None  # top, center


#: The colours of the benchmark bands, best first, and of target met or missed.
BAND_FILLS: Mapping[str, str] = MappingProxyType(
    {
        "exceptional": "1E8449",
        "above_average": "82E0AA",
        "typical": "F9E79F",
        "below_typical": "F1948A",
    }
)
HEADER_FILL = "1F4E79"
GOOD_FONT, GOOD_FILL = "006100", "C6EFCE"
BAD_FONT, BAD_FILL = "9C0006", "FFC7CE"
MUTED_FONT = "767676"

STYLES: Mapping[str, Style] = MappingProxyType(
    {
        "plain": Style(),
        "title": Style(bold=True, size=14),
        "section": Style(bold=True, size=12),
        "label": Style(bold=True),
        "header": Style(bold=True, color="FFFFFF", fill=HEADER_FILL, wrap=True, vertical="top"),
        "text": Style(wrap=True, vertical="top"),
        "muted": Style(italic=True, color=MUTED_FONT),
        "left": Style(horizontal="left"),
        "center": Style(horizontal="center"),
        "top": Style(vertical="top"),
        # A benchmark band: white text on the darkest fill, black elsewhere.
        "band_exceptional": Style(color="FFFFFF", fill=BAND_FILLS["exceptional"]),
        "band_above_average": Style(fill=BAND_FILLS["above_average"]),
        "band_typical": Style(fill=BAND_FILLS["typical"]),
        "band_below_typical": Style(fill=BAND_FILLS["below_typical"]),
        "band_unrated": Style(color=MUTED_FONT),
        "met": Style(color=GOOD_FONT, fill=GOOD_FILL),
        "missed": Style(color=BAD_FONT, fill=BAD_FILL),
        "no_target": Style(color=MUTED_FONT),
        "no_value": Style(color=MUTED_FONT),
        # A change over time, better or worse by the KPI's direction.
        "better": Style(color=GOOD_FONT),
        "worse": Style(color=BAD_FONT),
    }
)


def band_style(band: str | None) -> str:
    return "plain" if band is None else f"band_{band}"
