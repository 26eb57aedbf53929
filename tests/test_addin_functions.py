"""The Excel functions module, imported as classic xlwings (COM) imports it:
every KPI is there, documented, correctly named, and computes from the
argument shapes COM delivers (floats, datetimes, None, 1-D and 2-D lists)."""

from __future__ import annotations

import datetime as dt
import inspect
import re

import pytest
import xlwings as xw

import kpi_engine
from addin import functions
from tests.addin_support import com_argument, com_cell, example_args, undefined_args
from tests.conftest import ALL_KPIS, EXCEL_BUILTINS, kpi_id

pytestmark = pytest.mark.fast

#: Microsoft's rule for custom function names.
NAME_RULE = re.compile(r"[A-Za-z][A-Za-z0-9._]{0,127}")


def test_every_kpi_has_its_excel_function() -> None:
    assert set(functions.EXCEL_FUNCTIONS) == {*kpi_engine.KPIS, "benchmark_band", "kpi_list"}


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_function_is_documented_from_the_catalogue(kpi: kpi_engine.KPI) -> None:
    function = functions.EXCEL_FUNCTIONS[kpi.id]
    assert getattr(functions, kpi.id) is function  # found by xlwings' module scan
    assert function.__doc__ == kpi.summary
    assert function.__doc__.strip()
    parameters = inspect.signature(function).parameters
    assert list(parameters) == [a.name for a in kpi.arguments]
    assert [p.default for p in parameters.values()] == [a.default for a in kpi.arguments]
    assert all(a.description.strip() for a in kpi.arguments)


@pytest.mark.parametrize("name", sorted(functions.EXCEL_FUNCTIONS))
def test_names_follow_microsofts_rules_and_avoid_builtins(name: str) -> None:
    excel_name = name.upper()
    assert NAME_RULE.fullmatch(excel_name)
    assert excel_name not in EXCEL_BUILTINS
    assert functions.EXCEL_FUNCTIONS[name].__doc__


def test_builtin_list_is_read() -> None:
    # Guards the test above against an empty or unreadable list.
    assert {"SUM", "NPV", "IRR", "XLOOKUP", "TEXTSPLIT"} <= EXCEL_BUILTINS


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_examples_in_com_shapes(kpi: kpi_engine.KPI) -> None:
    for example in kpi.examples:
        args = example_args(kpi, example)
        # A column: a list of one-element rows.
        column = functions.EXCEL_FUNCTIONS[kpi.id](*[com_argument(a) for a in args])
        assert example.matches(column), (example, column)
        # A row: a flat list.
        flat = [[com_cell(c) for c in a] if isinstance(a, list) else com_cell(a) for a in args]
        assert example.matches(functions.EXCEL_FUNCTIONS[kpi.id](*flat))


AGGREGATES = [k for k in ALL_KPIS if k.kind == "aggregate"]
RECORDS = [k for k in ALL_KPIS if k.kind == "records"]


@pytest.mark.parametrize("kpi", AGGREGATES, ids=kpi_id)
def test_bad_input_raises_xlwings_error_with_the_engine_message(kpi: kpi_engine.KPI) -> None:
    args = [com_argument(a) for a in example_args(kpi, kpi.examples[0])]
    # TRUE is no valid first argument of any KPI computed from totals.
    args[0] = True
    with pytest.raises(kpi_engine.KPIInputError) as engine_error:
        kpi.function(*[a for a in args if a is not None])
    with pytest.raises(xw.XlwingsError) as excel_error:
        functions.EXCEL_FUNCTIONS[kpi.id](*args)
    assert str(excel_error.value) == str(engine_error.value)
    assert excel_error.value.__cause__ is None  # no engine traceback chained on


#: Functions whose every range holds numbers or dates: text counts in none of them.
NUMBERS_ONLY = {
    "nps",
    "nps_margin",
    "csat_from_scores",
    "reach",
    "impressions",
    "avg_fulfillment_time_from_timestamps",
}
LEFT_OUT_CELLS = [
    (kpi, cell)
    for kpi in RECORDS
    for cell in ("#N/A", None, *((True, "n/a") if kpi.id in NUMBERS_ONLY else ()))
]


@pytest.mark.parametrize(
    ("kpi", "cell"), LEFT_OUT_CELLS, ids=[f"{k.id}-{c}" for k, c in LEFT_OUT_CELLS]
)
def test_a_cell_that_does_not_count_is_left_out_as_in_the_workbook(
    kpi: kpi_engine.KPI, cell: object
) -> None:
    """A column with one more cell that does not count (an error, a blank; in
    a number column a boolean or a note typed in) gives the same value: the
    data rules leave it out."""
    args = [com_argument(a) for a in example_args(kpi, kpi.examples[0])]
    padded = list(args)
    for index, argument in enumerate(args):
        if isinstance(argument, list):
            padded[index] = [*argument, [cell]]
    assert functions.EXCEL_FUNCTIONS[kpi.id](*padded) == functions.EXCEL_FUNCTIONS[kpi.id](*args)


@pytest.mark.parametrize("kpi", [k for k in ALL_KPIS if undefined_args(k) is not None], ids=kpi_id)
def test_undefined_kpi_returns_div0(kpi: kpi_engine.KPI) -> None:
    args = [com_argument(a) for a in undefined_args(kpi) or []]
    assert functions.EXCEL_FUNCTIONS[kpi.id](*args) == functions.DIV0 == "#DIV/0!"


def test_com_dates_and_blanks() -> None:
    users = [["ann"], ["bob"], [None], ["ann"]]
    days = [[dt.datetime(2024, 6, 3)], [dt.datetime(2024, 7, 1)], [None], [45458.0]]
    assert functions.mau(users, days, dt.datetime(2024, 6, 15)) == 1.0
    requested = [[dt.datetime(2024, 6, 1, 9)], [None]]
    delivered = [[dt.datetime(2024, 6, 1, 12)], [dt.datetime(2024, 6, 2)]]
    assert functions.avg_fulfillment_time_from_timestamps(requested, delivered) == 3.0


def test_blank_optional_argument_means_its_default() -> None:
    scores = [[10.0], [9.0], [3.0]]
    assert functions.nps_margin(scores, None) == kpi_engine.nps_margin(scores)
    assert functions.csat_from_scores([[5.0], [3.0]], None) == 0.5
    # A required argument left blank is named in the message.
    with pytest.raises(xw.XlwingsError, match=r"^churn_rate: churned is blank; expected"):
        functions.churn_rate(None, 100.0)


def test_kpi_list_headings_and_rows() -> None:
    rows = functions.kpi_list("songwriting", "nl")
    assert rows[0] == ["id", "titel", "eenheid", "beter"]
    profile = kpi_engine.BUSINESS_TYPES["songwriting"]
    assert [row[0] for row in rows[1:]] == [entry.id for entry in profile.kpis]
    assert rows[1][3] in {"hoger is beter", "lager is beter"}
    with pytest.raises(xw.XlwingsError, match=r"^kpi_list: language is 'de'; expected one of"):
        functions.kpi_list(None, "de")
