"""Argument shapes as Excel delivers them, and Excel's date serial numbers."""

from __future__ import annotations

import datetime as dt

import pytest

import kpi_engine
from kpi_engine._inputs import cells, serial_to_date, to_serial


def test_shapes_give_the_same_answer() -> None:
    values = [10.0, 9.0, 3.0, 8.0]
    assert (
        kpi_engine.nps(values)
        == kpi_engine.nps([[v] for v in values])  # a column
        == kpi_engine.nps([values])  # a row, as one row of cells
        == kpi_engine.nps(tuple(values))
        == kpi_engine.nps([[10.0, 9.0], [3.0, 8.0]])  # a block
        == 25
    )
    assert kpi_engine.nps(9.0) == 100  # a single cell arrives as a scalar


def test_single_cell_ranges_are_accepted_for_totals() -> None:
    assert kpi_engine.churn_rate([[50.0]], [[1000.0]]) == 0.05


def test_cells_keeps_positions() -> None:
    assert cells([[1, None], [3, 4]]) == [1, None, 3, 4]
    assert cells([[1], 2, [3]]) == [1, 2, 3]
    assert cells(None) == [None]


@pytest.mark.parametrize(
    ("serial", "day"),
    [
        (1, dt.date(1900, 1, 1)),
        (59, dt.date(1900, 2, 28)),
        (61, dt.date(1900, 3, 1)),
        (45292, dt.date(2024, 1, 1)),
        (45473, dt.date(2024, 6, 30)),
    ],
)
def test_excel_serials(serial: int, day: dt.date) -> None:
    # Serial numbers as Excel shows them for these dates (1900 date system).
    assert to_serial("f", "a", day) == serial
    assert serial_to_date(serial) == day


def test_datetime_serial_keeps_the_time() -> None:
    assert to_serial("f", "a", dt.datetime(2024, 1, 1, 18)) == 45292.75
    assert to_serial("f", "a", "2024-01-01T06:00") == 45292.25
    aware = dt.datetime(2024, 1, 1, 20, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert to_serial("f", "a", aware) == 45292.75


def test_fake_leap_day_is_refused() -> None:
    with pytest.raises(kpi_engine.KPIInputError, match="a date"):
        to_serial("f", "a", 60.0)


def test_statuses_compare_like_countif() -> None:
    assert kpi_engine.completion_rate_from_statuses(
        ["Completed", "COMPLETED", "open"]
    ) == pytest.approx(2 / 3)
    assert kpi_engine.completion_rate_from_statuses(["done", "open"], "Done") == 0.5


def test_numeric_ids_match_across_int_and_float() -> None:
    # Excel sends 12 as 12.0; an id typed in Python as 12 is the same customer.
    assert kpi_engine.retention_rate_from_ids([12, 13], [12.0]) == 0.5
