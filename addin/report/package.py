"""Read what a report needs from an .xlsx/.xlsm package, safely and fast.

The package is checked before anything is read: a zip (an encrypted
workbook is an OLE compound file, refused with that reason), holding
``xl/workbook.xml``, whose declared uncompressed size stays under a cap (a
zip bomb is refused before any part is inflated). Every XML part is parsed
with defusedxml, which refuses entity expansion and external entities.

Cell values come from python-calamine; the table ranges, the sheet each
table lives on and the defined names (PERIOD, GROSS_MARGIN, TARGET_<ID>)
come from the package's own XML.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import re
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

import kpi_engine
from addin.ooxml.dates import from_serial_date

# Also CT and WORKSHEET_REL: this module has named them for its importers.
from addin.ooxml.names import CT, MAIN, PKG_REL, REL, TABLE_REL, WORKSHEET_REL  # noqa: F401
from addin.recipes import TABLES, Rows, TableRows, recipe_for, tables_for
from kpi_engine._inputs import first_of_month, to_serial
from kpi_engine._labels import templates_dir

#: Refuse packages whose parts inflate to more than this (a zip bomb guard).
DEFAULT_MAX_UNCOMPRESSED = 4 * 1024**3
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class ReportError(ValueError):
    """Bad input for a report: the message says what is wrong and what would be right."""


def max_uncompressed() -> int:
    """The cap on a package's uncompressed size (``KPI_MAX_UNCOMPRESSED_MB`` overrides)."""
    override = os.environ.get("KPI_MAX_UNCOMPRESSED_MB")
    if override:
        return int(float(override) * 1024**2)
    return DEFAULT_MAX_UNCOMPRESSED


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
    except SafeET.ParseError as error:
        raise ReportError(f"{path}: the part {part} is not well-formed XML ({error})") from None


def cell_index(ref: str) -> tuple[int, int]:
    """'B3' -> (row 2, column 1), zero-based; '$' signs allowed."""
    match = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", ref)
    if not match:
        raise ValueError(ref)
    column = 0
    for letter in match.group(1).upper():
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)) - 1, column - 1


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


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


@dataclass
class Package:
    """An opened, checked workbook package."""

    path: Path
    zip: zipfile.ZipFile
    workbook_part: str
    sheets: list[SheetEntry]
    defined_names: dict[str, str]
    subject: str
    language: str
    tables: dict[str, TableEntry] = field(default_factory=dict)

    def read(self, part: str) -> bytes:
        return self.zip.read(part)

    def xml(self, part: str) -> Element:
        return parse_xml(self.read(part), part, self.path)

    def close(self) -> None:
        self.zip.close()


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
    cap = max_uncompressed() if max_bytes is None else max_bytes
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ReportError(f"{path} is not a readable zip package ({error})") from None
    try:
        infos = archive.infolist()
        inflated = sum(info.file_size for info in infos)
        if inflated > cap:
            raise ReportError(
                f"{path} would inflate to {inflated:,} bytes, more than the "
                f"{cap:,} bytes allowed (a zip bomb guard); "
                "set KPI_MAX_UNCOMPRESSED_MB to raise the limit for a genuine workbook"
            )
        if any(info.flag_bits & 0x1 for info in infos):
            raise ReportError(f"{path} holds encrypted zip entries; expected a plain workbook")
        names = {info.filename for info in infos}
        workbook_part = _workbook_part(archive, names, path)
        package = Package(path, archive, workbook_part, [], {}, "", "")
        _read_workbook(package, names)
        _read_core(package, names)
        _read_tables(package, names)
        return package
    except BaseException:
        archive.close()
        raise


def _workbook_part(archive: zipfile.ZipFile, names: set[str], path: Path) -> str:
    if "_rels/.rels" in names:
        root = parse_xml(archive.read("_rels/.rels"), "_rels/.rels", path)
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


def _read_workbook(package: Package, names: set[str]) -> None:
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
            rels[rel.get("Id", "")] = resolve(part, rel.get("Target", ""))
    for sheet in root.iter(q(MAIN, "sheet")):
        rel_id = sheet.get(q(REL, "id"), "")
        package.sheets.append(
            SheetEntry(
                sheet.get("name", ""), int(sheet.get("sheetId", "0")), rel_id, rels.get(rel_id, "")
            )
        )
    for defined in root.iter(q(MAIN, "definedName")):
        name = defined.get("name", "")
        if defined.get("localSheetId") is None and name not in package.defined_names:
            package.defined_names[name] = (defined.text or "").strip()


def _read_core(package: Package, names: set[str]) -> None:
    if "docProps/core.xml" not in names:
        return
    root = package.xml("docProps/core.xml")
    dc = "http://purl.org/dc/elements/1.1/"
    package.subject = (root.findtext(q(dc, "subject")) or "").strip()
    package.language = (root.findtext(q(dc, "language")) or "").strip()


def _read_tables(package: Package, names: set[str]) -> None:
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
            table = package.xml(table_part)
            columns = tuple(column.get("name", "") for column in table.iter(q(MAIN, "tableColumn")))
            name = table.get("displayName") or table.get("name") or ""
            package.tables[name] = TableEntry(
                name,
                sheet.name,
                table.get("ref", ""),
                columns,
                int(table.get("headerRowCount", "1")),
                int(table.get("totalsRowCount", "0")),
            )


# --- what the report needs --------------------------------------------------------


@dataclass(frozen=True)
class WorkbookData:
    business_type: str
    language: str
    period: dt.date
    rows: Rows
    targets: Mapping[str, float | None]


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


def _clean(value: Any) -> Any:
    return None if value == "" else value


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


