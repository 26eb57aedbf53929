"""Recipes of monthly tables (Channels, Funnel, Marketing, Social): a
month's row holds totals, and a KPI sums its columns over the month's rows
that count ("a monthly column's sum", ``quantities.MonthlySum``), divides
two sums, or compares a sum with the months before (``quantities.Months``).

The two lifetime values are written out below, with why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kpi_engine

from .conditions import IBIS
from .quantities import (
    Churned,
    MonthlySum,
    Months,
    PresentAtStart,
    Retained,
    combined,
    ibis_of,
    keys_at,
    quotient,
    sums_together,
    total_of,
)
from .recipe import UNDEFINED, EngineCall, IbisParts, Recipe, per
from .rules import Let, Rows
from .tables import TABLES


def monthly_ratio(kpi_id: str, table: str, numerator: str, denominator: str) -> Recipe:
    """A KPI that divides two column sums of a monthly table, over the rows
    that give both, a part never over its whole."""
    return quotient(kpi_id, *sums_together(table, numerator, denominator, shares=True))


def monthly_sum(kpi_id: str, table: str, column: str) -> Recipe:
    """A KPI that is a monthly table's column summed over the month (the
    counts of article 004, a monthly revenue)."""
    return total_of(kpi_id, MonthlySum(table, column))


def growth(kpi_id: str, table: str, column: str, months: int = 1) -> Recipe:
    """The total of the ``months`` months ending with this one against the
    total of the ``months`` before them (1: month on month, 3: quarter on quarter)."""
    measured = MonthlySum(table, column)
    return combined(
        kpi_id,
        Months(measured, months),
        Months(measured, months, back=1),
        excel=lambda now, before: per(f"({now}-{before})", before),
    )


# --- the lifetime values: written out ---------------------------------------------------------
#
# Special: the engine's functions take the revenue per customer at the start
# and the month's churn, two quotients of the quantities, so each has no
# value where either denominator is 0; the margin form also reads the
# workbook's GROSS_MARGIN setting.

#: The margin form's parts: the funnel's revenue, customers at the start and
#: churned customers, over the rows that give all three.
FUNNEL_LIFETIME = sums_together(
    "Funnel", "revenue", "customers_at_start", "churned_customers", shares=True
)


def _clv_funnel(s: str, e: str) -> str:
    let = Let()
    revenue, at_start, churned = (part.excel(let, s, e) for part in FUNNEL_LIFETIME)
    return let.formula(
        f"IF(OR({at_start}=0,{churned}=0),{UNDEFINED},"
        f"({revenue}/{at_start})*GROSS_MARGIN/({churned}/{at_start}))"
    )


def _no_funnel_customers() -> kpi_engine.KPIUndefinedError:
    return kpi_engine.KPIUndefinedError(
        "customer_lifetime_value", "customers_at_start is 0", "zero_customers_at_start"
    )


def _clv_funnel_engine(rows: Rows, s: float, e: float) -> EngineCall:
    revenue, at_start, churned = (part.rows(rows, s, e) for part in FUNNEL_LIFETIME)
    if at_start == 0:
        raise _no_funnel_customers()
    churn = kpi_engine.churn_rate(churned, at_start)
    return EngineCall(
        "customer_lifetime_value",
        (revenue / at_start, rows["Settings"]["GROSS_MARGIN"][0], churn),
    )


def _clv_funnel_finish(values: Sequence[Any], settings: Mapping[str, Any]) -> float:
    revenue, at_start, churned = values
    if at_start == 0:
        raise _no_funnel_customers()
    churn = kpi_engine.churn_rate(churned, at_start)
    return IBIS.engine(
        "customer_lifetime_value", revenue / at_start, settings["GROSS_MARGIN"], churn
    )


#: 003's lifetime revenue: the cohort of Customers and Marketing's revenue.
CHURNED = Churned("Customers")
AT_START = PresentAtStart("Customers")
MARKETING_REVENUE = MonthlySum("Marketing", "revenue")


def _clv_revenue(s: str, e: str) -> str:
    # Revenue per customer at the start over the month's churn, as 003 defines
    # lifetime value (revenue, no margin).
    let = Let()
    churned, before = CHURNED.excel(let, s, e), AT_START.excel(let, s, e)
    revenue = MARKETING_REVENUE.excel(let, s, e)
    return let.formula(
        f"IF(OR({before}=0,{churned}=0),{UNDEFINED},({revenue}/{before})/({churned}/{before}))"
    )


def _no_customers() -> kpi_engine.KPIUndefinedError:
    return kpi_engine.KPIUndefinedError(
        "customer_lifetime_revenue", "there are no customers at the start", "no_customers_at_start"
    )


def _clv_revenue_engine(rows: Rows, s: float, e: float) -> EngineCall:
    revenue = MARKETING_REVENUE.rows(rows, s, e)
    at_start, at_end = keys_at(rows, "Customers", s, e)
    if not at_start:
        raise _no_customers()
    churn = kpi_engine.churn_rate_from_ids(sorted(at_start), sorted(at_end))
    return EngineCall("customer_lifetime_revenue", (revenue / len(at_start), churn))


#: The lifetime revenue's ibis parts, in the order its ibis form reads them.
CLV_REVENUE_PARTS = (MARKETING_REVENUE, AT_START, CHURNED)


def _clv_revenue_finish(values: Sequence[Any], settings: Mapping[str, Any]) -> float:
    revenue, before, churned = values
    if before == 0:
        raise _no_customers()
    return IBIS.engine("customer_lifetime_revenue", revenue / before, churned / before)


_clv_funnel_ibis = ibis_of(FUNNEL_LIFETIME, _clv_funnel_finish)
_clv_revenue_ibis = ibis_of(CLV_REVENUE_PARTS, _clv_revenue_finish)


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
    Recipe(
        "customer_lifetime_value",
        _clv_funnel,
        _clv_funnel_engine,
        _clv_funnel_ibis,
        FUNNEL_LIFETIME,
        IbisParts(FUNNEL_LIFETIME, _clv_funnel_finish),
    ),
    quotient(
        "customer_retention_cost",
        MonthlySum("Marketing", "retention_spend"),
        Retained("Customers"),
    ),
    combined(
        "return_on_investment",
        *sums_together("Marketing", "revenue_from_video", "video_spend"),
        excel=lambda gain, cost: per(f"({gain}-{cost})", cost),
    ),
    combined(
        "engagement_rate",
        *sums_together("Channels", "likes", "comments", "followers"),
        excel=lambda likes, comments, followers: per(f"({likes}+{comments})", followers),
    ),
    monthly_ratio("click_through_rate", "Channels", "clicks", "impressions"),
    growth("follower_growth_rate", *GROWTH_COLUMNS["follower_growth_rate"]),
    *(monthly_sum(kpi_id, table, kpi_id) for kpi_id, table in MONTHLY_COUNTS.items()),
    combined(
        "new_user_share",
        *sums_together("Funnel", "new_users", "returning_users"),
        excel=lambda new, back: per(new, f"({new}+{back})"),
    ),
    Recipe(
        "customer_lifetime_revenue",
        _clv_revenue,
        _clv_revenue_engine,
        _clv_revenue_ibis,
        (CHURNED, AT_START, MARKETING_REVENUE),
        IbisParts(CLV_REVENUE_PARTS, _clv_revenue_finish),
    ),
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
