"""Properties that must hold for any data, checked with hypothesis."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpi_engine
from kpi_engine import KPIUndefinedError

scores = st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=300)
# Excel sends numbers as floats and a column as one-element rows.
excel_shapes = st.sampled_from(["flat_int", "flat_float", "column", "row_block"])


def as_excel(values: list[int], shape: str) -> object:
    if shape == "flat_int":
        return values
    if shape == "flat_float":
        return [float(v) for v in values]
    if shape == "column":
        return [[float(v)] for v in values]
    width = 3
    padded = [float(v) for v in values] + [None] * (-len(values) % width)
    return [padded[i : i + width] for i in range(0, len(padded), width)]


@given(scores, excel_shapes)
def test_nps_within_bounds(values: list[int], shape: str) -> None:
    assert -100 <= kpi_engine.nps(as_excel(values, shape)) <= 100


@given(scores, st.randoms(use_true_random=False))
def test_nps_ignores_order(values: list[int], rng: object) -> None:
    shuffled = list(values)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert kpi_engine.nps(values) == kpi_engine.nps(shuffled)


@given(scores, excel_shapes)
def test_nps_agrees_with_counts(values: list[int], shape: str) -> None:
    promoters = sum(v >= 9 for v in values)
    detractors = sum(v <= 6 for v in values)
    passives = len(values) - promoters - detractors
    assert kpi_engine.nps(as_excel(values, shape)) == pytest.approx(
        kpi_engine.nps_from_counts(promoters, passives, detractors), abs=1e-9
    )
    shares = kpi_engine.nps_from_shares(promoters / len(values), detractors / len(values))
    assert kpi_engine.nps(values) == pytest.approx(shares, abs=1e-9)


@given(scores)
def test_nps_margin_positive_and_shrinks_with_more_answers(values: list[int]) -> None:
    margin = kpi_engine.nps_margin(values)
    assert 0 < margin <= 100
    assert kpi_engine.nps_margin(values * 4) < margin


@given(st.lists(st.integers(1, 5), min_size=1, max_size=200), st.integers(1, 5))
def test_csat_from_scores_agrees_with_csat(values: list[int], threshold: int) -> None:
    satisfied = sum(v >= threshold for v in values)
    assert kpi_engine.csat_from_scores(values, threshold) == pytest.approx(
        kpi_engine.csat(satisfied, len(values))
    )


@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e", 1.0, 2.0, 3.0]), min_size=1, max_size=100)
)
def test_repeat_purchase_rate_from_orders_agrees(orders: list[object]) -> None:
    counts = {customer: orders.count(customer) for customer in set(orders)}
    repeaters = sum(1 for n in counts.values() if n >= 2)
    assert kpi_engine.repeat_purchase_rate_from_orders(orders) == pytest.approx(
        kpi_engine.repeat_purchase_rate(repeaters, len(counts))
    )


ids = st.sets(st.integers(0, 60), max_size=40)


@given(ids, ids)
def test_ids_functions_agree_with_aggregate_forms(start: set[int], end: set[int]) -> None:
    if not start:
        with pytest.raises(KPIUndefinedError):
            kpi_engine.retention_rate_from_ids(sorted(start), sorted(end))
        return
    start_ids = [f"C{i}" for i in sorted(start)]
    end_ids = [[f"C{i}"] for i in sorted(end)]  # as a column
    new_customers = len(end - start)
    churned = len(start - end)
    retention = kpi_engine.retention_rate_from_ids(start_ids, end_ids)
    churn = kpi_engine.churn_rate_from_ids(start_ids, end_ids)
    assert retention == pytest.approx(
        kpi_engine.retention_rate(len(end), new_customers, len(start))
    )
    assert churn == pytest.approx(kpi_engine.churn_rate(churned, len(start)))
    assert retention + churn == pytest.approx(1)


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2030, 1, 1)),
            st.integers(0, 500 * 60),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_fulfillment_from_timestamps_agrees_with_aggregate(
    rows: list[tuple[dt.datetime, int]],
) -> None:
    requested = [start for start, _ in rows]
    delivered = [start + dt.timedelta(minutes=minutes) for start, minutes in rows]
    total_hours = sum(minutes for _, minutes in rows) / 60
    expected = kpi_engine.avg_fulfillment_time(total_hours, len(rows))
    # COM sends datetimes, Office.js serial numbers: both give the same answer.
    assert kpi_engine.avg_fulfillment_time_from_timestamps(requested, delivered) == pytest.approx(
        expected, abs=1e-6
    )
    serial = [kpi_engine._inputs.to_serial("t", "x", d) for d in requested]
    serial_done = [[kpi_engine._inputs.to_serial("t", "x", d)] for d in delivered]
    assert kpi_engine.avg_fulfillment_time_from_timestamps(serial, serial_done) == pytest.approx(
        expected, abs=1e-6
    )


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefg"), st.dates(dt.date(2023, 1, 1), dt.date(2025, 12, 31))),
        max_size=80,
    )
)
def test_mau_counts_distinct_users_of_the_month(rows: list[tuple[str, dt.date]]) -> None:
    month = dt.date(2024, 6, 1)
    expected = len({user for user, day in rows if (day.year, day.month) == (2024, 6)})
    users = [user for user, _ in rows]
    days = [day for _, day in rows]
    assert kpi_engine.mau(users, days, month) == expected
    serials = [float(kpi_engine._inputs.to_serial("t", "x", d)) for d in days]
    assert kpi_engine.mau(users, serials, "2024-06") == expected


@settings(max_examples=500, derandomize=True)
@given(st.text(alphabet=" \t\u00a0aB#N/A!", max_size=12))
def test_an_id_is_compared_as_trim_leaves_it_in_any_letter_case(text: str) -> None:
    from kpi_engine.cells import ERROR_VALUES, excel_trim, id_key  # noqa: PLC0415

    expected = None if text in ERROR_VALUES else excel_trim(text).lower() or None
    assert id_key(text) == expected
