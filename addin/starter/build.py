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

from babel.lists import format_list
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

import kpi_engine
from addin import progress
from addin.ooxml import charts as chart_parts
from addin.ooxml import dynamic_arrays
from addin.ooxml.atomic import write_atomically
from addin.ooxml.cells import cell_xml
from addin.ooxml.formulas import stored_formula
from addin.ooxml.widths import (
    fitting_width,
    longest_word_pixels,
    row_points,
    width_for,
    wrapped,
)
from addin.ooxml.zipwriter import ZipWriter
from addin.recipes import NEEDS_GROSS_MARGIN, Column, recipe_for, tables_for
from addin.recipes.notes import checks_for, effect_text, notes_words, problem_text
from addin.recipes.rules import only_rows
from addin.styles import STYLES, Style
from kpi_engine import BAND_NAMES, SOURCES, ProfileKPI, display
from kpi_engine.cells import END_OF_DATES, excel_trim, id_key
from kpi_engine.inputs import first_of_month
from kpi_engine.texts import labels, templates_dir

from .sample import MONTHLY_MONTHS, MOST_CHANNELS, MOST_SAMPLE_ROWS, sample_tables

#: The width of a column nobody sized, in characters (Excel's default).
EXCEL_DEFAULT_WIDTH = 8.43
#: The currencies ``kpi new --currency`` offers.
CURRENCIES = ("EUR", "USD", "GBP")
#: How the data sheets show their dates: ISO dates, which every reader reads alike.
DATE_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "month": "yyyy-mm"}
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
    table: str  # the table's name, for the progress line
    columns: list[Sequence[Any]]
    date_styles: list[int | None]

    def xml_chunks(self, first_row: int = 2, rows_per_chunk: int = 2000) -> Iterable[bytes]:
        letters = [get_column_letter(i) for i in range(1, len(self.columns) + 1)]
        cells = list(zip(letters, self.date_styles, strict=True))
        buffer: list[str] = []
        total = len(self.columns[0]) if self.columns else 0
        for number, row in enumerate(zip(*self.columns, strict=True), start=first_row):
            parts = [f'<row r="{number}">']
            for (letter, date_style), value in zip(cells, row, strict=True):
                if value is not None:
                    parts.append(cell_xml(f"{letter}{number}", value, date_style=date_style))
            parts.append("</row>")
            buffer.append("".join(parts))
            if len(buffer) >= rows_per_chunk:
                progress.count(f"writing {self.table}", number - first_row + 1, total)
                yield "".join(buffer).encode("utf-8")
                buffer.clear()
        if buffer:
            progress.count(f"writing {self.table}", total, total)
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
#: business type (survey answers and event attendance, at twice the rows)
#: then stays inside Excel's 1,048,576 rows, and the generator's memory
#: stays bounded.
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
        if currency not in CURRENCIES:
            raise StarterError(
                f"kpi new: --currency is {self.currency!r}; expected one of {', '.join(CURRENCIES)}"
            )
        most = MOST_SAMPLE_ROWS.get(profile.id, MAX_ROWS)
        if self.rows is not None and not 1 <= self.rows <= most:
            why = (
                f"{profile.id}'s main table has one row per channel and month: "
                f"{MOST_CHANNELS} channels over {MONTHLY_MONTHS} months"
                if most < MAX_ROWS
                else "every table of every business type then fits in Excel's 1,048,576 rows"
            )
            raise StarterError(
                f"kpi new: --rows is {self.rows:,}; expected a whole number from 1 to "
                f"{most:,} ({why})"
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


def _font(style: Style) -> Font:
    # The workbook's own default font: openpyxl's styles part makes it Calibri.
    return Font(
        name="Calibri", bold=style.bold, italic=style.italic, size=style.size, color=style.color
    )


def _fill(style: Style) -> PatternFill | None:
    if style.fill is None:
        return None
    return PatternFill("solid", fgColor=style.fill, bgColor=style.fill)


class _Sheet:
    """A write-only sheet with small helpers for styled and text cells.

    Write-only sheets write their columns and each row's height with its
    row: ``widths`` and ``height`` come before the rows they size."""

    def __init__(self, workbook: Workbook, title: str, *, landscape: bool = True) -> None:
        self.ws = workbook.create_sheet(title)
        self.title = title
        self.rows = 0
        self.column_widths: list[float] = []
        # Printed as wide as one page, as long as it takes.
        self.ws.page_setup.orientation = "landscape" if landscape else "portrait"
        self.ws.page_setup.fitToWidth = 1
        self.ws.page_setup.fitToHeight = 0
        self.ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)

    def cell(
        self,
        value: Any,
        *,
        fmt: str | None = None,
        style: str = "plain",
        text: bool = False,
    ) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=value)
        if text and isinstance(value, str):
            # Text from data or settings stays text: '=SUM(...)' is not evaluated.
            cell.data_type = "s"
        if fmt:
            cell.number_format = fmt
        look = STYLES[style]
        if look != Style():
            cell.font = _font(look)
            fill = _fill(look)
            if fill is not None:
                cell.fill = fill
            if look.wrap or look.horizontal or look.vertical:
                cell.alignment = Alignment(
                    wrap_text=look.wrap or None,
                    horizontal=look.horizontal,
                    vertical=look.vertical,
                )
        return cell

    def array(self, formula: str, coordinate: str, *, fmt: str | None = None) -> WriteOnlyCell:
        """A dynamic-array formula cell (``formula`` as Excel shows it, no "=")."""
        return self.cell(ArrayFormula(coordinate, "=" + stored_formula(formula)), fmt=fmt)

    def formula(self, formula: str, *, fmt: str | None = None) -> WriteOnlyCell:
        """A plain formula cell (``formula`` as Excel shows it, no "=")."""
        return self.cell("=" + stored_formula(formula), fmt=fmt)

    def header(self, values: Iterable[str | None]) -> list[WriteOnlyCell | None]:
        """A header row: each title wraps within its column, and the row is as
        tall as its longest title needs (call after ``widths``)."""
        titles = list(values)
        # A header may run past the columns given widths (the channels of a
        # large sample: one column each): those have Excel's default width.
        widths = [*self.column_widths, *[EXCEL_DEFAULT_WIDTH] * len(titles)]
        lines = max(
            len(wrapped(title, widths[index], bold=True))
            for index, title in enumerate(titles)
            if title
        )
        self.height(lines)
        return [None if v is None else self.cell(v, style="header", text=True) for v in titles]

    def append(self, row: Sequence[Any]) -> None:
        self.ws.append(list(row))
        self.rows += 1

    def height(self, lines: int) -> None:
        """The height of the next row: ``lines`` lines of text."""
        if lines > 1:
            self.ws.row_dimensions[self.rows + 1].height = row_points(lines)

    def paragraph(self, text: str, last_column: int, *, style: str = "text") -> None:
        """A row holding ``text`` across columns A to ``last_column`` (1-based),
        wrapped, as tall as it needs."""
        width = sum(self.column_widths[:last_column])
        self.height(len(wrapped(text, width)))
        row = self.rows + 1
        if last_column > 1:
            self.ws.merged_cells.add(CellRange(f"A{row}:{get_column_letter(last_column)}{row}"))
        self.append([self.cell(text, style=style, text=True)])

    def widths(self, widths: Sequence[float]) -> None:
        self.column_widths = list(widths)
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
    """The first goal of a KPI (see ``kpi_engine.display.default_target``)."""
    return display.default_target(entry)


