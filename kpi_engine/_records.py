"""KPIs computed from raw records: survey answers, orders, timestamps, ids.

This is where an add-in earns its keep: the user points a function at a
column of their table instead of counting by hand. Ranges arrive as Excel
sends them (see ``_inputs``). Every cell is read by the data rules of
``_cells``: a cell that does not hold what the argument needs (a blank, an
error, text in a number column, a score of 11) is left out, exactly as the
starter workbooks' formulas leave it out, so a function and a workbook
formula over the same column always agree.
"""

from __future__ import annotations

import inspect
import math
import statistics
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from . import _numeric
from ._cells import amount_value, count_value, date_serial, id_key, number_value, score_value
from ._errors import KPIInputError, KPIUndefinedError
from ._inputs import (
    checked_text,
    month_bounds,
    number,
    paired_cells,
    range_cells_and_kinds,
    single_cell,
    too_large,
)
from ._registry import kpi_function
from ._types import Cells, Day, Number, Text

T = TypeVar("T", bound=Hashable)

PROMOTER_MIN = 9
DETRACTOR_MAX = 6
#: The largest confidence level whose two-sided quantile, (1 + level) / 2,
#: is still below 1 as a float: 1 - 2**-52.
_LARGEST_CONFIDENCE = 1 - 2**-52
#: Ranges of up to this many cells are read cell by cell, without first
#: counting their distinct values.
_FEW_CELLS = 16
_LONE_CELL_KINDS = frozenset({float, int, str, bool, type(None)})


def read_counts(
    function: str, argument: str, values: Any, read: Callable[[Any], T | None]
) -> Counter[T]:
    """How often each value occurs among the cells of a range, as ``read``
    reads them; cells it reads as ``None`` are left out.

    A large range of numbers is counted with NumPy when it is installed
    (``_numeric``), with the same result. Otherwise ``read`` runs once per
    distinct cell value, not once per cell, which keeps a million-cell range
    fast. Booleans take the slow path, because ``True == 1`` would hide a
    TRUE among the ones. Something that is no cell (a list, a dict) raises,
    naming its position.
    """
    if type(values) in _LONE_CELL_KINDS:
        # One cell given as a lone value (what cells() makes of it): the
        # usual call from Excel, read at once. (Counter's own constructor
        # runs Python code; dict's fills it in C.)
        result = read(values)
        lone: Counter[T] = Counter.__new__(Counter)
        if result is not None:
            dict.__setitem__(lone, result, 1)
        return lone
    counts: Counter[T] = Counter()
    counted = _numeric.counts(values, read)
    if counted is not None:
        return counted
    flat, kinds = range_cells_and_kinds(function, argument, values)
    if len(flat) <= _FEW_CELLS or any(issubclass(kind, bool) for kind in kinds):
        for value in flat:
            result = read(value)
            if result is not None:
                counts[result] += 1
        return counts
    for value, times in Counter(flat).items():
        result = read(value)
        if result is not None:
            counts[result] += times
    return counts


def nps_groups(function: str, scores: Any) -> tuple[int, int, int]:
    """Return (promoters, passives, detractors) among the scores of a range."""
    counts = read_counts(function, "scores", scores, score_value)
    # get(), not []: a Counter looks a missing score up through a Python
    # method, which for a call of one cell was most of the work. Every score
    # read is a whole number from 0 to 10, so the detractors (0 to
    # DETRACTOR_MAX) are the rest.
    get = counts.get
    promoters = get(9, 0) + get(10, 0)
    passives = get(7, 0) + get(8, 0)
    # (sum of the values, not total(): one Python call less per call.)
    detractors = sum(counts.values()) - promoters - passives
    return promoters, passives, detractors


@kpi_function
def nps(scores: Cells) -> float:
    """Net Promoter Score of 0-10 answers: % promoters (9-10) minus % detractors (0-6)."""
    promoters, passives, detractors = nps_groups("nps", scores)
    total = promoters + passives + detractors
    if total == 0:
        raise KPIUndefinedError("nps", "there are no responses", "no_responses")
    # Multiply before dividing: (6 - 2) * 100 / 10 is exactly 40, 0.4 * 100 is not.
    return (promoters - detractors) * 100 / total


