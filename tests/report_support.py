"""Helpers for the report tests: a Book JSON as Office.js sends it, and the
report values read back from files with independent readers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries

from tests.addin_support import XLWINGS_VERSION

EPOCH = dt.datetime(1899, 12, 30)
FIXED_CLOCK = dt.datetime(2024, 7, 1, 8, 30)


def excel_value(value: Any) -> Any:
    """A cell value as Office.js sends it: dates are serial numbers, blanks ''."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return (value - EPOCH).total_seconds() / 86400
    if isinstance(value, dt.date):
        return float((value - EPOCH.date()).days)
    return value


def book_json(path: Path) -> dict[str, Any]:
    """The Book JSON that xlwings' Office.js client sends for a workbook file."""
    book = load_workbook(path, data_only=True)
    sheets = []
    for sheet in book.worksheets:
        values = [
            [excel_value(v) for v in row]
            for row in sheet.iter_rows(
                min_row=1, max_row=sheet.max_row, max_col=sheet.max_column, values_only=True
            )
        ]
        tables = []
        for table in sheet.tables.values():
            min_col, min_row, max_col, max_row = range_boundaries(table.ref)
            header = f"{sheet.cell(min_row, min_col).coordinate}:{sheet.cell(min_row, max_col).coordinate}"
            body = f"{sheet.cell(min_row + 1, min_col).coordinate}:{sheet.cell(max_row, max_col).coordinate}"
            tables.append(
                {
                    "name": table.name,
                    "range_address": table.ref,
                    "header_row_range_address": header,
                    "data_body_range_address": body,
                    "total_row_range_address": None,
                    "show_headers": True,
                    "show_totals": False,
                    "table_style": "TableStyleMedium2",
                    "show_autofilter": True,
                }
            )
        sheets.append(
            {"name": sheet.title, "values": values, "pictures": [], "tables": tables, "charts": []}
        )
    index = {sheet.title: i for i, sheet in enumerate(book.worksheets)}
    names = []
    for name, defined in book.defined_names.items():
        ((sheet_name, ref),) = list(defined.destinations)
        names.append(
            {
                "name": name,
                "sheet_index": index[sheet_name],
                "address": ref.replace("$", ""),
                "book_scope": True,
                "scope_sheet_name": None,
                "scope_sheet_index": None,
            }
        )
    return {
        "client": "Office.js",
        "version": XLWINGS_VERSION,
        "book": {"name": path.name, "active_sheet_index": 0, "selection": "A1"},
        "names": names,
        "sheets": sheets,
    }


def apply_set_values(actions: list[dict[str, Any]], position: int) -> dict[tuple[int, int], Any]:
    """The cells that the returned setValues actions write on one sheet."""
    cells: dict[tuple[int, int], Any] = {}
    for action in actions:
        if action["func"] == "setValues" and action["sheet_position"] == position:
            for r, row in enumerate(action["values"]):
                for c, value in enumerate(row):
                    cells[action["start_row"] + r, action["start_column"] + c] = value
    return cells


def starter_rows(business_type: str, as_of: dt.date, directory: Path) -> dict[str, Any]:
    """Sample table rows of a business type, from a starter workbook read by openpyxl."""
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415
    from tests.starter_reader import read_workbook  # noqa: PLC0415

    path = directory / f"{business_type}_source.xlsx"
    new_workbook(StarterOptions(business_type, "en", as_of=as_of), path)
    _, _, rows = read_workbook(path)
    return rows


def add_tables(book: Any, business_type: str, rows: dict[str, Any]) -> None:
    """Each table ``business_type`` reads, on a sheet of its own, through an
    XlsxWriter ``book``: a workbook that Excel's rules wrote, not the starter."""
    from addin.recipes import tables_for  # noqa: PLC0415

    for name, columns in tables_for(business_type).items():
        sheet = book.add_worksheet(name)
        data = [list(row) for row in zip(*(rows[name][c.id] for c in columns), strict=True)]
        sheet.add_table(
            0,
            0,
            len(data),
            len(columns) - 1,
            {"name": name, "columns": [{"header": c.id} for c in columns], "data": data},
        )


def kpi_table(values: list[list[Any]], ids: set[str]) -> dict[str, dict[str, Any]]:
    """The report sheet's KPI table, read back as plain values: per KPI id, its
    cells by column name (``addin.report.layout.KPI_COLUMNS``, and ``kpi``)."""
    from addin.report.layout import KPI_COLUMNS  # noqa: PLC0415

    keys = ("kpi", *KPI_COLUMNS)
    id_column = keys.index("id")
    return {
        row[id_column]: dict(zip(keys, row, strict=False))
        for row in values
        if len(row) > id_column and row[id_column] in ids
    }


def sheet_values(report: Any) -> list[list[Any]]:
    """The values of the report sheet that ``report`` lays out."""
    from addin.report.layout import lay_out  # noqa: PLC0415

    return lay_out(report).values()


def without_answers_in(rows: dict[str, Any], month: dt.date) -> dict[str, Any]:
    """The survey answers of ``month`` dropped: the NPS has no value that month."""
    survey = rows["Survey"]
    keep = [
        not (isinstance(day, dt.date) and (day.year, day.month) == (month.year, month.month))
        for day in survey["answered_on"]
    ]
    rows["Survey"] = {
        column: [v for v, k in zip(values, keep, strict=True) if k]
        for column, values in survey.items()
    }
    return rows
