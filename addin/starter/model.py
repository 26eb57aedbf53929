"""What a starter workbook holds: its data tables and, per KPI, a recipe.

A recipe says, once, how a KPI is measured for one month from the tables:
as a native Excel formula (so the workbook computes without the add-in)
and as a call to ``kpi_engine`` on the same rows (so tests, and the report
refresh, get the engine's value for exactly what the formula computes).

Tables have stable names and English column ids, so formulas, the add-in
(``=KPI.NPS(Survey[recommend_score])``) and the report refresh find them in
any language; only sheet names and explanations are translated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

import kpi_engine
from kpi_engine._inputs import first_of_month, is_blank, serial_to_date, to_serial

# --- tables ----------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    id: str
    kind: str  # id, text, choice, date, datetime, month, whole, number, money, score, rating
    choices: tuple[str, ...] = ()


def _c(column_id: str, kind: str, *choices: str) -> Column:
    return Column(column_id, kind, tuple(choices))


ORDER_STATUSES = ("completed", "in_progress", "cancelled")
CONNECTION_STATUSES = ("accepted", "declined", "pending")
ACQUISITION_CHANNELS = ("referral", "advertising", "organic", "social_media")
FOLLOWUP_OUTCOMES = ("success", "no_success")

#: Every table any business type uses, with its columns in sheet order.
TABLES: Mapping[str, tuple[Column, ...]] = {
    "Orders": (
        _c("order_id", "id"),
        _c("customer_id", "id"),
        _c("celebrity_id", "id"),
        _c("ordered_at", "datetime"),
        _c("delivered_at", "datetime"),
        _c("status", "choice", *ORDER_STATUSES),
        _c("work_hours", "number"),
        _c("amount", "money"),
    ),
    "Customers": (
        _c("customer_id", "id"),
        _c("joined_on", "date"),
        _c("left_on", "date"),
        _c("acquired_via", "choice", *ACQUISITION_CHANNELS),
    ),
    "Celebrities": (_c("celebrity_id", "id"), _c("joined_on", "date"), _c("left_on", "date")),
    "Survey": (
        _c("answered_on", "date"),
        _c("respondent_id", "id"),
        _c("recommend_score", "score"),
        _c("satisfaction", "rating"),
    ),
    "Social": (_c("month", "month"), _c("channel", "text"), _c("engagements", "whole")),
    "Members": (_c("member_id", "id"), _c("joined_on", "date"), _c("left_on", "date")),
    "Activity": (_c("member_id", "id"), _c("active_on", "date")),
    "Connections": (
        _c("requested_on", "date"),
        _c("member_id", "id"),
        _c("status", "choice", *CONNECTION_STATUSES),
    ),
    "Attendance": (_c("event_on", "date"), _c("member_id", "id"), _c("event_name", "text")),
    "Visits": (_c("visited_on", "date"), _c("member_id", "id"), _c("minutes", "number")),
    "Payments": (_c("paid_on", "date"), _c("member_id", "id"), _c("amount", "money")),
    "Followups": (
        _c("followed_up_on", "date"),
        _c("customer_id", "id"),
        _c("outcome", "choice", *FOLLOWUP_OUTCOMES),
    ),
    "Marketing": (
        _c("month", "month"),
        _c("video_spend", "money"),
        _c("revenue_from_video", "money"),
        _c("retention_spend", "money"),
        _c("revenue", "money"),
    ),
    "Channels": (
        _c("month", "month"),
        _c("channel", "text"),
        _c("followers", "whole"),
        _c("reach", "whole"),
        _c("impressions", "whole"),
        _c("likes", "whole"),
        _c("comments", "whole"),
        _c("clicks", "whole"),
    ),
    "Funnel": (
        _c("month", "month"),
        _c("sessions", "whole"),
        _c("single_page_sessions", "whole"),
        _c("visitors", "whole"),
        _c("conversions", "whole"),
        _c("marketing_spend", "money"),
        _c("new_customers", "whole"),
        _c("revenue", "money"),
        _c("customers_at_start", "whole"),
        _c("churned_customers", "whole"),
    ),
}

#: Table rows as columns: ``rows["Orders"]["status"]`` is the status column.
Rows = Mapping[str, Mapping[str, Sequence[Any]]]

# --- formulas ----------------------------------------------------------------


def ref(table: str, column: str) -> str:
    return f"{table}[{column}]"


def in_month(table: str, column: str, start: str, end: str) -> str:
    """COUNTIFS/SUMIFS criteria: the column's date falls in [start, end)."""
    c = ref(table, column)
    return f'{c},">="&{start},{c},"<"&{end}'


