"""Shared quantities, each defined once in the three forms a recipe needs.

A recipe composes its KPI from these, as pint composes units from units:
"the month's revenue over the members present at its start" is
``DatedSum(revenue place) / PresentAtStart(members table)``, and each of the
two says once, for all KPIs that use it, how it is computed

* in the workbook (``excel``: binds LET names in a ``Let`` and returns the
  name of the value),
* on the workbook's rows (``rows``: the engine's number for the same month),
* through ibis (``ibis``: the number computed where the data lives).

The three follow the data rules of ``rules`` (and ``ibis_forms``). The ibis
form is loaded only when called (``IBIS``): ibis is an optional dependency,
absent from xlwings Lite.

The quantities:

* ``DatedSum``: the sum of a money column over the rows dated in the month
  ("revenue of the month", such as Payments[amount] by paid_on);
* ``DatedCount``: the rows dated in the month (attendances);
* ``ActiveUsers``: the month's distinct active members ("active users");
* ``PresentAtStart``: who is listed in a master table at the start of the
  month ("members present at the start"); ``excel_cohort`` and ``keys_at``
  add those present at its end, for churn and retention;
* ``excel_newcomers`` and ``newcomer_keys``: who joined in the month ("new
  in the month"), and the cohort they join;
* ``MonthlySum``: a monthly table's column summed over the month's rows
  that count ("a monthly column's sum"; ``excel_monthly_rows`` and
  ``monthly_mask`` give the rows, for KPIs that sum several columns);
* ``Retained``: who of the cohort is still there at the end of the month.

Which table and column hold a business type's revenue and members is the
type's fact: ``[holds]`` in its catalogue file (``kpi_engine.BusinessType.holds``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import kpi_engine

from .recipe import EngineCall, Recipe, ratio
from .rules import (
    ExcelStays,
    Let,
    Rows,
    TableRows,
    both,
    excel_counts,
    excel_distinct,
    excel_stays,
    excel_within,
    present_at,
    stays,
    total,
    valid,
    within,
)
from .tables import MASTERS, PARTS_OF_WHOLES, column

if TYPE_CHECKING:
    from .ibis_forms import Tables


class Quantity(Protocol):
    """A number of the month in the three forms; what recipes compose."""

    def excel(self, let: Let, s: str, e: str) -> str:
        """Bind it in ``let``; the LET name of its value."""

    def rows(self, rows: Rows, s: float, e: float) -> float:
        """Its value on the workbook's rows."""

    def ibis(self, tables: Tables, s: float, e: float) -> float:
        """Its value where the data lives."""


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


# --- revenue of the month, rows of the month ----------------------------------------------


@dataclass(frozen=True)
class DatedSum:
    """The sum of a money column over the rows dated in the month: a business
    type's revenue of the month where it is paid row by row (Payments)."""

    table: str
    date_column: str
    value_column: str

    @classmethod
    def revenue_of(cls, business_type: str) -> DatedSum:
        """The revenue of the month, where the type's catalogue file says it is."""
        place = kpi_engine.get_business_type(business_type).holds["revenue"]
        return cls(place["table"], place["dated_by"], place["column"])

    def excel(self, let: Let, s: str, e: str) -> str:
        dated = let.value(self.table, self.date_column, "date", "dated")
        value = let.value(self.table, self.value_column, "money", "paid")
        return let.bind(
            "amount", f"SUM({excel_within(dated, s, e)}*{excel_counts('money', value)}*{value})"
        )

    def rows(self, rows: Rows, s: float, e: float) -> float:
        data = rows[self.table]
        counted = both(
            within(data, self.date_column, s, e), valid(data, self.value_column, "money")
        )
        return total(data.read(self.value_column, "money"), counted)

    def ibis(self, tables: Tables, s: float, e: float) -> float:
        dated = IBIS.within(IBIS.read(tables, self.table, self.date_column), s, e)
        value = IBIS.read(tables, self.table, self.value_column)
        return float(IBIS.fetch(tables[self.table], amount=IBIS.total(value, dated))["amount"])


