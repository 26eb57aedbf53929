"""Read an export: a CSV file (delimiter and encoding found, or given) or a
sheet of an .xlsx file (openpyxl, read-only), as a header and rows of cells.

A CSV cell is text; an .xlsx cell is what the sheet holds (a number, a date,
text...). Nothing is interpreted here: ``values`` reads each cell by the
kind of the column it goes to.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from addin.ooxml.names import MAIN
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
    #: The file's row of each of ``rows`` where they are not consecutive from
    #: ``first_row`` (an .xlsx sheet's empty rows are not kept).
    numbers: list[int] | None = None

    @property
    def delimiter_name(self) -> str | None:
        return None if self.delimiter is None else _NAMES[self.delimiter]

    def numbered(self) -> Iterator[tuple[int, list[Any]]]:
        """(the file's row, the row's cells) for every row."""
        if self.numbers is None:
            return enumerate(self.rows, start=self.first_row)
        return zip(self.numbers, self.rows, strict=True)


#: A character of two to four bytes in UTF-8: Windows-1252 text almost never
#: holds one (it would read "Ã©" where "é" was meant).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_SCAN_CHUNK = 1 << 20
#: The five bytes that Windows-1252 leaves undefined.
_NOT_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def encoding_of(handle: BinaryIO, path: Path) -> str:  # noqa: PLR0912  (one streamed pass)
    """The encoding of a CSV export read from ``handle`` (its start), by one
    streamed pass:

    * valid UTF-8 throughout: ``utf-8-sig`` (a byte order mark is dropped);
    * not UTF-8, and no character of the file is written in UTF-8: the whole
      file is Windows-1252 (``cp1252``), as older spreadsheets save it;
    * not UTF-8, but other characters are UTF-8: a file of two encodings
      (one Windows-1252 byte pasted into UTF-8 text). It is refused, naming
      the line and the byte, rather than read as Windows-1252 throughout,
      which would silently turn every UTF-8 "é" into "Ã©".
    """
    start = handle.read(4)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportInputError(
            f"{path} is UTF-16 text (it starts with a UTF-16 byte order mark); "
            "expected UTF-8 or Windows-1252: save the export as 'CSV UTF-8'"
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines = 0
    bad: tuple[int, int, bytes] | None = None  # byte offset, line, the bytes
    has_utf8 = False
    undefined: tuple[int, bytes] | None = None  # the first byte Windows-1252 lacks
    tail = b""
    chunk = start + handle.read(_SCAN_CHUNK)
    while chunk:
        if not has_utf8 and _UTF8_SEQUENCE.search(tail + chunk):
            has_utf8 = True
        if undefined is None:
            found = _NOT_CP1252.search(chunk)
            if found is not None:
                undefined = (offset + found.start(), chunk[found.start() : found.start() + 4])
        if bad is None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                # The error's position is within what the decoder held: its
                # pending bytes came before this chunk.
                held = len(error.object) - len(chunk)
                at = offset - held + error.start
                line = lines + chunk.count(b"\n", 0, max(0, error.start - held)) + 1
                bad = (at, line, error.object[error.start : error.start + 4])
        lines += chunk.count(b"\n")
        offset += len(chunk)
        if bad is not None and (has_utf8 or undefined is not None):
            break
        tail = chunk[-3:]
        chunk = handle.read(_SCAN_CHUNK)
    if bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = (offset, lines + 1, b"")
    if bad is None:
        return "utf-8-sig"
    if not has_utf8 and undefined is None:
        return "cp1252"
    if not has_utf8:
        assert undefined is not None
        raise _not_text(path, list(ENCODINGS), undefined[1], 0, undefined[0])
    at, line, shown = bad
    raise ImportInputError(
        f"{path}: line {line:,} (byte {at:,}: {shown.hex(' ') or 'the end'}) is not UTF-8, "
        "though the rest of the file is: a file of two encodings is not guessed at; save the "
        "export again as 'CSV UTF-8', or pass --encoding cp1252 to read all of it as "
        "Windows-1252"
    )


def _not_text(
    path: Path, tried: list[str], data: bytes, start: int, offset: int | None = None
) -> ImportInputError:
    """``data[start]`` cannot be read; it is byte ``offset`` of the file (default ``start``)."""
    shown = data[start : start + 4].hex(" ")
    at = start if offset is None else offset
    return ImportInputError(
        f"{path} is not {' nor '.join(tried)} text: byte {at} ({shown}...) cannot be read; "
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


#: The rows of an Excel sheet: a header and at most this many rows less one.
EXCEL_ROWS = 1_048_576
#: Excel's columns.
EXCEL_COLUMNS = 16_384
#: A cell's longest text, in characters.
CELL_CHARACTERS = 32_767
#: The text an export may hold, in all, in characters: a million rows of
#: ordinary orders is about 70 million; the import holds it all at once.
EXPORT_CHARACTERS = 128 << 20


def _too_many_rows(path: Path) -> ImportInputError:
    return ImportInputError(
        f"{path} has more rows than an Excel sheet holds ({EXCEL_ROWS:,} with the header); "
        "import fewer rows (a month, a year) or keep the data outside the workbook"
    )


@contextlib.contextmanager
def _csv_errors(reader: Any, path: Path, encoding: str) -> Iterator[None]:
    """A CSV reader's errors as ``ImportInputError``, naming the line it reached."""
    try:
        yield
    except csv.Error as error:
        raise ImportInputError(
            f"{path}: line {reader.line_num} is not valid CSV ({error}); expected "
            'fields separated by the delimiter, quoted with " where they hold one'
        ) from None
    except UnicodeDecodeError as error:
        raise ImportInputError(
            f"{path}: after line {reader.line_num:,} the file is not {encoding} text "
            f"({error.reason}); save the export as 'CSV UTF-8', or pass --encoding"
        ) from None


