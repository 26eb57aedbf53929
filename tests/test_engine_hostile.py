"""The engine answers with a finite number or a named error, whatever it is given.

Each attack found against the engine has its test here, then a property over
every KPI function of the catalogue: arbitrary Python values in every
argument give a finite float, a KPIInputError or a KPIUndefinedError, and
nothing else; and a second over every Excel function of ``addin.functions``,
called as xlwings calls it: a finite float, ``#DIV/0!`` or an XlwingsError
whose message Excel shows. ``make fuzz`` runs both properties at length
(KPI_HOSTILE_EXAMPLES examples per function, from KPI_FUZZ_SEED).
"""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import inspect
import math
import os
import pickle
import subprocess
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xlwings as xw
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import kpi_engine
from addin import functions
from kpi_engine import KPIInputError, KPIUndefinedError
from kpi_engine._cells import ERROR_VALUES
from kpi_engine._errors import describe_value
from kpi_engine._inputs import first_of_month
from kpi_engine._labels import labels
from kpi_engine._registry import FUNCTIONS
from tests.addin_support import KPI
from tests.conftest import ALL_KPIS, kpi_id

RECORDS = [k for k in ALL_KPIS if k.kind == "records"]
AGGREGATES = [k for k in ALL_KPIS if k.kind == "aggregate"]
ERRORS = sorted(ERROR_VALUES)
#: Longer than any message may be: a value is shown in about 60 characters.
LONGEST_MESSAGE = 1000
#: A cell's worth of text that must never come back whole in a message.
TEN_MB_TEXT = "x" * 10_000_000


def outcome(call: Callable[[], float]) -> tuple[str, Any]:
    """What a call gives, comparable: its value, or its error and message."""
    try:
        return ("value", call())
    except (KPIInputError, KPIUndefinedError) as error:
        return (type(error).__name__, str(error))


def raises_input_error(call: Callable[[], object]) -> KPIInputError:
    with pytest.raises(KPIInputError) as caught:
        call()
    return caught.value


def excel_answer(call: Callable[[], Any]) -> tuple[Any, str | None]:
    """What an Excel function gives: its value and no message, or no value
    and the message that Excel shows on #VALUE!."""
    try:
        return call(), None
    except xw.XlwingsError as error:
        return None, str(error)


def raises_excel_error(call: Callable[[], object]) -> str:
    """The message Excel shows on #VALUE! for a call of an Excel function."""
    with pytest.raises(xw.XlwingsError) as caught:
        call()
    return str(caught.value)


def huge_int(digits: int, sign: int = 1) -> int:
    """10**digits, made when a test runs: past 4300 digits an int has no str(),
    so it cannot stand in a parametrize list or a sampled_from, whose values
    pytest and Hypothesis repr."""
    return sign * 10**digits


#: Arguments that compute, for every Excel function: a KPI's first worked
#: example (with the defaults of the arguments it leaves out), and a call of
#: each of the two functions that are no KPI.
EXCEL_EXAMPLES: dict[str, list[Any]] = {
    kpi.id: [
        *kpi.examples[0].args,
        *[argument.default for argument in kpi.arguments[len(kpi.examples[0].args) :]],
    ]
    for kpi in ALL_KPIS
} | {
    "benchmark_band": ["engagement_rate", 0.05, "social_media"],
    "kpi_list": ["social_media", "fr"],
}


# --- numbers too large, NaN and infinity -----------------------------------


@pytest.mark.parametrize("kpi", AGGREGATES, ids=kpi_id)
@pytest.mark.parametrize("huge", [10**400, -(10**400), 2**1024])
def test_an_int_too_large_for_a_float_is_named(kpi: kpi_engine.KPI, huge: int) -> None:
    for index, argument in enumerate(kpi.arguments):
        args = list(kpi.examples[0].args)
        args[index] = huge
        error = raises_input_error(lambda args=args: kpi(*args))
        assert (error.function, error.argument, error.value) == (kpi.id, argument.name, huge)
        assert str(error).startswith(f"{kpi.id}: {argument.name} is ")
        # Shown short: 10**400 in full would be 401 digits.
        assert len(str(error)) < 200


def test_an_int_too_large_message() -> None:
    assert str(raises_input_error(lambda: kpi_engine.churn_rate(10**400, 100))) == (
        "churn_rate: churned is 1e+400: too large to compute with; "
        "expected a whole number of 0 or more, at most 1.8e308"
    )


