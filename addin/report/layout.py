"""The report sheet as cells: values, number formats, styles, column widths,
row heights, merged ranges and where the charts go.

One layout serves both writers: ``addin.report.writer`` (into a package,
offline) and ``addin.report.excel`` (through the xlwings Book API), so the
sheet looks the same whichever wrote it. Number formats come from
``kpi_engine.display`` and styles from ``addin.styles``; columns are sized
to their texts in the report's language (``addin.ooxml.widths``), and long
headers wrap onto as many lines as they need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kpi_engine
from addin.ooxml.sheets import column_letter
from addin.ooxml.widths import (
    LINE_POINTS,
    column_pixels,
    fitting_width,
    longest_word_pixels,
    width_for,
    wrapped,
)
from addin.recipes.notes import message, notes_words
from addin.report.model import KPIReport, Report, has_made_visible, words
from addin.styles import band_style
from kpi_engine import display
from kpi_engine.texts import labels

DASH = "-"
GENERAL = "General"
#: The KPI table's columns after the KPI's title, in order (keys of words.toml headings).
KPI_COLUMNS = (
    "value",
    "previous",
    "change",
    "year_ago",
    "year_change",
    "target",
    "gap",
    "band",
    "target_met",
    "margin",
    "id",
)
#: Narrowest and widest columns, in characters.
MIN_WIDTH, MAX_TITLE_WIDTH = 11.0, 48.0
#: The charts: size and spacing in pixels, two side by side.
CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 480, 264, 16
DEFAULT_ROW_PIXELS = 20  # a 15-point row
EMU_PER_PIXEL = 9525


@dataclass(frozen=True)
class Cell:
    value: Any  # str, float, int, datetime.date/datetime, or None
    fmt: str = GENERAL  # an Excel number format code
    style: str = "plain"  # a name of addin.styles.STYLES


@dataclass(frozen=True)
class TrendLayout:
    """Where the trend table sits (1-based rows): the header row with the KPI
    titles, the twelve month rows, and each KPI's column letter."""

    header_row: int
    first_month_row: int
    last_month_row: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ChartPlace:
    """Where one chart goes: its top-left cell (0-based) with offsets, and its
    size, in pixels; ``left``/``top`` are the same corner in points."""

    column: int
    column_offset: int
    row: int
    row_offset: int
    width: int
    height: int
    left: float
    top: float


@dataclass(frozen=True)
class SheetLayout:
    grid: tuple[tuple[Cell | None, ...], ...]
    widths: tuple[float, ...]  # per column, in characters
    heights: Mapping[int, float]  # 1-based row -> points, where not the default
    merges: tuple[tuple[int, int, int], ...]  # (1-based row, first column, last column)
    trend: TrendLayout
    charts: tuple[ChartPlace, ...]

    def values(self) -> list[list[Any]]:
        """The grid as plain values (None for an empty cell)."""
        width = max(len(row) for row in self.grid)
        return [
            [None if cell is None else cell.value for cell in row] + [None] * (width - len(row))
            for row in self.grid
        ]


def _number(value: float | None, fmt: str, style: str = "plain") -> Cell:
    if value is None or not math.isfinite(value):
        return Cell(DASH)
    return Cell(value, fmt, style)


def _kpi_row(report: Report, kpi: KPIReport) -> tuple[Cell, ...]:
    language, currency = report.language, report.currency
    value_format = display.excel_format(kpi.unit, language, currency)
    better = kpi.change_is_better
    change = None if kpi.change is None else display.difference_value(kpi.change, kpi.unit)
    year_change = (
        None if kpi.year_change is None else display.difference_value(kpi.year_change, kpi.unit)
    )
    year_better = kpi.year_change_is_better
    gap = None if kpi.gap is None else display.difference_value(kpi.gap, kpi.unit)
    ratings = labels(language)["ratings"]
    cells = {
        "value": _number(kpi.value, value_format),
        "previous": _number(kpi.previous, value_format),
        "change": _number(
            change,
            display.excel_difference_format(kpi.unit, language, currency, arrows=True),
            "plain" if better is None else ("better" if better else "worse"),
        ),
        "year_ago": _number(kpi.year_ago, value_format),
        "year_change": _number(
            year_change,
            display.excel_difference_format(kpi.unit, language, currency, arrows=True),
            "plain" if year_better is None else ("better" if year_better else "worse"),
        ),
        "target": _number(
            kpi.target,
            display.excel_target_format(kpi.unit, kpi.comparison, language, currency),
        ),
        "gap": _number(gap, display.excel_difference_format(kpi.unit, language, currency)),
        "band": Cell(DASH)
        if kpi.band is None
        else Cell(ratings[kpi.band], style=band_style(kpi.band)),
        "target_met": Cell(
            labels(language)["target_met"][kpi.target_status], style=kpi.target_status
        ),
        "margin": _number(kpi.margin, display.excel_format("points", language)),
        "id": Cell(kpi.id),
    }
    return (Cell(kpi.title), *(cells[key] for key in KPI_COLUMNS))


