"""Write addin/ooxml/font_widths.json: how wide each character is in Calibri.

Excel's default font is Calibri 11; Carlito (Debian's fonts-crosextra-carlito)
has the same metrics. The column sizing of the report and starter sheets
(``addin.ooxml.widths``) reads the advance width of each character from this
table, in font units (2048 to the em), so that it runs where no font or
imaging library is installed (xlwings Lite). ``make docs`` writes it again;
``tests/test_column_widths.py`` measures the sheets' texts with the font
itself, independently of this table.

    python docs/make_font_widths.py
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import ImageFont

FONTS = Path("/usr/share/fonts/truetype/crosextra")
TARGET = Path(__file__).resolve().parent.parent / "addin" / "ooxml" / "font_widths.json"
UNITS_PER_EM = 2048
#: Latin-1, Latin Extended-A, and the punctuation and symbols the sheets use.
CHARACTERS = (
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0xA0, 0x180)]
    + list("–—‘’‚“”„•…‰€™≈≠≤≥−▲▼►●±×÷\u202f\u2009")
)


def widths(font_file: str) -> dict[str, int]:
    font = ImageFont.truetype(str(FONTS / font_file), UNITS_PER_EM)
    return {character: round(font.getlength(character)) for character in CHARACTERS}


def main() -> Path:
    table = {"units_per_em": UNITS_PER_EM, "regular": widths("Carlito-Regular.ttf")}
    table["bold"] = widths("Carlito-Bold.ttf")
    TARGET.write_text(json.dumps(table, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return TARGET


if __name__ == "__main__":
    print(main())
