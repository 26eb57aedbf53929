"""Hypothesis strategies for the tables a real business pastes into a workbook.

Clean rows mixed with every kind of messy row the data rules cover (docs/data-rules.md,
"How your data is read"): dates as text, error values, blanks, numbers stored
as text, negative and fractional counts, scores out of range, ids in another
letter case or with spaces around them, numeric ids, ids missing from the
master table, repeated master rows, customers who join and leave within a
month, leave and come back, or leave before they join, unknown statuses.

Booleans are left out on purpose: Excel's ISNUMBER(TRUE) is FALSE and
LibreOffice's is TRUE, so the two disagree on them, and the tests use
LibreOffice to stand in for Excel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

import kpi_engine
from addin.ooxml.cells import ExcelError
from addin.recipes import MASTERS, REFERENCES, tables_for
from addin.recipes.tables import Column

#: Data from well before the trend's first month to just after the period (June 2024).
FIRST_DAY, LAST_DAY = dt.date(2022, 6, 1), dt.date(2024, 7, 31)
#: Most rows fall in the trend's year, so every month has something to count.
TREND_START = dt.date(2023, 6, 1)
ERRORS = st.sampled_from([ExcelError("#N/A"), ExcelError("#VALUE!"), ExcelError("#REF!")])
BLANKS = st.sampled_from([None, "", "   "])
POOLS = {
    "Customers": ["C01", "C02", "C03", "C04", "C05", "C06", "C07", "C08", 1001, "Dé-9"],
    "Celebrities": ["S01", "S02", "S03", "S04", "S05"],
    "Members": ["M01", "M02", "M03", "M04", "M05", "M06", "M07", "M08"],
}
STRANGERS = ["X99", "C77", "M55", "S88"]


def _mostly(
    clean: st.SearchStrategy[Any], *messy: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Clean values four times in five, else one of the messy kinds."""
    return st.integers(0, 4).flatmap(lambda n: clean if n else st.one_of(*messy))


def _days(low: dt.date, high: dt.date) -> st.SearchStrategy[dt.date]:
    return st.dates(min_value=low, max_value=high)


def _moments(low: dt.date, high: dt.date) -> st.SearchStrategy[dt.datetime]:
    return st.builds(
        lambda day, minutes: dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes),
        _days(low, high),
        st.integers(0, 24 * 60 - 1),
    )


def dates(kind: str, low: dt.date = FIRST_DAY, high: dt.date = LAST_DAY) -> st.SearchStrategy[Any]:
    clean = _moments(low, high) if kind == "datetime" else _days(low, high)
    recent = _moments(TREND_START, high) if kind == "datetime" else _days(TREND_START, high)
    as_text = _days(low, high).map(lambda d: d.isoformat() if d.day % 2 else d.strftime("%d/%m/%Y"))
    out_of_range = st.sampled_from([-5.0, 0.5, 3e6])
    return _mostly(st.one_of(recent, recent, clean), as_text, ERRORS, BLANKS, out_of_range)


def ids(pool: list[Any]) -> st.SearchStrategy[Any]:
    """An id of the pool as people type it, or one missing from it."""

    def variants(value: Any) -> st.SearchStrategy[Any]:
        if not isinstance(value, str):
            return st.sampled_from([value, float(value), str(value), f" {value}"])
        return st.sampled_from([value, value.lower(), value.upper(), f" {value}", f"{value}  "])

    known = st.sampled_from(pool).flatmap(variants)
    return _mostly(known, st.sampled_from(STRANGERS), ERRORS, BLANKS)


def numbers(kind: str) -> st.SearchStrategy[Any]:
    text = st.sampled_from(["12.50", "7", " 3 "])
    if kind == "score":
        return _mostly(st.integers(0, 10), st.sampled_from([11, -1, 7.5, "9"]), ERRORS, BLANKS)
    if kind == "rating":
        return _mostly(st.integers(1, 5), st.sampled_from(["good", "4"]), ERRORS, BLANKS)
    if kind == "whole":
        return _mostly(st.integers(0, 5000), st.sampled_from([2.5, -3]), text, ERRORS, BLANKS)
    cents = st.integers(0, 50_000).map(lambda n: n / 100)
    return _mostly(cents, st.sampled_from([-20.0, -0.01]), text, ERRORS, BLANKS)


def choices(column: Column) -> st.SearchStrategy[Any]:
    exact = st.sampled_from(column.choices)
    typed = exact.flatmap(lambda c: st.sampled_from([c.upper(), c.title(), f" {c} "]))
    return _mostly(exact, typed, st.just("refunded"), ERRORS, BLANKS)


def cell(table: str, column: Column) -> st.SearchStrategy[Any]:
    if column.kind in ("date", "datetime", "month"):
        return dates(column.kind)
    if column.kind == "id":
        master = table if table in MASTERS else REFERENCES.get((table, column.id))
        return ids(POOLS[master] if master else ["R1", "R2", "R3"])
    if column.kind == "choice":
        return choices(column)
    if column.kind == "text":
        return st.sampled_from(["Instagram", "TikTok", "LinkedIn", "Webinar"])
    return numbers(column.kind)


@st.composite
def master_rows(
    draw: Callable[..., Any], table: str, columns: tuple[Column, ...]
) -> dict[str, list[Any]]:
    """Stays of people: repeated rows, comebacks, stays inside one month,
    leaving before joining, as well as clean stays."""
    pool = POOLS[table]
    rows: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 14))):
        joined = draw(dates("date"))
        if isinstance(joined, dt.date):
            stay = draw(st.sampled_from([None, None, 3, 20, 45, 200, -10]))
            left = None if stay is None else joined + dt.timedelta(days=stay)
            left = draw(_mostly(st.just(left), ERRORS, st.just(left.isoformat() if left else "")))
        else:
            left = None
        row = {c.id: draw(cell(table, c)) for c in columns}
        row.update({MASTERS[table]: draw(ids(pool)), "joined_on": joined, "left_on": left})
        rows.append(row)
    if rows and draw(st.booleans()):
        rows.append(dict(rows[draw(st.integers(0, len(rows) - 1))]))  # a row pasted twice
    return {c.id: [row[c.id] for row in rows] for c in columns}


@st.composite
def event_rows(
    draw: Callable[..., Any], table: str, columns: tuple[Column, ...]
) -> dict[str, list[Any]]:
    count = draw(st.integers(0, 30))
    return {c.id: [draw(cell(table, c)) for _ in range(count)] for c in columns}


@st.composite
def messy_tables(draw: Callable[..., Any], business_type: str) -> dict[str, dict[str, list[Any]]]:
    """Every table of a business type, each of messy rows."""
    tables: dict[str, dict[str, list[Any]]] = {}
    for table, columns in tables_for(business_type).items():
        rows = master_rows if table in MASTERS else event_rows
        tables[table] = draw(rows(table, columns))
    # The report refuses a month without any data; give the period one row.
    first_table, columns = next(iter(tables_for(business_type).items()))
    anchor = next(c for c in columns if c.kind in ("date", "datetime", "month"))
    for column in columns:
        value = dt.date(2024, 6, 15) if column is anchor else None
        tables[first_table][column.id].append(value)
    return tables


BUSINESS_TYPES = list(kpi_engine.BUSINESS_TYPES)
