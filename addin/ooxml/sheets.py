"""Sheets of a package: a cheap scan before reading, and a reader bounded by ranges.

python-calamine reads a sheet fast, but as a dense grid from A1 to the
furthest cell: one cell at XFD1048576 asks it for 17 billion cells. So each
sheet is scanned first, in one streamed pass at the speed of a byte search
(``scan_sheet``), for what would make the dense grid costly: cells far
beyond the ranges the report reads, cells without a reference, and long
shared strings referenced many times (each reference becomes its own
string in the grid). A sheet that has none of these is read by calamine;
any other is read by ``read_ranges``, which streams the XML through lxml and
keeps only the cells inside the wanted ranges, so its memory follows those
ranges, whatever the file holds beyond them. Both readers give the same
Python values for a cell (``tests/test_bounded_reader.py`` holds them to it).

The scan also collects the error cells (calamine reads ``#N/A`` as a blank)
and refuses a DTD anywhere in the part.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from addin.ooxml import dates, xmltext
from addin.ooxml.bounded import BoundedZip, PackageError, refuse_dtd
from addin.ooxml.dates import DAYS_1900_TO_1904, END_OF_DATES
from addin.ooxml.names import MAIN

#: Excel's grid: 16,384 columns (A to XFD) and 1,048,576 rows.
MAX_COLUMNS = 16384
MAX_ROWS = 1048576
#: Above this many cells from A1 to a sheet's furthest cell, calamine's dense
#: grid is not worth its memory when the wanted ranges are much smaller.
DENSE_CELLS_FLOOR = 2_000_000
#: A shared string longer than this counts as long: its references are summed.
LONG_STRING = 256
#: Text that calamine would copy into its grid, in all, before the sheet is
#: read by ranges instead.
AMPLIFIED_TEXT_BUDGET = 64 << 20


def cell_index(ref: str) -> tuple[int, int]:
    """'B3' -> (row 2, column 1), zero-based; '$' signs allowed; ValueError if not a cell."""
    match = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})", ref)
    if not match:
        raise ValueError(ref)
    column = 0
    for letter in match.group(1).upper():
        column = column * 26 + ord(letter) - 64
    row = int(match.group(2))
    if not (1 <= row <= MAX_ROWS and column <= MAX_COLUMNS):
        raise ValueError(ref)
    return row - 1, column - 1


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class CellRange:
    """Rows ``top``..``bottom`` (zero-based, inclusive) of some columns of a sheet."""

    top: int
    bottom: int
    columns: tuple[int, ...]

    @property
    def height(self) -> int:
        return max(0, self.bottom - self.top + 1)


# --- the scan ------------------------------------------------------------------------


def _beyond(bottom: int, right: int) -> re.Pattern[bytes]:
    """A cheap test for cells that may lie beyond ``bottom`` and ``right``: a
    superset, with a literal prefix so that the regex engine skips ahead.
    What it finds is measured exactly by ``_furthest``."""
    letters = column_letter(right)
    options = [f"[A-Z]{{{len(letters) + 1}}}"]
    if len(letters) == 1 and letters != "Z":
        options.append(f"[{chr(ord(letters) + 1)}-Z]")
    elif len(letters) > 1:
        options.append(f"[A-Z]{{{len(letters)}}}")
    digits = len(str(bottom + 1))
    if digits <= 5:
        # Far rows matter while the tables are small; from 100,000 rows on, the
        # grid to the last row of Excel is at most ten times what they hold.
        options.append(f"[A-Z]{{1,3}}[0-9]{{{digits + 1}}}")
    return re.compile(b'<c r="(?:' + "|".join(options).encode() + b")")


def _gate(bottom: int, right: int) -> re.Pattern[bytes]:
    """One literal-prefix search that finds every place where ``_beyond``
    (for the same ``bottom`` and ``right``) or ``_LOOSE_CELL`` would match: a
    ``<c`` not followed by ` r="` and a reference that none of ``_beyond``'s
    options can start (a column of fewer letters than ``right``'s, or of as
    many up to it when it has one, then at most as many digits as
    ``bottom + 1`` where ``_beyond`` looks at rows). A chunk where it finds
    nothing (every chunk of a sheet written as spreadsheet programs write
    it, but for <cols> and the rules after the rows) needs neither test."""
    letters = column_letter(right)
    column = f"[A-{letters}]" if len(letters) == 1 else f"[A-Z]{{1,{len(letters) - 1}}}"
    digits = len(str(bottom + 1))
    row = f"[0-9]{{1,{digits}}}(?![0-9])" if digits <= 5 else "[0-9]"
    return re.compile(b'<c(?! r="' + (column + row).encode() + b")")


_REF = rb"r\s*=\s*[\"']"
_ANY_REF = re.compile(_REF + rb"([A-Z]*)([0-9]+)[\"']")
_LETTERS_REF = re.compile(_REF + rb"([A-Z]+)([0-9]*)")


@dataclass
class SheetScan:
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    #: The furthest row and column referenced, zero-based, where beyond the ranges.
    furthest: tuple[int, int] = (0, 0)
    #: Cells whose position is implicit, or written in a way the count cannot follow.
    irregular: bool = False
    #: Characters of long shared strings that calamine would copy per reference.
    amplified: int = 0

    def dense_cells(self) -> int:
        return (self.furthest[0] + 1) * (self.furthest[1] + 1)


_ERROR_CELL = re.compile(
    rb"<(?:\w+:)?c\b(?=[^>]*\bt\s*=\s*[\"']e[\"'])[^>]*\br\s*=\s*[\"']([A-Z]{1,3})([0-9]+)[\"']"
    rb"[^>]*>(?:(?!</(?:\w+:)?c>).)*?<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>",
    re.DOTALL,
)
_SHARED_CELL = re.compile(rb"\bt\s*=\s*[\"']s[\"'][^>]*>\s*<(?:\w+:)?v>\s*([0-9]+)\s*</", re.DOTALL)
#: Chunks overlap by this much, so that a cell cut at a chunk's end is whole
#: in the next one.
_OVERLAP = 1 << 16


def scan_sheet(
    package: BoundedZip,
    part: str,
    ranges: Sequence[CellRange],
    long_strings: Mapping[int, int],
    copy: Callable[[bytes], None] | None = None,
) -> SheetScan:
    """One streamed pass over a sheet part; see the module's docstring.
    ``copy`` is handed each chunk, in order, before it is looked at.

    Each test is a literal search or a regex with a literal prefix, run over each
    inflated chunk in place (no copies), so a sheet written the way
    spreadsheet programs write it costs little more than its inflate.
    """
    bottom = max((r.bottom for r in ranges), default=0)
    right = max((max(r.columns, default=0) for r in ranges), default=0)
    beyond = _beyond(bottom, right)
    gate = _gate(bottom, right)
    scan = SheetScan(furthest=(bottom, right))
    tail = b""  # the end of the last chunk, for an error cell cut in two
    pending = b""  # the last chunk's unfinished element
    first = True
    # Closed at once, even when a check raises: the inflating thread ends with it.
    with closing(package.chunks_ahead(part)) as chunks:
        for chunk in chunks:
            if copy is not None:
                copy(chunk)
            if first:
                # A DTD can only stand in the prolog, before the root element.
                refuse_dtd(chunk[: chunk.find(b"<worksheet") + 1 or None], part, package.path)
                first = False
            if _ERROR_MARK.search(chunk) or _ERROR_MARK.search(tail[-8:] + chunk[:8]):
                for match in _ERROR_CELL.finditer(tail + chunk):
                    position = cell_index(match.group(1).decode() + match.group(2).decode())
                    scan.errors[position] = match.group(3).decode("utf-8", "replace")
            tail = chunk[-_OVERLAP:]
            # Whole elements only: the piece cut at the last chunk's end is
            # completed and scanned on its own, then this chunk up to its last '<'.
            start = chunk.find(b"<")
            end = chunk.rfind(b"<")
            if start < 0:
                pending += chunk
                continue
            _scan_elements(pending + chunk[:start], 0, None, (gate, beyond), long_strings, scan)
            _scan_elements(chunk, start, end, (gate, beyond), long_strings, scan)
            pending = chunk[end:]
    _scan_elements(pending, 0, None, (gate, beyond), long_strings, scan)
    return scan


def _scan_elements(
    data: bytes,
    start: int,
    end: int | None,
    tests: tuple[re.Pattern[bytes], re.Pattern[bytes]],
    long_strings: Mapping[int, int],
    scan: SheetScan,
) -> None:
    stop = len(data) if end is None else end
    gate, beyond = tests
    # A cell is written <c r="B7" ...>. Any other shape (no reference, spaces
    # or single quotes, a namespace prefix, attributes before r) leaves the
    # sheet to the range reader; other elements that start with <c (cols,
    # cfRule...) are told apart by a closer look at the chunk. Cells far
    # out and cells not written <c r=" are both behind the gate.
    if gate.search(data, start, stop):
        if beyond.search(data, start, stop):
            scan.furthest = _furthest(data[start:stop], scan.furthest)
        if not scan.irregular and _LOOSE_CELL.search(data, start, stop):
            scan.irregular = bool(_IRREGULAR_CELL.search(data, start, stop))
    if not scan.irregular and _PREFIXED.search(data, start, stop):
        scan.irregular = bool(_IRREGULAR_CELL.search(data, start, stop))
    if long_strings and data.find(b't="s"', start, stop) >= 0:
        for match in _SHARED_CELL.finditer(data, start, stop):
            scan.amplified += long_strings.get(int(match.group(1)), 0)


#: Cheap tests (a literal search, which the regex engine runs faster than
#: bytes.find or bytes.count for these short needles) that rule out an
#: irregular cell in a chunk: an element starting <c other than <c r="
#: (a cell written otherwise, or <cols>, <cfRule>...), and a prefix ending
#: in c (<x:c>). Only a chunk that has one gets the closer look.
_LOOSE_CELL = re.compile(rb'<c(?! r=")')
_PREFIXED = re.compile(rb":c")
#: An error cell's type attribute, as spreadsheet programs write it.
_ERROR_MARK = re.compile(rb't="e"')

#: A cell element not written as <c r="...": bare, with whitespace other
#: than one space, with another attribute first, or with a namespace prefix.
_IRREGULAR_CELL = re.compile(rb'<c(?:[>/\t\n\r]| (?!r="))|<c  |:c[\s>/]')


def _furthest(data: bytes, furthest: tuple[int, int]) -> tuple[int, int]:
    row, column = furthest
    for letters, digits in _LETTERS_REF.findall(data):
        if len(letters) > 3 or (digits and int(digits) > MAX_ROWS):
            raise PackageError(
                f"a cell reference {letters.decode()}{digits.decode()[:9]} lies outside "
                "Excel's grid (XFD1048576 is the last cell)"
            )
        index = 0
        for letter in letters:
            index = index * 26 + letter - 64
        column = max(column, index - 1)
        if digits:
            row = max(row, int(digits) - 1)
    for _letters, digits in _ANY_REF.findall(data):
        if int(digits) > MAX_ROWS:
            raise PackageError(
                f"a row reference {digits.decode()[:9]} lies outside Excel's grid "
                f"({MAX_ROWS:,} rows)"
            )
        row = max(row, int(digits) - 1)
    return row, column


def calamine_can_read(scan: SheetScan, ranges: Sequence[CellRange]) -> bool:
    """Whether calamine's dense grid of this sheet costs about what the ranges do."""
    if scan.irregular or scan.amplified > AMPLIFIED_TEXT_BUDGET:
        return False
    wanted = sum(r.height * (max(r.columns, default=0) + 1) for r in ranges)
    return scan.dense_cells() <= max(DENSE_CELLS_FLOOR, 2 * wanted)


