"""The sample data of `kpi new` is a business that has been running for years:
every KPI of every type has a plausible value in each month of the trend,
the first one included. Fast: the recipes' engine side, no LibreOffice."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from typing import Any

import pytest

import kpi_engine
from addin.recipes import as_rows, month_shift, recipe_for
from addin.report.model import nps_margin_for
from addin.starter.build import DEFAULT_GROSS_MARGIN
from addin.starter.sample import DEFAULT_ROWS, sample_tables
from kpi_engine._inputs import first_of_month, to_serial

AS_OF = dt.date(2024, 7, 15)
#: The trend's twelve months, ending with the reporting month (June 2024).
TREND = [first_of_month(AS_OF, index - 12) for index in range(12)]

#: Monthly bounds (inclusive) of the fractions whose range the data sets;
#: the other fractions are shares of a whole, between 0 and 1.
BOUNDS: dict[str, tuple[float, float]] = {
    # The platform renews its roster: the article calls 30-40 % new
    # celebrities a month typical; twice the roster in a month is a launch
    # (the sample once showed 200 %).
    "celebrity_acquisition_rate": (0.0, 0.45),
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


def trend_values(business_type: str) -> dict[str, list[float]]:
    """Each KPI of the type for each trend month, from the sample's rows."""
    rows: dict[str, Any] = as_rows(
        {
            **sample_tables(business_type, as_of=AS_OF),
            "Settings": {"GROSS_MARGIN": [DEFAULT_GROSS_MARGIN]},
        }
    )
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


#: Fractions that may sit at 0 % or 100 % in a month or two of a small
#: sample (a month without a cancelled order), not in most of them.
MOST_MONTHS_AT_AN_END = 2


def test_the_sample_tells_a_believable_story(any_type: kpi_engine.BusinessType) -> None:
    """Every KPI has a value in each of the twelve months (trend_values fails
    otherwise); no rate is stuck at 0 % or 100 %; the NPS moves from month
    to month within what its answers allow; new people join every month."""
    values = trend_values(any_type.id)
    for entry in any_type.kpis:
        series = values[entry.id]
        if entry.unit == "fraction":
            at_an_end = sum(1 for value in series if value in (0.0, 1.0))
            assert at_an_end <= MOST_MONTHS_AT_AN_END, (entry.id, series)
            assert len(set(series)) > 3, (entry.id, series)
    tables = sample_tables(any_type.id, as_of=AS_OF)
    if "nps" in values:
        rows = as_rows(tables)
        margins = [nps_margin_for(rows, month) for month in TREND]
        assert all(margin is not None and margin <= 20 for margin in margins), margins
        nps = values["nps"]
        for index in range(1, 12):
            # Two independent estimates differ by at most ~2 combined margins (95 %+).
            allowed = 2 * math.hypot(margins[index] or 0, margins[index - 1] or 0)
            assert abs(nps[index] - nps[index - 1]) <= allowed, (index, nps, margins)
    for table in ("Celebrities", "Members"):
        if table in tables:
            joined = {first_of_month(day) for day in tables[table]["joined_on"]}
            assert set(TREND) <= joined, f"{table}: no newcomer in some month"


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
