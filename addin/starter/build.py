"""Write a starter workbook with openpyxl, in write-only mode.

Write-only mode streams rows to disk, so a workbook of 100,000 rows needs
little memory. Every KPI cell is a native formula over the data tables (the
recipes of ``addin.recipes``), written as a dynamic-array formula the way
Excel stores it (``addin.ooxml``); nothing needs the add-in. The file is
written to a temporary file beside the target, repacked with fixed
timestamps (same arguments, same bytes), then renamed into place.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import tomllib
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

import kpi_engine
from addin.ooxml import charts as chart_parts
from addin.ooxml import dynamic_arrays
from addin.ooxml.atomic import write_atomically
from addin.ooxml.cells import cell_xml
from addin.ooxml.formulas import stored_formula
from addin.ooxml.zipwriter import ZipWriter
from addin.recipes import NEEDS_GROSS_MARGIN, Column, recipe_for, tables_for
from addin.recipes.notes import checks_for, effect_text, notes_words, problem_text
from kpi_engine._catalogue import BAND_NAMES, ProfileKPI
from kpi_engine._cells import END_OF_DATES
from kpi_engine._inputs import first_of_month
from kpi_engine._labels import labels, templates_dir
from kpi_engine._text import format_band

from .sample import sample_tables

CURRENCY_FORMATS = {"EUR": '"€"#,##0.00', "USD": '"$"#,##0.00', "GBP": '"£"#,##0.00'}
UNIT_FORMATS = {
    "fraction": "0.0%",
    "score": "0.0",
    "points": "0.0",
    "hours": '0.0" h"',
    "minutes": '0.0" min"',
    "count": "#,##0",
    "per_user": "0.00",
    "duration": "0.00",
}
DATE_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "month": "yyyy-mm"}
STATUS_FILLS = {
    "exceptional": "1E8449",
    "above_average": "82E0AA",
    "typical": "F9E79F",
    "below_typical": "F1948A",
}
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=14)
DEFAULT_GROSS_MARGIN = 0.6
#: Rows of a data sheet that carry validation, well past any sample.
VALIDATED_ROWS = 1_048_576


@dataclass(frozen=True)
class SheetRows:
    """The data rows of one sheet, streamed into its XML part at save time.

    openpyxl builds an object per cell even in write-only mode, which makes
    it about twice as slow as a plain writer on large sheets. The data rows
    are the bulk of a workbook and the simplest part of it (values only), so
    they bypass openpyxl: everything else (styles, tables, validations,
    charts) is openpyxl's. Text is always an inline string, never a formula.
    """

    part: str
    columns: list[Sequence[Any]]
    date_styles: list[int | None]

    def xml_chunks(self, first_row: int = 2, rows_per_chunk: int = 2000) -> Iterable[bytes]:
        letters = [get_column_letter(i) for i in range(1, len(self.columns) + 1)]
        cells = list(zip(letters, self.date_styles, strict=True))
        buffer: list[str] = []
        for number, row in enumerate(zip(*self.columns, strict=True), start=first_row):
            parts = [f'<row r="{number}">']
            for (letter, date_style), value in zip(cells, row, strict=True):
                if value is not None:
                    parts.append(cell_xml(f"{letter}{number}", value, date_style=date_style))
            parts.append("</row>")
            buffer.append("".join(parts))
            if len(buffer) >= rows_per_chunk:
                yield "".join(buffer).encode("utf-8")
                buffer.clear()
        if buffer:
            yield "".join(buffer).encode("utf-8")


@dataclass(frozen=True)
class StarterBook:
    """A built starter workbook: openpyxl's part, and the data rows to stream in."""

    workbook: Workbook
    data_rows: Mapping[str, SheetRows]


class StarterError(ValueError):
    """A `kpi new` request that cannot be carried out; nothing was written."""


@cache
def workbook_words() -> Mapping[str, Any]:
    with templates_dir().joinpath("workbook.toml").open("rb") as handle:
        return tomllib.load(handle)


