"""One reading of CSV text: `kpi import` of a CSV file and `kpi report
--source` on a folder holding the same file read every cell alike.

A corpus of tricky cells (dates in forms no locale agrees on, the month
form, numbers with signs, exponents, decimal commas, NaN, currency and
percent signs, statuses with spaces and in capitals, errors) goes both ways:
`kpi import` into a starter workbook, then the workbook's table read back by
the report's reader and its data rules; and the folder opened as a source,
each column read by its ibis rule in DuckDB. The import loads every row,
and every cell must read the same in both.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from addin.cli import main
from addin.ooxml.package import open_package, read_data
from addin.recipes.ibis_forms import rule
from addin.recipes.tables import column
from addin.sources import open_source
from addin.starter import StarterOptions, new_workbook

TYPE = "songwriting"
AS_OF = dt.date(2024, 7, 15)
ORDERS = ("customer_id", "ordered_at", "delivered_at", "due_on", "status", "work_hours", "amount")
CLEAN = {
    "ordered_at": "2024-06-03 09:00",
    "delivered_at": "2024-06-20 10:30",
    "due_on": "2024-06-25",
    "status": "completed",
    "work_hours": "2",
    "amount": "100",
}
#: (column, cell): one tricky cell per row, the others clean.
TRICKY_ORDERS = [
    ("ordered_at", "2024/06/10"),
    ("ordered_at", "2024-11-5"),
    ("ordered_at", "10/06/2024"),
    ("ordered_at", "2024-02-31"),
    ("ordered_at", "2024-06-10T14:05:09.5+01:00"),
    ("ordered_at", "  2024-06-02  "),
    ("ordered_at", "\u00a02024-06-02"),
    ("ordered_at", "2024-06"),
    ("ordered_at", "45000"),
    ("ordered_at", "2024-06-02Z"),
    ("delivered_at", "2024-06-21T10:30:00"),
    ("delivered_at", "2024/06/21"),
    ("delivered_at", ""),
    ("due_on", "2024-06-05 12:00"),
    ("due_on", "5 June 2024"),
    ("due_on", "   "),
    ("status", " Completed "),
    ("status", "COMPLETED"),
    ("status", "#N/A"),
    ("status", "in progress"),
    ("status", "Terminé"),
    ("work_hours", "1e3"),
    ("work_hours", "+2"),
    ("work_hours", ".5"),
    ("work_hours", "nan"),
    ("work_hours", "inf"),
    ("work_hours", "1_000"),
    ("work_hours", "0x10"),
    ("work_hours", " 7 "),
    ("work_hours", "1 234"),
    ("work_hours", "5%"),
    ("work_hours", "-3"),
    ("work_hours", "1,5"),
    ("amount", "1.234,50"),
    ("amount", "€5"),
    ("amount", "1e999"),
    ("amount", "12."),
    ("amount", "-0"),
    ("amount", "Infinity"),
    ("amount", "1,234.50"),
]
#: The Social table's month column: the documented month form and others.
TRICKY_MONTHS = [
    "2025-01",
    "2025-1",
    "2025/01",
    "2025-01-15",
    "Jan 2025",
    " 2025-02 ",
    "2025-13",
    "01-2025",
    "",
]
#: (delimiter, encoding, language, header spellings): a plain file, and a
#: semicolon file in Windows-1252 for a French report (decimal commas),
#: whose header is written as people write it.
DIALECTS = {
    "comma-utf8-en": (",", "utf-8", "en", {}),
    "semicolon-cp1252-fr": (
        ";",
        "cp1252",
        "fr",
        {"customer_id": "Customer ID", "ordered_at": "ORDERED-AT", "work_hours": "WorkHours"},
    ),
}


def _write(
    path: Path, header: list[str], rows: list[list[str]], delimiter: str, encoding: str
) -> None:
    with path.open("w", newline="", encoding=encoding) as out:
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)


def _orders_rows() -> list[list[str]]:
    rows = []
    for number, (tricky, cell) in enumerate(TRICKY_ORDERS, start=1):
        cells = {"customer_id": f"R{number:02d}", **CLEAN, tricky: cell}
        rows.append([cells[name] for name in ORDERS])
    return rows


def _folder(tmp_path: Path, dialect: str) -> Path:
    delimiter, encoding, _, spelled = DIALECTS[dialect]
    folder = tmp_path / "source"
    folder.mkdir()
    _write(
        folder / "Orders.csv",
        [spelled.get(name, name) for name in ORDERS],
        _orders_rows(),
        delimiter,
        encoding,
    )
    _write(
        folder / "Social.csv",
        ["month", "engagements"],
        [[month, str(number)] for number, month in enumerate(TRICKY_MONTHS, start=1)],
        delimiter,
        encoding,
    )
    _write(
        folder / "Customers.csv",
        ["customer_id", "joined_on", "left_on", "acquired_via"],
        [],
        delimiter,
        encoding,
    )
    _write(folder / "Survey.csv", ["answered_on", "satisfaction"], [], delimiter, encoding)
    return folder


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-6
    return bool(a == b)


def _source_reads(
    folder: Path, language: str, table: str, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    source = open_source(str(folder), TYPE, language)
    try:
        tables = source.tables
        expr = tables[table].select(**{name: rule(tables, table, name) for name in columns})
        frame = expr.execute()
        return [
            {name: (None if _missing(row[name]) else _plain(row[name])) for name in columns}
            for row in frame.to_dict("records")
        ]
    finally:
        source.close()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) else value


def _imported_reads(
    tmp_path: Path, folder: Path, language: str, table: str, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    workbook = tmp_path / f"{table}.xlsx"
    new_workbook(StarterOptions(TYPE, language, empty=True, as_of=AS_OF), workbook, force=True)
    result = CliRunner().invoke(
        main, ["import", str(workbook), str(folder / f"{table}.csv"), "--table", table]
    )
    assert result.exit_code == 0, result.output
    period = dt.date(2024, 6, 1) if table == "Orders" else dt.date(2025, 1, 1)
    rows = read_data(open_package(workbook), period).rows[table]
    read = {name: rows.read(name, column(table, name).kind) for name in columns}
    return [{name: read[name][i] for name in columns} for i in range(rows.height)]


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_import_and_source_read_every_tricky_order_cell_alike(tmp_path: Path, dialect: str) -> None:
    language = DIALECTS[dialect][2]
    folder = _folder(tmp_path, dialect)
    source = {row["customer_id"]: row for row in _source_reads(folder, language, "Orders", ORDERS)}
    imported = {
        row["customer_id"]: row
        for row in _imported_reads(tmp_path, folder, language, "Orders", ORDERS)
    }
    assert len(source) == len(TRICKY_ORDERS)
    # The import loads every row, as a paste would: each cell reads the same.
    assert set(imported) == set(source)
    for number, (_, cell) in enumerate(TRICKY_ORDERS, start=1):
        key = f"r{number:02d}"
        got = source[key]
        for name in ORDERS:
            assert _same(got[name], imported[key][name]), (cell, name, got, imported[key])
    # What the documented rules say of a few, in both.
    by_cell = {cell: f"r{n:02d}" for n, (_, cell) in enumerate(TRICKY_ORDERS, start=1)}
    for never_guessed in ("2024/06/10", "2024-11-5", "10/06/2024", "2024-06", "45000"):
        assert source[by_cell[never_guessed]]["ordered_at"] is None, never_guessed
        assert imported[by_cell[never_guessed]]["ordered_at"] is None, never_guessed
    comma = source[by_cell["1,5"]]["work_hours"]
    assert comma == (1.5 if language == "fr" else None)
    assert source[by_cell[" Completed "]]["status"] == "completed"
    assert source[by_cell["Terminé"]]["status"] == "terminé"


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_import_and_source_read_the_month_form_alike(tmp_path: Path, dialect: str) -> None:
    language = DIALECTS[dialect][2]
    folder = _folder(tmp_path, dialect)
    columns = ("month", "engagements")
    source = {row["engagements"]: row for row in _source_reads(folder, language, "Social", columns)}
    imported = {
        row["engagements"]: row
        for row in _imported_reads(tmp_path, folder, language, "Social", columns)
    }
    assert len(source) == len(TRICKY_MONTHS)
    assert set(imported) == set(source)
    for number, cell in enumerate(TRICKY_MONTHS, start=1):
        got = source[float(number)]
        assert _same(got["month"], imported[float(number)]["month"]), (cell, got)
    january = source[float(TRICKY_MONTHS.index("2025-01") + 1)]["month"]
    assert january == 45658.0  # 2025-01-01
    for never_guessed in ("2025-1", "2025/01", "Jan 2025", "01-2025"):
        assert source[float(TRICKY_MONTHS.index(never_guessed) + 1)]["month"] is None
