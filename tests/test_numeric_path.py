"""The engine's two ways of counting a range give the same answers.

With NumPy installed, a large range of numbers and blanks is counted over an
array (``kpi_engine._numeric``); without it (xlwings Lite), or for any other
range, cell by cell in Python. Here every KPI function that counts one range
runs both ways on the same random ranges, bad cells included (text, TRUE,
errors, dates, NaN, infinities, ints beyond a float, lists and dicts inside
the range): the same value to the last bit, or the same error with the same
message (function, argument, position, value). The array path is forced on
small ranges by lowering its threshold.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_engine import KPIInputError, KPIUndefinedError, _numeric
from kpi_engine._cells import amount_value, count_value, id_key, number_value, score_value
from kpi_engine._records import read_counts
from kpi_engine._registry import FUNCTIONS
from kpi_engine._types import Cells

pytestmark = pytest.mark.fast

EXAMPLES = int(os.environ.get("KPI_HOSTILE_EXAMPLES", "150"))


def _counts_one_range(function: Callable[..., Any]) -> bool:
    """A function of one range (``Cells``), any other argument optional."""
    parameters = list(inspect.signature(function).parameters.values())
    return (
        bool(parameters)
        and parameters[0].annotation in ("Cells", Cells)
        and all(p.default is not inspect.Parameter.empty for p in parameters[1:])
    )


ONE_RANGE = sorted(name for name, function in FUNCTIONS.items() if _counts_one_range(function))


@contextlib.contextmanager
def numpy_path(on: bool) -> Iterator[None]:
    """The array path for every range of a cell or more (on), or never (off:
    as if NumPy were not installed)."""
    saved = _numeric.NUMPY_MIN_CELLS, _numeric._numpy
    _numeric.NUMPY_MIN_CELLS = 1
    if not on:
        _numeric._numpy = None
    try:
        yield
    finally:
        _numeric.NUMPY_MIN_CELLS, _numeric._numpy = saved


def outcome(call: Callable[[], float]) -> tuple[str, str]:
    """What a call gives, comparable to the bit: its value, or its error and message."""
    try:
        return ("value", repr(call()))
    except (KPIInputError, KPIUndefinedError) as error:
        return (type(error).__name__, str(error))


numbers = st.one_of(
    st.integers(-2, 12),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.sampled_from(
        [0.0, -0.0, 9.0, 10.0, 11.0, 6.5, 65535.0, 65536, 2**53 + 1, 1e308, -1e308, 10**400, 5e-324]
    ),
    st.sampled_from([math.inf, -math.inf, math.nan]),
)
#: What a range of numbers holds: numbers, and blanks.
number_cells = st.one_of(numbers, numbers, numbers, st.none())
#: Anything else a range may hold, and things no cell holds.
other_cells = st.one_of(
    st.sampled_from(["", "  ", "9", "#N/A", "#DIV/0!", True, False, dt.date(2024, 6, 1)]),
    st.text(max_size=3),
    st.lists(st.integers(0, 10), max_size=2),
    st.dictionaries(st.sampled_from(["basicValue", "type"]), st.integers(0, 10), max_size=1),
    st.frozensets(st.integers(0, 10), max_size=1),
)


@st.composite
def ranges(draw: st.DrawFn) -> Any:
    """A range as Excel's runtimes give one: a lone value, a flat list, a list
    of rows (list or tuple), a column; mostly numbers, sometimes anything."""
    cell = number_cells if draw(st.booleans()) else st.one_of(number_cells, other_cells)
    cells = draw(st.lists(cell, max_size=30))
    shape = draw(st.sampled_from(["flat", "column", "rows", "tuples", "lone", "ragged"]))
    if shape == "lone":
        return cells[0] if cells else None
    if shape == "column":
        return [[value] for value in cells]
    if shape in ("rows", "tuples"):
        width = draw(st.integers(1, 4))
        rows = [cells[i : i + width] for i in range(0, len(cells), width)]
        return [tuple(row) for row in rows] if shape == "tuples" else rows
    if shape == "ragged" and cells:
        # A list of rows with one bare cell among them.
        return [[value] for value in cells[:-1]] + [cells[-1]]
    return cells


@pytest.mark.parametrize("name", ONE_RANGE)
def test_both_paths_give_the_same_values_and_messages(name: str) -> None:
    function = FUNCTIONS[name]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(ranges())
    def check(values: Any) -> None:
        with numpy_path(on=False):
            pure = outcome(lambda: function(values))
        with numpy_path(on=True):
            fast = outcome(lambda: function(values))
        assert fast == pure, values

    check()


def test_the_functions_compared_are_those_that_count_numbers() -> None:
    # Not vacuous: the comparison covers every function whose range the array path reads.
    assert {"nps", "nps_margin", "csat_from_scores", "revenue", "impressions", "likes"} <= set(
        ONE_RANGE
    )


READERS = [number_value, amount_value, count_value, score_value]


@pytest.mark.parametrize("read", READERS, ids=lambda read: read.__name__)
def test_a_large_column_of_numbers_is_counted_by_numpy_as_by_python(
    read: Callable[[Any], Any],
) -> None:
    pool = [9, 9.0, 10, 3, 0, -0.0, -1, 6.5, 11, 1e20, 2**53 + 1, None, math.inf, math.nan, 70000]
    column = [[pool[(i * 7919) % len(pool)]] for i in range(3 * _numeric.NUMPY_MIN_CELLS)]
    by_numpy = _numeric.counts(column, read)
    assert by_numpy is not None  # the array path ran
    with numpy_path(on=False):
        by_python = read_counts("f", "values", column, read)
    assert by_numpy == by_python
    assert sorted(map(repr, by_numpy.values())) == sorted(map(repr, by_python.values()))


def test_ranges_the_array_path_leaves_to_python() -> None:
    size = _numeric.NUMPY_MIN_CELLS
    numbers = [float(i % 11) for i in range(size)]
    assert _numeric.counts(numbers, score_value) is not None
    for other in ("9", True, dt.date(2024, 1, 1), [1], 10**400):
        assert _numeric.counts([*numbers, other], score_value) is None, other
    # Fewer cells than the threshold; a reader with no array form; a row that is no list.
    assert _numeric.counts(numbers[:-1], score_value) is None
    assert _numeric.counts(numbers, id_key) is None
    assert _numeric.counts([[n] for n in numbers[1:]] + [numbers[0]], score_value) is None
    assert _numeric.counts([[n] for n in numbers[1:]] + [{}], score_value) is None


def test_without_numpy_the_engine_counts_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    column = [[float(i % 11)] for i in range(2 * _numeric.NUMPY_MIN_CELLS)]
    expected = FUNCTIONS["nps"](column)
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy raises ImportError
    monkeypatch.setattr(_numeric, "_numpy", _numeric._UNLOADED)
    assert _numeric.numpy() is None
    assert _numeric.counts(column, score_value) is None
    assert repr(FUNCTIONS["nps"](column)) == repr(expected)
    promoters = sum(1 for (score,) in column if score >= 9)
    detractors = sum(1 for (score,) in column if score <= 6)
    assert Counter(score_value(s) for (s,) in column)[10] > 0
    assert expected == (promoters - detractors) * 100 / len(column)


def test_importing_the_engine_does_not_import_numpy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, kpi_engine; print('numpy' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("read", READERS, ids=lambda read: read.__name__)
def test_a_range_its_caller_checked_is_counted_as_any_other(
    read: Callable[[Any], Any],
) -> None:
    """``numbers_checked`` (the server has looked at every cell) skips the
    engine's own look, not its answer: a column, a row and a block of numbers
    and blanks give what the unchecked paths give; an int beyond a float
    still goes to the pure path."""
    size = 2 * _numeric.NUMPY_MIN_CELLS
    pool = [9, 9.0, 10, 3, 0, -0.0, -1, 6.5, 11, 1e20, 2**53 + 1, None, math.inf, math.nan]
    cells = [pool[(i * 7919) % len(pool)] for i in range(size)]
    column = [[cell] for cell in cells]
    block = [cells[i : i + 8] for i in range(0, size, 8)]
    # As many cells as rows, yet no column: an empty row and one of two.
    uneven = [[cell] for cell in cells[:-2]] + [[], cells[-2:]]
    for values in (column, cells, block, uneven):
        expected = _numeric.counts(values, read)
        assert expected is not None
        with _numeric.numbers_checked([(values, size)]):
            assert _numeric._checked  # the hint is there while the block runs
            checked = _numeric.counts(values, read)
        assert not _numeric._checked
        assert checked == expected
        assert sorted(map(repr, checked.values())) == sorted(map(repr, expected.values()))
    huge = [*cells[:-1], 10**400]
    with _numeric.numbers_checked([(huge, size)]):
        assert _numeric.counts(huge, read) is None
        with numpy_path(on=False):
            by_python = read_counts("f", "values", huge, read)
        assert read_counts("f", "values", huge, read) == by_python


def test_only_the_checked_list_itself_is_trusted() -> None:
    size = 2 * _numeric.NUMPY_MIN_CELLS
    numbers = [float(i % 11) for i in range(size)]
    copy = [*numbers[:-1], "9"]
    with _numeric.numbers_checked([(numbers, size)]):
        # Another list, even one made while the hint holds, is looked at.
        assert _numeric.counts(copy, score_value) is None
        assert _numeric.counts(numbers, score_value) == _numeric.counts(list(numbers), score_value)
