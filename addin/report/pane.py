"""The report refresh from inside Excel, read in chunks under Excel's limits.

Excel on the web refuses any Office.js request or response over 5 MB and any
range over 5 million cells. A refresh that reads the whole workbook in one
``context.sync()`` (what xlwings' ``runPython`` does) passes 5 MB at about
21,000 orders. So the task pane reads only what the report reads, and in
chunks:

1. the workbook's structure (sheet names, table names, header rows and sizes,
   defined names): a few kilobytes;
2. ``refresh_plan`` turns it into the plan: the business type, the named
   cells and, per table, the columns the type's recipes read
   (``addin.recipes.tables_for``: one source of truth with ``kpi report``),
   each column's kind and how many rows one read may take so that Office.js'
   answer stays under ``MAX_SYNC_BYTES``;
3. the pane reads those columns, chunk by chunk, with no number formats
   (dates arrive as serial numbers, which the engine takes as they are), and
   sends them all in one request (``refresh_answer``), which carries the
   structure again: any instance of ``kpi serve`` answers it, with nothing
   kept between requests;
4. the answer is the report sheet's actions (the same ``build_report`` and
   layout as ``kpi report``), cut into batches under ``MAX_SYNC_BYTES``, to
   be written to a sheet of their own (``temporary_name``) that the pane then
   puts in the place of the old report: a failure on the way leaves the old
   report as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import kpi_engine
from addin.ooxml.package import (
    ReportError,
    WorkbookData,
    check_tables,
    detect_business_type,
    read_inputs,
)
from addin.recipes import TableRows, tables_for
from addin.recipes.tables import Column
from addin.report.model import Report, build_report, report_sheet_names, utc_now

#: What one Office.js read or write may carry: under Excel's 5 MB, with a margin.
MAX_SYNC_BYTES = 4 * 1000 * 1000
#: Excel's largest range, in cells.
MAX_RANGE_CELLS = 5_000_000
#: A chunk is sized so that its estimate stays under this; the pane measures
#: what it really got and makes the next chunk smaller if a column's cells
#: are longer than their kind's estimate.
CHUNK_BYTES = 3 * 1000 * 1000
#: Bytes that one cell of a column of each kind takes in Office.js' JSON
#: answer, the comma included: the longest a number can be written (a date
#: with a time of day is a fraction), a short code for an id, room for a
#: sentence in a text.
KIND_BYTES = {
    "id": 24,
    "text": 120,
    "choice": 24,
    "date": 20,
    "datetime": 20,
    "month": 20,
    "whole": 20,
    "number": 24,
    "money": 24,
    "score": 20,
    "rating": 20,
}
#: The named cells the report reads, besides TARGET_<KPI> (``read_inputs``).
SETTINGS_NAMES = ("PERIOD", "GROSS_MARGIN", "CURRENCY")
#: Excel's longest sheet name.
MAX_SHEET_NAME = 31


def cell_bytes(column: Column) -> int:
    """The estimate of one cell of ``column`` in Office.js' answer."""
    if column.kind == "choice" and column.choices:
        # A quoted choice and a comma; room for a person's own spelling.
        return max(KIND_BYTES["choice"], 2 * max(len(choice) for choice in column.choices) + 3)
    return KIND_BYTES[column.kind]


