"""The report: one model for the task pane, ``kpi report`` and ``kpi refresh``.

``build_report`` takes what a workbook holds (business type, language,
period, table rows as columns, targets and settings) and returns the report
sheet as a grid of cells (a value and the number format it needs) together
with a summary per KPI and the data notes. Every value comes from the
recipes of ``addin.recipes``: the same computation as the starter
workbook's formulas, under the same data rules. Nothing here reads or
writes a file.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, parse_pattern

import kpi_engine
from addin.recipes import Rows, as_rows, month_shift, recipe_for
from addin.recipes.notes import Note, data_notes, message, notes_words
from addin.recipes.rules import pick, within
from kpi_engine._inputs import first_of_month, to_serial
from kpi_engine._labels import labels, templates_dir

#: Number formats a report cell may need, as Excel built-in format ids (so
#: the workbook's styles only gain cell formats, never number formats).
FORMATS: Mapping[str, int] = {
    "general": 0,
    "integer": 3,  # #,##0
    "decimal": 4,  # #,##0.00
    "percent": 10,  # 0.00%
    "month": 17,  # mmm-yy
    "datetime": 22,  # m/d/yyyy h:mm
}

#: The number format of a value in each unit.
UNIT_FORMATS: Mapping[str, str] = {
    "fraction": "percent",
    "count": "integer",
}

DASH = "-"
TREND_MONTHS = 12


@dataclass(frozen=True)
class Cell:
    value: Any  # str, float, int, datetime.date/datetime, or None
    fmt: str = "general"


@dataclass(frozen=True)
class KPIReport:
    id: str
    title: str
    unit: str
    value: float | None
    previous: float | None
    change: float | None
    target: float | None
    gap: float | None
    band: str | None  # band id: exceptional, above_average, ..., unrated
    status: str  # met, missed, no_target, undefined
    margin: float | None
    reason: str  # why the value is undefined, else ""
    narrative: str
    trend: tuple[float | None, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "value": self.value,
            "previous": self.previous,
            "change": self.change,
            "target": self.target,
            "gap": self.gap,
            "band": self.band,
            "status": self.status,
            "margin": self.margin,
            "undefined_because": self.reason or None,
        }


@dataclass(frozen=True)
class ReportInputs:
    business_type: str
    language: str
    period: dt.date  # any day of the reporting month
    rows: Rows
    targets: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    business_type: str
    language: str
    sheet_name: str
    period: dt.date
    refreshed_at: dt.datetime
    kpis: tuple[KPIReport, ...]
    months: tuple[dt.date, ...]
    grid: tuple[tuple[Cell | None, ...], ...]
    notes: tuple[Note, ...] = ()

    def summary(self) -> dict[str, Any]:
        """What ``kpi report --json`` prints: the report's subject, each KPI by
        id, and the data notes."""
        return {
            "business_type": self.business_type,
            "language": self.language,
            "period": f"{self.period:%Y-%m}",
            "kpis": {kpi.id: kpi.summary() for kpi in self.kpis},
            "data_notes": [
                {**note.summary(), "message": message(note, self.language)} for note in self.notes
            ],
        }

    def values(self) -> list[list[Any]]:
        """The grid as plain values (None for an empty cell)."""
        width = max(len(row) for row in self.grid)
        return [
            [None if cell is None else cell.value for cell in row] + [None] * (width - len(row))
            for row in self.grid
        ]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


@cache
def words(language: str) -> Mapping[str, Any]:
    with templates_dir().joinpath("report", "words.toml").open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data[language]  # type: ignore[no-any-return]


def sheet_name(language: str) -> str:
    return str(words(language)["sheet"])


def report_sheet_names() -> frozenset[str]:
    return frozenset(sheet_name(language) for language in kpi_engine.LANGUAGES)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: templates_dir().joinpath("report", name).read_text(encoding="utf-8")
        ),
        autoescape=False,  # plain text for a cell, not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


# --- numbers in words, per language ---------------------------------------------


def format_number(value: float, unit: str, language: str, currency: str) -> str:
    """A value as a reader of that language writes it: "38,5 %" in French."""
    if unit == "fraction":
        pattern = parse_pattern(Locale.parse(language).percent_formats[None].pattern)
        pattern.frac_prec = (1, 1)
        return pattern.apply(value, Locale.parse(language))
    if unit == "currency":
        return format_currency(value, currency, locale=language)
    if unit == "count":
        return format_decimal(value, format="#,##0", locale=language)
    return format_decimal(value, format="#,##0.0#", locale=language)


def format_change(value: float, unit: str, language: str, currency: str) -> str:
    text = format_number(abs(value), unit, language, currency)
    return ("+" if value >= 0 else "\u2212") + text


# --- the computation ----------------------------------------------------------------


def kpi_value(business_type: str, kpi_id: str, rows: Rows, month: dt.date) -> float:
    """The engine's value of a KPI for one month (KPIUndefinedError when none)."""
    start = to_serial("report", "month", month)
    return recipe_for(business_type, kpi_id).compute(rows, start, month_shift(start, 1))