# --- shared strings and styles -----------------------------------------------------


def _etree() -> Any:
    # lxml is loaded only when a sheet is read by ranges: xlwings Lite imports
    # this module (through the report) and never reads a package.
    from lxml import etree  # noqa: PLC0415

    return etree


def iterparse(package: BoundedZip, part: str, tags: Sequence[str]) -> Iterator[Any]:
    """lxml's ("start" or "end", element) events for ``tags`` (names in the
    SpreadsheetML namespace: "row", "c", "si") over a part's bounded stream,
    with no DTD, entity or network access; a part that is not well-formed XML
    becomes a ``PackageError`` naming it. The reader keeps what it parsed
    until ``release`` drops it."""
    etree = _etree()
    events = etree.iterparse(
        _ChunkStream(package, part),
        events=("start", "end"),
        tag=[f"{{{MAIN}}}{tag}" for tag in tags],
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
        remove_comments=True,
    )
    try:
        yield from events
    except etree.XMLSyntaxError as error:
        raise PackageError(
            f"{package.path}: the part {part} is not well-formed XML ({error})"
        ) from None


def release(element: Any) -> None:
    """Drop an element that ``iterparse`` finished, and the siblings parsed
    before it: the parsed tree then holds one row (or string) at a time,
    however long the part."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class _ChunkStream:
    """A file-like view of a part's bounded chunks, for lxml's iterparse."""

    def __init__(self, package: BoundedZip, part: str) -> None:
        self._chunks = package.chunks(part)
        self._buffer = b""
        self._part = part
        self._path = package.path

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            refuse_dtd(self._buffer[-16:] + chunk, self._part, self._path)
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def text_of(element: Any) -> str:
    """The text of an ``<si>`` or ``<is>`` element: its runs, without
    phonetic guides, with Excel's ``_xHHHH_`` escapes decoded."""
    direct = element.find(f"{{{MAIN}}}t")
    if direct is not None and len(element) == 1:
        text = str(direct.text or "")
    else:
        text = "".join(
            t.text or ""
            for t in element.iter(f"{{{MAIN}}}t")
            if t.getparent().tag != f"{{{MAIN}}}rPh"
        )
    return xmltext.decode(text) if "_x" in text else text