@pytest.mark.parametrize("kpi", AGGREGATES, ids=kpi_id)
@pytest.mark.parametrize("not_finite", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_nan_and_infinity_are_bad_inputs(kpi: kpi_engine.KPI, not_finite: float) -> None:
    for index, argument in enumerate(kpi.arguments):
        args = list(kpi.examples[0].args)
        args[index] = not_finite
        error = raises_input_error(lambda args=args: kpi(*args))
        assert (error.function, error.argument) == (kpi.id, argument.name)


#: (KPI, arguments) of each reported result that overflowed to inf or NaN:
#: every input fits a float, the result does not.
OVERFLOWING: list[tuple[str, tuple[Any, ...]]] = [
    ("customer_lifetime_value", (1e308, 1, 1e-300)),
    ("return_on_investment", (1.7e308, 1e-300)),
    ("return_on_investment", (1e308, 5e-324)),
    ("engagement_rate", (1e308, 1e308, 1)),
    ("nps_from_counts", (1e308, 1e308, 0)),
    ("nps_from_counts", (1e308, 1e308, 1e308)),
    # The total overflows while the difference does not: a plain division gave 0.
    ("nps_from_counts", (1.7e308, 1e308, 1.69e308)),
    ("impressions", ([1e308, 1e308],)),
    ("reach", ([[1.7e308], [1.7e308], [1.0]],)),
]
OVERFLOWING_IDS = [f"{function}{args}" for function, args in OVERFLOWING]


@pytest.mark.parametrize(("function", "args"), OVERFLOWING, ids=OVERFLOWING_IDS)
def test_a_result_that_overflows_names_the_inputs(function: str, args: tuple[Any, ...]) -> None:
    error = raises_input_error(lambda: kpi_engine.KPIS[function](*args))
    names = [argument.name for argument in kpi_engine.KPIS[function].arguments]
    assert str(error).startswith(f"{function}: {', '.join(names)} ")
    assert ": too large to compute with; expected numbers small enough" in str(error)


@pytest.mark.parametrize(("function", "args"), OVERFLOWING, ids=OVERFLOWING_IDS)
def test_a_result_that_overflows_is_a_message_in_excel_not_a_blank_cell(
    function: str, args: tuple[Any, ...]
) -> None:
    """As xlwings calls the Excel function: lone values, and one-cell ranges
    as lists of rows; NaN or infinity reached Excel as a blank cell."""
    expected = str(raises_input_error(lambda: kpi_engine.KPIS[function](*args)))
    excel_function = functions.EXCEL_FUNCTIONS[function]
    assert raises_excel_error(lambda: excel_function(*args)) == expected
    as_rows = [arg if isinstance(arg, list) else [[arg]] for arg in args]
    assert raises_excel_error(lambda: excel_function(*as_rows)) == expected


def test_overflow_message() -> None:
    assert str(raises_input_error(lambda: kpi_engine.return_on_investment(1.7e308, 1e-300))) == (
        "return_on_investment: gain, cost are 1.7e+308, 1e-300: too large to compute with; "
        "expected numbers small enough that the result stays within ±1.8e308"
    )


def test_large_inputs_that_fit_still_compute() -> None:
    assert kpi_engine.nps_from_counts(1e306, 0, 1e306) == 0
    assert kpi_engine.nps_from_counts(1e307, 0, 0) == 100
    assert kpi_engine.nps_from_counts(1.7e308, 0, 0) == 100
    assert kpi_engine.engagement_rate(1e307, 1e307, 1e307) == 2
    assert kpi_engine.customer_lifetime_value(1e308, 0.5, 1) == 5e307
    assert kpi_engine.impressions([1e308, 0.5e308]) == 1.5e308


def test_minus_zero_comes_back_as_zero() -> None:
    result = kpi_engine.churn_rate(-0.0, 100)
    assert result == 0
    assert math.copysign(1, result) == 1


def test_numpy_numbers_are_numbers() -> None:
    assert kpi_engine.churn_rate(np.int64(5), np.float64(100)) == 0.05
    assert kpi_engine.nps([np.int64(9), np.float32(10), np.int8(3)]) == kpi_engine.nps([9, 10, 3])


def test_a_huge_int_in_a_range_is_left_out_like_nan() -> None:
    # A cell cannot hold it, as it cannot hold NaN: it counts as nothing.
    assert kpi_engine.nps([10**400, 9, math.nan]) == kpi_engine.nps([9])


# --- what no cell can hold ---------------------------------------------------

NO_CELL = [
    {"type": "Entity"},
    # Office.js rich values, which the server unwraps before the engine sees them.
    {"basicValue": 9},
    {"type": "Double", "basicValue": 9.0},
    {1, 2},
    frozenset({3}),
    [1, 2],
    np.array([9, 10]),
    decimal.Decimal("9"),
    b"9",
    np.bool_(True),
]


def range_arguments(kpi: kpi_engine.KPI) -> list[int]:
    """Indexes of the arguments that take a range (a list in the example)."""
    return [i for i, arg in enumerate(kpi.examples[0].args) if isinstance(arg, list | tuple)]


def with_cell(kpi: kpi_engine.KPI, index: int, cell: object, position: int = 2) -> list[Any]:
    """The first example's arguments, with ``cell`` at ``position`` of range ``index``."""
    args = list(kpi.examples[0].args)
    cells = list(args[index])
    cells.insert(position - 1, cell)
    args[index] = cells
    return args


def with_row(kpi: kpi_engine.KPI, index: int, cell: object) -> list[Any]:
    """The first example's arguments with a second row: ``cell`` in range
    ``index``, a copy of the first row's cell in every other range, so that
    the rows of paired ranges (ids and dates) stay paired."""
    args = with_cell(kpi, index, cell)
    for other in range_arguments(kpi):
        if other != index:
            args[other] = [args[other][0], *args[other]]
    return args


@pytest.mark.parametrize("kpi", RECORDS, ids=kpi_id)
@pytest.mark.parametrize("bad", NO_CELL, ids=lambda v: type(v).__name__)
def test_what_no_cell_holds_names_its_position(kpi: kpi_engine.KPI, bad: object) -> None:
    for index in range_arguments(kpi):
        name = kpi.arguments[index].name
        args = with_cell(kpi, index, bad)
        error = raises_input_error(lambda args=args: kpi(*args))
        assert (error.function, error.argument, error.position) == (kpi.id, name, 2)
        assert error.value is bad
        assert str(error).startswith(f"{kpi.id}: {name}[2] is ")
        assert "expected a cell value: a number, text, TRUE/FALSE, a date or blank" in str(error)


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_a_bad_range_cell_message_names_function_argument_position_value(
    kpi: kpi_engine.KPI,
) -> None:
    """Every argument of every KPI: a bad cell in a range it is given."""
    bad = {"rich": "value"}
    for index, argument in enumerate(kpi.arguments):
        if index in range_arguments(kpi):
            args, position = with_cell(kpi, index, bad, position=3), 3
        else:
            # A value argument given as a one-cell range, as Excel may send it.
            args = list(kpi.examples[0].args) + [
                a.default for a in kpi.arguments[len(kpi.examples[0].args) :]
            ]
            args[index], position = [[bad]], 1
        error = raises_input_error(lambda args=args: kpi(*args))
        assert str(error).startswith(
            f"{kpi.id}: {argument.name}[{position}] is {{'rich': 'value'}}; expected "
        )
        assert (error.function, error.argument, error.position) == (
            kpi.id,
            argument.name,
            position,
        )


def test_a_numpy_array_or_a_pandas_series_is_the_range_it_holds() -> None:
    """What a Python analyst holds: the same answer as the list, missing
    values as blanks, datetime64 dates as dates."""
    import pandas as pd  # noqa: PLC0415

    scores = [10, 9, 3, 7, 10]
    expected = kpi_engine.nps(scores)
    assert kpi_engine.nps(np.array(scores)) == expected
    assert kpi_engine.nps(pd.Series(scores)) == expected
    assert kpi_engine.nps(pd.DataFrame({"s": scores})) == expected
    assert kpi_engine.nps(np.array([scores[:2], scores[2:4]])) == kpi_engine.nps(scores[:4])
    assert kpi_engine.nps(pd.Series([*scores, None])) == expected
    assert kpi_engine.nps(np.array([*scores, np.nan])) == expected
    days = pd.Series(pd.to_datetime(["2024-06-03", "2024-06-10", None, "2024-05-02"]))
    users = pd.Series(["a", "b", "c", "a"])
    assert kpi_engine.mau(users, days, "2024-06-01") == 2
    assert kpi_engine.mau(users.to_numpy(), days.to_numpy(), "2024-06-01") == 2
    # Inside a range, an array is still no cell.
    error = raises_input_error(lambda: kpi_engine.nps([9, np.array([9, 10])]))
    assert str(error).startswith("nps: scores[2] is array([ 9, 10]); expected a cell value")


RICH_VALUES = [
    {"basicValue": 9},
    {"type": "Double", "basicValue": 9.0},
    {"type": "FormattedNumber", "basicValue": 45444, "numberFormat": "yyyy-mm-dd"},
    {"type": "Error", "errorType": "Div0", "basicValue": "#DIV/0!"},
]


@pytest.mark.parametrize("rich", RICH_VALUES, ids=lambda rich: str(rich.get("type", "bare")))
def test_a_rich_value_given_to_an_excel_function_is_a_message(rich: dict[str, Any]) -> None:
    """Office.js rich values reach the engine only if a caller does not unwrap
    them (the server does); they are then #VALUE! with their position."""
    shown = describe_value(rich)
    assert raises_excel_error(lambda: functions.nps([[9], [rich], [10]])).startswith(
        f"nps: scores[2] is {shown}; expected a cell value"
    )
    assert raises_excel_error(lambda: functions.churn_rate(rich, 100)).startswith(
        f"churn_rate: churned is {shown}; expected a whole number"
    )
    assert raises_excel_error(lambda: functions.mau([["a"]], [[45444]], [[rich]])).startswith(
        f"mau: month[1] is {shown}; expected a date"
    )


# --- Excel error values --------------------------------------------------------


def test_reported_error_value_attacks() -> None:
    assert kpi_engine.repeat_purchase_rate_from_orders(["a", "#N/A", "#N/A"]) == 0
    assert kpi_engine.mau(["#N/A", "a"], [45444.0, 45444.0], 45444.0) == 1


@pytest.mark.parametrize("kpi", RECORDS, ids=kpi_id)
def test_an_error_cell_counts_as_nothing_in_every_range(kpi: kpi_engine.KPI) -> None:
    """An error in any range argument gives what a blank in its place gives."""
    for index in range_arguments(kpi):
        for error in ERRORS:
            with_error = with_row(kpi, index, error)
            with_blank = with_row(kpi, index, None)
            assert outcome(lambda a=with_error: kpi(*a)) == outcome(lambda a=with_blank: kpi(*a)), (
                kpi.id,
                index,
                error,
            )


@pytest.mark.parametrize("kpi", RECORDS, ids=kpi_id)
def test_a_range_of_error_values_is_a_range_of_blanks(kpi: kpi_engine.KPI) -> None:
    for index in range_arguments(kpi):
        args = list(kpi.examples[0].args)
        blanks = list(args)
        for other in range_arguments(kpi):
            args[other] = list(ERRORS) if other == index else [args[other][0]] * len(ERRORS)
            blanks[other] = [None] * len(ERRORS) if other == index else args[other]
        assert outcome(lambda a=args: kpi(*a)) == outcome(lambda b=blanks: kpi(*b))


def value_arguments(kpi: kpi_engine.KPI) -> list[int]:
    return [i for i in range(len(kpi.arguments)) if i not in range_arguments(kpi)]


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_an_error_value_as_a_value_argument_is_a_bad_input(kpi: kpi_engine.KPI) -> None:
    """A total, a month, a status or a level cannot be #N/A: the KPI would be a guess."""
    for index in value_arguments(kpi):
        name = kpi.arguments[index].name
        for error in ERRORS:
            args = list(kpi.examples[0].args) + [
                a.default for a in kpi.arguments[len(kpi.examples[0].args) :]
            ]
            args[index] = error
            caught = raises_input_error(lambda args=args: kpi(*args))
            assert str(caught).startswith(f"{kpi.id}: {name} is the error value {error}; expected")


def test_completed_status_cannot_be_an_error() -> None:
    assert str(
        raises_input_error(lambda: kpi_engine.completion_rate_from_statuses(["a"], "#N/A"))
    ) == (
        "completion_rate_from_statuses: completed_status is the error value #N/A; "
        "expected a status text"
    )


# --- dates at the ends of the calendar ---------------------------------------

PLUS_14 = dt.timezone(dt.timedelta(hours=14))
MINUS_14 = dt.timezone(dt.timedelta(hours=-14))
#: Aware date-times whose UTC moment falls outside the years 1 to 9999:
#: converting them to UTC, hence to an Excel serial, overflows.
AWARE_BEYOND_UTC = [
    dt.datetime(1, 1, 1, tzinfo=PLUS_14),
    dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=23, minutes=59))),
    dt.datetime(9999, 12, 31, 23, tzinfo=MINUS_14),
    dt.datetime.max.replace(tzinfo=dt.timezone(-dt.timedelta(hours=23, minutes=59))),
]
AWARE_IDS = [moment.isoformat() for moment in AWARE_BEYOND_UTC]

