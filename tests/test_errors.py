"""Bad arguments raise KPIInputError naming function, argument, position, value
and what was expected; cells of a data range that do not count are left out,
by the data rules the workbook formulas share; undefined KPIs raise
KPIUndefinedError, never 0/NaN/inf."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

import kpi_engine
from kpi_engine import KPIInputError, KPIUndefinedError
from tests.conftest import ALL_KPIS

pytestmark = pytest.mark.fast

BAD_INPUT = [
    # (call, exact message)
    (
        lambda: kpi_engine.churn_rate(-5, 100),
        "churn_rate: churned is -5; expected a whole number of 0 or more",
    ),
    (
        lambda: kpi_engine.churn_rate(5.5, 100),
        "churn_rate: churned is 5.5; expected a whole number of 0 or more",
    ),
    (
        lambda: kpi_engine.churn_rate("50", 100),
        "churn_rate: churned is '50'; expected a whole number of 0 or more",
    ),
    (
        lambda: kpi_engine.churn_rate(True, 100),
        "churn_rate: churned is TRUE; expected a whole number of 0 or more",
    ),
    (
        lambda: kpi_engine.churn_rate(None, 100),
        "churn_rate: churned is blank; expected a whole number of 0 or more",
    ),
    (
        lambda: kpi_engine.csat(90, 80),
        "csat: satisfied is 90, more than surveyed (80); expected at most surveyed",
    ),
    (
        lambda: kpi_engine.completion_rate(101, 100),
        "completion_rate: completed is 101, more than ordered (100); expected at most ordered",
    ),
    (
        lambda: kpi_engine.retention_rate(110, 120, 100),
        "retention_rate: new_customers is 120, more than customers_at_end (110); expected at most customers_at_end",
    ),
    (
        lambda: kpi_engine.retention_rate(300, 20, 100),
        "retention_rate: customers_at_end - new_customers is 280, more than customers_at_start (100); "
        "expected at most customers_at_start",
    ),
    (
        lambda: kpi_engine.nps_from_shares(0.7, 0.4),
        "nps_from_shares: detractor_share is 0.4; expected at most 1 - promoter_share (0.3): "
        "the two shares cannot exceed 100 %",
    ),
    (
        lambda: kpi_engine.nps_from_shares(70, 10),
        "nps_from_shares: promoter_share is 70; expected a fraction from 0 to 1 (30 % is 0.3)",
    ),
    (
        lambda: kpi_engine.avg_fulfillment_time(-1, 3),
        "avg_fulfillment_time: total_hours is -1; expected a number of 0 or more",
    ),
    (
        lambda: kpi_engine.customer_lifetime_value(50, 1.5, 0.05),
        "customer_lifetime_value: gross_margin is 1.5; expected a fraction from 0 to 1 (30 % is 0.3)",
    ),
    (
        lambda: kpi_engine.churn_rate([[1.0], [2.0]], 10),
        "churn_rate: churned is a range of 2 cells; expected a single cell, not a range of several cells",
    ),
    (
        lambda: kpi_engine.benchmark_band("nps", 50, "bakery"),
        "benchmark_band: business_type is 'bakery'; expected one of celebrity_video, networking, "
        "social_media, songwriting, video_marketing",
    ),
    (
        lambda: kpi_engine.benchmark_band("happiness", 50, "networking"),
        "benchmark_band: kpi_id is 'happiness'; expected a KPI id such as 'nps' (see kpi list)",
    ),
    (
        lambda: kpi_engine.benchmark_band("nps", 50, "networking"),
        "benchmark_band: kpi_id is 'nps'; expected a KPI that networking tracks: "
        + ", ".join(entry.id for entry in kpi_engine.get_business_type("networking").kpis),
    ),
    (
        lambda: kpi_engine.benchmark_band("nps", "high", "celebrity_video"),
        "benchmark_band: value is 'high'; expected a value of nps (a number)",
    ),
    (
        lambda: kpi_engine.get_business_type("bakery"),
        "get_business_type: business_type is 'bakery'; expected one of celebrity_video, networking, social_media, songwriting, video_marketing",
    ),
    (
        lambda: kpi_engine.mau(["a", "b"], [dt.date(2024, 6, 1)], "2024-06"),
        "mau: dates has 1 cells; expected as many cells as user_ids (2), one per row",
    ),
    (
        lambda: kpi_engine.avg_fulfillment_time_from_timestamps([45000.5, 45001.0], [45000.75]),
        "avg_fulfillment_time_from_timestamps: delivered_at has 1 cells; expected as many cells as requested_at (2), one per row",
    ),
    (
        lambda: kpi_engine.csat_from_scores([5, 4], "four"),
        "csat_from_scores: satisfied_min is 'four'; expected a number",
    ),
    (
        lambda: kpi_engine.nps_margin([9, 10], 95),
        "nps_margin: confidence is 95; expected a confidence level between 0 and 1, such as 0.95",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    BAD_INPUT,
    ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD_INPUT)],
)
def test_bad_input_message(call: Any, message: str) -> None:
    with pytest.raises(KPIInputError) as caught:
        call()
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_error_carries_its_parts() -> None:
    with pytest.raises(KPIInputError) as caught:
        kpi_engine.churn_rate(-5, 100)
    error = caught.value
    assert (error.function, error.argument, error.position, error.value) == (
        "churn_rate",
        "churned",
        None,
        -5,
    )
    assert error.expected == "a whole number of 0 or more"


#: Cells of a data range that do not count are left out, as the workbook
#: formulas leave them out (docs/data-rules.md, "How your data is read"): each call gives
#: what the same call gives without those cells.
LEFT_OUT = [
    # text, a score out of range or not whole, a boolean, a number stored as text, NaN
    (lambda: kpi_engine.nps([9, 10, "abc"]), lambda: kpi_engine.nps([9, 10])),
    (lambda: kpi_engine.nps([[9.0], [None], [11.0]]), lambda: kpi_engine.nps([9])),
    (lambda: kpi_engine.nps([[9.0], [7.5], [-1]]), lambda: kpi_engine.nps([9])),
    (lambda: kpi_engine.nps([1.0, True, "9"]), lambda: kpi_engine.nps([1])),
    (lambda: kpi_engine.nps([9, float("nan"), "#N/A"]), lambda: kpi_engine.nps([9])),
    (lambda: kpi_engine.nps_margin([9, 3, "#VALUE!"]), lambda: kpi_engine.nps_margin([9, 3])),
    (
        lambda: kpi_engine.csat_from_scores([5, "good", "4"]),
        lambda: kpi_engine.csat_from_scores([5]),
    ),
    # a delivery before its request, and a date as text
    (
        lambda: kpi_engine.avg_fulfillment_time_from_timestamps(
            [dt.datetime(2024, 6, 1, 9), dt.datetime(2024, 6, 2, 9), "2024-06-01"],
            [dt.datetime(2024, 6, 1, 12), dt.datetime(2024, 6, 2, 8), dt.datetime(2024, 6, 3)],
        ),
        lambda: kpi_engine.avg_fulfillment_time_from_timestamps(
            [dt.datetime(2024, 6, 1, 9)], [dt.datetime(2024, 6, 1, 12)]
        ),
    ),
    # ids compare as Excel's TRIM and UNIQUE compare them; errors are no id
    (
        lambda: kpi_engine.repeat_purchase_rate_from_orders(["c1", " C1 ", "#N/A", "#N/A"]),
        lambda: kpi_engine.repeat_purchase_rate_from_orders(["c1", "c1"]),
    ),
    (
        lambda: kpi_engine.repeat_purchase_rate_from_orders([1001.0, "1001", "c  2", "C 2"]),
        lambda: kpi_engine.repeat_purchase_rate_from_orders(["a", "a", "b", "b"]),
    ),
    (
        lambda: kpi_engine.completion_rate_from_statuses(["Completed ", "#N/A", "open"]),
        lambda: kpi_engine.completion_rate_from_statuses(["completed", "open"]),
    ),
    (
        lambda: kpi_engine.retention_rate_from_ids(["a", "#REF!", "B"], ["b "]),
        lambda: kpi_engine.retention_rate_from_ids(["a", "b"], ["b"]),
    ),
    (
        lambda: kpi_engine.mau(
            ["a", "A ", "#N/A", "b"], [45444.0, 45445.0, 45444.0, "2024-06-03"], 45444.0
        ),
        lambda: kpi_engine.mau(["a"], [45444.0], 45444.0),
    ),
    (lambda: kpi_engine.impressions([100, -5, 2.5, "7"]), lambda: kpi_engine.impressions([100])),
]


def test_what_no_cell_can_hold_is_a_bad_input_not_left_out() -> None:
    # A dict or a list inside a range is a caller's mistake, not messy data:
    # Office.js rich values reach the engine as their plain value already.
    with pytest.raises(KPIInputError) as caught:
        kpi_engine.nps([9, {"type": "Entity"}, [10]])
    assert str(caught.value).startswith("nps: scores[2] is {'type': 'Entity'}; expected a cell")


@pytest.mark.parametrize(("call", "same_as"), LEFT_OUT, ids=[str(i) for i in range(len(LEFT_OUT))])
def test_cells_that_do_not_count_are_left_out(call: Any, same_as: Any) -> None:
    assert call() == same_as()


def test_a_range_of_cells_none_of_which_counts_is_undefined() -> None:
    with pytest.raises(KPIUndefinedError, match="there are no responses"):
        kpi_engine.nps(["n/a", "#N/A", 11, "9"])


UNDEFINED = [
    (lambda: kpi_engine.churn_rate(0, 0), "churn_rate is undefined: customers_at_start is 0"),
    (lambda: kpi_engine.csat(0, 0), "csat is undefined: surveyed is 0"),
    (lambda: kpi_engine.nps([]), "nps is undefined: there are no responses"),
    (lambda: kpi_engine.nps([[None], [None]]), "nps is undefined: there are no responses"),
    (lambda: kpi_engine.nps_margin([None]), "nps_margin is undefined: there are no responses"),
    (
        lambda: kpi_engine.nps_from_counts(0, 0, 0),
        "nps_from_counts is undefined: there are no responses",
    ),
    (
        lambda: kpi_engine.csat_from_scores([None, ""]),
        "csat_from_scores is undefined: there are no responses",
    ),
    (
        lambda: kpi_engine.repeat_purchase_rate_from_orders([]),
        "repeat_purchase_rate_from_orders is undefined: there are no orders",
    ),
    (
        lambda: kpi_engine.avg_fulfillment_time_from_timestamps([45000.0], [None]),
        "avg_fulfillment_time_from_timestamps is undefined: no row has both a request and a delivery time",
    ),
    (
        lambda: kpi_engine.completion_rate_from_statuses([None]),
        "completion_rate_from_statuses is undefined: there are no statuses",
    ),
    (
        lambda: kpi_engine.retention_rate_from_ids([], ["a"]),
        "retention_rate_from_ids is undefined: there are no customers at the start",
    ),
    (
        lambda: kpi_engine.churn_rate_from_ids([None], ["a"]),
        "churn_rate_from_ids is undefined: there are no customers at the start",
    ),
    (
        lambda: kpi_engine.engagement_growth(10, 0),
        "engagement_growth is undefined: engagements_before is 0",
    ),
    (
        lambda: kpi_engine.customer_lifetime_value(50, 0.6, 0),
        "customer_lifetime_value is undefined: churn_rate_per_period is 0, so the expected lifetime has no end",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    UNDEFINED,
    ids=[m.split(" ")[0] + str(i) for i, (_, m) in enumerate(UNDEFINED)],
)
def test_undefined_message(call: Any, message: str) -> None:
    with pytest.raises(KPIUndefinedError) as caught:
        call()
    assert str(caught.value) == message
    assert isinstance(caught.value, ZeroDivisionError)


@pytest.mark.parametrize("kpi", [k for k in ALL_KPIS if k.kind == "aggregate"], ids=lambda k: k.id)
def test_zero_inputs_never_give_nan_or_infinity(kpi: kpi_engine.KPI) -> None:
    """Every aggregate KPI, given zeros, is either a real number or undefined."""
    try:
        value = kpi(*[0.0 for arg in kpi.arguments if not arg.optional])
    except KPIUndefinedError:
        return
    assert math.isfinite(value)


@pytest.mark.parametrize("kpi", [k for k in ALL_KPIS if k.kind == "aggregate"], ids=lambda k: k.id)
def test_every_aggregate_rejects_negative_and_text(kpi: kpi_engine.KPI) -> None:
    base = list(kpi.examples[0].args)
    for index, arg in enumerate(kpi.arguments):
        for bad in (-1.0, "abc", True):
            args = list(base)
            args[index] = bad
            with pytest.raises(KPIInputError) as caught:
                kpi(*args)
            assert str(caught.value).startswith(f"{kpi.id}: {arg.name} is ")


def test_blank_cells_are_ignored_everywhere() -> None:
    assert kpi_engine.nps([[10.0], [None], [""], [0.0]]) == 0
    assert kpi_engine.csat_from_scores([5, None, 1]) == 0.5
    assert kpi_engine.repeat_purchase_rate_from_orders(["a", None, "a", "  ", "b"]) == 0.5
    assert kpi_engine.completion_rate_from_statuses([["completed"], [None], ["open"]]) == 0.5
    assert kpi_engine.retention_rate_from_ids(["a", None, "b"], [None, "a"]) == 0.5
    assert kpi_engine.mau(["a", None, "b"], [45444.0, 45444.0, None], 45444.0) == 1
