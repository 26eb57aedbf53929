"""The report's engine form (``addin.recipes.by_month``: the rows bucketed by
month, each column read once) gives what ``Recipe.compute`` gives (the
month's cells handed to the engine's function), for every KPI of every
business type, in every month of messy tables: the same value to the bit,
or the same reason for none.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kpi_engine
from addin.recipes import as_rows, month_shift, recipe_for
from addin.recipes.by_month import month_value
from addin.recipes.rules import TableRows
from kpi_engine.inputs import first_of_month, to_serial
from tests.messy import BUSINESS_TYPES, messy_tables

pytestmark = pytest.mark.fast

#: Every month of the messy tables' dates, and one on each side.
MONTHS = [first_of_month(dt.date(2022, 5, 1), shift) for shift in range(29)]


def _outcome(compute: Any) -> tuple[str, Any]:
    try:
        value = compute()
    except kpi_engine.KPIUndefinedError as error:
        return "undefined", (error.function, error.code, error.reason)
    except kpi_engine.KPIInputError as error:
        return "input", str(error)
    assert type(value) is float
    return "value", "nan" if math.isnan(value) else value.hex()


def _rows(tables: dict[str, dict[str, list[Any]]], margin: Any) -> dict[str, TableRows]:
    """Fresh table rows (nothing read yet), with the gross margin setting."""
    copied = {
        name: {c: list(cells) for c, cells in table.items()} for name, table in tables.items()
    }
    return as_rows({**copied, "Settings": {"GROSS_MARGIN": [margin]}})


def _agree(business_type: str, tables: dict[str, dict[str, list[Any]]], margin: Any) -> None:
    by_cells, by_month = _rows(tables, margin), _rows(tables, margin)
    for entry in kpi_engine.get_business_type(business_type).kpis:
        recipe = recipe_for(business_type, entry.id)
        # Forwards, as the report asks, then backwards by leaps.
        for month in MONTHS + MONTHS[::-5]:
            start = to_serial("test", "month", month)
            end = month_shift(start, 1)
            expected = _outcome(lambda: recipe.compute(by_cells, start, end))  # noqa: B023
            got = _outcome(lambda: month_value(recipe, by_month, start, end))  # noqa: B023
            assert got == expected, f"{business_type} {entry.id} {month:%Y-%m}"


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_the_month_buckets_give_what_the_cells_give(business_type: str, data: Any) -> None:
    tables = data.draw(messy_tables(business_type))
    margin = data.draw(st.sampled_from([0.6, 0.35, 1.5, "60%", None]))
    _agree(business_type, tables, margin)


def test_an_empty_workbook_gives_the_same_reasons() -> None:
    from addin.recipes import tables_for  # noqa: PLC0415

    for business_type in BUSINESS_TYPES:
        empty: dict[str, dict[str, list[Any]]] = {
            table: {c.id: [] for c in columns}
            for table, columns in tables_for(business_type).items()
        }
        _agree(business_type, empty, 0.6)


DATE_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1, max_value=3_000_000),
    st.integers(-10, 3_000_000),
    st.datetimes(min_value=dt.datetime(1899, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(1900, 3, 3)),
    st.datetimes(min_value=dt.datetime(9999, 12, 31, 23), timezones=st.timezones()),
    st.dates(),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    cells=st.one_of(
        st.lists(DATE_CELLS, max_size=6),
        # Columns of one kind of cell (read in C where they allow it).
        st.lists(st.floats(allow_nan=True), max_size=6),
        st.lists(st.datetimes(min_value=dt.datetime(1899, 1, 1)), max_size=6),
        st.lists(st.dates(min_value=dt.date(1899, 1, 1)), max_size=6),
        # Datetimes or serials with empty cells (read in C too).
        st.lists(st.one_of(st.datetimes(min_value=dt.datetime(1899, 1, 1)), st.none()), max_size=6),
        st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none()), max_size=6),
    )
)
@example(cells=[None, 45000.5, None])
@example(cells=[None, None])
@example(cells=[None, 60.5, 45000.0])
@example(cells=[45000.0, math.nan])
@example(cells=[45000.5, 60.0, 61.0, 2958465.5, 2958466.0])
@example(
    cells=[dt.datetime(1900, 2, 28, 12), dt.datetime(1900, 3, 1), dt.datetime(9999, 12, 31, 23)]
)
@example(cells=[dt.date(1900, 1, 1), dt.date(1900, 3, 1), dt.date(9999, 12, 31)])
def test_a_date_column_is_read_as_date_serial_reads_each_cell(cells: list[Any]) -> None:
    from kpi_engine.cells import date_serial  # noqa: PLC0415

    read = TableRows({"day": cells}).read("day", "date")
    expected = [date_serial(cell) for cell in cells]
    assert len(read) == len(expected)
    for got, wanted, cell in zip(read, expected, cells, strict=True):
        assert (got is None and wanted is None) or got == wanted, repr(cell)
        assert type(got) is type(wanted), repr(cell)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    cells=st.one_of(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6),
        # Whole and non-negative amounts, as most columns hold (read in C).
        st.lists(st.integers(0, 10**6).map(float), min_size=1, max_size=6),
        st.lists(st.floats(min_value=0, max_value=1e9), min_size=1, max_size=6),
        st.lists(st.one_of(st.floats(), st.integers(-5, 5), st.text(max_size=2)), max_size=6),
    )
)
@example(cells=[-0.0, 1.5])
@example(cells=[0.0, math.inf])
@example(cells=[2.0, math.nan])
def test_an_amount_or_count_column_is_read_as_its_rule_reads_each_cell(cells: list[Any]) -> None:
    from kpi_engine.cells import amount_value, count_value  # noqa: PLC0415

    table = TableRows({"value": cells})
    for kind, rule in (("money", amount_value), ("whole", count_value)):
        read = table.read("value", kind)
        expected = [rule(cell) for cell in cells]
        assert len(read) == len(expected)
        for got, wanted, cell in zip(read, expected, cells, strict=True):
            assert (got is None and wanted is None) or got == wanted, (kind, repr(cell))
            assert type(got) is type(wanted), (kind, repr(cell))


SERIALS = st.one_of(
    st.floats(min_value=1, max_value=70),  # around the leap day of 1900 that never was
    st.floats(min_value=45000, max_value=45800),
    st.floats(min_value=2958400, max_value=2958465.999),  # the last months Excel holds
    st.none(),
)
EDGES = st.one_of(
    st.sampled_from([1.0, 60.0, 61.0, 45078.0, 45108.0, 45474.0, 2958435.0, 2958466.0]),
    st.floats(min_value=0, max_value=2958466),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(dates=st.lists(SERIALS, max_size=40), windows=st.lists(st.tuples(EDGES, EDGES), max_size=8))
def test_a_window_of_the_month_buckets_holds_the_rows_dated_in_it(
    dates: list[float | None], windows: list[tuple[float, float]]
) -> None:
    table = TableRows({"day": dates})
    for start, end in windows:
        expected = [i for i, v in enumerate(dates) if v is not None and start <= v < end]
        assert list(table.rows_within("day", start, end)) == expected, (start, end)
        # In parts, month by month, each in sheet order: the same rows.
        parts = [list(part) for part in table.row_parts("day", start, end)]
        assert all(part == sorted(part) for part in parts), (start, end)
        assert sorted(i for part in parts for i in part) == expected, (start, end)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(cells=st.lists(DATE_CELLS, max_size=30), kind=st.sampled_from(["money", "whole", "date"]))
def test_a_column_of_numbers_holds_what_its_rule_reads(cells: list[Any], kind: str) -> None:
    table = TableRows({"value": cells})
    read = table.read("value", kind)
    numbers = table.numbers("value", kind)
    assert len(numbers) == len(read)
    for number, value in zip(numbers, read, strict=True):
        assert math.isnan(number) if value is None else number == value


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
@settings(max_examples=3, derandomize=True, deadline=None)
@given(data=st.data())
def test_the_rows_are_let_go_without_the_cyclic_collector(business_type: str, data: Any) -> None:
    """What the months keep between them (a moving window's tally, a month's
    rows) never holds its table: a report's tables are freed as soon as it
    is done, not walked again by the cyclic collector (at 1,000,000 orders,
    a third of a second)."""
    import gc  # noqa: PLC0415
    import weakref  # noqa: PLC0415

    rows = _rows(data.draw(messy_tables(business_type)), 0.6)
    kept = [weakref.ref(table) for table in rows.values()]
    enabled = gc.isenabled()
    gc.disable()
    try:
        for entry in kpi_engine.get_business_type(business_type).kpis:
            recipe = recipe_for(business_type, entry.id)
            for month in MONTHS[::3]:
                start = to_serial("test", "month", month)
                with contextlib.suppress(kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError):
                    month_value(recipe, rows, start, month_shift(start, 1))
        del rows
        assert [ref() for ref in kept] == [None] * len(kept)
    finally:
        if enabled:
            gc.enable()


def test_the_cyclic_collector_is_paused_during_a_refresh_and_restored_after() -> None:
    import gc  # noqa: PLC0415

    from addin.report.offline import cyclic_gc_paused  # noqa: PLC0415

    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), cyclic_gc_paused():
        raise KeyError("a failed refresh")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled(), "a collector its caller paused stays paused"
    finally:
        gc.enable()


KEY_CELLS = st.one_of(
    st.sampled_from(["c1", " C1", "c1  ", "C 1", "#N/A", "", "   ", "Completed", "completed "]),
    st.text(max_size=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-3, 3),
    st.booleans(),
    st.dates(),
    st.none(),
    # An unhashable cell: the column is then read cell by cell.
    st.lists(st.integers(0, 2), max_size=2),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(cells=st.lists(KEY_CELLS, max_size=12), kind=st.sampled_from(["id", "choice", "text"]))
@example(cells=["c1", " C1", 1.0, 1, True, "#N/A", None], kind="id")
@example(cells=["a", ["x"], "A "], kind="choice")
def test_an_id_column_is_read_as_id_key_reads_each_cell(cells: list[Any], kind: str) -> None:
    from kpi_engine.cells import id_key  # noqa: PLC0415

    table = TableRows({"who": cells})
    read = table.read("who", kind)
    expected = [id_key(cell) for cell in cells]
    assert read == expected
    assert [type(v) for v in read] == [type(v) for v in expected]
    assert table.distinct("who", kind) == set(expected)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    cells=st.lists(KEY_CELLS, max_size=12),
    read_first=st.booleans(),
)
@example(cells=["c1", "#N/A", " C1", "#DIV/0!"], read_first=True)
@example(cells=["#N/A", ["x"]], read_first=False)
def test_the_error_check_of_an_id_column_finds_every_error_cell(
    cells: list[Any], read_first: bool
) -> None:
    """Looked for among the different cells the column's reading found (or
    among the cells, where it found none), the errors are those of each cell."""
    from addin.recipes.notes import checks_for  # noqa: PLC0415
    from kpi_engine.cells import is_error  # noqa: PLC0415

    (check,) = [
        c
        for c in checks_for("celebrity_video")
        if (c.table, c.column, c.problem) == ("Orders", "customer_id", "error")
    ]
    table = TableRows({"customer_id": cells})
    if read_first:
        table.read("customer_id", "id")
    expected = [i for i, cell in enumerate(cells) if is_error(cell)]
    assert check.find({"Orders": table}) == expected


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    rows=st.lists(st.tuples(KEY_CELLS, DATE_CELLS, DATE_CELLS), max_size=12),
    read_first=st.booleans(),
)
@example(rows=[("C1", None, None), ("  ", 45000.0, "x"), (None, None, None)], read_first=True)
@example(rows=[("#N/A", dt.date(2024, 1, 1), None), ("", None, "#N/A")], read_first=False)
def test_the_blank_and_date_checks_find_what_each_cell_says(
    rows: list[tuple[Any, Any, Any]], read_first: bool
) -> None:
    """A master table's checks of a blank id and of a date that is no date
    find the rows the rules find cell by cell, whatever was read before."""
    from addin.recipes.notes import checks_for  # noqa: PLC0415
    from kpi_engine.cells import date_serial, is_blank  # noqa: PLC0415

    who, joined, left = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [])
    )
    table = TableRows({"customer_id": who, "joined_on": joined, "left_on": left})
    if read_first:
        table.read("customer_id", "id")
        table.read("left_on", "date")
    checks = {
        (c.column, c.problem): c for c in checks_for("celebrity_video") if c.table == "Customers"
    }
    given = {"Customers": table}
    columns = ("customer_id", "joined_on", "left_on")
    assert checks["customer_id", "blank"].find(given) == [
        i
        for i, cell in enumerate(who)
        if is_blank(cell) and any(not is_blank(table[c][i]) for c in columns)
    ]
    for column, cells in (("joined_on", joined), ("left_on", left)):
        assert checks[column, "not_a_date"].find(given) == [
            i for i, cell in enumerate(cells) if date_serial(cell) is None and not is_blank(cell)
        ], column
