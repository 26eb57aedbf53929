"""The sheet scan's quick tests, the inflating thread behind it, and the
sheets read on two threads.

``scan_sheet`` looks at every chunk of a sheet with cheap literal searches
and gives a chunk a closer look only where one finds something; the chunks
are inflated ahead on a thread of their own (``BoundedZip.chunks_ahead``).
These tests hold the quick tests to the closer look for every way a cell
can be written irregularly, wherever in the part it stands (also across a
chunk's end), and the thread to the checks of the plain chunks: the same
bytes, the same refusals, and no thread left behind. The sheets other
than the largest are read on a second thread while calamine parses the
largest: the values are those read on one thread, and a refusal found
there is the caller's.
"""

from __future__ import annotations

import datetime as dt
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

import addin.ooxml.package as package_module
from addin.ooxml.bounded import CHUNK, BoundedZip, PackageError, read_ahead
from addin.ooxml.package import open_package, read_data
from addin.ooxml.sheets import CellRange, scan_sheet
from addin.starter import StarterOptions, new_workbook

pytestmark = pytest.mark.fast

PART = "xl/worksheets/sheet1.xml"
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<cols><col min="1" max="2" width="12"/></cols><sheetData>'
)
TAIL = (
    b"</sheetData><conditionalFormatting sqref='A2:A9'><cfRule type='expression'/>"
    b"</conditionalFormatting></worksheet>"
)
#: Rows enough that the part spans several inflated chunks.
MANY_ROWS = CHUNK // 36
WANTED = [CellRange(1, MANY_ROWS, (0, 1))]


def _row(number: int) -> bytes:
    return f'<row r="{number}"><c r="A{number}"><v>{number}</v></c><c r="B{number}" s="1"><v>2</v></c></row>'.encode()


def _sheet(tmp_path: Path, odd: bytes = b"", at: int = 2) -> Path:
    """A package whose sheet holds MANY_ROWS regular rows, with ``odd``
    written in place of row ``at``."""
    rows = [_row(n) for n in range(1, MANY_ROWS + 1)]
    if odd:
        rows[at - 1] = odd
    path = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PART, HEAD + b"".join(rows) + TAIL)
    return path


def _scan(path: Path) -> object:
    package = BoundedZip(path)
    try:
        return scan_sheet(package, PART, WANTED, {})
    finally:
        package.close()


def test_a_regular_sheet_with_cols_and_rules_is_regular(tmp_path: Path) -> None:
    """<cols>, <col> and <cfRule> start with <c too: the closer look tells them from cells."""
    scan = _scan(_sheet(tmp_path))
    assert not scan.irregular
    assert scan.errors == {}