def count_in(table: str, column: str, start: str, end: str, *extra: str) -> str:
    return f"COUNTIFS({in_month(table, column, start, end)}{''.join(',' + e for e in extra)})"


def sum_in(table: str, value: str, column: str, start: str, end: str, *extra: str) -> str:
    criteria = in_month(table, column, start, end)
    return f"SUMIFS({ref(table, value)},{criteria}{''.join(',' + e for e in extra)})"


def present_at(table: str, start: str, end: str | None = None) -> str:
    """Entities (customers, members) present when ``start`` begins, or with
    ``end``, at any time in [start, end): joined before the end, minus those
    who left before the start (no blank test needed)."""
    joined, left = ref(table, "joined_on"), ref(table, "left_on")
    return f'(COUNTIFS({joined},"<"&{end or start})-COUNTIFS({left},"<"&{start}))'


def churned_during(table: str, start: str, end: str) -> str:
    """Entities present at ``start`` who left in [start, end)."""
    joined, left = ref(table, "joined_on"), ref(table, "left_on")
    return f'COUNTIFS({joined},"<"&{start},{left},">="&{start},{left},"<"&{end})'


def distinct_active(
    ids_table: str,
    id_column: str,
    events: str,
    event_id: str,
    event_date: str,
    start: str,
    end: str,
    at_least: int = 1,
) -> str:
    """How many listed ids have at least ``at_least`` events in [start, end)."""
    counts = (
        f"COUNTIFS({ref(events, event_id)},{ref(ids_table, id_column)},"
        f"{in_month(events, event_date, start, end)})"
    )
    return f"SUMPRODUCT(({counts}>={at_least})*1)"


@dataclass(frozen=True)
class Formula:
    """A KPI for one month: its value, and when it is undefined (shown as a dash)."""

    value: str
    undefined_when: str


# --- the engine side -----------------------------------------------------------


class CachedColumn(list[Any]):
    """A table column that converts its dates to serial numbers once, however
    many months are computed from it (the report computes fourteen)."""

    serials: list[float | None] | None = None


def serials(values: Sequence[Any]) -> list[float | None]:
    if isinstance(values, CachedColumn):
        if values.serials is None:
            values.serials = serials(list(values))
        return values.serials
    return [None if v is None or is_blank(v) else to_serial("workbook", "date", v) for v in values]


def within(values: Sequence[Any], start: float, end: float) -> list[bool]:
    return [v is not None and start <= v < end for v in serials(values)]


def count_within(values: Sequence[Any], start: float, end: float) -> int:
    return sum(within(values, start, end))


def pick(column: Sequence[Any], mask: Sequence[bool]) -> list[Any]:
    if len(column) != len(mask):
        raise ValueError(f"pick: a column of {len(column)} values and a mask of {len(mask)}")
    return list(compress(column, mask))


def total(column: Sequence[Any], mask: Sequence[bool]) -> float:
    return float(sum(v for v in pick(column, mask) if v is not None))


def present(rows: Rows, table: str, start: float, end: float | None = None) -> int:
    """The engine's side of ``present_at``: the same count on the rows."""
    joined = serials(rows[table]["joined_on"])
    left = serials(rows[table]["left_on"])
    until = start if end is None else end
    return sum(1 for j in joined if j is not None and j < until) - sum(
        1 for v in left if v is not None and v < start
    )


def present_ids(rows: Rows, table: str, id_column: str, moment: float) -> list[Any]:
    table_rows = zip(
        rows[table][id_column],
        serials(rows[table]["joined_on"]),
        serials(rows[table]["left_on"]),
        strict=True,
    )
    return [
        i
        for i, j, left in table_rows
        if j is not None and j < moment and (left is None or left >= moment)
    ]


