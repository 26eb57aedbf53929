"""Shared quantities, each defined once in the three forms a recipe needs.

A recipe composes its KPI from these, as pint composes units from units:
"the month's revenue over its active users" is
``quotient("revenue_per_active_user", DatedSum.revenue_of("networking"),
ActiveUsers())``, and each quantity says once, for all KPIs that use it,
how it is computed

* in the workbook (``excel``: binds LET names in a ``Let`` and returns the
  name of the value; quantities of one formula share what they bind alike),
* on the workbook's rows (``rows``: the engine's number for the same month),
* through ibis (``ibis``: the measure where the data lives, as the table it
  is taken over and the scalar, so that a recipe fetches the measures of one
  table in one query).

The three follow the data rules of ``rules`` (and ``ibis_forms``); which
rows count is said by the conditions of ``conditions`` (``Has``, ``Is``,
``AtLeast``, ``AtMost``, ``InOrder``, ``ByDueDay``).

The quantities:

* ``DatedCount``: the rows dated in the month that meet the conditions (the
  month's attendances, orders with a status, completed orders, answers);
* ``DatedSum``: a column's sum over those rows ("revenue of the month", such
  as Payments[amount] by paid_on; the hours of the completed projects);
* ``Elapsed``: the hours from one timestamp to another over those rows;
* ``DistinctIds``: the different ids of those rows (``ActiveUsers``: the
  month's active members; the celebrities with a delivery);
* ``PresentAtStart``: who is listed in a master table at the start of the
  month ("members present at the start"); ``Churned`` and ``Retained``: who
  of them is gone, or still there, at its end;
* ``Newcomers``: who joined in the month ("new in the month"), also by the
  channel they came through;
* ``MonthlySum``: a monthly table's column summed over the month's rows
  that count ("a monthly column's sum"); ``Months`` takes it over the
  months before instead (growth).

The composers make a recipe of quantities, the engine's function
``kpi_id`` on their values: ``quotient`` (one over another), ``total_of``
(one), ``combined`` (several, with the catalogue's formula), and
``status_share`` and ``mean_of`` on top of ``quotient``. Where the engine's
function reads the cells itself (``recipe.ReadsCells``: the add-in function
users call on their columns), the recipe hands it the cells, and the
quantities give the formula and the ibis form.

Which table and column hold a business type's revenue and members is the
type's fact: ``[holds]`` in its catalogue file (``kpi_engine.BusinessType.holds``).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import kpi_engine

from .conditions import (
    IBIS,
    Condition,
    DatedRows,
    Has,
    InOrder,
    Is,
    NotOver,
    excel_column,
    kind_of,
)
from .recipe import EngineCall, IbisParts, ReadsCells, Recipe, month_shift, per
from .rules import (
    ExcelIds,
    ExcelStays,
    Let,
    Rows,
    TableRows,
    excel_across,
    excel_distinct,
    excel_distinct_dated,
    excel_distinct_months,
    excel_id_numbers,
    excel_month_sums,
    excel_stays,
    in_order,
    months_let,
    present_keys,
    stays,
)
from .tables import MASTERS, PARTS_OF_WHOLES

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .ibis_forms import Tables

#: An ibis measure: the name of the table it is taken over, and the scalar.
IbisMeasure = tuple[str, "ir.Scalar"]


class Quantity(Protocol):
    """A number of the month in the three forms; what recipes compose."""

    def excel(self, let: Let, s: str, e: str) -> str:
        """Bind it in ``let``; the LET name of its value."""

    #: ``excel_months(let, starts, ends)``: bind its value for every month of
    #: a column of months, in a formula of all the months (``Let(padded=True)``);
    #: the LET name of that column of values. None for a quantity that has no
    #: such form (``Months``): a recipe of it keeps a Trend formula per month.
    excel_months: Callable[[Let, str, str], str] | None

    def rows(self, rows: Rows, s: float, e: float) -> float:
        """Its value on the workbook's rows."""

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        """Its measure where the data lives."""


# --- the month's rows, their sums and their ids -------------------------------------------


