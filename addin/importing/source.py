"""Read an export: a CSV file (delimiter and encoding found, or given) or a
sheet of an .xlsx file (openpyxl, read-only), as a header and rows of cells.

A CSV cell is text; an .xlsx cell is what the sheet holds (a number, a date,
text...). Nothing is interpreted here: ``values`` reads each cell by the
kind of the column it goes to.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from addin.ooxml.package import ReportError

#: The delimiters a CSV export may use: comma, semicolon (spreadsheets in
#: locales whose decimal separator is the comma) and tab.
DELIMITERS = (",", ";", "\t")
#: The encodings a CSV export may have, tried in this order when none is given.
ENCODINGS = ("utf-8-sig", "utf-8", "cp1252")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
#: How much of the file the delimiter is found from.
_SNIFFED_CHARS = 64 * 1024


class ImportInputError(ReportError):
    """Bad input for ``kpi import``: the message says what is wrong and what would be right."""


@dataclass
class Export:
    """An export as read: its header, its rows of cells, how it was read."""

    path: Path
    header: list[str]
    rows: list[list[Any]]
    #: The file's row of ``rows[0]`` (the header is row 1).
    first_row: int = 2
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None

    @property
    def delimiter_name(self) -> str | None:
        return None if self.delimiter is None else _NAMES[self.delimiter]


def decode(data: bytes, path: Path, encoding: str | None = None) -> tuple[str, str]:
    """The file's text and the encoding it was read with."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportInputError(
            f"{path} is UTF-16 text (it starts with a UTF-16 byte order mark); "
            "expected UTF-8 or Windows-1252: save the export as 'CSV UTF-8'"
        )
    tried = [encoding] if encoding else list(ENCODINGS)
    failure: UnicodeDecodeError | None = None
    for name in tried:
        try:
            return data.decode(name), name
        except UnicodeDecodeError as error:
            failure = failure or error
    assert failure is not None
    start = failure.start
    shown = data[start : start + 4].hex(" ")
    raise ImportInputError(
        f"{path} is not {' nor '.join(tried)} text: byte {start} ({shown}...) cannot be read; "
        "expected a CSV file in UTF-8 (with or without BOM) or Windows-1252: save the export "
        "as 'CSV UTF-8', or pass --encoding"
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text: the one of comma, semicolon and tab that
    occurs most often outside quotes in its first line (comma on a tie)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in text[:_SNIFFED_CHARS]:
        if char == '"':
            quoted = not quoted
        elif not quoted:
            if char in "\r\n":
                break
            if char in counts:
                counts[char] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] else ","


def _header(cells: Sequence[Any], path: Path) -> list[str]:
    header = ["" if cell is None else str(cell).strip() for cell in cells]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise ImportInputError(
            f"{path}: the first row is empty; expected a header row of column names"
        )
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise ImportInputError(
                f"{path}: column {position} of the header row has no name; "
                "expected a name for every column that holds data"
            )
        key = name.casefold()
        if key in seen:
            raise ImportInputError(
                f"{path}: the header names {name!r} twice (columns {seen[key]} and {position}); "
                "expected each column once"
            )
        seen[key] = position
    return header


def _fitted(row: list[Any], width: int, number: int, path: Path) -> list[Any]:
    """A row as wide as the header: short rows padded, empty extra cells dropped."""
    if len(row) > width:
        extra = row[width:]
        if any(
            cell not in (None, "") and not (isinstance(cell, str) and not cell.strip())
            for cell in extra
        ):
            raise ImportInputError(
                f"{path}: row {number} has {len(row)} cells but the header names {width} "
                f"columns; expected at most {width} (is the delimiter right? pass --delimiter)"
            )
        return row[:width]
    if len(row) < width:
        return row + [None] * (width - len(row))
    return row


def read_csv(path: Path, delimiter: str | None = None, encoding: str | None = None) -> Export:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImportInputError(f"cannot read {path}: {error.strerror or error}") from None
    text, used = decode(data, path, encoding)
    chosen = delimiter or sniff_delimiter(text)
    if chosen not in DELIMITERS:
        raise ImportInputError(f"--delimiter is {chosen!r}; expected one of ',', ';' or 'tab'")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=chosen, strict=True)
    try:
        first = next(reader, None)
        if first is None:
            raise ImportInputError(f"{path} is empty; expected a header row and rows of data")
        header = _header(first, path)
        width = len(header)
        rows = [_fitted(row, width, reader.line_num, path) for row in reader]
    except csv.Error as error:
        raise ImportInputError(
            f"{path}: line {reader.line_num} is not valid CSV ({error}); expected "
            'fields separated by the delimiter, quoted with " where they hold one'
        ) from None
    return Export(path, header, rows, 2, chosen, used)


def read_xlsx(path: Path, sheet: str | None = None) -> Export:
    import openpyxl  # noqa: PLC0415  (loaded only for an .xlsx export)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's warnings about unsupported extensions
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise ImportInputError(
            f"{path} cannot be read as an .xlsx workbook ({type(error).__name__}: "
            f"{str(error)[:120]}); expected an Excel workbook saved as .xlsx"
        ) from None
    try:
        names = book.sheetnames
        if sheet is None:
            name = names[0]
        elif sheet in names:
            name = sheet
        else:
            raise ImportInputError(
                f"{path} has no sheet named {sheet!r} (--sheet); its sheets are "
                + ", ".join(repr(n) for n in names)
            )
        cells = book[name].iter_rows(values_only=True)
        first = next(cells, None)
        if first is None:
            raise ImportInputError(f"the sheet {name!r} of {path} is empty; expected a header row")
        header = _header(first, path)
        width = len(header)
        rows = [
            _fitted(list(row), width, number, path) for number, row in enumerate(cells, start=2)
        ]
    finally:
        book.close()
    return Export(path, header, rows, 2, sheet=name)


def read_export(
    path: Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Export:
    """The export at ``path``: .xlsx by its extension, else CSV."""
    path = Path(path)
    if not path.is_file():
        raise ImportInputError(
            f"{path} does not exist or is not a file; expected a .csv or .xlsx export"
        )
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        if delimiter or encoding:
            raise ImportInputError(
                f"{path} is an .xlsx workbook: --delimiter and --encoding are for CSV files"
            )
        return read_xlsx(path, sheet)
    if sheet is not None:
        raise ImportInputError(f"{path} is not an .xlsx workbook: --sheet is for .xlsx exports")
    return read_csv(path, delimiter, encoding)
