"""The report: one model for the task pane, ``kpi report``, ``kpi refresh``
and the HTML page.

``build_report`` takes what a workbook holds (business type, language,
currency, period, table rows as columns, targets and settings) and returns
each KPI's value, previous value, change, target, band, trend and sentence,
with the data notes; ``addin.report.layout`` lays it out as the report
sheet. Every value comes from the recipes of ``addin.recipes``: the same
computation as the starter workbook's formulas, under the same data rules.
Nothing here reads or writes a file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import kpi_engine
from addin.recipes import Rows, as_rows, month_shift, recipe_for
from addin.recipes.by_month import month_value
from addin.recipes.notes import Note, data_notes, message
from addin.recipes.rules import TableRows, pick, within
from kpi_engine import SOURCES, Source, display
from kpi_engine.cells import excel_trim, id_key, nps_groups
from kpi_engine.inputs import describe_value, first_of_month, to_serial
from kpi_engine.texts import labels, templates_dir

TREND_MONTHS = 12


@dataclass(frozen=True)
class KPIReport:
    """One KPI of the report, in the KPI's unit (rates as fractions)."""

    id: str
    title: str
    unit: str
    direction: str  # higher or lower: which way is better
    value: float | None
    previous: float | None
    change: float | None  # value - previous
    target: float | None
    gap: float | None  # value - target
    band: str | None  # exceptional, above_average, typical, below_typical, unrated
    target_met: bool | None  # None: no value or no target
    margin: float | None  # NPS margin of error, in points
    answers: int | None  # the survey answers behind the NPS margin
    reason: str  # code of why the value is undefined, else ""
    reason_text: str  # that reason in the report's language
    narrative: str
    trend: tuple[float | None, ...]
    notes: tuple[Note, ...] = ()
    #: The funnel stage (awareness, consideration, conversion), where the
    #: business type's article sorts its KPIs so, else "".
    stage: str = ""
    #: The value of the same month a year earlier, and the change since.
    year_ago: float | None = None
    #: Per channel (Channels[channel]), the value of the month, where the KPI
    #: is measured from the Channels table alone: (channel, value or None).
    channels: tuple[tuple[str, float | None], ...] = ()
    #: How the value meets the target: the comparison of the band the first
    #: target comes from (">" for "more than 70"; see display.target_comparison).
    comparison: str = "≥"

    @property
    def year_change(self) -> float | None:
        """value - year_ago (None where either is missing or it overflows)."""
        return _difference(self.value, self.year_ago)

    @property
    def year_change_is_better(self) -> bool | None:
        return self._better(self.year_change)

    @property
    def change_is_better(self) -> bool | None:
        """Whether the change is for the better (None: no change, or none known)."""
        return self._better(self.change)

    def shown_sign(self, difference: float | None) -> int:
        """The sign of a difference of this KPI as it is shown (0 for one that
        rounds to zero, and for none)."""
        return 0 if difference is None else display.shown_sign(difference, self.unit)

    def _better(self, difference: float | None) -> bool | None:
        """Whether a difference is for the better; None where it shows as zero."""
        sign = self.shown_sign(difference)
        return None if sign == 0 else (sign > 0) == (self.direction == "higher")

    @property
    def target_status(self) -> str:
        """met, missed, no_target, or no_value where a target waits for a value."""
        if self.target_met is None:
            return "no_value" if self.target is not None else "no_target"
        return "met" if self.target_met else "missed"


@dataclass(frozen=True)
class ReportInputs:
    business_type: str
    language: str
    period: dt.date  # any day of the reporting month
    rows: Rows
    targets: Mapping[str, float | None] = field(default_factory=dict)
    currency: str | None = None  # the workbook's; default: the business type's
    #: Where the KPIs are computed when the rows are not the data: a source
    #: (``addin.sources.SourceMeasure``: a database, Parquet or CSV files).
    measure: Measure | None = None


class Measure(Protocol):
    """The report's numbers from data kept elsewhere than in ``rows``."""

    def value(self, business_type: str, kpi_id: str, month: dt.date) -> float: ...
    def nps_scores(self, month: dt.date) -> list[Any]: ...
    def notes(self, business_type: str) -> list[Note]: ...
    def channels(
        self, business_type: str, kpi_id: str, month: dt.date
    ) -> tuple[tuple[str, float | None], ...]: ...


