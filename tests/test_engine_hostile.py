"""The engine answers with a finite number or a named error, whatever it is given.

Each attack found against the engine has its test here, then a property over
every KPI function of the catalogue: arbitrary Python values in every
argument give a finite float, a KPIInputError or a KPIUndefinedError, and
nothing else. ``make fuzz`` runs the property at length
(KPI_HOSTILE_EXAMPLES examples per function, from KPI_FUZZ_SEED).
"""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import kpi_engine
from kpi_engine import KPIInputError, KPIUndefinedError
from kpi_engine._cells import ERROR_VALUES
from kpi_engine._inputs import first_of_month
from kpi_engine._registry import FUNCTIONS
from tests.conftest import ALL_KPIS, kpi_id

RECORDS = [k for k in ALL_KPIS if k.kind == "records"]
AGGREGATES = [k for k in ALL_KPIS if k.kind == "aggregate"]
ERRORS = sorted(ERROR_VALUES)
#: Longer than any message may be: a value is shown in about 60 characters.
LONGEST_MESSAGE = 1000


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


OVERFLOWING = [
    (lambda: kpi_engine.customer_lifetime_value(1e308, 1, 1e-300), "customer_lifetime_value"),
    (lambda: kpi_engine.return_on_investment(1.7e308, 1e-300), "return_on_investment"),
    (lambda: kpi_engine.engagement_rate(1e308, 1e308, 1), "engagement_rate"),
    (lambda: kpi_engine.nps_from_counts(1e308, 1e308, 0), "nps_from_counts"),
    # The total overflows while the difference does not: a plain division gave 0.
    (lambda: kpi_engine.nps_from_counts(1.7e308, 1e308, 1.69e308), "nps_from_counts"),
    (lambda: kpi_engine.impressions([1e308, 1e308]), "impressions"),
    (lambda: kpi_engine.reach([[1.7e308], [1.7e308], [1.0]]), "reach"),
]


@pytest.mark.parametrize(("call", "function"), OVERFLOWING, ids=[f for _, f in OVERFLOWING])
def test_a_result_that_overflows_names_the_inputs(call: Callable[[], float], function: str) -> None:
    error = raises_input_error(call)
    names = [argument.name for argument in kpi_engine.KPIS[function].arguments]
    assert str(error).startswith(f"{function}: {', '.join(names)} ")
    assert ": too large to compute with; expected numbers small enough" in str(error)


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


def test_a_numpy_array_is_no_range() -> None:
    error = raises_input_error(lambda: kpi_engine.nps(np.array([9, 10])))
    assert str(error).startswith("nps: scores is array([ 9, 10]); expected a cell value")


# --- Excel error values --------------------------------------------------------


def test_reported_error_value_attacks() -> None:
    assert kpi_engine.repeat_purchase_rate_from_orders(["a", "#N/A", "#N/A"]) == 0
    assert kpi_engine.mau(["#N/A", "a"], [45444.0, 45444.0], 45444.0) == 1


@pytest.mark.parametrize("kpi", RECORDS, ids=kpi_id)
def test_an_error_cell_counts_as_nothing_in_every_range(kpi: kpi_engine.KPI) -> None:
    """An error in any range argument gives what a blank in its place gives."""
    for index in range_arguments(kpi):
        for error in ERRORS:
            with_error = with_cell(kpi, index, error)
            with_blank = with_cell(kpi, index, None)
            for other in range_arguments(kpi):
                if other != index:  # keep the rows of paired ranges paired
                    with_error[other] = with_blank[other] = [
                        *with_error[other][:1],
                        with_error[other][0],
                        *with_error[other][1:],
                    ]
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

MONTHS_NOT_IN_EXCEL = [
    2958466,  # 10000-01-01
    1e300,
    10**400,
    0.5,  # a time, no date
    60,  # 1900-02-29, which never was
    -1,
    "0001-01-01T00:00+01:00",  # 1900 and before overflow UTC or Excel
    "1899-12",
    dt.date(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-14))),
]


@pytest.mark.parametrize("month", MONTHS_NOT_IN_EXCEL, ids=repr)
def test_a_month_outside_excels_dates_is_a_bad_input(month: object) -> None:
    error = raises_input_error(lambda: kpi_engine.mau(["a"], [45444.0], month))
    assert str(error).startswith("mau: month is ")
    assert "expected a date from 1900-01-01 to 9999-12-31" in str(error)


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


def test_a_confidence_that_rounds_to_certainty_is_a_bad_input() -> None:
    # statistics.NormalDist raised StatisticsError here.
    error = raises_input_error(lambda: kpi_engine.nps_margin([9, 3], 0.9999999999999999))
    assert str(error).startswith("nps_margin: confidence is 0.9999999999999999; expected")


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
        2958465.9999999995,
        2958466,
        60,
        fractions.Fraction(1, 3),
        decimal.Decimal("NaN"),
    ]
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
            "completed",
            "",
            "   ",
            LONG_TEXT,
        ]
    ),
)
moments = st.one_of(
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=14))])),
    st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.datetime.max, dt.time(12)]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    special_numbers,
    numpy_scalars,
    texts,
    moments,
)
hashables = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), texts)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
        st.sets(hashables, max_size=3),
        st.lists(st.integers(-(10**6), 10**6) | st.floats(), max_size=4).map(np.array),
    ),
    max_leaves=12,
)
#: Valid numbers at the edges of a float: together they overflow a result.
edge_numbers = st.one_of(
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, allow_infinity=False),
    st.sampled_from([1e308, 1.7e308, 1e307, 1e-300, 5e-324, 0.5, 1.0, 2.0]),
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


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_every_kpi_answers_a_finite_float_or_a_named_error(kpi: kpi_engine.KPI) -> None:
    assert getattr(kpi_engine, kpi.id) is kpi.function is FUNCTIONS[kpi.id]

    @settings(
        max_examples=EXAMPLES,
        derandomize=bool(os.environ.get("CI")) and FUZZ_SEED is None,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
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
        else:
            assert type(result) is float, repr(result)
            assert math.isfinite(result)

    if FUZZ_SEED is not None:
        check = seed(int(FUZZ_SEED))(check)
    check()


def test_the_property_covers_the_whole_registry() -> None:
    assert {kpi.id for kpi in ALL_KPIS} == set(FUNCTIONS)