def nps_margin_for(rows: Rows, month: dt.date) -> float | None:
    """The NPS margin of error of a month's survey answers (None without answers)."""
    survey = rows.get("Survey")
    if survey is None or "recommend_score" not in survey:
        return None
    start = to_serial("report", "month", month)
    scores = pick(
        survey["recommend_score"], within(survey, "answered_on", start, month_shift(start, 1))
    )
    try:
        return kpi_engine.nps_margin(scores)
    except kpi_engine.KPIUndefinedError:
        return None


def _status(direction: str, value: float | None, target: float | None) -> str:
    if value is None:
        return "undefined"
    if target is None:
        return "no_target"
    met = value >= target if direction == "higher" else value <= target
    return "met" if met else "missed"


def build_report(inputs: ReportInputs, clock: Callable[[], dt.datetime] = utc_now) -> Report:
    """The report of ``inputs``: a grid of cells and a summary per KPI."""
    profile = kpi_engine.get_business_type(inputs.business_type, "report", "business type")
    language = kpi_engine.check_language(inputs.language, "report", "language")
    period = first_of_month(inputs.period)
    rows = as_rows(inputs.rows)
    months = tuple(first_of_month(period, offset) for offset in range(1 - TREND_MONTHS, 1))
    say = words(language)
    ratings = labels(language)["ratings"]
    template = _environment().get_template(f"narrative.{language}.j2")
    period_text = format_date(period, "MMMM yyyy", locale=language)

    reports = []
    for entry in profile.kpis:
        trend: list[float | None] = []
        reason = ""
        for month in months:
            try:
                trend.append(kpi_value(profile.id, entry.id, rows, month))
            except kpi_engine.KPIUndefinedError as undefined:
                trend.append(None)
                if month == period:
                    reason = undefined.reason
            except kpi_engine.KPIInputError as wrong:
                # Data rows never get here (the data rules leave bad cells
                # out); a setting can, such as a gross margin of 150 %.
                trend.append(None)
                if month == period:
                    reason = str(wrong)
        value, previous = trend[-1], trend[-2]
        change = None if value is None or previous is None else value - previous
        target = inputs.targets.get(entry.id)
        gap = None if value is None or target is None else value - target
        band = None if value is None else kpi_engine.benchmark_band(entry.id, value, profile.id)
        status = _status(entry.direction, value, target)
        margin = nps_margin_for(rows, period) if entry.kpi.id == "nps" else None
        if value is None:
            margin = None

        def text(number: float | None, unit: str = entry.unit) -> str | None:
            if number is None:
                return None
            return format_number(number, unit, language, profile.currency)

        narrative = " ".join(
            template.render(
                title=entry.title[language],
                period=period_text,
                value=text(value),
                previous=text(previous),
                change=None
                if change is None
                else format_change(change, entry.unit, language, profile.currency),
                margin=None if margin is None else format_decimal(margin, "#,##0.0", language),
                band_id=band,
                band=None if band is None else ratings[band],
                target=text(target),
                met=status == "met",
                gap=None if gap is None else text(abs(gap)),
                reason=reason,
            ).split()
        )
        reports.append(
            KPIReport(
                entry.id,
                entry.title[language],
                entry.unit,
                value,
                previous,
                change,
                target,
                gap,
                band,
                status,
                margin,
                reason,
                narrative,
                tuple(trend),
            )
        )

    refreshed = clock()
    notes = tuple(data_notes(profile.id, rows))
    grid = _grid(profile, language, say, ratings, period, months, reports, refreshed, notes)
    return Report(
        profile.id,
        language,
        str(say["sheet"]),
        period,
        refreshed,
        tuple(reports),
        months,
        grid,
        notes,
    )