@pytest.mark.parametrize(
    "cell",
    [
        b"<c><v>1</v></c>",
        b"<c/>",
        b'<c  r="A{n}"><v>1</v></c>',
        b'<c\tr="A{n}"><v>1</v></c>',
        b'<c\nr="A{n}"><v>1</v></c>',
        b'<c s="1" r="A{n}"><v>1</v></c>',
        b'<x:c r="A{n}"><v>1</v></x:c>',
        b"<x:c>",
    ],
)
@pytest.mark.parametrize("where", ["near the start", "mid-part", "near the end"])
def test_an_irregular_cell_is_seen_wherever_it_stands(
    tmp_path: Path, cell: bytes, where: str
) -> None:
    at = {"near the start": 2, "mid-part": MANY_ROWS // 2, "near the end": MANY_ROWS - 1}[where]
    odd = f'<row r="{at}">'.encode() + cell.replace(b"{n}", str(at).encode()) + b"</row>"
    assert _scan(_sheet(tmp_path, odd, at)).irregular


def test_error_cells_are_found_in_every_chunk(tmp_path: Path) -> None:
    """An error cell is found wherever it stands, one cut by a chunk's end included."""
    rows = [_row(n) for n in range(1, MANY_ROWS + 1)]
    data = HEAD + b"".join(rows) + TAIL
    # The row whose bytes straddle the first chunk's end, and two others.
    offset, straddling = len(HEAD), 0
    for number, row in enumerate(rows, start=1):
        if offset + len(row) > CHUNK:
            straddling = number
            break
        offset += len(row)
    errors = {3: "#N/A", straddling: "#DIV/0!", MANY_ROWS - 2: "#REF!"}
    for number, error in errors.items():
        rows[number - 1] = (
            f'<row r="{number}"><c r="A{number}" t="e"><v>{error}</v></c></row>'.encode()
        )
    path = tmp_path / "errors.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PART, HEAD + b"".join(rows) + TAIL)
    assert len(data) > 2 * CHUNK
    assert _scan(path).errors == {(number - 1, 0): error for number, error in errors.items()}


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def test_chunks_ahead_gives_the_chunks_and_ends_its_thread(tmp_path: Path) -> None:
    path = _sheet(tmp_path)
    before = _threads()
    package = BoundedZip(path)
    try:
        plain = list(package.chunks(PART))
        ahead = list(package.chunks_ahead(PART))
    finally:
        package.close()
    assert len(plain) > 2
    assert ahead == plain
    assert _threads() == before


def test_chunks_ahead_ends_its_thread_when_the_reader_stops_early(tmp_path: Path) -> None:
    path = _sheet(tmp_path)
    before = _threads()
    package = BoundedZip(path)
    try:
        chunks = package.chunks_ahead(PART)
        first = next(chunks)
        assert first.startswith(b"<?xml")
        chunks.close()
        assert _threads() == before
    finally:
        package.close()


def test_chunks_ahead_raises_what_the_checks_raise(tmp_path: Path) -> None:
    """The cap on what a package inflates to, in all, is checked on the
    inflating thread, and its refusal reaches the reader, with no thread left."""
    path = _sheet(tmp_path)
    before = _threads()
    with zipfile.ZipFile(path) as archive:
        size = archive.getinfo(PART).file_size
    package = BoundedZip(path, cap=size + CHUNK // 2)
    try:
        assert len(b"".join(package.chunks(PART))) == size  # read once: under the cap
        with pytest.raises(PackageError, match="guard against zip bombs"):
            list(package.chunks_ahead(PART))  # twice: over it, mid-part
    finally:
        package.close()
    assert _threads() == before


def test_read_ahead_raises_an_error_after_the_items_before_it() -> None:
    def items():  # type: ignore[no-untyped-def]
        yield b"one"
        yield b"two"
        raise PackageError("the part is damaged")

    ahead = read_ahead(items())
    assert [next(ahead), next(ahead)] == [b"one", b"two"]
    with pytest.raises(PackageError, match="damaged"):
        next(ahead)


# --- the sheets read on two threads ----------------------------------------------------

AS_OF = dt.date(2024, 7, 15)


def _table_part(path: Path, table: str) -> tuple[str, bytes]:
    package = open_package(path)
    try:
        sheet = package.tables[table].sheet
        part = next(s.part for s in package.sheets if s.name == sheet)
        return part, package.read(part)
    finally:
        package.close()


def _with_members(source: Path, target: Path, changed: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, changed.get(info.filename) or old.read(info))


def _read(path: Path) -> dict[str, Any]:
    package = open_package(path)
    try:
        return dict(read_data(package).rows)
    finally:
        package.close()


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("starter") / "book.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), path)
    return path


def test_the_sheets_read_on_two_threads_are_those_read_on_one(
    starter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _threads()
    both = _read(starter)
    assert _threads() == before
    monkeypatch.setattr(package_module, "THREADS", False)
    one = _read(starter)
    assert set(both) == set(one)
    assert len(both) > 3
    for name in both:
        assert dict(both[name]) == dict(one[name]), name
        assert both[name].first_row == one[name].first_row


def test_a_small_sheet_read_on_the_second_thread_is_refused_as_on_one(
    starter: Path, tmp_path: Path
) -> None:
    """A refusal found on the second thread (a cell beyond Excel's grid in
    Customers, while Orders, the largest sheet, is read on this one) is the
    caller's, with no thread left."""
    part, sheet = _table_part(starter, "Customers")
    crafted = tmp_path / "outside.xlsx"
    far = b'<row r="9999"><c r="ZZZZ9999"><v>1</v></c></row>'
    _with_members(starter, crafted, {part: sheet.replace(b"</sheetData>", far + b"</sheetData>")})
    before = _threads()
    with pytest.raises(PackageError, match="outside Excel's grid"):
        _read(crafted)
    assert _threads() == before


def test_the_largest_sheets_refusal_comes_first(starter: Path, tmp_path: Path) -> None:
    """Both threads refuse a sheet: the largest sheet's reason is the one said."""
    orders, orders_xml = _table_part(starter, "Orders")
    customers, customers_xml = _table_part(starter, "Customers")
    crafted = tmp_path / "both.xlsx"
    dtd = b'<!DOCTYPE worksheet [<!ENTITY a "a">]>'
    far = b'<row r="9999"><c r="ZZZZ9999"><v>1</v></c></row>'
    _with_members(
        starter,
        crafted,
        {
            orders: orders_xml.replace(b"<worksheet", dtd + b"<worksheet", 1),
            customers: customers_xml.replace(b"</sheetData>", far + b"</sheetData>"),
        },
    )
    with zipfile.ZipFile(crafted) as archive:
        assert archive.read(orders).startswith(dtd)
    with pytest.raises(PackageError, match="DTD"):
        _read(crafted)


@pytest.mark.parametrize("bottom", [0, 8, 99, 9999, 99998, 99999, 100000, 1048575])
@pytest.mark.parametrize("right", [0, 6, 24, 25, 26, 51, 700, 701, 702, 16383])
def test_the_gate_stands_wherever_a_far_or_loose_cell_could(bottom: int, right: int) -> None:
    """A chunk where the one search of ``_gate`` finds nothing is given
    neither the test for far cells nor the one for loose cells: so the gate
    must find every place where either would."""
    from addin.ooxml.sheets import _LOOSE_CELL, _beyond, _gate, column_letter  # noqa: PLC0415

    beyond, gate = _beyond(bottom, right), _gate(bottom, right)
    columns = sorted(
        {0, 1, 6, 7, 24, 25, 26, 27, 51, 52, 700, 701, 702, 703, 16383, right, right + 1}
    )
    rows = sorted({1, 9, 10, 99, 100, 101, 9999, 10000, 99999, 100000, 100001, 1048576})
    rows += [bottom, bottom + 1, bottom + 2]
    shapes = [b'<c r="%s">', b"<c r='%s'>", b'<c  r="%s">', b'<c s="1" r="%s">', b'<c r="%s"/>']
    texts = [b"<c>", b"<c/>", b"<cols>", b'<cfRule type="x">', b"<c\tr='A1'>"]
    for column in columns:
        for row in rows:
            reference = f"{column_letter(column)}{row}".encode()
            texts += [shape % reference for shape in shapes]
    checked = 0
    for text in texts:
        if beyond.search(text) or _LOOSE_CELL.search(text):
            assert gate.search(text), (bottom, right, text)
            checked += 1
        if b'<c r="' in text and not beyond.search(text):
            assert not gate.search(text), (bottom, right, text)  # plain cells pass
    assert checked > 10
