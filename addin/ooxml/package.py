"""Read what a report needs from an .xlsx/.xlsm package, safely and fast.

The package is opened through ``addin.ooxml.bounded`` (member names,
inflated sizes, CRCs and DTDs checked; an encrypted workbook, an OLE
compound file, is refused with that reason). Every XML part is parsed with
defusedxml, which refuses entity expansion and external entities.

The table ranges, the sheet each table lives on and the defined names
(PERIOD, GROSS_MARGIN, TARGET_<ID>) come from the package's own XML, and
are checked against Excel's grid before a cell is read. Cell values come
from python-calamine where a sheet's scan shows its dense grid is cheap,
else from the range reader of ``addin.ooxml.sheets``, which keeps only the
cells of the tables and named cells the report needs.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import threading
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

import kpi_engine
from addin import progress
from addin.ooxml.bounded import THREADS, TREE_PART_LIMIT, BoundedZip, PackageError
from addin.ooxml.dates import DAYS_1900_TO_1904, END_OF_DATES, from_serial_date, uses_1904
from addin.ooxml.halves import FIRST, SECOND, SheetHalves

# Also CT and WORKSHEET_REL: this module has named them for its importers.
from addin.ooxml.names import CT, MAIN, PKG_REL, REL, TABLE_REL, WORKSHEET_REL  # noqa: F401
from addin.ooxml.sheets import (
    CellRange,
    calamine_can_read,
    cell_index,
    column_letter,
    long_strings,
    read_cell_kinds,
    read_ranges,
    read_shared_strings,
    scan_sheet,
)
from addin.recipes import TABLES, Rows, TableRows, recipe_for, tables_for
from kpi_engine.inputs import first_of_month, to_serial
from kpi_engine.texts import templates_dir

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: A sheet inflating to this much or more is parsed by calamine in two
#: halves at once (``addin.ooxml.halves``): below it, the copy costs about
#: what the second core saves.
HALVES_FLOOR = 32 << 20


class ReportError(PackageError):
    """Bad input for a report: the message says what is wrong and what would be right."""


def q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def parse_xml(data: bytes, part: str, path: Path) -> Element:
    try:
        return SafeET.fromstring(data)  # type: ignore[no-any-return]
    except DefusedXmlException as refused:
        raise ReportError(
            f"{path}: the part {part} declares XML entities or a DTD "
            f"({type(refused).__name__}), which a workbook never needs; refusing to read it"
        ) from None
    except (SafeET.ParseError, ValueError) as error:
        raise ReportError(f"{path}: the part {part} is not well-formed XML ({error})") from None


def resolve(base_part: str, target: str) -> str:
    """A relationship target relative to the part that owns the rels."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_part), target))


def rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


@dataclass(frozen=True)
class SheetEntry:
    name: str
    sheet_id: int
    rel_id: str
    part: str


