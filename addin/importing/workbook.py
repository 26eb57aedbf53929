"""Load an export's rows into a workbook table, changing only what must change.

What changes, and nothing else (every other part is copied as its original
compressed bytes by ``addin.ooxml.rewrite``, as the report's refresh does):

- the table's sheet part: its data rows (``--replace``: all of them;
  ``--append``: the new ones after the last row that holds data), and its
  ``<dimension>`` when it has one;
- the table part (``xl/tables/tableN.xml``): its range, and the range of its
  ``autoFilter`` and ``sortState`` when it has them, so that the structured
  references of the workbook's formulas (``Orders[amount]``) see every row;
- ``xl/styles.xml`` only when the workbook lacks the date formats of the
  starter's data sheets (a starter workbook has them);
- ``xl/workbook.xml`` only when it does not already ask for a full
  recalculation on load (a starter workbook does), so that Excel shows the
  KPIs of the new rows rather than the values it saved;
- ``xl/calcChain.xml`` loses the sheet's entries when ``--replace`` drops
  formula cells.

The package is written to a temporary file and renamed (``addin.ooxml.atomic``),
keeping the file's mode: a failure leaves the workbook as it was.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET

from addin.ooxml.atomic import write_atomically
from addin.ooxml.bounded import PackageError, max_inflated
from addin.ooxml.cells import ExcelError, cell_xml
from addin.ooxml.dates import DAYS_1900_TO_1904
from addin.ooxml.names import MAIN, PKG_REL, TABLE_REL
from addin.ooxml.package import (
    Package,
    detect_language,
    open_package,
    q,
    rels_part,
    resolve,
)
from addin.ooxml.rewrite import CALC_CHAIN, calc_chain_without, write_package
from addin.ooxml.sheets import cell_index, column_letter
from addin.ooxml.stylesheet import StylesheetError, add_cell_formats
from addin.recipes import TABLES
from addin.recipes.notes import (
    FIRST_ROWS,
    Note,
    effect_text,
    message,
    notes_words,
    problem_text,
    row_checks,
)
from addin.recipes.rules import TableRows
from addin.recipes.tables import Column
from addin.report.model import report_sheet_names
from addin.report.offline import SUFFIXES, lock_file
from kpi_engine import display
from kpi_engine.cells import ERROR_VALUES, is_blank

from . import presets as preset_files
from .source import CELL_CHARACTERS, Export, ImportInputError, read_export, rows_past_excel
from .values import DATE_KINDS, check_date_format, decimal_separator, reader

#: How many rows the command names one by one; the notes count them all.
SHOWN_ROWS = 20
MODES = ("replace", "append")
#: The rows of an Excel sheet.
EXCEL_ROWS = 1_048_576
#: How the starter's data sheets show dates (``addin.starter.build.DATE_FORMATS``).
_DATE_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "month": "yyyy-mm"}


@dataclass
class ImportResult:
    """What an import did (or, with ``dry_run``, would do)."""

    table: str
    sheet: str
    language: str
    imported: int
    #: Of the rows imported, those with a cell a data note names.
    noted: int
    kept: int = 0
    blank_rows: int = 0
    #: One line per cell a data note names, the first SHOWN_ROWS.
    lines: list[str] = field(default_factory=list)
    more_lines: int = 0
    #: The data notes' sentences, one per check that found something.
    notes: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    decimal: str = "."
    delimiter: str | None = None
    encoding: str | None = None
    #: The rows written, by column, as the workbook now holds them.
    rows: dict[str, list[Any]] = field(default_factory=dict)
    changed_parts: list[str] = field(default_factory=list)
    #: The workbook has a report sheet (``kpi refresh``), which the import does not update.
    report_sheet: str | None = None

    def summary(self) -> str:
        words = notes_words(self.language)["import"]
        language = self.language
        text = str(words["summary"]).format(
            table=self.table,
            imported=display.counted(language, words["imported"], self.imported),
        )
        if self.noted:
            text += display.counted(language, words["noted"], self.noted)
        if self.kept:
            text += display.counted(language, words["after"], self.kept)
        return text

    def column_lines(self) -> list[str]:
        """The table's columns the export lacks, and the export's columns left out."""
        words = notes_words(self.language)["import"]
        lines = []
        if self.missing_columns:
            lines.append(str(words["missing"]).format(columns=", ".join(self.missing_columns)))
        if self.ignored_columns:
            shown = ", ".join(self.ignored_columns[:12])
            if len(self.ignored_columns) > 12:
                shown += ", ..."
            lines.append(str(words["ignored"]).format(columns=shown))
        return lines


# --- columns ----------------------------------------------------------------------------


def _key(name: str) -> str:
    """A column name as people write it, reduced to what tells columns apart:
    "Order ID", "order-id", "ORDER_ID" and "OrderId" are all "order_id"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", " ".join(name.split()))
    return re.sub(r"[\s_\-./]+", "_", spaced).strip("_").casefold()


