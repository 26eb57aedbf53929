"""The ibis forms over many months at once: what ``kpi report --source`` runs.

A report shows each KPI for the 12 months of its trend and the month a year
before. Measured month by month (``ibis_forms.compute``), that is 13 queries
per KPI; here every month of every KPI is fetched in a few grouped queries,
and each month is then finished by the recipe's own engine call
(``recipe.IbisParts``), so the values are those of the month-by-month form.

The quantities of the recipes (``quantities``) fall in three groups:

* rows dated in a month (``DatedCount``, ``DatedSum``, ``Elapsed``,
  ``DistinctIds``, and ``Months`` of a sum): each row is bucketed into the
  calendar month of its date, and the measures of every KPI that date a
  table's rows by the same column are aggregated per bucket in one query
  (a sum over several months, for a growth, adds its months' buckets);
* who is present in a master table (``PresentAtStart``, ``Churned``,
  ``Retained``, ``Newcomers``): a row counts in several months, so the
  rows are grouped per person, each group saying whether the person meets
  each of the quantity's conditions (``ibis_sets``) in each month, and the
  people who do are counted, one query per table;
* the customers of the 12 months before each month and those of them with
  two orders or more (``orders.RepeatBuyers``): each customer's orders in
  each month's window counted in one grouping, then the customers counted.

The tables are those of ``ibis_forms.prepare`` (the rules applied once, kept
by the engine as a table of its own where it can).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

import kpi_engine

from .ibis_forms import (
    USABLE,
    InTurn,
    Prepared,
    Tables,
    ibis_form_for,
    number_of,
    prepare,
    stays,
    within,
)
from .kpis import recipe_for
from .orders import RepeatBuyers
from .quantities import (
    Churned,
    DatedCount,
    DatedSum,
    DistinctIds,
    Elapsed,
    Months,
    Newcomers,
    PresentAtStart,
    Retained,
)
from .recipe import month_shift
from .tables import MASTERS

#: A month of the report: its first day and the first day of the next, as serials.
Window = tuple[float, float]
#: What a KPI's month gives: its value, or why it has none.
Outcome = float | kpi_engine.KPIUndefinedError | kpi_engine.KPIInputError

#: The names of the columns this module adds (never a column of a table).
_MONTH = "kpi__month"
_STAYS = (PresentAtStart, Churned, Retained, Newcomers)
_DATED = (DatedCount, DatedSum, Elapsed, DistinctIds)


def _calendar(first: float, end: float) -> list[Window]:
    """The calendar months from the one starting on ``first`` up to ``end``."""
    months = []
    start = first
    while start < end:
        following = month_shift(start, 1)
        months.append((start, following))
        start = following
    return months


@dataclass
class _Bucketed:
    """The measures of one table's rows dated by one column, per calendar month."""

    table: str
    dated_by: str
    #: Per measure: the quantity it is taken from.
    measures: list[Any] = field(default_factory=list)
    first: float = math.inf
    end: float = -math.inf

    def add(self, quantity: Any, windows: Sequence[Window]) -> int:
        for start, end in windows:
            self.first, self.end = min(self.first, start), max(self.end, end)
        # A quantity several KPIs read (revenue: itself, per order, per
        # celebrity) is measured once.
        if quantity in self.measures:
            return self.measures.index(quantity)
        self.measures.append(quantity)
        return len(self.measures) - 1


@dataclass
class _Present:
    """The measures of who is present in one master table, per report month."""

    table: str
    measures: list[Any] = field(default_factory=list)

    def add(self, quantity: Any) -> int:
        self.measures.append(quantity)
        return len(self.measures) - 1


def _spans(quantity: Any, window: Window) -> list[Window]:
    """The calendar months whose rows a dated quantity sums for the report month."""
    start, end = window
    if isinstance(quantity, Months):
        first, last = quantity._edges(end)
        return _calendar(first, last)
    return [(start, end)]


def _dated_of(quantity: Any) -> tuple[str, str, Any]:
    """The table, the date column and the quantity whose measure is taken."""
    if isinstance(quantity, Months):
        return _dated_of(quantity.quantity)
    if isinstance(quantity, Elapsed):
        return quantity.table, quantity.until, quantity
    return quantity.table, quantity.dated_by, quantity


def _as_float(value: Any) -> float:
    return (
        0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    )


