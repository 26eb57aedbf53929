"""The sample data of `kpi new` is a business that has been running for years:
every KPI of every type has a plausible value in each month of the trend,
the first one included. Fast: the recipes' engine side, no LibreOffice."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

import kpi_engine
from addin.recipes import EngineCall, as_rows, month_shift, recipe_for
from addin.starter.build import DEFAULT_GROSS_MARGIN
from addin.starter.sample import DEFAULT_ROWS, sample_tables
from kpi_engine import display
from kpi_engine._inputs import first_of_month, to_serial

AS_OF = dt.date(2024, 7, 15)
#: The trend's twelve months, ending with the reporting month (June 2024).
TREND = [first_of_month(AS_OF, index - 12) for index in range(12)]

#: Monthly bounds (inclusive) of the fractions whose range the data sets;
#: the other fractions are shares of a whole, between 0 and 1.
BOUNDS: dict[str, tuple[float, float]] = {
    # The platform renews its roster: the article calls 30-40 % new
    # celebrities a month typical, over 50 % exceptional; on a roster of under
    # ten one celebrity more moves the rate by a tenth. Twice the roster in a
    # month is a launch (the sample once showed 200 %).
    "celebrity_acquisition_rate": (0.0, 0.6),
    # Losing over 15 % of the base every month would empty it within a year.
    "churn_rate": (0.0, 0.15),
    # The mirror image of churn, less the month's newcomers.
    "retention_rate": (0.85, 1.0),
    # Over a year of orders some customers buy again, not all; nobody (0) is a
    # shop too young for a second order, everybody (1) is not a sample.
    "repeat_purchase_rate": (0.1, 0.8),
    # Most orders get done; a month with half of them cancelled or stuck is a
    # crisis, not a sample.
    "completion_rate": (0.5, 1.0),
    # Growth over the month before: social media engagement swings, but no
    # month loses nearly everything (-90 %) or quadruples (+300 %).
    "engagement_growth": (-0.9, 3.0),
    # Followers move by a few percent a month, never by half.
    "follower_growth_rate": (-0.5, 0.5),
    # Video marketing returns between losing the whole spend and five times it.
    "return_on_investment": (-1.0, 5.0),
}
#: Units of KPIs that are amounts (people, money, events per user, time):
#: in a running business the first month is not a fraction of the others.
AMOUNTS = frozenset({"count", "currency", "per_user", "hours", "minutes"})


def serial(day: dt.date) -> float:
    return to_serial("test", "month", day)


@functools.cache
def sample_rows(business_type: str, as_of: dt.date) -> Any:
    """The default sample's rows as the recipes read them (read, never changed)."""
    return as_rows(
        {
            **sample_tables(business_type, as_of=as_of),
            "Settings": {"GROSS_MARGIN": [DEFAULT_GROSS_MARGIN]},
        }
    )


def trend_values(business_type: str) -> dict[str, list[float]]:
    """Each KPI of the type for each trend month, from the sample's rows."""
    rows = sample_rows(business_type, AS_OF)
    values: dict[str, list[float]] = {}
    for entry in kpi_engine.get_business_type(business_type).kpis:
        recipe = recipe_for(business_type, entry.id)
        values[entry.id] = []
        for month in TREND:
            start = serial(month)
            try:
                values[entry.id].append(recipe.compute(rows, start, month_shift(start, 1)))
            except kpi_engine.KPIUndefinedError as undefined:
                pytest.fail(f"{entry.id} is undefined in {month:%Y-%m}: {undefined.reason}")
    return values


def test_every_kpi_is_plausible_in_every_trend_month(
    any_type: kpi_engine.BusinessType,
) -> None:
    values = trend_values(any_type.id)
    for entry in any_type.kpis:
        series = values[entry.id]
        if entry.id in BOUNDS:
            low, high = BOUNDS[entry.id]
        elif entry.unit == "fraction":
            low, high = 0.0, 1.0
        else:
            low, high = -float("inf"), float("inf")
        for month, value in zip(TREND, series, strict=True):
            assert low <= value <= high, f"{entry.id} in {month:%Y-%m} is {value}"
        if entry.unit in AMOUNTS:
            # The first month has a third of the usual amount at least (a
            # business just opened shows nothing, or a few).
            median = statistics.median(series)
            assert series[0] > 0
            assert series[0] >= median / 3, f"{entry.id}: first month {series[0]}, median {median}"


