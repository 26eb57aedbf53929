"""The Recipe: one object per KPI holding its three forms.

A recipe says, once, how a KPI is measured for one month [start, end) from
the data tables:

* as a native Excel formula (``formula``), so the workbook computes without
  the add-in;
* as a call to a ``kpi_engine`` function on the same rows (``engine_call``),
  so the report refresh, and the add-in function of that name, give the
  value the formula gives;
* as an ibis expression (``ibis``), so ``--source`` computes it where the
  data lives (DuckDB, PostgreSQL, Spark).

What it reads is derived from its formula (the ``Table[column]`` references
the ``Let`` builder writes), never stated beside it. The three forms follow
the data rules of ``rules`` (and, for ibis, ``ibis_forms``), and they are
mostly composed from the shared quantities of ``quantities`` (``parts``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import kpi_engine
from kpi_engine.inputs import first_of_month, serial_to_date, to_serial

from .rules import Let, Rows, as_rows

UNDEFINED = '"-"'

#: An ibis form: (tables, start, end, settings) -> the KPI's value for
#: [start, end), KPIUndefinedError when there is none (see ``ibis_forms``).
Measure = Callable[..., float]

#: A structured reference to a table's column, as ``rules.ref`` writes it.
_COLUMN_REFERENCE = re.compile(r"\b([A-Z][A-Za-z]*)\[([a-z_]+)\]")


@dataclass(frozen=True)
class EngineCall:
    """A ``kpi_engine`` function and the arguments a recipe gives it."""

    function: str
    args: tuple[Any, ...]

    def run(self) -> float:
        return float(getattr(kpi_engine, self.function)(*self.args))


@dataclass(frozen=True)
class IbisParts:
    """An ibis form taken apart: the quantities it fetches (each with an
    ``ibis`` method, or a measure that ``ibis_months`` knows), and the
    engine's function on their values for one month, with the workbook's
    settings. The form for one month is ``finish`` of the parts' values for
    that month; ``ibis_months`` fetches the values of every month in one
    query per table and finishes each month."""

    parts: tuple[Any, ...]
    finish: Callable[[Sequence[Any], Mapping[str, Any]], float]


@dataclass(frozen=True)
class Recipe:
    """How one KPI is measured for a month: in Excel, with the engine on the
    workbook's rows and, through ibis, where the data lives. The three forms
    follow the same data rules and give the same value."""

    kpi_id: str
    #: The formula for the month [start, end), given as cell references; it
    #: shows a dash where the KPI is undefined.
    formula: Callable[[str, str], str]
    engine_call: Callable[[Rows, float, float], EngineCall]
    #: The ibis form; None: the recipe has none yet (``make check`` says so).
    #: It imports ibis only when called: ibis is an optional dependency
    #: (``kpi-addin[sources]``), absent from xlwings Lite.
    ibis: Measure | None = None
    #: The shared quantities it is composed of (``quantities``), in the
    #: order it reads them; empty for a recipe written out in full.
    parts: tuple[Any, ...] = ()
    #: The ibis form as what it fetches and what it makes of it, so that
    #: ``kpi report --source`` measures every month of the report at once
    #: (``ibis_months``); None: the form is measured month by month.
    ibis_parts: IbisParts | None = None
    #: Every month of a column of months in one formula, given the cell
    #: ranges of their first days and of their ends (the Trend sheet's
    #: columns): a column of values, each as ``formula`` gives it for its
    #: month. None: the Trend sheet has a ``formula`` per month instead.
    months: Callable[[str, str], str] | None = None
    #: The report's form of a month on the workbook's rows, where the recipe
    #: has one of its own (repeat purchases move a twelve-month window from
    #: month to month): (rows, start, end) -> the value, as ``compute`` gives
    #: it. None: ``by_month`` derives the form from the others.
    by_month: Callable[[Rows, float, float], float] | None = None

    @cached_property
    def reads(self) -> Mapping[str, tuple[str, ...]]:
        """The columns the recipe reads, per table, in the order its formula
        reads them (the ``Table[column]`` references of the formula)."""
        found: dict[str, list[str]] = {}
        for table, column in _COLUMN_REFERENCE.findall(self.formula("PERIOD_START", "PERIOD_END")):
            columns = found.setdefault(table, [])
            if column not in columns:
                columns.append(column)
        return {table: tuple(columns) for table, columns in found.items()}

    def compute(self, rows: Mapping[str, Mapping[str, Any]], start: float, end: float) -> float:
        """The engine's value for [start, end); KPIUndefinedError when there is none."""
        return self.engine_call(as_rows(rows), start, end).run()

    @property
    def module_path(self) -> str:
        """The file that holds the recipe, for messages that say where to edit."""
        module = getattr(self.formula, "__module__", __name__)
        return module.replace(".", "/") + ".py"


@dataclass(frozen=True)
class ReadsCells:
    """An engine function that reads cells itself: the add-in function users
    call on their own columns (statuses, scores, timestamps, ids). The recipe
    hands it the cells, and it applies the data rules to them, so the report
    and the add-in function give the value the formula gives."""

    function: str
    cells: Callable[[Rows, float, float], tuple[Any, ...]]
    args: tuple[Any, ...] = ()

    def call(self, rows: Rows, s: float, e: float) -> EngineCall:
        return EngineCall(self.function, (*self.cells(rows, s, e), *self.args))

    def no_value(self) -> kpi_engine.KPIUndefinedError:
        """What the function says of no cells at all: the reason the ibis
        form gives where its quantities find no rows."""
        arguments = len(kpi_engine.get_kpi(self.function).arguments) - len(self.args)
        try:
            getattr(kpi_engine, self.function)(*([] for _ in range(arguments)), *self.args)
        except kpi_engine.KPIUndefinedError as error:
            return error
        raise RuntimeError(f"{self.function} has a value for no cells")


def month_cells(
    function: str, table: str, dated_by: str, *columns: str, args: tuple[Any, ...] = ()
) -> ReadsCells:
    """``function`` on the cells of ``columns`` in the rows dated in the month."""

    def cells(rows: Rows, s: float, e: float) -> tuple[list[Any], ...]:
        data = rows[table]
        dated = data.rows_within(dated_by, s, e)
        return tuple([data[c][i] for i in dated] for c in columns)

    return ReadsCells(function, cells, args)


class MissingRecipeError(KeyError):
    """A KPI of a business type that no recipe measures; the message says
    where to add one."""

    def __str__(self) -> str:
        return str(self.args[0])


def month_shift(serial: float, months: int) -> float:
    """EDATE for the first day of a month, in serial numbers."""
    return to_serial("recipe", "month", first_of_month(serial_to_date(serial), months))


def per(numerator: str, denominator: str) -> str:
    """A quotient in a formula: a dash where the denominator is 0."""
    return f"IF({denominator}=0,{UNDEFINED},{numerator}/{denominator})"


def ratio(let: Let, numerator: str, denominator: str) -> str:
    """The result of a LET: a dash where the denominator is 0."""
    return let.formula(per(numerator, denominator))