@dataclass(frozen=True)
class DatedCount:
    """The rows dated in the month that meet every condition (the month's
    attendances; its orders with a status, or completed)."""

    table: str
    dated_by: str
    where: tuple[Condition, ...] = ()
    #: The LET name of the number in the workbook's formula.
    name: str = "rows_counted"

    @property
    def dated(self) -> DatedRows:
        return DatedRows(self.table, self.dated_by, self.where)

    def excel(self, let: Let, s: str, e: str) -> str:
        return let.bind(self.name, f"SUM({self.dated.excel(let, s, e)})")

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        window, counted = self.dated.excel_months(let, starts, ends)
        return let.bind(self.name, excel_month_sums(window, counted))

    def rows(self, rows: Rows, s: float, e: float) -> float:
        if len(self.where) == 1:
            only = self.where[0]
            if isinstance(only, Is | Has) and kind_of(self.table, only.column) in _KEY_KINDS:
                # A status share counts the month's rows of one status among
                # those with a status, and the next share counts another:
                # every status of the month is counted at once.
                data = rows[self.table]
                keys = _month_keys(data, self.dated_by, only.column, s, e)
                if isinstance(only, Is):
                    return float(keys[only.wanted])
                return float(keys.total() - keys[None])
        return float(len(self.dated.indices(rows, s, e)))

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        return self.table, IBIS.number_of(self.dated.ibis(tables, s, e))


#: The kinds read as a key (``Is`` and ``Has`` of them agree on the reading).
_KEY_KINDS = frozenset({"id", "text", "choice"})


def _month_keys(data: TableRows, dated_by: str, column: str, s: float, e: float) -> Counter[Any]:
    """How many rows dated in [s, e) hold each key of ``column`` (None: no
    key), counted once per month (callers must not change it)."""
    memo_key = ("month keys", dated_by, column, s, e)
    found = data.memo.get(memo_key)
    if not isinstance(found, Counter):
        keys = data.read(column, "choice")
        found = Counter(map(keys.__getitem__, data.rows_within(dated_by, s, e)))
        data.memo[memo_key] = found
    return found


def counter(table: str, dated_by: str) -> Callable[..., DatedCount]:
    """Counts of a table's rows dated by ``dated_by`` in the month:
    ``counter("Orders", "ordered_at")(Has("status"), name="with_status")``."""

    def count(*where: Condition, name: str) -> DatedCount:
        return DatedCount(table, dated_by, where, name)

    return count


@dataclass(frozen=True)
class DatedSum:
    """A column's sum over the rows dated in the month where it counts and
    every condition holds: a business type's revenue of the month where it
    is paid row by row (Payments, or Orders by delivery), the hours of the
    month's completed projects."""

    table: str
    dated_by: str
    column: str
    where: tuple[Condition, ...] = ()

    @classmethod
    def revenue_of(cls, business_type: str) -> DatedSum:
        """The revenue of the month, where the type's catalogue file says it is."""
        place = kpi_engine.get_business_type(business_type).holds["revenue"]
        return cls(place["table"], place["dated_by"], place["column"])

    @property
    def dated(self) -> DatedRows:
        counts = Has(self.column)
        where = self.where if counts in self.where else (counts, *self.where)
        return DatedRows(self.table, self.dated_by, where)

    def count(self, name: str) -> DatedCount:
        """The rows it sums: the denominator of a mean over them."""
        return DatedCount(self.table, self.dated_by, self.dated.where, name)

    def excel(self, let: Let, s: str, e: str) -> str:
        rows = self.dated.excel(let, s, e)
        value = excel_column(let, self.table, self.column)
        return let.bind(f"{self.column}_total", f"SUM({rows}*{value})")

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        window, counted = self.dated.excel_months(let, starts, ends)
        value = excel_column(let, self.table, self.column)
        return let.bind(f"{self.column}_total", excel_month_sums(window, f"{counted}*{value}"))

    def rows(self, rows: Rows, s: float, e: float) -> float:
        data = rows[self.table]
        # Several KPIs of a type divide or show the same sum of the month
        # (the revenue, an order's mean, the revenue per celebrity): added
        # once. It reads its own table alone, whose memo it is kept in.
        key = ("dated sum", self, s, e)
        found = data.memo.get(key)
        if found is None:
            values = data.numbers(self.column, kind_of(self.table, self.column))
            # Added in sheet order, from 0, as ``total`` adds: the same bits
            # (the rows taken are those whose cell counts: none is NaN).
            found = data.memo[key] = float(
                sum(map(values.__getitem__, self.dated.indices(rows, s, e)))
            )
        return found  # type: ignore[return-value]

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        value = IBIS.read(tables, self.table, self.column)
        return self.table, IBIS.total(value, self.dated.ibis(tables, s, e))