def _equal_text(column: Sequence[Any], wanted: str) -> list[bool]:
    return [isinstance(v, str) and v.casefold() == wanted for v in column]


def _and(*masks: Sequence[bool]) -> list[bool]:
    return [all(flags) for flags in zip(*masks, strict=True)]


def month_shift(serial: float, months: int) -> float:
    """EDATE for the first day of a month, in serial numbers."""
    return to_serial("workbook", "month", first_of_month(serial_to_date(serial), months))


def mau_of(rows: Rows, start: float, end: float) -> float:
    activity = rows["Activity"]
    mask = within(activity["active_on"], start, end)
    members = set(rows["Members"]["member_id"])
    ids = [i if i in members else None for i in pick(activity["member_id"], mask)]
    return kpi_engine.mau(ids, [start] * len(ids), start) if ids else 0.0


# --- recipes ------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How one KPI is measured for a month, in Excel and with the engine."""

    kpi_id: str
    tables: tuple[str, ...]
    formula: Callable[[str, str], Formula]
    compute: Callable[[Rows, float, float], float]


def _fulfillment(s: str, e: str) -> Formula:
    d, o = ref("Orders", "delivered_at"), ref("Orders", "ordered_at")
    delivered = count_in("Orders", "delivered_at", s, e)
    hours = f"SUMPRODUCT(({d}>={s})*({d}<{e})*({d}-{o}))*24"
    return Formula(f"{hours}/{delivered}", f"{delivered}=0")


def _fulfillment_engine(rows: Rows, s: float, e: float) -> float:
    orders = rows["Orders"]
    mask = within(orders["delivered_at"], s, e)
    return kpi_engine.avg_fulfillment_time_from_timestamps(
        pick(orders["ordered_at"], mask), pick(orders["delivered_at"], mask)
    )


def _ratio(numerator: str, denominator: str) -> Formula:
    return Formula(f"{numerator}/{denominator}", f"{denominator}=0")


def _completed_orders(s: str, e: str) -> Formula:
    status = ref("Orders", "status")
    return _ratio(
        count_in("Orders", "ordered_at", s, e, f'{status},"completed"'),
        count_in("Orders", "ordered_at", s, e, f'{status},"<>"'),
    )


def _completed_orders_engine(rows: Rows, s: float, e: float) -> float:
    orders = rows["Orders"]
    return kpi_engine.completion_rate_from_statuses(
        pick(orders["status"], within(orders["ordered_at"], s, e))
    )


def _repeat(s: str, e: str) -> Formula:
    # Over the twelve months that end with the period: a month alone is too
    # short for a second purchase.
    window = f"EDATE({e},-12)"
    args = ("Customers", "customer_id", "Orders", "customer_id", "ordered_at", window, e)
    return _ratio(distinct_active(*args, at_least=2), distinct_active(*args, at_least=1))


def _repeat_engine(rows: Rows, s: float, e: float) -> float:
    orders = rows["Orders"]
    mask = within(orders["ordered_at"], month_shift(e, -12), e)
    return kpi_engine.repeat_purchase_rate_from_orders(pick(orders["customer_id"], mask))


def _nps(s: str, e: str) -> Formula:
    score = ref("Survey", "recommend_score")
    responses = count_in("Survey", "answered_on", s, e, f'{score},"<>"')
    promoters = count_in("Survey", "answered_on", s, e, f'{score},">=9"')
    detractors = count_in("Survey", "answered_on", s, e, f'{score},"<=6"')
    return Formula(f"({promoters}-{detractors})*100/{responses}", f"{responses}=0")


def _nps_engine(rows: Rows, s: float, e: float) -> float:
    survey = rows["Survey"]
    return kpi_engine.nps(pick(survey["recommend_score"], within(survey["answered_on"], s, e)))


def _csat(s: str, e: str) -> Formula:
    rating = ref("Survey", "satisfaction")
    return _ratio(
        count_in("Survey", "answered_on", s, e, f'{rating},">=4"'),
        count_in("Survey", "answered_on", s, e, f'{rating},"<>"'),
    )


def _csat_engine(rows: Rows, s: float, e: float) -> float:
    survey = rows["Survey"]
    return kpi_engine.csat_from_scores(
        pick(survey["satisfaction"], within(survey["answered_on"], s, e)), 4
    )