@dataclass(frozen=True)
class TableEntry:
    name: str
    sheet: str
    ref: str
    columns: tuple[str, ...]
    header_rows: int
    totals_rows: int

    @property
    def corners(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(top, left), (bottom, right), zero-based; checked when the table was read."""
        first, last = self.ref.split(":")
        return cell_index(first), cell_index(last)


@dataclass
class Package:
    """An opened, checked workbook package."""

    path: Path
    bounded: BoundedZip
    workbook_part: str
    sheets: list[SheetEntry]
    defined_names: dict[str, str]
    subject: str
    language: str
    tables: dict[str, TableEntry] = field(default_factory=dict)
    #: Dates count from 1904-01-01 (``<workbookPr date1904="1"/>``, old Mac workbooks).
    date1904: bool = False
    #: The workbook's own parts by relationship type ("styles", "sharedStrings"...).
    related: dict[str, str] = field(default_factory=dict)

    @property
    def zip(self) -> zipfile.ZipFile:
        return self.bounded.zip

    def related_part(self, kind: str, default: str) -> str | None:
        """The part the workbook relates to as ``kind`` ("styles",
        "sharedStrings"...), else ``default`` (where Excel puts it) if the
        package has it; None when there is neither."""
        found = self.related.get(kind)
        if found is None and default in self.bounded.names():
            found = default
        return found

    def read(self, part: str) -> bytes:
        with _as_report_error():
            return self.bounded.read(part)

    def text(self, part: str) -> str:
        """A part edited as text by the refresh: UTF-8, as every spreadsheet program writes."""
        try:
            return self.read(part).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ReportError(
                f"{self.path}: the part {part} is not UTF-8 ({error.reason} at byte "
                f"{error.start}); open and save the workbook in Excel, then refresh"
            ) from None

    def xml(self, part: str) -> Element:
        return parse_xml(self.read(part), part, self.path)

    def close(self) -> None:
        self.bounded.close()


@contextmanager
def _as_report_error() -> Iterator[None]:
    try:
        yield
    except PackageError as error:
        if isinstance(error, ReportError):
            raise
        raise ReportError(str(error)) from None


def _refuse_non_workbook(path: Path) -> None:
    if not path.is_file():
        raise ReportError(f"{path} does not exist or is not a file; expected an .xlsx or .xlsm")
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    if head.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in head:
            raise ReportError(
                f"{path} is encrypted (protected with a password to open); "
                "save an unprotected copy in Excel (File > Info > Protect Workbook) "
                "and refresh that"
            )
        raise ReportError(
            f"{path} is an OLE compound file (a legacy .xls or an encrypted workbook), "
            "not an .xlsx or .xlsm package; save it as an Excel workbook (.xlsx) first"
        )
    if not zipfile.is_zipfile(path):
        raise ReportError(
            f"{path} is not an Excel workbook: an .xlsx or .xlsm file is a zip package, "
            "and this file is not one"
        )


def open_package(path: Path, max_bytes: int | None = None) -> Package:
    """Open and check a workbook package; raise ReportError saying what is wrong."""
    path = Path(path)
    _refuse_non_workbook(path)
    with _as_report_error():
        bounded = BoundedZip(path, max_bytes)
    try:
        names = bounded.names()
        workbook_part = _workbook_part(bounded, names, path)
        package = Package(path, bounded, workbook_part, [], {}, "", "")
        _read_workbook(package, names)
        _read_core(package, names)
        _read_tables(package, names)
        return package
    except BaseException:
        bounded.close()
        raise


def _workbook_part(bounded: BoundedZip, names: AbstractSet[str], path: Path) -> str:
    if "_rels/.rels" in names:
        with _as_report_error():
            data = bounded.read("_rels/.rels")
        root = parse_xml(data, "_rels/.rels", path)
        for rel in root.iter(q(PKG_REL, "Relationship")):
            if rel.get("Type", "").endswith("/officeDocument"):
                part = resolve("", rel.get("Target", ""))
                if part in names:
                    return part
    if "xl/workbook.xml" in names:
        return "xl/workbook.xml"
    shown = ", ".join(sorted(names)[:8])
    raise ReportError(
        f"{path} is a zip file but not an Excel workbook: it has no xl/workbook.xml "
        f"(it holds {shown}{', ...' if len(names) > 8 else ''})"
    )


def _read_workbook(package: Package, names: AbstractSet[str]) -> None:
    part = package.workbook_part
    root = package.xml(part)
    protection = root.find(q(MAIN, "workbookProtection"))
    if protection is not None and protection.get("lockStructure") in ("1", "true"):
        raise ReportError(
            f"{package.path}: the workbook's structure is protected, so no report sheet "
            "can be added or replaced; unprotect it in Excel (Review > Protect Workbook) first"
        )
    rels: dict[str, str] = {}
    rels_name = rels_part(part)
    if rels_name in names:
        for rel in package.xml(rels_name).iter(q(PKG_REL, "Relationship")):
            target = resolve(part, rel.get("Target", ""))
            rels[rel.get("Id", "")] = target
            kind = rel.get("Type", "").rsplit("/", 1)[-1]
            if target in names:
                package.related.setdefault(kind, target)
    package.date1904 = uses_1904(root)
    seen: set[str] = set()
    for sheet in root.iter(q(MAIN, "sheet")):
        rel_id = sheet.get(q(REL, "id"), "")
        name = sheet.get("name", "")
        raw_id = sheet.get("sheetId", "")
        if not raw_id.isdigit() or not 1 <= int(raw_id) < 1 << 31:
            raise ReportError(
                f"{package.path}: the sheet {name[:40]!r} has the sheetId {raw_id[:20]!r} in "
                f"{part}; expected a whole number from 1 up (the file is damaged: open and "
                "save it in Excel to repair it)"
            )
        if name.lower() in seen:
            raise ReportError(
                f"{package.path}: two sheets are named {name[:40]!r} in {part}; "
                "a workbook names each sheet once"
            )
        seen.add(name.lower())
        package.sheets.append(SheetEntry(name, int(raw_id), rel_id, rels.get(rel_id, "")))
    for defined in root.iter(q(MAIN, "definedName")):
        name = defined.get("name", "")
        if defined.get("localSheetId") is None and name not in package.defined_names:
            package.defined_names[name] = (defined.text or "").strip()


def _read_core(package: Package, names: AbstractSet[str]) -> None:
    if "docProps/core.xml" not in names:
        return
    root = package.xml("docProps/core.xml")
    dc = "http://purl.org/dc/elements/1.1/"
    package.subject = (root.findtext(q(dc, "subject")) or "").strip()
    package.language = (root.findtext(q(dc, "language")) or "").strip()


def _read_tables(package: Package, names: AbstractSet[str]) -> None:
    for sheet in package.sheets:
        rels_name = rels_part(sheet.part)
        if not sheet.part or rels_name not in names:
            continue
        for rel in package.xml(rels_name).iter(q(PKG_REL, "Relationship")):
            if rel.get("Type") != TABLE_REL or rel.get("TargetMode") == "External":
                continue
            table_part = resolve(sheet.part, rel.get("Target", ""))
            if table_part not in names:
                continue
            entry = _table_entry(package, table_part, sheet.name)
            if entry.name in package.tables:
                raise ReportError(
                    f"{package.path}: two tables are named {entry.name[:40]!r} "
                    f"(on the sheets {package.tables[entry.name].sheet!r} and {sheet.name!r}); "
                    "a workbook names each table once"
                )
            package.tables[entry.name] = entry


def _table_entry(package: Package, part: str, sheet: str) -> TableEntry:
    """A table part, checked as Excel would: a range inside the grid, as many
    columns as the range is wide, and a header and totals row of 0 or 1."""
    table = package.xml(part)
    columns = tuple(column.get("name", "") for column in table.iter(q(MAIN, "tableColumn")))
    name = table.get("displayName") or table.get("name") or ""
    where = f"{package.path}: the table {name[:40]!r} ({part})"
    ref = table.get("ref", "")
    try:
        first, last = ref.split(":")
        (top, left), (bottom, right) = cell_index(first), cell_index(last)
    except ValueError:
        raise ReportError(
            f"{where} has the range {ref[:40]!r}; expected a range such as A1:F200 "
            "inside Excel's grid (A1 to XFD1048576)"
        ) from None
    counts = {}
    for attribute, default in (("headerRowCount", "1"), ("totalsRowCount", "0")):
        raw = table.get(attribute, default).strip()
        if raw not in ("0", "1"):
            raise ReportError(
                f"{where} has {attribute}={raw[:20]!r}; expected 0 or 1 (a table has at most "
                "one header row and one totals row)"
            )
        counts[attribute] = int(raw)
    if top > bottom or left > right:
        raise ReportError(f"{where} has the range {ref!r}, whose corners are the wrong way round")
    if right - left + 1 != len(columns):
        raise ReportError(
            f"{where} spans {right - left + 1} column(s) ({ref}) but names {len(columns)}; "
            "expected one tableColumn per column of the range"
        )
    if bottom - top + 1 < counts["headerRowCount"] + counts["totalsRowCount"]:
        raise ReportError(f"{where} has the range {ref!r}, too short for its header and totals")
    return TableEntry(name, sheet, ref, columns, counts["headerRowCount"], counts["totalsRowCount"])


# --- what the report needs --------------------------------------------------------


@dataclass(frozen=True)
class WorkbookData:
    business_type: str
    language: str
    period: dt.date
    rows: Rows
    targets: Mapping[str, float | None]
    currency: str | None = None  # the CURRENCY cell's ISO code, where it holds one


def _sheet_words() -> dict[str, set[str]]:
    with templates_dir().joinpath("workbook.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return {
        language: set(data[language]["sheets"].values()) | set(data["tables"][language].values())
        for language in kpi_engine.LANGUAGES
    }


def detect_language(declared: str, sheet_names: Sequence[str]) -> str:
    """The document's language property, else the language of its sheet names, else en."""
    code = declared.split("-", maxsplit=1)[0].split("_", maxsplit=1)[0].lower()
    if code in kpi_engine.LANGUAGES:
        return code
    names = set(sheet_names)
    scores = {language: len(names & words) for language, words in _sheet_words().items()}
    best = max(scores, key=lambda language: scores[language])
    # English sheet names are shared by other languages (Orders, KPI): prefer en on ties.
    return best if scores[best] > scores["en"] else "en"


def detect_business_type(declared: str, names: Sequence[str], tables: Sequence[str]) -> str:
    """The document's subject, else the type whose TARGET_/KPI_ names or tables are present."""
    if declared in kpi_engine.BUSINESS_TYPES:
        return declared
    upper = {name.upper() for name in names}
    for profile in kpi_engine.BUSINESS_TYPES.values():
        if all(
            f"TARGET_{e.id.upper()}" in upper or f"KPI_{e.id.upper()}" in upper
            for e in profile.kpis
        ):
            return profile.id
    candidates = [
        profile.id
        for profile in kpi_engine.BUSINESS_TYPES.values()
        if set(tables_for(profile.id)) <= set(tables)
    ]
    if len(candidates) == 1:
        return candidates[0]
    known = ", ".join(kpi_engine.BUSINESS_TYPES)
    raise ReportError(
        f"cannot tell the workbook's business type: its subject property is {declared!r} and "
        f"its tables ({', '.join(sorted(tables)) or 'none'}) fit "
        f"{', '.join(candidates) or 'no type'}; set the document's subject "
        f"(File > Info > Properties) to one of {known}"
    )


def check_tables(business_type: str, found: Mapping[str, Sequence[str]], where: str) -> None:
    """Every table and column the type's KPIs read is present, else say which are not."""
    wanted = tables_for(business_type)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ReportError(
            f"{where}: the {business_type} report needs the table(s) {', '.join(missing)}, "
            f"which the workbook lacks; tables found: {', '.join(sorted(found)) or 'none'}. "
            "Each must be an Excel table (Insert > Table) with exactly that name"
        )
    for name, columns in wanted.items():
        absent = [c.id for c in columns if c.id not in found[name]]
        if absent:
            raise ReportError(
                f"{where}: table {name} lacks the column(s) {', '.join(absent)}; "
                f"its columns are {', '.join(found[name]) or 'none'}; "
                f"expected {', '.join(c.id for c in columns)}"
            )


def check_period_has_data(business_type: str, rows: Rows, period: dt.date, where: str) -> None:
    """Some row of a table the KPIs read is dated in the period's month."""
    start = to_serial("report", "month", period)
    end = to_serial("report", "month", first_of_month(period, 1))
    earliest: float | None = None
    latest: float | None = None
    for name, columns in tables_for(business_type).items():
        for column in columns:
            if column.kind not in ("date", "datetime", "month"):
                continue
            for serial in rows[name].read(column.id, column.kind):
                if serial is None:
                    continue
                if start <= serial < end:
                    return
                earliest = serial if earliest is None else min(earliest, serial)
                latest = serial if latest is None else max(latest, serial)
    span = (
        "the tables hold no dates at all"
        if earliest is None or latest is None
        else "the data runs from "
        f"{_serial_date(earliest):%Y-%m-%d} to {_serial_date(latest):%Y-%m-%d}"
    )
    raise ReportError(
        f"{where}: no data for the period {period:%Y-%m}: {span}; "
        "choose a month with data (--period YYYY-MM, or the PERIOD cell in the settings)"
    )


def _serial_date(serial: float) -> dt.date:
    return from_serial_date(serial)


#: The months a report can be made for: its trend and twelve-month windows
#: reach two years back, and the month after the period must still be a date
#: Excel holds (9999-12-31 is its last).
FIRST_PERIOD = dt.date(1902, 1, 1)
LAST_PERIOD = dt.date(9999, 11, 1)


def period_from(value: Any, where: str, date1904: bool = False) -> dt.date:
    """A reporting month from a cell or an option, checked against what a report can cover."""
    month: dt.date | None = None
    if isinstance(value, dt.datetime):
        month = value.date().replace(day=1)
    elif isinstance(value, dt.date):
        month = value.replace(day=1)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        serial = float(value) + (DAYS_1900_TO_1904 if date1904 else 0)
        if 1 <= serial < END_OF_DATES:
            month = _serial_date(serial).replace(day=1)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})(?:-\d{1,2})?\s*", value)
        if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1:
            month = dt.date(int(match.group(1)), int(match.group(2)), 1)
    shown = (
        value.isoformat()
        if isinstance(value, dt.date)
        else repr(value[:40] if isinstance(value, str) else value)
    )
    if month is None:
        raise ReportError(f"{where} is {shown}; expected a month as YYYY-MM or a date")
    if not FIRST_PERIOD <= month <= LAST_PERIOD:
        raise ReportError(
            f"{where} is {shown}; expected a month from {FIRST_PERIOD:%Y-%m} to "
            f"{LAST_PERIOD:%Y-%m} (a report reaches two years back and one month ahead, "
            "within the dates Excel holds)"
        )
    return month


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def split_reference(reference: str) -> tuple[str, str] | None:
    """ "'Settings'!$B$3" -> ("Settings", "B3"); None for ranges and formulas."""
    match = re.fullmatch(r"(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)", reference)
    if not match:
        return None
    sheet = (match.group(1) or "").replace("''", "'") or match.group(2)
    return sheet, f"{match.group(3)}{match.group(4)}"