@pytest.mark.parametrize(
    ("business_type", "kpi_id"),
    [("celebrity_video", "revenue_per_celebrity"), ("networking", "revenue_per_active_user")],
)
def test_revenue_per_person_in_the_first_month(business_type: str, kpi_id: str) -> None:
    assert trend_values(business_type)[kpi_id][0] > 0


@pytest.mark.parametrize(
    ("business_type", "table", "id_column"),
    [
        ("celebrity_video", "Customers", "customer_id"),
        ("celebrity_video", "Celebrities", "celebrity_id"),
        ("songwriting", "Customers", "customer_id"),
        ("networking", "Members", "member_id"),
        ("video_marketing", "Customers", "customer_id"),
    ],
)
def test_an_established_base_before_the_trend(
    business_type: str, table: str, id_column: str
) -> None:
    people = sample_tables(business_type, as_of=AS_OF)[table]

    def present(moment: dt.date) -> int:
        return sum(
            1
            for joined, left in zip(people["joined_on"], people["left_on"], strict=True)
            if joined < moment and (left is None or left >= moment)
        )

    # Most of the people present at the end were there when the trend began,
    # and the first of them joined years before.
    assert present(TREND[0]) >= present(first_of_month(AS_OF)) / 2
    assert min(people["joined_on"]) < first_of_month(TREND[0], -24)
    assert len(people[id_column]) == len(set(people[id_column]))


def test_orders_cover_the_first_months_look_back() -> None:
    # The repeat purchase rate of the first trend month counts the orders of
    # the twelve months ending with it.
    orders = sample_tables("celebrity_video", as_of=AS_OF)["Orders"]
    months = {first_of_month(moment) for moment in orders["ordered_at"]}
    assert {first_of_month(TREND[0], -shift) for shift in range(14)} <= months
    assert max(orders["ordered_at"]).date() < first_of_month(AS_OF)


def test_rows_sets_the_main_table_and_same_arguments_same_rows() -> None:
    tables = sample_tables("celebrity_video", as_of=AS_OF)
    assert len(tables["Orders"]["order_id"]) == DEFAULT_ROWS["celebrity_video"]
    assert tables == sample_tables("celebrity_video", as_of=AS_OF)
    assert tables != sample_tables("celebrity_video", as_of=AS_OF, seed=1)
    small = sample_tables("networking", as_of=AS_OF, rows=50)
    assert len(small["Activity"]["member_id"]) == 50


#: Tables of monthly totals a business copies from its tools (social media,
#: marketing, web funnel): their KPIs are ratios of totals, not of a sample
#: of records, so no sample size bounds their change.
MONTHLY_TABLES = frozenset({"Channels", "Funnel", "Marketing", "Social"})
#: The family-wise chance that a sound sample still fails a type's checks.
FAMILY_ERROR = 0.05


def _present(cells: Sequence[Any]) -> list[Any]:
    return [cell for cell in cells if cell is not None and cell != ""]


def _per_record(call: EngineCall) -> int:
    """How many records a share's month value is over: the non-blank cells of
    its first argument (scores, statuses), distinct where they are ids."""
    if call.function in ("repeat_purchase_rate_from_orders", *IDS_AT_START):
        return len(set(_present(call.args[0])))
    return len(_present(call.args[0]))


#: Functions whose month value is a share of records: the records it is over.
IDS_AT_START = ("churn_rate_from_ids", "retention_rate_from_ids")
SHARES_OF_RECORDS = frozenset(
    {
        "csat_from_scores",
        "completion_rate_from_statuses",
        "completion_rate_on_time",
        "repeat_purchase_rate_from_orders",
        *IDS_AT_START,
    }
)
#: Functions whose month value is a count over a count (the second argument):
#: a share where the first is part of the second (accepted requests among
#: requests), a rate where it is not (new celebrities against the roster).
SHARES_OF_COUNTS = frozenset(
    {
        "referral_acquisition_rate",
        "connection_success_rate",
        "actual_recommendation_rate",
        "customer_success_rate",
        "cancellation_rate",
    }
)
RATES_OF_COUNTS = frozenset({"celebrity_acquisition_rate"})