def kpi_formula(business_type: str, kpi_id: str, start: str, end: str) -> str:
    """The KPI of the month [start, end) as Excel shows the formula (no "=")."""
    return recipe_for(business_type, kpi_id).formula(start, end)


def header_width(*titles: str, minimum: float = 10.0) -> float:
    """A column wide enough for the longest word of each title (titles wrap)."""
    return max(minimum, *(width_for(longest_word_pixels(title, bold=True)) for title in titles))


@dataclass(frozen=True)
class _Context:
    """What every sheet writer needs: the workbook, its type, language and words."""

    workbook: Workbook
    options: StarterOptions
    profile: kpi_engine.BusinessType
    words: Mapping[str, Any]
    ratings: Mapping[str, str]
    currency: str
    #: The channels of the Channels table (from the data, else a first guess
    #: the user can overwrite), for the KPI sheet's table by channel.
    channels: tuple[str, ...] = ()

    @property
    def lang(self) -> str:
        return self.options.language

    @property
    def type_title(self) -> str:
        return str(self.profile.title[self.lang])

    def fmt(self, entry: ProfileKPI) -> str:
        return display.excel_format(entry.unit, self.lang, self.currency)

    def target_fmt(self, entry: ProfileKPI) -> str:
        """A target's format: its value after the comparison it is met by ("> 70")."""
        return display.excel_target_format(
            entry.unit, display.target_comparison(entry), self.lang, self.currency
        )


