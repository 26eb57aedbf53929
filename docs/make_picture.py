"""Render the KPI sheet of a starter workbook to docs/kpi-sheet.png.

LibreOffice recalculates the workbook (with the tests' profile, which
recalculates every formula on load) and prints each sheet on one PDF page;
pdftoppm turns the KPI sheet's page into a PNG for the README.

    python docs/make_picture.py [TYPE] [LANG]
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from addin.starter import StarterOptions, new_workbook
from tests.libreoffice import convert

HERE = Path(__file__).resolve().parent
#: One page per sheet: the KPI sheet is the second sheet, so the second page.
PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'
KPI_SHEET_PAGE = 2


def main(business_type: str = "celebrity_video", language: str = "en") -> Path:
    pdftoppm = shutil.which("pdftoppm")
    if not shutil.which("soffice") or not pdftoppm:
        raise SystemExit("needs LibreOffice and poppler-utils: make system-deps")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        workbook = new_workbook(
            StarterOptions(business_type, language, as_of=dt.date(2024, 7, 15)), work / "kpi.xlsx"
        )
        convert([workbook], work, fmt=PDF_FILTER)
        target = HERE / "kpi-sheet"
        subprocess.run(
            [
                pdftoppm,
                "-png",
                "-r",
                "110",
                "-f",
                str(KPI_SHEET_PAGE),
                "-l",
                str(KPI_SHEET_PAGE),
                "-singlefile",
                str(work / "kpi.pdf"),
                str(target),
            ],
            check=True,
            timeout=120,
        )
    return target.with_suffix(".png")


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