#: The most sample rows ``kpi new --rows`` writes: the largest table of any
#: business type (networking's, at 5/4 of the rows) then stays well inside
#: Excel's 1,048,576 rows, and the generator's memory stays bounded.
MAX_ROWS = 500_000
#: The sample data runs two years back from the as-of date, and the report's
#: windows two years back from its period: both must be dates Excel holds.
FIRST_AS_OF = dt.date(1903, 1, 1)
LAST_AS_OF = dt.date(9999, 11, 30)


@dataclass(frozen=True)
class StarterOptions:
    business_type: str
    language: str = "en"
    rows: int | None = None
    empty: bool = False
    seed: int = 0
    as_of: dt.date | None = None
    currency: str | None = None

    def checked(self) -> StarterOptions:
        profile = kpi_engine.get_business_type(self.business_type, "kpi new", "TYPE")
        language = kpi_engine.check_language(self.language, "kpi new", "--lang")
        currency = (self.currency or profile.currency).upper()
        if currency not in CURRENCY_FORMATS:
            raise StarterError(
                f"kpi new: --currency is {self.currency!r}; "
                f"expected one of {', '.join(CURRENCY_FORMATS)}"
            )
        if self.rows is not None and not 1 <= self.rows <= MAX_ROWS:
            raise StarterError(
                f"kpi new: --rows is {self.rows:,}; expected a whole number from 1 to "
                f"{MAX_ROWS:,} (every table of every business type then fits in Excel's "
                "1,048,576 rows)"
            )
        if self.as_of is not None and not FIRST_AS_OF <= self.as_of <= LAST_AS_OF:
            raise StarterError(
                f"kpi new: --as-of is {self.as_of.isoformat()}; expected a date from "
                f"{FIRST_AS_OF.isoformat()} to {LAST_AS_OF.isoformat()} (the sample data "
                "reaches two years back, and every date must be one Excel holds)"
            )
        return StarterOptions(
            profile.id,
            language,
            self.rows,
            self.empty,
            self.seed,
            self.as_of or dt.date.today(),
            currency,
        )

    @property
    def period(self) -> dt.date:
        """The reporting month: the last complete month before the as-of date."""
        assert self.as_of is not None
        return first_of_month(self.as_of, -1)


# --- cells -----------------------------------------------------------------------


class _Sheet:
    """A write-only sheet with small helpers for styled and text cells."""

    def __init__(self, workbook: Workbook, title: str) -> None:
        self.ws = workbook.create_sheet(title)
        self.title = title

    def cell(
        self,
        value: Any,
        *,
        fmt: str | None = None,
        font: Font | None = None,
        fill: PatternFill | None = None,
        text: bool = False,
        wrap: bool = False,
    ) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=value)
        if text and isinstance(value, str):
            # Text from data or settings stays text: '=SUM(...)' is not evaluated.
            cell.data_type = "s"
        if fmt:
            cell.number_format = fmt
        if font:
            cell.font = font
        if fill:
            cell.fill = fill
        if wrap:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        return cell

    def array(self, formula: str, coordinate: str, *, fmt: str | None = None) -> WriteOnlyCell:
        """A dynamic-array formula cell (``formula`` as Excel shows it, no "=")."""
        return self.cell(ArrayFormula(coordinate, "=" + stored_formula(formula)), fmt=fmt)

    def formula(self, formula: str, *, fmt: str | None = None) -> WriteOnlyCell:
        """A plain formula cell (``formula`` as Excel shows it, no "=")."""
        return self.cell("=" + stored_formula(formula), fmt=fmt)

    def header(self, values: Iterable[str]) -> list[WriteOnlyCell]:
        return [self.cell(v, font=HEADER_FONT, fill=HEADER_FILL, text=True) for v in values]

    def append(self, row: Sequence[Any]) -> None:
        self.ws.append(list(row))

    def widths(self, widths: Sequence[float]) -> None:
        for index, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width

    def absolute(self, column: int, row: int) -> str:
        return f"{quote_sheetname(self.title)}!${get_column_letter(column)}${row}"