def _write_settings(ctx: _Context, settings: _Sheet) -> None:
    """The reporting period, the currency, the gross margin and a target per
    KPI, as named cells."""
    workbook = ctx.workbook
    profile = ctx.profile
    options = ctx.options
    lang = ctx.lang
    heads = ctx.words["headings"]
    labels_column = [
        heads[k] for k in ("period", "period_start", "period_end", "currency", "gross_margin")
    ]
    titles = [entry.title[lang] for entry in profile.kpis]
    settings.widths(
        [
            max(fitting_width(labels_column + titles), header_width(heads["kpi"])),
            max(fitting_width(entry.id for entry in profile.kpis), header_width(heads["id"])),
            header_width(heads["target"], minimum=14),
        ]
    )
    settings.append([settings.cell(heads["setting"], style="title")])
    settings.append([])
    settings.append(
        [settings.cell(heads["period"], text=True), settings.cell(options.period, fmt="yyyy-mm")]
    )
    settings.append(
        [
            settings.cell(heads["period_start"], text=True),
            settings.cell("=DATE(YEAR(PERIOD),MONTH(PERIOD),1)", fmt="yyyy-mm-dd"),
        ]
    )
    settings.append(
        [
            settings.cell(heads["period_end"], text=True),
            settings.cell("=EDATE(PERIOD_START,1)", fmt="yyyy-mm-dd"),
        ]
    )
    settings.append(
        [settings.cell(heads["currency"], text=True), settings.cell(ctx.currency, text=True)]
    )
    _name(workbook, "PERIOD", settings.absolute(2, 3))
    _name(workbook, "PERIOD_START", settings.absolute(2, 4))
    _name(workbook, "PERIOD_END", settings.absolute(2, 5))
    # The report writes money in this currency (an ISO code such as EUR).
    _name(workbook, "CURRENCY", settings.absolute(2, 6))
    period_rule = DataValidation(
        type="date", operator="greaterThan", formula1="36526", allow_blank=False
    )
    period_rule.add("B3")
    settings.ws.data_validations.append(period_rule)
    row = 7
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
    settings.append([settings.cell(heads["targets"], style="label")])
    settings.append(settings.header([heads["kpi"], heads["id"], heads["target"]]))
    target_row = row + 3  # after the blank row, the heading and the header
    for entry in profile.kpis:
        settings.append(
            [
                settings.cell(entry.title[lang], text=True),
                settings.cell(entry.id, text=True),
                settings.cell(default_target(entry), fmt=ctx.target_fmt(entry)),
            ]
        )
        _name(workbook, f"TARGET_{entry.id.upper()}", settings.absolute(3, target_row))
        target_row += 1


#: The KPI sheet's columns, in order (keys of the workbook's headings).
KPI_SHEET_COLUMNS = (
    "kpi",
    "value",
    "target",
    "typical",
    "above_average",
    "exceptional",
    "status",
    "target_met",
    "id",
)


def _column(key: str) -> int:
    """The 1-based column of a KPI sheet column."""
    return KPI_SHEET_COLUMNS.index(key) + 1


def target_met_formula(
    entry: ProfileKPI, value_ref: str, target_ref: str, words: Mapping[str, str]
) -> str:
    """A native formula that says whether the value meets its target, as the
    report does: by the comparison of the band the target comes from."""
    operator = display.EXCEL_COMPARISONS[display.target_comparison(entry)]
    return (
        f"IF(ISNUMBER({value_ref}),IF(ISNUMBER({target_ref}),"
        f'IF({value_ref}{operator}{target_ref},"{words["met"]}","{words["missed"]}"),'
        f'"{words["no_target"]}"),"{words["no_value"]}")'
    )