def _kpi_table(report: Report, rows: list[tuple[Cell | None, ...]]) -> list[int]:
    """Append a row per KPI, with a heading row before each funnel stage where
    the article sorts its KPIs so; return the 0-based row of each KPI."""
    stage_words = labels(report.language)["stages"]
    kpi_rows = []
    for index, kpi in enumerate(report.kpis):
        if kpi.stage and (index == 0 or report.kpis[index - 1].stage != kpi.stage):
            rows.append((Cell(stage_words[kpi.stage], style="section"),))
        kpi_rows.append(len(rows))
        rows.append(_kpi_row(report, kpi))
    return kpi_rows


def _channel_rows(report: Report) -> list[tuple[Cell | None, ...]]:
    """Below the KPI table, where KPIs are measured per channel: a table of
    each such KPI's value per channel beside the total of all channels."""
    measured = [kpi for kpi in report.kpis if kpi.channels]
    if not measured:
        return []
    said = words(report.language)
    names = [name for name, _ in measured[0].channels]
    rows: list[tuple[Cell | None, ...]] = [
        (),
        (Cell(said["by_channel"], style="section"),),
        tuple(
            Cell(text, style="header")
            for text in (said["headings"]["kpi"], said["all_channels"], *names)
        ),
    ]
    for kpi in measured:
        value_format = display.excel_format(kpi.unit, report.language, report.currency)
        rows.append(
            (
                Cell(kpi.title),
                _number(kpi.value, value_format),
                *(_number(value, value_format) for _, value in kpi.channels),
            )
        )
    if has_made_visible(names):
        rows.append((Cell(said["invisible_note"], style="muted"),))
    return rows


def _shown(cell: Cell | None, report: Report, kpi: KPIReport | None, key: str) -> str:
    """What a cell shows, near enough to size its column."""
    if cell is None or cell.value is None:
        return ""
    if isinstance(cell.value, str):
        return cell.value
    assert kpi is not None
    if key in ("change", "year_change", "gap"):
        text = report.difference_text(
            kpi, cell.value / display.unit_display(kpi.unit).difference_scale
        )
        return ("▲ " if key != "gap" else "") + str(text)
    if key == "margin":
        return display.format_value(cell.value, "points", report.language)
    if key == "target":
        return str(report.target_text(kpi))
    return str(report.text(kpi, cell.value))