def _records(handle: BinaryIO, path: Path, encoding: str, delimiter: str) -> int:
    """How many records (the header included) the CSV file holds, counted
    up to one past Excel's last row; nothing is kept."""
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    count = 0
    try:
        with _csv_errors(reader, path, encoding):
            for _ in reader:
                count += 1
                if count > EXCEL_ROWS:
                    break
    finally:
        text.detach()
    return count


def read_csv(path: Path, delimiter: str | None = None, encoding: str | None = None) -> Export:
    """A CSV export, read as a stream: the rows past Excel's last row, a line
    wider than Excel's columns or a field longer than a cell holds are refused
    as they are met, before the rest of the file is read."""
    try:
        with path.open("rb") as handle:
            return _read_csv(handle, path, delimiter, encoding)
    except OSError as error:
        raise ImportInputError(f"cannot read {path}: {error.strerror or error}") from None


def _read_csv(handle: BinaryIO, path: Path, delimiter: str | None, encoding: str | None) -> Export:
    used = encoding or encoding_of(handle, path)
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding=used, newline="")
    try:
        start = text.read(_SNIFFED_CHARS)
    except UnicodeDecodeError as error:
        raise _not_text(path, [used], error.object, error.start) from None
    chosen = delimiter or sniff_delimiter(start)
    if chosen not in DELIMITERS:
        raise ImportInputError(f"--delimiter is {chosen!r}; expected one of ',', ';' or 'tab'")
    # Read again from the start: a line cut at the sniffed text's end would
    # otherwise read as two records. A first pass counts the records, keeping
    # none: a file past Excel's last row is refused before its rows are held.
    text.detach()
    records = _records(handle, path, used, chosen)
    if records > EXCEL_ROWS:
        raise _too_many_rows(path)
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding=used, newline="")
    reader = csv.reader(text, delimiter=chosen, strict=True)
    rows: list[list[Any]] = []
    with _csv_errors(reader, path, used):
        first = next(reader, None)
        if first is None:
            raise ImportInputError(f"{path} is empty; expected a header row and rows of data")
        if len(first) > EXCEL_COLUMNS:
            raise ImportInputError(
                f"{path}: the header names {len(first):,} columns, more than Excel's "
                f"{EXCEL_COLUMNS:,}; is the delimiter right? pass --delimiter"
            )
        header = _header(first, path)
        width = len(header)
        characters = 0
        for row in reader:
            if len(rows) >= EXCEL_ROWS - 1:
                raise _too_many_rows(path)
            characters += sum(map(len, row))
            if characters > EXPORT_CHARACTERS:
                raise ImportInputError(
                    f"{path}: by line {reader.line_num:,} the export holds more than "
                    f"{EXPORT_CHARACTERS >> 20} MB of text, more than kpi import loads at once; "
                    "split the export (a month, a year) and import the parts with --append"
                )
            rows.append(_fitted(row, width, reader.line_num, path))
    return Export(path, header, rows, 2, chosen, used)


#: What an export's shared strings may hold, in all: about what a sheet of a
#: million rows of a few text columns needs, a fraction of the memory budget.
SHARED_STRINGS = 2_000_000
SHARED_CHARACTERS = 128 << 20