@kpi_function
def nps_margin(scores: Cells, confidence: Number = 0.95) -> float:
    """Margin of error of the NPS in points, by the adjusted-Wald method.

    Rocks (2016, *The American Statistician*) found this method the most
    reliable, and MeasuringU recommends it: add 3/4 to the promoters and to
    the detractors and 3 to the number of responses, then take the standard
    error of the difference of the two adjusted proportions. The interval
    is centred on the adjusted NPS, so it stays inside -100..100 better than
    the plain Wald interval on small samples.
    """
    name = "nps_margin"
    expected = "a confidence level between 0 and 1, such as 0.95"
    level = number(name, "confidence", confidence, expected=expected)
    position = single_cell(name, "confidence", confidence)[1]
    if not 0 < level < 1:
        raise KPIInputError(name, "confidence", level, expected, position)
    # For the largest float below 1, 1 - 2**-53, the two-sided quantile
    # (1 + level) / 2 rounds to 1: its z, and the margin, would be infinite
    # (NormalDist raises StatisticsError).
    two_sided = (1 + level) / 2
    if two_sided >= 1:
        raise KPIInputError(
            name,
            "confidence",
            level,
            f"{expected}, at most {_LARGEST_CONFIDENCE!r}",
            position,
            detail=f"is {level!r}: so close to 1 that the margin would be infinite",
        )
    promoters, passives, detractors = nps_groups(name, scores)
    responses = promoters + passives + detractors
    if responses == 0:
        raise KPIUndefinedError(name, "there are no responses", "no_responses")
    adjusted_n = responses + 3
    promoter_share = (promoters + 0.75) / adjusted_n
    detractor_share = (detractors + 0.75) / adjusted_n
    adjusted_nps = promoter_share - detractor_share
    variance = (promoter_share + detractor_share - adjusted_nps**2) / adjusted_n
    z = statistics.NormalDist().inv_cdf(two_sided)
    return z * math.sqrt(variance) * 100


@kpi_function
def csat_from_scores(scores: Cells, satisfied_min: Number = 4) -> float:
    """Share of satisfaction ratings at or above the satisfied minimum (4 on a 1-5 scale)."""
    name = "csat_from_scores"
    threshold = number(name, "satisfied_min", satisfied_min)
    counts = read_counts(name, "scores", scores, number_value)
    responses = counts.total()
    if responses == 0:
        raise KPIUndefinedError(name, "there are no responses", "no_responses")
    satisfied = sum(n for score, n in counts.items() if score >= threshold)
    return satisfied / responses


@kpi_function
def repeat_purchase_rate_from_orders(customer_ids: Cells) -> float:
    """Share of distinct customers with two orders or more, from one id per order."""
    name = "repeat_purchase_rate_from_orders"
    orders = read_counts(name, "customer_ids", customer_ids, id_key)
    if not orders:
        raise KPIUndefinedError(name, "there are no orders", "no_orders")
    repeaters = sum(1 for n in orders.values() if n >= 2)
    return repeaters / len(orders)


@kpi_function
def mau(user_ids: Cells, dates: Cells, month: Day) -> float:
    """Monthly active users: distinct users with activity in the month of the date given."""
    name = "mau"
    start, end = month_bounds(name, "month", month)
    ids, days = paired_cells(name, ("user_ids", "dates"), (user_ids, dates))
    active: set[str] = set()
    for user, day in zip(ids, days, strict=True):
        serial = date_serial(day)
        if serial is None or not start <= serial < end:
            continue
        key = id_key(user)
        if key is not None:
            active.add(key)
    return float(len(active))


@kpi_function
def avg_fulfillment_time_from_timestamps(requested_at: Cells, delivered_at: Cells) -> float:
    """Average hours from request to delivery, over the rows that were delivered."""
    name = "avg_fulfillment_time_from_timestamps"
    requests, deliveries = paired_cells(
        name, ("requested_at", "delivered_at"), (requested_at, delivered_at)
    )
    durations = []
    for requested, done in zip(requests, deliveries, strict=True):
        start, finish = date_serial(requested), date_serial(done)
        # A delivery before its request is a typing error, not a negative time.
        if start is not None and finish is not None and finish >= start:
            durations.append(finish - start)
    if not durations:
        raise KPIUndefinedError(
            name, "no row has both a request and a delivery time", "no_deliveries"
        )
    return math.fsum(durations) * 24 / len(durations)


@kpi_function
def completion_rate_from_statuses(statuses: Cells, completed_status: Text = "completed") -> float:
    """Share of non-blank status cells equal to the completed status (any letter case)."""
    name = "completion_rate_from_statuses"
    wanted = id_key(checked_text(name, "completed_status", completed_status, "a status text"))
    counts = read_counts(name, "statuses", statuses, id_key)
    total = counts.total()
    if total == 0:
        raise KPIUndefinedError(name, "there are no statuses", "no_statuses")
    return counts[wanted] / total if wanted is not None else 0.0


def _start_and_end(function: str, ids_at_start: Any, ids_at_end: Any) -> tuple[set[str], set[str]]:
    start = set(read_counts(function, "ids_at_start", ids_at_start, id_key))
    end = set(read_counts(function, "ids_at_end", ids_at_end, id_key))
    if not start:
        raise KPIUndefinedError(
            function, "there are no customers at the start", "no_customers_at_start"
        )
    return start, end


