"""One recipe per KPI: what it reads, its workbook formula, its engine call.

A recipe says, once, how a KPI is measured for one month [start, end) from
the data tables: as a native Excel formula (so the workbook computes without
the add-in) and as a call to a ``kpi_engine`` function on the same rows (so
the report refresh, and the add-in function of that name, give the value the
formula gives). Both follow the data rules of ``rules``.

The formulas use functions of Excel 2021 and later (LET, FILTER, UNIQUE,
SORT, SEQUENCE), each column is read a fixed number of times, and no formula
compares every row with every other: recalculation grows with the data (a
sort adds a logarithm), not with its square. In particular "customers with
two orders or more" sorts the window's customer ids and counts the ids equal
to the one before them, because UNIQUE's exactly-once mode is quadratic in
LibreOffice, and churn counts the ids present at the start, at the end and
at either, which gives both the churned and the retained without a lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kpi_engine
from kpi_engine._inputs import first_of_month, serial_to_date, to_serial

from .rules import (
    ExcelStays,
    Let,
    Rows,
    TableRows,
    as_rows,
    both,
    equal_keys,
    excel_counts,
    excel_distinct,
    excel_stays,
    excel_within,
    pick,
    present_at,
    stays,
    total,
    valid,
    within,
)
from .tables import EXTRA_TABLES, MASTERS, PARTS_OF_WHOLES, TABLES, UNUSED_COLUMNS, Column, column

UNDEFINED = '"-"'


@dataclass(frozen=True)
class EngineCall:
    """A ``kpi_engine`` function and the arguments a recipe gives it."""

    function: str
    args: tuple[Any, ...]

    def run(self) -> float:
        return float(getattr(kpi_engine, self.function)(*self.args))


#: An ibis form: (tables, start, end, settings) -> the KPI's value (see ``ibis_forms``).
Measure = Callable[..., float]


def ibis_form(name: str, *args: Any) -> Callable[[], Measure]:
    """The ibis form ``name`` of ``ibis_forms`` (made from ``args`` when it is
    a form made from parameters), loaded when first asked for: ibis is an
    optional dependency (``kpi-addin[sources]``), absent from xlwings Lite."""

    def load() -> Measure:
        form = getattr(importlib.import_module("addin.recipes.ibis_forms"), name)
        return form(*args) if args else form  # type: ignore[no-any-return]

    return load


@dataclass(frozen=True)
class Recipe:
    """How one KPI is measured for a month: in Excel, with the engine on the
    workbook's rows and, through ibis, in a database. The three forms follow
    the same data rules and give the same value."""

    kpi_id: str
    #: The columns it reads, per table.
    reads: Mapping[str, tuple[str, ...]]
    #: The formula for the month [start, end), given as cell references; it
    #: shows a dash where the KPI is undefined.
    formula: Callable[[str, str], str]
    engine_call: Callable[[Rows, float, float], EngineCall]
    #: Loads the ibis form (``ibis_form(...)``); None: the recipe has none yet.
    ibis_loader: Callable[[], Measure] | None = field(default=None, compare=False, repr=False)

    def compute(self, rows: Mapping[str, Mapping[str, Any]], start: float, end: float) -> float:
        """The engine's value for [start, end); KPIUndefinedError when there is none."""
        return self.engine_call(as_rows(rows), start, end).run()

    @property
    def ibis(self) -> Measure | None:
        """The recipe's ibis form (imports ibis); None when it has none."""
        return None if self.ibis_loader is None else self.ibis_loader()

    @property
    def module_path(self) -> str:
        """The file that holds the recipe, for messages that say where to edit."""
        module = getattr(self.formula, "__module__", __name__)
        return module.replace(".", "/") + ".py"


class MissingRecipeError(KeyError):
    """A KPI of a business type that no recipe measures; the message says
    where to add one."""

    def __str__(self) -> str:
        return str(self.args[0])


def month_shift(serial: float, months: int) -> float:
    """EDATE for the first day of a month, in serial numbers."""
    return to_serial("recipe", "month", first_of_month(serial_to_date(serial), months))


def _ratio(let: Let, numerator: str, denominator: str) -> str:
    """The result of a LET: a dash where the denominator is 0."""
    return let.formula(f"IF({denominator}=0,{UNDEFINED},{numerator}/{denominator})")


# --- orders ----------------------------------------------------------------------------


def _fulfillment(s: str, e: str) -> str:
    let = Let()
    ordered = let.value("Orders", "ordered_at", "datetime", "ordered")
    delivered = let.value("Orders", "delivered_at", "datetime", "delivered")
    # A delivery before its order is a typing error: left out, not a negative time.
    counted = let.bind(
        "counted",
        f"{excel_within(delivered, s, e)}*({ordered}>=1)*({delivered}>={ordered})",
    )
    orders = let.bind("orders", f"SUM({counted})")
    return _ratio(let, f"SUM({counted}*({delivered}-{ordered}))*24", orders)


def _fulfillment_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    mask = within(orders, "delivered_at", s, e)
    return EngineCall(
        "avg_fulfillment_time_from_timestamps",
        (pick(orders["ordered_at"], mask), pick(orders["delivered_at"], mask)),
    )


