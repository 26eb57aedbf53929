"""KPIs computed from raw records: survey answers, orders, timestamps, ids.

This is where an add-in earns its keep: the user points a function at a
column of their table instead of counting by hand. Ranges arrive as Excel
sends them (see ``_inputs``); blank cells are ignored everywhere.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from ._errors import KPIInputError, KPIUndefinedError, describe_value
from ._inputs import (
    ID_EXPECTED,
    checked_text,
    id_set,
    is_blank,
    is_id,
    is_number,
    month_bounds,
    number,
    paired_cells,
    tally,
    to_serial,
)
from ._registry import kpi_function

#: The eleven answers of the likelihood-to-recommend question. Floats such as
#: 9.0 (how Excel sends numbers) compare equal to these ints.
NPS_SCORES = frozenset(range(11))
NPS_SCORE_EXPECTED = "a whole number from 0 to 10"
PROMOTER_MIN = 9
#: Serial number of 9999-12-31, the last date Excel knows.
_LAST_SERIAL = 2958466
DETRACTOR_MAX = 6


def _is_nps_score(value: Any) -> bool:
    return not isinstance(value, bool) and value in NPS_SCORES and not isinstance(value, str)


def nps_groups(function: str, scores: Any) -> tuple[int, int, int]:
    """Return (promoters, passives, detractors) among the scores of a range."""
    counts = tally(function, "scores", scores, _is_nps_score, NPS_SCORE_EXPECTED)
    promoters = counts[9] + counts[10]
    detractors = sum(counts[score] for score in range(DETRACTOR_MAX + 1))
    passives = counts[7] + counts[8]
    return promoters, passives, detractors


@kpi_function
def nps(scores: Any) -> float:
    """Net Promoter Score of 0-10 answers: % promoters (9-10) minus % detractors (0-6)."""
    promoters, passives, detractors = nps_groups("nps", scores)
    total = promoters + passives + detractors
    if total == 0:
        raise KPIUndefinedError("nps", "there are no responses")
    # Multiply before dividing: (6 - 2) * 100 / 10 is exactly 40, 0.4 * 100 is not.
    return (promoters - detractors) * 100 / total


@kpi_function
def nps_margin(scores: Any, confidence: Any = 0.95) -> float:
    """Margin of error of the NPS in points, by the adjusted-Wald method.

    Rocks (2016, *The American Statistician*) found this method the most
    reliable, and MeasuringU recommends it: add 3/4 to the promoters and to
    the detractors and 3 to the number of responses, then take the standard
    error of the difference of the two adjusted proportions. The interval
    is centred on the adjusted NPS, so it stays inside -100..100 better than
    the plain Wald interval on small samples.
    """
    name = "nps_margin"
    level = number(
        name,
        "confidence",
        confidence,
        expected="a confidence level between 0 and 1, such as 0.95",
    )
    if not 0 < level < 1:
        raise KPIInputError(
            name, "confidence", level, "a confidence level between 0 and 1, such as 0.95"
        )
    promoters, passives, detractors = nps_groups(name, scores)
    responses = promoters + passives + detractors
    if responses == 0:
        raise KPIUndefinedError(name, "there are no responses")
    adjusted_n = responses + 3
    promoter_share = (promoters + 0.75) / adjusted_n
    detractor_share = (detractors + 0.75) / adjusted_n
    adjusted_nps = promoter_share - detractor_share
    variance = (promoter_share + detractor_share - adjusted_nps**2) / adjusted_n
    z = statistics.NormalDist().inv_cdf((1 + level) / 2)
    return z * math.sqrt(variance) * 100


def _is_rating(value: Any) -> bool:
    return is_number(value)


@kpi_function
def csat_from_scores(scores: Any, satisfied_min: Any = 4) -> float:
    """Share of satisfaction ratings at or above ``satisfied_min`` (4 on a 1-5 scale)."""
    name = "csat_from_scores"
    threshold = number(name, "satisfied_min", satisfied_min)
    counts = tally(name, "scores", scores, _is_rating, "a rating (a number)")
    responses = counts.total()
    if responses == 0:
        raise KPIUndefinedError(name, "there are no responses")
    satisfied = sum(n for score, n in counts.items() if score >= threshold)
    return satisfied / responses


@kpi_function
def repeat_purchase_rate_from_orders(customer_ids: Any) -> float:
    """Share of distinct customers with two orders or more, from one id per order."""
    name = "repeat_purchase_rate_from_orders"
    orders = tally(name, "customer_ids", customer_ids, is_id, ID_EXPECTED)
    if not orders:
        raise KPIUndefinedError(name, "there are no orders")
    repeaters = sum(1 for n in orders.values() if n >= 2)
    return repeaters / len(orders)


@kpi_function
def mau(user_ids: Any, dates: Any, month: Any) -> float:
    """Monthly active users: distinct users with activity in the month of ``month``."""
    name = "mau"
    start, end = month_bounds(name, "month", month)
    ids, days = paired_cells(name, ("user_ids", "dates"), (user_ids, dates))
    active: set[Any] = set()
    for position, (user, day) in enumerate(zip(ids, days, strict=True), start=1):
        if (
            user is None
            or day is None
            or is_blank(user)
            or (isinstance(day, str) and is_blank(day))
        ):
            continue
        if not is_id(user):
            raise KPIInputError(name, "user_ids", user, ID_EXPECTED, position)
        # A serial number compares directly; anything else is converted once.
        serial = (
            day
            if type(day) is float and 61 <= day < _LAST_SERIAL
            else to_serial(name, "dates", day, position)
        )
        if start <= serial < end:
            active.add(user)
    return float(len(active))


@kpi_function
def avg_fulfillment_time_from_timestamps(requested_at: Any, delivered_at: Any) -> float:
    """Average hours from request to delivery, over the rows that were delivered."""
    name = "avg_fulfillment_time_from_timestamps"
    requests, deliveries = paired_cells(
        name, ("requested_at", "delivered_at"), (requested_at, delivered_at)
    )
    total_days = 0.0
    delivered = 0
    for position, (requested, done) in enumerate(zip(requests, deliveries, strict=True), start=1):
        if requested is None or done is None or is_blank(requested) or is_blank(done):
            continue
        start = to_serial(name, "requested_at", requested, position)
        finish = to_serial(name, "delivered_at", done, position)
        if finish < start:
            raise KPIInputError(
                name,
                "delivered_at",
                done,
                f"a delivery at or after its request ({describe_value(requested)})",
                position,
                detail=f"is {describe_value(done)}, before its request",
            )
        total_days += finish - start
        delivered += 1
    if delivered == 0:
        raise KPIUndefinedError(name, "no row has both a request and a delivery time")
    return total_days * 24 / delivered


@kpi_function
def completion_rate_from_statuses(statuses: Any, completed_status: Any = "completed") -> float:
    """Share of non-blank status cells equal to ``completed_status`` (any letter case)."""
    name = "completion_rate_from_statuses"
    wanted = checked_text(name, "completed_status", completed_status, "a status text").strip()
    counts = tally(name, "statuses", statuses, lambda v: isinstance(v, str), "a status text")
    total = counts.total()
    if total == 0:
        raise KPIUndefinedError(name, "there are no statuses")
    # Compare as Excel's COUNTIF does: letter case does not matter.
    wanted_key = wanted.casefold()
    completed = sum(n for status, n in counts.items() if status.strip().casefold() == wanted_key)
    return completed / total


def _start_and_end(function: str, ids_at_start: Any, ids_at_end: Any) -> tuple[set[Any], set[Any]]:
    start = id_set(function, "ids_at_start", ids_at_start)
    end = id_set(function, "ids_at_end", ids_at_end)
    if not start:
        raise KPIUndefinedError(function, "there are no customers at the start")
    return start, end


@kpi_function
def retention_rate_from_ids(ids_at_start: Any, ids_at_end: Any) -> float:
    """Share of the customers at the start whose id is still there at the end."""
    start, end = _start_and_end("retention_rate_from_ids", ids_at_start, ids_at_end)
    return len(start & end) / len(start)


@kpi_function
def churn_rate_from_ids(ids_at_start: Any, ids_at_end: Any) -> float:
    """Share of the customers at the start whose id is gone at the end."""
    start, end = _start_and_end("churn_rate_from_ids", ids_at_start, ids_at_end)
    return len(start - end) / len(start)


def _sum_of_counts(function: str, argument: str, values: Any) -> float:
    counts: Counter[Any] = tally(
        function,
        argument,
        values,
        lambda v: is_number(v) and v >= 0 and float(v).is_integer(),
        "a whole number of 0 or more",
    )
    return float(sum(value * n for value, n in counts.items()))


@kpi_function
def impressions(impression_counts: Any) -> float:
    """Total impressions: how many times the content was displayed, summed over rows."""
    return _sum_of_counts("impressions", "impression_counts", impression_counts)


@kpi_function
def reach(accounts_reached: Any) -> float:
    """Total accounts reached, summed over the rows given (one per channel or post)."""
    return _sum_of_counts("reach", "accounts_reached", accounts_reached)