@dataclass(frozen=True)
class Elapsed:
    """The hours from ``since`` to ``until`` summed over the rows whose
    ``until`` falls in the month, where both are given and in order (the
    time from order to delivery)."""

    table: str
    since: str
    until: str

    @property
    def dated(self) -> DatedRows:
        return DatedRows(self.table, self.until, (InOrder(self.since, self.until),))

    def count(self, name: str) -> DatedCount:
        """The rows it sums: the denominator of the mean time."""
        return DatedCount(self.table, self.until, self.dated.where, name)

    def excel(self, let: Let, s: str, e: str) -> str:
        rows = self.dated.excel(let, s, e)
        since = excel_column(let, self.table, self.since)
        until = excel_column(let, self.table, self.until)
        return let.bind("hours", f"SUM({rows}*({until}-{since}))*24")

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        window, counted = self.dated.excel_months(let, starts, ends)
        since = excel_column(let, self.table, self.since)
        until = excel_column(let, self.table, self.until)
        return let.bind("hours", excel_month_sums(window, f"{counted}*({until}-{since})") + "*24")

    def rows(self, rows: Rows, s: float, e: float) -> float:
        data = rows[self.table]
        # Each row's days from one moment to the other, found once for every
        # month in one pass over the two columns (0 where the row does not
        # count, and is never taken); fsum is exact, so the differences may
        # be summed in any form.
        key = ("elapsed", self.since, self.until)
        days = data.memo.get(key)
        if not isinstance(days, array):
            since, until = data.read(self.since, "date"), data.read(self.until, "date")
            order = in_order(data, self.since, self.until)
            days = data.memo[key] = array(
                "d", [b - a if ok else 0.0 for a, b, ok in zip(since, until, order, strict=True)]
            )
        return math.fsum(map(days.__getitem__, self.dated.indices(rows, s, e))) * 24

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        since = IBIS.read(tables, self.table, self.since)
        until = IBIS.read(tables, self.table, self.until)
        return self.table, IBIS.total(until - since, self.dated.ibis(tables, s, e)) * 24


@dataclass(frozen=True)
class DistinctIds:
    """The different ids among the rows dated in the month (an id missing
    from its master table still counts): the month's active members, the
    celebrities with a delivery."""

    table: str
    dated_by: str
    id_column: str
    name: str

    def excel(self, let: Let, s: str, e: str) -> str:
        who = let.value(self.table, self.id_column, "id", f"{self.id_column}_all", padded=True)
        rows = DatedRows(self.table, self.dated_by).excel(let, s, e, padded=True)
        return let.bind(self.name, excel_distinct(who, f'{rows}*({who}<>"")'))

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        who = let.value(self.table, self.id_column, "id", self.id_column)
        dated = excel_column(let, self.table, self.dated_by)
        return let.bind(self.name, excel_distinct_dated(let, who, dated, starts, ends))

    def rows(self, rows: Rows, s: float, e: float) -> float:
        data = rows[self.table]
        ids = data.read(self.id_column, "id")
        dated = data.rows_within(self.dated_by, s, e)
        return float(len(set(map(ids.__getitem__, dated)) - {None}))

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        who = IBIS.read(tables, self.table, self.id_column)
        dated = DatedRows(self.table, self.dated_by).ibis(tables, s, e)
        return self.table, who.nunique(where=dated & who.notnull())


def ActiveUsers() -> DistinctIds:  # noqa: N802  (named as the quantity it is)
    """The month's distinct active members (activity of an id missing from
    Members still counts): what MAU counts."""
    return DistinctIds("Activity", "active_on", "member_id", "active_users")


# --- who is there: customers, celebrities, members -------------------------------------
#
# A master table has a row per stay. The people present at the start of the
# month are the cohort; churned are those of the cohort not present at its
# end. With A the cohort and B those present at the end, the formulas count
# |A|, |B| and |A or B| with UNIQUE, which is linear, and take
# |A and B| = |A| + |B| - |A or B| and |A but not B| = |A or B| - |B|.


