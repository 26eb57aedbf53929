"""The report as one self-contained HTML page: ``kpi report FILE --html OUT``.

The page says what the report sheet says: the KPI table (the columns of
``kpi report``), one line chart per KPI over the twelve trend months, the
narrative and the data notes, in the workbook's language. Every figure is
text from ``kpi_engine.display`` (through the report model), the colours are
the report sheet's (``addin.styles``), and the sentences are the
narrative's own. The markup is the Jinja2 templates ``templates/report/``
(``report.html.j2``, ``report.css``, ``chart.svg.j2``), escaped on output.

The page makes no request of its own: styles are inline, fonts are the
reader's system fonts, charts are inline SVG and there is no script, so it
reads the same from a mail attachment, a shared folder or a printer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from addin.ooxml import atomic
from addin.ooxml.atomic import write_bytes_atomically
from addin.ooxml.package import ReportError
from addin.recipes.notes import message, notes_words
from addin.report.model import KPIReport, Report, has_made_visible, words
from addin.report.narrative import template_loader
from addin.styles import (
    BAD_FILL,
    BAD_FONT,
    BAND_FILLS,
    GOOD_FILL,
    GOOD_FONT,
    HEADER_FILL,
    MUTED_FONT,
)
from kpi_engine import display
from kpi_engine.texts import labels

#: File names the page may be written to: anything else (a workbook named by
#: mistake, say) is refused rather than overwritten.
HTML_SUFFIXES = (".html", ".htm")

#: The chart's drawing area, in SVG user units; the page scales it to its
#: column (``width: 100%``), so these fix proportions and text size only.
CHART_WIDTH, CHART_HEIGHT = 480, 220
FONT_SIZE = 13
#: An estimate of a label's width per character at FONT_SIZE, to leave room
#: for the value axis labels (the page uses the reader's own sans-serif font).
CHARACTER_WIDTH = 7.2
TOP, BOTTOM, RIGHT = 12, 30, 34
#: Months labelled on the time axis: every third, counted back from the period.
MONTH_LABEL_EVERY = 3
#: At most about this many steps on the value axis.
VALUE_STEPS = 3


@dataclass(frozen=True)
class Tick:
    position: float  # x for a month, y for a value, in SVG user units
    text: str


@dataclass(frozen=True)
class TrendChart:
    """One KPI's twelve months as a line chart: geometry in SVG user units,
    every label already formatted."""

    id: str  # unique within the page, for aria-labelledby
    title: str  # the accessible name
    description: str  # every month and its value, in words
    width: int
    height: int
    left: float  # the plot area
    top: float
    right: float
    bottom: float
    segments: tuple[str, ...]  # one path per run of months that have a value
    points: tuple[tuple[float, float], ...]  # every month that has a value
    months: tuple[Tick, ...]  # the time axis: a tick per month, text on some
    values: tuple[Tick, ...]  # the value axis: gridlines with their values


def runs(values: Sequence[float | None]) -> list[list[int]]:
    """The indexes of ``values`` in runs of consecutive non-None values: a
    None ends a run, so a month without a value is a gap in the line.

    >>> runs([1.0, 2.0, None, 3.0, None, None, 4.0, 5.0])
    [[0, 1], [3], [6, 7]]
    """
    found: list[list[int]] = []
    current: list[int] = []
    for index, value in enumerate(values):
        if value is None:
            if current:
                found.append(current)
            current = []
        else:
            current.append(index)
    if current:
        found.append(current)
    return found


def _resolution(unit: str) -> float:
    """The smallest step the unit's text shows (0.001 for a rate shown as
    17.6 %, 1 for a whole score): finer gridlines would repeat a label."""
    shown = display.unit_display(unit)
    return 10.0 ** -(shown.decimals + (2 if shown.shown_as == "percent" else 0))


def value_steps(low: float, high: float, resolution: float) -> list[float]:
    """Round values from at or below ``low`` to at or above ``high``, one
    step of 1, 2 or 5 times a power of ten apart, at least ``resolution``.

    >>> value_steps(0.172, 0.231, 0.001)
    [0.16, 0.18, 0.2, 0.22, 0.24]
    >>> value_steps(40.0, 40.0, 1.0)
    [39.0, 40.0, 41.0]
    """
    span = high - low
    if span <= 0:
        # A flat line: one step either side, a tenth of the value's order of
        # magnitude, but no finer than the figures show.
        step = max(resolution, 10.0 ** math.floor(math.log10(abs(high) or 1.0)) / 10)
        first = round(low / step) - 1
        return [round((first + i) * step, 12) for i in range(3)]
    raw = span / VALUE_STEPS
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    step = max(step, resolution)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def trend_chart(report: Report, kpi: KPIReport, index: int = 0) -> TrendChart | None:
    """The line chart of ``kpi``'s trend (None when no month has a value)."""
    language = report.language
    said = words(language)
    trend = kpi.trend
    known = [value for value in trend if value is not None]
    if not known:
        return None
    steps = value_steps(min(known), max(known), _resolution(kpi.unit))
    step_texts = [str(report.text(kpi, value)) for value in steps]
    months = [display.format_month(month, language, short=True) for month in report.months]
    left = 8 + CHARACTER_WIDTH * max(len(text) for text in step_texts)
    # The first month's label is centred on the axis's start: leave it room.
    left = max(left, CHARACTER_WIDTH * max(len(text) for text in months) / 2)
    top, right, bottom = TOP, CHART_WIDTH - RIGHT, CHART_HEIGHT - BOTTOM
    low, high = steps[0], steps[-1]

    def x(position: int) -> float:
        return round(left + (right - left) * position / max(len(trend) - 1, 1), 1)

    def y(value: float) -> float:
        return round(bottom - (bottom - top) * (value - low) / (high - low), 1)

    segments = tuple(
        " ".join(
            f"{'M' if order == 0 else 'L'}{x(i)},{y(trend[i])}"  # type: ignore[arg-type]
            for order, i in enumerate(run)
        )
        for run in runs(trend)
    )
    last = len(trend) - 1
    month_ticks = tuple(
        Tick(x(i), months[i] if (last - i) % MONTH_LABEL_EVERY == 0 else "")
        for i in range(len(trend))
    )
    value_ticks = tuple(Tick(y(v), text) for v, text in zip(steps, step_texts, strict=True))
    described = "; ".join(
        f"{display.format_month(month, language)}: "
        + (said["no_value"] if value is None else str(report.text(kpi, value)))
        for month, value in zip(report.months, trend, strict=True)
    )
    return TrendChart(
        id=f"chart-{index + 1}",
        title=f"{kpi.title}: {said['trend'].lower()} ({months[0]} – {months[-1]})",
        description=described,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=round(left, 1),
        top=top,
        right=right,
        bottom=bottom,
        segments=segments,
        points=tuple((x(i), y(v)) for i, v in enumerate(trend) if v is not None),
        months=month_ticks,
        values=value_ticks,
    )


