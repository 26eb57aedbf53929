"""KPIs from totals: the formulas as the source articles give them.

Each function takes the article's inputs in the article's order and returns
the KPI in the project's conventions: rates as fractions (0.3 for 30 %), NPS
as a score from -100 to 100, durations in the unit of their inputs, money as
a plain number. Worked examples from the articles are attached to every
docstring from the catalogue and run as doctests.
"""

from __future__ import annotations

import math
from typing import Any

from ._errors import KPIInputError, KPIUndefinedError
from ._inputs import amount, count, fraction, number, part_of_whole, single_cell, too_large
from ._registry import kpi_function
from ._types import Number, Text


def _ratio(function: str, numerator: float, denominator: float, denominator_name: str) -> float:
    if denominator == 0:
        raise KPIUndefinedError(function, f"{denominator_name} is 0", f"zero_{denominator_name}")
    return numerator / denominator


def _share(function: str, part_name: str, part: Any, whole_name: str, whole: Any) -> float:
    """A part of a whole, both counts, with the part no larger than the whole."""
    part_value = count(function, part_name, part)
    whole_value = count(function, whole_name, whole)
    part_of_whole(function, part_name, part_value, whole_name, whole_value)
    return _ratio(function, part_value, whole_value, whole_name)


def _growth(function: str, now_name: str, now: Any, before_name: str, before: Any) -> float:
    now_value = count(function, now_name, now)
    before_value = count(function, before_name, before)
    return _ratio(function, now_value - before_value, before_value, before_name)


def _per(function: str, total_name: str, total: float, things_name: str, things: Any) -> float:
    return _ratio(function, total, count(function, things_name, things), things_name)


# --- time -----------------------------------------------------------------


@kpi_function
def avg_fulfillment_time(total_hours: Number, fulfilled: Number) -> float:
    """Average time to fulfil one order: total time taken over orders fulfilled."""
    name = "avg_fulfillment_time"
    return _per(
        name, "total_hours", amount(name, "total_hours", total_hours), "fulfilled", fulfilled
    )


@kpi_function
def avg_turnaround_time(total_hours: Number, completed_projects: Number) -> float:
    """Average time to complete one project: total time over projects completed."""
    name = "avg_turnaround_time"
    return _per(
        name,
        "total_hours",
        amount(name, "total_hours", total_hours),
        "completed_projects",
        completed_projects,
    )


#: What one unit of a visit's time is in minutes, by the name a caller gives it.
_MINUTES_PER = {"minutes": 1.0, "hours": 60.0}


@kpi_function
def avg_time_per_visit(total_time: Number, visits: Number, time_unit: Text = "minutes") -> float:
    """Average minutes per visit, from the total time in minutes or hours (time_unit)."""
    name = "avg_time_per_visit"
    expected = "'minutes' or 'hours': the unit of total_time"
    unit, position = single_cell(name, "time_unit", time_unit)
    key = unit.strip().lower() if isinstance(unit, str) else None
    if key not in _MINUTES_PER:
        raise KPIInputError(name, "time_unit", unit, expected, position)
    minutes = amount(name, "total_time", total_time) * _MINUTES_PER[key]
    return _per(name, "total_time", minutes, "visits", visits)


# --- shares of a whole ----------------------------------------------------


@kpi_function
def repeat_purchase_rate(repeat_customers: Number, total_customers: Number) -> float:
    """Share of customers who bought again after their first purchase."""
    return _share(
        "repeat_purchase_rate",
        "repeat_customers",
        repeat_customers,
        "total_customers",
        total_customers,
    )


@kpi_function
def completion_rate(completed: Number, ordered: Number) -> float:
    """Share of ordered items (messages, songs) completed and delivered."""
    return _share("completion_rate", "completed", completed, "ordered", ordered)


@kpi_function
def churn_rate(churned: Number, customers_at_start: Number) -> float:
    """Share of the customers at the start of the period who left during it."""
    return _share("churn_rate", "churned", churned, "customers_at_start", customers_at_start)


@kpi_function
def csat(satisfied: Number, surveyed: Number) -> float:
    """Share of surveyed customers who said they were satisfied."""
    return _share("csat", "satisfied", satisfied, "surveyed", surveyed)


@kpi_function
def referral_acquisition_rate(referred_new_customers: Number, new_customers: Number) -> float:
    """Share of new customers who came through a referral."""
    return _share(
        "referral_acquisition_rate",
        "referred_new_customers",
        referred_new_customers,
        "new_customers",
        new_customers,
    )