def _status_share_formula(
    table: str, date_column: str, status_column: str, wanted: str
) -> Callable[[str, str], str]:
    """Rows of the month whose status is ``wanted``, among rows with a status."""

    def formula(s: str, e: str) -> str:
        let = Let()
        dated = let.value(table, date_column, "date", "dated")
        status = let.value(table, status_column, "choice", "status")
        counted = let.bind("counted", f'{excel_within(dated, s, e)}*({status}<>"")')
        rows = let.bind("with_status", f"SUM({counted})")
        return _ratio(let, f'SUM({counted}*({status}="{wanted}"))', rows)

    return formula


def _completion_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    statuses = pick(orders["status"], within(orders, "ordered_at", s, e))
    return EngineCall("completion_rate_from_statuses", (statuses, "completed"))


def _on_time(s: str, e: str) -> str:
    # Completed and delivered by the agreed day (any time of it), among the
    # month's orders with a status; no agreed day: the status decides.
    let = Let()
    ordered = let.value("Orders", "ordered_at", "datetime", "ordered")
    status = let.value("Orders", "status", "choice", "status")
    delivered = let.value("Orders", "delivered_at", "datetime", "delivered")
    due = let.value("Orders", "due_on", "date", "due")
    counted = let.bind("counted", f'{excel_within(ordered, s, e)}*({status}<>"")')
    rows = let.bind("with_status", f"SUM({counted})")
    in_time = (
        f'{counted}*({status}="completed")*{excel_counts("datetime", delivered)}'
        f"*((1-{excel_counts('date', due)})+({delivered}<{due}+1)>0)"
    )
    return _ratio(let, f"SUM({in_time})", rows)


def _on_time_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    mask = within(orders, "ordered_at", s, e)
    return EngineCall(
        "completion_rate_on_time",
        (
            pick(orders["status"], mask),
            pick(orders["delivered_at"], mask),
            pick(orders["due_on"], mask),
            "completed",
        ),
    )


def _delivered_amounts(let: Let, s: str, e: str) -> tuple[str, str]:
    """Bind the revenue and the number of the orders delivered in [s, e) with an amount."""
    delivered = let.value("Orders", "delivered_at", "datetime", "delivered")
    amount = let.value("Orders", "amount", "money", "amount")
    counted = let.bind(
        "counted", f"{excel_within(delivered, s, e)}*{excel_counts('money', amount)}"
    )
    return let.bind("revenue", f"SUM({counted}*{amount})"), let.bind("orders", f"SUM({counted})")


def _delivered_mask(rows: Rows, s: float, e: float) -> list[bool]:
    orders = rows["Orders"]
    return both(within(orders, "delivered_at", s, e), valid(orders, "amount", "money"))


def _order_revenue(s: str, e: str) -> str:
    let = Let()
    revenue, _ = _delivered_amounts(let, s, e)
    return let.formula(revenue)


def _order_revenue_engine(rows: Rows, s: float, e: float) -> EngineCall:
    return EngineCall("revenue", (pick(rows["Orders"]["amount"], _delivered_mask(rows, s, e)),))


def _order_value(s: str, e: str) -> str:
    let = Let()
    revenue, orders = _delivered_amounts(let, s, e)
    return _ratio(let, revenue, orders)


def _order_value_engine(rows: Rows, s: float, e: float) -> EngineCall:
    mask = _delivered_mask(rows, s, e)
    amounts = rows["Orders"].read("amount", "money")
    return EngineCall("average_order_value", (total(amounts, mask), sum(mask)))


def _dated_sum(kpi_id: str, table: str, date_column: str, value_column: str) -> Recipe:
    """The sum of a column over the rows dated in the month (revenue from payments)."""

    def formula(s: str, e: str) -> str:
        let = Let()
        dated = let.value(table, date_column, "date", "dated")
        value = let.value(table, value_column, "money", "measured")
        return let.formula(
            f"SUM({excel_within(dated, s, e)}*{excel_counts('money', value)}*{value})"
        )

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        return EngineCall(kpi_id, (pick(data[value_column], within(data, date_column, s, e)),))

    ibis = ibis_form("_dated_sum", kpi_id, table, date_column, value_column)
    return Recipe(kpi_id, {table: (date_column, value_column)}, formula, engine_call, ibis)


def _repeat(s: str, e: str) -> str:
    # Over the twelve months that end with the period: a month alone is too
    # short for a second purchase.
    let = Let()
    ordered = let.value("Orders", "ordered_at", "datetime", "ordered", padded=True)
    customer = let.value("Orders", "customer_id", "id", "customer", padded=True)
    counted = let.bind("counted", f'{excel_within(ordered, f"EDATE({e},-12)", e)}*({customer}<>"")')
    # Equal ids stand together once sorted: an id equal to the one before it
    # belongs to a customer with two orders or more. The window's ids are
    # sorted with the column's blanks (at least two: see Let.cells), which
    # keeps the result an array and never counts.
    sorted_ids = let.bind("sorted", f'SORT(FILTER({customer},{counted}+({customer}="")>0))')
    pairs = let.bind("pairs", f"SEQUENCE(ROWS({sorted_ids})-1)")
    after = let.bind("after", f"INDEX({sorted_ids},{pairs}+1)")
    repeated = let.bind("repeated", f'(INDEX({sorted_ids},{pairs})={after})*({after}<>"")')
    repeats = let.bind("repeaters", excel_distinct(after, repeated))
    customers = let.bind("customers", excel_distinct(customer, counted))
    return _ratio(let, repeats, customers)


def _repeat_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    mask = within(orders, "ordered_at", month_shift(e, -12), e)
    return EngineCall("repeat_purchase_rate_from_orders", (pick(orders["customer_id"], mask),))