def _churn(s: str, e: str) -> Formula:
    churned = churned_during("Customers", s, e)
    return _ratio(churned, present_at("Customers", s))


def _churn_engine(rows: Rows, s: float, e: float) -> float:
    return kpi_engine.churn_rate_from_ids(
        present_ids(rows, "Customers", "customer_id", s),
        present_ids(rows, "Customers", "customer_id", e),
    )


def _retention(table: str) -> Callable[[str, str], Formula]:
    def formula(s: str, e: str) -> Formula:
        new = count_in(table, "joined_on", s, e)
        return _ratio(f"({present_at(table, e)}-{new})", present_at(table, s))

    return formula


def _retention_engine(table: str) -> Callable[[Rows, float, float], float]:
    def compute(rows: Rows, s: float, e: float) -> float:
        new = count_within(rows[table]["joined_on"], s, e)
        return kpi_engine.retention_rate(present(rows, table, e), new, present(rows, table, s))

    return compute


def _celebrity_acquisition(s: str, e: str) -> Formula:
    return _ratio(count_in("Celebrities", "joined_on", s, e), present_at("Celebrities", s))


def _celebrity_acquisition_engine(rows: Rows, s: float, e: float) -> float:
    return kpi_engine.celebrity_acquisition_rate(
        count_within(rows["Celebrities"]["joined_on"], s, e), present(rows, "Celebrities", s)
    )


def _revenue_per_celebrity(s: str, e: str) -> Formula:
    return _ratio(sum_in("Orders", "amount", "delivered_at", s, e), present_at("Celebrities", s, e))


def _revenue_per_celebrity_engine(rows: Rows, s: float, e: float) -> float:
    orders = rows["Orders"]
    revenue = total(orders["amount"], within(orders["delivered_at"], s, e))
    return kpi_engine.revenue_per_celebrity(revenue, present(rows, "Celebrities", s, e))


def _referral(s: str, e: str) -> Formula:
    via = ref("Customers", "acquired_via")
    return _ratio(
        count_in("Customers", "joined_on", s, e, f'{via},"referral"'),
        count_in("Customers", "joined_on", s, e),
    )


def _referral_engine(rows: Rows, s: float, e: float) -> float:
    customers = rows["Customers"]
    joined = within(customers["joined_on"], s, e)
    referred = _and(joined, _equal_text(customers["acquired_via"], "referral"))
    return kpi_engine.referral_acquisition_rate(sum(referred), sum(joined))


def _turnaround(s: str, e: str) -> Formula:
    done = f'{ref("Orders", "status")},"completed"'
    return _ratio(
        sum_in("Orders", "work_hours", "delivered_at", s, e, done),
        count_in("Orders", "delivered_at", s, e, done),
    )


def _turnaround_engine(rows: Rows, s: float, e: float) -> float:
    orders = rows["Orders"]
    mask = _and(within(orders["delivered_at"], s, e), _equal_text(orders["status"], "completed"))
    return kpi_engine.avg_turnaround_time(total(orders["work_hours"], mask), sum(mask))


def _growth(table: str, column: str, engine: Callable[[float, float], float]) -> Recipe:
    def formula(s: str, e: str) -> Formula:
        before = f"EDATE({s},-1)"
        now_total = sum_in(table, column, "month", s, e)
        before_total = sum_in(table, column, "month", before, s)
        return Formula(f"({now_total}-{before_total})/{before_total}", f"{before_total}=0")

    def compute(rows: Rows, s: float, e: float) -> float:
        data = rows[table]
        return engine(
            total(data[column], within(data["month"], s, e)),
            total(data[column], within(data["month"], month_shift(s, -1), s)),
        )

    return Recipe(engine.__name__, (table,), formula, compute)


def _mau_formula(s: str, e: str) -> str:
    return distinct_active("Members", "member_id", "Activity", "member_id", "active_on", s, e)