@cache
def _environment() -> jinja2.Environment:
    # The narrative's loader, escaping every value: titles, notes and table
    # names come from the workbook and may hold "<" or "&".
    return jinja2.Environment(
        loader=template_loader(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def chart_svg(chart: TrendChart) -> Markup:
    """The inline ``<svg>`` of one chart."""
    module: Any = _environment().get_template("chart.svg.j2").module
    return Markup(module.chart(chart))


def _colours() -> dict[str, str]:
    """The report sheet's colours, as CSS custom properties, so that the page
    and the sheet agree."""
    return {
        "header": HEADER_FILL,
        "good-text": GOOD_FONT,
        "good-fill": GOOD_FILL,
        "bad-text": BAD_FONT,
        "bad-fill": BAD_FILL,
        "muted": MUTED_FONT,
        **{f"band-{name.replace('_', '-')}": fill for name, fill in BAND_FILLS.items()},
    }


def _arrow(kpi: KPIReport, change: float | None) -> str:
    """The arrow of a change as it is shown: none for a change that rounds to zero."""
    if change is None:
        return ""
    return {1: "▲", -1: "▼", 0: "="}[kpi.shown_sign(change)]


def _row(report: Report, kpi: KPIReport) -> dict[str, Any]:
    """One line of the KPI table, as ``kpi report`` prints it."""
    language = report.language
    better = kpi.change_is_better
    verdict = words(language)["verdict"]
    return {
        "id": kpi.id,
        "title": kpi.title,
        "value": report.text(kpi, kpi.value),
        "previous": report.text(kpi, kpi.previous),
        "change": report.difference_text(kpi, kpi.change),
        "arrow": _arrow(kpi, kpi.change),
        "change_class": "" if better is None else ("better" if better else "worse"),
        "verdict": None if better is None else verdict["better" if better else "worse"],
        "year_ago": report.text(kpi, kpi.year_ago),
        "year_change": report.difference_text(kpi, kpi.year_change),
        "year_arrow": _arrow(kpi, kpi.year_change),
        "year_class": ""
        if kpi.year_change_is_better is None
        else ("better" if kpi.year_change_is_better else "worse"),
        "target": report.target_text(kpi),
        "band": kpi.band,
        "band_text": None if kpi.band is None else labels(language)["ratings"][kpi.band],
        "target_status": kpi.target_status,
        "target_text": labels(language)["target_met"][kpi.target_status],
    }


def _rows(report: Report) -> list[dict[str, Any]]:
    """The KPI table's lines; the first of each funnel stage names the stage."""
    stage_words = labels(report.language)["stages"]
    rows = []
    for index, kpi in enumerate(report.kpis):
        row = _row(report, kpi)
        starts = kpi.stage and (index == 0 or report.kpis[index - 1].stage != kpi.stage)
        row["stage_heading"] = stage_words[kpi.stage] if starts else ""
        rows.append(row)
    return rows


def _channel_table(report: Report) -> dict[str, Any] | None:
    """The table by channel, as the report sheet has it: each KPI measured per
    channel, for all channels and for each, under the channels' shown names."""
    measured = [kpi for kpi in report.kpis if kpi.channels]
    if not measured:
        return None
    names = [name for name, _ in measured[0].channels]
    return {
        "names": names,
        "invisible_note": has_made_visible(names),
        "rows": [
            {
                "id": kpi.id,
                "title": kpi.title,
                "value": report.text(kpi, kpi.value),
                "values": [(name, report.text(kpi, value)) for name, value in kpi.channels],
            }
            for kpi in measured
        ],
    }


def render_page(report: Report) -> str:
    """The whole page of ``report``, as HTML text."""
    language = report.language
    said = words(language)
    period = display.format_month(report.period, language)
    charts = [(kpi, trend_chart(report, kpi, index)) for index, kpi in enumerate(report.kpis)]
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            language=language,
            said=said,
            heads=said["headings"],
            notes_said=notes_words(language),
            page_title=said["html_title"].format(type=report.business_title, period=period),
            heading=said["title"].format(type=report.business_title),
            period=period,
            refreshed=display.format_moment(report.refreshed_at, language),
            refreshed_iso=report.refreshed_at.isoformat(),
            source=None if report.source is None else report.source.cited(language),
            colours=_colours(),
            rows=_rows(report),
            channels=_channel_table(report),
            undefined=[kpi for kpi in report.kpis if kpi.value is None],
            charts=charts,
            chart_svg=chart_svg,
            notes=[message(note, language) for note in report.notes],
        )
    )