def _turnaround(s: str, e: str) -> str:
    let = Let()
    delivered = let.value("Orders", "delivered_at", "datetime", "delivered")
    status = let.value("Orders", "status", "choice", "status")
    hours = let.value("Orders", "work_hours", "number", "hours")
    counted = let.bind(
        "counted",
        f'{excel_within(delivered, s, e)}*({status}="completed")*{excel_counts("number", hours)}',
    )
    projects = let.bind("projects", f"SUM({counted})")
    return _ratio(let, f"SUM({counted}*{hours})", projects)


def _turnaround_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    hours = orders.read("work_hours", "number")
    mask = both(
        within(orders, "delivered_at", s, e),
        equal_keys(orders, "status", "completed"),
        valid(orders, "work_hours", "number"),
    )
    return EngineCall("avg_turnaround_time", (total(hours, mask), sum(mask)))


# --- survey ----------------------------------------------------------------------------


def _nps(s: str, e: str) -> str:
    let = Let()
    answered = let.value("Survey", "answered_on", "date", "answered")
    score = let.value("Survey", "recommend_score", "score", "score")
    counted = let.bind("counted", f"{excel_within(answered, s, e)}*{excel_counts('score', score)}")
    responses = let.bind("responses", f"SUM({counted})")
    promoters = f"SUM({counted}*({score}>=9))"
    detractors = f"SUM({counted}*({score}<=6))"
    # Multiply before dividing, as the engine does.
    return let.formula(f"IF({responses}=0,{UNDEFINED},({promoters}-{detractors})*100/{responses})")


def _nps_engine(rows: Rows, s: float, e: float) -> EngineCall:
    survey = rows["Survey"]
    return EngineCall(
        "nps", (pick(survey["recommend_score"], within(survey, "answered_on", s, e)),)
    )


def _csat(s: str, e: str) -> str:
    let = Let()
    answered = let.value("Survey", "answered_on", "date", "answered")
    rating = let.value("Survey", "satisfaction", "rating", "rating")
    counted = let.bind(
        "counted", f"{excel_within(answered, s, e)}*{excel_counts('rating', rating)}"
    )
    responses = let.bind("responses", f"SUM({counted})")
    satisfied = f"SUM({counted}*IF(ISNUMBER({rating}),{rating}>=4,FALSE))"
    return _ratio(let, satisfied, responses)


def _csat_engine(rows: Rows, s: float, e: float) -> EngineCall:
    survey = rows["Survey"]
    ratings = pick(survey["satisfaction"], within(survey, "answered_on", s, e))
    return EngineCall("csat_from_scores", (ratings, 4))


# --- who is there: customers, celebrities, members -------------------------------------
#
# A master table has a row per stay. The people present at the start of the
# month are the cohort; churned are those of the cohort not present at its
# end. With A the cohort and B those present at the end, the formulas count
# |A|, |B| and |A or B| with UNIQUE, which is linear, and take
# |A and B| = |A| + |B| - |A or B| and |A but not B| = |A or B| - |B|.


@dataclass(frozen=True)
class _Cohort:
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


def _cohort(let: Let, table: str, s: str, e: str) -> _Cohort:
    listed = excel_stays(let, table, MASTERS[table])
    at_start = let.bind("at_start", listed.present_at(s))
    at_end = let.bind("at_end", listed.present_at(e))
    return _Cohort(
        let.bind("before", excel_distinct(listed.who, at_start)),
        let.bind("after", excel_distinct(listed.who, at_end)),
        let.bind("either", excel_distinct(listed.who, f"({at_start}+{at_end}>0)")),
    )


def _keys_at(rows: Rows, table: str, s: float, e: float) -> tuple[set[str], set[str]]:
    listed = stays(rows[table], MASTERS[table])
    return present_at(listed, s), present_at(listed, e)


def _churn(s: str, e: str) -> str:
    let = Let()
    cohort = _cohort(let, "Customers", s, e)
    return _ratio(let, cohort.churned, cohort.before)


def _churn_engine(rows: Rows, s: float, e: float) -> EngineCall:
    return EngineCall("churn_rate_from_ids", tuple(map(sorted, _keys_at(rows, "Customers", s, e))))


def _retention(table: str) -> Recipe:
    def formula(s: str, e: str) -> str:
        let = Let()
        cohort = _cohort(let, table, s, e)
        return _ratio(let, cohort.retained, cohort.before)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        return EngineCall(
            "retention_rate_from_ids", tuple(map(sorted, _keys_at(rows, table, s, e)))
        )

    reads = {table: _MASTER_COLUMNS[table]}
    return Recipe("retention_rate", reads, formula, engine_call, ibis_form("_retention", table))


@dataclass(frozen=True)
class _Newcomers:
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


def _newcomers(let: Let, table: str, s: str, e: str) -> _Newcomers:
    """Bind the cohort at the start of [s, e) and the newcomers of [s, e): who
    joined in it and was not there at its start (a comeback counts; a second
    row of someone present does not)."""
    listed = excel_stays(let, table, MASTERS[table])
    at_start = let.bind("at_start", listed.present_at(s))
    joined = let.bind("joined", listed.joined_during(s, e))
    before = let.bind("before", excel_distinct(listed.who, at_start))
    either = excel_distinct(listed.who, f"({at_start}+{joined}>0)")
    return _Newcomers(listed, at_start, joined, before, let.bind("new", f"{either}-{before}"))