#: The matching of a file's column names to a table's, shared with the CSV
#: files of ``kpi report --source`` (``csv_columns``).
column_key = _key


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """``--map their_column=our_column`` options as {their: ours} ('' leaves it out)."""
    found: dict[str, str] = {}
    for position, item in enumerate(items, start=1):
        theirs, sep, ours = item.partition("=")
        if not sep or not theirs.strip():
            raise ImportInputError(
                f"--map number {position} is {item!r}; expected THEIR_COLUMN=OUR_COLUMN "
                "(or THEIR_COLUMN= to leave that column out)"
            )
        found[theirs.strip()] = ours.strip()
    return found


def match_columns(
    header: Sequence[str],
    columns: Sequence[Column],
    table: str,
    mapping: Mapping[str, str],
    ignore_others: bool,
    where: str,
) -> tuple[dict[int, Column], list[str]]:
    """Which column of the table each column of the export goes to, by name
    (as ``_key`` reduces it: spaces, case, "-" and "_" aside) or by
    ``mapping``; and the export's columns left out.

    Every unknown column and every missing one is named in one message, each
    unknown one with the table's nearest column (difflib), and the ``--map``
    options to paste."""
    ours = {_key(c.id): c for c in columns}
    expected = ", ".join(c.id for c in columns)
    keyed = {_key(k): v for k, v in mapping.items()}
    known = {_key(name) for name in header}
    for theirs in mapping:
        if _key(theirs) not in known:
            raise ImportInputError(
                f"--map {theirs}=...: the export has no column {theirs!r}; "
                f"its columns are {', '.join(header)}"
            )
    placed: dict[int, Column] = {}
    ignored: list[str] = []
    taken: dict[str, str] = {}
    unknown: list[tuple[int, str]] = []
    for position, name in enumerate(header):
        target = keyed.get(_key(name))
        if target == "":
            ignored.append(name)
            continue
        if target is None:
            column = ours.get(_key(name))
            if column is None:
                if ignore_others:
                    ignored.append(name)
                else:
                    unknown.append((position, name))
                continue
        else:
            column = ours.get(_key(target))
            if column is None:
                raise ImportInputError(
                    f"--map {name}={target}: the table {table} has no column {target!r}; "
                    f"expected one of {expected}"
                )
        if column.id in taken:
            raise ImportInputError(
                f"{where}: the columns {taken[column.id]!r} and {name!r} both go to "
                f"{table}[{column.id}]; expected one column of the export per column of the "
                f"table (pass --map '{name}=' to leave one out)"
            )
        taken[column.id] = name
        placed[position] = column
    missing = [c.id for c in columns if c.required and c.id not in taken]
    if unknown or missing:
        raise ImportInputError(
            _column_problems(
                where,
                table,
                expected,
                header,
                unknown,
                missing,
                [c.id for c in columns if c.id not in taken],
            )
        )
    return placed, ignored


def _column_problems(
    where: str,
    table: str,
    expected: str,
    header: Sequence[str],
    unknown: Sequence[tuple[int, str]],
    missing: Sequence[str],
    free: Sequence[str],
) -> str:
    """One message for every column problem of a header, with the nearest
    column of the table for each unknown one and the --map options to paste."""
    lines = [f"{where}: the export's columns do not match the table {table} (expected {expected}):"]
    options = []
    suggested: set[str] = set()
    for position, name in unknown:
        near = difflib.get_close_matches(
            _key(name), [c for c in free if c not in suggested], n=1, cutoff=0.6
        )
        line = (
            f"- the column {name!r} (column {position + 1} of the header) is not a column "
            f"of the table {table}"
        )
        if near:
            suggested.add(near[0])
            lines.append(f"{line}; did you mean {near[0]}?")
            options.append(f"--map {shlex.quote(f'{name}={near[0]}')}")
        else:
            lines.append(f"{line}; load it into one with --map, or leave it out")
            options.append(f"--map {shlex.quote(f'{name}=')}")
    if missing:
        lines.append(
            f"- the table {table} needs the column(s) {', '.join(missing)}, which the export "
            f"lacks; its columns are {', '.join(header)}"
        )
    unplaced = [column for column in missing if column not in suggested]
    if options:
        lines.append("To load the export as suggested, add: " + " ".join(options))
    if unplaced:
        lines.append(
            "Name the export's column that holds "
            + ", ".join(unplaced)
            + f" with --map THEIR_COLUMN={unplaced[0]}"
        )
    return "\n".join(lines)