@dataclass(frozen=True)
class PresentAtStart:
    """Who is listed in a master table (Members, Customers, Celebrities) at
    the start of the month, each counted once."""

    table: str

    @classmethod
    def members_of(cls, business_type: str) -> PresentAtStart:
        """The type's members, in the table its catalogue file names."""
        return cls(kpi_engine.get_business_type(business_type).holds["members"]["table"])

    def bind(self, let: Let, s: str) -> tuple[ExcelStays, str, str]:
        """Bind the stays, who is there at ``s`` and their number; returns the
        three (the cohort's formulas go on from them)."""
        listed = excel_stays(let, self.table, MASTERS[self.table])
        at_start = let.bind("at_start", listed.present_at(s))
        return listed, at_start, let.bind("before", excel_distinct(listed.who, at_start))

    def excel(self, let: Let, s: str, e: str) -> str:
        return self.bind(let, s)[2]

    def bind_months(self, let: Let, starts: str) -> tuple[ExcelStays, ExcelIds, str, str]:
        """Bind, for a column of months, the stays across, the ids as numbers
        (and the largest), who is there at each start and their number."""
        listed = excel_stays(let, self.table, MASTERS[self.table])
        numbers = excel_id_numbers(let, listed.who)
        across = excel_across(listed, numbers.across, let)
        at_start = let.bind("at_start", across.present_at(starts))
        before = let.bind("before", excel_distinct_months(let, numbers, at_start))
        return across, numbers, at_start, before

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        return self.bind_months(let, starts)[3]

    def keys(self, rows: Rows, s: float) -> set[str]:
        """Who is there at ``s`` (callers must not change the set)."""
        return present_keys(rows[self.table], MASTERS[self.table], s)

    def rows(self, rows: Rows, s: float, e: float) -> float:
        return float(len(self.keys(rows, s)))

    def ibis_sets(self, tables: Tables, s: Any, e: Any) -> IbisSets:
        listed = IBIS.stays(tables, self.table)
        return (listed.present_at(s),), _first

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        return self.table, distinct_sets(tables, self.table, self.ibis_sets(tables, s, e))


@dataclass(frozen=True)
class ExcelCohort:
    """The LET names of the cohort's counts: |A|, |B| and |A or B|."""

    before: str
    after: str
    either: str

    @property
    def churned(self) -> str:
        return f"({self.either}-{self.after})"

    @property
    def retained(self) -> str:
        return f"({self.before}+{self.after}-{self.either})"


def excel_cohort(let: Let, table: str, s: str, e: str) -> ExcelCohort:
    """Bind |A|, |B| and |A or B|: those present at the start, at the end, at either."""
    listed, at_start, before = PresentAtStart(table).bind(let, s)
    at_end = let.bind("at_end", listed.present_at(e))
    return ExcelCohort(
        before,
        let.bind("after", excel_distinct(listed.who, at_end)),
        let.bind("either", excel_distinct(listed.who, f"({at_start}+{at_end}>0)")),
    )


def excel_cohort_months(let: Let, table: str, starts: str, ends: str) -> ExcelCohort:
    """``excel_cohort`` for every month of a column of months."""
    across, numbers, at_start, before = PresentAtStart(table).bind_months(let, starts)
    at_end = let.bind("at_end", across.present_at(ends))
    return ExcelCohort(
        before,
        let.bind("after", excel_distinct_months(let, numbers, at_end)),
        let.bind("either", excel_distinct_months(let, numbers, f"({at_start}+{at_end}>0)")),
    )


def keys_at(rows: Rows, table: str, s: float, e: float) -> tuple[set[str], set[str]]:
    """The ids present at the start and at the end of [s, e)."""
    present = PresentAtStart(table)
    return present.keys(rows, s), present.keys(rows, e)


#: A quantity of who is present, through ibis: the conditions on a master
#: table's rows whose people it counts (each once), and its value from
#: their numbers (``ibis_months`` counts them per person for every month).
IbisSets = tuple[tuple["ir.BooleanValue", ...], Callable[[Sequence[Any]], Any]]


def _first(counts: Sequence[Any]) -> Any:
    return counts[0]


def _difference(counts: Sequence[Any]) -> Any:
    """|A or B| - |B|: those of A not in B (or, of A or B, those not in A)."""
    return counts[0] - counts[1]