@dataclass(frozen=True)
class Report:
    business_type: str
    business_title: str
    language: str
    currency: str
    sheet_name: str
    period: dt.date
    refreshed_at: dt.datetime
    kpis: tuple[KPIReport, ...]
    months: tuple[dt.date, ...]
    source: Source | None
    notes: tuple[Note, ...] = ()

    def text(self, kpi: KPIReport, number: float | None, *, long: bool = False) -> str | None:
        """A value of ``kpi`` as this report's reader writes it (None stays None)."""
        if number is None:
            return None
        return display.format_value(number, kpi.unit, self.language, self.currency, long=long)

    def target_text(self, kpi: KPIReport) -> str | None:
        """The target with the comparison a value meets it by ("> 70"), or None."""
        if kpi.target is None:
            return None
        return display.format_target(
            kpi.target, kpi.comparison, kpi.unit, self.language, self.currency
        )

    def difference_text(
        self, kpi: KPIReport, number: float | None, *, signed: bool = True, long: bool = False
    ) -> str | None:
        if number is None:
            return None
        return display.format_difference(
            number, kpi.unit, self.language, self.currency, signed=signed, long=long
        )

    def summary(self) -> dict[str, Any]:
        """What ``kpi report --json`` prints: the report's subject, each KPI by
        id, and the data notes."""
        ratings = labels(self.language)["ratings"]
        return {
            "business_type": self.business_type,
            "business_type_title": self.business_title,
            "language": self.language,
            "currency": self.currency,
            "period": f"{self.period:%Y-%m}",
            "period_text": display.format_month(self.period, self.language),
            "refreshed_at": self.refreshed_at.isoformat(),
            "benchmark_source": None
            if self.source is None
            else {
                "id": self.source.id,
                "title": self.source.title,
                "cited": self.source.cited(self.language),
            },
            "kpis": {
                kpi.id: {
                    "title": kpi.title,
                    "unit": kpi.unit,
                    "direction": kpi.direction,
                    "value": kpi.value,
                    "previous": kpi.previous,
                    "change": kpi.change,
                    "year_ago": kpi.year_ago,
                    "year_change": kpi.year_change,
                    "stage": kpi.stage or None,
                    "channels": dict(kpi.channels),
                    "target": kpi.target,
                    "target_comparison": kpi.comparison,
                    "gap": kpi.gap,
                    "band": kpi.band,
                    "band_text": None if kpi.band is None else ratings[kpi.band],
                    "target_met": kpi.target_met,
                    "margin": kpi.margin,
                    "undefined_because": kpi.reason or None,
                    "undefined_text": kpi.reason_text or None,
                    "shown": {
                        "value": self.text(kpi, kpi.value),
                        "previous": self.text(kpi, kpi.previous),
                        "change": self.difference_text(kpi, kpi.change),
                        "target": self.target_text(kpi),
                        "gap": self.difference_text(kpi, kpi.gap),
                    },
                    "trend": {
                        f"{month:%Y-%m}": value
                        for month, value in zip(self.months, kpi.trend, strict=True)
                    },
                    "data_notes": [note_summary(note, self.language) for note in kpi.notes],
                }
                for kpi in self.kpis
            },
            "data_notes": [note_summary(note, self.language) for note in self.notes],
        }


def note_summary(note: Note, language: str) -> dict[str, Any]:
    return {**note.summary(), "message": message(note, language)}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


@cache
def words(language: str) -> Mapping[str, Any]:
    """The report's own words (``templates/report/words.toml``)."""
    with templates_dir().joinpath("report", "words.toml").open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data[language]  # type: ignore[no-any-return]


@cache
def reasons(language: str) -> Mapping[str, str]:
    """Why a KPI has no value, by code (``templates/reasons.toml``)."""
    with templates_dir().joinpath("reasons.toml").open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data[language]  # type: ignore[no-any-return]


def sheet_name(language: str) -> str:
    return str(words(language)["sheet"])


def report_sheet_names() -> frozenset[str]:
    return frozenset(sheet_name(language) for language in kpi_engine.LANGUAGES)


# --- the computation ----------------------------------------------------------------


def kpi_value(business_type: str, kpi_id: str, rows: Rows, month: dt.date) -> float:
    """The engine's value of a KPI for one month (KPIUndefinedError when none),
    from the rows bucketed by month (``addin.recipes.by_month``: the value
    ``Recipe.compute`` gives)."""
    start = to_serial("report", "month", month)
    return month_value(
        recipe_for(business_type, kpi_id), as_rows(rows), start, month_shift(start, 1)
    )


#: The table whose rows are per channel, and the column that names the channel.
CHANNEL_TABLE, CHANNEL_COLUMN = "Channels", "channel"