def shared_strings(package: BoundedZip, part: str | None) -> Iterator[str]:
    """The shared strings of ``part`` (none without one), in order, streamed:
    a caller that caps them stops the reading where its cap is passed."""
    if part is None:
        return
    for event, element in iterparse(package, part, ["si"]):
        if event == "end":
            text = text_of(element)
            release(element)
            yield text


def read_shared_strings(package: BoundedZip, part: str | None) -> list[str]:
    """Every shared string, in order; one Python string each, however often used."""
    return list(shared_strings(package, part))


def long_strings(strings: Sequence[str]) -> dict[int, int]:
    return {i: len(s) for i, s in enumerate(strings) if len(s) > LONG_STRING}


#: Built-in number formats that show a date or a time; 46 is a duration.
_DATE_FORMATS = frozenset({*range(14, 23), 45, 47, *range(27, 37), *range(50, 59)})
_DURATION_FORMATS = frozenset({46})


def _format_kind(code: str) -> str:
    """'date', 'duration' or 'number' for a custom format code, as calamine reads it."""
    kind = "number"
    i = 0
    while i < len(code):
        char = code[i]
        if char == "\\" or char in "_*":
            i += 2
            continue
        if char == '"':
            end = code.find('"', i + 1)
            i = len(code) if end < 0 else end + 1
            continue
        if char == "[":
            end = code.find("]", i + 1)
            inside = code[i + 1 : end if end >= 0 else len(code)].lower()
            if inside and set(inside) <= set("hms"):
                return "duration"
            i = len(code) if end < 0 else end + 1
            continue
        if char in "dmhysDMHYS":
            kind = "date"
        i += 1
    return kind