def _columns_from_grid(
    grid: list[list[Any]], wanted: CellRange, errors: Mapping[tuple[int, int], str]
) -> list[list[Any]]:
    """A range's columns out of calamine's dense rows, with the error cells put
    back (calamine reads ``#N/A`` as a blank)."""
    return _columns_from_grids([((0, 0), grid)], wanted, errors)


def _columns_from_grids(
    pieces: Sequence[tuple[tuple[int, int], list[list[Any]]]],
    wanted: CellRange,
    errors: Mapping[tuple[int, int], str],
) -> list[list[Any]]:
    """``_columns_from_grid`` over dense grids that each start at a cell
    (row, column), one below the other (the halves of a sheet)."""
    bodies = []  # (first row's offset in the range, first column, rows)
    for (top, left), grid in pieces:
        first = max(wanted.top, top)
        if first > wanted.bottom:
            break  # this piece, and those below it, start under the range
        body = grid[first - top : wanted.bottom - top + 1]
        if body:
            bodies.append((first - wanted.top, left, body))
    columns = []
    for index in wanted.columns:
        cells: list[Any] = []
        for offset, left, body in bodies:
            cells.extend([""] * (offset - len(cells)))
            # calamine's rows are rectangular: one C-speed pass per wanted column.
            if not cells and 0 <= index - left < len(body[0]):
                cells = list(map(itemgetter(index - left), body))
            elif 0 <= index - left < len(body[0]):
                cells.extend(map(itemgetter(index - left), body))
            else:
                cells.extend([""] * len(body))
        cells.extend([""] * (wanted.height - len(cells)))
        columns.append(cells)
    for (row, col), error in errors.items():
        if wanted.top <= row <= wanted.bottom and col in wanted.columns:
            columns[wanted.columns.index(col)][row - wanted.top] = error
    return columns


