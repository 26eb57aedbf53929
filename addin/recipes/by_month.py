"""The report's engine form of a recipe: a KPI's value for a month from the
rows bucketed by month.

``Recipe.compute`` is the engine form users can check a value by: it hands
the month's cells to the ``kpi_engine`` function of the KPI, which applies
the data rules to every cell it is given (the add-in function users call on
their own columns). The report asks for 13 months of every KPI (12 trend
months and the month a year earlier), and a cell the rules already read
once need not be read again for each: ``month_value`` computes the same
value from the recipe's shared quantities (``quantities``), which read each
column once per workbook (``TableRows.read``), find a month's rows in its
bucket (``TableRows.rows_within``) and count who is there once per moment
(``rules.present_keys``).

Where the recipe's engine function reads cells itself (``ReadsCells``),
its value is the recipe's finishing step (``IbisParts.finish``, which its
ibis form also uses) on its quantities' values, with the reason the function
gives for no cells (``ReadsCells.no_value``). A recipe may carry its own
form (``Recipe.by_month``): repeat purchases move a twelve-month window
(``WindowTally``). Every other recipe already computes from the
quantities: its engine call runs as it is.
``tests/test_report_months.py`` holds ``month_value`` to ``Recipe.compute``
for every KPI of every business type, values and reasons alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from operator import countOf

from .recipe import IbisParts, ReadsCells, Recipe
from .rules import Rows, TableRows

#: A month's value on the workbook's rows: (rows, start, end) -> the value.
MonthForm = Callable[[Rows, float, float], float]


def month_value(recipe: Recipe, rows: Rows, start: float, end: float) -> float:
    """The recipe's value for [start, end), as ``recipe.compute`` gives it
    (KPIUndefinedError where there is none), from the month buckets."""
    return form_of(recipe)(rows, start, end)


def form_of(recipe: Recipe) -> MonthForm:
    """How ``month_value`` computes a recipe."""
    if recipe.by_month is not None:
        return recipe.by_month
    reader = getattr(recipe.engine_call, "__self__", None)
    if isinstance(reader, ReadsCells) and recipe.ibis_parts is not None:
        return _finished(recipe.ibis_parts)
    return lambda rows, s, e: recipe.engine_call(rows, s, e).run()


def _finished(taken_apart: IbisParts) -> MonthForm:
    # The recipe's own finishing step (its reason where there is no value
    # included), on its quantities' values from the rows rather than
    # through ibis: the function that would read the cells is not run.
    parts, finish = taken_apart.parts, taken_apart.finish

    def value(rows: Rows, s: float, e: float) -> float:
        return float(finish([part.rows(rows, s, e) for part in parts], {})) + 0.0

    return value


# --- a window of months moved month by month -----------------------------------------------


class WindowTally:
    """How many rows of each id a window of months holds. The report asks for
    13 windows of twelve months, each a month after the one before: a window
    is moved to the next by the rows of the months that differ. The tally
    keeps the id column, not its table (whose memo keeps the tally): a table
    that held itself through it would outlive the report until Python's
    cyclic collector walked all of its rows."""

    def __init__(self, table: TableRows, id_column: str, dated_by: str) -> None:
        self.dated_by = dated_by
        self.keys = table.read(id_column, "id")
        self.start = self.end = 0.0
        self.counts: Counter[str | None] = Counter()

    def _count(self, table: TableRows, start: float, end: float, sign: int = 1) -> None:
        """Add (``sign`` -1: take away) the rows dated in [start, end), month by month."""
        if start >= end:
            return
        for part in table.row_parts(self.dated_by, start, end):
            keys = map(self.keys.__getitem__, part)
            if sign > 0:
                self.counts.update(keys)  # counted in C
            else:
                # subtract runs Python code per item: once per id, not per row.
                self.counts.subtract(Counter(keys))

    def move(self, table: TableRows, start: float, end: float) -> tuple[int, int]:
        """Move to [start, end): the ids with a row there, and those with two or more."""
        if start < self.end and self.start < end:  # the windows overlap
            self._count(table, self.start, min(self.end, start), -1)
            self._count(table, max(self.start, end), self.end, -1)
            self._count(table, start, min(end, self.start))
            self._count(table, max(start, self.end), end)
        else:
            self.counts = Counter()
            self._count(table, start, end)
        self.start, self.end = start, end
        # Ids that left the window stay with a count of 0; None is no id.
        counts = self.counts.values()
        absent, once = countOf(counts, 0), countOf(counts, 1)
        customers, repeaters = len(counts) - absent, len(counts) - absent - once
        none = self.counts[None]
        if none:
            customers -= 1
            repeaters -= none >= 2
        return customers, repeaters