# --- the rows --------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return "'" + text.replace("'", "\u2019") + "'"


@dataclass
class _Checked:
    columns: dict[str, list[Any]]
    #: The rows with a cell a check names.
    noted: set[int]
    lines: list[tuple[int, int, str]]
    notes: list[str]
    #: How many lines there would be if every offending row had its line.
    line_count: int
    rows: TableRows


def check_rows(
    table: str,
    columns: Sequence[Column],
    parsed: dict[str, list[Any]],
    raw: dict[str, list[Any]],
    file_rows: list[int],
    language: str,
    first_serial: float = 0,
) -> _Checked:
    """Judge every row by the data notes' checks of its table. A workbook
    that counts its dates from 1904 holds none before ``first_serial``
    (1904-01-01 as a serial of 1900): such a date is no date there either."""
    rows = TableRows(parsed, first_row=file_rows[0] if file_rows else 2)
    words = notes_words(language)
    order = {c.id: i for i, c in enumerate(columns)}
    noted: set[int] = set()
    lines: list[tuple[int, int, str]] = []
    notes: list[str] = []
    line_count = 0
    for check in row_checks(table, columns):
        found = check.find({table: rows})
        if first_serial and check.problem == "not_a_date":
            early = rows.read(check.column, "date")
            found = sorted(
                {*found, *(i for i, v in enumerate(early) if v is not None and v < first_serial)}
            )
        if not found:
            continue
        line_count += len(found)
        noted.update(found)
        note = Note(check, len(found), tuple(file_rows[i] for i in found[:FIRST_ROWS]), ())
        notes.append(message(note, language))
        effect = effect_text(check, language, 1)  # one line, one row
        problem = problem_text(check, language)
        for i in found[: SHOWN_ROWS + 1]:
            value = raw[check.column][i]
            if check.problem == "blank" or value is None:
                text = words["import"]["row_blank"].format(
                    row=file_rows[i], column=check.column, problem=problem, effect=effect
                )
            else:
                text = words["import"]["row"].format(
                    row=file_rows[i],
                    column=check.column,
                    value=_shown(value),
                    problem=problem,
                    effect=effect,
                )
            lines.append((file_rows[i], order.get(check.column, 0), text))
    return _Checked(parsed, noted, sorted(lines), notes, line_count, rows)


# --- the sheet part -----------------------------------------------------------------

_P = rb"(?:[A-Za-z_][\w.-]*:)?"
_SHEET_DATA = re.compile(rb"<(" + _P + rb")sheetData\b[^>]*?(/?)>")
_R = re.compile(rb'\br="([A-Z]*)(\d+)"')
_CONTENT = re.compile(rb"<" + _P + rb"(?:v|is|f)\b")
_FORMULA = re.compile(rb"<" + _P + rb"f\b")
_DIMENSION = re.compile(rb"(<" + _P + rb'dimension\b[^>]*\bref=")([^"]*)(")')


@dataclass(slots=True)
class _Row:
    number: int
    start: int  # the row's element in the sheet data: body[start:end]
    end: int
    inside: bool  # holds data in the table's columns
    outside: bool  # holds data in other columns
    formulas: bool


def _letters_index(letters: bytes) -> int:
    index = 0
    for char in letters:
        index = index * 26 + char - 64
    return index - 1


_ROW_START = re.compile(rb"<" + _P + rb"row\b([^>]*?)(/?)>")
_ROW_END = re.compile(rb"</" + _P + rb"row>")
_CELL_START = re.compile(rb"<" + _P + rb"c\b([^>]*?)(/?)>")
_CELL_END = re.compile(rb"</" + _P + rb"c>")