def read_xlsx(path: Path, sheet: str | None = None) -> Export:
    """A sheet of an .xlsx export, through the project's bounded reader (the
    caps of ``kpi report``: the package's inflated size, each part's size, no
    DTD, Excel's rows and columns, a cell's length) and streamed: only the
    cells of the rows that hold something are kept, whatever the sheet's
    ``<dimension>`` says, and a malformed part is refused by name."""
    from addin.ooxml.bounded import PackageError  # noqa: PLC0415
    from addin.ooxml.package import ReportError, open_package  # noqa: PLC0415

    try:
        package = open_package(path)
    except ReportError as error:
        raise ImportInputError(f"{error} (an .xlsx export is read as a workbook)") from None
    try:
        names = [entry.name for entry in package.sheets]
        if not names:
            raise ImportInputError(f"{path} has no sheet; expected an export with one")
        if sheet is None:
            name = names[0]
        elif sheet in names:
            name = sheet
        else:
            raise ImportInputError(
                f"{path} has no sheet named {sheet!r} (--sheet); its sheets are "
                + ", ".join(repr(n) for n in names)
            )
        part = next(entry.part for entry in package.sheets if entry.name == name)
        if not part or part not in package.bounded.names():
            raise ImportInputError(
                f"{path}: the sheet {name!r} has no part in the package; the file looks "
                "damaged: open and save it in Excel, then import again"
            )
        try:
            header, rows, numbers = _sheet_rows(package, part, name)
        except PackageError as error:
            raise ImportInputError(str(error)) from None
    finally:
        package.close()
    first = numbers[0] if numbers else 2
    return Export(path, header, rows, first, sheet=name, numbers=numbers)


def _shared_strings(package: Any) -> list[str]:
    """The export's shared strings, within ``SHARED_STRINGS`` and ``SHARED_CHARACTERS``."""
    from addin.ooxml.sheets import shared_strings  # noqa: PLC0415

    found = package.related_part("sharedStrings", "xl/sharedStrings.xml")
    strings: list[str] = []
    characters = 0
    for text in shared_strings(package.bounded, found):
        characters += len(text)
        if len(strings) >= SHARED_STRINGS or characters > SHARED_CHARACTERS:
            raise ImportInputError(
                f"{package.path}: the part {found} holds more than {SHARED_STRINGS:,} "
                f"shared strings or {SHARED_CHARACTERS >> 20} MB of text, more than kpi "
                "import reads from one export; split the export"
            )
        strings.append(text)
    return strings


def _cell_value(
    element: Any, strings: Sequence[str], kinds: Sequence[str], date1904: bool, where: str
) -> Any:
    """A cell as an export's reader should see it: text, a finite number, a
    date, TRUE/FALSE or an error's text; '' for an empty cell. A number that
    does not read as one (``nan``, ``1e999``, ``abc``) is kept as its text,
    for the data rules to judge; a time of day or a duration stays the number
    it is."""
    from addin.ooxml import sheets  # noqa: PLC0415

    kind = element.get("t", "n")
    value_element = element.find(_V)
    text = value_element.text if value_element is not None else None
    if kind == "s":
        if text is None:
            return ""
        try:
            return strings[int(text)]
        except (ValueError, IndexError):
            raise ImportInputError(
                f"{where} refers to shared string {text[:12]!r}, which the export does not "
                f"have (it has {len(strings):,}); the file is damaged: open and save it in "
                "Excel, then import again"
            ) from None
    if kind in sheets.TEXT_TYPES:
        return sheets.text_value(kind, element, text)
    if text is None or not text.strip():
        return ""
    try:
        number = float(text)
    except ValueError:
        return text.strip()
    if not math.isfinite(number):
        return text.strip()
    style = element.get("s")
    index = int(style) if style and style.isdigit() else 0
    if index < len(kinds) and kinds[index] == "date" and number >= 1:
        return sheets.number_as(number, "date", date1904)
    return number


_V = f"{{{MAIN}}}v"
_ROW_TAG = f"{{{MAIN}}}row"


_ROW_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


def rows_past_excel(bounded: Any, part: str) -> bool:
    """Whether a sheet part holds more ``<row>`` elements than Excel has rows,
    counted in one streamed pass at the speed of a byte search, keeping
    nothing: a sheet of 170 million ``<row/>`` (1 GB unpacked) is refused
    before it is held or parsed."""
    count = 0
    tail = b""
    for chunk in bounded.chunks(part):
        data = tail + chunk
        count += len(_ROW_ELEMENT.findall(data))
        # An element cut at the chunk's end is counted in the next one.
        cut = data.rfind(b"<", max(0, len(data) - 64))
        tail = data[cut:] if cut >= 0 else b""
        if tail and _ROW_ELEMENT.match(tail):
            count -= 1
        if count > EXCEL_ROWS:
            return True
    return False


