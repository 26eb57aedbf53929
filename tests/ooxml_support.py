"""A one-sheet workbook written by the project's own OOXML layer, for reading
back with independent readers (openpyxl, python-calamine, LibreOffice).

Only ``addin.ooxml`` writes it: the cells (``cells.cell_xml``), the zip
(``zipwriter``) and the file (``atomic``), so what a reader finds is what
that layer wrote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from addin.ooxml.atomic import write_atomically
from addin.ooxml.cells import cell_xml
from addin.ooxml.names import CT, MAIN, PKG_REL, REL, WORKSHEET_CT, WORKSHEET_REL
from addin.ooxml.zipwriter import ZipWriter
from tests.libreoffice import convert

SHEET = "Sheet1"
#: The cell format of dates: style 1, a custom format every reader shows the same way.
DATE_STYLE = 1
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_OFFICE = "application/vnd.openxmlformats-officedocument.spreadsheetml."


def package_parts(values: Sequence[Any], date1904: bool = False) -> dict[str, bytes]:
    """The parts of a workbook whose column A holds ``values`` (dates styled as dates)."""
    rows = "".join(
        f'<row r="{number}">{cell_xml(f"A{number}", value, date_style=DATE_STYLE, date1904=date1904)}</row>'
        for number, value in enumerate(values, start=1)
    )
    properties = '<workbookPr date1904="1"/>' if date1904 else ""
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{CT}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_OFFICE}sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{WORKSHEET_CT}"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_OFFICE}styles+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{PKG_REL}">'
        f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">{properties}'
        f'<sheets><sheet name="{SHEET}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG_REL}">'
        f'<Relationship Id="rId1" Type="{WORKSHEET_REL}" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'<styleSheet xmlns="{MAIN}">'
        f'<numFmts count="1"><numFmt numFmtId="164" formatCode="{DATE_FORMAT}"/></numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
        '<borders count="1"><border/></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs><cellXfs count="2">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
        "</cellStyles></styleSheet>",
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData>'
        "</worksheet>",
    }
    return {name: (_HEAD + text).encode("utf-8") for name, text in parts.items()}


def write_workbook(path: Path, values: Sequence[Any], date1904: bool = False) -> Path:
    parts = package_parts(values, date1904)

    def write(file: BinaryIO) -> None:
        with ZipWriter(file) as archive:
            for name, data in parts.items():
                archive.write(name, data)

    write_atomically(path, write)
    return path


def libreoffice_column(paths: list[Path], outdir: Path) -> list[list[str]]:
    """Column A of each workbook as LibreOffice shows it, through a UTF-8 CSV export."""
    exported = convert(paths, outdir, fmt="csv:Text - txt - csv (StarCalc):44,34,76,1")
    return [
        [row[0] if row else "" for row in csv.reader(io.StringIO(path.read_text("utf-8")))]
        for path in exported
    ]
