"""The two cell readers of a package agree, and the scan sends each sheet to the right one.

calamine reads a sheet whose dense grid is cheap; the range reader of
``addin.ooxml.sheets`` reads any other. A report must not depend on which
one read it, so both are run on the same sheets here and compared cell by
cell: every starter workbook (inline strings, dates, datetimes), and
workbooks written by XlsxWriter, an independent writer, with shared
strings, rich text, number formats of every kind, booleans, error cells,
control characters and the 1904 date system.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

import kpi_engine
from addin.ooxml.bounded import PackageError
from addin.ooxml.package import _columns_from_grid, open_package, read_data
from addin.ooxml.sheets import (
    CellRange,
    calamine_can_read,
    long_strings,
    read_cell_kinds,
    read_ranges,
    read_shared_strings,
    scan_sheet,
)
from addin.starter import StarterOptions, new_workbook

AS_OF = dt.date(2024, 7, 15)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def compare(path: Path) -> int:
    """Every table of ``path``, all its columns, through both readers; the cells compared."""
    package = open_package(path)
    compared = 0
    try:
        bounded = package.bounded
        names = bounded.names()
        strings = read_shared_strings(
            bounded, "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in names else None
        )
        kinds = read_cell_kinds(package.read("xl/styles.xml"))
        book = CalamineWorkbook.from_path(str(path))
        parts = {sheet.name: sheet.part for sheet in package.sheets}
        for table in package.tables.values():
            (top, left), (bottom, right) = table.corners
            wanted = [CellRange(top, bottom, tuple(range(left, right + 1)))]
            part = parts[table.sheet]
            scan = scan_sheet(bounded, part, wanted, long_strings(strings))
            grid = book.get_sheet_by_name(table.sheet).to_python(skip_empty_area=False)
            dense = _columns_from_grid(grid, wanted[0], scan.errors)
            ranged = read_ranges(bounded, part, wanted, strings, kinds, package.date1904)[0]
            for column, (a, b) in enumerate(zip(dense, ranged, strict=True)):
                for row, (x, y) in enumerate(zip(a, b, strict=True)):
                    assert _same(x, y), (table.name, row + top + 1, column + left, x, y)
                    compared += 1
    finally:
        package.close()
    return compared


@pytest.mark.parametrize("business_type", sorted(kpi_engine.BUSINESS_TYPES))
def test_both_readers_agree_on_every_starter_workbook(tmp_path: Path, business_type: str) -> None:
    path = tmp_path / f"{business_type}.xlsx"
    new_workbook(StarterOptions(business_type, "fr", as_of=AS_OF), path)
    assert compare(path) > 100


def _xlsxwriter_book(path: Path, date1904: bool) -> None:
    """A table of every kind of cell, as Excel would store it (XlsxWriter writes
    shared strings and numbers with their formats, as Excel does)."""
    book = xlsxwriter.Workbook(str(path), {"date_1904": date1904, "strings_to_numbers": False})
    sheet = book.add_worksheet("Data")
    formats = [
        "yyyy-mm-dd",
        "yyyy-mm-dd hh:mm",
        "hh:mm",
        "[h]:mm:ss",
        "0.00",
        "dd/mm/yyyy;@",
        '"d"0',
        "0%",
        "[$-409]d-mmm-yy",
        "mm:ss",
        "[red]0.0",
        "General",
    ]
    numbers = [0, 0.25, 1, 59, 60, 61, 45292, 45292.5, 2958465, 2958466, -1, 1e8]
    sheet.write_row(0, 0, ["value", "format", "text", "flag"])
    row = 1
    for code in formats:
        style = book.add_format({"num_format": code})
        for number in numbers:
            sheet.write_number(row, 0, number, style)
            sheet.write_string(row, 1, code)
            row += 1
    texts = ["plain", "a\x01b", "_x0041_ literal", "tab\tand\nnewline", " spaced ", "Émile", "#N/A"]
    for index, text in enumerate(texts):
        sheet.write_string(1 + index, 2, text)
    bold = book.add_format({"bold": True})
    sheet.write_rich_string(1 + len(texts), 2, "rich ", bold, "text")
    sheet.write_boolean(1, 3, True)
    sheet.write_boolean(2, 3, False)
    sheet.write_formula(3, 3, "=1/0", None, "#DIV/0!")
    sheet.write_formula(4, 3, "=NA()", None, "#N/A")
    sheet.write_formula(5, 3, '="x"', None, "x")
    sheet.add_table(
        0,
        0,
        row - 1,
        3,
        {
            "name": "Cells",
            "header_row": True,
            "columns": [
                {"header": "value"},
                {"header": "format"},
                {"header": "text"},
                {"header": "flag"},
            ],
        },
    )
    book.close()


@pytest.mark.parametrize("date1904", [False, True], ids=["1900", "1904"])
def test_both_readers_agree_on_every_kind_of_cell(tmp_path: Path, date1904: bool) -> None:
    path = tmp_path / "cells.xlsx"
    _xlsxwriter_book(path, date1904)
    assert compare(path) > 500


def _with_member(source: Path, target: Path, part: str, data: bytes) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, data if info.filename == part else old.read(info))


def _orders_part(path: Path) -> tuple[str, bytes]:
    package = open_package(path)
    try:
        sheet = package.tables["Orders"].sheet
        part = next(s.part for s in package.sheets if s.name == sheet)
        return part, package.read(part)
    finally:
        package.close()


@pytest.mark.parametrize(
    ("far_cell", "by_ranges"),
    [("XFD1048576", True), ("AA1048576", True), ("XFD1", None), ("Z30", False)],
)
def test_a_far_cell_sends_the_sheet_to_the_range_reader(
    tmp_path: Path, far_cell: str, by_ranges: bool | None
) -> None:
    """A cell far beyond the tables makes calamine's grid huge: the scan sees it,
    and the report's values stay those of the file without it."""
    base = tmp_path / "base.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), base)
    part, sheet = _orders_part(base)
    far = f'<row r="{far_cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"><c r="{far_cell}"><v>1</v></c></row>'
    crafted = tmp_path / "far.xlsx"
    if int(far_cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) == 1:
        # A cell in the first row goes into that row, after its last cell.
        head, tail = sheet.split(b"</row>", 1)
        _with_member(base, crafted, part, head + far_cell_xml(far_cell) + b"</row>" + tail)
    else:
        _with_member(
            base, crafted, part, sheet.replace(b"</sheetData>", far.encode() + b"</sheetData>")
        )
    package = open_package(crafted)
    try:
        table = package.tables["Orders"]
        (top, left), (bottom, right) = table.corners
        wanted = [CellRange(top + 1, bottom, tuple(range(left, right + 1)))]
        scan = scan_sheet(package.bounded, part, wanted, {})
        if by_ranges is not None:
            assert calamine_can_read(scan, wanted) is not by_ranges
    finally:
        package.close()
    assert (
        read_data(open_package(crafted)).rows["Orders"]
        == read_data(open_package(base)).rows["Orders"]
    )


