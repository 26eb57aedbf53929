"""A starter workbook as a list of parts to write into an open workbook.

The task pane's "Start a KPI workbook here" writes what ``kpi new`` would
write, into the workbook that is open in Excel, through xlwings' Book API
(``addin.scripts.start_workbook``). The content is not derived a second
time: the workbook is built by ``build.build_workbook``, the very code of
``kpi new``, and read back with openpyxl. Its sheets, cells (values, native
formulas, number formats, fonts and fills), defined names, tables, data
validations, conditional formats and charts become a ``StarterPlan``; the
data rows come straight from the builder's ``SheetRows``.

Office.js limits one request to Excel to 5 MB, and ranges past a few million
cells fail, so the plan is written in steps: the sheets first, then the data
rows in chunks of at most ``CHUNK_BYTES`` of JSON and ``CHUNK_CELLS`` cells,
then the tables, rules, formulas and charts. Each step is one call to the
server and one answer, both well under 5 MB.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from addin.ooxml.formulas import shown_formula
from addin.recipes import tables_for

from .build import DATE_FORMATS, StarterOptions, build_workbook

#: The most JSON one step of data rows carries: well under Office.js' 5 MB
#: per request, with room for the action's own keys.
CHUNK_BYTES = 3_000_000
#: The most cells one step of data rows writes (Excel's range limit is 5 million).
CHUNK_CELLS = 1_000_000
#: Office.js sends dates as serial numbers in the 1900 date system.
_EPOCH = dt.datetime(1899, 12, 30)
_POINTS_PER_EMU = 72 / 914_400


def excel_serial(value: Any) -> Any:
    """A cell value as Office.js writes it: dates and times as serial numbers."""
    if isinstance(value, dt.datetime):
        return (value - _EPOCH).total_seconds() / 86400
    if isinstance(value, dt.date):
        return float((value - _EPOCH.date()).days)
    return value


@dataclass(frozen=True)
class Cell:
    row: int  # 1-based, as in openpyxl
    column: int
    value: Any  # a number, text or None; formulas are in ``formula``
    formula: str | None  # as Excel shows it, with its "="
    number_format: str
    bold: bool = False
    italic: bool = False
    font_color: str | None = None
    fill: str | None = None
    wrap: bool = False
    horizontal: str | None = None  # openpyxl's: center, left...
    vertical: str | None = None
    size: float | None = None  # the font's, where it is not the workbook's 11


@dataclass(frozen=True)
class Table:
    sheet: str
    name: str
    ref: str
    columns: tuple[str, ...]
    style: str


@dataclass(frozen=True)
class Validation:
    sheet: str
    ref: str
    type: str  # openpyxl's: list, whole, decimal, date
    operator: str | None
    formula1: str | None
    formula2: str | None
    #: Office.js, in the task pane (the Book API sets the rule only).
    allow_blank: bool
    show_error: bool


@dataclass(frozen=True)
class ConditionalFormat:
    sheet: str
    ref: str
    kind: str  # "cell_value" or "custom"
    operator: str | None
    formula: str
    fill: str | None
    font_color: str | None
    bold: bool | None


@dataclass(frozen=True)
class Chart:
    sheet: str
    title: str
    series: str  # the series' values, header included, as A1 on its sheet
    categories: str
    anchor: str
    width: float  # points
    height: float
    legend: bool
    category_format: str | None
    value_format: str | None
    #: What the Book API has no action for (Office.js, in the task pane):
    #: plot the data although its columns are hidden, and leave a gap at #N/A.
    plot_visible_only: bool
    display_blanks: str  # openpyxl's: gap, zero, span


@dataclass(frozen=True)
class Sheet:
    name: str
    cells: tuple[Cell, ...]
    column_widths: tuple[tuple[int, float], ...]
    hidden_columns: tuple[int, ...]
    merged: tuple[str, ...]
    freeze: str | None
    row_heights: tuple[tuple[int, float], ...]
    #: The page setup (Office.js, in the task pane: the Book API has no action).
    orientation: str | None
    fit_width: int | None
    fit_height: int | None
    print_title_rows: str | None


@dataclass(frozen=True)
class DataRows:
    """A data table's rows below its header: each row's values as Office.js
    takes them (dates as serials), and each column's number format."""

    sheet: str
    rows: list[list[Any]]
    number_formats: tuple[str | None, ...]


@dataclass(frozen=True)
class Chunk:
    sheet: str
    first: int  # index into DataRows.rows
    stop: int


@dataclass
class StarterPlan:
    options: StarterOptions
    sheets: list[Sheet]
    names: list[tuple[str, str]]
    tables: list[Table]
    validations: list[Validation]
    conditional_formats: list[ConditionalFormat]
    charts: list[Chart]
    data: dict[str, DataRows]
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def sheet_names(self) -> list[str]:
        return [sheet.name for sheet in self.sheets]


def _colour(color: Any) -> str | None:
    rgb = getattr(color, "rgb", None)
    if not isinstance(rgb, str) or len(rgb) != 8:
        return None
    return "#" + rgb[2:]