@kpi_function
def retention_rate_from_ids(ids_at_start: Cells, ids_at_end: Cells) -> float:
    """Share of the customers at the start whose id is still there at the end."""
    start, end = _start_and_end("retention_rate_from_ids", ids_at_start, ids_at_end)
    return len(start & end) / len(start)


@kpi_function
def churn_rate_from_ids(ids_at_start: Cells, ids_at_end: Cells) -> float:
    """Share of the customers at the start whose id is gone at the end."""
    start, end = _start_and_end("churn_rate_from_ids", ids_at_start, ids_at_end)
    return len(start - end) / len(start)


def _sum_of_counts(function: str, argument: str, values: Any) -> float:
    counts = read_counts(function, argument, values, count_value)
    try:
        total = math.fsum(value * n for value, n in counts.items())
    except OverflowError:  # fsum raises where a plain sum would give inf
        total = math.inf
    if not math.isfinite(total):
        raise too_large(function, {argument: values})
    return total


@kpi_function
def impressions(impression_counts: Cells) -> float:
    """Total impressions: how many times the content was displayed, summed over rows."""
    return _sum_of_counts("impressions", "impression_counts", impression_counts)


@kpi_function
def reach(accounts_reached: Cells) -> float:
    """Total accounts reached, summed over the rows given (one per channel or post)."""
    return _sum_of_counts("reach", "accounts_reached", accounts_reached)


@kpi_function
def completion_rate_on_time(
    statuses: Cells, delivered_at: Cells, due_on: Cells, completed_status: Text = "completed"
) -> float:
    """Share of orders with a status that were completed and delivered by their due date."""
    name = "completion_rate_on_time"
    wanted = id_key(checked_text(name, "completed_status", completed_status, "a status text"))
    states, deliveries, dues = paired_cells(
        name, ("statuses", "delivered_at", "due_on"), (statuses, delivered_at, due_on)
    )
    ordered = on_time = 0
    for state, delivered, due in zip(states, deliveries, dues, strict=True):
        key = id_key(state)
        if key is None:
            continue
        ordered += 1
        done, deadline = date_serial(delivered), date_serial(due)
        # A due date is a day: delivered at any time of that day is on time. An
        # order without a due date had none agreed, so its status alone
        # decides (a completed order is on time, delivery time or not); with
        # one, the delivery time must show it was met.
        if key == wanted and (deadline is None or (done is not None and done < deadline + 1)):
            on_time += 1
    if ordered == 0:
        raise KPIUndefinedError(name, "there are no statuses", "no_statuses")
    return on_time / ordered


@kpi_function
def revenue(amounts: Cells) -> float:
    """Total revenue: the sum of the amounts given (one per order or payment)."""
    name = "revenue"
    counts = read_counts(name, "amounts", amounts, amount_value)
    try:
        total = math.fsum(value * n for value, n in counts.items())
    except OverflowError:
        total = math.inf
    if not math.isfinite(total):
        raise too_large(name, {"amounts": amounts})
    return total


def _count_total(function: str, argument: str, summary: str) -> Callable[[Cells], float]:
    """A KPI that adds up a count per row (per channel, post or day)."""

    def total(values: Cells) -> float:
        return _sum_of_counts(function, argument, values)

    total.__name__ = total.__qualname__ = function
    total.__doc__ = summary
    # The parameter carries the argument's name, as the catalogue describes it.
    total.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(argument, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Cells)],
        return_annotation=float,
    )
    return kpi_function(total)


# The counts that article 004 names per funnel stage, each summed over the
# rows given (one per channel and month, as the platforms report them).
likes = _count_total("likes", "like_counts", "Total likes, summed over the rows given.")
comments = _count_total("comments", "comment_counts", "Total comments, summed over the rows given.")
saves = _count_total("saves", "save_counts", "Total saves, summed over the rows given.")
video_views = _count_total(
    "video_views", "view_counts", "Total video views, summed over the rows given."
)
profile_visits = _count_total(
    "profile_visits", "visit_counts", "Total profile visits, summed over the rows given."
)
shares = _count_total(
    "shares", "share_counts", "Total shares (retweets, reposts), summed over the rows given."
)
closeups = _count_total(
    "closeups", "closeup_counts", "Total closeups (a pin or image opened), summed over rows."
)
website_clicks = _count_total(
    "website_clicks", "click_counts", "Total clicks to the website, summed over the rows given."
)
profile_actions = _count_total(
    "profile_actions", "action_counts", "Total profile actions (call, e-mail, directions), summed."
)
unique_page_views = _count_total(
    "unique_page_views", "page_view_counts", "Total unique page views, summed over the rows given."
)
followers = _count_total(
    "followers", "follower_counts", "Total followers, added over the channels given."
)