def _decoded(value: Any) -> Any:
    """A cell's value as the report reads it: '' is no value. (Both readers
    have already decoded the ``_xHHHH_`` with which Excel stores control
    characters.)"""
    return None if value == "" else value


class _Reading(NamedTuple):
    """A sheet scanned: how its values are read (``finish``), and whether by calamine."""

    finish: Callable[[], list[list[list[Any]]]]
    by_calamine: bool


class _CellSource:
    """The cells the report needs, sheet by sheet, each read the cheapest safe way."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.parts = {sheet.name: sheet.part for sheet in package.sheets}
        self._book: Any = None
        self._strings: list[str] | None = None
        self._kinds: list[str] | None = None
        self._verified = False

    def twin(self) -> _CellSource:
        """A source for another thread: what this one has read is shared
        (strings, styles, the parts found sound), but not calamine's
        workbook, which reads one sheet at a time."""
        twin = _CellSource(self.package)
        twin._strings, twin._kinds, twin._verified = self._strings, self._kinds, self._verified
        if "long_text" in self.__dict__:
            twin.__dict__["long_text"] = self.long_text
        return twin

    def strings(self) -> list[str]:
        if self._strings is None:
            with _as_report_error():
                part = self.package.related_part("sharedStrings", "xl/sharedStrings.xml")
                self._strings = read_shared_strings(self.package.bounded, part)
        return self._strings

    def kinds(self) -> list[str]:
        if self._kinds is None:
            part = self.package.related_part("styles", "xl/styles.xml")
            data = self.package.read(part) if part else None
            try:
                self._kinds = read_cell_kinds(data)
            except (SyntaxError, ValueError) as error:
                raise ReportError(
                    f"{self.package.path}: the part {part} is not well-formed XML ({error})"
                ) from None
        return self._kinds

    def verify(self) -> None:
        """Check (once) the parts calamine reads besides the sheets: their sizes,
        CRCs and the absence of a DTD."""
        if self._verified:
            return
        with _as_report_error():
            for part in (
                "_rels/.rels",
                self.package.workbook_part,
                rels_part(self.package.workbook_part),
                self.package.related_part("styles", "xl/styles.xml"),
                self.package.related_part("sharedStrings", "xl/sharedStrings.xml"),
            ):
                if part and part in self.package.bounded.names():
                    self.package.bounded.verify(part)
        self._verified = True

    def book(self) -> Any:
        """calamine's workbook, opened once the parts it reads are known to be sound."""
        if self._book is None:
            from python_calamine import CalamineWorkbook  # noqa: PLC0415  (compiled, late)

            self.verify()
            try:
                self._book = CalamineWorkbook.from_path(str(self.package.path))
            except Exception as error:  # calamine raises its own error types
                raise ReportError(
                    f"{self.package.path}: the cells cannot be read ({error})"
                ) from None
        return self._book

    def read(self, sheet: str, ranges: Sequence[CellRange]) -> list[list[list[Any]]]:
        """Each range's columns of raw values ('' for an empty cell)."""
        return self.start(sheet, ranges).finish()

    def start(self, sheet: str, ranges: Sequence[CellRange], halves: bool = False) -> _Reading:
        """Scan the sheet and decide how it is read: ``read``, in two steps.
        The function returned reads it (calamine's parse, which lets go of
        Python's lock, then its values), or gives what the range reader read.
        ``halves``: the scanned bytes are kept for calamine to parse in two
        halves at once (``addin.ooxml.halves``), where they can be."""
        part = self.parts.get(sheet, "")
        if not part or part not in self.package.bounded.names():
            raise ReportError(
                f"{self.package.path}: the sheet {sheet!r} has no part in the package; "
                "the file looks damaged: open and save it in Excel, then refresh"
            )

        def by_ranges() -> list[list[list[Any]]]:
            with _as_report_error():
                return read_ranges(
                    self.package.bounded,
                    part,
                    ranges,
                    self.strings(),
                    self.kinds(),
                    self.package.date1904,
                )

        copy = self._halves(part) if halves else None
        try:
            with _as_report_error():
                scan = scan_sheet(
                    self.package.bounded,
                    part,
                    ranges,
                    self.long_text,
                    copy=copy.write if copy is not None else None,
                )
            if copy is not None:
                copy.finish()
            if not calamine_can_read(scan, ranges):
                read = by_ranges()
                return _Reading(lambda: read, by_calamine=False)
        except BaseException:
            if copy is not None:
                copy.remove()
            raise
        if copy is not None and not copy.usable:
            copy.remove()
            copy = None
        if copy is not None:
            halves_copy = copy

            def by_halves() -> list[list[list[Any]]]:
                try:
                    pieces = _parse_halves(halves_copy)
                except Exception:  # calamine's own error types, as below
                    return by_ranges()
                finally:
                    halves_copy.remove()
                if pieces is None:
                    return by_ranges()
                return [_columns_from_grids(pieces, wanted, scan.errors) for wanted in ranges]

            return _Reading(by_halves, by_calamine=True)

        def by_calamine() -> list[list[list[Any]]]:
            book = self.book()
            try:
                grid = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            except Exception:  # calamine's own error types, and its OverflowError
                # calamine refuses some cells the range reader takes (a duration
                # beyond timedelta's range): the sheet is read by ranges instead.
                return by_ranges()
            return [_columns_from_grid(grid, wanted, scan.errors) for wanted in ranges]

        return _Reading(by_calamine, by_calamine=True)

    def _halves(self, part: str) -> SheetHalves | None:
        """A copy for ``part``'s halves, with the styles and shared strings
        calamine reads with them, unless the sheet is too small to be worth it."""
        if self.package.bounded.size(part) < HALVES_FLOOR:
            return None
        parts = {}
        for kind, default in (
            ("styles", "xl/styles.xml"),
            ("sharedStrings", "xl/sharedStrings.xml"),
        ):
            found = self.package.related_part(kind, default)
            if found is not None:
                if self.package.bounded.size(found) > TREE_PART_LIMIT:
                    return None
                parts[kind] = self.package.read(found)
        try:
            return SheetHalves(self.package.bounded.size(part), parts, self.package.date1904)
        except OSError:  # no file in memory (not Linux): the sheet is read whole
            return None

    @cached_property
    def long_text(self) -> dict[int, int]:
        """The long shared strings and their lengths, found once for all sheets."""
        if self.package.related_part("sharedStrings", "xl/sharedStrings.xml") is None:
            return {}
        return long_strings(self.strings())