def _month_index(
    moment: ir.FloatingValue, ends: Sequence[float], first: int, last: int
) -> ir.IntegerValue:
    """The index of the month (of ``first``..``last``, whose ends are ``ends``)
    that holds a moment known to fall in one: a binary search, a few
    comparisons per row whatever the number of months."""
    if first == last:
        return ibis.literal(first, "int16")
    middle = (first + last) // 2
    return ibis.ifelse(
        moment < ends[middle],
        _month_index(moment, ends, first, middle),
        _month_index(moment, ends, middle + 1, last),
    )


def _bucketed_values(
    tables: Prepared, group: _Bucketed, later: InTurn
) -> Callable[[], tuple[list[Window], dict[Any, dict[str, float]]]]:
    """The group's query, sent ``later``: what is returned gives, per
    calendar month (by index), the group's measures."""
    months = _calendar(group.first, group.end)
    data = tables[group.table]
    dated = data[group.dated_by]
    inside = data.filter(within(dated, group.first, group.end))
    bucket = _month_index(inside[group.dated_by], [end for _, end in months], 0, len(months) - 1)
    bucketed = inside.mutate(**{_MONTH: bucket})
    view = Prepared({**tables, group.table: bucketed})
    measures = {
        f"m{index}": quantity.ibis(view, group.first, group.end)[1]
        for index, quantity in enumerate(group.measures)
    }
    frame = later.rows(bucketed.group_by(_MONTH).aggregate(**measures))
    return lambda: (
        months,
        {row[_MONTH]: {name: _as_float(row[name]) for name in measures} for row in frame()},
    )


def _present_values(
    tables: Prepared, group: _Present, windows: Sequence[Window], later: InTurn
) -> Callable[[], dict[Any, dict[str, float]]]:
    """The group's query, sent ``later``: what is returned gives, per report
    month (by index), the group's measures: whether each person meets each
    condition in each month, one row per person, then how many do."""
    listed = stays(tables, group.table)
    who = MASTERS[group.table]
    # Only the usable rows are grouped; over them, the conditions do not
    # test again, in each flag of each month, that a row is usable.
    usable = listed.table.filter(listed.listed).mutate(**{USABLE: ibis.literal(True)})
    rows = Prepared({**tables, group.table: usable})
    combines: dict[tuple[int, int], tuple[Callable[[Sequence[Any]], Any], list[str]]] = {}
    flags: dict[str, ir.BooleanValue] = {}
    #: A condition asked twice (present at the end of a month is present at
    #: the start of the next) is one flag.
    named: dict[Any, str] = {}
    for window, (start, end) in enumerate(windows):
        for index, quantity in enumerate(group.measures):
            conditions, combine = quantity.ibis_sets(rows, start, end)
            names = []
            for condition in conditions:
                name = named.setdefault(condition.op(), f"f{len(named)}")
                flags[name] = condition.any()
                names.append(name)
            combines[window, index] = (combine, names)
    people = usable.group_by(who).aggregate(**flags)
    counted = people.aggregate(**{name: number_of(people[name]) for name in flags})
    found = later.rows(counted)

    def values() -> dict[Any, dict[str, float]]:
        row = found()[0]
        return {
            window: {
                f"m{index}": float(combine([_as_float(row[name]) for name in names]))
                for (at, index), (combine, names) in combines.items()
                if at == window
            }
            for window in range(len(windows))
        }

    return values


def _repeat_values(
    tables: Prepared, part: RepeatBuyers, windows: Sequence[Window], later: InTurn
) -> Callable[[], list[tuple[float, float]]]:
    """The query, sent ``later``: what is returned gives, per report month,
    the customers of its window and the repeaters: each customer's orders in
    every window counted in one grouping."""
    data = tables[part.table]
    dated, who = data[part.dated_by], data[part.id_column]
    first = min(month_shift(end, -part.months) for _, end in windows)
    last = max(end for _, end in windows)
    inside = data.filter(within(dated, first, last) & who.notnull())
    dated = inside[part.dated_by]
    # Every row kept has a date, so a window's test is never null and needs
    # no fill; counting the window's 1s rather than filtering the rows once
    # per window takes DuckDB a third less time over a million orders.
    per_customer = inside.group_by(part.id_column).aggregate(
        **{
            f"w{index}": ibis.ifelse(
                (dated >= month_shift(end, -part.months)) & (dated < end), 1, ibis.null()
            ).count()
            for index, (_, end) in enumerate(windows)
        }
    )
    measures = {}
    for index in range(len(windows)):
        orders = per_customer[f"w{index}"]
        measures[f"c{index}"] = number_of(orders >= 1)
        measures[f"r{index}"] = number_of(orders >= 2)
    found = later.rows(per_customer.aggregate(**measures))

    def values() -> list[tuple[float, float]]:
        row = found()[0]
        return [
            (_as_float(row[f"c{index}"]), _as_float(row[f"r{index}"]))
            for index in range(len(windows))
        ]

    return values