def _elements(
    data: bytes, start: re.Pattern[bytes], end: re.Pattern[bytes], where: str, what: str
) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(attributes, content, start, end) of each element that ``start`` and
    ``end`` delimit, in one pass: an element that is not closed before the
    next one opens is refused (a lazy ``(.*?)</row>`` per unclosed tag would
    rescan the rest of the part each time: quadratic)."""
    position = 0
    while True:
        opened = start.search(data, position)
        if opened is None:
            return
        if opened.group(2):  # <row/>
            yield opened.group(1), b"", opened.start(), opened.end()
            position = opened.end()
            continue
        closed = end.search(data, opened.end())
        following = start.search(data, opened.end(), closed.start() if closed else len(data))
        if closed is None or following is not None:
            raise ImportInputError(
                f"{where}: the sheet part has a <{what}> element that is not closed "
                f"(at byte {opened.start():,} of its data); the file is damaged: open and "
                "save it in Excel, then import again"
            )
        yield opened.group(1), data[opened.end() : closed.start()], opened.start(), closed.end()
        position = closed.end()


def _rows(body: bytes, left: int, right: int, where: str = "the workbook") -> Iterator[_Row]:
    previous = 0
    for attributes, content, begin, finish in _elements(body, _ROW_START, _ROW_END, where, "row"):
        found = _R.search(attributes)
        number = int(found.group(2)) if found else previous + 1
        if number <= previous or number > EXCEL_ROWS:
            # Rows come in order within Excel's grid: a million <row/> more
            # would only cost memory, and an out-of-order row breaks the plan.
            raise ImportInputError(
                f"{where}: the sheet part has row {number:,} after row {previous:,}; "
                f"expected rows in order, up to Excel's last row ({EXCEL_ROWS:,})"
            )
        previous = number
        inside = outside = False
        if _CONTENT.search(content):
            column = -1
            for cell_attributes, cell_content, _, _ in _elements(
                content, _CELL_START, _CELL_END, where, "c"
            ):
                ref = _R.search(cell_attributes)
                column = _letters_index(ref.group(1)) if ref and ref.group(1) else column + 1
                if cell_content and _CONTENT.search(cell_content):
                    if left <= column <= right:
                        inside = True
                    else:
                        outside = True
        yield _Row(number, begin, finish, inside, outside, bool(_FORMULA.search(content)))


def _as_cell(value: Any, cell: Any) -> Any:
    """What the export's ``cell``, read as ``value``, becomes in the table: the
    text of an Excel error (``#N/A``) that error, as Excel makes it when the
    text is typed or pasted; a number no cell can hold (``1e999``, read as
    infinity) the text it was; any other value itself."""
    if isinstance(value, float) and not math.isfinite(value):
        value = cell
    if isinstance(value, str) and value in ERROR_VALUES:
        return ExcelError(value)
    return value


def _dates_written(
    serials: Sequence[float | None], cells: Sequence[Any], shift: float
) -> list[Any]:
    """A date column as written: each date as the serial the data rules read
    from it (one conversion, not two), in the workbook's date system; a cell
    that reads as no date as the export had it (text stays text, a date the
    workbook cannot hold becomes its ISO text), for the rules to leave out."""
    found: list[Any] = []
    for serial, cell in zip(serials, cells, strict=True):
        if serial is not None and serial >= shift:
            found.append(serial - shift)
        elif is_blank(cell):
            found.append(None)
        elif isinstance(cell, dt.datetime):
            found.append(cell.isoformat(sep=" "))
        elif isinstance(cell, dt.date):
            found.append(cell.isoformat())
        else:
            found.append(_as_cell(cell, cell))
    return found


class _NewRows:
    """The rows to write, one list of values per row, made as they are written."""

    def __init__(self, columns: Sequence[Sequence[Any]], kept: Sequence[int]) -> None:
        self.columns = columns
        self.kept = kept

    def __len__(self) -> int:
        return len(self.kept)

    def __iter__(self) -> Iterator[list[Any]]:
        columns = self.columns
        for i in self.kept:
            yield [column[i] for column in columns]


@dataclass
class SheetPlan:
    #: The new sheet part, as chunks streamed into the package.
    chunks: Iterator[bytes]
    existing: int
    start: int
    table_bottom: int
    dropped_formulas: bool


def plan_sheet(  # noqa: PLR0912, PLR0915  (one pass over the rows, each case in place)
    sheet: bytes,
    *,
    first_data: int,
    bottom: int,
    left: int,
    right: int,
    new_rows: _NewRows,
    styles: Sequence[int | None],
    mode: str | None,
    date1904: bool,
    where: str,
    table: str,
) -> SheetPlan:
    """The sheet part with the table's new rows (see the module's docstring)."""
    match = _SHEET_DATA.search(sheet)
    if match is None:
        raise ImportInputError(
            f"{where}: the sheet part has no <sheetData>; the file looks damaged"
        )
    prefix = match.group(1).decode()
    if match.group(2):  # <sheetData/>
        head, body, tail = sheet[: match.start()], b"", sheet[match.end() :]
        open_tag = f"<{prefix}sheetData>".encode()
        close_tag = f"</{prefix}sheetData>".encode()
    else:
        close = re.compile(rb"</" + _P + rb"sheetData>").search(sheet, match.end())
        if close is None:
            raise ImportInputError(f"{where}: the sheet part's <sheetData> is not closed")
        head, body, tail = (
            sheet[: match.start()],
            sheet[match.end() : close.start()],
            sheet[close.end() :],
        )
        open_tag, close_tag = match.group(0), close.group(0)
    # At the speed of a byte search: more rows than Excel's is refused before
    # a million row objects are made (a <row/> is 6 bytes).
    if body.count(b"<row") + body.count(b":row") > EXCEL_ROWS:
        raise ImportInputError(
            f"{where}: the sheet part has more rows than Excel's {EXCEL_ROWS:,}; the file is "
            "damaged or not a workbook saved by a spreadsheet program"
        )
    rows = list(_rows(body, left, right, where))
    data = [r for r in rows if first_data <= r.number <= bottom and r.inside]
    existing = len(data)
    if existing and mode is None:
        raise ImportInputError(
            f"{where}: the table {table} already holds {existing:,} row(s) of data; pass "
            "--replace to replace them with the export's rows, or --append to add the "
            "export's rows after them"
        )
    last_existing = max((r.number for r in data), default=first_data - 1)
    keep_until = last_existing if mode == "append" else first_data - 1
    start = keep_until + 1
    new_last = start + len(new_rows) - 1
    table_bottom = max(new_last, first_data)
    if table_bottom > EXCEL_ROWS:
        raise ImportInputError(
            f"{where}: the table {table} would end at row {table_bottom:,}, past Excel's last "
            f"row ({EXCEL_ROWS:,}); import fewer rows (a month, a year) or keep the data "
            "outside the workbook"
        )
    before = [r for r in rows if r.number <= keep_until]
    after: list[_Row] = []
    dropped_formulas = False
    for row in rows:
        if row.number <= keep_until:
            continue
        in_new, in_old = row.number <= table_bottom, row.number <= bottom
        if in_new or in_old:
            # The row is rewritten or dropped: it may hold nothing but the table's cells.
            if row.outside or (row.inside and not in_old):
                raise ImportInputError(
                    f"{where}: row {row.number} holds cells that are not in the table "
                    f"{table} but lie in rows the import rewrites (rows {first_data} to "
                    f"{max(table_bottom, bottom)}); move them away from the table and import again"
                )
            dropped_formulas = dropped_formulas or row.formulas
            continue
        after.append(row)
    letters = [column_letter(i) for i in range(left, right + 1)]
    cells = list(zip(letters, styles, strict=True))

    def new_xml() -> Iterator[bytes]:
        chunk: list[str] = []
        for number, values in zip(range(start, start + len(new_rows)), new_rows, strict=True):
            parts = [f'<row r="{number}">']
            for (letter, style), value in zip(cells, values, strict=True):
                if value is not None:
                    parts.append(cell_xml(f"{letter}{number}", value, style, date1904=date1904))
            parts.append("</row>")
            chunk.append("".join(parts))
            if len(chunk) >= 5000:
                yield "".join(chunk).encode("utf-8")
                chunk.clear()
        if chunk:
            yield "".join(chunk).encode("utf-8")

    last_row = max([table_bottom, *(r.number for r in after)])
    dimension = _DIMENSION.search(head)
    if dimension is not None:
        old = dimension.group(2).decode()
        first_cell, _, last_cell = old.partition(":")
        try:
            (top_, left_) = cell_index(first_cell)
            (_, right_) = cell_index(last_cell or first_cell)
        except ValueError:
            top_, left_, right_ = 0, 0, right
        ref = f"{column_letter(left_)}{top_ + 1}:{column_letter(max(right_, right))}{last_row}"
        head = head[: dimension.start(2)] + ref.encode() + head[dimension.end(2) :]
    view = memoryview(body)
    kept_before = view[before[0].start : before[-1].end] if before else b""
    kept_after = view[after[0].start : after[-1].end] if after else b""

    def chunks() -> Iterator[bytes]:
        # Rows come in order in a sheet, so the rows kept before and after the
        # new ones are each one slice of the original sheet data.
        yield from (head, open_tag, kept_before)
        yield from new_xml()
        yield from (kept_after, close_tag, tail)

    return SheetPlan(chunks(), existing, start, table_bottom, dropped_formulas)


def sheet_part(package: Package, part: str) -> bytes:
    """A sheet part, read whole: it is edited as text, never parsed into a
    tree, so it may be as large as the package's cap allows (a table of a
    million rows is several hundred megabytes of XML)."""
    try:
        if rows_past_excel(package.bounded, part):
            raise ImportInputError(
                f"{package.path}: the sheet part {part} has more rows than Excel's "
                f"{EXCEL_ROWS:,}; the file is damaged or not a workbook saved by a spreadsheet "
                "program"
            )
        return package.bounded.read(part, limit=max_inflated())
    except PackageError as error:
        raise ImportInputError(str(error)) from None


# --- the table part -------------------------------------------------------------------

_TABLE_REF = re.compile(rb"(<" + _P + rb'table\b[^>]*?\bref=")([^"]*)(")', re.S)
_FILTER_REF = re.compile(rb"(<" + _P + rb'autoFilter\b[^>]*?\bref=")([^"]*)(")', re.S)
_SORT_REF = re.compile(rb"(<" + _P + rb'sortState\b[^>]*?\bref=")([^"]*)(")', re.S)


def table_xml(data: bytes, ref: str, data_ref: str) -> bytes:
    """The table part with its range (and its filter's and sort's) set anew."""
    for pattern, value in ((_TABLE_REF, ref), (_FILTER_REF, ref), (_SORT_REF, data_ref)):
        data = pattern.sub(lambda m, v=value: m.group(1) + v.encode() + m.group(3), data, count=1)
    return data


def table_part(package: Package, sheet_part: str, name: str) -> str:
    """The table part of the table ``name`` on a sheet."""
    rels = rels_part(sheet_part)
    for rel in package.xml(rels).iter(q(PKG_REL, "Relationship")):
        if rel.get("Type") != TABLE_REL or rel.get("TargetMode") == "External":
            continue
        part = resolve(sheet_part, rel.get("Target", ""))
        table = package.xml(part)
        if (table.get("displayName") or table.get("name")) == name:
            return part
    raise ImportInputError(f"{package.path}: the table {name} has no part in the package")


_CALC_PR = re.compile(r"<((?:[A-Za-z_][\w.-]*:)?)calcPr\b([^>]*?)(/?)>")
_AFTER_CALC_PR = re.compile(
    r"<(?:[A-Za-z_][\w.-]*:)?(?:oleSize|customWorkbookViews|pivotCaches|smartTagPr|"
    r"smartTagTypes|webPublishing|fileRecoveryPr|webPublishObjects|extLst)\b|"
    r"</(?:[A-Za-z_][\w.-]*:)?workbook>"
)


def with_full_calc_on_load(text: str) -> str | None:
    """The workbook part asking for a full recalculation on load; None if it already does."""
    found = _CALC_PR.search(text)
    if found is not None:
        attributes = found.group(2)
        flag = re.search(r'\bfullCalcOnLoad="([^"]*)"', attributes)
        if flag is not None:
            if flag.group(1) in ("1", "true"):
                return None
            attributes = (
                attributes[: flag.start()] + 'fullCalcOnLoad="1"' + attributes[flag.end() :]
            )
        else:
            attributes += ' fullCalcOnLoad="1"'
        tag = f"<{found.group(1)}calcPr{attributes}{found.group(3)}>"
        return text[: found.start()] + tag + text[found.end() :]
    place = _AFTER_CALC_PR.search(text)
    if place is None:
        return None
    prefix = re.match(r"</?((?:[A-Za-z_][\w.-]*:)?)", text[place.start() :])
    tag = f'<{prefix.group(1) if prefix else ""}calcPr fullCalcOnLoad="1"/>'
    return text[: place.start()] + tag + text[place.start() :]


def plain_formats(styles: str, codes: Sequence[str]) -> dict[tuple[str, str], int]:
    """The cell formats of ``styles`` that show a number format and nothing
    else (default font, no fill, no border), by (format code, "plain")."""
    root = SafeET.fromstring(styles.encode("utf-8"))
    ids = {item.get("formatCode"): item.get("numFmtId") for item in root.iter(q(MAIN, "numFmt"))}
    cell_xfs = root.find(q(MAIN, "cellXfs"))
    found: dict[tuple[str, str], int] = {}
    if cell_xfs is None:
        return found
    xfs = list(cell_xfs.iter(q(MAIN, "xf")))
    for code in codes:
        wanted = ids.get(code)
        for index, xf in enumerate(xfs):
            plain = all(xf.get(k, "0") == "0" for k in ("fontId", "fillId", "borderId"))
            if wanted is not None and xf.get("numFmtId") == wanted and plain and len(xf) == 0:
                found[code, "plain"] = index
                break
    return found


# --- the import ------------------------------------------------------------------------


def _workbook_tables(workbook: Path) -> list[str]:
    """The tables of ``workbook`` that kpi import loads (all it knows where
    the workbook cannot be read: that error comes next, in its own words)."""
    try:
        package = open_package(workbook)
    except Exception:
        return list(TABLES)
    try:
        return [name for name in sorted(package.tables) if name in TABLES] or list(TABLES)
    finally:
        package.close()


def _refuse_target(path: Path, force: bool) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise ImportInputError(
            f"{path} has the extension {path.suffix or '(none)'!r}; expected the .xlsx or "
            ".xlsm workbook to import into (kpi new writes one)"
        )
    lock = lock_file(path)
    if lock is not None and not force:
        raise ImportInputError(
            f"{path} looks open in Excel (its lock file {lock.name} is next to it); close it "
            "in Excel and import again, or pass --force if the lock file is stale"
        )


def import_file(  # noqa: PLR0912, PLR0915  (the command's options, one pass)
    workbook: Path,
    export_path: Path,
    table: str | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    mode: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    decimal: str = "auto",
    date_format: str | None = None,
    preset: str | None = None,
    dry_run: bool = False,
    force: bool = False,
) -> ImportResult:
    """Load the rows of an export into a table of ``workbook``, in place."""
    workbook = Path(workbook)
    if mode is not None and mode not in MODES:
        raise ImportInputError(f"mode is {mode!r}; expected replace or append")
    if date_format is not None:
        check_date_format(date_format)
    chosen = preset_files.load(preset) if preset else None
    if chosen is not None:
        if table is not None and table != chosen.table:
            raise ImportInputError(
                f"--preset {chosen.id} loads the table {chosen.table}, not {table} (--table)"
            )
        table = chosen.table
    if table is None:
        raise ImportInputError(
            "--table is missing; expected the name of the table to load, one of "
            + ", ".join(_workbook_tables(workbook))
        )
    _refuse_target(workbook, force)
    given = parse_map([]) if mapping is None else dict(mapping)
    package = open_package(workbook)
    try:
        if table not in package.tables:
            raise ImportInputError(
                f"{workbook} has no table named {table!r} (--table); its tables are "
                f"{', '.join(sorted(package.tables)) or 'none'}"
            )
        if table not in TABLES:
            raise ImportInputError(
                f"--table {table}: kpi import loads the tables of the starter workbooks "
                f"({', '.join(TABLES)}), whose columns it knows"
            )
        entry = package.tables[table]
        if entry.totals_rows:
            raise ImportInputError(
                f"{workbook}: the table {table} has a totals row; turn it off "
                "(Table Design > Total Row) and import again"
            )
        kinds = {c.id: c for c in TABLES[table]}
        columns = [kinds.get(name, Column(name, "text")) for name in entry.columns]
        language = detect_language(package.language, [s.name for s in package.sheets])
        export = read_export(export_path, sheet=sheet, delimiter=delimiter, encoding=encoding)
        where = str(export.path)
        full_map = {**(chosen.columns if chosen else {}), **given}
        if chosen is not None:
            header_keys = {_key(h) for h in export.header}
            full_map = {k: v for k, v in full_map.items() if _key(k) in header_keys or k in given}
        placed, ignored = match_columns(
            export.header, columns, table, full_map, bool(chosen and chosen.ignore_others), where
        )
        separator = decimal_separator(decimal, export.delimiter, language)
        readers = {c.id: reader(c.kind, separator, date_format) for c in columns}
        parsed: dict[str, list[Any]] = {c.id: [] for c in columns}
        raw: dict[str, list[Any]] = {c.id: [] for c in columns}
        file_rows: list[int] = []
        blank_rows = 0
        positions = list(placed.items())
        # Date-times rarely repeat: remembering them would only cost memory.
        memo: dict[str, dict[Any, Any]] = {c.id: {} for c in columns if c.kind not in DATE_KINDS}
        absent = [c.id for c in columns if c.id not in {col.id for col in placed.values()}]
        for number, row in export.numbered():
            values = []
            for position, column in positions:
                cell = row[position]
                if isinstance(cell, str) and len(cell) > CELL_CHARACTERS:
                    # Excel would cut it when repairing the file: refused, not cut here.
                    raise ImportInputError(
                        f"{where}: row {number}, column {export.header[position]!r} holds "
                        f"{len(cell):,} characters, more than the {CELL_CHARACTERS:,} a cell "
                        "holds; shorten it and import again"
                    )
                # One reading per distinct cell of a column (ids, statuses and
                # amounts repeat): the same value, read once.
                # Keyed by type too: True, 1 and 1.0 are equal keys of a dict.
                seen = memo.get(column.id)
                if seen is None:
                    value = readers[column.id](cell)
                else:
                    key = (cell.__class__, cell)
                    try:
                        value = seen[key]
                    except KeyError:
                        value = seen[key] = readers[column.id](cell)
                values.append((column.id, value, cell))
            if all(value is None for _, value, _ in values):
                blank_rows += 1
                continue
            file_rows.append(number)
            for cid, value, cell in values:
                parsed[cid].append(value)
                raw[cid].append(cell)
            for cid in absent:
                parsed[cid].append(None)
                raw[cid].append(None)
        checked = check_rows(
            table,
            columns,
            parsed,
            raw,
            file_rows,
            language,
            DAYS_1900_TO_1904 if package.date1904 else 0,
        )
        # Every row is written, as a paste would write it: the data rules of
        # the workbook decide what counts, as for rows typed in.
        keep = range(len(file_rows))
        ordered = [c.id for c in columns]
        shift = DAYS_1900_TO_1904 if package.date1904 else 0
        written = [
            _dates_written(checked.rows.read(c.id, c.kind), raw[c.id], shift)
            if c.kind in DATE_KINDS
            else [_as_cell(v, cell) for v, cell in zip(parsed[c.id], raw[c.id], strict=True)]
            for c in columns
        ]
        new_rows = _NewRows(written, keep)

        # The parts that change.
        sheet_entry = next(s for s in package.sheets if s.name == entry.sheet)
        (top, left), (bottom, right) = entry.corners
        first_data = top + 1 + entry.header_rows
        styles_text = (
            package.text("xl/styles.xml") if "xl/styles.xml" in package.zip.namelist() else None
        )
        wanted = [(_DATE_FORMATS[c.kind], "plain") for c in columns if c.kind in DATE_KINDS]
        styles_changed: str | None = None
        found_styles: dict[tuple[str, str], int] = {}
        if wanted:
            if styles_text is None:
                raise ImportInputError(
                    f"{workbook}: the workbook has no styles part (xl/styles.xml)"
                )
            found_styles = plain_formats(styles_text, [code for code, _ in wanted])
            if len(found_styles) < len(set(wanted)):
                try:
                    styles_changed, found_styles = add_cell_formats(styles_text, wanted)
                except StylesheetError as error:
                    raise ImportInputError(f"{workbook}: {error}") from None
        date_styles = [
            found_styles[_DATE_FORMATS[c.kind], "plain"] if c.kind in DATE_KINDS else None
            for c in columns
        ]
        plan = plan_sheet(
            sheet_part(package, sheet_entry.part),
            first_data=first_data,
            bottom=bottom + 1,
            left=left,
            right=right,
            new_rows=new_rows,
            styles=date_styles,
            mode=mode,
            date1904=package.date1904,
            where=f"{workbook}, sheet {entry.sheet!r}",
            table=table,
        )
        changed: dict[str, bytes | Iterator[bytes]] = {sheet_entry.part: plan.chunks}
        part = table_part(package, sheet_entry.part, table)
        first_cell = f"{column_letter(left)}{top + 1}"
        last_column = column_letter(right)
        changed[part] = table_xml(
            package.read(part),
            f"{first_cell}:{last_column}{plan.table_bottom}",
            f"{column_letter(left)}{first_data}:{last_column}{plan.table_bottom}",
        )
        if styles_changed is not None:
            changed["xl/styles.xml"] = styles_changed.encode("utf-8")
        recalculated = with_full_calc_on_load(package.text(package.workbook_part))
        if recalculated is not None:
            changed[package.workbook_part] = recalculated.encode("utf-8")
        chain = calc_chain_without(package, sheet_entry.sheet_id) if plan.dropped_formulas else None
        if chain is not None:
            changed[CALC_CHAIN] = chain
        if not dry_run:
            write_atomically(workbook, lambda handle: write_package(package, changed, [], handle))
    finally:
        package.close()
    shown = [text for _, _, text in checked.lines]
    return ImportResult(
        table=table,
        sheet=entry.sheet,
        language=language,
        imported=len(new_rows),
        noted=len(checked.noted),
        kept=plan.existing if mode == "append" else 0,
        blank_rows=blank_rows,
        lines=shown[:SHOWN_ROWS],
        more_lines=max(0, checked.line_count - min(len(shown), SHOWN_ROWS)),
        notes=checked.notes,
        missing_columns=absent,
        ignored_columns=ignored,
        columns={export.header[p]: c.id for p, c in placed.items()},
        decimal=separator,
        delimiter=export.delimiter_name,
        encoding=export.encoding,
        rows={cid: parsed[cid] for cid in ordered},
        changed_parts=sorted(changed),
        report_sheet=next((s.name for s in package.sheets if s.name in report_sheet_names()), None),
    )


__all__ = ["Export", "ImportResult", "import_file", "parse_map", "read_export"]