def _parse_halves(
    copy: SheetHalves,
) -> list[tuple[tuple[int, int], list[list[Any]]]] | None:
    """The two halves of a sheet parsed by calamine at once, one on a second
    thread, as dense grids with the cell each starts at; None where the
    second half starts above the end of the first (rows written out of
    order: calamine's grid of the whole sheet would interleave them)."""
    from python_calamine import CalamineWorkbook  # noqa: PLC0415  (compiled, late)

    sheets: list[Any] = [None, None]
    try:
        books = [CalamineWorkbook.from_path(str(copy.path)) for _ in (FIRST, SECOND)]
        try:
            failed: list[BaseException] = []

            def parse(index: int) -> None:
                try:
                    sheets[index] = books[index].get_sheet_by_name((FIRST, SECOND)[index])
                except BaseException as error:  # raised again on the caller's thread
                    failed.append(error)

            there = threading.Thread(target=parse, args=(1,), name="kpi-half", daemon=True)
            there.start()
            try:
                parse(0)
                # The first half is the smaller: its values are made while
                # the second is still parsed.
                first = sheets[0].to_python(skip_empty_area=False) if sheets[0] else []
                sheets[0] = None  # calamine's cells of the first half go now
            finally:
                there.join()
            if failed:
                raise failed[0]
        finally:
            for book in books:
                book.close()  # before the file is removed (Windows keeps open files)
    finally:
        copy.remove()  # parsed: the copy's memory goes before the values are made
    second, sheets[1] = sheets[1], None
    start = second.start
    if start is None:
        return [((0, 0), first)]
    if start[0] < len(first):
        return None
    return [((0, 0), first), ((start[0], start[1]), second.to_python(skip_empty_area=True))]