def _write_kpis(ctx: _Context, kpis: _Sheet) -> None:
    """One row per KPI for the reporting period: value, target, bands, the
    band reached and whether the target is met."""
    workbook = ctx.workbook
    profile = ctx.profile
    lang = ctx.lang
    words = ctx.words
    heads = words["headings"]
    ratings = ctx.ratings
    met_words = labels(lang)["target_met"]
    bands = {
        entry.id: display.format_bands(entry, lang, profile.currency) for entry in profile.kpis
    }
    band_texts = {
        name: [bands[entry.id].get(name, "-") for entry in profile.kpis]
        for name in ("typical", "above_average", "exceptional")
    }
    targets = [
        display.format_target(
            target, display.target_comparison(entry), entry.unit, lang, ctx.currency
        )
        for entry in profile.kpis
        if (target := default_target(entry)) is not None
    ]
    checks = checks_for(profile.id)
    sized = {
        "kpi": fitting_width(
            [entry.title[lang] for entry in profile.kpis]
            + [f"{check.table}[{check.column}]" for check in checks]
            + [heads["period"]],
            maximum=48,
        ),
        # The reporting period shows above the values: any month of the year.
        "value": fitting_width([*targets, *display.every_month(lang)], minimum=12),
        "target": fitting_width(targets, minimum=12),
        **{name: fitting_width(texts) for name, texts in band_texts.items()},
        "status": fitting_width(ratings.values()),
        "target_met": fitting_width(met_words.values()),
        # The last column also shows the data notes' first rows.
        "id": fitting_width([*(entry.id for entry in profile.kpis), "12345, 12346, 12347"]),
    }
    kpis.widths([max(sized[key], header_width(heads[key])) for key in KPI_SHEET_COLUMNS])
    kpis.append([kpis.cell(words["title"].format(type=ctx.type_title), style="title")])
    kpis.append(
        [
            kpis.cell(heads["period"], text=True),
            kpis.cell("=PERIOD_START", fmt=display.excel_date_format("month", lang)),
        ]
    )
    source = SOURCES.get(profile.source)
    cited = source.cited(lang) if source is not None else profile.source
    kpis.append([kpis.cell(words["source"].format(source=cited), text=True)])
    # External benchmarks are named apart from the article's figures, and the
    # unrated KPIs say why.
    for line in display.external_benchmarks(profile, lang):
        kpis.append([kpis.cell(line, text=True)])
    if profile.unrated:
        kpis.append([kpis.cell(profile.unrated[lang], text=True)])
    kpis.append([])
    kpis.append(kpis.header([heads[k] for k in KPI_SHEET_COLUMNS]))
    first_kpi_row = kpis.rows + 1
    value_column = get_column_letter(_column("value"))
    trend_sheet = quote_sheetname(words["sheets"]["trend"])
    stage_words = labels(lang)["stages"]
    for offset, entry in enumerate(profile.kpis):
        # Where the article sorts its KPIs by funnel stage, each stage has a heading row.
        if entry.stage and (offset == 0 or profile.kpis[offset - 1].stage != entry.stage):
            kpis.append([kpis.cell(stage_words[entry.stage], style="label")])
        row = kpis.rows + 1
        fmt = ctx.fmt(entry)
        target_name = f"TARGET_{entry.id.upper()}"
        value_ref = f"{value_column}{row}"
        cells = {
            "kpi": kpis.cell(entry.title[lang], text=True),
            # The Trend sheet's last month is the reporting period: its
            # value, which the Trend computes with the other months.
            "value": kpis.formula(
                f"{trend_sheet}!${get_column_letter(3 + offset)}${TREND_LAST_ROW}", fmt=fmt
            ),
            "target": kpis.formula(
                f'IF(ISNUMBER({target_name}),{target_name},"")', fmt=ctx.target_fmt(entry)
            ),
            **{
                name: kpis.cell(bands[entry.id].get(name, "-"), text=True, style="center")
                for name in ("typical", "above_average", "exceptional")
            },
            "status": kpis.formula(
                status_formula(entry, value_ref, ratings, words["no_benchmark"])
            ),
            "target_met": kpis.formula(
                target_met_formula(entry, value_ref, target_name, met_words)
            ),
            "id": kpis.cell(entry.id, text=True),
        }
        kpis.append([cells[key] for key in KPI_SHEET_COLUMNS])
        _name(workbook, f"KPI_{entry.id.upper()}", kpis.absolute(_column("value"), row))
        _name(workbook, f"STATUS_{entry.id.upper()}", kpis.absolute(_column("status"), row))
        _name(workbook, f"TARGET_MET_{entry.id.upper()}", kpis.absolute(_column("target_met"), row))
    last_kpi_row = kpis.rows
    _colour_words(
        kpis,
        _column("status"),
        first_kpi_row,
        last_kpi_row,
        {ratings[name]: f"band_{name}" for name in (*BAND_NAMES, "below_typical")},
    )
    _colour_words(
        kpis,
        _column("target_met"),
        first_kpi_row,
        last_kpi_row,
        {met_words[name]: name for name in ("met", "missed")},
    )
    _write_channels(ctx, kpis)
    _write_data_notes(ctx, kpis, next_row=kpis.rows + 1)