def _newcomer_keys(
    table: TableRows, id_column: str, s: float, e: float, via: str = ""
) -> tuple[set[str], set[str]]:
    """The engine's side of ``_newcomers``: (cohort, newcomers) as id keys."""
    listed = stays(table, id_column)
    at_start = present_at(listed, s)
    channels = table.read("acquired_via", "choice") if via else None
    joined = {
        stay.key
        for stay in listed
        if s <= stay.since < e and (channels is None or channels[stay.row] == via)
    }
    return at_start, joined - at_start


def _celebrity_acquisition(s: str, e: str) -> str:
    let = Let()
    newcomers = _newcomers(let, "Celebrities", s, e)
    return _ratio(let, newcomers.new, newcomers.before)


def _celebrity_acquisition_engine(rows: Rows, s: float, e: float) -> EngineCall:
    at_start, new = _newcomer_keys(rows["Celebrities"], "celebrity_id", s, e)
    return EngineCall("celebrity_acquisition_rate", (len(new), len(at_start)))


def _referral(s: str, e: str) -> str:
    let = Let()
    newcomers = _newcomers(let, "Customers", s, e)
    channel = let.value("Customers", "acquired_via", "choice", "channel", padded=True)
    return _ratio(let, newcomers.among(f'({channel}="referral")'), newcomers.new)


def _referral_engine(rows: Rows, s: float, e: float) -> EngineCall:
    customers = rows["Customers"]
    _, new = _newcomer_keys(customers, "customer_id", s, e)
    _, referred = _newcomer_keys(customers, "customer_id", s, e, via="referral")
    return EngineCall("referral_acquisition_rate", (len(referred), len(new)))


def _revenue_per_celebrity(s: str, e: str) -> str:
    let = Let()
    delivered = let.value("Orders", "delivered_at", "datetime", "delivered")
    amount = let.value("Orders", "amount", "money", "amount")
    revenue = let.bind(
        "revenue", f"SUM({excel_within(delivered, s, e)}*{excel_counts('money', amount)}*{amount})"
    )
    # Taking part actively: at least one video message delivered in the month.
    shown = let.value("Orders", "delivered_at", "datetime", "shown", padded=True)
    celebrity = let.value("Orders", "celebrity_id", "id", "celebrity", padded=True)
    active = let.bind("active", f'{excel_within(shown, s, e)}*({celebrity}<>"")')
    celebrities = let.bind("celebrities", excel_distinct(celebrity, active))
    return _ratio(let, revenue, celebrities)


def _revenue_per_celebrity_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    amounts = orders.read("amount", "money")
    delivered = within(orders, "delivered_at", s, e)
    revenue = total(amounts, both(delivered, valid(orders, "amount", "money")))
    active = {key for key in pick(orders.read("celebrity_id", "id"), delivered) if key is not None}
    return EngineCall("revenue_per_celebrity", (revenue, len(active)))


# --- members and their activity ----------------------------------------------------------


def _active_users(let: Let, s: str, e: str) -> str:
    """Bind the month's distinct active members (activity of an id missing
    from Members still counts) and return the name of their number."""
    active = let.value("Activity", "active_on", "date", "active", padded=True)
    member = let.value("Activity", "member_id", "id", "member", padded=True)
    counted = let.bind("active_rows", f'{excel_within(active, s, e)}*({member}<>"")')
    return let.bind("users", excel_distinct(member, counted))


def _mau(s: str, e: str) -> str:
    let = Let()
    users = _active_users(let, s, e)
    return let.formula(users)


def _mau_engine(rows: Rows, s: float, e: float) -> EngineCall:
    activity = rows["Activity"]
    return EngineCall("mau", (activity["member_id"], activity["active_on"], s))


def _per_active_user(kpi_id: str, table: str, date_column: str, value_column: str | None) -> Recipe:
    def formula(s: str, e: str) -> str:
        let = Let()
        dated = let.value(table, date_column, "date", "dated")
        if value_column is None:
            amount = let.bind("amount", f"SUM({excel_within(dated, s, e)})")
        else:
            value = let.value(table, value_column, "money", "paid")
            amount = let.bind(
                "amount", f"SUM({excel_within(dated, s, e)}*{excel_counts('money', value)}*{value})"
            )
        users = _active_users(let, s, e)
        return _ratio(let, amount, users)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        mask = within(data, date_column, s, e)
        if value_column is None:
            amount = float(sum(mask))
        else:
            values = data.read(value_column, "money")
            amount = total(values, both(mask, valid(data, value_column, "money")))
        return EngineCall(kpi_id, (amount, _mau_engine(rows, s, e).run()))

    columns = (date_column,) if value_column is None else (date_column, value_column)
    reads = {table: columns, "Activity": ("member_id", "active_on")}
    ibis = ibis_form("_per_active_user", kpi_id, table, date_column, value_column)
    return Recipe(kpi_id, reads, formula, engine_call, ibis)


def _per_row_average(
    kpi_id: str, table: str, date_column: str, value_column: str, *extra: Any
) -> Recipe:
    """An average over the month's rows whose value counts (time per visit);
    ``extra`` are the engine function's further arguments (the time unit)."""

    def formula(s: str, e: str) -> str:
        let = Let()
        dated = let.value(table, date_column, "date", "dated")
        value = let.value(table, value_column, "number", "measured")
        counted = let.bind(
            "counted", f"{excel_within(dated, s, e)}*{excel_counts('number', value)}"
        )
        rows = let.bind("counted_rows", f"SUM({counted})")
        return _ratio(let, f"SUM({counted}*{value})", rows)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        mask = both(within(data, date_column, s, e), valid(data, value_column, "number"))
        return EngineCall(
            kpi_id, (total(data.read(value_column, "number"), mask), sum(mask), *extra)
        )

    ibis = ibis_form("_per_row_average", kpi_id, table, date_column, value_column, *extra)
    return Recipe(kpi_id, {table: (date_column, value_column)}, formula, engine_call, ibis)