def _size(font: Any) -> float | None:
    return None if font.sz in (None, 11) else float(font.sz)


def _cells(worksheet: Any) -> tuple[Cell, ...]:
    cells = []
    for row in worksheet.iter_rows():
        for cell in row:
            value = cell.value
            formula = None
            if hasattr(value, "text"):  # an ArrayFormula: Excel 365 spills it alike
                formula = "=" + shown_formula(value.text.lstrip("="))
                value = None
            elif isinstance(value, str) and cell.data_type == "f":
                formula = "=" + shown_formula(value.lstrip("="))
                value = None
            font = cell.font
            fill = cell.fill
            aligned = cell.alignment
            styled = bool(
                font.b
                or font.i
                or fill.fill_type == "solid"
                or aligned.wrap_text
                or aligned.horizontal
                or aligned.vertical
                or _size(font) is not None
                # A cell that a formula above spills into shows its format.
                or cell.number_format != "General"
            )
            if value is None and formula is None and not styled:
                continue
            cells.append(
                Cell(
                    cell.row,
                    cell.column,
                    excel_serial(value),
                    formula,
                    cell.number_format,
                    bool(font.b),
                    bool(font.i),
                    _colour(font.color) if font.color is not None else None,
                    _colour(fill.fgColor) if fill.fill_type == "solid" else None,
                    bool(aligned.wrap_text),
                    aligned.horizontal,
                    aligned.vertical,
                    _size(font),
                )
            )
    return tuple(cells)


def _chart(sheet: str, chart: Any) -> Chart:
    (series,) = chart.series
    title = "".join(run.t for paragraph in chart.title.tx.rich.p for run in paragraph.r or ())
    marker = chart.anchor._from
    anchor = f"{get_column_letter(marker.col + 1)}{marker.row + 1}"
    return Chart(
        sheet,
        title,
        _local(series.val.numRef.f, series.tx.strRef.f),
        _local(series.cat.numRef.f),
        anchor,
        chart.anchor.ext.width * _POINTS_PER_EMU,
        chart.anchor.ext.height * _POINTS_PER_EMU,
        chart.legend is not None,
        chart.x_axis.numFmt.formatCode if chart.x_axis.numFmt else None,
        chart.y_axis.numFmt.formatCode if chart.y_axis.numFmt else None,
        bool(chart.visible_cells_only),
        chart.display_blanks or "gap",
    )


def _local(reference: str, header: str | None = None) -> str:
    """'Trend'!$L$4:$L$15 as L4:L15 (with the header cell L3 when given)."""
    area = reference.rsplit("!", 1)[1].replace("$", "")
    if header is not None:
        top = header.rsplit("!", 1)[1].replace("$", "")
        area = f"{top}:{area.split(':')[1]}"
    return area


def _conditional_formats(name: str, worksheet: Any) -> list[ConditionalFormat]:
    found = []
    for area, rules in worksheet.conditional_formatting._cf_rules.items():
        for rule in rules:
            style = rule.dxf
            fill = _colour(style.fill.bgColor) if style and style.fill else None
            font_color = _colour(style.font.color) if style and style.font else None
            bold = bool(style.font.b) if style and style.font and style.font.b else None
            formula = "=" + shown_formula(rule.formula[0].removeprefix("="))
            found.append(
                ConditionalFormat(
                    name,
                    str(area.sqref),
                    "cell_value" if rule.type == "cellIs" else "custom",
                    rule.operator,
                    formula,
                    fill,
                    font_color,
                    bold,
                )
            )
    return found


def _fits(worksheet: Any) -> bool:
    properties = worksheet.sheet_properties.pageSetUpPr
    return bool(properties is not None and properties.fitToPage)