MONTHS_NOT_IN_EXCEL = [
    2958466,  # 10000-01-01
    1e300,
    10**400,
    0.5,  # a time, no date
    60,  # 1900-02-29, which never was
    -1,
    "0001-01-01T00:00+01:00",  # 1900 and before overflow UTC or Excel
    "1899-12",
    "10000-01",
    "9999-13",
    "9999-12-31T23:00-14:00",
    dt.date(1, 1, 1),
    dt.datetime.min.replace(tzinfo=dt.UTC),
    *AWARE_BEYOND_UTC,
]


@pytest.mark.parametrize("month", MONTHS_NOT_IN_EXCEL, ids=repr)
def test_a_month_outside_excels_dates_is_a_bad_input(month: object) -> None:
    error = raises_input_error(lambda: kpi_engine.mau(["a"], [45444.0], month))
    expected = (
        f"mau: month is {describe_value(month)}; expected a date from 1900-01-01 to 9999-12-31"
    )
    assert str(error).startswith(expected)
    # In Excel: #VALUE! with the same message, whether the month is a lone
    # value or a one-cell range (a list of rows).
    assert raises_excel_error(lambda: functions.mau([["a"]], [[45444.0]], month)) == str(error)
    assert raises_excel_error(lambda: functions.mau([["a"]], [[45444.0]], [[month]])) == str(
        error
    ).replace("month is", "month[1] is", 1)