def _status_share(
    kpi_id: str, table: str, date_column: str, status_column: str, wanted: str
) -> Recipe:
    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        mask = both(within(data, date_column, s, e), valid(data, status_column, "choice"))
        hits = both(mask, equal_keys(data, status_column, wanted))
        return EngineCall(kpi_id, (sum(hits), sum(mask)))

    formula = _status_share_formula(table, date_column, status_column, wanted)
    ibis = ibis_form("_status_share", kpi_id, table, date_column, status_column, wanted)
    return Recipe(kpi_id, {table: (date_column, status_column)}, formula, engine_call, ibis)


# --- monthly tables: Social, Channels, Marketing, Funnel --------------------------------


def _monthly_rows(
    let: Let, table: str, columns: Mapping[str, str], s: str, e: str, *, shares: bool = False
) -> tuple[str, dict[str, str]]:
    """Bind a monthly table's month, the given columns (id -> LET name) and
    ``counted``: the month's rows in which every one of them counts."""
    month = let.value(table, "month", "month", "month_start")
    names = {
        column: let.value(table, column, _kind(table, column), name)
        for column, name in columns.items()
    }
    checks = "".join(f"*{excel_counts(_kind(table, c), n)}" for c, n in names.items())
    if shares:
        checks += "".join(
            f"*({names[part]}<={names[whole]})"
            for part, whole in PARTS_OF_WHOLES.get(table, ())
            if part in names and whole in names
        )
    counted = let.bind("counted", f"{excel_within(month, s, e)}{checks}")
    return counted, names


def _monthly_mask(
    rows: Rows, table: str, columns: tuple[str, ...], s: float, e: float, *, shares: bool = False
) -> list[bool]:
    data = rows[table]
    masks = [within(data, "month", s, e)] + [valid(data, c, _kind(table, c)) for c in columns]
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


def _monthly_ratio(kpi_id: str, table: str, numerator: str, denominator: str) -> Recipe:
    """A KPI that divides two column sums of a monthly table, row by row valid."""

    def formula(s: str, e: str) -> str:
        let = Let()
        counted, names = _monthly_rows(
            let, table, {numerator: "part", denominator: "whole"}, s, e, shares=True
        )
        whole = let.bind("whole_total", f"SUM({counted}*{names[denominator]})")
        return _ratio(let, f"SUM({counted}*{names[numerator]})", whole)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        mask = _monthly_mask(rows, table, (numerator, denominator), s, e, shares=True)
        return EngineCall(
            kpi_id,
            (
                total(data.read(numerator, _kind(table, numerator)), mask),
                total(data.read(denominator, _kind(table, denominator)), mask),
            ),
        )

    ibis = ibis_form("_monthly_ratio", kpi_id, table, numerator, denominator)
    return Recipe(kpi_id, {table: ("month", numerator, denominator)}, formula, engine_call, ibis)


def _monthly_sum(kpi_id: str, table: str, column: str) -> Recipe:
    def formula(s: str, e: str) -> str:
        let = Let()
        counted, names = _monthly_rows(let, table, {column: "measured"}, s, e)
        return let.formula(f"SUM({counted}*{names[column]})")

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        return EngineCall(kpi_id, (pick(data[column], within(data, "month", s, e)),))

    ibis = ibis_form("_monthly_sum", kpi_id, table, column)
    return Recipe(kpi_id, {table: ("month", column)}, formula, engine_call, ibis)


def _growth(kpi_id: str, table: str, column: str, months: int = 1) -> Recipe:
    """The total of the ``months`` months ending with this one against the
    total of the ``months`` before them (1: month on month, 3: quarter on quarter)."""

    def formula(s: str, e: str) -> str:
        let = Let()
        month = let.value(table, "month", "month", "month_start")
        value = let.value(table, column, "whole", "measured")
        counts = let.bind("counts", excel_counts("whole", value))
        since = s if months == 1 else let.bind("since", f"EDATE({e},{-months})")
        current = let.bind("current", f"SUM({excel_within(month, since, e)}*{counts}*{value})")
        earlier = excel_within(month, f"EDATE({since},{-months})", since)
        before = let.bind("before", f"SUM({earlier}*{counts}*{value})")
        return _ratio(let, f"({current}-{before})", before)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        values = data.read(column, "whole")
        counts = valid(data, column, "whole")
        since = month_shift(e, -months)
        current = total(values, both(within(data, "month", since, e), counts))
        earlier = within(data, "month", month_shift(since, -months), since)
        before = total(values, both(earlier, counts))
        return EngineCall(kpi_id, (current, before))

    ibis = ibis_form("_growth", kpi_id, table, column, months)
    return Recipe(kpi_id, {table: ("month", column)}, formula, engine_call, ibis)


def _new_user_share(s: str, e: str) -> str:
    let = Let()
    counted, names = _monthly_rows(
        let, "Funnel", {"new_users": "new_cell", "returning_users": "back_cell"}, s, e
    )
    new = let.bind("new_total", f"SUM({counted}*{names['new_users']})")
    back = let.bind("back_total", f"SUM({counted}*{names['returning_users']})")
    return _ratio(let, new, f"({new}+{back})")


