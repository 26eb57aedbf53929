"""The shortcuts a one-cell call takes give the answers of the general path.

* The cell readers (``kpi_engine._cells``) read a float at once; any other
  value, a float subclass included, takes the general path. Both give the
  same value, of the same type and sign, for every float.
* A KPI function given one lone cell counts it without building a
  ``Counter`` the usual way: the same counts and the same value as the same
  cell in a one-cell range.
* An Excel function with no blank argument passes its arguments as they
  are; a blank still means the argument's default, and an argument that
  compares elementwise (a NumPy array) is never compared with ``==``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpi_engine
from addin import functions
from kpi_engine._cells import amount_value, count_value, number_value, score_value
from kpi_engine._records import read_counts

pytestmark = pytest.mark.fast

READERS = [number_value, amount_value, count_value, score_value]
EDGES = [
    0.0,
    -0.0,
    1.0,
    6.0,
    9.0,
    10.0,
    10.5,
    11.0,
    -1.0,
    9.5,
    math.nan,
    math.inf,
    -math.inf,
    1e300,
    2.0**53,
    2.0**53 + 2,
    5e-324,
    -5e-324,
    1e16,
    1.7976931348623157e308,
]


class Float(float):
    """A float that is not ``type(x) is float``: read by the general path."""


def _same(fast: Any, general: Any) -> bool:
    if fast is None or general is None:
        return fast is None and general is None
    return (
        type(fast) is type(general)
        and fast == general
        and math.copysign(1, fast) == math.copysign(1, general)
    )


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_a_float_reads_as_the_general_path_reads_it(reader: Any, value: float) -> None:
    assert _same(reader(value), reader(Float(value))), (reader(value), reader(Float(value)))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_reads_as_the_general_path_reads_it(value: float) -> None:
    for reader in READERS:
        assert _same(reader(value), reader(Float(value))), reader.__name__


@pytest.mark.parametrize("value", [*EDGES, 7, True, "9", "", None, "#N/A"], ids=repr)
def test_a_lone_cell_is_counted_as_a_one_cell_range(value: Any) -> None:
    lone = read_counts("nps", "scores", value, score_value)
    assert type(lone) is Counter
    assert lone == read_counts("nps", "scores", [[value]], score_value)
    assert lone.total() == sum(lone.values())
    try:
        alone: Any = kpi_engine.nps(value)
    except kpi_engine.KPIUndefinedError as error:
        alone = str(error)
    try:
        ranged: Any = kpi_engine.nps([[value]])
    except kpi_engine.KPIUndefinedError as error:
        ranged = str(error)
    assert alone == ranged


def test_an_excel_function_gives_a_blank_argument_its_default() -> None:
    margin = functions.EXCEL_FUNCTIONS["nps_margin"]
    scores = [[9.0], [3.0], [10.0], [7.0]]
    assert margin(scores, None) == margin(scores, 0.95) == margin(scores)
    assert margin(scores, 0.8) != margin(scores, 0.95)


def test_an_excel_function_never_compares_an_argument_with_none() -> None:
    """``None in args`` would compare each argument with ``==``: an array
    answers that with an array, whose truth has no single value."""

    class Elementwise(list[Any]):
        def __eq__(self, other: object) -> Any:
            raise AssertionError("compared with ==")

        __hash__ = None  # type: ignore[assignment]

    nps = functions.EXCEL_FUNCTIONS["nps"]
    assert nps(Elementwise([[9.0], [3.0]])) == nps([[9.0], [3.0]]) == 0.0
