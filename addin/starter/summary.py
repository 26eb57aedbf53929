"""Compute a workbook's KPIs with the engine, from its own tables.

Reads the data tables by name (wherever their sheets are), the reporting
period and settings, and runs each KPI's recipe: the same computation the
workbook's formulas make. ``python -m addin.starter.summary FILE`` prints
them.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

import kpi_engine
from kpi_engine._inputs import to_serial

from .model import month_shift, recipe_for, tables_for


@dataclass(frozen=True)
class KPIValue:
    kpi_id: str
    title: str
    unit: str
    value: float | None
    band: str | None
    why_undefined: str = ""


def _named_value(book: Any, name: str) -> Any:
    if name not in book.defined_names:
        return None
    ((sheet, ref),) = list(book.defined_names[name].destinations)
    return book[sheet][ref.replace("$", "")].value


def read_workbook(path: Path) -> tuple[str, dt.date, dict[str, Any]]:
    """The business type, the reporting month and the table rows of a workbook."""
    book = load_workbook(path, data_only=True)
    business_type = book.properties.subject
    kpi_engine.get_business_type(business_type, "summary", "workbook subject")
    period = _named_value(book, "PERIOD")
    if not isinstance(period, dt.date):
        raise ValueError(f"{path}: the named cell PERIOD holds {period!r}; expected a date")
    rows: dict[str, Any] = {}
    wanted = tables_for(business_type)
    for sheet in book.worksheets:
        for name, ref in sheet.tables.items():
            if name in wanted:
                cells = list(sheet[ref])
                header = [c.value for c in cells[0]]
                rows[name] = {h: [row[i].value for row in cells[1:]] for i, h in enumerate(header)}
    margin = _named_value(book, "GROSS_MARGIN")
    if margin is not None:
        rows["Settings"] = {"GROSS_MARGIN": [margin]}
    return business_type, dt.date(period.year, period.month, 1), rows


def compute(path: Path, language: str = "en") -> tuple[str, dt.date, list[KPIValue]]:
    business_type, period, rows = read_workbook(path)
    profile = kpi_engine.get_business_type(business_type)
    start = to_serial("summary", "period", period)
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


def main(argv: list[str]) -> int:
    path = Path(argv[0])
    business_type, period, results = compute(path)
    print(f"{path.resolve()}\n{business_type}, {period:%B %Y}\n")
    for result in results:
        shown = (
            "-"
            if result.value is None
            else (f"{result.value:.1%}" if result.unit == "fraction" else f"{result.value:,.2f}")
        )
        band = result.band or f"undefined: {result.why_undefined}"
        print(f"  {result.title:<45} {shown:>12}  {band}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