@dataclass(frozen=True)
class DatedCount:
    """The rows dated in the month (the month's attendances)."""

    table: str
    date_column: str

    def excel(self, let: Let, s: str, e: str) -> str:
        dated = let.value(self.table, self.date_column, "date", "dated")
        return let.bind("amount", f"SUM({excel_within(dated, s, e)})")

    def rows(self, rows: Rows, s: float, e: float) -> float:
        return float(sum(within(rows[self.table], self.date_column, s, e)))

    def ibis(self, tables: Tables, s: float, e: float) -> float:
        dated = IBIS.within(IBIS.read(tables, self.table, self.date_column), s, e)
        return float(IBIS.fetch(tables[self.table], amount=IBIS.number_of(dated))["amount"])


# --- active users of the month --------------------------------------------------------------


@dataclass(frozen=True)
class ActiveUsers:
    """The month's distinct active members (activity of an id missing from
    Members still counts): what MAU counts."""

    def excel(self, let: Let, s: str, e: str) -> str:
        return excel_active_users(let, s, e)

    def rows(self, rows: Rows, s: float, e: float) -> float:
        activity = rows["Activity"]
        return float(kpi_engine.mau(activity["member_id"], activity["active_on"], s))

    def ibis(self, tables: Tables, s: float, e: float) -> float:
        return float(IBIS.active_users(tables, s, e))


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

    def keys(self, rows: Rows, s: float) -> set[str]:
        return present_at(stays(rows[self.table], MASTERS[self.table]), s)

    def rows(self, rows: Rows, s: float, e: float) -> float:
        return float(len(self.keys(rows, s)))

    def ibis(self, tables: Tables, s: float, e: float) -> float:
        listed = IBIS.stays(tables, self.table)
        return float(
            IBIS.fetch(listed.table, before=listed.distinct(listed.present_at(s)))["before"]
        )


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


def keys_at(rows: Rows, table: str, s: float, e: float) -> tuple[set[str], set[str]]:
    """The ids present at the start and at the end of [s, e)."""
    present = PresentAtStart(table)
    return present.keys(rows, s), present.keys(rows, e)


@dataclass(frozen=True)
class ExcelNewcomers:
    """LET names: who is listed, their stays at the start and joined in the
    month, and the numbers of the cohort and of the newcomers."""

    listed: ExcelStays
    at_start: str
    joined: str
    before: str
    new: str

    def among(self, condition: str) -> str:
        """The number of newcomers whose joining row meets ``condition``."""
        chosen = excel_distinct(self.listed.who, f"({self.at_start}+{self.joined}*{condition}>0)")
        return f"({chosen}-{self.before})"


def excel_newcomers(let: Let, table: str, s: str, e: str) -> ExcelNewcomers:
    """Bind the cohort at the start of [s, e) and the newcomers of [s, e): who
    joined in it and was not there at its start (a comeback counts; a second
    row of someone present does not)."""
    listed, at_start, before = PresentAtStart(table).bind(let, s)
    joined = let.bind("joined", listed.joined_during(s, e))
    either = excel_distinct(listed.who, f"({at_start}+{joined}>0)")
    return ExcelNewcomers(listed, at_start, joined, before, let.bind("new", f"{either}-{before}"))


def newcomer_keys(
    table: TableRows, id_column: str, s: float, e: float, via: str = ""
) -> tuple[set[str], set[str]]:
    """The engine's side of ``excel_newcomers``: (cohort, newcomers) as id keys."""
    listed = stays(table, id_column)
    at_start = present_at(listed, s)
    channels = table.read("acquired_via", "choice") if via else None
    joined = {
        stay.key
        for stay in listed
        if s <= stay.since < e and (channels is None or channels[stay.row] == via)
    }
    return at_start, joined - at_start


def excel_active_users(let: Let, s: str, e: str) -> str:
    """Bind the month's distinct active members (activity of an id missing
    from Members still counts) and return the name of their number."""
    active = let.value("Activity", "active_on", "date", "active", padded=True)
    member = let.value("Activity", "member_id", "id", "member", padded=True)
    counted = let.bind("active_rows", f'{excel_within(active, s, e)}*({member}<>"")')
    return let.bind("users", excel_distinct(member, counted))


def kind_of(table: str, column_id: str) -> str:
    return column(table, column_id).kind