@dataclass
class _Plan:
    """The grouped queries a report's KPIs need, and where each part's value
    for a month is read from their results."""

    windows: Sequence[Window]
    bucketed: dict[tuple[str, str], _Bucketed] = field(default_factory=dict)
    present: dict[str, _Present] = field(default_factory=dict)
    repeats: dict[RepeatBuyers, list[tuple[float, float]]] = field(default_factory=dict)
    results: dict[Any, Any] = field(default_factory=dict)

    def reader(self, part: Any) -> Callable[[int], Any] | None:
        """Where the part's value for a window (by index) will be; None: a
        part this module does not know (its KPI is measured month by month)."""
        if isinstance(part, RepeatBuyers):
            self.repeats.setdefault(part, [])
            return lambda window: self.repeats[part][window]
        if isinstance(part, _STAYS):
            group = self.present.setdefault(part.table, _Present(part.table))
            name = f"m{group.add(part)}"
            return lambda window: self.results[part.table].get(window, {}).get(name, 0.0)
        if isinstance(part, (*_DATED, Months)):
            table, dated_by, measured = _dated_of(part)
            key = (table, dated_by)
            spans = [span for window in self.windows for span in _spans(part, window)]
            bucketed = self.bucketed.setdefault(key, _Bucketed(table, dated_by))
            return self._summed(key, f"m{bucketed.add(measured, spans)}", part)
        return None

    def _summed(self, key: tuple[str, str], name: str, part: Any) -> Callable[[int], float]:
        def read(window: int) -> float:
            months, found = self.results[key]
            total = 0.0
            for span in _spans(part, self.windows[window]):
                total += found.get(months.index(span), {}).get(name, 0.0)
            return total

        return read

    def run(self, prepared: Prepared) -> None:
        # Every query is sent before any result is read: the engine runs one
        # while Python builds the next.
        with InTurn() as later:
            results: dict[Any, Callable[[], Any]] = {}
            for key, bucketed in self.bucketed.items():
                results[key] = _bucketed_values(prepared, bucketed, later)
            for table, group in self.present.items():
                results[table] = _present_values(prepared, group, self.windows, later)
            repeats = {
                part: _repeat_values(prepared, part, self.windows, later) for part in self.repeats
            }
            for key, values in results.items():
                self.results[key] = values()
            for part, repeated in repeats.items():
                self.repeats[part] = repeated()


def _outcome(measure: Callable[..., float], *args: Any) -> Outcome:
    try:
        return float(measure(*args))
    except (kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError) as error:
        return error


def months_values(
    business_type: str,
    kpi_ids: Sequence[str],
    tables: Tables,
    windows: Sequence[Window],
    settings: Mapping[str, Any] | None = None,
) -> dict[str, list[Outcome]]:
    """Per KPI, its value (or why it has none) in each of the ``windows``,
    from the tables prepared by ``ibis_forms.prepare``: one query per table
    and date column, one per master table, one for repeat purchases; a KPI
    whose recipe is not taken apart (no ``ibis_parts``) month by month."""
    prepared = prepare(tables)
    given = settings or {}
    plan = _Plan(windows)
    #: Per KPI taken apart: its finish, and per part where its values are.
    readers: dict[str, tuple[Callable[..., float], list[Callable[[int], Any]]]] = {}
    for kpi_id in kpi_ids:
        composed = recipe_for(business_type, kpi_id).ibis_parts
        if composed is None:
            continue
        found = [plan.reader(part) for part in composed.parts]
        if all(read is not None for read in found):
            readers[kpi_id] = (composed.finish, [read for read in found if read is not None])
    plan.run(prepared)

    outcomes: dict[str, list[Outcome]] = {}
    for kpi_id in kpi_ids:
        if kpi_id in readers:
            finish, reads = readers[kpi_id]
            outcomes[kpi_id] = [
                _outcome(finish, [read(window) for read in reads], given)
                for window in range(len(windows))
            ]
        else:
            measure = ibis_form_for(business_type, kpi_id)
            outcomes[kpi_id] = [
                _outcome(measure, prepared, start, end, given) for start, end in windows
            ]
    return outcomes