def _per_active_user(kpi_id: str, table: str, date_column: str, value_column: str | None) -> Recipe:
    def formula(s: str, e: str) -> Formula:
        amount = (
            count_in(table, date_column, s, e)
            if value_column is None
            else sum_in(table, value_column, date_column, s, e)
        )
        return _ratio(amount, _mau_formula(s, e))

    def compute(rows: Rows, s: float, e: float) -> float:
        data = rows[table]
        mask = within(data[date_column], s, e)
        amount = float(sum(mask)) if value_column is None else total(data[value_column], mask)
        return float(getattr(kpi_engine, kpi_id)(amount, mau_of(rows, s, e)))

    return Recipe(kpi_id, (table, "Members", "Activity"), formula, compute)


def _sum_ratio(
    kpi_id: str,
    table: str,
    date_column: str,
    numerator: str,
    denominator: str,
    count_numerator: bool = False,
) -> Recipe:
    """A KPI that divides two sums (or a count of matching rows) of one table."""

    def formula(s: str, e: str) -> Formula:
        return _ratio(
            sum_in(table, numerator, date_column, s, e),
            sum_in(table, denominator, date_column, s, e),
        )

    def compute(rows: Rows, s: float, e: float) -> float:
        data = rows[table]
        mask = within(data[date_column], s, e)
        return float(
            getattr(kpi_engine, kpi_id)(
                total(data[numerator], mask), total(data[denominator], mask)
            )
        )

    return Recipe(kpi_id, (table,), formula, compute)


def _status_share(kpi_id: str, table: str, date_column: str, wanted: str) -> Recipe:
    def formula(s: str, e: str) -> Formula:
        status = ref(table, "status" if table == "Connections" else "outcome")
        return _ratio(
            count_in(table, date_column, s, e, f'{status},"{wanted}"'),
            count_in(table, date_column, s, e, f'{status},"<>"'),
        )

    def compute(rows: Rows, s: float, e: float) -> float:
        data = rows[table]
        statuses = pick(
            data["status" if table == "Connections" else "outcome"], within(data[date_column], s, e)
        )
        given = [v for v in statuses if not (v is None or is_blank(v))]
        return float(getattr(kpi_engine, kpi_id)(sum(_equal_text(given, wanted)), len(given)))

    return Recipe(kpi_id, (table,), formula, compute)


def _monthly_sum(kpi_id: str, table: str, column: str) -> Recipe:
    def formula(s: str, e: str) -> Formula:
        return Formula(sum_in(table, column, "month", s, e), "FALSE")

    def compute(rows: Rows, s: float, e: float) -> float:
        data = rows[table]
        return float(getattr(kpi_engine, kpi_id)(pick(data[column], within(data["month"], s, e))))

    return Recipe(kpi_id, (table,), formula, compute)


def _engagement_rate(s: str, e: str) -> Formula:
    likes = sum_in("Channels", "likes", "month", s, e)
    comments = sum_in("Channels", "comments", "month", s, e)
    followers = sum_in("Channels", "followers", "month", s, e)
    return Formula(f"({likes}+{comments})/{followers}", f"{followers}=0")


def _engagement_rate_engine(rows: Rows, s: float, e: float) -> float:
    data = rows["Channels"]
    mask = within(data["month"], s, e)
    return kpi_engine.engagement_rate(
        total(data["likes"], mask), total(data["comments"], mask), total(data["followers"], mask)
    )


def _clv_marketing(s: str, e: str) -> Formula:
    # Revenue per customer x margin / churn rate: the customers at the start
    # appear in both rates and cancel out.
    revenue = sum_in("Marketing", "revenue", "month", s, e)
    churned = churned_during("Customers", s, e)
    at_start = present_at("Customers", s)
    return Formula(
        f"({revenue}/{at_start})*GROSS_MARGIN/({churned}/{at_start})",
        f"OR({at_start}=0,{churned}=0)",
    )


def _clv_marketing_engine(rows: Rows, s: float, e: float) -> float:
    revenue = total(rows["Marketing"]["revenue"], within(rows["Marketing"]["month"], s, e))
    at_start = present_ids(rows, "Customers", "customer_id", s)
    if not at_start:
        raise kpi_engine.KPIUndefinedError(
            "customer_lifetime_value", "there are no customers at the start"
        )
    churn = kpi_engine.churn_rate_from_ids(
        at_start, present_ids(rows, "Customers", "customer_id", e)
    )
    return kpi_engine.customer_lifetime_value(
        revenue / len(at_start), rows["Settings"]["GROSS_MARGIN"][0], churn
    )


