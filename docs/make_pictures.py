"""Render the KPIs, Trend and Report sheets of a starter workbook to PNG, in
every language: docs/pictures/<sheet>-<language>.png.

For each language, ``kpi new`` writes a celebrity_video workbook and
``kpi refresh`` adds its report sheet; LibreOffice recalculates it (with
the tests' profile, which recalculates every formula on load) and prints
each sheet on one PDF page; pdftoppm turns the pages into PNGs. The README
shows the English ones.

    python docs/make_pictures.py [TYPE]
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from openpyxl import load_workbook

import kpi_engine
from addin.report.offline import refresh_file
from addin.starter import StarterOptions, new_workbook
from tests.libreoffice import convert

HERE = Path(__file__).resolve().parent
PICTURES = HERE / "pictures"
#: One page per sheet, whatever its print setup: the page number is the sheet's.
PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'
AS_OF = dt.date(2024, 7, 15)
#: The pictures: a name, and how to find the sheet among the workbook's sheets.
SHEETS = {"kpis": 1, "trend": 2, "report": -1}


def main(business_type: str = "celebrity_video") -> list[Path]:
    pdftoppm = shutil.which("pdftoppm")
    if not shutil.which("soffice") or not pdftoppm:
        raise SystemExit("needs LibreOffice and poppler-utils: make system-deps")
    PICTURES.mkdir(exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        books = []
        for language in kpi_engine.LANGUAGES:
            book = new_workbook(
                StarterOptions(business_type, language, as_of=AS_OF), work / f"{language}.xlsx"
            )
            refresh_file(book, clock=lambda: dt.datetime(2024, 7, 1, 8, 30))
            books.append(book)
        for book, pdf in zip(books, convert(books, work, fmt=PDF_FILTER), strict=True):
            count = len(load_workbook(book, read_only=True).sheetnames)
            for name, position in SHEETS.items():
                page = position % count + 1
                target = PICTURES / f"{name}-{book.stem}"
                subprocess.run(
                    [
                        *(pdftoppm, "-png", "-r", "80", "-f", str(page), "-l", str(page)),
                        *("-singlefile", str(pdf), str(target)),
                    ],
                    check=True,
                    timeout=120,
                )
                written.append(target.with_suffix(".png"))
    return written


if __name__ == "__main__":
    for path in main(*sys.argv[1:]):
        print(path)
