"""Recipes of monthly tables (Channels, Funnel, Marketing, Social): a
month's row holds totals, and a KPI sums its columns over the month's rows
that count ("a monthly column's sum", ``quantities.excel_monthly_rows``),
divides two sums, or compares a sum with the months before.

Each KPI's ibis form is further down, under "the ibis forms".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kpi_engine

from .quantities import (
    IBIS,
    MonthlySum,
    Retained,
    excel_cohort,
    excel_monthly_rows,
    keys_at,
    kind_of,
    monthly_mask,
    quotient,
    total_of,
)
from .recipe import UNDEFINED, EngineCall, Measure, Recipe, month_shift, ratio
from .rules import (
    Let,
    Rows,
    both,
    excel_counts,
    excel_within,
    total,
    valid,
    within,
)
from .tables import TABLES

if TYPE_CHECKING:
    from .ibis_forms import Tables


def monthly_ratio(kpi_id: str, table: str, numerator: str, denominator: str) -> Recipe:
    """A KPI that divides two column sums of a monthly table, row by row valid."""

    def formula(s: str, e: str) -> str:
        let = Let()
        counted, names = excel_monthly_rows(
            let, table, {numerator: "part", denominator: "whole"}, s, e, shares=True
        )
        whole = let.bind("whole_total", f"SUM({counted}*{names[denominator]})")
        return ratio(let, f"SUM({counted}*{names[numerator]})", whole)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        mask = monthly_mask(rows, table, (numerator, denominator), s, e, shares=True)
        return EngineCall(
            kpi_id,
            (
                total(data.read(numerator, kind_of(table, numerator)), mask),
                total(data.read(denominator, kind_of(table, denominator)), mask),
            ),
        )

    ibis = _monthly_ratio_ibis(kpi_id, table, numerator, denominator)
    return Recipe(kpi_id, formula, engine_call, ibis)


def monthly_sum(kpi_id: str, table: str, column: str) -> Recipe:
    """A KPI that is a monthly table's column summed over the month (the
    counts of article 004, a monthly revenue)."""
    return total_of(kpi_id, MonthlySum(table, column))


def growth(kpi_id: str, table: str, column: str, months: int = 1) -> Recipe:
    """The total of the ``months`` months ending with this one against the
    total of the ``months`` before them (1: month on month, 3: quarter on quarter)."""

    def formula(s: str, e: str) -> str:
        let = Let()
        month = let.value(table, "month", "month", "month_start")
        value = let.value(table, column, "whole", "measured")
        counts = let.bind("counts", excel_counts("whole", value))
        since = s if months == 1 else let.bind("since", f"EDATE({e},{-months})")
        current = let.bind("current", f"SUM({excel_within(month, since, e)}*{counts}*{value})")
        earlier = excel_within(month, f"EDATE({since},{-months})", since)
        before = let.bind("before", f"SUM({earlier}*{counts}*{value})")
        return ratio(let, f"({current}-{before})", before)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        values = data.read(column, "whole")
        counts = valid(data, column, "whole")
        since = month_shift(e, -months)
        current = total(values, both(within(data, "month", since, e), counts))
        earlier = within(data, "month", month_shift(since, -months), since)
        before = total(values, both(earlier, counts))
        return EngineCall(kpi_id, (current, before))

    ibis = _growth_ibis(kpi_id, table, column, months)
    return Recipe(kpi_id, formula, engine_call, ibis)


def _new_user_share(s: str, e: str) -> str:
    let = Let()
    counted, names = excel_monthly_rows(
        let, "Funnel", {"new_users": "new_cell", "returning_users": "back_cell"}, s, e
    )
    new = let.bind("new_total", f"SUM({counted}*{names['new_users']})")
    back = let.bind("back_total", f"SUM({counted}*{names['returning_users']})")
    return ratio(let, new, f"({new}+{back})")


def _new_user_share_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Funnel"]
    columns = ("new_users", "returning_users")
    mask = monthly_mask(rows, "Funnel", columns, s, e)
    return EngineCall("new_user_share", tuple(total(data.read(c, "whole"), mask) for c in columns))


def _engagement_rate(s: str, e: str) -> str:
    let = Let()
    counted, names = excel_monthly_rows(
        let, "Channels", {"likes": "likes", "comments": "comments", "followers": "followers"}, s, e
    )
    followers = let.bind("follower_total", f"SUM({counted}*{names['followers']})")
    interactions = f"(SUM({counted}*{names['likes']})+SUM({counted}*{names['comments']}))"
    return ratio(let, interactions, followers)


def _engagement_rate_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Channels"]
    columns = ("likes", "comments", "followers")
    mask = monthly_mask(rows, "Channels", columns, s, e)
    return EngineCall("engagement_rate", tuple(total(data.read(c, "whole"), mask) for c in columns))


def _roi(s: str, e: str) -> str:
    let = Let()
    counted, names = excel_monthly_rows(
        let, "Marketing", {"revenue_from_video": "gain", "video_spend": "cost"}, s, e
    )
    cost = let.bind("cost_total", f"SUM({counted}*{names['video_spend']})")
    return ratio(let, f"(SUM({counted}*{names['revenue_from_video']})-{cost})", cost)


def _roi_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Marketing"]
    mask = monthly_mask(rows, "Marketing", ("revenue_from_video", "video_spend"), s, e)
    return EngineCall(
        "return_on_investment",
        (
            total(data.read("revenue_from_video", "money"), mask),
            total(data.read("video_spend", "money"), mask),
        ),
    )


def _clv_revenue(s: str, e: str) -> str:
    # Revenue per customer at the start over the month's churn, as 003 defines
    # lifetime value (revenue, no margin).
    let = Let()
    cohort = excel_cohort(let, "Customers", s, e)
    counted, names = excel_monthly_rows(let, "Marketing", {"revenue": "revenue_cell"}, s, e)
    revenue = let.bind("revenue", f"SUM({counted}*{names['revenue']})")
    churned = let.bind("churned", cohort.churned)
    before = cohort.before
    return let.formula(
        f"IF(OR({before}=0,{churned}=0),{UNDEFINED},({revenue}/{before})/({churned}/{before}))"
    )


def _clv_revenue_engine(rows: Rows, s: float, e: float) -> EngineCall:
    marketing = rows["Marketing"]
    mask = monthly_mask(rows, "Marketing", ("revenue",), s, e)
    revenue = total(marketing.read("revenue", "money"), mask)
    at_start, at_end = keys_at(rows, "Customers", s, e)
    if not at_start:
        raise kpi_engine.KPIUndefinedError(
            "customer_lifetime_revenue",
            "there are no customers at the start",
            "no_customers_at_start",
        )
    churn = kpi_engine.churn_rate_from_ids(sorted(at_start), sorted(at_end))
    return EngineCall("customer_lifetime_revenue", (revenue / len(at_start), churn))


def _clv_funnel(s: str, e: str) -> str:
    let = Let()
    counted, names = excel_monthly_rows(
        let,
        "Funnel",
        {
            "revenue": "revenue_cell",
            "customers_at_start": "start_cell",
            "churned_customers": "gone_cell",
        },
        s,
        e,
        shares=True,
    )
    at_start = let.bind("at_start", f"SUM({counted}*{names['customers_at_start']})")
    churned = let.bind("churned", f"SUM({counted}*{names['churned_customers']})")
    revenue = let.bind("revenue", f"SUM({counted}*{names['revenue']})")
    return let.formula(
        f"IF(OR({at_start}=0,{churned}=0),{UNDEFINED},"
        f"({revenue}/{at_start})*GROSS_MARGIN/({churned}/{at_start}))"
    )


def _clv_funnel_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Funnel"]
    columns = ("revenue", "customers_at_start", "churned_customers")
    mask = monthly_mask(rows, "Funnel", columns, s, e, shares=True)
    revenue, at_start, churned = (total(data.read(c, kind_of("Funnel", c)), mask) for c in columns)
    if at_start == 0:
        raise kpi_engine.KPIUndefinedError(
            "customer_lifetime_value", "customers_at_start is 0", "zero_customers_at_start"
        )
    churn = kpi_engine.churn_rate(churned, at_start)
    return EngineCall(
        "customer_lifetime_value",
        (revenue / at_start, rows["Settings"]["GROSS_MARGIN"][0], churn),
    )


# --- the ibis forms ---------------------------------------------------------------------


def _monthly_ratio_ibis(kpi_id: str, table: str, numerator: str, denominator: str) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        found = IBIS.monthly(tables, table, (numerator, denominator), s, e, shares=True)
        return IBIS.engine(kpi_id, found[numerator], found[denominator])

    return measure


def _growth_ibis(kpi_id: str, table: str, column_id: str, months: int = 1) -> Measure:
    """The total of the ``months`` months ending with this one against the
    total of the ``months`` before them (1: month on month, 3: quarter on quarter)."""

    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        since = month_shift(e, -months)
        current = IBIS.monthly(tables, table, (column_id,), since, e)[column_id]
        earlier = month_shift(since, -months)
        before = IBIS.monthly(tables, table, (column_id,), earlier, since)[column_id]
        return IBIS.engine(kpi_id, current, before)

    return measure


def _engagement_rate_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    columns = ("likes", "comments", "followers")
    found = IBIS.monthly(tables, "Channels", columns, s, e)
    return IBIS.engine("engagement_rate", *(found[c] for c in columns))


def _roi_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    found = IBIS.monthly(tables, "Marketing", ("revenue_from_video", "video_spend"), s, e)
    return IBIS.engine("return_on_investment", found["revenue_from_video"], found["video_spend"])


def _clv_funnel_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    columns = ("revenue", "customers_at_start", "churned_customers")
    found = IBIS.monthly(tables, "Funnel", columns, s, e, shares=True)
    at_start = found["customers_at_start"]
    if at_start == 0:
        raise IBIS.undefined(
            "customer_lifetime_value", "customers_at_start is 0", "zero_customers_at_start"
        )
    churn = kpi_engine.churn_rate(found["churned_customers"], at_start)
    return IBIS.engine(
        "customer_lifetime_value", found["revenue"] / at_start, settings["GROSS_MARGIN"], churn
    )


def _new_user_share_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    found = IBIS.monthly(tables, "Funnel", ("new_users", "returning_users"), s, e)
    return IBIS.engine("new_user_share", found["new_users"], found["returning_users"])


def _clv_revenue_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    # Revenue per customer at the start over the month's churn (no margin).
    revenue = IBIS.monthly(tables, "Marketing", ("revenue",), s, e)["revenue"]
    cohort = IBIS.cohort(tables, "Customers", s, e)
    before = cohort["before"]
    if before == 0:
        raise IBIS.undefined(
            "customer_lifetime_revenue",
            "there are no customers at the start",
            "no_customers_at_start",
        )
    churn = (cohort["either"] - cohort["after"]) / before
    return IBIS.engine("customer_lifetime_revenue", revenue / before, churn)


# --- the recipes ------------------------------------------------------------------------------

#: Growth KPIs and the monthly table and column they compare.
GROWTH_COLUMNS: Mapping[str, tuple[str, str]] = {
    "engagement_growth": ("Social", "engagements"),
    "follower_growth_rate": ("Channels", "followers"),
}
#: The counts of article 004 (the catalogue's additive counts), each the
#: column of its own name in the monthly table that holds it: a month's
#: value is the sum of that column over the month's rows.
MONTHLY_COUNTS: Mapping[str, str] = {
    kpi.id: table
    for kpi in kpi_engine.KPIS.values()
    if kpi.additive and kpi.unit == "count"
    for table in ("Channels", "Funnel")
    if any(c.id == kpi.id for c in TABLES[table])
}

RECIPES: tuple[Recipe, ...] = (
    growth("engagement_growth", *GROWTH_COLUMNS["engagement_growth"]),
    # The margin form, over the funnel's customers per month (social media's
    # tables; video marketing measures 003's lifetime revenue instead).
    Recipe("customer_lifetime_value", _clv_funnel, _clv_funnel_engine, _clv_funnel_ibis),
    quotient(
        "customer_retention_cost",
        MonthlySum("Marketing", "retention_spend", "spend"),
        Retained("Customers"),
    ),
    Recipe("return_on_investment", _roi, _roi_engine, _roi_ibis),
    Recipe("engagement_rate", _engagement_rate, _engagement_rate_engine, _engagement_rate_ibis),
    monthly_ratio("click_through_rate", "Channels", "clicks", "impressions"),
    growth("follower_growth_rate", *GROWTH_COLUMNS["follower_growth_rate"]),
    *(monthly_sum(kpi_id, table, kpi_id) for kpi_id, table in MONTHLY_COUNTS.items()),
    Recipe("new_user_share", _new_user_share, _new_user_share_engine, _new_user_share_ibis),
    Recipe("customer_lifetime_revenue", _clv_revenue, _clv_revenue_engine, _clv_revenue_ibis),
    monthly_ratio("bounce_rate", "Funnel", "single_page_sessions", "sessions"),
    monthly_ratio("conversion_rate", "Funnel", "conversions", "visitors"),
    monthly_ratio("customer_acquisition_cost", "Funnel", "marketing_spend", "new_customers"),
)


def type_recipes(profile: kpi_engine.BusinessType) -> dict[str, Recipe]:
    """The recipes that follow from the type's revenue being a monthly
    table's column (``[holds]`` in its catalogue file)."""
    revenue = profile.holds.get("revenue")
    if revenue is not None and revenue["dated_by"] == "month":
        return {"revenue": monthly_sum("revenue", revenue["table"], revenue["column"])}
    return {}
