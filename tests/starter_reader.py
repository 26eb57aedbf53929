"""An independent reader of starter workbooks, for the tests.

openpyxl reads the data tables by name (wherever their sheets are), the
named cells and settings, and each KPI's recipe computes it with the engine:
a second path beside the report's calamine reader, to check one against the
other, and to read back what LibreOffice recalculated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

import kpi_engine
from addin.recipes import TableRows, month_shift, recipe_for, tables_for
from kpi_engine._inputs import to_serial


@dataclass(frozen=True)
class KPIValue:
    kpi_id: str
    title: str
    unit: str
    value: float | None
    band: str | None
    why_undefined: str = ""


def named_value(book: Any, name: str) -> Any:
    if name not in book.defined_names:
        return None
    ((sheet, ref),) = list(book.defined_names[name].destinations)
    return book[sheet][ref.replace("$", "")].value


def read_tables(book: Any, business_type: str) -> dict[str, Any]:
    """Each table the business type needs, as columns, found by its name.

    openpyxl reads an error cell as its text (#N/A), as the data rules want."""
    rows: dict[str, Any] = {}
    wanted = tables_for(business_type)
    for sheet in book.worksheets:
        for name, ref in sheet.tables.items():
            if name in wanted:
                cells = list(sheet[ref])
                header = [c.value for c in cells[0]]
                rows[name] = TableRows(
                    {h: [row[i].value for row in cells[1:]] for i, h in enumerate(header)},
                    first_row=cells[0][0].row + 1,
                )
    assert set(rows) == set(wanted), f"tables found {sorted(rows)}, expected {sorted(wanted)}"
    return rows


def read_workbook(path: Path) -> tuple[str, dt.date, dict[str, Any]]:
    """The business type, the reporting month and the table rows of a workbook."""
    book = load_workbook(path, data_only=True)
    business_type = book.properties.subject
    kpi_engine.get_business_type(business_type, "starter_reader", "workbook subject")
    period = named_value(book, "PERIOD")
    if not isinstance(period, dt.date):
        raise ValueError(f"{path}: the named cell PERIOD holds {period!r}; expected a date")
    rows: dict[str, Any] = read_tables(book, business_type)
    margin = named_value(book, "GROSS_MARGIN")
    if margin is not None:
        rows["Settings"] = TableRows({"GROSS_MARGIN": [margin]})
    return business_type, dt.date(period.year, period.month, 1), rows


def compute(path: Path, language: str = "en") -> tuple[str, dt.date, list[KPIValue]]:
    business_type, period, rows = read_workbook(path)
    profile = kpi_engine.get_business_type(business_type)
    start = to_serial("starter_reader", "period", period)
    end = month_shift(start, 1)
    results = []
    for entry in profile.kpis:
        try:
            value: float | None = recipe_for(business_type, entry.id).compute(rows, start, end)
            band = kpi_engine.benchmark_band(entry.id, value, business_type)
            why = ""
        except kpi_engine.KPIUndefinedError as undefined:
            value, band, why = None, None, undefined.reason
        results.append(KPIValue(entry.id, entry.title[language], entry.unit, value, band, why))
    return business_type, period, results
