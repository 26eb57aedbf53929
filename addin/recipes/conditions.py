"""Which rows of a table count for a quantity of the month, in the three
forms of a recipe: the rows dated in the month (``DatedRows``) and the
conditions they meet.

* ``Has``: the column counts by its kind's rule (a status given, an amount
  of money, a number of hours);
* ``Is``: a status (or an outcome, an answer) is the one wanted;
* ``AtLeast`` and ``AtMost``: a score or a rating compared with a threshold;
* ``InOrder``: a delivery not before its order;
* ``ByDueDay``: delivered by the agreed day, or no day agreed;
* ``NotOver``: a part (clicks) not over its whole (impressions).

Each writes a 0/1 factor of a workbook formula (``excel``), a mask over the
workbook's rows (``rows``) and an ibis condition (``ibis``), by the data
rules of ``rules`` and ``ibis_forms``. The ibis side is loaded only when
called (``IBIS``): ibis is an optional dependency, absent from xlwings Lite.
"""

from __future__ import annotations

import importlib
import operator
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from operator import is_, not_
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .rules import (
    Let,
    Rows,
    TableRows,
    both,
    equal_keys,
    excel_by_month,
    excel_counts,
    excel_within,
    in_order,
    row_indexes,
    valid,
    within,
)
from .tables import column

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .ibis_forms import Tables


#: Whether a value is given (not None), as a function for ``filter``.
is_not_none = partial(operator.is_not, None)


class _Lazy:
    """A module imported on first use: ``IBIS.read(...)`` imports ibis then."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


#: The ibis data rules (``ibis_forms``), imported when an ibis form runs.
IBIS: Any = _Lazy("addin.recipes.ibis_forms")


def kind_of(table: str, column_id: str) -> str:
    return column(table, column_id).kind


#: LET names of columns whose id is an Excel function's name.
_LET_NAMES = {"month": "month_start"}


def excel_column(let: Let, table: str, column_id: str) -> str:
    """Bind a column read by its kind's rule, named as the column."""
    name = _LET_NAMES.get(column_id, column_id)
    return let.value(table, column_id, kind_of(table, column_id), name)


def excel_counted(let: Let, table: str, column_id: str) -> str:
    """Bind 1 where a column's cell counts by its kind's rule, else 0: once
    per formula, however many quantities ask."""
    value = excel_column(let, table, column_id)
    return let.bind(f"{value}_counts", excel_counts(kind_of(table, column_id), value))


def read(data: TableRows, table: str, column_id: str) -> list[Any]:
    return data.read(column_id, kind_of(table, column_id))


# --- which rows count: the conditions ------------------------------------------------------


@dataclass(frozen=True)
class Has:
    """The rows where ``column`` counts by its kind's rule (a status given,
    an amount of money, a number of hours)."""

    column: str

    def excel(self, let: Let, table: str) -> str:
        return excel_counted(let, table, self.column)

    def rows(self, data: TableRows, table: str) -> list[bool]:
        return valid(data, self.column, kind_of(table, self.column))

    def ibis(self, tables: Tables, table: str) -> ir.BooleanValue:
        return IBIS.read(tables, table, self.column).notnull()


@dataclass(frozen=True)
class Is:
    """The rows whose choice ``column`` (a status, an outcome) is ``wanted``,
    compared as the text rule compares (trimmed, in any letter case)."""

    column: str
    wanted: str

    def excel(self, let: Let, table: str) -> str:
        return f'({excel_column(let, table, self.column)}="{self.wanted}")'

    def rows(self, data: TableRows, table: str) -> list[bool]:
        return equal_keys(data, self.column, self.wanted)

    def ibis(self, tables: Tables, table: str) -> ir.BooleanValue:
        return (IBIS.read(tables, table, self.column) == self.wanted).fill_null(False)