def _number(value: float | None, unit: str) -> Cell:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return Cell(DASH)
    return Cell(value, UNIT_FORMATS.get(unit, "decimal"))


def _grid(
    profile: kpi_engine.BusinessType,
    language: str,
    say: Mapping[str, Any],
    ratings: Mapping[str, str],
    period: dt.date,
    months: tuple[dt.date, ...],
    reports: list[KPIReport],
    refreshed: dt.datetime,
    notes: tuple[Note, ...],
) -> tuple[tuple[Cell | None, ...], ...]:
    heads = say["headings"]
    units = labels(language)["units"]
    rows: list[tuple[Cell | None, ...]] = [
        (Cell(say["title"].format(type=profile.title[language])),),
        (Cell(say["period"]), Cell(period, "month")),
        (Cell(say["refreshed"]), Cell(refreshed, "datetime")),
        (),
        tuple(
            Cell(heads[key])
            for key in (
                "kpi",
                "id",
                "value",
                "previous",
                "change",
                "target",
                "gap",
                "band",
                "status",
                "margin",
                "unit",
            )
        ),
    ]
    for kpi in reports:
        unit = profile.currency if kpi.unit == "currency" else units[kpi.unit]
        rows.append(
            (
                Cell(kpi.title),
                Cell(kpi.id),
                _number(kpi.value, kpi.unit),
                _number(kpi.previous, kpi.unit),
                _number(kpi.change, kpi.unit),
                _number(kpi.target, kpi.unit),
                _number(kpi.gap, kpi.unit),
                Cell(DASH if kpi.band is None else ratings[kpi.band]),
                Cell(say["status"][kpi.status]),
                Cell(DASH) if kpi.margin is None else Cell(kpi.margin, "decimal"),
                Cell(unit),
            )
        )
    rows.append(())
    rows.append((Cell(say["trend"]),))
    # Right of the trend table, after a blank column, the charts' copy of it:
    # an empty cell where the table shows a dash, which a line chart leaves
    # as a gap (a dash would be plotted as zero).
    titles = tuple(Cell(kpi.title) for kpi in reports)
    rows.append((Cell(say["month"]), *titles, None, *titles))
    for index, month in enumerate(months):
        shown = tuple(_number(kpi.trend[index], kpi.unit) for kpi in reports)
        charted = tuple(None if cell.value == DASH else cell for cell in shown)
        rows.append((Cell(month, "month"), *shown, None, *charted))
    rows.append(())
    rows.append((Cell(say["narrative"]),))
    for kpi in reports:
        rows.append((Cell(kpi.title), Cell(kpi.narrative)))
    rows.append(())
    said = notes_words(language)
    rows.append((Cell(said["title"]),))
    if not notes:
        rows.append((Cell(said["none"]),))
    for note in notes:
        rows.append((Cell(note.check.table), Cell(message(note, language))))
    return tuple(rows)