def test_the_reported_months_1e300_and_9999_12() -> None:
    assert str(raises_input_error(lambda: kpi_engine.mau(["a"], [45444.0], 1e300))) == (
        "mau: month is 1e+300; expected a date from 1900-01-01 to 9999-12-31 "
        "(a date cell, an Excel date number or text such as 2024-06-30)"
    )
    # December 9999 is a month like the others: its end is Excel's end of dates.
    last_day = 2958465.5  # 9999-12-31 noon
    assert kpi_engine.mau(["a"], [45444.0], "9999-12") == 0
    assert functions.mau([["a"], ["b"]], [[last_day], [45444.0]], [["9999-12"]]) == 1


@pytest.mark.parametrize("kpi", RECORDS, ids=kpi_id)
@pytest.mark.parametrize("moment", AWARE_BEYOND_UTC, ids=AWARE_IDS)
def test_an_aware_date_beyond_utc_counts_as_nothing_in_every_range(
    kpi: kpi_engine.KPI, moment: dt.datetime
) -> None:
    """A date cell that Excel cannot hold is no date, no number and no id:
    it gives what a blank in its place gives, in the engine and in Excel."""
    for index in range_arguments(kpi):
        with_moment = with_row(kpi, index, moment)
        with_blank = with_row(kpi, index, None)
        assert outcome(lambda a=with_moment: kpi(*a)) == outcome(lambda a=with_blank: kpi(*a))
        excel_function = functions.EXCEL_FUNCTIONS[kpi.id]
        assert excel_function(*with_moment) == excel_function(*with_blank)


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
@pytest.mark.parametrize("moment", AWARE_BEYOND_UTC, ids=AWARE_IDS)
def test_an_aware_date_beyond_utc_as_a_value_argument_is_a_bad_input(
    kpi: kpi_engine.KPI, moment: dt.datetime
) -> None:
    excel_function = functions.EXCEL_FUNCTIONS[kpi.id]
    for index in value_arguments(kpi):
        name = kpi.arguments[index].name
        args = list(EXCEL_EXAMPLES[kpi.id])
        args[index] = moment
        error = raises_input_error(lambda args=args: kpi(*args))
        assert str(error).startswith(f"{kpi.id}: {name} is {describe_value(moment)}; expected ")
        assert raises_excel_error(lambda args=args: excel_function(*args)) == str(error)