#: The comparisons a condition makes, as Excel writes them and as Python
#: (and ibis) compute them.
_COMPARISONS: Mapping[str, Callable[[Any, Any], Any]] = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Compared:
    """The rows where ``column`` counts and compares with ``threshold`` (a
    satisfied rating, a promoter's or a detractor's score)."""

    column: str
    comparison: str
    threshold: float

    def excel(self, let: Let, table: str) -> str:
        value = excel_column(let, table, self.column)
        counts = excel_counted(let, table, self.column)
        return f"{counts}*({value}{self.comparison}{self.threshold})"

    def rows(self, data: TableRows, table: str) -> list[bool]:
        compare = _COMPARISONS[self.comparison]
        return [
            v is not None and compare(v, self.threshold) for v in read(data, table, self.column)
        ]

    def ibis(self, tables: Tables, table: str) -> ir.BooleanValue:
        value = IBIS.read(tables, table, self.column)
        return _COMPARISONS[self.comparison](value, self.threshold).fill_null(False)


def AtLeast(column: str, threshold: float) -> Compared:  # noqa: N802  (reads as a condition)
    return Compared(column, ">=", threshold)


def AtMost(column: str, threshold: float) -> Compared:  # noqa: N802  (reads as a condition)
    return Compared(column, "<=", threshold)


@dataclass(frozen=True)
class InOrder:
    """The rows where both moments count and ``then`` is not before
    ``first``: a delivery before its order is a typing error, left out
    rather than counted as a negative time."""

    first: str
    then: str

    def excel(self, let: Let, table: str) -> str:
        first, then = excel_column(let, table, self.first), excel_column(let, table, self.then)
        return f"{excel_counted(let, table, self.first)}*({then}>={first})"

    def rows(self, data: TableRows, table: str) -> list[bool]:
        # Both dates given and the second not before the first.
        return list(map(is_, in_order(data, self.first, self.then), repeat(True)))

    def ibis(self, tables: Tables, table: str) -> ir.BooleanValue:
        first, then = IBIS.read(tables, table, self.first), IBIS.read(tables, table, self.then)
        return first.notnull() & (then >= first).fill_null(False)


@dataclass(frozen=True)
class ByDueDay:
    """The rows delivered by the agreed day (at any time of it); a row
    without an agreed day had none, so it counts, delivery time or not."""

    delivered: str
    due: str

    def excel(self, let: Let, table: str) -> str:
        delivered = excel_column(let, table, self.delivered)
        due = excel_column(let, table, self.due)
        return (
            f"((1-{excel_counted(let, table, self.due)})"
            f"+{excel_counted(let, table, self.delivered)}*({delivered}<{due}+1)>0)"
        )

    def rows(self, data: TableRows, table: str) -> list[bool]:
        return [
            due is None or (done is not None and done < due + 1)
            for done, due in zip(
                data.read(self.delivered, "date"), data.read(self.due, "date"), strict=True
            )
        ]

    def ibis(self, tables: Tables, table: str) -> ir.BooleanValue:
        delivered = IBIS.read(tables, table, self.delivered)
        due = IBIS.read(tables, table, self.due)
        return due.isnull() | (delivered.notnull() & (delivered < due + 1)).fill_null(False)


@dataclass(frozen=True)
class NotOver:
    """The rows whose ``part`` is not over its ``whole`` (clicks over
    impressions, churned customers over those at the start): a ratio's row
    that breaks it is a typing error, left out."""

    part: str
    whole: str

    def excel(self, let: Let, table: str) -> str:
        part, whole = excel_column(let, table, self.part), excel_column(let, table, self.whole)
        return f"({part}<={whole})"

    def rows(self, data: TableRows, table: str) -> list[bool]:
        return [
            p is None or w is None or p <= w
            for p, w in zip(
                read(data, table, self.part), read(data, table, self.whole), strict=True
            )
        ]

    def ibis(self, tables: Tables, table: str) -> ir.BooleanValue:
        part, whole = IBIS.read(tables, table, self.part), IBIS.read(tables, table, self.whole)
        return (part <= whole).fill_null(True)