@kpi_function
def connection_success_rate(successful: Number, attempted: Number) -> float:
    """Share of attempted connections between members that succeeded."""
    return _share("connection_success_rate", "successful", successful, "attempted", attempted)


@kpi_function
def click_through_rate(clicks: Number, impressions: Number) -> float:
    """Share of impressions that led to a click."""
    return _share("click_through_rate", "clicks", clicks, "impressions", impressions)


@kpi_function
def conversion_rate(conversions: Number, visitors: Number) -> float:
    """Share of visitors who converted (bought, signed up)."""
    return _share("conversion_rate", "conversions", conversions, "visitors", visitors)


@kpi_function
def bounce_rate(single_page_sessions: Number, sessions: Number) -> float:
    """Share of website sessions that left after a single page."""
    return _share("bounce_rate", "single_page_sessions", single_page_sessions, "sessions", sessions)


@kpi_function
def customer_success_rate(successful_customers: Number, customers_followed_up: Number) -> float:
    """Share of followed-up customers for whom the purchase delivered its value."""
    return _share(
        "customer_success_rate",
        "successful_customers",
        successful_customers,
        "customers_followed_up",
        customers_followed_up,
    )


@kpi_function
def retention_rate(
    customers_at_end: Number, new_customers: Number, customers_at_start: Number
) -> float:
    """Share of the customers at the start still there at the end: ((E - N) / S)."""
    name = "retention_rate"
    end = count(name, "customers_at_end", customers_at_end)
    new = count(name, "new_customers", new_customers)
    start = count(name, "customers_at_start", customers_at_start)
    part_of_whole(name, "new_customers", new, "customers_at_end", end)
    retained = end - new
    part_of_whole(name, "customers_at_end - new_customers", retained, "customers_at_start", start)
    return _ratio(name, retained, start, "customers_at_start")


# --- growth and acquisition -------------------------------------------------


@kpi_function
def celebrity_acquisition_rate(new_celebrities: Number, celebrities_at_start: Number) -> float:
    """New celebrities who joined, relative to the celebrities at the start."""
    name = "celebrity_acquisition_rate"
    new = count(name, "new_celebrities", new_celebrities)
    start = count(name, "celebrities_at_start", celebrities_at_start)
    return _ratio(name, new, start, "celebrities_at_start")


@kpi_function
def engagement_growth(engagements_now: Number, engagements_before: Number) -> float:
    """Relative change in social media engagements from one period to the next."""
    return _growth(
        "engagement_growth",
        "engagements_now",
        engagements_now,
        "engagements_before",
        engagements_before,
    )


@kpi_function
def follower_growth_rate(followers_now: Number, followers_before: Number) -> float:
    """Relative change in the number of followers over the period."""
    return _growth(
        "follower_growth_rate",
        "followers_now",
        followers_now,
        "followers_before",
        followers_before,
    )


@kpi_function
def engagement_rate(likes: Number, comments: Number, followers: Number) -> float:
    """Likes and comments per follower: (likes + comments) / followers."""
    name = "engagement_rate"
    interactions = count(name, "likes", likes) + count(name, "comments", comments)
    return _ratio(name, interactions, count(name, "followers", followers), "followers")


# --- per-unit values --------------------------------------------------------


@kpi_function
def nps_from_shares(promoter_share: Number, detractor_share: Number) -> float:
    """Net Promoter Score from the shares of promoters and detractors."""
    name = "nps_from_shares"
    promoters = fraction(name, "promoter_share", promoter_share)
    detractors = fraction(name, "detractor_share", detractor_share)
    if promoters + detractors > 1:
        raise KPIInputError(
            name,
            "detractor_share",
            detractors,
            f"at most 1 - promoter_share ({1 - promoters:g}): the two shares cannot exceed 100 %",
        )
    # Scale before subtracting: 0.7 * 100 - 0.1 * 100 is exactly 60.
    return promoters * 100 - detractors * 100


@kpi_function
def nps_from_counts(promoters: Number, passives: Number, detractors: Number) -> float:
    """Net Promoter Score from the numbers of promoters, passives and detractors."""
    name = "nps_from_counts"
    pro = count(name, "promoters", promoters)
    pas = count(name, "passives", passives)
    det = count(name, "detractors", detractors)
    total = pro + pas + det
    if total == 0:
        raise KPIUndefinedError(name, "there are no responses", "no_responses")
    # An overflowing total would make the NPS 0 or NaN, a wrong answer that looks real.
    if not math.isfinite(total):
        raise too_large(
            name, {"promoters": promoters, "passives": passives, "detractors": detractors}
        )
    lead = pro - det
    if not math.isfinite(lead * 100):
        # No larger than the total, the lead divides first without overflow.
        return lead / total * 100
    return lead * 100 / total