def test_aware_dates_that_utc_holds_still_count() -> None:
    last_instant = dt.datetime.max.replace(tzinfo=dt.UTC)
    assert kpi_engine.mau(["a"], [last_instant], "9999-12") == 1
    # 9999-12-31 00:00 at +14:00 is 9999-12-30 10:00 in UTC.
    assert kpi_engine.mau(["a"], [45444.0], dt.datetime(9999, 12, 31, tzinfo=PLUS_14)) == 0
    # 1900-01-01 12:00 at -11:00 is 1900-01-01 23:00 in UTC, Excel's first day.
    first_day = dt.datetime(1900, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-11)))
    assert kpi_engine.mau(["a"], [first_day], "1900-01") == 1


def test_the_last_and_first_months_excel_holds() -> None:
    last_day = 2958465.5  # 9999-12-31 noon
    assert kpi_engine.mau(["a", "b"], [last_day, 45444.0], dt.date(9999, 12, 1)) == 1
    assert kpi_engine.mau(["a", "b"], [last_day, 1.0], "9999-12") == 1
    assert kpi_engine.mau(["a", "b"], [last_day, 1.0], 1.0) == 1
    assert kpi_engine.mau(["a", "b", "c"], [59.0, 61.0, 32.0], "1900-02") == 2


def test_first_of_month_says_which_month_is_out_of_range() -> None:
    assert first_of_month(dt.date(9999, 12, 31)) == dt.date(9999, 12, 1)
    with pytest.raises(ValueError, match=r"\+1 months from 9999-12-01 is outside the years"):
        first_of_month(dt.date(9999, 12, 1), 1)
    with pytest.raises(ValueError, match="-1 months from 0001-01-01"):
        first_of_month(dt.date(1, 1, 1), -1)


def test_dates_in_ranges_at_the_ends_of_the_calendar_are_left_out() -> None:
    far = [dt.date(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), 2958466.0, 60.0]
    assert kpi_engine.avg_fulfillment_time_from_timestamps(far, far) == 0  # only 9999 and 60 count


# --- confidence levels at the ends of 0 < c < 1 -----------------------------------


def test_a_confidence_that_rounds_to_certainty_is_a_bad_input() -> None:
    # 1 - 2**-53, the largest float below 1: (1 + c) / 2 rounds to 1, and
    # statistics.NormalDist raised StatisticsError here.
    message = (
        "nps_margin: confidence is 0.9999999999999999: so close to 1 that the margin would "
        "be infinite; expected a confidence level between 0 and 1, such as 0.95, "
        "at most 0.9999999999999998"
    )
    assert str(raises_input_error(lambda: kpi_engine.nps_margin([9, 3], 1 - 2**-53))) == message
    assert raises_excel_error(lambda: functions.nps_margin([[9], [3]], 1 - 2**-53)) == message
    assert str(
        raises_input_error(lambda: kpi_engine.nps_margin([9, 3], [[math.nextafter(1, 0)]]))
    ) == message.replace("confidence is", "confidence[1] is")
    # The confidence is checked before the scores: no responses does not hide it.
    assert str(raises_input_error(lambda: kpi_engine.nps_margin([], 1 - 2**-53))) == message


#: Levels strictly between 0 and 1 whose margin is a float: the extremes of
#: the floats in that interval, and ordinary levels.
CONFIDENCES_WITH_A_MARGIN = [
    5e-324,
    math.nextafter(0, 1),
    1e-300,
    2**-53,
    0.5,
    0.95,
    1 - 2**-52,
]
CONFIDENCES_OUTSIDE = [0, -0.0, -5e-324, 1, math.nextafter(1, 2), 95, 1e308, -1e308]


@pytest.mark.parametrize("confidence", CONFIDENCES_WITH_A_MARGIN, ids=repr)
def test_a_confidence_between_0_and_1_gives_a_finite_margin(confidence: float) -> None:
    margin = kpi_engine.nps_margin([9, 3, 10, 7], confidence)
    assert type(margin) is float
    assert 0 <= margin < math.inf
    assert functions.nps_margin([[9], [3], [10], [7]], confidence) == margin


def test_the_margin_grows_with_the_confidence_up_to_the_largest_level() -> None:
    margins = [kpi_engine.nps_margin([9, 3, 10, 7], c) for c in CONFIDENCES_WITH_A_MARGIN]
    assert margins == sorted(margins)
    assert margins[0] == 0  # z of a level of 5e-324 is below the smallest float


@pytest.mark.parametrize("confidence", CONFIDENCES_OUTSIDE, ids=repr)
def test_a_confidence_outside_0_to_1_is_a_bad_input(confidence: float) -> None:
    message = (
        f"nps_margin: confidence is {describe_value(confidence)}; "
        "expected a confidence level between 0 and 1, such as 0.95"
    )
    assert str(raises_input_error(lambda: kpi_engine.nps_margin([9, 3], confidence))) == message
    assert raises_excel_error(lambda: functions.nps_margin([[9], [3]], confidence)) == message


# --- values shown short ----------------------------------------------------------


def test_a_long_text_is_shown_short() -> None:
    text = "x" * 10_000_000
    message = str(raises_input_error(lambda: kpi_engine.churn_rate(text, 100)))
    assert message == (
        "churn_rate: churned is 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
        "(10,000,000 characters); expected a whole number of 0 or more"
    )