def chunk_rows(columns: Sequence[Column]) -> int:
    """How many rows of ``columns`` one read takes: under ``CHUNK_BYTES`` by
    the kinds' estimates, and under Excel's cells per range."""
    # Two more for a row's brackets; the pane reads each column on its own,
    # whose rows' brackets the kinds' estimates leave room for (measured:
    # 13 bytes a cell for the orders of the starter workbook, against 23).
    per_row = sum(cell_bytes(column) for column in columns) + 2
    by_bytes = CHUNK_BYTES // per_row
    return max(1, min(by_bytes, MAX_RANGE_CELLS // max(1, len(columns))))


# --- what the pane sends -----------------------------------------------------------


def _fail(message: str) -> ReportError:
    return ReportError(f"refresh_report: {message}")


def _text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise _fail(f"{where} is {value!r:.60}; expected text")
    return value


def _whole(value: Any, where: str, low: int = 0) -> int:
    if type(value) is not int or value < low:
        raise _fail(f"{where} is {value!r:.60}; expected a whole number from {low}")
    return value


#: What Office.js gives for a cell's value.
_CELL_TYPES = frozenset({str, int, float, bool, type(None)})


def _check_cells(values: list[Any], where: str) -> None:
    """Every value is one that a cell holds, else say which is not."""
    if all(type(value) in _CELL_TYPES for value in values):
        return
    position, value = next((n, v) for n, v in enumerate(values, 1) if type(v) not in _CELL_TYPES)
    raise _fail(
        f"{where}: value {position} is {value!r:.60}; expected text, a number, "
        "true/false or empty, as a cell holds"
    )


def _tidy(values: list[Any]) -> None:
    """In place: an empty cell ("") as None, as the engine takes it, and one
    string object per distinct text (a column of statuses or of a customer's
    id repeats a few values many times: the server keeps each once)."""
    seen: dict[str, str] = {}
    for index, value in enumerate(values):
        if type(value) is str:
            values[index] = None if value == "" else seen.setdefault(value, value)


class Structure:
    """The workbook's structure as the pane read it: sheets, tables, names.

    Checked field by field, so that a body that did not come from the pane
    gets a message saying what is wrong, never a traceback."""

    def __init__(self, data: Any) -> None:
        if type(data) is not dict:
            raise _fail("the structure is not a JSON object")
        sheets = data.get("sheets")
        if type(sheets) is not list or not sheets:
            raise _fail("the structure has no list of sheets")
        self.sheets = [_text(name, f"sheet {n}") for n, name in enumerate(sheets, 1)]
        names = data.get("names", [])
        if type(names) is not list:
            raise _fail("names is not a list of names")
        self.names = [_text(name, f"name {n}") for n, name in enumerate(names, 1)]
        tables = data.get("tables", {})
        if type(tables) is not dict:
            raise _fail("tables is not an object of tables")
        self.tables: dict[str, dict[str, Any]] = {}
        for name, table in tables.items():
            where = f"table {name}"
            if type(table) is not dict:
                raise _fail(f"{where} is not an object")
            columns = table.get("columns")
            if type(columns) is not list:
                raise _fail(f"{where}: columns is not a list")
            self.tables[name] = {
                "sheet": _text(table.get("sheet"), f"{where}: sheet"),
                "row": _whole(table.get("row"), f"{where}: row"),
                "column": _whole(table.get("column"), f"{where}: column"),
                "rows": _whole(table.get("rows"), f"{where}: rows"),
                "columns": [str(c) for c in columns],
            }
            if self.tables[name]["sheet"] not in self.sheets:
                raise _fail(f"{where}: its sheet {self.tables[name]['sheet']!r} is not a sheet")

    def business_type(self) -> str:
        # A workbook open in Excel shows no subject property through Office.js:
        # the names and tables tell, as for BookInputs.
        return detect_business_type("", self.names, list(self.tables))


def refresh_plan(data: Any) -> dict[str, Any]:
    """What the pane reads for a refresh: the plan of the module's docstring."""
    structure = Structure(data)
    business_type = structure.business_type()
    found = {name: table["columns"] for name, table in structure.tables.items()}
    check_tables(business_type, found, "this workbook")
    profile = kpi_engine.get_business_type(business_type)
    wanted = [*SETTINGS_NAMES, *(f"TARGET_{entry.id.upper()}" for entry in profile.kpis)]
    upper = {name.upper(): name for name in structure.names}
    tables = []
    for name, columns in tables_for(business_type).items():
        table = structure.tables[name]
        tables.append(
            {
                "name": name,
                "sheet": table["sheet"],
                "row": table["row"],
                "rows": table["rows"],
                "columns": [
                    {
                        "id": column.id,
                        "kind": column.kind,
                        "index": table["column"] + table["columns"].index(column.id),
                        "bytes": cell_bytes(column),
                    }
                    for column in columns
                ],
                "chunk_rows": chunk_rows(columns),
            }
        )
    return {
        "business_type": business_type,
        "names": [upper[name] for name in wanted if name in upper],
        "tables": tables,
        "max_sync_bytes": MAX_SYNC_BYTES,
        "chunk_bytes": CHUNK_BYTES,
        "rows": sum(table["rows"] for table in tables),
    }


class PaneInputs:
    """What the pane read, as an ``InputSource`` for ``read_inputs``."""

    date1904 = False
    subject = ""
    language = ""

    def __init__(self, data: Any) -> None:
        if type(data) is not dict:
            raise _fail("the request is not a JSON object")
        self.structure = Structure(data.get("structure"))
        self.plan = refresh_plan(data.get("structure"))
        self.where = "this workbook"
        named = data.get("named", {})
        if type(named) is not dict:
            raise _fail("named is not an object of named cells")
        self._named = {str(key).upper(): value for key, value in named.items()}
        columns = data.get("columns")
        if type(columns) is not dict:
            raise _fail("columns is not an object of tables")
        self._columns: dict[str, dict[str, list[Any]]] = {}
        for table in self.plan["tables"]:
            name = table["name"]
            got = columns.get(name)
            if type(got) is not dict:
                raise _fail(f"the columns of table {name} are missing")
            read: dict[str, list[Any]] = {}
            for column in table["columns"]:
                values = got.get(column["id"])
                if type(values) is not list or len(values) != table["rows"]:
                    size = len(values) if type(values) is list else values
                    raise _fail(
                        f"table {name}, column {column['id']}: {size!r:.40} values; "
                        f"expected a list of {table['rows']} (the table's rows)"
                    )
                _check_cells(values, f"table {name}, column {column['id']}")
                _tidy(values)
                read[column["id"]] = values
            self._columns[name] = read
        for key, value in self._named.items():
            cells = value if type(value) is list else [[value]]
            if any(type(row) is not list for row in cells):
                raise _fail(f"the named cell {key} is {value!r:.60}; expected a value or rows")
            for row in cells:
                _check_cells(row, f"the named cell {key}")

    def names(self) -> list[str]:
        return list(self.structure.names)

    def sheet_names(self) -> list[str]:
        return list(self.structure.sheets)

    def tables(self) -> dict[str, list[str]]:
        return {name: table["columns"] for name, table in self.structure.tables.items()}

    def load(self, tables: Any, names: Any) -> None:
        """Nothing to gather: the pane sent every column the plan named."""

    def table_rows(self, name: str, columns: Sequence[Column]) -> TableRows:
        read = self._columns[name]
        return TableRows(
            {c.id: read[c.id] for c in columns}, first_row=self.structure.tables[name]["row"] + 2
        )

    def named(self, name: str) -> Any:
        value = self._named.get(name.upper())
        if isinstance(value, list):  # a named range of one cell arrives as [[value]]
            value = value[0][0] if len(value) == 1 and len(value[0]) == 1 else None
        return None if value == "" else value


def temporary_name(target: str, sheets: Sequence[str]) -> str:
    """A sheet name for the new report while it is written: free in ``sheets``."""
    lower = {sheet.lower() for sheet in sheets}
    for attempt in range(1, 100):
        if attempt == 1:
            name = "~" + target[: MAX_SHEET_NAME - 1]
        else:
            suffix = f" ({attempt})"
            name = target[: MAX_SHEET_NAME - len(suffix)] + suffix
        if name.lower() not in lower:
            return name
    raise _fail("no free sheet name for the new report")  # pragma: no cover: 99 taken


def report_from_pane(
    data: Any, clock: Callable[[], dt.datetime] = utc_now
) -> tuple[Report, PaneInputs]:
    """The report computed from what the pane read, as ``kpi report`` computes it."""
    inputs = PaneInputs(data)
    read: WorkbookData = read_inputs(inputs)
    from addin.report.excel import report_inputs  # noqa: PLC0415

    return build_report(report_inputs(read), clock), inputs


def batches(actions: list[Any], limit: int = MAX_SYNC_BYTES) -> list[list[Any]]:
    """The actions in runs whose JSON stays under ``limit`` bytes each."""
    found: list[list[Any]] = [[]]
    size = 0
    for action in actions:
        length = len(json.dumps(action, separators=(",", ":"))) + 1
        if length > limit:
            raise _fail(f"one action of the report takes {length:,} bytes, over {limit:,}")
        if size + length > limit and found[-1]:
            found.append([])
            size = 0
        found[-1].append(action)
        size += length
    return found


def book_json(sheets: Sequence[str]) -> dict[str, Any]:
    """A Book JSON of xlwings with only the sheets' names: what the report's
    writing needs (xlwings addresses sheets by their position)."""
    return {
        "client": "Office.js",
        "version": "refresh",
        "book": {"name": "Book", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [
            {"name": name, "values": [[]], "pictures": [], "tables": [], "charts": []}
            for name in sheets
        ],
    }


def refresh_answer(data: Any, clock: Callable[[], dt.datetime] = utc_now) -> dict[str, Any]:
    """The answer to a refresh: where the report goes and its actions in batches."""
    import xlwings as xw  # noqa: PLC0415

    from addin.report.excel import write_book  # noqa: PLC0415

    report, inputs = report_from_pane(data, clock)
    sheets = inputs.sheet_names()
    existing = [sheet for sheet in sheets if sheet in report_sheet_names()]
    target = existing[0] if existing else report.sheet_name
    temporary = temporary_name(target, sheets)
    book = xw.Book(json=book_json(sheets))
    try:
        write_book(book, report, into=temporary)
        actions = book.json()["actions"]
    finally:
        book.close()
    return {
        "sheet": target,
        "temporary": temporary,
        "replaces": bool(existing),
        "batches": batches(actions),
        "rows": inputs.plan["rows"],
        "business_type": inputs.plan["business_type"],
    }


# --- xlwings Lite: the same reads through xlwings' async Book --------------------
#
# xlwings Lite hands a script annotated with ``xw.BookAsync`` a book without
# its cell values (xlwings' client reads the structure only), and reads a
# range when asked (``await rng.get_value()``: one Office.js sync per call, of
# that range's values only). So Lite reads what the pane reads, through the
# same plan: the columns the recipes name, a chunk of rows per call.


def _bare(name: str) -> str:
    return name.rsplit("!", 1)[-1]


async def read_book_async(book: Any) -> dict[str, Any]:
    """What the pane sends to ``/taskpane/refresh``, read through xlwings'
    async Book in chunks of the plan's rows."""
    structure: dict[str, Any] = {
        "sheets": [sheet.name for sheet in book.sheets],
        "names": [_bare(name.name) for name in book.names],
        "tables": {},
    }
    for sheet in book.sheets:
        for table in sheet.tables:
            header = table.header_row_range
            body = table.data_body_range
            columns = await header.options(ndim=2).get_value()
            structure["tables"][table.name] = {
                "sheet": sheet.name,
                "row": header.row - 1,
                "column": header.column - 1,
                "rows": 0 if body is None else body.shape[0],
                "columns": ["" if c is None else str(c) for c in columns[0]],
            }
    plan = refresh_plan(structure)
    named: dict[str, Any] = {}
    for name in book.names:
        if _bare(name.name) in plan["names"]:
            try:
                cells = name.refers_to_range
            except Exception:  # a name that is not a range (a constant or formula)
                continue
            value = await cells.options(ndim=2).get_value()
            named[_bare(name.name)] = [["" if v is None else v for v in row] for row in value]
    columns: dict[str, dict[str, list[Any]]] = {}
    for table in plan["tables"]:
        sheet = book.sheets[table["sheet"]]
        got: dict[str, list[Any]] = {column["id"]: [] for column in table["columns"]}
        first = 0
        while first < table["rows"]:
            count = min(table["chunk_rows"], table["rows"] - first)
            top = table["row"] + 2 + first  # the sheet's row number of the chunk's first row
            for column in table["columns"]:
                cells = sheet.range(
                    (top, column["index"] + 1), (top + count - 1, column["index"] + 1)
                )
                values = await cells.options(ndim=2).get_value()
                got[column["id"]].extend("" if row[0] is None else row[0] for row in values)
            first += count
        columns[table["name"]] = got
    return {"structure": structure, "named": named, "columns": columns}


async def refresh_book_async(book: Any, clock: Callable[[], dt.datetime] = utc_now) -> Report:
    """xlwings Lite's refresh: read in chunks, compute as ``kpi report`` does,
    write the report to a sheet of its own, then delete the old report and
    give the new one its name. The writes are xlwings actions that Lite runs
    once the script is done: if one fails, the old report is still there."""
    from addin.report.excel import write_book  # noqa: PLC0415

    data = await read_book_async(book)
    report, inputs = report_from_pane(data, clock)
    sheets = inputs.sheet_names()
    existing = [sheet for sheet in sheets if sheet in report_sheet_names()]
    target = existing[0] if existing else report.sheet_name
    temporary = temporary_name(target, sheets)
    write_book(book, report, into=temporary)
    if existing:
        book.sheets[target].delete()
    book.sheets[temporary].name = target
    return report