@kpi_function
def revenue_per_celebrity(total_revenue: Number, celebrities: Number) -> float:
    """Average revenue brought in by each celebrity on the platform."""
    name = "revenue_per_celebrity"
    return _per(
        name,
        "total_revenue",
        amount(name, "total_revenue", total_revenue),
        "celebrities",
        celebrities,
    )


@kpi_function
def revenue_per_active_user(total_revenue: Number, active_users: Number) -> float:
    """Average revenue brought in by each active user."""
    name = "revenue_per_active_user"
    return _per(
        name,
        "total_revenue",
        amount(name, "total_revenue", total_revenue),
        "active_users",
        active_users,
    )


@kpi_function
def events_per_user(attendances: Number, active_users: Number) -> float:
    """Average number of networking events attended by each active user."""
    name = "events_per_user"
    return _per(
        name, "attendances", count(name, "attendances", attendances), "active_users", active_users
    )


@kpi_function
def customer_acquisition_cost(marketing_spend: Number, new_customers: Number) -> float:
    """Marketing spend per new customer won."""
    name = "customer_acquisition_cost"
    return _per(
        name,
        "marketing_spend",
        amount(name, "marketing_spend", marketing_spend),
        "new_customers",
        new_customers,
    )


@kpi_function
def customer_retention_cost(retention_spend: Number, retained_customers: Number) -> float:
    """Spending on keeping customers, per customer kept."""
    name = "customer_retention_cost"
    return _per(
        name,
        "retention_spend",
        amount(name, "retention_spend", retention_spend),
        "retained_customers",
        retained_customers,
    )


@kpi_function
def customer_lifetime_value(
    avg_revenue_per_customer_per_period: Number,
    gross_margin: Number,
    churn_rate_per_period: Number,
) -> float:
    """Margin a customer brings over their whole relationship: revenue x margin / churn."""
    name = "customer_lifetime_value"
    revenue = amount(
        name, "avg_revenue_per_customer_per_period", avg_revenue_per_customer_per_period
    )
    margin = fraction(name, "gross_margin", gross_margin)
    churn = fraction(name, "churn_rate_per_period", churn_rate_per_period)
    if churn == 0:
        raise KPIUndefinedError(
            name, "churn_rate_per_period is 0, so the expected lifetime has no end", "no_churn"
        )
    return revenue * margin / churn


@kpi_function
def return_on_investment(gain: Number, cost: Number) -> float:
    """Money earned back for each unit spent, net of the spend: (gain - cost) / cost."""
    name = "return_on_investment"
    gain_value = amount(name, "gain", gain)
    cost_value = number(name, "cost", cost, minimum=0)
    return _ratio(name, gain_value - cost_value, cost_value, "cost")


@kpi_function
def customer_lifetime_revenue(
    avg_revenue_per_customer_per_period: Number, churn_rate_per_period: Number
) -> float:
    """Revenue a customer brings over their whole relationship: revenue per period / churn."""
    name = "customer_lifetime_revenue"
    revenue = amount(
        name, "avg_revenue_per_customer_per_period", avg_revenue_per_customer_per_period
    )
    churn = fraction(name, "churn_rate_per_period", churn_rate_per_period)
    if churn == 0:
        raise KPIUndefinedError(
            name, "churn_rate_per_period is 0, so the expected lifetime has no end", "no_churn"
        )
    return revenue / churn


@kpi_function
def actual_recommendation_rate(recommended: Number, surveyed: Number) -> float:
    """Share of surveyed customers who say they did recommend the brand."""
    return _share("actual_recommendation_rate", "recommended", recommended, "surveyed", surveyed)


# --- the small-shop basics -------------------------------------------------


@kpi_function
def average_order_value(total_revenue: Number, orders: Number) -> float:
    """Average revenue per order: revenue over the orders it came from."""
    name = "average_order_value"
    revenue = amount(name, "total_revenue", total_revenue)
    return _per(name, "total_revenue", revenue, "orders", orders)


@kpi_function
def cancellation_rate(cancelled: Number, orders: Number) -> float:
    """Share of the orders placed that were cancelled."""
    return _share("cancellation_rate", "cancelled", cancelled, "orders", orders)


@kpi_function
def new_user_share(new_users: Number, returning_users: Number) -> float:
    """Share of new users among the website's users: new / (new + returning)."""
    name = "new_user_share"
    new = count(name, "new_users", new_users)
    returning = count(name, "returning_users", returning_users)
    return _ratio(name, new, new + returning, "users")