def _read_sheets(
    package: Package, by_sheet: Mapping[str, Sequence[tuple[str, CellRange]]]
) -> dict[str, list[list[list[Any]]]]:
    """Each sheet's ranges read, the largest sheet on this thread and the
    others on a second one, scanned and read while the largest is scanned
    and parsed (one after the other where there are no threads). An error
    of the largest sheet is raised first."""
    cells = _CellSource(package)
    sizes = {
        sheet.name: package.bounded.size(sheet.part)
        for sheet in package.sheets
        if sheet.part in package.bounded.names()
    }
    order = sorted(by_sheet, key=lambda sheet: -sizes.get(sheet, 0))
    if not order:
        return {}

    def ranges(sheet: str) -> list[CellRange]:
        return [cell_range for _, cell_range in by_sheet[sheet]]

    largest, others = order[0], order[1:]
    if not THREADS or not others:
        read = {largest: cells.start(largest, ranges(largest), halves=THREADS).finish()}
        read.update((sheet, cells.read(sheet, ranges(sheet))) for sheet in others)
        return read
    _ = cells.long_text  # the shared strings, read once for both threads
    twin = cells.twin()
    read_there: dict[str, list[list[list[Any]]]] = {}
    failed: list[BaseException] = []

    def read_others() -> None:
        try:
            for sheet in others:
                read_there[sheet] = twin.read(sheet, ranges(sheet))
        except BaseException as error:  # raised again on the caller's thread
            failed.append(error)

    # The other sheets are read while the largest is scanned, when the second
    # core has room (calamine then parses the largest on both).
    there = threading.Thread(target=read_others, name="kpi-sheets", daemon=True)
    there.start()
    try:
        read = {largest: cells.start(largest, ranges(largest), halves=True).finish()}
    finally:
        there.join()
    if failed:
        raise failed[0]
    read.update(read_there)
    return read


