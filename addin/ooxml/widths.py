"""How wide a text is in Excel's default font, and the column that holds it.

Excel sizes columns in characters of the default font's widest digit (7
pixels for Calibri 11 at 96 dpi) and draws text in Calibri 11, whose
advance widths are in ``font_widths.json`` (written by
``docs/make_font_widths.py`` from Carlito, Calibri's metric twin). The
report and starter sheets size each column to its longest text, and wrap
long headers onto several lines, with this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

#: Calibri 11 at 96 dpi: the font size in pixels and its widest digit.
FONT_PIXELS = 11 * 96 / 72
DIGIT_PIXELS = 7
#: Room Excel leaves between a cell's text and its borders, in pixels.
CELL_PADDING = 8
#: Line height of Calibri 11, in points (Excel's default row is 15).
LINE_POINTS = 15.0


@cache
def _table() -> dict[str, Any]:
    path = Path(__file__).resolve().parent / "font_widths.json"
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return table


def text_pixels(text: str, bold: bool = False, size: float = 11) -> float:
    """The width of ``text`` on one line, in pixels at 96 dpi."""
    table = _table()
    advances: dict[str, int] = table["bold" if bold else "regular"]
    fallback = advances["0"]  # an unknown character counts as a digit
    units = sum(advances.get(character, fallback) for character in text)
    return units / table["units_per_em"] * size * 96 / 72


def column_pixels(width: float) -> int:
    """The pixels of a column ``width`` characters wide (ECMA-376, 18.3.1.13)."""
    return math.trunc((256 * width + math.trunc(128 / DIGIT_PIXELS)) / 256 * DIGIT_PIXELS)


def width_for(pixels: float) -> float:
    """The narrowest column width (in characters) that shows ``pixels`` of text."""
    needed = pixels + CELL_PADDING
    width = math.ceil(needed / DIGIT_PIXELS * 256) / 256
    while column_pixels(width) < needed:
        width += 1 / 256
    return round(width, 4)


def fitting_width(
    texts: Iterable[str], bold: bool = False, minimum: float = 6.0, maximum: float = 60.0
) -> float:
    """The width of a column that shows each of ``texts`` on one line, between
    ``minimum`` and ``maximum`` characters."""
    widest = max((text_pixels(text, bold) for text in texts if text), default=0.0)
    return min(max(width_for(widest), minimum), maximum)


def wrapped(text: str, width: float, bold: bool = False) -> list[str]:
    """``text`` broken at spaces into lines that fit a column ``width`` wide,
    as Excel wraps it; a word longer than the column stands on a line alone."""
    room = column_pixels(width) - CELL_PADDING
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_pixels(candidate, bold) > room:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def longest_word_pixels(text: str, bold: bool = False) -> float:
    return max((text_pixels(word, bold) for word in text.split()), default=0.0)


def row_points(lines: int) -> float:
    """The height of a row that shows ``lines`` lines of Calibri 11."""
    return max(1, lines) * LINE_POINTS