def _name(workbook: Workbook, name: str, target: str) -> None:
    workbook.defined_names[name] = DefinedName(name, attr_text=target)


# --- the workbook ---------------------------------------------------------------------


def status_formula(
    entry: ProfileKPI, value_ref: str, words: Mapping[str, str], no_benchmark: str
) -> str:
    """A native formula that rates a value exactly as ``benchmark_band`` does."""
    if not entry.bands:
        return f'IF(ISNUMBER({value_ref}),"{no_benchmark}","-")'
    fallback = "below_typical" if "typical" in entry.bands else "typical"
    expression = f'"{words[fallback]}"'
    for name in reversed(BAND_NAMES):
        band = entry.bands.get(name)
        if band is None:
            continue
        figure, inclusive = band.threshold(entry.direction)
        operator = (">" if entry.direction == "higher" else "<") + ("=" if inclusive else "")
        expression = f'IF({value_ref}{operator}{figure!r},"{words[name]}",{expression})'
    return f'IF(ISNUMBER({value_ref}),{expression},"-")'


def default_target(entry: ProfileKPI) -> float | None:
    """The above-average threshold where the article gives one: a fair first goal."""
    for name in ("above_average", "exceptional"):
        band = entry.bands.get(name)
        if band is not None:
            return band.threshold(entry.direction)[0]
    return None


def kpi_formula(business_type: str, kpi_id: str, start: str, end: str) -> str:
    """The KPI of the month [start, end) as Excel shows the formula (no "=")."""
    return recipe_for(business_type, kpi_id).formula(start, end)


def unit_format(unit: str, currency: str) -> str:
    return CURRENCY_FORMATS[currency] if unit == "currency" else UNIT_FORMATS[unit]


@dataclass(frozen=True)
class _Context:
    """What every sheet writer needs: the workbook, its type, language and words."""

    workbook: Workbook
    options: StarterOptions
    profile: kpi_engine.BusinessType
    words: Mapping[str, Any]
    ratings: Mapping[str, str]
    currency: str

    @property
    def lang(self) -> str:
        return self.options.language

    @property
    def type_title(self) -> str:
        return str(self.profile.title[self.lang])

    def fmt(self, entry: ProfileKPI) -> str:
        return unit_format(entry.unit, self.currency)


def _write_settings(ctx: _Context, settings: _Sheet) -> None:
    """The reporting period, the gross margin and a target per KPI, as named cells."""
    workbook = ctx.workbook
    profile = ctx.profile
    options = ctx.options
    lang = ctx.lang
    words = ctx.words
    heads = ctx.words["headings"]
    heads = words["headings"]
    settings.widths([34, 40, 16])
    settings.append([settings.cell(heads["setting"], font=TITLE_FONT)])
    settings.append([])
    settings.append(
        [settings.cell(heads["period"], text=True), settings.cell(options.period, fmt="yyyy-mm")]
    )
    settings.append(
        [
            settings.cell("PERIOD_START", text=True),
            settings.cell("=DATE(YEAR(PERIOD),MONTH(PERIOD),1)", fmt="yyyy-mm-dd"),
        ]
    )
    settings.append(
        [
            settings.cell(heads["period_end"], text=True),
            settings.cell("=EDATE(PERIOD_START,1)", fmt="yyyy-mm-dd"),
        ]
    )
    _name(workbook, "PERIOD", settings.absolute(2, 3))
    _name(workbook, "PERIOD_START", settings.absolute(2, 4))
    _name(workbook, "PERIOD_END", settings.absolute(2, 5))
    period_rule = DataValidation(
        type="date", operator="greaterThan", formula1="36526", allow_blank=False
    )
    period_rule.add("B3")
    settings.ws.data_validations.append(period_rule)
    row = 6
    if profile.id in NEEDS_GROSS_MARGIN:
        settings.append(
            [
                settings.cell(heads["gross_margin"], text=True),
                settings.cell(DEFAULT_GROSS_MARGIN, fmt="0%"),
            ]
        )
        _name(workbook, "GROSS_MARGIN", settings.absolute(2, row))
        margin_rule = DataValidation(type="decimal", operator="between", formula1="0", formula2="1")
        margin_rule.add(f"B{row}")
        settings.ws.data_validations.append(margin_rule)
        row += 1
    settings.append([])
    settings.append([settings.cell(heads["targets"], font=Font(bold=True))])
    settings.append(settings.header([heads["kpi"], heads["id"], heads["target"]]))
    target_row = row + 3  # after the blank row, the heading and the header
    for entry in profile.kpis:
        settings.append(
            [
                settings.cell(entry.title[lang], text=True),
                settings.cell(entry.id, text=True),
                settings.cell(default_target(entry), fmt=unit_format(entry.unit, options.currency)),
            ]
        )
        _name(workbook, f"TARGET_{entry.id.upper()}", settings.absolute(3, target_row))
        target_row += 1