def channels_written(rows: Rows) -> list[tuple[str, str]]:
    """The channels of the Channels table in order of appearance: each as
    (the key rows are matched by, the name as first written, trimmed).

    Names are compared as Excel compares them (``id_key``): trimmed by
    TRIM's rule, which removes ASCII spaces only, and in any letter case. A
    name ending in a no-break space is another channel."""
    table = rows.get(CHANNEL_TABLE)
    if table is None or CHANNEL_COLUMN not in table:
        return []
    seen: dict[str, str] = {}
    for raw, key in zip(table[CHANNEL_COLUMN], table.read(CHANNEL_COLUMN, "text"), strict=True):
        if key is not None and key not in seen:
            seen[key] = excel_trim(str(raw))
    return list(seen.items())


def channel_names(rows: Rows) -> list[str]:
    """The channels' names as a reader is shown them, in order of appearance."""
    return shown_names([written for _, written in channels_written(rows)])


#: Characters a reader cannot see (or cannot tell from a space) in a name:
#: control and format characters (zero-width ones, BOM, soft hyphen) and
#: every space but the ASCII one, which TRIM's rule already handles.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"})


def is_invisible(character: str) -> bool:
    return character != " " and unicodedata.category(character) in INVISIBLE_CATEGORIES


#: How ``made_visible`` writes a character: its code point in brackets.
VISIBLE_CODE = re.compile(r"\[U\+[0-9A-F]{4,6}\]")


def has_made_visible(names: list[str]) -> bool:
    """Whether any of the names shows a character made visible (the report
    then says what "[U+00A0]" means)."""
    return any(VISIBLE_CODE.search(name) for name in names)


def made_visible(name: str) -> str:
    """A name with each invisible character written as its code point in
    brackets: "Instagram\u00a0" is shown as "Instagram[U+00A0]"."""
    return "".join(f"[U+{ord(c):04X}]" if is_invisible(c) else c for c in name)


def shown_names(names: list[str]) -> list[str]:
    """Distinct names a reader can tell apart, for names Excel tells apart.

    A name is shown as written, unless it looks like another one (the same
    once invisible characters are left out, in any letter case) or looks
    empty: then its invisible characters are made visible. Two names that
    would still read the same (one spelling "[U+00A0]" out) are numbered."""
    looks = [excel_trim("".join(c for c in name if not is_invisible(c))).lower() for name in names]
    alike = {look for look in looks if looks.count(look) > 1}
    shown = [
        made_visible(name) if look in alike or not look else name
        for name, look in zip(names, looks, strict=True)
    ]
    distinct: list[str] = []
    for name in shown:
        candidate, number = name, 1
        while candidate.lower() in (d.lower() for d in distinct):
            number += 1
            candidate = f"{name} ({number})"
        distinct.append(candidate)
    return distinct


def per_channel(
    business_type: str, kpi_id: str, rows: Rows, month: dt.date
) -> tuple[tuple[str, float | None], ...]:
    """A KPI's value for each channel, where its recipe reads the Channels
    table alone: (the name as shown, the value over that channel's rows)."""
    if set(recipe_for(business_type, kpi_id).reads) != {CHANNEL_TABLE}:
        return ()
    channels = channels_written(rows)
    names = shown_names([written for _, written in channels])
    return tuple(
        (name, _channel_value(business_type, kpi_id, rows, month, key))
        for name, (key, _) in zip(names, channels, strict=True)
    )


def channel_value(
    business_type: str, kpi_id: str, rows: Rows, month: dt.date, channel: str
) -> float | None:
    """A KPI's value over the rows of one channel, named as written (None
    where undefined)."""
    return _channel_value(business_type, kpi_id, rows, month, id_key(channel))


def _channel_value(
    business_type: str, kpi_id: str, rows: Rows, month: dt.date, wanted: str | None
) -> float | None:
    table = rows[CHANNEL_TABLE]
    mask = [key == wanted for key in table.read(CHANNEL_COLUMN, "text")]
    only = TableRows({column: pick(cells, mask) for column, cells in table.items()})
    try:
        return kpi_value(business_type, kpi_id, {**rows, CHANNEL_TABLE: only}, month)
    except (kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError):
        return None


def survey_scores(rows: Rows, month: dt.date) -> list[Any]:
    """The month's recommend scores that count (the NPS's own data rules apply)."""
    survey = rows.get("Survey")
    if survey is None or "recommend_score" not in survey:
        return []
    start = to_serial("report", "month", month)
    return pick(
        survey["recommend_score"], within(survey, "answered_on", start, month_shift(start, 1))
    )


def nps_margin_for(rows: Rows, month: dt.date) -> float | None:
    """The NPS margin of error of a month's survey answers (None without answers)."""
    return _margin(survey_scores(rows, month))