def test_an_int_of_more_than_4300_digits_is_shown() -> None:
    # str() of such an int raises ValueError since Python 3.11.
    message = str(raises_input_error(lambda: kpi_engine.churn_rate(-(10**5000) * 7, 100)))
    assert message.startswith("churn_rate: churned is -7e+5000: too large to compute with")


def test_a_large_value_in_a_range_cell_is_shown_short() -> None:
    message = str(raises_input_error(lambda: kpi_engine.nps([9, {"k": "v" * 10**6}])))
    assert len(message) < 250
    assert message.startswith("nps: scores[2] is {'k': 'vvvv")


def test_a_huge_int_inside_what_no_cell_holds_is_shown() -> None:
    # repr() of a dict or a set holding an int past 4300 digits raised
    # ValueError, which reached the server as a 500.
    in_a_dict = {"a": huge_int(5000)}
    assert str(raises_input_error(lambda: kpi_engine.nps([9, in_a_dict]))).startswith(
        "nps: scores[2] is {'a': 1e+5000}; expected a cell value"
    )
    in_a_set = {huge_int(5000, -1)}
    assert str(raises_input_error(lambda: kpi_engine.churn_rate(in_a_set, 100))) == (
        "churn_rate: churned is {-1e+5000}; expected a whole number of 0 or more"
    )
    # An array is the range it holds: the same answer as the list of its values.
    in_an_array = np.array([huge_int(5000)], dtype=object)
    with pytest.raises(kpi_engine.KPIUndefinedError) as as_array:
        kpi_engine.nps(in_an_array)
    with pytest.raises(kpi_engine.KPIUndefinedError) as as_list:
        kpi_engine.nps([huge_int(5000)])
    assert str(as_array.value) == str(as_list.value)


def test_deep_nesting_is_shown_without_exhausting_the_stack() -> None:
    # repr() of it raised RecursionError.
    deep: dict[str, Any] = {}
    for _ in range(10_000):
        deep = {"a": deep}
    message = str(raises_input_error(lambda: kpi_engine.nps([9, deep])))
    assert message.startswith("nps: scores[2] is {'a': {'a': {'a': {...}}}}; expected a cell value")
    assert raises_excel_error(lambda: functions.churn_rate(deep, 100)) == (
        "churn_rate: churned is {'a': {'a': {'a': {...}}}}; expected a whole number of 0 or more"
    )


def test_escapes_do_not_make_a_short_text_long() -> None:
    # Each control character reads as four: 55 of them would be 220.
    assert str(raises_input_error(lambda: kpi_engine.churn_rate("\x00" * 55, 100))) == (
        "churn_rate: churned is '" + "\\x00" * 12 + "\\x...' (55 characters); "
        "expected a whole number of 0 or more"
    )


def test_a_one_cell_range_is_shown_as_its_cell() -> None:
    assert str(raises_input_error(lambda: kpi_engine.nps([9, [[1]]]))).startswith(
        "nps: scores[2] is a range of 1 cell; expected a cell value"
    )
    assert str(
        raises_input_error(lambda: kpi_engine.engagement_rate([[1e308]], [1e308], 1))
    ).startswith("engagement_rate: likes, comments, followers are 1e+308, 1e+308, 1: too large")


@pytest.mark.parametrize("name", sorted(functions.EXCEL_FUNCTIONS))
def test_a_ten_megabyte_text_never_comes_back_whole(name: str) -> None:
    """In every argument of every Excel function, alone or in a range."""
    excel_function = functions.EXCEL_FUNCTIONS[name]
    for index in range(len(EXCEL_EXAMPLES[name])):
        for text_or_range in (TEN_MB_TEXT, [[9], [TEN_MB_TEXT]]):
            args = list(EXCEL_EXAMPLES[name])
            args[index] = text_or_range
            _, message = excel_answer(lambda args=args: excel_function(*args))
            if message is not None:
                assert len(message) < 300, (index, message[:300])
                assert "x" * 51 not in message


def test_an_error_pickles_with_its_parts() -> None:
    """The add-in's compute processes hand results and errors back through
    pickle; the message alone could not rebuild either error."""
    caught: list[Exception] = []
    for call in (
        lambda: kpi_engine.churn_rate(TEN_MB_TEXT, 100),
        lambda: kpi_engine.nps([9, {"basicValue": 9}]),
        lambda: kpi_engine.return_on_investment(1.7e308, 1e-300),
        lambda: kpi_engine.nps_margin([9], 1 - 2**-53),
        lambda: kpi_engine.churn_rate(0, 0),
    ):
        with pytest.raises((KPIInputError, KPIUndefinedError)) as error:
            call()
        caught.append(error.value)
    for error in caught:
        restored = pickle.loads(pickle.dumps(error))
        assert type(restored) is type(error)
        assert str(restored) == str(error)
        assert vars(restored).keys() == vars(error).keys()


# --- kpi calc ----------------------------------------------------------------------