def lay_out(report: Report) -> SheetLayout:  # noqa: PLR0915  (the sheet top to bottom, block by block)
    """The report sheet of ``report``."""
    language = report.language
    said = words(language)
    heads = said["headings"]
    notes_said = notes_words(language)
    kpis = report.kpis

    rows: list[tuple[Cell | None, ...]] = [
        (Cell(said["title"].format(type=report.business_title), style="title"),),
        (
            Cell(said["period"], style="label"),
            Cell(report.period, display.excel_date_format("month", language), "left"),
        ),
        (
            Cell(said["refreshed"], style="label"),
            Cell(report.refreshed_at, display.excel_date_format("moment", language), "left"),
        ),
    ]
    if report.source is not None:
        cited = report.source.cited(report.language)
        rows.append((Cell(said["source"], style="label"), Cell(cited)))
    profile = kpi_engine.get_business_type(report.business_type)
    for line in display.external_benchmarks(profile, language):
        rows.append((Cell(said["external"], style="label"), Cell(line)))
    # The facts at the top read across the table's width.
    merges: list[tuple[int, int, int]] = [
        (row, 1, len(KPI_COLUMNS)) for row in range(2, len(rows) + 1)
    ]
    rows.append(())
    kpi_header_row = len(rows) + 1
    rows.append(tuple(Cell(heads[key], style="header") for key in ("kpi", *KPI_COLUMNS)))
    kpi_rows = _kpi_table(report, rows)
    channel_rows = _channel_rows(report)
    # The header of the channel table: after a blank row and its title (1-based).
    channel_header_row = len(rows) + 3 if channel_rows else None
    rows += channel_rows

    rows.append(())
    rows.append((Cell(said["trend"], style="section"),))
    rows.append((Cell(said["trend_note"], style="muted"),))
    trend_header_row = len(rows) + 1
    rows.append(
        (Cell(said["month"], style="header"), *(Cell(kpi.title, style="header") for kpi in kpis))
    )
    first_month_row = len(rows) + 1
    month_format = display.excel_date_format("month", language)
    for index, month in enumerate(report.months):
        cells: list[Cell | None] = [Cell(month, month_format, "left")]
        for kpi in kpis:
            value = kpi.trend[index]
            # Blank, not a dash: a line chart leaves a blank cell out (a gap),
            # where it would draw text as zero.
            cells.append(
                None
                if value is None or not math.isfinite(value)
                else Cell(value, display.excel_format(kpi.unit, language, report.currency))
            )
        rows.append(tuple(cells))
    last_month_row = len(rows)

    # --- columns: sized to their texts, headers wrapped to fit ---
    last_column = len(KPI_COLUMNS)  # 0-based index of the KPI table's last column
    titles = [kpi.title for kpi in kpis]
    labels_column = [said["period"], said["refreshed"], said["source"], said["month"]]
    first_width = fitting_width(titles, maximum=MAX_TITLE_WIDTH)
    first_width = max(first_width, fitting_width(labels_column, bold=True, maximum=MAX_TITLE_WIDTH))
    widths = [first_width]
    for position, key in enumerate(KPI_COLUMNS, start=1):
        shown = [
            _shown(rows[kpi_rows[i]][position], report, kpi, key) for i, kpi in enumerate(kpis)
        ]
        if position <= len(kpis):  # the trend column of a KPI lies under this one
            trend_kpi = kpis[position - 1]
            shown += [
                str(report.text(trend_kpi, value)) for value in trend_kpi.trend if value is not None
            ]
            header_words = [heads[key], trend_kpi.title]
        else:
            header_words = [heads[key]]
        width = fitting_width(shown, minimum=MIN_WIDTH)
        # A header wraps at its spaces: its longest word must fit.
        widest_word = max(longest_word_pixels(text, bold=True) for text in header_words)
        widths.append(max(width, width_for(widest_word)))
    # More KPIs than table columns: their trend columns are sized alone.
    for kpi in kpis[len(KPI_COLUMNS) :]:
        values = [str(report.text(kpi, value)) for value in kpi.trend if value is not None]
        widths.append(
            max(
                fitting_width(values, minimum=MIN_WIDTH),
                width_for(longest_word_pixels(kpi.title, bold=True)),
            )
        )

    heights: dict[int, float] = {}
    header_rows = [kpi_header_row, trend_header_row]
    if channel_header_row is not None:
        header_rows.append(channel_header_row)
    for header_row in header_rows:
        lines = max(
            len(wrapped(str(cell.value), widths[col], bold=True))
            for col, cell in enumerate(rows[header_row - 1])
            if cell is not None
        )
        heights[header_row] = LINE_POINTS * lines

    # --- the sentences and the data notes, wrapped over the table's width ---
    text_width = sum(widths[1 : last_column + 1])
    rows.append(())
    rows.append((Cell(said["narrative"], style="section"),))
    for kpi in kpis:
        rows.append((Cell(kpi.title, style="text"), Cell(kpi.narrative, style="text")))
        row = len(rows)
        merges.append((row, 1, last_column))
        lines = max(len(wrapped(kpi.narrative, text_width)), len(wrapped(kpi.title, widths[0])))
        heights[row] = LINE_POINTS * lines
    rows.append(())
    rows.append((Cell(notes_said["title"], style="section"),))
    all_width = sum(widths[: last_column + 1])
    said_notes = [message(note, language) for note in report.notes] or [notes_said["none"]]
    for text in said_notes:
        rows.append((Cell(text, style="text"),))
        row = len(rows)
        merges.append((row, 0, last_column))
        heights[row] = LINE_POINTS * len(wrapped(text, all_width))

    trend = TrendLayout(
        trend_header_row,
        first_month_row,
        last_month_row,
        tuple(column_letter(1 + index) for index in range(len(kpis))),
    )
    grid = tuple(rows)
    return SheetLayout(
        grid=grid,
        widths=tuple(widths),
        heights=heights,
        merges=tuple(merges),
        trend=trend,
        charts=_place_charts(len(kpis), len(grid) + 1, widths, heights),
    )


def _place_charts(
    count: int, first_row: int, widths: Sequence[float], heights: Mapping[int, float]
) -> tuple[ChartPlace, ...]:
    """Two charts side by side per band of rows, below the sheet's last row
    (``first_row``, 0-based: one blank row after the grid)."""
    column_edges = [0]
    for width in widths:
        column_edges.append(column_edges[-1] + column_pixels(width))

    def column_at(x: int) -> tuple[int, int]:
        for index in range(len(column_edges) - 1):
            if x < column_edges[index + 1]:
                return index, x - column_edges[index]
        # Beyond the sized columns: Excel's default width of 64 pixels.
        beyond = x - column_edges[-1]
        return len(widths) + beyond // 64, beyond % 64

    top_points = sum(heights.get(row, LINE_POINTS) for row in range(1, first_row + 1))
    places = []
    for index in range(count):
        x = (index % 2) * (CHART_WIDTH + CHART_GAP)
        y = (index // 2) * (CHART_HEIGHT + CHART_GAP)
        column, column_offset = column_at(x)
        row, row_offset = divmod(y, DEFAULT_ROW_PIXELS)
        places.append(
            ChartPlace(
                column=column,
                column_offset=column_offset,
                row=first_row + row,
                row_offset=row_offset,
                width=CHART_WIDTH,
                height=CHART_HEIGHT,
                left=x * 0.75,
                top=top_points + y * 0.75,
            )
        )
    return tuple(places)


__all__ = ["DASH", "Cell", "ChartPlace", "SheetLayout", "TrendLayout", "column_letter", "lay_out"]