@dataclass(frozen=True)
class Month:
    """A KPI's value in a month and the standard error its records allow."""

    value: float
    error: float
    #: For a share: the records it is over (None for a rate or a mean).
    records: float | None = None


def standard_error(call: EngineCall, value: float) -> Month | None:
    """The standard error of a month's value from the counts behind it (None
    where the value is not an estimate from the month's records): binomial
    for a share, Poisson for a count over a count, the spread of the rows over
    their number for a mean, the adjusted-Wald margin for the NPS."""
    if call.function in SHARES_OF_RECORDS or call.function in SHARES_OF_COUNTS:
        records = _per_record(call) if call.function in SHARES_OF_RECORDS else float(call.args[1])
        return Month(value, math.sqrt(value * (1 - value) / records), records)
    if call.function in RATES_OF_COUNTS:
        events, base = float(call.args[0]), float(call.args[1])
        return Month(value, math.sqrt(max(events, 1)) / base)
    if call.function == "avg_fulfillment_time_from_timestamps":
        hours = [
            (delivered - requested).total_seconds() / 3600
            for requested, delivered in zip(*call.args, strict=True)
            if requested is not None and delivered is not None
        ]
        return Month(value, statistics.stdev(hours) / math.sqrt(len(hours)))
    if call.function == "nps":
        margin = kpi_engine.nps_margin(call.args[0])  # 95 %: 1.96 standard errors
        return Month(value, margin / statistics.NormalDist().inv_cdf(0.975))
    return None


def trend_months(business_type: str) -> dict[str, list[Month | None]]:
    """Each KPI of the type in each trend month with its standard error."""
    rows = sample_rows(business_type, AS_OF)
    months: dict[str, list[Month | None]] = {}
    for entry in kpi_engine.get_business_type(business_type).kpis:
        recipe = recipe_for(business_type, entry.id)
        months[entry.id] = []
        for month in TREND:
            start = serial(month)
            call = recipe.engine_call(rows, start, month_shift(start, 1))
            try:
                value = call.run()
            except kpi_engine.KPIUndefinedError as undefined:
                pytest.fail(f"{entry.id} is undefined in {month:%Y-%m}: {undefined.reason}")
            months[entry.id].append(standard_error(call, value))
    return months


def from_records(business_type: str, kpi_id: str) -> bool:
    """Whether the KPI is measured from records (orders, answers, members),
    not from monthly totals."""
    return not set(recipe_for(business_type, kpi_id).reads) <= MONTHLY_TABLES


def test_every_estimate_from_records_has_its_standard_error(
    any_type: kpi_engine.BusinessType,
) -> None:
    """The swing check below covers every share, score and rate measured from
    records: a new KPI of that kind needs its rule in ``standard_error``."""
    months = trend_months(any_type.id)
    for entry in any_type.kpis:
        if from_records(any_type.id, entry.id) and entry.unit in ("fraction", "score"):
            assert all(month is not None for month in months[entry.id]), entry.id