Condition = Has | Is | Compared | InOrder | ByDueDay | NotOver


@dataclass(frozen=True)
class DatedRows:
    """The rows of a table dated in the month that meet every condition."""

    table: str
    dated_by: str
    where: tuple[Condition, ...] = ()

    def excel(self, let: Let, s: str, e: str, *, padded: bool = False) -> str:
        """Bind the rows as 0 or 1 (padded: for a formula that counts ids)."""
        if padded:
            dated = let.value(
                self.table, self.dated_by, "date", f"{self.dated_by}_all", padded=True
            )
        else:
            dated = excel_column(let, self.table, self.dated_by)
        # The month's window is bound once per date column, and shared by
        # the quantities that count its rows under different conditions.
        window = let.bind(f"{dated}_in_month", excel_within(dated, s, e))
        if not self.where:
            return window
        conditions = "".join(f"*{c.excel(let, self.table)}" for c in self.where)
        return let.bind("counted", window + conditions)

    def excel_months(self, let: Let, starts: str, ends: str) -> tuple[str, str]:
        """Bind the months-by-rows window of every month and the rows that meet
        the conditions (1 or 0, a column; 1 on every row without conditions),
        in a formula of all the months (``Let(padded=True)``)."""
        dated = excel_column(let, self.table, self.dated_by)
        window = excel_by_month(let, dated, starts, ends)
        if not self.where:
            return window, let.bind(f"{self.table.lower()}_rows", f"1+0*{dated}")
        conditions = "".join(f"*{c.excel(let, self.table)}" for c in self.where)
        return window, let.bind("counted", "1" + conditions)

    def rows(self, rows: Rows, s: float, e: float) -> list[bool]:
        data = rows[self.table]
        return both(
            within(data, self.dated_by, s, e), *(c.rows(data, self.table) for c in self.where)
        )

    def indices(self, rows: Rows, s: float, e: float) -> Sequence[int]:
        """The rows of ``rows`` as indexes in sheet order: the month's bucket
        of the date column, filtered by the conditions' mask (built once for
        every month). Callers must not change the array."""
        data = rows[self.table]
        dated = data.rows_within(self.dated_by, s, e)
        if not self.where:
            return dated
        # Several quantities of the month count the same rows (a sum and the
        # count of a mean; a status share's denominator, which another
        # share also divides by): found once.
        key = ("dated rows", self.dated_by, self.where, s, e)
        found = data.memo.get(key)
        if found is None:
            mask = data.mask(
                (self.table, self.where),
                lambda: both(*(c.rows(data, self.table) for c in self.where)),
            )
            # Where no row the conditions leave out is dated in the month
            # (an amount is missing on no delivered order), the month's rows
            # are all kept: no row of it need be looked at.
            left_out = self._left_out(data, mask)
            at = bisect_left(left_out, s)
            if at == len(left_out) or left_out[at] >= e:
                found = data.memo[key] = dated
            else:
                found = data.memo[key] = row_indexes(compress(dated, map(mask.__getitem__, dated)))
        return found  # type: ignore[return-value]

    def _left_out(self, data: TableRows, mask: list[bool]) -> list[float]:
        """The dates, sorted, of the dated rows that the conditions leave out."""
        key = ("left out", self.dated_by, self.where)
        found = data.memo.get(key)
        if found is None:
            if False in mask:  # a pass in C over True and False alone
                dates = data.read(self.dated_by, "date")
                left = compress(dates, map(not_, mask))
                found = data.memo[key] = sorted(filter(is_not_none, left))
            else:
                found = data.memo[key] = []
        return found  # type: ignore[return-value]

    def ibis(self, tables: Tables, s: float, e: float) -> ir.BooleanValue:
        counted = IBIS.within(IBIS.read(tables, self.table, self.dated_by), s, e)
        for condition in self.where:
            counted &= condition.ibis(tables, self.table)
        return counted
