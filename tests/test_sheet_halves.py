"""A large sheet parsed by calamine in two halves gives what calamine reads
from the whole sheet, and calamine sees no half of a sheet the scan refuses.

``addin.ooxml.halves`` keeps the scanned bytes of the largest sheet as a
stored package cut in two at a row; calamine parses both halves at once.
These tests lower the size from which a sheet is cut (``HALVES_FLOOR``) so
that small workbooks take that path, and compare every value it gives with
the values read from the whole sheet: the starter workbooks of every
business type, cells of every kind written by XlsxWriter in both date
systems, and a sheet spanning several inflated chunks. The copy is given up
where the cut could be misread (a comment) and the halves where rows come
out of order; a refused sheet never reaches calamine; nothing is left
behind (threads, files).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

import addin.ooxml.halves as halves_module
import addin.ooxml.package as package_module
import kpi_engine
from addin.ooxml.bounded import CHUNK, PackageError
from addin.ooxml.halves import FIRST, FIRST_SHARE, SECOND, SheetHalves
from addin.ooxml.package import _CellSource, open_package, read_data
from addin.ooxml.sheets import CellRange
from addin.starter import StarterOptions, new_workbook
from tests.test_bounded_reader import _same, _xlsxwriter_book

pytestmark = pytest.mark.fast

AS_OF = dt.date(2024, 7, 15)


@pytest.fixture
def cut_small(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every sheet read by calamine on the halves' path; the pieces each read gave."""
    monkeypatch.setattr(package_module, "HALVES_FLOOR", 0)
    pieces: list[Any] = []
    parse = package_module._parse_halves

    def spy(copy: SheetHalves) -> Any:
        found = parse(copy)
        pieces.append(None if found is None else [(start, len(grid)) for start, grid in found])
        return found

    monkeypatch.setattr(package_module, "_parse_halves", spy)
    return pieces


def _table_ranges(path: Path) -> dict[str, tuple[str, list[CellRange]]]:
    """Each table's sheet and its whole body, every column."""
    package = open_package(path)
    try:
        found = {}
        for table in package.tables.values():
            (top, left), (bottom, right) = table.corners
            found[table.name] = (
                table.sheet,
                [CellRange(top, bottom, tuple(range(left, right + 1)))],
            )
        return found
    finally:
        package.close()


def _read(path: Path, sheet: str, wanted: list[CellRange], halves: bool) -> list[Any]:
    package = open_package(path)
    try:
        return _CellSource(package).start(sheet, wanted, halves=halves).finish()
    finally:
        package.close()


def _compare(path: Path, cut_small: list[Any]) -> int:
    """Every table read through the halves and from the whole sheet, cell by cell."""
    compared = 0
    for name, (sheet, wanted) in _table_ranges(path).items():
        cut_small.clear()
        by_halves = _read(path, sheet, wanted, halves=True)
        assert len(cut_small) == 1, name
        assert cut_small[0] is not None, name
        if wanted[0].height > 4:
            assert len(cut_small[0]) == 2, (name, cut_small)  # cut in two
        whole = _read(path, sheet, wanted, halves=False)
        for a, b in zip(by_halves[0], whole[0], strict=True):
            for row, (x, y) in enumerate(zip(a, b, strict=True)):
                assert _same(x, y), (name, row, x, y)
                compared += 1
    return compared


@pytest.mark.parametrize("business_type", sorted(kpi_engine.BUSINESS_TYPES))
def test_the_halves_read_every_starter_workbook_as_the_whole_sheet(
    tmp_path: Path, business_type: str, cut_small: list[Any]
) -> None:
    path = tmp_path / f"{business_type}.xlsx"
    new_workbook(StarterOptions(business_type, "en", as_of=AS_OF), path)
    assert _compare(path, cut_small) > 100


@pytest.mark.parametrize("date1904", [False, True], ids=["1900", "1904"])
def test_the_halves_read_every_kind_of_cell_as_the_whole_sheet(
    tmp_path: Path, date1904: bool, cut_small: list[Any]
) -> None:
    """Shared strings, rich text, number formats of every kind, booleans,
    error cells and the 1904 date system (XlsxWriter's workbook)."""
    path = tmp_path / "cells.xlsx"
    _xlsxwriter_book(path, date1904)
    assert _compare(path, cut_small) > 500