#: Channels a workbook without channel data starts its table by channel with.
DEFAULT_CHANNELS = ("Instagram", "TikTok", "YouTube")


def _channel_kpis(profile: kpi_engine.BusinessType) -> list[ProfileKPI]:
    """The KPIs measured from the Channels table alone: those shown per channel."""
    return [e for e in profile.kpis if set(recipe_for(profile.id, e.id).reads) == {"Channels"}]


def _channels(tables: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, ...]:
    if "Channels" not in tables:
        return ()
    # Channels are told apart as the formulas compare them (TRIM, any letter
    # case): a name ending in a no-break space is a channel of its own. The
    # heading holds the name as written, since the formulas read it.
    names: dict[str, str] = {}
    for raw in data.get("Channels", {}).get("channel", []):
        key = id_key(raw)
        if key is not None and key not in names:
            names[key] = excel_trim(str(raw))
    return tuple(names.values()) or DEFAULT_CHANNELS


def _write_channels(ctx: _Context, kpis: _Sheet) -> None:
    """Below the KPIs, where some are measured per channel: each such KPI for
    all channels and for each channel, whose name heads its column (a cell
    the user may overwrite: the formulas read it)."""
    measured = _channel_kpis(ctx.profile)
    if not measured or not ctx.channels:
        return
    said = ctx.words["channels"]
    kpis.append([])
    kpis.append([kpis.cell(said["title"], style="section")])
    header_row = kpis.rows + 1
    # More channels than the sheet has columns: a column for each of the others.
    beyond = ctx.channels[max(0, len(kpis.column_widths) - 2) :]
    if beyond:
        kpis.widths([*kpis.column_widths, *(max(12.0, header_width(name)) for name in beyond)])
    kpis.append(kpis.header([ctx.words["headings"]["kpi"], said["all"], *ctx.channels]))
    for index in range(len(ctx.channels)):
        _name(ctx.workbook, f"CHANNEL_{index + 1}", kpis.absolute(3 + index, header_row))
    for entry in measured:
        row = kpis.rows + 1
        fmt = ctx.fmt(entry)
        cells = [
            kpis.cell(entry.title[ctx.lang], text=True),
            kpis.formula(f"KPI_{entry.id.upper()}", fmt=fmt),
        ]
        for index in range(len(ctx.channels)):
            column = get_column_letter(3 + index)
            with only_rows("Channels", "channel", f"${column}${header_row}"):
                formula = kpi_formula(ctx.profile.id, entry.id, "PERIOD_START", "PERIOD_END")
            cells.append(kpis.array(formula, f"{column}{row}", fmt=fmt))
            _name(
                ctx.workbook,
                f"KPI_{entry.id.upper()}_CHANNEL_{index + 1}",
                kpis.absolute(3 + index, row),
            )
        kpis.append(cells)


def _colour_words(
    sheet: _Sheet, column: int, first_row: int, last_row: int, styles: Mapping[str, str]
) -> None:
    """Colour the cells of a column by the word they show (a band, a target met)."""
    letter = get_column_letter(column)
    for word, style_name in styles.items():
        look = STYLES[style_name]
        sheet.ws.conditional_formatting.add(
            f"{letter}{first_row}:{letter}{last_row}",
            CellIsRule(
                operator="equal",
                formula=[f'"{word}"'],
                fill=PatternFill("solid", fgColor=look.fill, bgColor=look.fill)
                if look.fill
                else None,
                font=Font(color=look.color) if look.color else None,
            ),
        )


#: Where the data notes sit on the KPI sheet, in its columns: the table
#: column (a structured reference, in the wide KPI column), the count of rows
#: (a formula, under the values), the effect, the problem (over the band
#: columns, wrapped) and the first rows (a formula, in the last column, where
#: a long list of rows has room to its right).
NOTE_COLUMNS = {"column": "A", "rows": "B", "effect": "C", "problem": "D", "first_rows": "I"}
#: The problem's text spans these columns.
NOTE_PROBLEM_SPAN = ("D", "H")