def _new_user_share_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Funnel"]
    columns = ("new_users", "returning_users")
    mask = _monthly_mask(rows, "Funnel", columns, s, e)
    return EngineCall("new_user_share", tuple(total(data.read(c, "whole"), mask) for c in columns))


def _engagement_rate(s: str, e: str) -> str:
    let = Let()
    counted, names = _monthly_rows(
        let, "Channels", {"likes": "likes", "comments": "comments", "followers": "followers"}, s, e
    )
    followers = let.bind("follower_total", f"SUM({counted}*{names['followers']})")
    interactions = f"(SUM({counted}*{names['likes']})+SUM({counted}*{names['comments']}))"
    return _ratio(let, interactions, followers)


def _engagement_rate_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Channels"]
    columns = ("likes", "comments", "followers")
    mask = _monthly_mask(rows, "Channels", columns, s, e)
    return EngineCall("engagement_rate", tuple(total(data.read(c, "whole"), mask) for c in columns))


def _roi(s: str, e: str) -> str:
    let = Let()
    counted, names = _monthly_rows(
        let, "Marketing", {"revenue_from_video": "gain", "video_spend": "cost"}, s, e
    )
    cost = let.bind("cost_total", f"SUM({counted}*{names['video_spend']})")
    return _ratio(let, f"(SUM({counted}*{names['revenue_from_video']})-{cost})", cost)


def _roi_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Marketing"]
    mask = _monthly_mask(rows, "Marketing", ("revenue_from_video", "video_spend"), s, e)
    return EngineCall(
        "return_on_investment",
        (
            total(data.read("revenue_from_video", "money"), mask),
            total(data.read("video_spend", "money"), mask),
        ),
    )


def _clv_revenue(s: str, e: str) -> str:
    # Revenue per customer at the start over the month's churn, as 003 defines
    # lifetime value (revenue, no margin).
    let = Let()
    cohort = _cohort(let, "Customers", s, e)
    counted, names = _monthly_rows(let, "Marketing", {"revenue": "revenue_cell"}, s, e)
    revenue = let.bind("revenue", f"SUM({counted}*{names['revenue']})")
    churned = let.bind("churned", cohort.churned)
    before = cohort.before
    return let.formula(
        f"IF(OR({before}=0,{churned}=0),{UNDEFINED},({revenue}/{before})/({churned}/{before}))"
    )


def _clv_revenue_engine(rows: Rows, s: float, e: float) -> EngineCall:
    marketing = rows["Marketing"]
    mask = _monthly_mask(rows, "Marketing", ("revenue",), s, e)
    revenue = total(marketing.read("revenue", "money"), mask)
    at_start, at_end = _keys_at(rows, "Customers", s, e)
    if not at_start:
        raise kpi_engine.KPIUndefinedError(
            "customer_lifetime_revenue",
            "there are no customers at the start",
            "no_customers_at_start",
        )
    churn = kpi_engine.churn_rate_from_ids(sorted(at_start), sorted(at_end))
    return EngineCall("customer_lifetime_revenue", (revenue / len(at_start), churn))


def _clv_funnel(s: str, e: str) -> str:
    let = Let()
    counted, names = _monthly_rows(
        let,
        "Funnel",
        {
            "revenue": "revenue_cell",
            "customers_at_start": "start_cell",
            "churned_customers": "gone_cell",
        },
        s,
        e,
        shares=True,
    )
    at_start = let.bind("at_start", f"SUM({counted}*{names['customers_at_start']})")
    churned = let.bind("churned", f"SUM({counted}*{names['churned_customers']})")
    revenue = let.bind("revenue", f"SUM({counted}*{names['revenue']})")
    return let.formula(
        f"IF(OR({at_start}=0,{churned}=0),{UNDEFINED},"
        f"({revenue}/{at_start})*GROSS_MARGIN/({churned}/{at_start}))"
    )


def _clv_funnel_engine(rows: Rows, s: float, e: float) -> EngineCall:
    data = rows["Funnel"]
    columns = ("revenue", "customers_at_start", "churned_customers")
    mask = _monthly_mask(rows, "Funnel", columns, s, e, shares=True)
    revenue, at_start, churned = (total(data.read(c, _kind("Funnel", c)), mask) for c in columns)
    if at_start == 0:
        raise kpi_engine.KPIUndefinedError(
            "customer_lifetime_value", "customers_at_start is 0", "zero_customers_at_start"
        )
    churn = kpi_engine.churn_rate(churned, at_start)
    return EngineCall(
        "customer_lifetime_value",
        (revenue / at_start, rows["Settings"]["GROSS_MARGIN"][0], churn),
    )


def _retention_cost(s: str, e: str) -> str:
    let = Let()
    cohort = _cohort(let, "Customers", s, e)
    counted, names = _monthly_rows(let, "Marketing", {"retention_spend": "spend_cell"}, s, e)
    spend = let.bind("spend", f"SUM({counted}*{names['retention_spend']})")
    kept = let.bind("kept", cohort.retained)
    return _ratio(let, spend, kept)


def _retention_cost_engine(rows: Rows, s: float, e: float) -> EngineCall:
    marketing = rows["Marketing"]
    mask = _monthly_mask(rows, "Marketing", ("retention_spend",), s, e)
    spend = total(marketing.read("retention_spend", "money"), mask)
    at_start, at_end = _keys_at(rows, "Customers", s, e)
    return EngineCall("customer_retention_cost", (spend, len(at_start & at_end)))