PART = "xl/worksheets/sheet1.xml"
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<dimension ref="A1:C9"/><sheetData>'
)
TAIL = b"</sheetData><mergeCells count='1'><mergeCell ref='E1:F1'/></mergeCells></worksheet>"


def _rows(first: int, last: int, gap: int = 0) -> list[bytes]:
    """Rows ``first``..``last`` with a number in B and a text in C (every
    ``gap``-th row left out, where gap is given)."""
    return [
        f'<row r="{n}"><c r="B{n}"><v>{n}.5</v></c>'
        f'<c r="C{n}" t="inlineStr"><is><t>t{n}</t></is></c></row>'.encode()
        for n in range(first, last + 1)
        if not gap or n % gap
    ]


def _book(tmp_path: Path, rows: list[bytes], name: str = "rows.xlsx") -> Path:
    """A one-sheet workbook whose sheet holds ``rows``."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr(PART, HEAD + b"".join(rows) + TAIL)
    return path


def _both(path: Path, wanted: list[CellRange]) -> tuple[list[Any], list[Any]]:
    return _read(path, "Data", wanted, halves=True), _read(path, "Data", wanted, halves=False)


def test_a_sheet_of_several_chunks_is_cut_past_its_middle(
    tmp_path: Path, cut_small: list[Any]
) -> None:
    """Cut in a later chunk than the first, with blank rows and a blank
    column A; ranges above, across and below the cut read as from the whole."""
    last = CHUNK * 3 // 70
    path = _book(tmp_path, _rows(2, last, gap=7))
    wanted = [
        CellRange(1, last - 1, (0, 1, 2)),
        CellRange(0, 5, (2,)),
        CellRange(last - 6, last + 3, (1, 4)),
    ]
    by_halves, whole = _both(path, wanted)
    (first_start, first_rows), (second_start, _) = cut_small[0]
    assert first_start == (0, 0)
    assert second_start[0] > CHUNK // 70
    assert second_start[1] == 1  # column B: A is blank
    assert first_rows <= second_start[0]
    assert by_halves == whole
    assert whole[0][1][:3] == [2.5, 3.5, 4.5]
    assert whole[0][1][5] == ""  # row 7 left out


def test_rows_out_of_order_are_read_by_ranges(tmp_path: Path, cut_small: list[Any]) -> None:
    """A second half that starts above the end of the first (rows written out
    of order) is not put together: the sheet is read by ranges, with the
    values calamine gives the whole sheet."""
    rows = _rows(500, 600) + _rows(2, 120)
    path = _book(tmp_path, rows)
    wanted = [CellRange(1, 599, (1, 2))]
    by_halves, whole = _both(path, wanted)
    assert cut_small == [None]
    assert by_halves == whole


@pytest.mark.parametrize(
    "hiding",
    [b"<!-- a comment -->", b"<![CDATA[x]]>", b"<?pi data?>"],
    ids=["comment", "cdata", "instruction"],
)
def test_a_sheet_with_a_comment_is_read_as_a_whole(
    tmp_path: Path, cut_small: list[Any], hiding: bytes
) -> None:
    """A ``<row`` inside a comment, CDATA or instruction is no row: the copy is
    given up and the sheet read from the package as before."""
    rows = _rows(2, 300)
    rows[200] = hiding + rows[200]
    path = _book(tmp_path, rows)
    wanted = [CellRange(1, 299, (1, 2))]
    by_halves, whole = _both(path, wanted)
    assert cut_small == []  # never parsed from the copy
    assert by_halves == whole


def test_the_copy_holds_the_sheet_cut_at_a_row(tmp_path: Path) -> None:
    """The two sheets of the copy: the first ends where a row starts past the
    middle, the second repeats the sheet's beginning; together, the sheet."""
    sheet = HEAD + b"".join(_rows(2, 400)) + TAIL
    copy = SheetHalves(len(sheet), {"styles": b"<styleSheet/>"}, date1904=True)
    try:
        for at in range(0, len(sheet), 1000):
            copy.write(sheet[at : at + 1000])
        copy.finish()
        assert copy.usable
        with zipfile.ZipFile(copy.path) as archive:
            assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
            first = archive.read(f"xl/worksheets/{FIRST}.xml")
            second = archive.read(f"xl/worksheets/{SECOND}.xml")
            assert b'date1904="1"' in archive.read("xl/workbook.xml")
            assert archive.read("xl/styles.xml") == b"<styleSheet/>"
    finally:
        copy.remove()
    assert first.endswith(b"</row></sheetData></worksheet>")
    assert second.startswith(HEAD + b'<row r="')
    body = first[: -len(b"</sheetData></worksheet>")] + second[len(HEAD) :]
    assert body == sheet
    assert int(len(sheet) * FIRST_SHARE) <= len(first) < int(len(sheet) * FIRST_SHARE) + 200