def read_cell_kinds(data: bytes | None) -> list[str]:
    """Per cell style index: how a number in it reads ('date', 'duration', 'number')."""
    if data is None:
        return []
    etree = _etree()
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    custom = {
        int(f.get("numFmtId", "-1")): _format_kind(f.get("formatCode", ""))
        for f in root.iter(f"{{{MAIN}}}numFmt")
        if (f.get("numFmtId") or "").isdigit()
    }
    kinds = []
    xfs = root.find(f"{{{MAIN}}}cellXfs")
    for xf in xfs if xfs is not None else ():
        raw = xf.get("numFmtId", "0")
        number = int(raw) if raw.isdigit() else 0
        if number in custom:
            kinds.append(custom[number])
        elif number in _DATE_FORMATS:
            kinds.append("date")
        elif number in _DURATION_FORMATS:
            kinds.append("duration")
        else:
            kinds.append("number")
    return kinds


# --- cell values as calamine gives them ---------------------------------------------

#: calamine gives a date-time to the millisecond; the range reader does the same.
_MILLISECONDS_PER_DAY = 86_400_000


def number_as(value: float, kind: str, date1904: bool) -> Any:
    """A number cell's value under its format: what calamine's to_python gives."""
    if kind == "duration":
        # Beyond timedelta's range (about 2.7 million years) the number stays a number.
        return dt.timedelta(days=value) if math.isfinite(value) and abs(value) < 1e9 else value
    if kind != "date" or not math.isfinite(value):
        return value
    if value < 1:
        seconds = round((value % 1) * 86400 * 1000) / 1000
        return (dt.datetime.min + dt.timedelta(seconds=min(seconds, 86399.999))).time()
    if value >= END_OF_DATES - (DAYS_1900_TO_1904 if date1904 else 0):
        return value
    days = math.floor(value)
    moment = dates.from_serial(days, date1904=date1904)
    milliseconds = round((value - days) * _MILLISECONDS_PER_DAY)
    if milliseconds == 0:
        return moment.date()
    return moment + dt.timedelta(milliseconds=milliseconds)