def far_cell_xml(ref: str) -> bytes:
    return f'<c r="{ref}"><v>1</v></c>'.encode()


def test_a_cell_outside_the_grid_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), base)
    part, sheet = _orders_part(base)
    crafted = tmp_path / "outside.xlsx"
    far = b'<row r="9"><c r="ZZZZ9"><v>1</v></c></row>'
    _with_member(base, crafted, part, sheet.replace(b"</sheetData>", far + b"</sheetData>"))
    with pytest.raises(PackageError, match="outside Excel's grid"):
        read_data(open_package(crafted))


def test_a_long_shared_string_in_many_cells_sends_the_sheet_to_the_range_reader(
    tmp_path: Path,
) -> None:
    """calamine would copy a shared string into every cell that uses it; the
    scan sums those copies and leaves such a sheet to the range reader, whose
    cells all point at the one Python string."""
    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Data")
    long_text = "é" * 30_000  # under Excel's 32,767 characters a cell may hold
    sheet.write_row(0, 0, ["note", "n"])
    for row in range(1, 2_501):
        sheet.write_string(row, 0, long_text)
        sheet.write_number(row, 1, row)
    sheet.add_table(
        0, 0, 2_500, 1, {"name": "Notes", "columns": [{"header": "note"}, {"header": "n"}]}
    )
    book.close()
    package = open_package(path)
    try:
        strings = read_shared_strings(package.bounded, "xl/sharedStrings.xml")
        wanted = [CellRange(1, 2_500, (0, 1))]
        part = package.sheets[0].part
        scan = scan_sheet(package.bounded, part, wanted, long_strings(strings))
        assert scan.amplified == 2_500 * 30_000
        assert not calamine_can_read(scan, wanted)
        kinds = read_cell_kinds(package.read("xl/styles.xml"))
        notes, numbers = read_ranges(package.bounded, part, wanted, strings, kinds, False)[0]
        assert all(note is notes[0] for note in notes)
        assert notes[0] == long_text
        assert numbers == [float(n) for n in range(1, 2_501)]
    finally:
        package.close()