# --- the registry ---------------------------------------------------------------------------

_MASTER_COLUMNS: Mapping[str, tuple[str, ...]] = {
    table: (id_column, "joined_on", "left_on") for table, id_column in MASTERS.items()
}


def _kind(table: str, column_id: str) -> str:
    return column(table, column_id).kind


def _recipe(
    kpi_id: str, reads: Mapping[str, tuple[str, ...]], formula: Any, engine: Any, ibis: str
) -> Recipe:
    """A recipe whose three forms are functions of this module and of
    ``ibis_forms`` (``ibis``: the name there)."""
    return Recipe(kpi_id, reads, formula, engine, ibis_form(ibis))


#: Growth KPIs and the monthly table and column they compare.
GROWTH_COLUMNS: Mapping[str, tuple[str, str]] = {
    "engagement_growth": ("Social", "engagements"),
    "follower_growth_rate": ("Channels", "followers"),
}
#: The counts of article 004 (the catalogue's additive counts), each the
#: column of its own name in the monthly table that holds it: a month's
#: value is the sum of that column over the month's rows.
MONTHLY_COUNTS: Mapping[str, str] = {
    kpi.id: table
    for kpi in kpi_engine.KPIS.values()
    if kpi.additive and kpi.unit == "count"
    for table in ("Channels", "Funnel")
    if any(c.id == kpi.id for c in TABLES[table])
}

RECIPES: Mapping[str, Recipe] = {
    recipe.kpi_id: recipe
    for recipe in (
        _recipe(
            "avg_fulfillment_time",
            {"Orders": ("ordered_at", "delivered_at")},
            _fulfillment,
            _fulfillment_engine,
            "_fulfillment",
        ),
        _recipe(
            "celebrity_acquisition_rate",
            {"Celebrities": _MASTER_COLUMNS["Celebrities"]},
            _celebrity_acquisition,
            _celebrity_acquisition_engine,
            "_celebrity_acquisition",
        ),
        _recipe(
            "repeat_purchase_rate",
            {"Orders": ("ordered_at", "customer_id")},
            _repeat,
            _repeat_engine,
            "_repeat",
        ),
        _recipe(
            "completion_rate",
            {"Orders": ("ordered_at", "status")},
            _status_share_formula("Orders", "ordered_at", "status", "completed"),
            _completion_engine,
            "_completion",
        ),
        _recipe("nps", {"Survey": ("answered_on", "recommend_score")}, _nps, _nps_engine, "_nps"),
        _recipe(
            "revenue_per_celebrity",
            {"Orders": ("delivered_at", "celebrity_id", "amount")},
            _revenue_per_celebrity,
            _revenue_per_celebrity_engine,
            "_revenue_per_celebrity",
        ),
        _recipe(
            "churn_rate",
            {"Customers": _MASTER_COLUMNS["Customers"]},
            _churn,
            _churn_engine,
            "_churn",
        ),
        _recipe(
            "revenue",
            {"Orders": ("delivered_at", "amount")},
            _order_revenue,
            _order_revenue_engine,
            "_order_revenue",
        ),
        _recipe(
            "average_order_value",
            {"Orders": ("delivered_at", "amount")},
            _order_value,
            _order_value_engine,
            "_order_value",
        ),
        _status_share("cancellation_rate", "Orders", "ordered_at", "status", "cancelled"),
        _recipe("csat", {"Survey": ("answered_on", "satisfaction")}, _csat, _csat_engine, "_csat"),
        _recipe(
            "referral_acquisition_rate",
            {"Customers": (*_MASTER_COLUMNS["Customers"], "acquired_via")},
            _referral,
            _referral_engine,
            "_referral",
        ),
        _recipe(
            "avg_turnaround_time",
            {"Orders": ("delivered_at", "status", "work_hours")},
            _turnaround,
            _turnaround_engine,
            "_turnaround",
        ),
        _growth("engagement_growth", *GROWTH_COLUMNS["engagement_growth"]),
        _retention("Customers"),
        _recipe("mau", {"Activity": ("member_id", "active_on")}, _mau, _mau_engine, "_mau"),
        _status_share(
            "connection_success_rate", "Connections", "requested_on", "status", "accepted"
        ),
        _per_active_user("events_per_user", "Attendance", "event_on", None),
        # Visits[minutes] holds minutes, the unit the function is told.
        _per_row_average("avg_time_per_visit", "Visits", "visited_on", "minutes", "minutes"),
        _per_active_user("revenue_per_active_user", "Payments", "paid_on", "amount"),
        _status_share("customer_success_rate", "Followups", "followed_up_on", "outcome", "success"),
        # The margin form, over the funnel's customers per month (social media's
        # tables; video marketing measures 003's lifetime revenue instead).
        _recipe(
            "customer_lifetime_value",
            {"Funnel": ("month", "revenue", "customers_at_start", "churned_customers")},
            _clv_funnel,
            _clv_funnel_engine,
            "_clv_funnel",
        ),
        _recipe(
            "customer_retention_cost",
            {"Marketing": ("month", "retention_spend"), "Customers": _MASTER_COLUMNS["Customers"]},
            _retention_cost,
            _retention_cost_engine,
            "_retention_cost",
        ),
        _recipe(
            "return_on_investment",
            {"Marketing": ("month", "revenue_from_video", "video_spend")},
            _roi,
            _roi_engine,
            "_roi",
        ),
        _recipe(
            "engagement_rate",
            {"Channels": ("month", "likes", "comments", "followers")},
            _engagement_rate,
            _engagement_rate_engine,
            "_engagement_rate",
        ),
        _monthly_ratio("click_through_rate", "Channels", "clicks", "impressions"),
        _growth("follower_growth_rate", *GROWTH_COLUMNS["follower_growth_rate"]),
        *(_monthly_sum(kpi_id, table, kpi_id) for kpi_id, table in MONTHLY_COUNTS.items()),
        _recipe(
            "new_user_share",
            {"Funnel": ("month", "new_users", "returning_users")},
            _new_user_share,
            _new_user_share_engine,
            "_new_user_share",
        ),
        _recipe(
            "customer_lifetime_revenue",
            {"Marketing": ("month", "revenue"), "Customers": _MASTER_COLUMNS["Customers"]},
            _clv_revenue,
            _clv_revenue_engine,
            "_clv_revenue",
        ),
        _status_share("actual_recommendation_rate", "Survey", "answered_on", "recommended", "yes"),
        _monthly_ratio("bounce_rate", "Funnel", "single_page_sessions", "sessions"),
        _monthly_ratio("conversion_rate", "Funnel", "conversions", "visitors"),
        _monthly_ratio("customer_acquisition_cost", "Funnel", "marketing_spend", "new_customers"),
    )
}