def _both(counts: Sequence[Any]) -> Any:
    """|A| + |B| - |A or B|: those in both."""
    return counts[0] + counts[1] - counts[2]


def distinct_sets(tables: Tables, table: str, sets: IbisSets) -> Any:
    """The value of a quantity of who is present, as one ibis scalar."""
    conditions, combine = sets
    listed = IBIS.stays(tables, table)
    return combine([listed.distinct(condition) for condition in conditions])


@dataclass(frozen=True)
class Churned:
    """Who of those present at the start of the month is gone at its end
    (the cohort's |A but not B|)."""

    table: str

    def excel(self, let: Let, s: str, e: str) -> str:
        return let.bind("churned", excel_cohort(let, self.table, s, e).churned)

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        return let.bind("churned", excel_cohort_months(let, self.table, starts, ends).churned)

    def rows(self, rows: Rows, s: float, e: float) -> float:
        at_start, at_end = keys_at(rows, self.table, s, e)
        return float(len(at_start - at_end))

    def ibis_sets(self, tables: Tables, s: Any, e: Any) -> IbisSets:
        listed = IBIS.stays(tables, self.table)
        at_start, at_end = listed.present_at(s), listed.present_at(e)
        return (at_start | at_end, at_end), _difference

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        return self.table, distinct_sets(tables, self.table, self.ibis_sets(tables, s, e))


@dataclass(frozen=True)
class Retained:
    """Who of those present at the start of the month is still there at its
    end (the cohort's |A and B|)."""

    table: str

    def excel(self, let: Let, s: str, e: str) -> str:
        return let.bind("kept", excel_cohort(let, self.table, s, e).retained)

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        return let.bind("kept", excel_cohort_months(let, self.table, starts, ends).retained)

    def rows(self, rows: Rows, s: float, e: float) -> float:
        at_start, at_end = keys_at(rows, self.table, s, e)
        return float(len(at_start & at_end))

    def ibis_sets(self, tables: Tables, s: Any, e: Any) -> IbisSets:
        listed = IBIS.stays(tables, self.table)
        at_start, at_end = listed.present_at(s), listed.present_at(e)
        return (at_start, at_end, at_start | at_end), _both

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        return self.table, distinct_sets(tables, self.table, self.ibis_sets(tables, s, e))


@dataclass(frozen=True)
class Newcomers:
    """Who joined a master table in the month and was not there at its start
    (a comeback counts; a second row of someone present does not); with
    ``via``, only those whose joining row says they came through it."""

    table: str
    via: str = ""

    def excel(self, let: Let, s: str, e: str) -> str:
        listed, at_start, before = PresentAtStart(self.table).bind(let, s)
        joined = let.bind("joined", listed.joined_during(s, e))
        name = "new"
        if self.via:
            channel = let.value(self.table, "acquired_via", "choice", "channel", padded=True)
            joined, name = f'{joined}*({channel}="{self.via}")', f"new_{self.via}"
        either = excel_distinct(listed.who, f"({at_start}+{joined}>0)")
        return let.bind(name, f"({either}-{before})")

    def excel_months(self, let: Let, starts: str, ends: str) -> str:
        across, numbers, at_start, before = PresentAtStart(self.table).bind_months(let, starts)
        joined = let.bind("joined", across.joined_during(starts, ends))
        name = "new"
        if self.via:
            channel = let.value(self.table, "acquired_via", "choice", "channel")
            came = let.bind(f"{channel}_across", f"TRANSPOSE({channel})")
            joined, name = f'{joined}*({came}="{self.via}")', f"new_{self.via}"
        either = excel_distinct_months(let, numbers, f"({at_start}+{joined}>0)")
        return let.bind(name, f"({either}-{before})")

    def rows(self, rows: Rows, s: float, e: float) -> float:
        table = rows[self.table]
        listed = stays(table, MASTERS[self.table])
        channels = table.read("acquired_via", "choice") if self.via else None
        joined = {
            stay.key
            for stay in listed
            if s <= stay.since < e and (channels is None or channels[stay.row] == self.via)
        }
        return float(len(joined - present_keys(table, MASTERS[self.table], s)))

    def ibis_sets(self, tables: Tables, s: Any, e: Any) -> IbisSets:
        listed = IBIS.stays(tables, self.table)
        at_start, joined = listed.present_at(s), listed.joined_during(s, e)
        if self.via:
            channel = IBIS.read(tables, self.table, "acquired_via")
            joined &= (channel == self.via).fill_null(False)
        return (at_start | joined, at_start), _difference

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        return self.table, distinct_sets(tables, self.table, self.ibis_sets(tables, s, e))