def _write_data_notes(ctx: _Context, kpis: _Sheet, *, next_row: int) -> None:
    """Below the KPIs: per data check, how many rows it finds, and which.

    The counts are native formulas, so the sheet shows them without the add-in;
    a check that finds nothing shows 0 in grey.
    """
    words = notes_words(ctx.lang)
    heads = words["headings"]
    kpis.append([])
    kpis.append([kpis.cell(words["title"], style="section")])
    kpis.paragraph(words["intro"], len(KPI_SHEET_COLUMNS), style="plain")
    first, last = (column_index_from_string(c) for c in NOTE_PROBLEM_SPAN)
    problem_width = sum(kpis.column_widths[first - 1 : last])
    effect_width = kpis.column_widths[column_index_from_string(NOTE_COLUMNS["effect"]) - 1]
    titles = {column_index_from_string(letter): heads[key] for key, letter in NOTE_COLUMNS.items()}
    span = f"{NOTE_PROBLEM_SPAN[0]}{{row}}:{NOTE_PROBLEM_SPAN[1]}{{row}}"
    kpis.ws.merged_cells.add(CellRange(span.format(row=kpis.rows + 1)))
    kpis.append(kpis.header(titles.get(column) for column in range(1, max(titles) + 1)))
    # A blank row, the title, the introduction and the header come first.
    row = next_row + 4
    first_note_row = row
    count_column, rows_column = NOTE_COLUMNS["rows"], NOTE_COLUMNS["first_rows"]
    for check in checks_for(ctx.profile.id):
        problem, effect = problem_text(check, ctx.lang), effect_text(check, ctx.lang)
        rows_formula = check.rows_formula(f"${count_column}${row}")
        cells = {
            "column": kpis.cell(f"{check.table}[{check.column}]", text=True, style="top"),
            "rows": kpis.array(check.count_formula(), f"{count_column}{row}", fmt="#,##0"),
            "effect": kpis.cell(effect, text=True, style="text"),
            "problem": kpis.cell(problem, text=True, style="text"),
            "first_rows": kpis.array(rows_formula, f"{rows_column}{row}") if rows_formula else None,
        }
        # A note's row is as tall as its wrapped problem: everything reads from the top.
        for formula_cell in (cells["rows"], cells["first_rows"]):
            if formula_cell is not None:
                formula_cell.alignment = Alignment(vertical="top")
        kpis.height(max(len(wrapped(problem, problem_width)), len(wrapped(effect, effect_width))))
        kpis.ws.merged_cells.add(CellRange(span.format(row=row)))
        kpis.append(
            _spread(
                {column_index_from_string(NOTE_COLUMNS[key]): cell for key, cell in cells.items()}
            )
        )
        row += 1
    if row > first_note_row:
        kpis.ws.conditional_formatting.add(
            f"A{first_note_row}:{get_column_letter(len(KPI_SHEET_COLUMNS))}{row - 1}",
            FormulaRule(
                formula=[f"${count_column}{first_note_row}=0"],
                font=Font(color="A6A6A6"),
            ),
        )


def _spread(cells: Mapping[int, Any]) -> list[Any]:
    """A row of cells placed by 1-based column, with blanks between them."""
    return [cells.get(column) for column in range(1, max(cells) + 1)]


#: The Trend sheet's rows of the twelve months; the last is the reporting period.
TREND_FIRST_ROW = 4
TREND_LAST_ROW = TREND_FIRST_ROW + 11