def _write_kpis(ctx: _Context, kpis: _Sheet) -> None:
    """One row per KPI for the reporting period: value, target, bands, status."""
    workbook = ctx.workbook
    profile = ctx.profile
    options = ctx.options
    lang = ctx.lang
    words = ctx.words
    type_title = ctx.type_title
    heads = ctx.words["headings"]
    ratings = ctx.ratings
    kpis.widths([44, 14, 12, 14, 16, 16, 16, 22, 28])
    kpis.append([kpis.cell(words["title"].format(type=type_title), font=TITLE_FONT)])
    kpis.append(
        [kpis.cell(heads["period"], text=True), kpis.cell("=PERIOD_START", fmt="mmmm yyyy")]
    )
    kpis.append([kpis.cell(words["source"].format(source=profile.source), text=True)])
    kpis.append([])
    kpis.append(
        kpis.header(
            [
                heads[k]
                for k in (
                    "kpi",
                    "value",
                    "unit",
                    "target",
                    "typical",
                    "above_average",
                    "exceptional",
                    "status",
                    "id",
                )
            ]
        )
    )
    first_kpi_row = 6
    for offset, entry in enumerate(profile.kpis):
        row = first_kpi_row + offset
        fmt = unit_format(entry.unit, options.currency)
        bands = {name: format_band(band, entry.unit) for name, band in entry.bands.items()}
        target_name = f"TARGET_{entry.id.upper()}"
        kpis.append(
            [
                kpis.cell(entry.title[lang], text=True),
                kpis.array(
                    kpi_formula(profile.id, entry.id, "PERIOD_START", "PERIOD_END"),
                    f"B{row}",
                    fmt=fmt,
                ),
                kpis.cell(words["units"][entry.unit].format(currency=options.currency), text=True),
                kpis.formula(f'IF(ISNUMBER({target_name}),{target_name},"")', fmt=fmt),
                *[
                    kpis.cell(bands.get(name, "-"), text=True)
                    for name in ("typical", "above_average", "exceptional")
                ],
                kpis.formula(status_formula(entry, f"B{row}", ratings, words["no_benchmark"])),
                kpis.cell(entry.id, text=True),
            ]
        )
        _name(workbook, f"KPI_{entry.id.upper()}", kpis.absolute(2, row))
        _name(workbook, f"STATUS_{entry.id.upper()}", kpis.absolute(8, row))
    last_kpi_row = first_kpi_row + len(profile.kpis) - 1
    status_range = f"H{first_kpi_row}:H{last_kpi_row}"
    for name, colour in STATUS_FILLS.items():
        kpis.ws.conditional_formatting.add(
            status_range,
            CellIsRule(
                operator="equal",
                formula=[f'"{ratings[name]}"'],
                fill=PatternFill("solid", fgColor=colour, bgColor=colour),
            ),
        )
    _write_data_notes(ctx, kpis, next_row=last_kpi_row + 1)


