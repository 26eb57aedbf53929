"""Workbook tables as a database holds them, and the real engines the tests use.

``typed_tables`` turns the cells of a workbook's tables (as ``read_data``
reads them: numbers, text, dates, errors, blanks) into typed Arrow tables,
one column type per column kind, as an export from the workbook into a
database would: ids and statuses as text, dates as timestamps, numbers as
doubles. A cell that does not fit its column's type (a date typed as text,
a number stored as text, an error value in a number column) becomes a value
of that type that the data rules leave out and the data notes count, as the
workbook's rules do: NaN in a number column, 1899-12-30 (a day no workbook
holds) in a date column. A blank is NULL.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from addin.recipes import tables_for
from addin.recipes.tables import column
from kpi_engine._cells import date_serial, is_blank, number_text, number_value
from kpi_engine.excel_dates import from_serial

NO_DATE = dt.datetime(1899, 12, 30)
_DATE_KINDS = ("date", "datetime", "month")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)  # an ExcelError as its text, as Office.js gives it
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    number = number_value(value)
    return None if number is None else number_text(number)


def _moment(value: Any) -> dt.datetime | None:
    if is_blank(value):
        return None
    serial = date_serial(value) if not isinstance(value, str) else None
    return NO_DATE if serial is None else from_serial(serial)


def _number(value: Any) -> float | None:
    if is_blank(value):
        return None
    if isinstance(value, str | bool):
        return math.nan
    number = number_value(value)
    return math.nan if number is None else number


def typed_column(table: str, column_id: str, cells: Sequence[Any]) -> pa.Array:
    kind = column(table, column_id).kind
    if kind in ("id", "text", "choice"):
        return pa.array([_text(v) for v in cells], pa.string())
    if kind in _DATE_KINDS:
        return pa.array([_moment(v) for v in cells], pa.timestamp("us"))
    return pa.array([_number(v) for v in cells], pa.float64(), from_pandas=False)


def typed_tables(
    business_type: str, rows: Mapping[str, Mapping[str, Sequence[Any]]]
) -> dict[str, pa.Table]:
    """The type's tables, typed, with the columns the workbook has."""
    found = {}
    for table, columns in tables_for(business_type).items():
        data = rows.get(table)
        if data is None:
            continue
        found[table] = pa.table(
            {c.id: typed_column(table, c.id, data[c.id]) for c in columns if c.id in data}
        )
    return found


def write_parquet_folder(tables: Mapping[str, pa.Table], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    return folder


def duckdb_tables(tables: Mapping[str, pa.Table]) -> tuple[Any, dict[str, Any]]:
    """An embedded DuckDB holding the tables, and its ibis tables."""
    import ibis  # noqa: PLC0415

    con = ibis.duckdb.connect()
    return con, {name: con.create_table(name, table) for name, table in tables.items()}


def export_text(value: Any, decimal: str = ".") -> str:
    """A cell as a CSV export writes it: ISO dates, plain numbers (a whole
    number without decimals, ``decimal`` as the decimal separator), text."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float | int):
        return repr(value).replace(".", decimal)
    return str(value)


def write_csv_folder(tables: Mapping[str, pa.Table], folder: Path) -> Path:
    """The tables as CSV files, written by Python's csv module (not by us):
    lower-case file names, ISO dates, plain numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        with (folder / f"{name.lower()}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(table.column_names)
            for row in table.to_pylist():
                writer.writerow([export_text(v) for v in row.values()])
    return folder


def starter_rows(business_type: str, folder: Path, as_of: dt.date) -> Any:
    """The rows of the tables of ``kpi new business_type`` (English, sample data as of
    ``as_of``), written in ``folder`` and read back as a report reads them."""
    from addin.ooxml.package import open_package, read_data  # noqa: PLC0415
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    path = new_workbook(
        StarterOptions(business_type, "en", as_of=as_of), folder / f"{business_type}.xlsx"
    )
    package = open_package(path)
    try:
        return read_data(package).rows
    finally:
        package.close()