#: The cell types (``t``) whose value the cell holds as text: inline rich
#: text, a formula's text, an error, TRUE/FALSE, an ISO date.
TEXT_TYPES = frozenset({"inlineStr", "str", "e", "b", "d"})


def text_value(kind: str, element: Any, text: str | None) -> Any:
    """The value of a ``<c>`` element of type ``kind``, one of ``TEXT_TYPES``,
    whose ``<v>`` holds ``text``: its text (an error's: #N/A...), a bool, or a
    date or datetime; '' for none."""
    if kind == "inlineStr":
        inline = element.find(f"{{{MAIN}}}is")
        return text_of(inline) if inline is not None else ""
    if kind == "str":
        return xmltext.decode(text) if text and "_x" in text else text or ""
    if kind == "e":
        return text or ""
    if kind == "b":
        return text is not None and text.strip() == "1"
    return iso_date(text) if text else ""


def iso_date(text: str) -> Any:
    """A ``t="d"`` cell's ISO 8601 text as a date (a time of midnight written
    without "T" is a day) or a datetime; text that is no ISO date stays text."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    return moment.date() if moment.time() == dt.time() and "T" not in text else moment


def read_ranges(  # noqa: PLR0912, PLR0915  (one pass, one cell type per branch)
    package: BoundedZip,
    part: str,
    ranges: Sequence[CellRange],
    strings: Sequence[str],
    cell_kinds: Sequence[str],
    date1904: bool,
) -> list[list[list[Any]]]:
    """The cells of each range, as columns of values ('' for an empty cell,
    an error cell's text for an error), reading nothing else into memory."""
    result = [[[""] * r.height for _ in r.columns] for r in ranges]
    # Which (range, column slot) each sheet column feeds.
    by_column: dict[int, list[tuple[int, int, CellRange]]] = {}
    for i, r in enumerate(ranges):
        for j, column in enumerate(r.columns):
            by_column.setdefault(column, []).append((i, j, r))
    top = min((r.top for r in ranges), default=0)
    bottom = max((r.bottom for r in ranges), default=-1)
    row_tag = f"{{{MAIN}}}row"
    v_tag = f"{{{MAIN}}}v"
    row = -1
    column = -1
    for event, element in iterparse(package, part, ["row", "c"]):
        tag = element.tag
        if tag == row_tag:
            if event == "start":
                reference = element.get("r")
                row = int(reference) - 1 if reference and reference.isdigit() else row + 1
                column = -1
            else:
                release(element)
            continue
        if event == "start":
            continue
        reference = element.get("r")
        if reference:
            try:
                row, column = cell_index(reference)
            except ValueError:
                raise PackageError(
                    f"{package.path}: the part {part} has a cell reference "
                    f"{reference[:20]!r} outside Excel's grid"
                ) from None
        else:
            column += 1
        if row > MAX_ROWS - 1 or column > MAX_COLUMNS - 1:
            raise PackageError(
                f"{package.path}: the part {part} has a cell beyond Excel's grid "
                f"(row {row + 1}, column {column + 1})"
            )
        targets = by_column.get(column)
        if targets is None or not top <= row <= bottom:
            element.clear()
            continue
        kind = element.get("t", "n")
        value_element = element.find(v_tag)
        text = value_element.text if value_element is not None else None
        value: Any = ""
        if kind == "s":
            if text is not None:
                try:
                    value = strings[int(text)]
                except (ValueError, IndexError):
                    raise PackageError(
                        f"{package.path}: cell {column_letter(column)}{row + 1} of {part} "
                        f"refers to shared string {text[:12]!r}, which the workbook "
                        f"does not have (it has {len(strings):,})"
                    ) from None
        elif kind in TEXT_TYPES:
            value = text_value(kind, element, text)
        elif text is not None and text.strip():
            try:
                number = float(text)
            except ValueError:
                raise PackageError(
                    f"{package.path}: cell {column_letter(column)}{row + 1} of {part} "
                    f"holds {text[:20]!r} as a number"
                ) from None
            style = element.get("s")
            index = int(style) if style and style.isdigit() else 0
            cell_kind = cell_kinds[index] if index < len(cell_kinds) else "number"
            value = number_as(number, cell_kind, date1904)
        for i, j, r in targets:
            if r.top <= row <= r.bottom:
                result[i][j][row - r.top] = value
        element.clear()
    return result