def _clv_funnel(s: str, e: str) -> Formula:
    revenue = sum_in("Funnel", "revenue", "month", s, e)
    at_start = sum_in("Funnel", "customers_at_start", "month", s, e)
    churned = sum_in("Funnel", "churned_customers", "month", s, e)
    return Formula(
        f"({revenue}/{at_start})*GROSS_MARGIN/({churned}/{at_start})",
        f"OR({at_start}=0,{churned}=0)",
    )


def _clv_funnel_engine(rows: Rows, s: float, e: float) -> float:
    data = rows["Funnel"]
    mask = within(data["month"], s, e)
    at_start = total(data["customers_at_start"], mask)
    if at_start == 0:
        raise kpi_engine.KPIUndefinedError("customer_lifetime_value", "customers_at_start is 0")
    churn = kpi_engine.churn_rate(total(data["churned_customers"], mask), at_start)
    return kpi_engine.customer_lifetime_value(
        total(data["revenue"], mask) / at_start, rows["Settings"]["GROSS_MARGIN"][0], churn
    )


def _retention_cost(s: str, e: str) -> Formula:
    spend = sum_in("Marketing", "retention_spend", "month", s, e)
    churned = churned_during("Customers", s, e)
    kept = f"({present_at('Customers', s)}-{churned})"
    return _ratio(spend, kept)


def _retention_cost_engine(rows: Rows, s: float, e: float) -> float:
    spend = total(rows["Marketing"]["retention_spend"], within(rows["Marketing"]["month"], s, e))
    kept = set(present_ids(rows, "Customers", "customer_id", s)) & set(
        present_ids(rows, "Customers", "customer_id", e)
    )
    return kpi_engine.customer_retention_cost(spend, len(kept))


def _roi(s: str, e: str) -> Formula:
    gain = sum_in("Marketing", "revenue_from_video", "month", s, e)
    cost = sum_in("Marketing", "video_spend", "month", s, e)
    return Formula(f"({gain}-{cost})/{cost}", f"{cost}=0")


def _roi_engine(rows: Rows, s: float, e: float) -> float:
    data = rows["Marketing"]
    mask = within(data["month"], s, e)
    return kpi_engine.return_on_investment(
        total(data["revenue_from_video"], mask), total(data["video_spend"], mask)
    )


def _avg_visit(s: str, e: str) -> Formula:
    return _ratio(
        sum_in("Visits", "minutes", "visited_on", s, e), count_in("Visits", "visited_on", s, e)
    )


def _avg_visit_engine(rows: Rows, s: float, e: float) -> float:
    data = rows["Visits"]
    mask = within(data["visited_on"], s, e)
    return kpi_engine.avg_time_per_visit(total(data["minutes"], mask), sum(mask))