# --- monthly tables: a column's sum over the month's rows -----------------------------------


def MonthlySum(  # noqa: N802  (named as the quantity it is)
    table: str, column: str, together: tuple[str, ...] = (), shares: bool = False
) -> DatedSum:
    """One column of a monthly table summed over the month's rows where it
    counts (a month's reach, its retention spend). ``together``: the columns
    of a ratio, which a row gives together or not at all (with ``shares``:
    and no part over its whole)."""
    given = tuple(Has(c) for c in together)
    parts = tuple(
        NotOver(part, whole)
        for part, whole in PARTS_OF_WHOLES.get(table, ())
        if shares and part in together and whole in together
    )
    return DatedSum(table, "month", column, given + parts)


def sums_together(table: str, *columns: str, shares: bool = False) -> tuple[DatedSum, ...]:
    """The sums of a monthly table's columns over the rows that give them all."""
    return tuple(MonthlySum(table, c, columns, shares) for c in columns)


@dataclass(frozen=True)
class Months:
    """A quantity over the ``months`` months that end with this one, or with
    ``back`` such spans before it (a growth compares the two)."""

    quantity: DatedSum
    months: int = 1
    back: int = 0
    #: No formula of all the months: a growth compares each month with the
    #: months before it, so its Trend months keep a formula each.
    excel_months: ClassVar[None] = None

    def _excel_edge(self, let: Let, s: str, e: str, spans: int) -> str:
        """The first day of the month ``spans`` spans before the end of [s, e)."""
        if spans == 0:
            return e
        if spans == 1:
            return s if self.months == 1 else let.bind("since", f"EDATE({e},{-self.months})")
        return f"EDATE({self._excel_edge(let, s, e, spans - 1)},{-self.months})"

    def excel(self, let: Let, s: str, e: str) -> str:
        start = self._excel_edge(let, s, e, self.back + 1)
        return self.quantity.excel(let, start, self._excel_edge(let, s, e, self.back))

    def rows(self, rows: Rows, s: float, e: float) -> float:
        return self.quantity.rows(rows, *self._edges(e))

    def ibis(self, tables: Tables, s: float, e: float) -> IbisMeasure:
        return self.quantity.ibis(tables, *self._edges(e))

    def _edges(self, e: float) -> tuple[float, float]:
        end = e
        for _ in range(self.back):
            end = month_shift(end, -self.months)
        return month_shift(end, -self.months), end


# --- engine functions that read cells themselves ---------------------------------------------


def cohort_ids(function: str, table: str) -> ReadsCells:
    """``function`` on the ids present at the start and at the end of the month."""

    def cells(rows: Rows, s: float, e: float) -> tuple[list[str], ...]:
        return tuple(map(sorted, keys_at(rows, table, s, e)))

    return ReadsCells(function, cells)


# --- composing a recipe from quantities ----------------------------------------------------


def ibis_values(parts: tuple[Quantity, ...], tables: Tables, s: float, e: float) -> list[float]:
    """The quantities' values where the data lives, one query per table."""
    return list(IBIS.fetch_all(tables, [part.ibis(tables, s, e) for part in parts]))


def ibis_of(parts: tuple[Any, ...], finish: Callable[..., float]) -> Callable[..., float]:
    """The ibis form for one month of a recipe taken apart (``IbisParts``):
    ``finish`` of its quantities' values, fetched one query per table."""

    def ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        return finish(ibis_values(parts, tables, s, e), settings)

    return ibis


def composed(
    kpi_id: str,
    formula: Callable[..., str],
    engine_call: Callable[..., Any],
    parts: tuple[Any, ...],
    finish: Callable[..., float],
    months: Callable[[str, str], str] | None,
) -> Recipe:
    """A recipe taken apart into ``parts`` and a ``finish``: its one-month
    ibis form and its grouped parts both come from them."""
    return Recipe(
        kpi_id,
        formula,
        engine_call,
        ibis_of(parts, finish),
        parts,
        ibis_parts=IbisParts(parts, finish),
        months=months,
    )


