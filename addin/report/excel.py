"""The report inside Excel, through the xlwings Book API.

``write_book`` writes the report sheet, as values with their number formats,
for every xlwings engine: the Office.js task pane served by ``kpi serve``
(xlwings Server), classic xlwings on Windows (COM, ``RunPython``) and xlwings
Lite. ``read_book`` reads the named cells and the data bodies of the tables
the business type's KPIs read from a book xlwings has read whole: classic
xlwings. The task pane and xlwings Lite read in chunks instead, under Excel
on the web's 5 MB per call (``addin.report.pane``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from addin.ooxml import dates
from addin.ooxml.package import WorkbookData, read_inputs
from addin.ooxml.widths import column_pixels
from addin.recipes import TableRows
from addin.report import charts
from addin.report.layout import GENERAL, Cell, SheetLayout, lay_out
from addin.report.model import Report, ReportInputs, build_report, report_sheet_names, utc_now
from addin.styles import STYLES, Style


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


def report_inputs(data: WorkbookData) -> ReportInputs:
    """The report's inputs from what ``read_inputs`` read."""
    return ReportInputs(
        data.business_type, data.language, data.period, data.rows, data.targets, data.currency
    )


def read_book(book: Any, period: dt.date | None = None) -> ReportInputs:
    """The report's inputs from an xlwings Book (any engine)."""
    return report_inputs(read_inputs(BookInputs(book), period))


def _excel_value(value: Any) -> Any:
    # Dates go in as 1900-system serials; the number formats set below show them as dates.
    if isinstance(value, dt.date):
        return dates.to_serial(value)
    return value


def _runs(
    row: tuple[Cell | None, ...], key: Callable[[Cell], Any]
) -> Iterator[tuple[int, int, Any]]:
    """(first column, last column, key) of each run of cells in a row with the
    same key (0-based columns; empty cells end a run)."""
    column = 0
    while column < len(row):
        cell = row[column]
        if cell is None:
            column += 1
            continue
        wanted = key(cell)
        end = column
        while end + 1 < len(row) and row[end + 1] is not None and key(row[end + 1]) == wanted:  # type: ignore[arg-type]
            end += 1
        yield column, end, wanted
        column = end + 1


def _apply_style(target: Any, style: Style) -> None:
    """One style of ``addin.styles`` through the Book API, on a range."""
    font = target.font
    if style.bold:
        font.bold = True
    if style.italic:
        font.italic = True
    if style.size != Style().size:
        font.size = style.size
    if style.color is not None:
        font.color = f"#{style.color}"
    if style.fill is not None:
        target.color = f"#{style.fill}"
    if style.wrap:
        target.wrap_text = True
    if style.horizontal is not None:
        target.horizontal_alignment = style.horizontal
    if style.vertical is not None:
        target.vertical_alignment = style.vertical


def _column_width(book: Any, width: float) -> float:
    """A layout width (characters) in the unit of the engine's column widths:
    points on Office.js and in xlwings Lite, characters in classic Excel (COM)."""
    if book.app.engine.name == "remote":
        return column_pixels(width) * 0.75
    return width


def write_book(book: Any, report: Report, into: str | None = None) -> Any:
    """Write the report sheet (replacing an earlier one) through the Book API:
    values, number formats, styles, column widths, row heights, merged cells
    and the charts, as the layout says (``addin.report.layout``). With
    ``into``, the report goes to a new sheet of that name, just before the
    report it is to replace, else last."""
    layout = lay_out(report)
    existing = [sheet.name for sheet in book.sheets if sheet.name in report_sheet_names()]
    if into is not None:
        # Beside the report it is to replace (xlwings' ``before=`` lands one
        # sheet too far left on the remote engine: ``after=`` the one before).
        where = book.sheets[existing[0]].index if existing else len(book.sheets) + 1
        sheet = (
            book.sheets.add(name=into, before=book.sheets[0])
            if where == 1
            else book.sheets.add(name=into, after=book.sheets[where - 2])
        )
    elif existing:
        sheet = book.sheets[existing[0]]
        used = sheet.used_range
        sheet.clear()
        # Cells merged by an earlier refresh stay merged through a clear.
        sheet.range((1, 1), (max(used.last_cell.row, 1), max(used.last_cell.column, 1))).unmerge()
    else:
        sheet = book.sheets.add(name=report.sheet_name, after=book.sheets[len(book.sheets) - 1])
    sheet["A1"].value = [[_excel_value(v) for v in row] for row in layout.values()]
    for r, row in enumerate(layout.grid, start=1):
        for first, last, fmt in _runs(row, lambda cell: cell.fmt):
            if fmt != GENERAL:
                sheet.range((r, first + 1), (r, last + 1)).number_format = fmt
        for first, last, name in _runs(row, lambda cell: cell.style):
            if name != "plain":
                _apply_style(sheet.range((r, first + 1), (r, last + 1)), STYLES[name])
    for column, width in enumerate(layout.widths, start=1):
        sheet.range((1, column)).column_width = _column_width(book, width)
    for row, height in sorted(layout.heights.items()):
        sheet.range((row, 1)).row_height = height
    for row, first, last in layout.merges:
        sheet.range((row, first + 1), (row, last + 1)).merge()
    add_charts(sheet, report, layout)
    return sheet


def add_charts(sheet: Any, report: Report, layout: SheetLayout) -> None:
    """One line chart per KPI over the report's trend table, where missing.

    Charts already on the report sheet (from an earlier refresh, in Excel or
    by ``kpi refresh``, which names them the same way) keep reading the same
    cells, so they are left as they are.
    """
    present = {chart.name for chart in sheet.charts}
    for index, place in enumerate(layout.charts):
        name = f"KPI chart {index + 1}"
        if name in present:
            continue
        # The KPI's title heads its column, so it becomes the chart's title.
        source = sheet.range(charts.series_range(layout, index).replace("$", ""))
        width, height = place.width * 0.75, place.height * 0.75
        try:
            # xlwings Server and xlwings Lite: Office.js makes the chart from type and data.
            sheet.charts.add(
                place.left,
                place.top,
                width,
                height,
                chart_type="line",
                source=source,
                name=name,
            )
        except TypeError:
            # Classic xlwings (COM) places a chart by position, then sets it up.
            chart = sheet.charts.add(place.left, place.top, width, height)
            chart.chart_type = "line"
            chart.set_source_data(source)
            chart.name = name


def refresh_book(
    book: Any, period: dt.date | None = None, clock: Callable[[], dt.datetime] = utc_now
) -> Report:
    report = build_report(read_book(book, period), clock)
    write_book(book, report)
    return report