def _refuse_too_many_rows(package: Any, part: str) -> None:
    if rows_past_excel(package.bounded, part):
        raise _too_many_rows(package.path)


def _sheet_rows(  # noqa: PLR0912, PLR0915  (one streamed pass, each case in place)
    package: Any, part: str, name: str
) -> tuple[list[str], list[list[Any]], list[int]]:
    """The header, the rows that hold something, and their row numbers."""
    from addin.ooxml import sheets  # noqa: PLC0415

    path = package.path
    strings = _shared_strings(package)
    styles = package.related_part("styles", "xl/styles.xml")
    try:
        kinds = sheets.read_cell_kinds(package.read(styles) if styles else None)
    except (SyntaxError, ValueError) as error:
        raise ImportInputError(
            f"{path}: the part {styles} is not well-formed XML ({error})"
        ) from None
    _refuse_too_many_rows(package, part)
    header: list[str] | None = None
    width = EXCEL_COLUMNS
    rows: list[list[Any]] = []
    numbers: list[int] = []
    cells: dict[int, Any] = {}
    row = -1
    column = -1
    characters = 0
    for event, element in sheets.iterparse(package.bounded, part, ["row", "c"]):
        if element.tag == _ROW_TAG:
            if event == "start":
                reference = element.get("r")
                number = int(reference) - 1 if reference and reference.isdigit() else row + 1
                if number <= row:
                    raise ImportInputError(
                        f"{path}: the sheet {name!r} has row {number + 1} after row {row + 1}; "
                        "a sheet's rows come in order (the file is damaged: open and save it "
                        "in Excel)"
                    )
                if number >= EXCEL_ROWS:
                    raise _too_many_rows(path)
                row, column = number, -1
                cells = {}
                continue
            sheets.release(element)
            if not cells:
                continue
            if header is None:
                header = _header([cells.get(i) for i in range(max(cells) + 1)], path)
                width = len(header)
                continue
            if len(rows) >= EXCEL_ROWS - 1:
                raise _too_many_rows(path)
            values: list[Any] = [None] * width
            for index, value in cells.items():
                values[index] = value
            rows.append(values)
            numbers.append(row + 1)
            continue
        if event == "start":
            continue
        reference = element.get("r")
        if reference:
            try:
                row_at, column = sheets.cell_index(reference)
            except ValueError:
                raise ImportInputError(
                    f"{path}: the sheet {name!r} has a cell reference {reference[:20]!r} "
                    "outside Excel's grid"
                ) from None
            if row_at != row:
                raise ImportInputError(
                    f"{path}: the sheet {name!r} has the cell {reference[:20]} inside row "
                    f"{row + 1}; the file is damaged: open and save it in Excel"
                )
        else:
            column += 1
        if column >= EXCEL_COLUMNS:
            raise ImportInputError(
                f"{path}: the sheet {name!r} has a cell beyond Excel's last column in row {row + 1}"
            )
        where = f"{path}: cell {sheets.column_letter(column)}{row + 1} of the sheet {name!r}"
        value = _cell_value(element, strings, kinds, package.date1904, where)
        element.clear()
        if value == "" or value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str):
            if len(value) > CELL_CHARACTERS:
                raise ImportInputError(
                    f"{where} holds {len(value):,} characters, more than the "
                    f"{CELL_CHARACTERS:,} a cell holds; shorten it and import again"
                )
            characters += len(value)
            if characters > EXPORT_CHARACTERS:
                raise ImportInputError(
                    f"{path}: by row {row + 1:,} the export holds more than "
                    f"{EXPORT_CHARACTERS >> 20} MB of text, more than kpi import loads at once; "
                    "split the export (a month, a year) and import the parts with --append"
                )
        if header is not None and column >= width:
            raise ImportInputError(
                f"{path}: row {row + 1} has a cell in column {column + 1} "
                f"({sheets.column_letter(column)}) but the header names {width} columns; "
                f"expected at most {width}"
            )
        cells[column] = value
    if header is None:
        raise ImportInputError(f"the sheet {name!r} of {path} is empty; expected a header row")
    return header, rows, numbers


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