#: Where the data notes sit on the KPI sheet, in its columns: the table
#: column (a structured reference, in the wide KPI column), the count of rows
#: and the first of them (formulas, in the value and unit columns), the
#: problem (over the three band columns) and its effect (the status column).
NOTE_COLUMNS = {"column": "A", "rows": "B", "first_rows": "C", "problem": "E", "effect": "H"}


def _write_data_notes(ctx: _Context, kpis: _Sheet, *, next_row: int) -> None:
    """Below the KPIs: per data check, how many rows it finds, and which.

    The counts are native formulas, so the sheet shows them without the add-in;
    a check that finds nothing shows 0 in grey.
    """
    words = notes_words(ctx.lang)
    heads = words["headings"]
    kpis.append([])
    kpis.append([kpis.cell(words["title"], font=Font(bold=True, size=12))])
    kpis.append([kpis.cell(words["intro"], text=True)])
    titles = {column_index_from_string(letter): heads[key] for key, letter in NOTE_COLUMNS.items()}
    kpis.append(kpis.header(titles.get(column, "") for column in range(1, max(titles) + 1)))
    # A blank row, the title, the introduction and the header come first.
    row = next_row + 4
    first_note_row = row
    count_column, rows_column = NOTE_COLUMNS["rows"], NOTE_COLUMNS["first_rows"]
    for check in checks_for(ctx.profile.id):
        rows_formula = check.rows_formula()
        first_rows = None
        if rows_formula:
            first_rows = kpis.array(rows_formula, f"{rows_column}{row}")
            # Set apart from the count, which stands right-aligned beside it.
            first_rows.alignment = Alignment(horizontal="left", indent=1)
        cells = {
            "column": kpis.cell(f"{check.table}[{check.column}]", text=True),
            "rows": kpis.array(check.count_formula(), f"{count_column}{row}", fmt="#,##0"),
            "first_rows": first_rows,
            "problem": kpis.cell(problem_text(check, ctx.lang), text=True),
            "effect": kpis.cell(effect_text(check, ctx.lang), text=True),
        }
        kpis.append(
            _spread(
                {column_index_from_string(NOTE_COLUMNS[key]): cell for key, cell in cells.items()}
            )
        )
        row += 1
    if row > first_note_row:
        kpis.ws.conditional_formatting.add(
            f"A{first_note_row}:{NOTE_COLUMNS['effect']}{row - 1}",
            FormulaRule(
                formula=[f"${count_column}{first_note_row}=0"],
                font=Font(color="A6A6A6"),
            ),
        )


def _spread(cells: Mapping[int, Any]) -> list[Any]:
    """A row of cells placed by 1-based column, with blanks between them."""
    return [cells.get(column) for column in range(1, max(cells) + 1)]