#: Trend charts: their size in centimetres, and the columns between two side by side.
TREND_CHART_CM = (12.0, 6.5)


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
    titles = [e.title[lang] for e in profile.kpis]
    month_format = display.excel_date_format("month", lang)
    # The user may set any period: the column shows every month of the year.
    months = display.every_month(lang)
    value_width = 14.0
    trend.widths(
        [
            max(fitting_width(months), header_width(heads["month"])),
            header_width(heads["period_end"], minimum=12),
            *[max(value_width, header_width(title)) for title in titles],
        ]
    )
    # Write-only sheets write their columns with the first row: hide the
    # charts' copy of the trend first.
    for column in range(first_chart_column, first_chart_column + count):
        trend.ws.column_dimensions[get_column_letter(column)].hidden = True
    trend.append([trend.cell(ctx.words["title"].format(type=ctx.type_title), style="title")])
    trend.append([])
    trend.append(
        [
            *trend.header([heads["month"], heads["period_end"], *titles]),
            None,
            *[trend.cell(title, text=True) for title in titles],
        ]
    )
    first_month_row, last_month_row = TREND_FIRST_ROW, TREND_LAST_ROW
    for index in range(12):
        row = first_month_row + index
        cells: list[Any] = [
            trend.formula(f"EDATE(PERIOD_START,{index - 11})", fmt=month_format),
            trend.formula(f"EDATE(A{row},1)", fmt="yyyy-mm-dd"),
        ]
        for position, entry in enumerate(profile.kpis):
            cells.append(_trend_cell(ctx, trend, entry, 3 + position, row, first_month_row))
        cells.append(None)
        for position, entry in enumerate(profile.kpis):
            shown = f"{get_column_letter(3 + position)}{row}"
            cells.append(trend.formula(f"IF(ISNUMBER({shown}),{shown},NA())", fmt=ctx.fmt(entry)))
        trend.append(cells)
    months_ref = Reference(trend.ws, min_col=1, min_row=first_month_row, max_row=last_month_row)
    second_column = _column_after(trend.column_widths, TREND_CHART_CM[0])
    for index, entry in enumerate(profile.kpis):
        chart = LineChart()
        chart.title = chart_parts.chart_title(entry.title[lang])
        chart.width, chart.height = TREND_CHART_CM
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
        chart.set_categories(months_ref)
        for line in chart.series:
            line.smooth = False
        chart.x_axis.number_format = display.excel_date_format("short_month", lang)
        chart.x_axis.tickLblPos = "low"
        chart.y_axis.number_format = ctx.fmt(entry)
        anchor_row = last_month_row + 3 + (index // 2) * 14
        anchor_column = "A" if index % 2 == 0 else get_column_letter(second_column)
        trend.ws.add_chart(chart, f"{anchor_column}{anchor_row}")


def _trend_cell(
    ctx: _Context, trend: _Sheet, entry: ProfileKPI, column: int, row: int, first_row: int
) -> WriteOnlyCell:
    """A KPI's cell of a Trend month. A KPI whose recipe computes every month
    in one formula has it in the first month's cell, over the twelve (Excel
    spills it; LibreOffice reads an array formula over them): the cells below
    hold only the number format. Other KPIs have a formula per month."""
    letter = get_column_letter(column)
    recipe = recipe_for(ctx.profile.id, entry.id)
    if recipe.months is None:
        formula = kpi_formula(ctx.profile.id, entry.id, f"$A{row}", f"$B{row}")
        return trend.array(formula, f"{letter}{row}", fmt=ctx.fmt(entry))
    if row != first_row:
        return trend.cell(None, fmt=ctx.fmt(entry))
    last_row = first_row + 11
    every_month = recipe.months(f"$A${first_row}:$A${last_row}", f"$B${first_row}:$B${last_row}")
    return trend.array(every_month, f"{letter}{first_row}:{letter}{last_row}", fmt=ctx.fmt(entry))


def _column_after(widths: Sequence[float], centimetres: float) -> int:
    """The first column (1-based) that starts right of ``centimetres`` from the
    sheet's left edge: where a second chart can stand beside the first."""
    from addin.ooxml.widths import column_pixels  # noqa: PLC0415

    pixels = centimetres / 2.54 * 96
    edge = 0
    for index, width in enumerate(widths, start=1):
        if edge >= pixels:
            return index
        edge += column_pixels(width)
    return len(widths) + 1 + int((pixels - edge) // 64 + 1)


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
        progress.stage("making the sample data")
        data = (
            {}
            if options.empty
            else sample_tables(
                profile.id, as_of=options.as_of, seed=options.seed, rows=options.rows
            )
        )
    type_title = profile.title[lang]

    progress.stage("building the sheets")
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
    context = _Context(
        workbook, options, profile, words, ratings, options.currency, _channels(tables, data)
    )
    _write_settings(context, settings)
    _write_kpis(context, kpis)
    _write_trend(context, trend)

    # Data sheets.
    data_rows: dict[str, SheetRows] = {}
    for table, columns in tables.items():
        rows = _write_table(
            workbook, table_names[table], table, columns, data.get(table, {}), words["choices"]
        )
        if rows is not None:
            data_rows[rows.part] = rows

    _write_about(about, words, profile, tables, table_names, column_words, type_title, lang)
    return StarterBook(workbook, data_rows)


def _write_table(
    workbook: Workbook,
    title: str,
    table: str,
    columns: Sequence[Column],
    values: Mapping[str, Sequence[Any]],
    choice_words: Mapping[str, str],
) -> SheetRows | None:
    """Write a data sheet's header, table and validations; return its rows,
    which ``save_workbook`` streams into the sheet (see ``SheetRows``)."""
    sheet = _Sheet(workbook, title)
    sheet.widths([max(18 if c.kind == "datetime" else 12, header_width(c.id)) for c in columns])
    sheet.ws.freeze_panes = "A2"
    # Every printed page repeats the column headers.
    sheet.ws.print_title_rows = "1:1"
    sheet.append(sheet.header(c.id for c in columns))
    count = max((len(v) for v in values.values()), default=0)
    rows = None
    # The date formats are registered even for an empty table: kpi import
    # finds them there and writes its dates with them, leaving styles as they are.
    date_styles = [
        sheet.cell(0, fmt=DATE_FORMATS[c.kind]).style_id if c.kind in DATE_FORMATS else None
        for c in columns
    ]
    if count:
        rows = SheetRows(
            # openpyxl numbers sheet parts in workbook order when it saves.
            part=f"xl/worksheets/sheet{workbook.worksheets.index(sheet.ws) + 1}.xml",
            table=title,
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
        rule = _validation(column, choice_words)
        if rule is not None:
            letter = get_column_letter(position)
            rule.add(f"{letter}2:{letter}{VALIDATED_ROWS}")
            sheet.ws.data_validations.append(rule)
    return rows


def _validation(column: Column, choice_words: Mapping[str, str]) -> DataValidation | None:
    if column.kind == "choice":
        # The statuses stay English in every language (the formulas and the
        # add-in read them): the cell lists them, says in the workbook's
        # language exactly what to type, and refuses anything else.
        choices = ", ".join(column.choices)
        return DataValidation(
            type="list",
            formula1='"' + ",".join(column.choices) + '"',
            allow_blank=True,
            showErrorMessage=True,
            showInputMessage=True,
            promptTitle=column.id,
            prompt=choice_words["prompt"].format(choices=choices),
            errorTitle=column.id,
            error=choice_words["error"].format(choices=choices),
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
    language: str,
) -> None:
    names = words["sheets"]
    heads = words["headings"]
    first = [names[key] for key in ("kpis", "trend", "settings")] + [table_names[t] for t in tables]
    first += list(tables)
    second = list(tables) + [column.id for columns in tables.values() for column in columns]
    sheet.widths(
        [
            max(fitting_width(first), header_width(heads["sheet"], heads["table"])),
            max(fitting_width(second), header_width(heads["table"], heads["column"])),
            ABOUT_TEXT_WIDTH,
        ]
    )
    sheet.append([sheet.cell(words["title"].format(type=type_title), style="title")])
    sheet.append([])
    # The tables of people this workbook has (customers, members,
    # celebrities): the paragraph about them names those, or is left out.
    people = [table_names[name] for name in PEOPLE_TABLES if name in tables]
    people_words = words["people_tables"]
    for paragraph in words["about"]:
        if "{people}" in paragraph and not people:
            continue
        text = paragraph.format(
            type=type_title,
            settings=names["settings"],
            kpis=names["kpis"],
            trend=names["trend"],
            people=people_words["one" if len(people) == 1 else "other"].format(
                names=format_list(people, locale=language)
            ),
        )
        sheet.paragraph(text, 3)
    sheet.append([])
    sheet.append(sheet.header([heads["sheet"], heads["table"], heads["purpose"]]))

    def described(first: str, second: str | None, meaning: str) -> None:
        sheet.height(len(wrapped(meaning, ABOUT_TEXT_WIDTH)))
        sheet.append(
            [
                sheet.cell(first, text=True, style="text"),
                None if second is None else sheet.cell(second, text=True, style="text"),
                sheet.cell(meaning, text=True, style="text"),
            ]
        )

    for key in ("kpis", "trend", "settings"):
        described(names[key], None, words["sheet_purpose"][key])
    for table in tables:
        described(table_names[table], table, words["sheet_purpose"]["data"].format(table=table))
    sheet.append([])
    sheet.append(sheet.header([heads["table"], heads["column"], heads["meaning"]]))
    for table, columns in tables.items():
        for column in columns:
            described(table, column.id, column_words[f"{table}.{column.id}"])


#: The Read me sheet's column of explanations, in characters: wide enough to
#: read, narrow enough to print on one page's width.
ABOUT_TEXT_WIDTH = 80.0
#: The tables of people who join and leave, which the Read me sheet's
#: paragraph on stays and churn names where a workbook has them.
PEOPLE_TABLES = ("Customers", "Members", "Celebrities")


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


def save_workbook(book: StarterBook, target: Path, *, into_special: bool = False) -> None:
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

    # A FIFO or a device is written into only with --force (see atomic).
    write_atomically(target, write, into_special=into_special)


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
    save_workbook(workbook, target, into_special=force)
    return target