#: Where a business type measures a KPI from other tables than the default:
#: a networking platform retains members; revenue comes from each type's own table.
TYPE_RECIPES: Mapping[tuple[str, str], Recipe] = {
    ("networking", "retention_rate"): _retention("Members"),
    ("networking", "revenue"): _dated_sum("revenue", "Payments", "paid_on", "amount"),
    ("video_marketing", "revenue"): _monthly_sum("revenue", "Marketing", "revenue"),
    ("social_media", "revenue"): _monthly_sum("revenue", "Funnel", "revenue"),
}


#: Recipes of the forms a business type may measure a KPI by (its ``form``
#: in the catalogue), where that is not the KPI's own recipe.
FORM_RECIPES: Mapping[str, Recipe] = {
    "completion_rate_on_time": _recipe(
        "completion_rate",
        {"Orders": ("ordered_at", "delivered_at", "due_on", "status")},
        _on_time,
        _on_time_engine,
        "_on_time",
    ),
}


def _from_catalogue(business_type: str, kpi_id: str) -> Recipe | None:
    """The recipe that a type's catalogue entry asks for: its form, or a
    growth over more months than one."""
    try:
        entry = kpi_engine.get_business_type(business_type).kpi(kpi_id)
    except (KeyError, kpi_engine.KPIInputError):
        return None
    if entry.form in FORM_RECIPES:
        return FORM_RECIPES[entry.form]
    if entry.months != 1 and entry.id in GROWTH_COLUMNS:
        return _growth(entry.id, *GROWTH_COLUMNS[entry.id], months=entry.months)
    return None


def recipe_for(business_type: str, kpi_id: str) -> Recipe:
    """The recipe by which ``business_type`` measures ``kpi_id``: the type's
    own, then the form or the months its catalogue entry asks for, then the
    KPI's recipe. The one dispatch: ``ibis_forms.ibis_form_for`` is this
    recipe's ``ibis``."""
    found = (
        TYPE_RECIPES.get((business_type, kpi_id))
        or _from_catalogue(business_type, kpi_id)
        or RECIPES.get(kpi_id)
    )
    if found is None:
        raise MissingRecipeError(
            f"{kpi_id} ({business_type}) has no recipe: add one to RECIPES in "
            f"addin/recipes/kpis.py (or to TYPE_RECIPES, for {business_type} alone), "
            "its formula, engine call and ibis form (addin/recipes/ibis_forms.py), "
            "composed from the factories there (_dated_sum, _per_active_user, "
            "_monthly_ratio, _status_share...) where one fits"
        )
    return found


def _recipes_of(business_type: str) -> list[Recipe]:
    """The recipes of the type's KPIs; one still missing is left out here
    (tests/test_registries.py names it, with where to add it), so that the
    other KPIs' tables stay whole."""
    profile = kpi_engine.get_business_type(business_type)
    recipes = []
    for entry in profile.kpis:
        try:
            recipes.append(recipe_for(profile.id, entry.id))
        except MissingRecipeError:
            continue
    return recipes


def tables_for(business_type: str) -> dict[str, tuple[Column, ...]]:
    """The data tables of a business type, in sheet order, with their columns."""
    profile = kpi_engine.get_business_type(business_type)
    wanted: list[str] = []
    for recipe in _recipes_of(profile.id):
        for table in recipe.reads:
            if table not in wanted:
                wanted.append(table)
    for table in EXTRA_TABLES.get(profile.id, ()):
        if table not in wanted:
            wanted.append(table)
    unused = UNUSED_COLUMNS[profile.id]
    return {
        table: tuple(c for c in TABLES[table] if (table, c.id) not in unused) for table in wanted
    }


def columns_read(business_type: str) -> dict[str, tuple[str, ...]]:
    """Per table, the columns that some KPI of the type reads, in table order."""
    read: dict[str, set[str]] = {}
    for recipe in _recipes_of(business_type):
        for table, columns in recipe.reads.items():
            read.setdefault(table, set()).update(columns)
    return {
        table: tuple(c.id for c in TABLES[table] if c.id in read[table])
        for table in tables_for(business_type)
        if table in read
    }