def test_the_sample_tells_a_believable_story(any_type: kpi_engine.BusinessType) -> None:
    """Every KPI has a value in each of the twelve months (trend_months fails
    otherwise); no share is stuck at 0 % or 100 %; each estimate from records
    moves from month to month within what its records allow; new people join
    every month.

    A change is allowed z standard errors of the difference of two months,
    z for a family-wise error of FAMILY_ERROR over all of the type's
    comparisons (Bonferroni), so that a sound sample passes and a sample
    whose rate jumps beyond its records' chance does not (a month with half
    its orders cancelled among months with a few)."""
    months = trend_months(any_type.id)
    estimated = {
        kpi_id: series
        for kpi_id, series in months.items()
        if from_records(any_type.id, kpi_id) and all(month is not None for month in series)
    }
    comparisons = sum(len(series) - 1 for series in estimated.values())
    z = statistics.NormalDist().inv_cdf(1 - FAMILY_ERROR / (2 * max(1, comparisons)))
    for kpi_id, series in estimated.items():
        checked = [month for month in series if month is not None]
        for index, (before, after) in enumerate(itertools.pairwise(checked), start=1):
            if before.records and after.records:
                # Two shares: the error of their difference under one shared rate.
                pooled = (before.value * before.records + after.value * after.records) / (
                    before.records + after.records
                )
                error = math.sqrt(pooled * (1 - pooled) * (1 / before.records + 1 / after.records))
            else:
                error = math.hypot(before.error, after.error)
            assert abs(after.value - before.value) <= z * error, (
                f"{any_type.id}/{kpi_id}: {before.value:.4g} to {after.value:.4g} in "
                f"{TREND[index]:%Y-%m}, more than {z:.2f} standard errors ({error:.3g})"
            )
    values = trend_values(any_type.id)
    for entry in any_type.kpis:
        series = values[entry.id]
        # A share may be stuck at either end, an amount or a score at 0.
        for end in (0.0, 1.0) if entry.unit == "fraction" else (0.0,):
            at_end = sum(1 for value in series if value == end)
            # Stuck: at the end in half of the months or more. A small share of
            # a few records is at 0 in a month now and then (no cancellation),
            # as often as its rate and records make likely, not more.
            assert at_end < len(series) / 2, (entry.id, series)
            shares = [month for month in months[entry.id] if month and month.records]
            if shares and at_end:
                rate = sum(m.value * (m.records or 0) for m in shares) / sum(
                    m.records or 0 for m in shares
                )
                chance = [(1 - rate if end == 0 else rate) ** (m.records or 0) for m in shares]
                likely = sum(chance) + z * math.sqrt(sum(c * (1 - c) for c in chance))
                assert at_end <= likely, (entry.id, end, at_end, likely, series)
    if "nps" in months:
        # NPS from enough answers to be stable: a margin of error (95 %) of
        # at most 20 points in every month, not the 30 of thirty answers.
        assert all(
            month and month.error * statistics.NormalDist().inv_cdf(0.975) <= 20
            for month in months["nps"]
        ), months["nps"]
    tables = sample_tables(any_type.id, as_of=AS_OF)
    for table in ("Celebrities", "Members"):
        if table in tables:
            joined = {first_of_month(day) for day in tables[table]["joined_on"]}
            assert set(TREND) <= joined, f"{table}: no newcomer in some month"


#: As-of dates a year round: the reporting month of each is a month of 2024.
YEAR_ROUND = [dt.date(2024, month, 15) for month in range(1, 13)]


def targets_met(business_type: str, as_of: dt.date) -> list[bool]:
    """Whether each KPI with a default target meets it in the reporting month."""
    rows = sample_rows(business_type, as_of)
    start = serial(first_of_month(as_of, -1))
    met = []
    for entry in kpi_engine.get_business_type(business_type).kpis:
        target = display.default_target(entry)
        if target is None:
            continue
        value = recipe_for(business_type, entry.id).compute(rows, start, month_shift(start, 1))
        met.append(display.target_met(display.target_comparison(entry), value, target))
    return met


def test_a_healthy_business_meets_some_targets_and_misses_a_few() -> None:
    """In the default sample, whatever month a workbook reports, at least half
    the KPIs with a target meet it and not all do: a business that does well,
    with something to work on. (A type with a single target meets it.)"""
    for as_of in YEAR_ROUND:
        met_in_all = []
        for business_type in kpi_engine.BUSINESS_TYPES:
            met = targets_met(business_type, as_of)
            met_in_all += met
            assert sum(met) >= len(met) / 2, (business_type, as_of, met)
            if len(met) > 1:
                assert not all(met), (business_type, as_of, met)
        assert not all(met_in_all), as_of


def test_the_business_grows_with_seasons() -> None:
    """Orders over the trend grow year on year, and the end of the year is
    busier than the summer (a few tenths, not a multiple)."""
    orders = sample_tables("celebrity_video", as_of=AS_OF)["Orders"]
    per_month: dict[dt.date, int] = {}
    for moment in orders["ordered_at"]:
        month = first_of_month(moment)
        per_month[month] = per_month.get(month, 0) + 1
    last_year = sum(per_month.get(month, 0) for month in TREND)
    year_before = sum(per_month.get(first_of_month(month, -12), 0) for month in TREND)
    assert last_year > year_before
    winter = per_month[dt.date(2023, 11, 1)] + per_month[dt.date(2023, 12, 1)]
    summer = per_month[dt.date(2023, 6, 1)] + per_month[dt.date(2023, 7, 1)]
    assert 1.1 < winter / summer < 2.5, (winter, summer)
