"""Recipes of orders: fulfilment, completion, revenue and order value,
repeat purchases, and the shares of a table's rows by status (orders,
connections, follow-ups, survey answers).

Each KPI is one declaration composed from the shared quantities of
``quantities``: the orders dated in the month that meet some conditions
(``DatedCount``), their amounts or hours (``DatedSum``), the time from order
to delivery (``Elapsed``), the celebrities with a delivery (``DistinctIds``).
Repeat purchases are written out below, with why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import kpi_engine

from .by_month import WindowTally
from .conditions import IBIS, ByDueDay, Has, Is
from .quantities import (
    DatedSum,
    DistinctIds,
    Elapsed,
    counter,
    mean_of,
    quotient,
    status_share,
    total_of,
)
from .recipe import EngineCall, IbisParts, Recipe, month_cells, month_shift, ratio
from .rules import (
    Let,
    Rows,
    excel_distinct,
    excel_window_buyers,
    excel_within,
    excel_year_before,
    months_let,
)

if TYPE_CHECKING:
    from .ibis_forms import Tables


#: The orders of the month, by the day they were ordered, that meet conditions.
ordered = counter("Orders", "ordered_at")

#: The time from order to delivery of the orders delivered in the month.
FULFILMENT = Elapsed("Orders", "ordered_at", "delivered_at")
#: The amounts of the orders delivered in the month.
DELIVERED_AMOUNTS = DatedSum("Orders", "delivered_at", "amount")


# --- repeat purchases: written out -----------------------------------------------------------
#
# Special: it looks at the twelve months that end with the period (a month
# alone is too short for a second purchase), and counts the customers whose
# id comes twice, which the workbook does by sorting (see kpis); its engine
# function reads the customer ids itself.


def _repeat(s: str, e: str) -> str:
    let = Let()
    dated = let.value("Orders", "ordered_at", "datetime", "ordered", padded=True)
    customer = let.value("Orders", "customer_id", "id", "customer", padded=True)
    counted = let.bind("counted", f'{excel_within(dated, f"EDATE({e},-12)", e)}*({customer}<>"")')
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
    return ratio(let, repeats, customers)


def _repeat_months(starts: str, ends: str) -> str:
    # Every month's twelve-month window at once: the orders sorted once by
    # customer and date, and each window counts the customers whose first,
    # and second, order in it is there (see rules.excel_window_buyers).
    let, _, last = months_let(starts, ends)
    dated = let.value("Orders", "ordered_at", "datetime", "ordered")
    customer = let.value("Orders", "customer_id", "id", "customer")
    since = let.bind("year_before", excel_year_before(last))
    customers, repeats = excel_window_buyers(let, customer, dated, since, last)
    return ratio(let, repeats, customers)


def _repeat_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    customers = orders["customer_id"]
    dated = orders.rows_within("ordered_at", month_shift(e, -12), e)
    return EngineCall("repeat_purchase_rate_from_orders", ([customers[i] for i in dated],))


@dataclass(frozen=True)
class RepeatBuyers:
    """The one part of repeat purchases' ibis form, a pair: the customers
    with an order in the ``months`` months that end with the month, and
    those of them with two orders or more there."""

    table: str = "Orders"
    dated_by: str = "ordered_at"
    id_column: str = "customer_id"
    months: int = 12

    def rows(self, rows: Rows, s: float, e: float) -> tuple[int, int]:
        """The pair on the workbook's rows, the window moved from the one
        asked for before (the report asks for 13 windows, a month apart)."""
        table = rows[self.table]
        key = ("repeat buyers", self.dated_by, self.id_column)
        tally = table.memo.get(key)
        if not isinstance(tally, WindowTally):
            tally = table.memo[key] = WindowTally(table, self.id_column, self.dated_by)
        return tally.move(table, month_shift(e, -self.months), e)

    def ibis_pair(self, tables: Tables, s: float, e: float) -> tuple[float, float]:
        orders = tables[self.table]
        customer = IBIS.read(tables, self.table, self.id_column)
        window = IBIS.within(
            IBIS.read(tables, self.table, self.dated_by), month_shift(e, -self.months), e
        )
        per_customer = (
            orders.mutate(customer=customer)
            .filter(window & customer.notnull())
            .group_by("customer")
            .aggregate(orders=IBIS.ibis._.count())
        )
        found = IBIS.fetch(
            per_customer,
            customers=per_customer.count(),
            repeaters=IBIS.number_of(per_customer.orders >= 2),
        )
        return found["customers"], found["repeaters"]


REPEAT_BUYERS = RepeatBuyers()


def _repeat_finish(values: Sequence[Any], settings: Mapping[str, Any]) -> float:
    # kpi_engine's own calls, not ibis's wrappers: the report runs this too,
    # where ibis is not installed (xlwings Lite).
    customers, repeaters = values[0]
    if customers == 0:
        raise kpi_engine.KPIUndefinedError(
            "repeat_purchase_rate_from_orders", "there are no orders", "no_orders"
        )
    return float(kpi_engine.repeat_purchase_rate(repeaters, customers))


def _repeat_by_month(rows: Rows, s: float, e: float) -> float:
    """The report's form: the ibis form's finishing step on the pair from the rows."""
    return _repeat_finish([REPEAT_BUYERS.rows(rows, s, e)], {}) + 0.0


def _repeat_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    return _repeat_finish([REPEAT_BUYERS.ibis_pair(tables, s, e)], settings)


# --- the recipes ------------------------------------------------------------------------------

RECIPES: tuple[Recipe, ...] = (
    # Hours from order to delivery over the month's deliveries; the engine's
    # function reads the two timestamp columns itself.
    quotient(
        "avg_fulfillment_time",
        FULFILMENT,
        FULFILMENT.count("deliveries"),
        engine=month_cells(
            "avg_fulfillment_time_from_timestamps",
            "Orders",
            "delivered_at",
            "ordered_at",
            "delivered_at",
        ),
    ),
    Recipe(
        "repeat_purchase_rate",
        _repeat,
        _repeat_engine,
        _repeat_ibis,
        ibis_parts=IbisParts((REPEAT_BUYERS,), _repeat_finish),
        months=_repeat_months,
        by_month=_repeat_by_month,
    ),
    # The month's orders completed, among those with a status; the engine's
    # function reads the statuses itself.
    quotient(
        "completion_rate",
        ordered(Is("status", "completed"), name="completed"),
        ordered(Has("status"), name="with_status"),
        engine=month_cells(
            "completion_rate_from_statuses", "Orders", "ordered_at", "status", args=("completed",)
        ),
    ),
    # Taking part actively: at least one video message delivered in the month.
    quotient(
        "revenue_per_celebrity",
        DELIVERED_AMOUNTS,
        DistinctIds("Orders", "delivered_at", "celebrity_id", "celebrities"),
    ),
    mean_of("average_order_value", DELIVERED_AMOUNTS, "orders"),
    status_share("cancellation_rate", "Orders", "ordered_at", "status", "cancelled"),
    mean_of(
        "avg_turnaround_time",
        DatedSum("Orders", "delivered_at", "work_hours", (Is("status", "completed"),)),
        "projects",
    ),
    status_share("connection_success_rate", "Connections", "requested_on", "status", "accepted"),
    status_share("customer_success_rate", "Followups", "followed_up_on", "outcome", "success"),
)

#: Recipes of the forms a business type may measure a KPI by (its ``form``
#: in the catalogue), where that is not the KPI's own recipe.
FORM_RECIPES: Mapping[str, Recipe] = {
    # Completed and delivered by the agreed day (any time of it), among the
    # month's orders with a status; the engine's function reads the cells.
    "completion_rate_on_time": quotient(
        "completion_rate",
        ordered(Is("status", "completed"), ByDueDay("delivered_at", "due_on"), name="on_time"),
        ordered(Has("status"), name="with_status"),
        engine=month_cells(
            "completion_rate_on_time",
            "Orders",
            "ordered_at",
            "status",
            "delivered_at",
            "due_on",
            args=("completed",),
        ),
    ),
}


def type_recipes(profile: kpi_engine.BusinessType) -> dict[str, Recipe]:
    """The revenue of the month where the type's catalogue file says it is
    paid row by row, dated by a day (Orders by delivered_at, Payments by
    paid_on); a monthly table's revenue is ``monthly.type_recipes``'."""
    revenue = profile.holds.get("revenue")
    if revenue is None or revenue["dated_by"] == "month":
        return {}
    return {"revenue": total_of("revenue", DatedSum.revenue_of(profile.id))}