def _margin(scores: list[Any]) -> float | None:
    try:
        return kpi_engine.nps_margin(scores)
    except kpi_engine.KPIUndefinedError:
        return None


def _reason(error: Exception, language: str) -> tuple[str, str]:
    """The code and the words of why a KPI has no value."""
    said = reasons(language)
    if isinstance(error, kpi_engine.KPIUndefinedError):
        return error.code, said.get(error.code, error.reason)
    # Data rows never get here (the data rules leave bad cells out); a
    # setting can, such as a gross margin of 150 %.
    assert isinstance(error, kpi_engine.KPIInputError)
    setting = error.argument.upper()
    value = describe_value(error.value)
    return "bad_setting", said["bad_setting"].format(setting=setting, value=value)


def _target_met(comparison: str, value: float | None, target: float | None) -> bool | None:
    if value is None or target is None:
        return None
    return display.target_met(comparison, value, target)


def _difference(value: float | None, other: float | None) -> float | None:
    """``value - other``, or None where either is missing or the difference is
    past what a cell holds (1.7e308 - -1.7e308 overflows to inf)."""
    if value is None or other is None:
        return None
    difference = value - other
    return difference if math.isfinite(difference) else None


def build_report(inputs: ReportInputs, clock: Callable[[], dt.datetime] = utc_now) -> Report:
    """The report of ``inputs``: every KPI of the business type for the period."""
    from addin.report.narrative import sentence  # noqa: PLC0415  (it imports this module)

    profile = kpi_engine.get_business_type(inputs.business_type, "report", "business type")
    language = kpi_engine.check_language(inputs.language, "report", "language")
    currency = (inputs.currency or profile.currency).upper()
    period = first_of_month(inputs.period)
    rows = as_rows(inputs.rows)
    months = tuple(first_of_month(period, offset) for offset in range(1 - TREND_MONTHS, 1))
    measure = inputs.measure
    notes = tuple(measure.notes(profile.id) if measure else data_notes(profile.id, rows))

    reports = []
    for entry in profile.kpis:
        # The month a year before first, then the trend's months: all
        # thirteen in the order of time, so that a window of months moved
        # from one to the next (repeat purchases) never jumps back.
        try:
            a_year_before = first_of_month(period, -12)
            year_ago: float | None = (
                measure.value(profile.id, entry.id, a_year_before)
                if measure
                else kpi_value(profile.id, entry.id, rows, a_year_before)
            )
        except (kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError):
            year_ago = None
        trend: list[float | None] = []
        reason = reason_text = ""
        for month in months:
            try:
                trend.append(
                    measure.value(profile.id, entry.id, month)
                    if measure
                    else kpi_value(profile.id, entry.id, rows, month)
                )
            except (kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError) as error:
                trend.append(None)
                if month == period:
                    reason, reason_text = _reason(error, language)
        value, previous = trend[-1], trend[-2]
        target = inputs.targets.get(entry.id)
        comparison = display.target_comparison(entry)
        margin = answers = None
        if entry.kpi.id == "nps" and value is not None:
            scores = measure.nps_scores(period) if measure else survey_scores(rows, period)
            margin = _margin(scores)
            answers = sum(nps_groups("nps", scores))
        reports.append(
            KPIReport(
                id=entry.id,
                title=entry.title[language],
                unit=entry.unit,
                direction=entry.direction,
                value=value,
                previous=previous,
                change=_difference(value, previous),
                target=target,
                gap=_difference(value, target),
                band=None
                if value is None
                else kpi_engine.benchmark_band(entry.id, value, profile.id),
                target_met=_target_met(comparison, value, target),
                comparison=comparison,
                margin=margin,
                answers=answers,
                reason=reason,
                reason_text=reason_text,
                narrative="",
                trend=tuple(trend),
                notes=tuple(note for note in notes if entry.id in note.kpis),
                stage=entry.stage,
                year_ago=year_ago,
                channels=measure.channels(profile.id, entry.id, period)
                if measure
                else per_channel(profile.id, entry.id, rows, period),
            )
        )

    report = Report(
        business_type=profile.id,
        business_title=profile.title[language],
        language=language,
        currency=currency,
        sheet_name=sheet_name(language),
        period=period,
        refreshed_at=clock(),
        kpis=tuple(reports),
        months=months,
        source=SOURCES.get(profile.source),
        notes=notes,
    )
    # The sentences say what the report says, in its words and formats.
    told = tuple(dataclasses.replace(kpi, narrative=sentence(report, kpi)) for kpi in report.kpis)
    return dataclasses.replace(report, kpis=told)