def months_formula(
    months: Callable[[str, str], str], parts: tuple[Any, ...]
) -> Callable[[str, str], str] | None:
    """``months`` where every part has an ``excel_months`` form (a growth
    over the months before says it has none: its Trend months keep a formula
    each)."""
    return months if all(part.excel_months is not None for part in parts) else None


def combined(
    kpi_id: str,
    *arguments: Quantity,
    excel: Callable[..., str],
    extra: tuple[Any, ...] = (),
) -> Recipe:
    """A KPI whose engine function takes quantities of the month, in its
    arguments' order (and ``extra``, such as a time unit); ``excel`` writes
    the catalogue's formula over their LET names."""

    def formula(s: str, e: str) -> str:
        let = Let()
        return let.formula(excel(*(q.excel(let, s, e) for q in arguments)))

    def months(starts: str, ends: str) -> str:
        let, first, last = months_let(starts, ends)
        return let.formula(excel(*(q.excel_months(let, first, last) for q in arguments)))

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        return EngineCall(kpi_id, (*(q.rows(rows, s, e) for q in arguments), *extra))

    def finish(values: Sequence[Any], settings: Mapping[str, Any]) -> float:
        return IBIS.engine(kpi_id, *values, *extra)

    return composed(
        kpi_id, formula, engine_call, arguments, finish, months_formula(months, arguments)
    )


def quotient(
    kpi_id: str,
    numerator: Quantity,
    denominator: Quantity,
    *,
    extra: tuple[Any, ...] = (),
    engine: ReadsCells | None = None,
) -> Recipe:
    """A KPI that is one quantity of the month over another, computed by the
    engine's function ``kpi_id`` (which says why when the denominator is 0).
    With ``engine``, a function that reads the cells itself computes it
    instead; the ibis form divides as it does, and gives its reason."""
    recipe = combined(kpi_id, numerator, denominator, excel=per, extra=extra)
    if engine is None:
        return recipe

    def finish(values: Sequence[Any], settings: Mapping[str, Any]) -> float:
        above, below = values
        if below == 0:
            raise engine.no_value()
        return float(above / below)

    return composed(kpi_id, recipe.formula, engine.call, recipe.parts, finish, recipe.months)


def total_of(kpi_id: str, quantity: Quantity, *, engine: ReadsCells | None = None) -> Recipe:
    """A KPI that is a quantity of the month (revenue, a monthly count),
    computed by the engine's function ``kpi_id`` from that sum. With
    ``engine``, a function that reads the cells itself computes it instead,
    and the ibis form is the quantity."""

    def formula(s: str, e: str) -> str:
        let = Let()
        return let.formula(quantity.excel(let, s, e))

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        return EngineCall(kpi_id, ([quantity.rows(rows, s, e)],))

    def finish(values: Sequence[Any], settings: Mapping[str, Any]) -> float:
        return float(values[0]) if engine is not None else IBIS.engine(kpi_id, list(values))

    def months(starts: str, ends: str) -> str:
        let, first, last = months_let(starts, ends)
        return let.formula(quantity.excel_months(let, first, last))

    engine_side = engine_call if engine is None else engine.call
    parts = (quantity,)
    return composed(kpi_id, formula, engine_side, parts, finish, months_formula(months, parts))


def status_share(kpi_id: str, table: str, dated_by: str, column: str, wanted: str) -> Recipe:
    """The share of the rows dated in the month whose status ``column`` is
    ``wanted``, among those with a status."""
    return quotient(
        kpi_id,
        counter(table, dated_by)(Is(column, wanted), name=f"{column}_{wanted}"),
        counter(table, dated_by)(Has(column), name=f"with_{column}"),
    )


def mean_of(kpi_id: str, summed: DatedSum, name: str, *, extra: tuple[Any, ...] = ()) -> Recipe:
    """A column's mean over the rows dated in the month where it counts (an
    order's amount, a project's hours, a visit's minutes); ``extra`` are the
    engine function's further arguments (a time unit)."""
    return quotient(kpi_id, summed, summed.count(name), extra=extra)