def excel_monthly_rows(
    let: Let, table: str, columns: Mapping[str, str], s: str, e: str, *, shares: bool = False
) -> tuple[str, dict[str, str]]:
    """Bind a monthly table's month, the given columns (id -> LET name) and
    ``counted``: the month's rows in which every one of them counts."""
    month = let.value(table, "month", "month", "month_start")
    names = {
        column: let.value(table, column, kind_of(table, column), name)
        for column, name in columns.items()
    }
    checks = "".join(f"*{excel_counts(kind_of(table, c), n)}" for c, n in names.items())
    if shares:
        checks += "".join(
            f"*({names[part]}<={names[whole]})"
            for part, whole in PARTS_OF_WHOLES.get(table, ())
            if part in names and whole in names
        )
    counted = let.bind("counted", f"{excel_within(month, s, e)}{checks}")
    return counted, names


def monthly_mask(
    rows: Rows, table: str, columns: tuple[str, ...], s: float, e: float, *, shares: bool = False
) -> list[bool]:
    data = rows[table]
    masks = [within(data, "month", s, e)] + [valid(data, c, kind_of(table, c)) for c in columns]
    mask = both(*masks)
    if shares:
        for part, whole in PARTS_OF_WHOLES.get(table, ()):
            if part in columns and whole in columns:
                mask = both(
                    mask,
                    [
                        p is None or w is None or p <= w
                        for p, w in zip(
                            data.read(part, "whole"), data.read(whole, "whole"), strict=True
                        )
                    ],
                )
    return mask


# --- a monthly column's sum, and who stayed --------------------------------------------------


@dataclass(frozen=True)
class MonthlySum:
    """The sum of one column of a monthly table over the month's rows where
    it counts (a month's reach, its retention spend)."""

    table: str
    column: str
    name: str = "measured"

    def excel(self, let: Let, s: str, e: str) -> str:
        counted, names = excel_monthly_rows(let, self.table, {self.column: self.name}, s, e)
        return let.bind(f"{self.name}_total", f"SUM({counted}*{names[self.column]})")

    def rows(self, rows: Rows, s: float, e: float) -> float:
        mask = monthly_mask(rows, self.table, (self.column,), s, e)
        return total(rows[self.table].read(self.column, kind_of(self.table, self.column)), mask)

    def ibis(self, tables: Tables, s: float, e: float) -> float:
        return float(IBIS.monthly(tables, self.table, (self.column,), s, e)[self.column])


@dataclass(frozen=True)
class Retained:
    """Who of those present at the start of the month is still there at its
    end (the cohort's |A and B|)."""

    table: str

    def excel(self, let: Let, s: str, e: str) -> str:
        return let.bind("kept", excel_cohort(let, self.table, s, e).retained)

    def rows(self, rows: Rows, s: float, e: float) -> float:
        at_start, at_end = keys_at(rows, self.table, s, e)
        return float(len(at_start & at_end))

    def ibis(self, tables: Tables, s: float, e: float) -> float:
        cohort = IBIS.cohort(tables, self.table, s, e)
        return float(cohort["before"] + cohort["after"] - cohort["either"])


# --- composing a recipe from quantities ----------------------------------------------------


def quotient(kpi_id: str, numerator: Quantity, denominator: Quantity) -> Recipe:
    """A KPI that is one quantity of the month over another, computed by the
    engine's function ``kpi_id`` (which says why when the denominator is 0)."""

    def formula(s: str, e: str) -> str:
        let = Let()
        above = numerator.excel(let, s, e)
        return ratio(let, above, denominator.excel(let, s, e))

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        return EngineCall(kpi_id, (numerator.rows(rows, s, e), denominator.rows(rows, s, e)))

    def ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        return IBIS.engine(kpi_id, numerator.ibis(tables, s, e), denominator.ibis(tables, s, e))

    return Recipe(kpi_id, formula, engine_call, ibis)


def total_of(kpi_id: str, quantity: Quantity) -> Recipe:
    """A KPI that is a sum of the month (revenue), computed by the engine's
    function ``kpi_id`` from that sum."""

    def formula(s: str, e: str) -> str:
        let = Let()
        return let.formula(quantity.excel(let, s, e))

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        return EngineCall(kpi_id, ([quantity.rows(rows, s, e)],))

    def ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        return IBIS.engine(kpi_id, [quantity.ibis(tables, s, e)])

    return Recipe(kpi_id, formula, engine_call, ibis)