#: What ``kpi calc`` printed as inf or nan with exit 0, and the one error line
#: it prints now.
CALC_NOT_FINITE = [
    (
        ("customer_lifetime_value", "1e308", "1", "1e-300"),
        "customer_lifetime_value: avg_revenue_per_customer_per_period, gross_margin, "
        "churn_rate_per_period are 1e+308, 1, 1e-300: too large to compute with; "
        "expected numbers small enough that the result stays within ±1.8e308",
    ),
    (
        ("return_on_investment", "1.7e308", "1e-300"),
        "return_on_investment: gain, cost are 1.7e+308, 1e-300: too large to compute with; "
        "expected numbers small enough that the result stays within ±1.8e308",
    ),
    (
        ("engagement_rate", "1e308", "1e308", "1"),
        "engagement_rate: likes, comments, followers are 1e+308, 1e+308, 1: too large to "
        "compute with; expected numbers small enough that the result stays within ±1.8e308",
    ),
    (
        ("nps_from_counts", "1e308", "1e308", "0"),
        "nps_from_counts: promoters, passives, detractors are 1e+308, 1e+308, 0: too large to "
        "compute with; expected numbers small enough that the result stays within ±1.8e308",
    ),
    (
        ("churn_rate", "nan", "100"),
        "churn_rate: churned is nan; expected a whole number of 0 or more",
    ),
    (
        # float() reads a number past 1.8e308 as infinity.
        ("avg_time_per_visit", "1e999", "3"),
        "avg_time_per_visit: total_time is inf; expected a number of 0 or more",
    ),
]


def test_kpi_calc_prints_an_error_line_for_inf_and_nan() -> None:
    """Through the installed console script, as a user runs it."""
    assert KPI, "the kpi console script is not installed in this environment"
    for args, message in CALC_NOT_FINITE:
        result = subprocess.run(
            [KPI, "calc", *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert (result.returncode, result.stdout) == (2, ""), (args, result.stdout)
        assert result.stderr == f"error: {message}\n"


# --- the property over every KPI function ----------------------------------------

#: Examples per KPI function: modest in the default run, more in ``make fuzz``.
EXAMPLES = int(os.environ.get("KPI_HOSTILE_EXAMPLES", "100"))
FUZZ_SEED = os.environ.get("KPI_FUZZ_SEED")
LONG_TEXT = "9" * 1_000_000

special_numbers = st.sampled_from(
    [
        10**400,
        -(10**400),
        2**1024,
        -1,
        0,
        1e308,
        -1e308,
        1.7976931348623157e308,
        5e-324,
        -0.0,
        math.nan,
        math.inf,
        -math.inf,
        0.9999999999999999,
        1 - 2**-52,
        2**-53,
        1e-300,
        1e300,
        -5e-324,
        2**53 + 1,
        2958465.9999999995,
        2958466,
        60,
        fractions.Fraction(1, 3),
        fractions.Fraction(10**400, 3),
        decimal.Decimal("NaN"),
    ]
)
#: Ints past 4300 digits, which have no str() (and so no repr): made by a
#: map, since Hypothesis reprs the values of a sampled_from.
huge_ints = st.tuples(st.sampled_from([4301, 5000, 20_000]), st.sampled_from([1, -1])).map(
    lambda digits_and_sign: huge_int(*digits_and_sign)
)
numpy_scalars = st.sampled_from(
    [np.int64(9), np.float64("nan"), np.float32("inf"), np.float64(1e308), np.bool_(False)]
)
texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(ERRORS),
    st.sampled_from(
        [
            "9",
            " 10 ",
            "1e308",
            "nan",
            "inf",
            "2024-06",
            "2024-06-30",
            "9999-12",
            "0001-01",
            "1899-12-31",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999999+00:00",
            "10000-01",
            "9999-13",
            "completed",
            "",
            "   ",
            "\x00" * 40,
        ]
    ),
    # Long texts come from builds, not sampled_from, whose values Hypothesis
    # reprs whole when it checks a strategy.
    st.sampled_from([0, 1]).map(lambda which: (LONG_TEXT, TEN_MB_TEXT)[which]),
)
time_zones = st.sampled_from(
    [
        None,
        dt.UTC,
        PLUS_14,
        MINUS_14,
        dt.timezone(dt.timedelta(hours=23, minutes=59)),
        dt.timezone(-dt.timedelta(hours=23, minutes=59)),
    ]
)
moments = st.one_of(
    st.dates(),
    st.datetimes(timezones=time_zones),
    # The first and last days of the calendar, where a time zone pushes the
    # moment out of the years UTC holds: a draw over all years rarely lands there.
    st.datetimes(max_value=dt.datetime(1, 1, 2), timezones=time_zones),
    st.datetimes(min_value=dt.datetime(9999, 12, 31), timezones=time_zones),
    st.sampled_from(AWARE_BEYOND_UTC),
    st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.datetime.max, dt.time(12)]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    special_numbers,
    huge_ints,
    numpy_scalars,
    texts,
    moments,
)
hashables = st.one_of(st.none(), st.integers(), huge_ints, st.floats(allow_nan=False), texts)


def nested(depth: int, kind: str) -> Any:
    """A list or a dict ``depth`` levels deep: deeper than repr() can go."""
    value: Any = 9
    for _ in range(depth):
        value = [value] if kind == "list" else {"basicValue": value}
    return value