def _table_range(table: TableEntry, columns: Sequence[Any]) -> CellRange:
    (top, left), (bottom, _right) = table.corners
    return CellRange(
        top + table.header_rows,
        bottom - table.totals_rows,
        tuple(left + table.columns.index(c.id) for c in columns),
    )


class InputSource(Protocol):
    """Where a report's inputs come from: a package file (``PackageInputs``) or
    a workbook open in Excel (``addin.report.excel.BookInputs``). ``read_inputs``
    holds what both share, so the two paths cannot drift apart."""

    where: str
    subject: str
    language: str
    date1904: bool

    def names(self) -> list[str]: ...
    def sheet_names(self) -> list[str]: ...
    def tables(self) -> Mapping[str, Sequence[str]]: ...
    def load(self, tables: Mapping[str, Sequence[Any]], names: Sequence[str]) -> None: ...
    def table_rows(self, name: str, columns: Sequence[Any]) -> TableRows: ...
    def named(self, name: str) -> Any: ...


def read_inputs(
    source: InputSource, period: dt.date | None = None, *, check_data: bool = True
) -> WorkbookData:
    """Business type, language, period, table rows and targets, from any source
    (``check_data=False``: the tables' rows are not the data, ``--source`` is)."""
    where = source.where
    business_type = detect_business_type(source.subject, source.names(), list(source.tables()))
    language = detect_language(source.language, source.sheet_names())
    check_tables(business_type, source.tables(), where)
    profile = kpi_engine.get_business_type(business_type)
    wanted = tables_for(business_type)
    named = [
        "PERIOD",
        "GROSS_MARGIN",
        "CURRENCY",
        *(f"TARGET_{e.id.upper()}" for e in profile.kpis),
    ]
    if not check_data:
        wanted = {}  # the tables come from elsewhere: read only the settings
    progress.stage("reading the tables")
    source.load(wanted, named)
    if period is None:
        value = source.named("PERIOD")
        if value is None:
            raise ReportError(
                f"{where}: no reporting period: the workbook has no named cell PERIOD "
                "(or it is empty); pass --period YYYY-MM"
            )
        period = period_from(value, f"{where}: the named cell PERIOD", source.date1904)
    progress.stage("checking the rows")
    rows = {name: source.table_rows(name, columns) for name, columns in wanted.items()}
    margin = _number(source.named("GROSS_MARGIN"))
    if margin is not None:
        rows["Settings"] = TableRows({"GROSS_MARGIN": [margin]})
    targets = {
        entry.id: _number(source.named(f"TARGET_{entry.id.upper()}")) for entry in profile.kpis
    }
    if check_data:
        check_period_has_data(business_type, rows, period, where)
    return WorkbookData(
        business_type, language, period, rows, targets, currency_from(source.named("CURRENCY"))
    )