def test_without_files_in_memory_the_sheet_is_read_whole_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut_small: list[Any]
) -> None:
    """Without files in memory (Windows, macOS), no copy is made, on disk or
    elsewhere: the sheet is read whole, with the same values."""
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "temporary"))
    (tmp_path / "temporary").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)
    path = _book(tmp_path, _rows(2, 300))
    wanted = [CellRange(1, 299, (1, 2))]
    by_halves, whole = _both(path, wanted)
    assert by_halves == whole
    assert whole[0][0][:2] == [2.5, 3.5]
    assert cut_small == []
    assert list((tmp_path / "temporary").iterdir()) == []


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


@pytest.mark.parametrize(
    "odd",
    [
        b'<!DOCTYPE worksheet [<!ENTITY a "a">]>',
        b'<row r="9999"><c r="ZZZZ9999"><v>1</v></c></row>',
    ],
    ids=["dtd", "outside-grid"],
)
def test_a_refused_sheet_never_reaches_calamine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut_small: list[Any], odd: bytes
) -> None:
    """The largest sheet refused by the scan (a DTD, a cell outside the grid):
    the refusal is said, calamine never parsed that sheet (nor a copy of
    it), and no thread or memory file is left."""
    path = tmp_path / "book.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), path)
    package = open_package(path)
    try:
        sheet = package.tables["Orders"].sheet
        part = next(s.part for s in package.sheets if s.name == sheet)
        xml = package.read(part)
    finally:
        package.close()
    if odd.startswith(b"<!DOCTYPE"):
        xml = xml.replace(b"<worksheet", odd + b"<worksheet", 1)
    else:
        xml = xml.replace(b"</sheetData>", odd + b"</sheetData>")
    crafted = tmp_path / "crafted.xlsx"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, xml if info.filename == part else old.read(info))
    opened: list[tuple[str, str]] = []
    import python_calamine  # noqa: PLC0415

    real = python_calamine.CalamineWorkbook

    class Watched:
        """calamine's workbook, each sheet it is asked for written down."""

        def __init__(self, where: str) -> None:
            self.book = real.from_path(where)
            self.where = where

        @classmethod
        def from_path(cls, where: str) -> Watched:
            return cls(where)

        def get_sheet_by_name(self, name: str) -> Any:
            opened.append((self.where, name))
            return self.book.get_sheet_by_name(name)

        def close(self) -> None:
            self.book.close()

    monkeypatch.setattr(python_calamine, "CalamineWorkbook", Watched)
    kept = []
    made = halves_module.SheetHalves

    def keep(*args: Any) -> SheetHalves:
        kept.append(made(*args))
        return kept[-1]

    monkeypatch.setattr(package_module, "SheetHalves", keep)
    before = _threads()
    package = open_package(crafted)
    try:
        with pytest.raises(PackageError, match=r"DTD|outside Excel's grid"):
            read_data(package)
    finally:
        package.close()
    assert kept, "the largest sheet was copied while it was scanned"
    assert opened  # the other sheets, read meanwhile from the package
    assert all(where == str(crafted) and name != sheet for where, name in opened)
    assert all(copy._file.closed for copy in kept)
    assert cut_small == []
    assert _threads() == before


def test_a_refresh_through_the_halves_reads_the_rows_of_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut_small: list[Any]
) -> None:
    """The report's rows read through the halves are those read with no
    threads at all (as in Pyodide, where the sheet is never cut)."""
    path = tmp_path / "book.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), path)
    package = open_package(path)
    try:
        both = dict(read_data(package).rows)
    finally:
        package.close()
    assert cut_small
    assert all(found and len(found) == 2 for found in cut_small)
    monkeypatch.setattr(package_module, "THREADS", False)
    cut_small.clear()
    package = open_package(path)
    try:
        one = dict(read_data(package).rows)
    finally:
        package.close()
    assert cut_small == []
    assert set(both) == set(one)
    for name, rows in both.items():
        assert dict(rows) == dict(one[name]), name