def _plan(options: StarterOptions) -> StarterPlan:
    options = options.checked()
    book = build_workbook(options)
    raw = io.BytesIO()
    # openpyxl's own package: the data sheets hold their header only (the
    # rows are ``book.data_rows``), so reading it back is quick.
    book.workbook.save(raw)
    read = load_workbook(io.BytesIO(raw.getvalue()))
    sheets = []
    validations: list[Validation] = []
    conditional_formats: list[ConditionalFormat] = []
    tables: list[Table] = []
    charts: list[Chart] = []
    data: dict[str, DataRows] = {}
    for position, worksheet in enumerate(read.worksheets, start=1):
        name = worksheet.title
        widths = tuple(
            (index, dimension.width)
            for key, dimension in sorted(worksheet.column_dimensions.items())
            if dimension.width
            for index in range(dimension.min or 1, (dimension.max or dimension.min or 1) + 1)
        )
        hidden = tuple(
            index
            for key, dimension in sorted(worksheet.column_dimensions.items())
            if dimension.hidden
            for index in range(dimension.min or 1, (dimension.max or dimension.min or 1) + 1)
        )
        sheets.append(
            Sheet(
                name,
                _cells(worksheet),
                widths,
                hidden,
                tuple(str(area) for area in worksheet.merged_cells.ranges),
                worksheet.freeze_panes,
                tuple(
                    (row, dimension.height)
                    for row, dimension in sorted(worksheet.row_dimensions.items())
                    if dimension.height
                ),
                worksheet.page_setup.orientation,
                worksheet.page_setup.fitToWidth if _fits(worksheet) else None,
                worksheet.page_setup.fitToHeight if _fits(worksheet) else None,
                worksheet.print_title_rows,
            )
        )
        for rule in worksheet.data_validations.dataValidation:
            for area in str(rule.sqref).split():
                validations.append(
                    Validation(
                        name,
                        area,
                        rule.type,
                        rule.operator,
                        rule.formula1,
                        rule.formula2,
                        bool(rule.allow_blank),
                        bool(rule.showErrorMessage),
                    )
                )
        conditional_formats += _conditional_formats(name, worksheet)
        for table in worksheet.tables.values():
            tables.append(
                Table(
                    name,
                    table.displayName,
                    table.ref,
                    tuple(column.name for column in table.tableColumns),
                    table.tableStyleInfo.name,
                )
            )
        charts += [_chart(name, chart) for chart in worksheet._charts]
        rows = book.data_rows.get(f"xl/worksheets/sheet{position}.xml")
        if rows is not None:
            (table,) = worksheet.tables.values()
            columns = tables_for(options.business_type)[table.displayName]
            data[name] = DataRows(
                name,
                [[excel_serial(value) for value in row] for row in zip(*rows.columns, strict=True)],
                tuple(DATE_FORMATS.get(column.kind) for column in columns),
            )
    names = [(name, defined.attr_text) for name, defined in read.defined_names.items()]
    plan = StarterPlan(
        options, sheets, names, tables, validations, conditional_formats, charts, data
    )
    plan.chunks = chunked(plan.data)
    return plan


def chunked(
    data: dict[str, DataRows], max_bytes: int = CHUNK_BYTES, max_cells: int = CHUNK_CELLS
) -> list[Chunk]:
    """The data rows cut into steps of at most ``max_bytes`` of JSON and
    ``max_cells`` cells each, table by table."""
    chunks = []
    for sheet, rows in data.items():
        first = 0
        size = 0
        width = max(1, len(rows.number_formats))
        for index, row in enumerate(rows.rows):
            row_bytes = len(orjson.dumps(row)) + 1
            if index > first and (
                size + row_bytes > max_bytes or (index - first + 1) * width > max_cells
            ):
                chunks.append(Chunk(sheet, first, index))
                first, size = index, 0
            size += row_bytes
        if rows.rows:
            chunks.append(Chunk(sheet, first, len(rows.rows)))
    return chunks


@lru_cache(maxsize=2)
def starter_plan(options: StarterOptions) -> StarterPlan:
    """The plan of ``options`` (checked), kept for the steps that follow
    (two plans at most: a large sample holds its rows in memory)."""
    return _plan(options)


#: Office.js' names for openpyxl's.
_ORIENTATIONS = {"landscape": "Landscape", "portrait": "Portrait"}
_BLANKS = {"gap": "NotPlotted", "zero": "Zero", "span": "Interplotted"}


def office_js_parts(plan: StarterPlan) -> dict[str, Any]:
    """What the task pane writes with Office.js itself, after the last step,
    because xlwings' Book API has no action for it: each sheet's page setup,
    how each chart plots hidden cells and #N/A, and whether each data rule
    lets a blank through and stops a wrong entry."""
    charts: dict[str, int] = {}
    described = []
    for chart in plan.charts:
        index = charts[chart.sheet] = charts.get(chart.sheet, -1) + 1
        described.append(
            {
                "sheet": chart.sheet,
                "index": index,
                "plot_visible_only": chart.plot_visible_only,
                "display_blanks": _BLANKS[chart.display_blanks],
            }
        )
    return {
        "sheets": [
            {
                "name": sheet.name,
                "orientation": _ORIENTATIONS.get(sheet.orientation or ""),
                "fit_width": sheet.fit_width,
                "fit_height": sheet.fit_height,
                "print_title_rows": sheet.print_title_rows,
            }
            for sheet in plan.sheets
        ],
        "charts": described,
        "validations": [
            {
                "sheet": rule.sheet,
                "address": rule.ref,
                "ignore_blanks": rule.allow_blank,
                "show_alert": rule.show_error,
            }
            for rule in plan.validations
        ],
    }


def step_labels(plan: StarterPlan) -> list[dict[str, Any]]:
    """What each step writes: the sheets, each chunk of rows, the rest."""
    steps: list[dict[str, Any]] = [{"kind": "sheets"}]
    for chunk in plan.chunks:
        steps.append(
            {"kind": "rows", "sheet": chunk.sheet, "first": chunk.first + 1, "last": chunk.stop}
        )
    steps.append({"kind": "finish"})
    return steps