def currency_from(value: Any) -> str | None:
    """The ISO code of a CURRENCY cell ("EUR"), or None where it holds none
    babel knows: the report then uses the business type's currency."""
    from babel.numbers import list_currencies  # noqa: PLC0415

    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if code in list_currencies() else None


class PackageInputs:
    """A package's inputs: each sheet the report needs read once, the cheapest safe way."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.where = str(package.path)
        self.subject = package.subject
        self.language = package.language
        self.date1904 = package.date1904
        self._values: dict[str, list[list[Any]]] = {}

    def names(self) -> list[str]:
        return list(self.package.defined_names)

    def sheet_names(self) -> list[str]:
        return [sheet.name for sheet in self.package.sheets]

    def tables(self) -> dict[str, Sequence[str]]:
        return {name: table.columns for name, table in self.package.tables.items()}

    def load(self, tables: Mapping[str, Sequence[Any]], names: Sequence[str]) -> None:
        # Every cell the report reads, by sheet: the tables' columns and the named cells.
        by_sheet: dict[str, list[tuple[str, CellRange]]] = {}
        for name, columns in tables.items():
            table = self.package.tables[name]
            by_sheet.setdefault(table.sheet, []).append((name, _table_range(table, columns)))
        sheet_names = self.sheet_names()
        for name in names:
            found = split_reference(self.package.defined_names.get(name, ""))
            if found is not None and found[0] in sheet_names:
                try:
                    row, column = cell_index(found[1])
                except ValueError:
                    continue  # a name beyond the grid holds no value
                by_sheet.setdefault(found[0], []).append((name, CellRange(row, row, (column,))))
        for sheet, read in _read_sheets(self.package, by_sheet).items():
            for (key, _), columns in zip(by_sheet[sheet], read, strict=True):
                self._values[key] = columns

    def table_rows(self, name: str, columns: Sequence[Any]) -> TableRows:
        values = self._values[name]
        return TableRows(
            {
                c.id: _in_1900_system(_blanks_as_none(cells), c.kind, self.date1904)
                for c, cells in zip(columns, values, strict=True)
            },
            first_row=_table_range(self.package.tables[name], columns).top + 1,
        )

    def named(self, name: str) -> Any:
        columns = self._values.get(name)
        return _decoded(columns[0][0]) if columns else None


def read_data(
    package: Package, period: dt.date | None = None, *, check_data: bool = True
) -> WorkbookData:
    """Business type, language, period, table rows and targets of a package."""
    return read_inputs(PackageInputs(package), period, check_data=check_data)


def _blanks_as_none(cells: list[Any]) -> list[Any]:
    """The column with None for each empty cell ('' from both readers); a
    column without one is kept as it is (one pass in C to tell)."""
    if "" not in cells:
        return cells
    return [None if v == "" else v for v in cells]


def _in_1900_system(cells: list[Any], kind: str, date1904: bool) -> list[Any]:
    """Date serials typed as plain numbers in a 1904 workbook, moved to the 1900
    system the engine counts in (calamine already converts date-formatted cells)."""
    if not date1904 or kind not in ("date", "datetime", "month"):
        return cells
    return [
        v + DAYS_1900_TO_1904 if isinstance(v, int | float) and not isinstance(v, bool) else v
        for v in cells
    ]


__all__ = [
    "TABLES",
    "Package",
    "ReportError",
    "WorkbookData",
    "column_letter",
    "open_package",
    "read_data",
    "recipe_for",
]