RECIPES: Mapping[str, Recipe] = {
    recipe.kpi_id: recipe
    for recipe in (
        Recipe("avg_fulfillment_time", ("Orders",), _fulfillment, _fulfillment_engine),
        Recipe(
            "celebrity_acquisition_rate",
            ("Celebrities",),
            _celebrity_acquisition,
            _celebrity_acquisition_engine,
        ),
        Recipe("repeat_purchase_rate", ("Orders", "Customers"), _repeat, _repeat_engine),
        Recipe("completion_rate", ("Orders",), _completed_orders, _completed_orders_engine),
        Recipe("nps", ("Survey",), _nps, _nps_engine),
        Recipe(
            "revenue_per_celebrity",
            ("Orders", "Celebrities"),
            _revenue_per_celebrity,
            _revenue_per_celebrity_engine,
        ),
        Recipe("churn_rate", ("Customers",), _churn, _churn_engine),
        Recipe("csat", ("Survey",), _csat, _csat_engine),
        Recipe("referral_acquisition_rate", ("Customers",), _referral, _referral_engine),
        Recipe("avg_turnaround_time", ("Orders",), _turnaround, _turnaround_engine),
        _growth("Social", "engagements", kpi_engine.engagement_growth),
        Recipe(
            "retention_rate",
            ("Customers",),
            _retention("Customers"),
            _retention_engine("Customers"),
        ),
        Recipe(
            "mau",
            ("Members", "Activity"),
            lambda s, e: Formula(_mau_formula(s, e), "FALSE"),
            mau_of,
        ),
        _status_share("connection_success_rate", "Connections", "requested_on", "accepted"),
        _per_active_user("events_per_user", "Attendance", "event_on", None),
        Recipe("avg_time_per_visit", ("Visits",), _avg_visit, _avg_visit_engine),
        _per_active_user("revenue_per_active_user", "Payments", "paid_on", "amount"),
        _status_share("customer_success_rate", "Followups", "followed_up_on", "success"),
        Recipe(
            "customer_lifetime_value",
            ("Marketing", "Customers"),
            _clv_marketing,
            _clv_marketing_engine,
        ),
        Recipe(
            "customer_retention_cost",
            ("Marketing", "Customers"),
            _retention_cost,
            _retention_cost_engine,
        ),
        Recipe("return_on_investment", ("Marketing",), _roi, _roi_engine),
        _monthly_sum("reach", "Channels", "reach"),
        _monthly_sum("impressions", "Channels", "impressions"),
        Recipe("engagement_rate", ("Channels",), _engagement_rate, _engagement_rate_engine),
        _sum_ratio("click_through_rate", "Channels", "month", "clicks", "impressions"),
        _growth("Channels", "followers", kpi_engine.follower_growth_rate),
        _sum_ratio("bounce_rate", "Funnel", "month", "single_page_sessions", "sessions"),
        _sum_ratio("conversion_rate", "Funnel", "month", "conversions", "visitors"),
        _sum_ratio(
            "customer_acquisition_cost", "Funnel", "month", "marketing_spend", "new_customers"
        ),
    )
}

#: Where a business type measures a KPI from other tables than the default:
#: a networking platform retains members, a social media funnel reports its
#: customers per month.
_TYPE_RECIPES: Mapping[tuple[str, str], Recipe] = {
    ("networking", "retention_rate"): Recipe(
        "retention_rate", ("Members",), _retention("Members"), _retention_engine("Members")
    ),
    ("social_media", "customer_lifetime_value"): Recipe(
        "customer_lifetime_value", ("Funnel",), _clv_funnel, _clv_funnel_engine
    ),
}


def recipe_for(business_type: str, kpi_id: str) -> Recipe:
    return _TYPE_RECIPES.get((business_type, kpi_id)) or RECIPES[kpi_id]


#: Columns a type does not need, dropped from its tables (the celebrity of an
#: order only exists on a celebrity platform, hours worked only for songs).
_UNUSED_COLUMNS: Mapping[str, frozenset[tuple[str, str]]] = {
    "celebrity_video": frozenset(
        {("Orders", "work_hours"), ("Customers", "acquired_via"), ("Survey", "satisfaction")}
    ),
    "songwriting": frozenset({("Orders", "celebrity_id"), ("Survey", "recommend_score")}),
    "networking": frozenset({("Survey", "recommend_score")}),
    "video_marketing": frozenset({("Customers", "acquired_via")}),
    "social_media": frozenset(),
}

#: Tables a type keeps although no KPI formula reads them directly.
_EXTRA_TABLES: Mapping[str, tuple[str, ...]] = {
    "celebrity_video": ("Customers",),
    "video_marketing": ("Customers",),
}

#: Types whose KPIs need the gross margin setting.
NEEDS_GROSS_MARGIN = frozenset({"video_marketing", "social_media"})


def tables_for(business_type: str) -> dict[str, tuple[Column, ...]]:
    """The data tables of a business type, in sheet order, with their columns."""
    profile = kpi_engine.get_business_type(business_type)
    wanted: list[str] = []
    for entry in profile.kpis:
        for table in recipe_for(profile.id, entry.id).tables:
            if table not in wanted:
                wanted.append(table)
    for table in _EXTRA_TABLES.get(profile.id, ()):
        if table not in wanted:
            wanted.append(table)
    unused = _UNUSED_COLUMNS[profile.id]
    return {
        table: tuple(c for c in TABLES[table] if (table, c.id) not in unused) for table in wanted
    }