def _write_trend(ctx: _Context, trend: _Sheet) -> None:
    """Each KPI for each of the last twelve months, and a chart per KPI.

    The table shows a dash for a month without a value; each chart reads a
    hidden copy of its column with ``#N/A`` there instead, which a line chart
    leaves out (a gap, not a fall to zero).
    """
    profile = ctx.profile
    lang = ctx.lang
    heads = ctx.words["headings"]
    count = len(profile.kpis)
    first_chart_column = 3 + count + 1  # after the KPI columns and a blank one
    trend.widths([12, 12, *[18] * count])
    # Write-only sheets write their columns with the first row: hide the
    # charts' copy of the trend first.
    for column in range(first_chart_column, first_chart_column + count):
        trend.ws.column_dimensions[get_column_letter(column)].hidden = True
    trend.append([trend.cell(ctx.words["title"].format(type=ctx.type_title), font=TITLE_FONT)])
    trend.append([])
    titles = [e.title[lang] for e in profile.kpis]
    trend.append(
        [*trend.header([heads["month"], heads["period_end"], *titles]), None, *trend.header(titles)]
    )
    first_month_row = 4
    for index in range(12):
        row = first_month_row + index
        cells: list[Any] = [
            trend.formula(f"EDATE(PERIOD_START,{index - 11})", fmt="mmm yyyy"),
            trend.formula(f"EDATE(A{row},1)", fmt="yyyy-mm-dd"),
        ]
        for position, entry in enumerate(profile.kpis):
            letter = get_column_letter(3 + position)
            cells.append(
                trend.array(
                    kpi_formula(profile.id, entry.id, f"$A{row}", f"$B{row}"),
                    f"{letter}{row}",
                    fmt=ctx.fmt(entry),
                )
            )
        cells.append(None)
        for position, entry in enumerate(profile.kpis):
            shown = f"{get_column_letter(3 + position)}{row}"
            cells.append(trend.formula(f"IF(ISNUMBER({shown}),{shown},NA())", fmt=ctx.fmt(entry)))
        trend.append(cells)
    last_month_row = first_month_row + 11
    months = Reference(trend.ws, min_col=1, min_row=first_month_row, max_row=last_month_row)
    for index, entry in enumerate(profile.kpis):
        chart = LineChart()
        chart.title = entry.title[lang]
        chart.height, chart.width = 6.5, 12
        chart.legend = None
        # The chart's data sits in hidden columns: plot it all the same.
        chart.visible_cells_only = False
        chart.display_blanks = "gap"
        series = Reference(
            trend.ws,
            min_col=first_chart_column + index,
            min_row=first_month_row - 1,
            max_row=last_month_row,
        )
        chart.add_data(series, titles_from_data=True)
        chart.set_categories(months)
        for line in chart.series:
            line.smooth = False
        chart.y_axis.number_format = ctx.fmt(entry)
        anchor_row = last_month_row + 3 + (index // 2) * 14
        anchor_column = "A" if index % 2 == 0 else "H"
        trend.ws.add_chart(chart, f"{anchor_column}{anchor_row}")


def build_workbook(
    options: StarterOptions, data: Mapping[str, Mapping[str, Sequence[Any]]] | None = None
) -> StarterBook:
    """The workbook of ``options``, with its sample data or, given ``data``
    (rows as columns per table), with those rows instead."""
    options = options.checked()
    assert options.as_of is not None
    assert options.currency is not None
    profile = kpi_engine.get_business_type(options.business_type)
    lang = options.language
    words = workbook_words()[lang]
    table_names = workbook_words()["tables"][lang]
    column_words = workbook_words()["columns"][lang]
    ratings = labels(lang)["ratings"]
    tables = tables_for(profile.id)
    if data is None:
        data = (
            {}
            if options.empty
            else sample_tables(
                profile.id, as_of=options.as_of, seed=options.seed, rows=options.rows
            )
        )
    type_title = profile.title[lang]

    workbook = Workbook(write_only=True)
    workbook.properties.title = words["title"].format(type=type_title)
    workbook.properties.language = lang
    workbook.properties.creator = "KPI add-in"
    workbook.properties.subject = profile.id
    moment = dt.datetime.combine(options.as_of, dt.time())
    workbook.properties.created = moment
    workbook.properties.modified = moment

    sheet_names = words["sheets"]
    about = _Sheet(workbook, sheet_names["about"])
    kpis = _Sheet(workbook, sheet_names["kpis"])
    trend = _Sheet(workbook, sheet_names["trend"])
    settings = _Sheet(workbook, sheet_names["settings"])
    context = _Context(workbook, options, profile, words, ratings, options.currency)
    _write_settings(context, settings)
    _write_kpis(context, kpis)
    _write_trend(context, trend)

    # Data sheets.
    data_rows: dict[str, SheetRows] = {}
    for table, columns in tables.items():
        rows = _write_table(workbook, table_names[table], table, columns, data.get(table, {}))
        if rows is not None:
            data_rows[rows.part] = rows

    _write_about(about, words, profile, tables, table_names, column_words, type_title)
    return StarterBook(workbook, data_rows)


def _write_table(
    workbook: Workbook,
    title: str,
    table: str,
    columns: Sequence[Column],
    values: Mapping[str, Sequence[Any]],
) -> SheetRows | None:
    """Write a data sheet's header, table and validations; return its rows,
    which ``save_workbook`` streams into the sheet (see ``SheetRows``)."""
    sheet = _Sheet(workbook, title)
    sheet.widths([18 if c.kind == "datetime" else 16 for c in columns])
    sheet.ws.freeze_panes = "A2"
    sheet.append(sheet.header(c.id for c in columns))
    count = max((len(v) for v in values.values()), default=0)
    rows = None
    if count:
        date_styles = [
            sheet.cell(0, fmt=DATE_FORMATS[c.kind]).style_id if c.kind in DATE_FORMATS else None
            for c in columns
        ]
        rows = SheetRows(
            # openpyxl numbers sheet parts in workbook order when it saves.
            part=f"xl/worksheets/sheet{workbook.worksheets.index(sheet.ws) + 1}.xml",
            columns=[values.get(c.id, [None] * count) for c in columns],
            date_styles=date_styles,
        )
    last_row = max(count, 1) + 1
    last_column = get_column_letter(len(columns))
    excel_table = Table(displayName=table, ref=f"A1:{last_column}{last_row}")
    excel_table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    # Write-only mode leaves the table's column list to the caller.
    excel_table.tableColumns = [
        TableColumn(id=i, name=c.id) for i, c in enumerate(columns, start=1)
    ]
    with warnings.catch_warnings():
        # openpyxl warns that write-only tables need their columns set: done above.
        warnings.filterwarnings("ignore", message="In write-only mode")
        sheet.ws.add_table(excel_table)
    for position, column in enumerate(columns, start=1):
        rule = _validation(column)
        if rule is not None:
            letter = get_column_letter(position)
            rule.add(f"{letter}2:{letter}{VALIDATED_ROWS}")
            sheet.ws.data_validations.append(rule)
    return rows


def _validation(column: Column) -> DataValidation | None:
    if column.kind == "choice":
        return DataValidation(
            type="list",
            formula1='"' + ",".join(column.choices) + '"',
            allow_blank=True,
            showErrorMessage=True,
        )
    bounds = {"score": ("0", "10"), "rating": ("1", "5")}
    if column.kind in bounds:
        low, high = bounds[column.kind]
        return DataValidation(
            type="whole",
            operator="between",
            formula1=low,
            formula2=high,
            allow_blank=True,
            showErrorMessage=True,
        )
    if column.kind in ("date", "datetime", "month"):
        return DataValidation(
            type="date",
            operator="between",
            formula1="1",
            formula2=str(END_OF_DATES - 1),
            allow_blank=True,
            showErrorMessage=True,
        )
    if column.kind in ("money", "number"):
        return DataValidation(
            type="decimal",
            operator="greaterThanOrEqual",
            formula1="0",
            allow_blank=True,
            showErrorMessage=True,
        )
    if column.kind == "whole":
        return DataValidation(
            type="whole",
            operator="greaterThanOrEqual",
            formula1="0",
            allow_blank=True,
            showErrorMessage=True,
        )
    return None


def _write_about(
    sheet: _Sheet,
    words: Mapping[str, Any],
    profile: kpi_engine.BusinessType,
    tables: Mapping[str, Sequence[Column]],
    table_names: Mapping[str, str],
    column_words: Mapping[str, str],
    type_title: str,
) -> None:
    names = words["sheets"]
    heads = words["headings"]
    sheet.widths([26, 26, 90])
    sheet.append([sheet.cell(words["title"].format(type=type_title), font=TITLE_FONT)])
    sheet.append([])
    for paragraph in words["about"]:
        text = paragraph.format(
            type=type_title, settings=names["settings"], kpis=names["kpis"], trend=names["trend"]
        )
        sheet.append([sheet.cell(text, text=True)])
    sheet.append([])
    sheet.append(sheet.header([heads["sheet"], heads["table"], heads["purpose"]]))
    for key in ("kpis", "trend", "settings"):
        sheet.append(
            [
                sheet.cell(names[key], text=True),
                None,
                sheet.cell(words["sheet_purpose"][key], text=True),
            ]
        )
    for table in tables:
        sheet.append(
            [
                sheet.cell(table_names[table], text=True),
                sheet.cell(table, text=True),
                sheet.cell(words["sheet_purpose"]["data"].format(table=table), text=True),
            ]
        )
    sheet.append([])
    sheet.append(sheet.header([heads["table"], heads["column"], heads["meaning"]]))
    for table, columns in tables.items():
        for column in columns:
            sheet.append(
                [
                    sheet.cell(table, text=True),
                    sheet.cell(column.id, text=True),
                    sheet.cell(column_words[f"{table}.{column.id}"], text=True),
                ]
            )


# --- saving -------------------------------------------------------------------------

_CREATED = re.compile(rb"<dcterms:created[^>]*>([^<]*)</dcterms:created>")
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _modified_as_created(core: bytes) -> bytes:
    """openpyxl stamps the save time as 'modified'; a new workbook was last
    modified when it was created (its as-of date), which keeps it reproducible."""
    created = _CREATED.search(core)
    if created is None:
        return core
    return _MODIFIED.sub(lambda m: m.group(1) + created.group(1) + m.group(2), core)


def _finished_part(name: str, content: bytes, book: StarterBook) -> bytes:
    """A part as openpyxl wrote it, with what openpyxl cannot write added."""
    if name == "docProps/core.xml":
        return _modified_as_created(content)
    if name.startswith("xl/worksheets/sheet") and name not in book.data_rows:
        return dynamic_arrays.mark_dynamic_arrays(content)[0]
    if name.startswith("xl/charts/chart"):
        return chart_parts.with_na_as_gap(content)
    if name == "[Content_Types].xml":
        return dynamic_arrays.with_metadata_content_type(content)
    if name == "xl/_rels/workbook.xml.rels":
        return dynamic_arrays.with_metadata_relationship(content)
    return content


def save_workbook(book: StarterBook, target: Path) -> None:
    """Save atomically (``addin.ooxml.atomic``): a temporary file beside the
    target, renamed when complete.

    openpyxl writes the package in memory (its data sheets are empty; the
    rows are streamed in here); the repack (``addin.ooxml.zipwriter``) gives
    every entry a fixed time and deflate level (same arguments, same bytes),
    streams the data rows into their sheets and adds the dynamic-array markup
    and metadata part (``addin.ooxml.dynamic_arrays``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    book.workbook.save(raw)

    def write(file: BinaryIO) -> None:
        with zipfile.ZipFile(raw) as source, ZipWriter(file) as packed:
            for info in source.infolist():
                content = _finished_part(info.filename, source.read(info.filename), book)
                rows = book.data_rows.get(info.filename)
                if rows is None:
                    packed.write(info.filename, content)
                    continue
                head, tail = content.split(b"</sheetData>", 1)
                packed.write_stream(
                    info.filename,
                    itertools.chain([head], rows.xml_chunks(), [b"</sheetData>" + tail]),
                )
            packed.write(dynamic_arrays.METADATA_PART, dynamic_arrays.METADATA_XML)

    write_atomically(target, write)


def new_workbook(
    options: StarterOptions,
    target: Path,
    *,
    force: bool = False,
    data: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
) -> Path:
    """Build and save one starter workbook; refuse to overwrite without ``force``."""
    target = Path(target)
    if target.suffix.lower() != ".xlsx":
        raise StarterError(f"kpi new: -o is {str(target)!r}; expected a file name ending in .xlsx")
    if target.exists() and not force:
        raise StarterError(f"kpi new: {target} already exists; pass --force to replace it")
    workbook = build_workbook(options, data)
    save_workbook(workbook, target)
    return target
