"""The report inside Excel, through the xlwings Book API.

The same code runs for every xlwings engine: the Office.js task pane served
by ``kpi serve`` (xlwings Server), classic xlwings on Windows (COM,
``RunPython``) and xlwings Lite. It reads only the named cells it needs and
the data bodies of the tables the business type's KPIs read, then writes
the report sheet as values with their number formats.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from addin.ooxml import dates
from addin.recipes import TableRows
from addin.report import charts
from addin.report.model import Report, ReportInputs, build_report, report_sheet_names, utc_now
from addin.report.package import read_inputs

#: Excel number format codes of the report's formats.
NUMBER_FORMATS = {
    "integer": "#,##0",
    "decimal": "#,##0.00",
    "percent": "0.00%",
    "month": "mmm yyyy",
    "datetime": "yyyy-mm-dd hh:mm",
}


def _bare(name: str) -> str:
    return name.rsplit("!", 1)[-1]


def _named_value(book: Any, names: dict[str, Any], name: str) -> Any:
    found = names.get(name)
    if found is None:
        return None
    try:
        value = found.refers_to_range.value
    except Exception:  # a name that is not a range (a constant or formula)
        return None
    return None if value == "" else value


class BookInputs:
    """A workbook open in Excel, through xlwings (any engine), as an ``InputSource``."""

    # Office.js and COM hand dates over as values already; a 1904 workbook's
    # plain serial numbers are not told apart here.
    date1904 = False
    subject = ""
    language = ""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.where = f"workbook {book.name}"
        self._names = {_bare(name.name): name for name in book.names}
        self._tables: dict[str, Any] = {}
        for sheet in book.sheets:
            for table in sheet.tables:
                self._tables[table.name] = table
        self._columns: dict[str, list[str]] = {}
        for name, table in self._tables.items():
            header = table.header_row_range
            self._columns[name] = (
                [] if header is None else [str(c) for c in header.options(ndim=2).value[0]]
            )

    def names(self) -> list[str]:
        return list(self._names)

    def sheet_names(self) -> list[str]:
        return [sheet.name for sheet in self.book.sheets]

    def tables(self) -> dict[str, list[str]]:
        return self._columns

    def load(self, tables: Any, names: Any) -> None:
        """Nothing to gather first: each table is read when asked for."""

    def table_rows(self, name: str, columns: Any) -> TableRows:
        table = self._tables[name]
        body = table.data_body_range
        values = [] if body is None else body.options(ndim=2).value
        index = {column: i for i, column in enumerate(self._columns[name])}
        return TableRows(
            {
                c.id: [None if row[index[c.id]] == "" else row[index[c.id]] for row in values]
                for c in columns
            },
            first_row=table.range.row + 1 if body is None else body.row,
        )

    def named(self, name: str) -> Any:
        return _named_value(self.book, self._names, name)


def read_book(book: Any, period: dt.date | None = None) -> ReportInputs:
    """The report's inputs from an xlwings Book (any engine)."""
    data = read_inputs(BookInputs(book), period)
    return ReportInputs(data.business_type, data.language, data.period, data.rows, data.targets)


def _excel_value(value: Any) -> Any:
    # Dates go in as 1900-system serials; the number formats set below show them as dates.
    if isinstance(value, dt.date):
        return dates.to_serial(value)
    return value


def write_book(book: Any, report: Report) -> Any:
    """Write the report sheet (replacing an earlier one) through the Book API."""
    existing = [sheet.name for sheet in book.sheets if sheet.name in report_sheet_names()]
    if existing:
        sheet = book.sheets[existing[0]]
        sheet.clear()
    else:
        sheet = book.sheets.add(name=report.sheet_name, after=book.sheets[len(book.sheets) - 1])
    values = [[_excel_value(v) for v in row] for row in report.values()]
    sheet["A1"].value = values
    for r, row in enumerate(report.grid, start=1):
        c = 0
        while c < len(row):
            cell = row[c]
            fmt = None if cell is None else NUMBER_FORMATS.get(cell.fmt)
            if fmt is None:
                c += 1
                continue
            end = c
            while (
                end + 1 < len(row)
                and row[end + 1] is not None
                and NUMBER_FORMATS.get(row[end + 1].fmt) == fmt  # type: ignore[union-attr]
            ):
                end += 1
            sheet.range((r, c + 1), (r, end + 1)).number_format = fmt
            c = end + 1
    add_charts(sheet, report)
    return sheet


#: Size of a KPI chart in points, and how many rows it takes on the sheet.
_CHART_WIDTH, _CHART_HEIGHT, _CHART_ROWS = 360, 220, 15


def add_charts(sheet: Any, report: Report) -> None:
    """One line chart per KPI over the report's trend table, where missing.

    Charts already on the report sheet (from an earlier refresh, in Excel or
    by ``kpi refresh``, which names them the same way) keep reading the same
    cells, so they are left as they are.
    """
    present = {chart.name for chart in sheet.charts}
    layout = charts.trend_layout(report)
    for index, _kpi in enumerate(report.kpis):
        name = f"KPI chart {index + 1}"
        if name in present:
            continue
        column = layout.columns[index]
        # The KPI's title heads its column, so it becomes the chart's title.
        source = sheet.range(
            f"{column}{layout.first_month_row - 1}:{column}{layout.last_month_row}"
        )
        anchor = sheet.range(
            (len(report.grid) + 2 + (index // 2) * _CHART_ROWS, 1 + (index % 2) * 6)
        )
        try:
            # xlwings Server and xlwings Lite: Office.js makes the chart from type and data.
            sheet.charts.add(
                0,
                0,
                _CHART_WIDTH,
                _CHART_HEIGHT,
                chart_type="line",
                source=source,
                name=name,
                anchor=anchor,
            )
        except TypeError:
            # Classic xlwings (COM) places a chart by position, then sets it up.
            chart = sheet.charts.add(anchor.left, anchor.top, _CHART_WIDTH, _CHART_HEIGHT)
            chart.chart_type = "line"
            chart.set_source_data(source)
            chart.name = name


def refresh_book(
    book: Any, period: dt.date | None = None, clock: Callable[[], dt.datetime] = utc_now
) -> Report:
    report = build_report(read_book(book, period), clock)
    write_book(book, report)
    return report