#: Office.js rich values, and other dicts in their shape, as cells.
rich_values = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Double", "String", "Boolean", "Error", "FormattedNumber"]),
        "basicValue": scalars,
    }
)
anything = st.recursive(
    st.one_of(
        scalars,
        rich_values,
        st.tuples(st.sampled_from([50, 5000]), st.sampled_from(["list", "dict"])).map(
            lambda depth_and_kind: nested(*depth_and_kind)
        ),
        huge_ints.map(lambda number: np.array([number], dtype=object)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
        st.fixed_dictionaries({"basicValue": inner}),
        st.sets(hashables, max_size=3),
        st.lists(st.integers(-(10**6), 10**6) | st.floats(), max_size=4).map(np.array),
    ),
    max_leaves=12,
)
#: Valid numbers at the edges of a float: together they overflow a result,
#: and the edges of 0 < c < 1 test a confidence level.
edge_numbers = st.one_of(
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, allow_infinity=False),
    st.sampled_from(
        [1e308, 1.7e308, 1e307, 1e-300, 5e-324, 0.5, 1.0, 2.0, 1 - 2**-53, 1 - 2**-52, 2**-53]
    ),
)
#: Ranges of plausible cells reach past the checks into the arithmetic.
ranges = st.one_of(
    st.lists(scalars, max_size=8),
    st.lists(st.lists(scalars, min_size=1, max_size=2), max_size=5),
    st.lists(edge_numbers, max_size=4),
)


def argument_values(kpi: kpi_engine.KPI, index: int) -> st.SearchStrategy[Any]:
    """Anything at all, or a value the KPI's examples give this argument, so
    that the other arguments' attacks are not all stopped by this one."""
    known = [example.args[index] for example in kpi.examples if index < len(example.args)]
    good = [st.sampled_from(known)] if known else []
    return st.one_of(anything, ranges, edge_numbers, *good)


hostile_settings = settings(
    max_examples=EXAMPLES,
    derandomize=bool(os.environ.get("CI")) and FUZZ_SEED is None,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run_property(check: Callable[[], None]) -> None:
    if FUZZ_SEED is not None:
        check = seed(int(FUZZ_SEED))(check)
    check()


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_every_kpi_answers_a_finite_float_or_a_named_error(kpi: kpi_engine.KPI) -> None:
    assert getattr(kpi_engine, kpi.id) is kpi.function is FUNCTIONS[kpi.id]

    @hostile_settings
    @given(st.data())
    def check(data: st.DataObject) -> None:
        args = []
        for index, argument in enumerate(kpi.arguments):
            if argument.optional and data.draw(st.booleans(), label=f"omit {argument.name}"):
                break
            args.append(data.draw(argument_values(kpi, index), label=argument.name))
        result: float | KPIInputError | KPIUndefinedError
        try:
            result = kpi(*args)
        except (KPIInputError, KPIUndefinedError) as error:
            result = error
        if isinstance(result, KPIInputError | KPIUndefinedError):
            assert result.function == kpi.id
            assert str(result).startswith(f"{kpi.id}")
            assert len(str(result)) < LONGEST_MESSAGE
            assert str(pickle.loads(pickle.dumps(result))) == str(result)
        else:
            assert type(result) is float, repr(result)
            assert math.isfinite(result)

    run_property(check)


#: What BENCHMARK_BAND answers: a band's words in one of the languages.
RATING_WORDS = {
    labels(language)["ratings"][rating]
    for language in kpi_engine.LANGUAGES
    for rating in kpi_engine.RATINGS
}


def excel_argument_values(name: str, index: int) -> st.SearchStrategy[Any]:
    """As :func:`argument_values`, for every Excel function; the two that
    are no KPI also get the ids, values and languages they take."""
    if name in kpi_engine.KPIS:
        return argument_values(kpi_engine.KPIS[name], index)
    known = {
        "benchmark_band": [
            ["nps", "engagement_rate", "churn_rate", "CSAT"],
            [50, 0.05, -100, 1e308],
            sorted(kpi_engine.BUSINESS_TYPES),
            list(kpi_engine.LANGUAGES),
        ],
        "kpi_list": [[None, *sorted(kpi_engine.BUSINESS_TYPES)], list(kpi_engine.LANGUAGES)],
    }[name][index]
    return st.one_of(anything, ranges, st.sampled_from(known))


@pytest.mark.parametrize("name", sorted(functions.EXCEL_FUNCTIONS))
def test_every_kpi_excel_function_answers_a_value_div0_or_a_message(name: str) -> None:
    """The Excel functions as xlwings calls them (plain values, ``None`` for a
    blank, lists of rows): NaN, infinity or an exception other than
    XlwingsError would reach Excel as a blank cell or a server error."""
    excel_function = functions.EXCEL_FUNCTIONS[name]
    parameters = list(inspect.signature(excel_function).parameters.values())

    @hostile_settings
    @given(st.data())
    def check(data: st.DataObject) -> None:
        args = []
        for index, parameter in enumerate(parameters):
            optional = parameter.default is not inspect.Parameter.empty
            if optional and data.draw(st.booleans(), label=f"omit {parameter.name}"):
                break
            args.append(data.draw(excel_argument_values(name, index), label=parameter.name))
        result, message = excel_answer(lambda: excel_function(*args))
        if message is not None:
            assert message.startswith(f"{name}: ")
            assert len(message) < LONGEST_MESSAGE
        elif name == "kpi_list":
            assert all(type(cell) is str for row in result for cell in row)
        elif name == "benchmark_band":
            assert result in RATING_WORDS
        elif result is not functions.DIV0:
            assert type(result) is float, repr(result)
            assert math.isfinite(result)

    run_property(check)


def test_the_property_covers_the_whole_registry() -> None:
    assert {kpi.id for kpi in ALL_KPIS} == set(FUNCTIONS)