def period_from(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date().replace(day=1)
    if isinstance(value, dt.date):
        return value.replace(day=1)
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        return _serial_date(float(value)).replace(day=1)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})(?:-\d{1,2})?\s*", value)
        if match and 1 <= int(match.group(2)) <= 12:
            return dt.date(int(match.group(1)), int(match.group(2)), 1)
    raise ReportError(f"{where} is {value!r}; expected a month as YYYY-MM or a date")


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


def _table_rows(
    table: TableEntry,
    columns: Sequence[Any],
    values: list[list[Any]],
    errors: Mapping[tuple[int, int], str],
) -> TableRows:
    """A table's wanted columns from its sheet's cells (calamine rows), with
    the sheet's error cells put back (calamine reads them as blanks)."""
    first, last = table.ref.split(":")
    top, left = cell_index(first)
    bottom, _right = cell_index(last)
    body_top = top + table.header_rows
    body = values[body_top : bottom + 1 - table.totals_rows]
    height = bottom + 1 - table.totals_rows - body_top
    # calamine's rows are rectangular: transpose them in C, keep the wanted columns.
    transposed = list(zip(*body, strict=True)) if body else []
    rows = TableRows(first_row=body_top + 1)
    for c in columns:
        index = table.columns.index(c.id) + left
        cells = transposed[index] if index < len(transposed) else ()
        column = [None if v == "" else v for v in cells]
        column.extend([None] * (height - len(column)))
        for (row, col), error in errors.items():
            if col == index and body_top <= row < body_top + height:
                column[row - body_top] = error
        rows[c.id] = column
    return rows


#: An error cell as Excel writes it: <c r="B7" t="e"><v>#N/A</v></c>, in
#: any attribute order, with or without a namespace prefix.
_ERROR_CELL = re.compile(
    rb"<(?:\w+:)?c\b(?=[^>]*\bt=[\"']e[\"'])[^>]*\br=[\"']([A-Z]{1,3})(\d+)[\"'][^>]*>"
    rb"(?:(?!</(?:\w+:)?c>).)*?<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>",
    re.DOTALL,
)
_CHUNK = 1 << 20
#: Chunks overlap by this much, so that a cell cut by a chunk's end is whole
#: in the next one (an error cell with its formula fits easily).
_OVERLAP = 1 << 16


def error_cells(package: Package, part: str) -> dict[tuple[int, int], str]:
    """The error cells of a sheet part, by zero-based (row, column).

    The part is streamed in overlapping chunks; a chunk without ``t="e"`` is
    skipped at the speed of a byte search, so a sheet without errors costs
    one pass.
    """
    found: dict[tuple[int, int], str] = {}
    carry = b""
    with package.zip.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            data = carry + chunk
            if b't="e"' in data or b"t='e'" in data:
                for match in _ERROR_CELL.finditer(data):
                    row, column = cell_index(match.group(1).decode() + match.group(2).decode())
                    found[(row, column)] = match.group(3).decode("utf-8", "replace")
            carry = data[-_OVERLAP:]
    return found


def read_data(package: Package, period: dt.date | None = None) -> WorkbookData:
    """Business type, language, period, table rows and targets of a package."""
    from python_calamine import CalamineWorkbook  # noqa: PLC0415  (a compiled reader, loaded late)

    where = str(package.path)
    sheet_names = [sheet.name for sheet in package.sheets]
    business_type = detect_business_type(
        package.subject, list(package.defined_names), list(package.tables)
    )
    language = detect_language(package.language, sheet_names)
    check_tables(
        business_type,
        {name: table.columns for name, table in package.tables.items()},
        where,
    )
    try:
        book = CalamineWorkbook.from_path(str(package.path))
    except Exception as error:  # calamine raises its own error types
        raise ReportError(f"{where}: the cells cannot be read ({error})") from None
    grids: dict[str, tuple[list[list[Any]], tuple[int, int]]] = {}

    def grid(sheet: str) -> tuple[list[list[Any]], tuple[int, int]]:
        if sheet not in grids:
            data = book.get_sheet_by_name(sheet)
            grids[sheet] = (data.to_python(skip_empty_area=False), (0, 0))
        return grids[sheet]

    def cell(sheet: str, ref: str) -> Any:
        values, _ = grid(sheet)
        row, column = cell_index(ref)
        if row < len(values) and column < len(values[row]):
            return _clean(values[row][column])
        return None

    def named(name: str) -> Any:
        reference = package.defined_names.get(name)
        if reference is None:
            return None
        found = split_reference(reference)
        if found is None or found[0] not in sheet_names:
            return None
        return cell(*found)

    if period is None:
        value = named("PERIOD")
        if value is None:
            raise ReportError(
                f"{where}: no reporting period: the workbook has no named cell PERIOD "
                "(or it is empty); pass --period YYYY-MM"
            )
        period = period_from(value, f"{where}: the named cell PERIOD")
    parts = {sheet.name: sheet.part for sheet in package.sheets}
    rows: dict[str, TableRows] = {}
    for name, columns in tables_for(business_type).items():
        table = package.tables[name]
        errors = error_cells(package, parts[table.sheet]) if parts.get(table.sheet) else {}
        rows[name] = _table_rows(table, columns, grid(table.sheet)[0], errors)
    margin = _number(named("GROSS_MARGIN"))
    if margin is not None:
        rows["Settings"] = TableRows({"GROSS_MARGIN": [margin]})
    profile = kpi_engine.get_business_type(business_type)
    targets = {entry.id: _number(named(f"TARGET_{entry.id.upper()}")) for entry in profile.kpis}
    check_period_has_data(business_type, rows, period, where)
    return WorkbookData(business_type, language, period, rows, targets)


__all__ = [
    "TABLES",
    "Package",
    "ReportError",
    "WorkbookData",
    "open_package",
    "read_data",
    "recipe_for",
]