def check_target(target: Path, source: Path, *, force: bool = False) -> None:
    """Refuse a page path that would overwrite the workbook or cannot be written;
    an existing FIFO or device is written into only with ``force``."""
    if target.suffix.lower() not in HTML_SUFFIXES:
        raise ReportError(
            f"--html {target}: the page's file name ends in {target.suffix or '(nothing)'!r}; "
            "expected .html or .htm (so that a workbook is never overwritten by mistake)"
        )
    if target.is_dir():
        raise ReportError(f"--html {target} is a folder; expected a file name such as report.html")
    if not target.parent.is_dir():
        raise ReportError(
            f"--html {target}: the folder {target.parent} does not exist; create it first"
        )
    if target.exists() and source.exists() and target.samefile(source):
        raise ReportError(f"--html {target} is the workbook itself; name another file")
    try:
        atomic.check_target(target, into_special=force)
    except atomic.NotRegularTargetError as error:
        raise ReportError(f"--html {error}") from None
    except atomic.ReadOnlyTargetError:
        pass  # said when the write is refused


def write_page(report: Report, target: Path, *, into_special: bool = False) -> None:
    """Write the page of ``report`` to ``target``, whole or not at all."""
    data = render_page(report).encode("utf-8")
    write_bytes_atomically(target, data, into_special=into_special)
