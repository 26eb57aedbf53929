"""Recipes of orders: fulfilment, completion, revenue and order value,
repeat purchases, and the shares of a table's rows by status (orders,
connections, follow-ups, survey answers).

The ibis forms follow the workbook's and the engine's, under "the ibis forms".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import kpi_engine

from .quantities import IBIS, DatedSum, total_of
from .recipe import EngineCall, Measure, Recipe, month_shift, ratio
from .rules import (
    Let,
    Rows,
    both,
    equal_keys,
    excel_counts,
    excel_distinct,
    excel_within,
    pick,
    total,
    valid,
    within,
)

if TYPE_CHECKING:
    from .ibis_forms import Tables


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
    return ratio(let, f"SUM({counted}*({delivered}-{ordered}))*24", orders)


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
        return ratio(let, f'SUM({counted}*({status}="{wanted}"))', rows)

    return formula


def _completion_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    statuses = pick(orders["status"], within(orders, "ordered_at", s, e))
    return EngineCall("completion_rate_from_statuses", (statuses, "completed"))


def _on_time(s: str, e: str) -> str:
    # Completed and delivered by the agreed day (any time of it), among the
    # month's orders with a status; no agreed day: the status alone decides,
    # delivery time or not.
    let = Let()
    ordered = let.value("Orders", "ordered_at", "datetime", "ordered")
    status = let.value("Orders", "status", "choice", "status")
    delivered = let.value("Orders", "delivered_at", "datetime", "delivered")
    due = let.value("Orders", "due_on", "date", "due")
    counted = let.bind("counted", f'{excel_within(ordered, s, e)}*({status}<>"")')
    rows = let.bind("with_status", f"SUM({counted})")
    in_time = (
        f'{counted}*({status}="completed")'
        f"*((1-{excel_counts('date', due)})"
        f"+{excel_counts('datetime', delivered)}*({delivered}<{due}+1)>0)"
    )
    return ratio(let, f"SUM({in_time})", rows)


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


def _order_value(s: str, e: str) -> str:
    let = Let()
    revenue, orders = _delivered_amounts(let, s, e)
    return ratio(let, revenue, orders)


def _order_value_engine(rows: Rows, s: float, e: float) -> EngineCall:
    mask = _delivered_mask(rows, s, e)
    amounts = rows["Orders"].read("amount", "money")
    return EngineCall("average_order_value", (total(amounts, mask), sum(mask)))


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
    return ratio(let, repeats, customers)


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
    return ratio(let, f"SUM({counted}*{hours})", projects)


def _turnaround_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    hours = orders.read("work_hours", "number")
    mask = both(
        within(orders, "delivered_at", s, e),
        equal_keys(orders, "status", "completed"),
        valid(orders, "work_hours", "number"),
    )
    return EngineCall("avg_turnaround_time", (total(hours, mask), sum(mask)))


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
    return ratio(let, revenue, celebrities)


def _revenue_per_celebrity_engine(rows: Rows, s: float, e: float) -> EngineCall:
    orders = rows["Orders"]
    amounts = orders.read("amount", "money")
    delivered = within(orders, "delivered_at", s, e)
    revenue = total(amounts, both(delivered, valid(orders, "amount", "money")))
    active = {key for key in pick(orders.read("celebrity_id", "id"), delivered) if key is not None}
    return EngineCall("revenue_per_celebrity", (revenue, len(active)))


def status_share(
    kpi_id: str, table: str, date_column: str, status_column: str, wanted: str
) -> Recipe:
    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        mask = both(within(data, date_column, s, e), valid(data, status_column, "choice"))
        hits = both(mask, equal_keys(data, status_column, wanted))
        return EngineCall(kpi_id, (sum(hits), sum(mask)))

    formula = _status_share_formula(table, date_column, status_column, wanted)
    ibis = _status_share_ibis(kpi_id, table, date_column, status_column, wanted)
    return Recipe(kpi_id, formula, engine_call, ibis)


# --- the ibis forms ---------------------------------------------------------------------


def _fulfillment_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    orders = tables["Orders"]
    ordered = IBIS.read(tables, "Orders", "ordered_at")
    delivered = IBIS.read(tables, "Orders", "delivered_at")
    # A delivery before its order is a typing error: left out, not a negative time.
    counted = (
        IBIS.within(delivered, s, e) & ordered.notnull() & (delivered >= ordered).fill_null(False)
    )
    found = IBIS.fetch(
        orders, orders_=IBIS.number_of(counted), days=IBIS.total(delivered - ordered, counted)
    )
    if found["orders_"] == 0:
        raise IBIS.undefined(
            "avg_fulfillment_time_from_timestamps",
            "no row has both a request and a delivery time",
            "no_deliveries",
        )
    return found["days"] * 24 / found["orders_"]


def _completion_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    status = IBIS.read(tables, "Orders", "status")
    dated = IBIS.within(IBIS.read(tables, "Orders", "ordered_at"), s, e) & status.notnull()
    found = IBIS.fetch(
        tables["Orders"],
        done=IBIS.number_of(dated & (status == "completed")),
        rows=IBIS.number_of(dated),
    )
    if found["rows"] == 0:
        raise IBIS.undefined(
            "completion_rate_from_statuses", "there are no statuses", "no_statuses"
        )
    return IBIS.engine("completion_rate", found["done"], found["rows"])


def _repeat_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    # Over the twelve months that end with the period, as the recipe.
    orders = tables["Orders"]
    customer = IBIS.read(tables, "Orders", "customer_id")
    window = IBIS.within(IBIS.read(tables, "Orders", "ordered_at"), month_shift(e, -12), e)
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
    if found["customers"] == 0:
        raise IBIS.undefined("repeat_purchase_rate_from_orders", "there are no orders", "no_orders")
    return IBIS.engine("repeat_purchase_rate", found["repeaters"], found["customers"])


def _turnaround_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    hours = IBIS.read(tables, "Orders", "work_hours")
    counted = (
        IBIS.within(IBIS.read(tables, "Orders", "delivered_at"), s, e)
        & (IBIS.read(tables, "Orders", "status") == "completed").fill_null(False)
        & hours.notnull()
    )
    found = IBIS.fetch(
        tables["Orders"], hours=IBIS.total(hours, counted), projects=IBIS.number_of(counted)
    )
    return IBIS.engine("avg_turnaround_time", found["hours"], found["projects"])


def _revenue_per_celebrity_ibis(
    tables: Tables, s: float, e: float, settings: Mapping[str, Any]
) -> float:
    # Taking part actively: at least one video message delivered in the month.
    money = IBIS.read(tables, "Orders", "amount")
    celebrity = IBIS.read(tables, "Orders", "celebrity_id")
    delivered = IBIS.within(IBIS.read(tables, "Orders", "delivered_at"), s, e)
    found = IBIS.fetch(
        tables["Orders"],
        revenue=IBIS.total(money, delivered),
        active=celebrity.nunique(where=delivered & celebrity.notnull()),
    )
    return IBIS.engine("revenue_per_celebrity", found["revenue"], found["active"])


def _delivered_ibis(tables: Tables, s: float, e: float) -> dict[str, float]:
    """The revenue and the number of the orders delivered in [s, e) with an amount."""
    money = IBIS.read(tables, "Orders", "amount")
    counted = IBIS.within(IBIS.read(tables, "Orders", "delivered_at"), s, e) & money.notnull()
    return IBIS.fetch(
        tables["Orders"], revenue=IBIS.total(money, counted), orders=IBIS.number_of(counted)
    )


def _order_value_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    found = _delivered_ibis(tables, s, e)
    return IBIS.engine("average_order_value", found["revenue"], found["orders"])


def _on_time_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    # Completed and delivered by the agreed day (any time of it), among the
    # month's orders with a status; no agreed day: the status alone decides,
    # delivery time or not.
    status = IBIS.read(tables, "Orders", "status")
    delivered = IBIS.read(tables, "Orders", "delivered_at")
    due = IBIS.read(tables, "Orders", "due_on")
    counted = IBIS.within(IBIS.read(tables, "Orders", "ordered_at"), s, e) & status.notnull()
    in_time = (
        counted
        & (status == "completed")
        & (due.isnull() | (delivered.notnull() & (delivered < due + 1)).fill_null(False))
    )
    found = IBIS.fetch(tables["Orders"], hits=IBIS.number_of(in_time), rows=IBIS.number_of(counted))
    if found["rows"] == 0:
        raise IBIS.undefined("completion_rate_on_time", "there are no statuses", "no_statuses")
    return found["hits"] / found["rows"]


def _status_share_ibis(
    kpi_id: str, table: str, date_column: str, status_column: str, wanted: str
) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        status = IBIS.read(tables, table, status_column)
        dated = IBIS.within(IBIS.read(tables, table, date_column), s, e) & status.notnull()
        found = IBIS.fetch(
            tables[table],
            hits=IBIS.number_of(dated & (status == wanted)),
            rows=IBIS.number_of(dated),
        )
        return IBIS.engine(kpi_id, found["hits"], found["rows"])

    return measure


# --- the recipes ------------------------------------------------------------------------------

RECIPES: tuple[Recipe, ...] = (
    Recipe("avg_fulfillment_time", _fulfillment, _fulfillment_engine, _fulfillment_ibis),
    Recipe("repeat_purchase_rate", _repeat, _repeat_engine, _repeat_ibis),
    Recipe(
        "completion_rate",
        _status_share_formula("Orders", "ordered_at", "status", "completed"),
        _completion_engine,
        _completion_ibis,
    ),
    Recipe(
        "revenue_per_celebrity",
        _revenue_per_celebrity,
        _revenue_per_celebrity_engine,
        _revenue_per_celebrity_ibis,
    ),
    Recipe("average_order_value", _order_value, _order_value_engine, _order_value_ibis),
    status_share("cancellation_rate", "Orders", "ordered_at", "status", "cancelled"),
    Recipe("avg_turnaround_time", _turnaround, _turnaround_engine, _turnaround_ibis),
    status_share("connection_success_rate", "Connections", "requested_on", "status", "accepted"),
    status_share("customer_success_rate", "Followups", "followed_up_on", "outcome", "success"),
)

#: Recipes of the forms a business type may measure a KPI by (its ``form``
#: in the catalogue), where that is not the KPI's own recipe.
FORM_RECIPES: Mapping[str, Recipe] = {
    "completion_rate_on_time": Recipe("completion_rate", _on_time, _on_time_engine, _on_time_ibis),
}


def type_recipes(profile: kpi_engine.BusinessType) -> dict[str, Recipe]:
    """The revenue of the month where the type's catalogue file says it is
    paid row by row, dated by a day (Orders by delivered_at, Payments by
    paid_on); a monthly table's revenue is ``monthly.type_recipes``'."""
    revenue = profile.holds.get("revenue")
    if revenue is None or revenue["dated_by"] == "month":
        return {}
    return {"revenue": total_of("revenue", DatedSum.revenue_of(profile.id))}
