"""The third form of every recipe: an ibis expression over the same tables.

A recipe (``kpis``) measures a KPI for the month [start, end) as a workbook
formula and as an engine call on table rows. Its ibis form measures it from
tables that live in a database or in files: DuckDB (embedded), PostgreSQL,
Spark, or any engine ibis speaks to. The form builds the sums and counts in
the engine that holds the data, fetches those few numbers, and hands them to
the same ``kpi_engine`` function as the recipe (or its counting sibling), so
a KPI that has no value says why with the recipe's reason code.

The data rules are those of ``rules``, for typed columns:

* an id or a status is compared trimmed as Excel's TRIM trims (spaces only,
  runs inside shrink to one) and in lower case; a number counts as its digits
  (1001.0 is "1001"); an Excel error's text (``#N/A``) and a blank are no id;
* a date is a date, a timestamp or an Excel serial number, read as its serial
  (1900-01-01 is 1, with Excel's phantom 29 February 1900), counted from 1 up
  to 9999-12-31; a month window is [start, end);
* a number is a number column's value; money and hours count from 0 up,
  counts when whole, scores when whole from 0 to 10, ratings whatever they are;
* NaN and infinity are no numbers; NULL is a blank: neither ever counts. A
  master table's ``left_on`` that is NULL means "still there"; one that holds
  a value that is no date (in a CSV folder: text that is no ISO date, see
  ``addin.sources``) leaves the row out, as in the workbook.

A text column where numbers or dates are expected is refused (``SourceError``
from ``addin.sources``) rather than read as nothing: a database types its
columns, and text there means the wrong column was mapped.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

import kpi_engine
from kpi_engine._cells import END_OF_DATES, ERROR_VALUES, FIRST_DATE

from .kpis import (
    FORM_RECIPES,
    GROWTH_COLUMNS,
    MONTHLY_COUNTS,
    RECIPES,
    TYPE_RECIPES,
    month_shift,
)
from .tables import MASTERS, PARTS_OF_WHOLES, column

#: Tables by name, each with our column ids.
Tables = Mapping[str, ir.Table]
#: Serial of 1900-03-01: Excel counts 29 February 1900, which never was, so
#: dates before it sit one serial lower than the days since 1899-12-30 say.
_MARCH_1900 = 61
_EPOCH_SERIAL = 25569  # 1970-01-01


class ColumnTypeError(TypeError):
    """A source column whose type cannot hold what its kind needs."""

    def __init__(self, table: str, column_id: str, kind: str, found: str) -> None:
        self.table, self.column, self.kind, self.found = table, column_id, kind, found
        expected = {
            "id": "text or numbers",
            "text": "text",
            "choice": "text",
        }.get(kind, "dates or timestamps" if kind in ("date", "datetime", "month") else "numbers")
        super().__init__(
            f"column {table}.{column_id} is of type {found}; expected {expected} (a {kind} column)"
        )


# --- the data rules, as ibis expressions ---------------------------------------------------


def key(table: str, value: ir.Column) -> ir.StringValue:
    """An id or a status as the rules compare it (NULL: no id)."""
    kind = value.type()
    if kind.is_string():
        text = value
    elif kind.is_boolean():
        text = ibis.ifelse(value, "true", "false")
    elif kind.is_integer():
        text = value.cast("string")
    elif kind.is_numeric():
        number = value.cast("float64")
        # A whole number past int64 (1e300) stays in its float form instead of
        # stopping the engine with a conversion error: ibis's floor() is an
        # int64, hence _whole, and try_cast.
        whole = number.try_cast("int64").cast("string")
        text = ibis.ifelse(
            _whole(number), whole.fill_null(number.cast("string")), number.cast("string")
        )
    else:
        raise ColumnTypeError(table, value.get_name(), "id", str(kind))
    trimmed = text.re_replace("^ +| +$", "").re_replace(" {2,}", " ")
    # An error is an error only as Excel writes it: " #N/A" is text.
    error = text.isin(sorted(ERROR_VALUES)) if kind.is_string() else ibis.literal(False)
    return ibis.cases(
        (error, ibis.null("string")),
        (trimmed == "", ibis.null("string")),
        else_=trimmed.lower(),
    )


def _whole(number: ir.FloatingValue) -> ir.BooleanValue:
    """A whole number, tested in floats: ``number == number.floor()`` casts
    the floor to int64, which 1e300 overflows."""
    return (number % 1) == 0


def _finite(value: ir.NumericColumn) -> ir.FloatingValue:
    """A number column as floats; NaN and infinity are no numbers (as in a workbook)."""
    number = value.cast("float64")
    if not value.type().is_floating():
        return number
    return ibis.ifelse(number.isnan() | number.isinf(), ibis.null("float64"), number)


def serial(table: str, value: ir.Column) -> ir.FloatingValue:
    """A date, a timestamp or a serial number as its Excel serial, NULL where
    it is no date Excel holds."""
    kind = value.type()
    if kind.is_numeric() and not kind.is_boolean():
        number = _finite(value)
    elif kind.is_timestamp() or kind.is_date():
        moment = value.cast("timestamp")
        days = moment.epoch_seconds().cast("float64") / 86400 + _EPOCH_SERIAL
        number = ibis.ifelse(days < _MARCH_1900, days - 1, days)
    else:
        raise ColumnTypeError(table, value.get_name(), "date", str(kind))
    inside = (number >= FIRST_DATE) & (number < END_OF_DATES)
    return ibis.ifelse(inside, number, ibis.null("float64"))


def amount(table: str, value: ir.Column, kind: str) -> ir.FloatingValue:
    """A number of its kind (money, hours, a count, a score, a rating); NULL
    where it does not count."""
    found = value.type()
    if not found.is_numeric() or found.is_boolean():
        raise ColumnTypeError(table, value.get_name(), kind, str(found))
    number = _finite(value)
    if kind == "rating":
        return number
    counts = number >= 0
    if kind in ("whole", "score"):
        counts &= _whole(number)
    if kind == "score":
        counts &= number <= 10
    return ibis.ifelse(counts, number, ibis.null("float64"))


def rule(tables: Tables, table: str, column_id: str) -> ir.Value:
    """A source table's column as its kind's rule reads it."""
    kind = column(table, column_id).kind
    value = tables[table][column_id]
    if kind in ("id", "text", "choice"):
        return key(table, value)
    if kind in ("date", "datetime", "month"):
        return serial(table, value)
    return amount(table, value, kind)


#: The suffix of a column kept as the source holds it, beside its reading.
RAW = "__as_stored"


class Prepared(dict[str, ir.Table]):
    """Tables whose columns are read by their rules once, in a subquery that
    every measure selects from: the SQL of a measure then names plain columns
    instead of repeating each rule at each use (which makes SQL generation,
    not the engine, the slow part)."""


def prepare(tables: Tables) -> Prepared:
    if isinstance(tables, Prepared):
        return tables
    prepared = Prepared()
    for table, data in tables.items():
        columns = {name: rule(tables, table, name) for name in data.columns}
        if "left_on" in data.columns:
            columns["left_on" + RAW] = data["left_on"]
        prepared[table] = data.select(**columns)
    return prepared


def read(tables: Tables, table: str, column_id: str) -> ir.Value:
    """A column of prepared tables, as its kind's rule reads it."""
    return tables[table][column_id]


def within(moment: ir.FloatingValue, start: float, end: float) -> ir.BooleanValue:
    """The rows whose date falls in [start, end); a row without one never does."""
    return ((moment >= start) & (moment < end)).fill_null(False)


def counts(value: ir.Value) -> ir.BooleanValue:
    return value.notnull()


def fetch(table: ir.Table, **measures: ir.Scalar) -> dict[str, float]:
    """The measures of one table in one query; a sum of no rows is 0."""
    frame = table.aggregate(**measures).to_pyarrow()
    found = {}
    for name in measures:
        number = frame.column(name)[0].as_py()
        found[name] = 0.0 if number is None or math.isnan(number) else float(number)
    return found


def number_of(condition: ir.BooleanValue) -> ir.Scalar:
    return ibis.ifelse(condition, 1, 0).sum()


def total(value: ir.NumericValue, condition: ir.BooleanValue) -> ir.Scalar:
    return ibis.ifelse(condition & value.notnull(), value, 0.0).sum()


def _undefined(function: str, reason: str, code: str) -> kpi_engine.KPIUndefinedError:
    return kpi_engine.KPIUndefinedError(function, reason, code)


def _engine(function: str, *args: Any) -> float:
    return float(getattr(kpi_engine, function)(*args))


# --- who is there when ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Stays:
    """A master table's usable rows: an id, a date joined, a date left that
    is blank or a date on or after it."""

    table: ir.Table
    who: ir.StringValue
    since: ir.FloatingValue
    until: ir.FloatingValue
    until_blank: ir.BooleanValue
    listed: ir.BooleanValue

    def present_at(self, moment: float) -> ir.BooleanValue:
        still = self.until_blank | (self.until >= moment).fill_null(False)
        return self.listed & (self.since < moment).fill_null(False) & still

    def present_during(self, start: float, end: float) -> ir.BooleanValue:
        still = self.until_blank | (self.until >= start).fill_null(False)
        return self.listed & (self.since < end).fill_null(False) & still

    def joined_during(self, start: float, end: float) -> ir.BooleanValue:
        return self.listed & within(self.since, start, end)

    def distinct(self, condition: ir.BooleanValue) -> ir.Scalar:
        return self.who.nunique(where=condition)


def _stays(tables: Tables, table: str) -> _Stays:
    data = tables[table]
    who = read(tables, table, MASTERS[table])
    since = read(tables, table, "joined_on")
    until = read(tables, table, "left_on")
    raw = data["left_on" + RAW]
    until_blank = raw.isnull()
    if raw.type().is_string():  # a CSV folder's blanks
        until_blank |= raw.strip() == ""
    usable = who.notnull() & since.notnull() & (until_blank | (until >= since).fill_null(False))
    return _Stays(data, who, since, until, until_blank, usable)


def _cohort(tables: Tables, table: str, s: float, e: float) -> dict[str, float]:
    """|A|, |B| and |A or B|: those present at the start, at the end, at either."""
    stays = _stays(tables, table)
    at_start, at_end = stays.present_at(s), stays.present_at(e)
    return fetch(
        stays.table,
        before=stays.distinct(at_start),
        after=stays.distinct(at_end),
        either=stays.distinct(at_start | at_end),
    )


def _no_cohort(function: str) -> kpi_engine.KPIUndefinedError:
    return _undefined(function, "there are no customers at the start", "no_customers_at_start")


# --- the forms ------------------------------------------------------------------------------

#: An ibis form: the KPI's value for [start, end) from the tables (and the
#: workbook's settings, such as GROSS_MARGIN); KPIUndefinedError when none.
Measure = Callable[[Tables, float, float, Mapping[str, Any]], float]


def _fulfillment(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    orders = tables["Orders"]
    ordered = read(tables, "Orders", "ordered_at")
    delivered = read(tables, "Orders", "delivered_at")
    # A delivery before its order is a typing error: left out, not a negative time.
    counted = within(delivered, s, e) & ordered.notnull() & (delivered >= ordered).fill_null(False)
    found = fetch(orders, orders_=number_of(counted), days=total(delivered - ordered, counted))
    if found["orders_"] == 0:
        raise _undefined(
            "avg_fulfillment_time_from_timestamps",
            "no row has both a request and a delivery time",
            "no_deliveries",
        )
    return found["days"] * 24 / found["orders_"]


def _completion(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    status = read(tables, "Orders", "status")
    dated = within(read(tables, "Orders", "ordered_at"), s, e) & status.notnull()
    found = fetch(
        tables["Orders"], done=number_of(dated & (status == "completed")), rows=number_of(dated)
    )
    if found["rows"] == 0:
        raise _undefined("completion_rate_from_statuses", "there are no statuses", "no_statuses")
    return _engine("completion_rate", found["done"], found["rows"])


def _repeat(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    # Over the twelve months that end with the period, as the recipe.
    orders = tables["Orders"]
    customer = read(tables, "Orders", "customer_id")
    window = within(read(tables, "Orders", "ordered_at"), month_shift(e, -12), e)
    per_customer = (
        orders.mutate(customer=customer)
        .filter(window & customer.notnull())
        .group_by("customer")
        .aggregate(orders=ibis._.count())
    )
    found = fetch(
        per_customer,
        customers=per_customer.count(),
        repeaters=number_of(per_customer.orders >= 2),
    )
    if found["customers"] == 0:
        raise _undefined("repeat_purchase_rate_from_orders", "there are no orders", "no_orders")
    return _engine("repeat_purchase_rate", found["repeaters"], found["customers"])


def _turnaround(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    hours = read(tables, "Orders", "work_hours")
    counted = (
        within(read(tables, "Orders", "delivered_at"), s, e)
        & (read(tables, "Orders", "status") == "completed").fill_null(False)
        & hours.notnull()
    )
    found = fetch(tables["Orders"], hours=total(hours, counted), projects=number_of(counted))
    return _engine("avg_turnaround_time", found["hours"], found["projects"])


def _scores(tables: Tables, column_id: str, s: float, e: float) -> tuple[ir.Value, ir.Boolean]:
    value = read(tables, "Survey", column_id)
    return value, within(read(tables, "Survey", "answered_on"), s, e) & value.notnull()


def nps_groups(tables: Tables, s: float, e: float) -> tuple[int, int, int]:
    """(promoters, passives, detractors) among the month's answers that count."""
    score, counted = _scores(tables, "recommend_score", s, e)
    found = fetch(
        tables["Survey"],
        promoters=number_of(counted & (score >= 9)),
        passives=number_of(counted & (score >= 7) & (score <= 8)),
        detractors=number_of(counted & (score <= 6)),
    )
    return int(found["promoters"]), int(found["passives"]), int(found["detractors"])


def scores_like(groups: tuple[int, int, int]) -> list[int]:
    """Scores that fall in the same groups: what the engine's NPS and margin read."""
    promoters, passives, detractors = groups
    return [10] * promoters + [8] * passives + [0] * detractors


def _nps(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    promoters, passives, detractors = nps_groups(tables, s, e)
    responses = promoters + passives + detractors
    if responses == 0:
        raise _undefined("nps", "there are no responses", "no_responses")
    # Multiply before dividing, as the engine does.
    return (promoters - detractors) * 100 / responses


def _csat(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    rating, counted = _scores(tables, "satisfaction", s, e)
    found = fetch(
        tables["Survey"], satisfied=number_of(counted & (rating >= 4)), answers=number_of(counted)
    )
    if found["answers"] == 0:
        raise _undefined("csat_from_scores", "there are no responses", "no_responses")
    return _engine("csat", found["satisfied"], found["answers"])


def _churn(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    cohort = _cohort(tables, "Customers", s, e)
    if cohort["before"] == 0:
        raise _no_cohort("churn_rate_from_ids")
    return (cohort["either"] - cohort["after"]) / cohort["before"]


def _retention(table: str) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        cohort = _cohort(tables, table, s, e)
        if cohort["before"] == 0:
            raise _no_cohort("retention_rate_from_ids")
        return (cohort["before"] + cohort["after"] - cohort["either"]) / cohort["before"]

    return measure


def _newcomers(
    tables: Tables, table: str, s: float, e: float, **among: ir.BooleanValue
) -> dict[str, float]:
    """The cohort at the start of [s, e) and the newcomers: who joined in it
    and was not there at its start (a comeback counts; a second row of
    someone present does not), also among the joining rows of ``among``."""
    stays = _stays(tables, table)
    at_start, joined = stays.present_at(s), stays.joined_during(s, e)
    found = fetch(
        stays.table,
        before=stays.distinct(at_start),
        either=stays.distinct(at_start | joined),
        **{
            name: stays.distinct(at_start | (joined & condition.fill_null(False)))
            for name, condition in among.items()
        },
    )
    return {name: value - found["before"] for name, value in found.items() if name != "before"} | {
        "before": found["before"]
    }


def _celebrity_acquisition(
    tables: Tables, s: float, e: float, settings: Mapping[str, Any]
) -> float:
    found = _newcomers(tables, "Celebrities", s, e)
    return _engine("celebrity_acquisition_rate", found["either"], found["before"])


def _referral(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    channel = read(tables, "Customers", "acquired_via")
    found = _newcomers(tables, "Customers", s, e, referred=channel == "referral")
    return _engine("referral_acquisition_rate", found["referred"], found["either"])


def _revenue_per_celebrity(
    tables: Tables, s: float, e: float, settings: Mapping[str, Any]
) -> float:
    # Taking part actively: at least one video message delivered in the month.
    money = read(tables, "Orders", "amount")
    celebrity = read(tables, "Orders", "celebrity_id")
    delivered = within(read(tables, "Orders", "delivered_at"), s, e)
    found = fetch(
        tables["Orders"],
        revenue=total(money, delivered),
        active=celebrity.nunique(where=delivered & celebrity.notnull()),
    )
    return _engine("revenue_per_celebrity", found["revenue"], found["active"])


def _delivered(tables: Tables, s: float, e: float) -> dict[str, float]:
    """The revenue and the number of the orders delivered in [s, e) with an amount."""
    money = read(tables, "Orders", "amount")
    counted = within(read(tables, "Orders", "delivered_at"), s, e) & money.notnull()
    return fetch(tables["Orders"], revenue=total(money, counted), orders=number_of(counted))


def _order_revenue(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    return _engine("revenue", [_delivered(tables, s, e)["revenue"]])


def _order_value(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    found = _delivered(tables, s, e)
    return _engine("average_order_value", found["revenue"], found["orders"])


def _on_time(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    # Completed and delivered by the agreed day (any time of it), among the
    # month's orders with a status; no agreed day: the status decides.
    status = read(tables, "Orders", "status")
    delivered = read(tables, "Orders", "delivered_at")
    due = read(tables, "Orders", "due_on")
    counted = within(read(tables, "Orders", "ordered_at"), s, e) & status.notnull()
    in_time = (
        counted
        & (status == "completed")
        & delivered.notnull()
        & (due.isnull() | (delivered < due + 1).fill_null(False))
    )
    found = fetch(tables["Orders"], hits=number_of(in_time), rows=number_of(counted))
    if found["rows"] == 0:
        raise _undefined("completion_rate_on_time", "there are no statuses", "no_statuses")
    return found["hits"] / found["rows"]


def _dated_sum(kpi_id: str, table: str, date_column: str, value_column: str) -> Measure:
    """The sum of a column over the rows dated in the month (revenue from payments)."""

    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        dated = within(read(tables, table, date_column), s, e)
        found = fetch(tables[table], amount=total(read(tables, table, value_column), dated))
        return _engine(kpi_id, [found["amount"]])

    return measure


def active_users(tables: Tables, s: float, e: float) -> float:
    """The month's distinct active members (activity of an id missing from
    Members still counts)."""
    member = read(tables, "Activity", "member_id")
    active = within(read(tables, "Activity", "active_on"), s, e)
    return fetch(tables["Activity"], users=member.nunique(where=active & member.notnull()))["users"]


def _mau(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    return active_users(tables, s, e)


def _per_active_user(
    kpi_id: str, table: str, date_column: str, value_column: str | None
) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        dated = within(read(tables, table, date_column), s, e)
        if value_column is None:
            found = fetch(tables[table], amount=number_of(dated))
        else:
            found = fetch(tables[table], amount=total(read(tables, table, value_column), dated))
        return _engine(kpi_id, found["amount"], active_users(tables, s, e))

    return measure


def _per_row_average(
    kpi_id: str, table: str, date_column: str, value_column: str, *extra: Any
) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        value = read(tables, table, value_column)
        counted = within(read(tables, table, date_column), s, e) & value.notnull()
        found = fetch(tables[table], amount=total(value, counted), rows=number_of(counted))
        return _engine(kpi_id, found["amount"], found["rows"], *extra)

    return measure


def _status_share(
    kpi_id: str, table: str, date_column: str, status_column: str, wanted: str
) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        status = read(tables, table, status_column)
        dated = within(read(tables, table, date_column), s, e) & status.notnull()
        found = fetch(
            tables[table], hits=number_of(dated & (status == wanted)), rows=number_of(dated)
        )
        return _engine(kpi_id, found["hits"], found["rows"])

    return measure


# --- monthly tables -------------------------------------------------------------------------


def _monthly(
    tables: Tables,
    table: str,
    columns: tuple[str, ...],
    s: float,
    e: float,
    *,
    shares: bool = False,
) -> dict[str, float]:
    """The month's totals of ``columns`` over the rows where every one counts
    (and, with ``shares``, no part exceeds its whole)."""
    values = {c: read(tables, table, c) for c in columns}
    counted = within(read(tables, table, "month"), s, e)
    for value in values.values():
        counted &= value.notnull()
    if shares:
        for part, whole in PARTS_OF_WHOLES.get(table, ()):
            if part in values and whole in values:
                counted &= (values[part] <= values[whole]).fill_null(True)
    return fetch(tables[table], **{c: total(v, counted) for c, v in values.items()})


def _monthly_ratio(kpi_id: str, table: str, numerator: str, denominator: str) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        found = _monthly(tables, table, (numerator, denominator), s, e, shares=True)
        return _engine(kpi_id, found[numerator], found[denominator])

    return measure


def _monthly_sum(kpi_id: str, table: str, column_id: str) -> Measure:
    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        found = _monthly(tables, table, (column_id,), s, e)[column_id]
        return _engine(kpi_id, [found])

    return measure


def _growth(kpi_id: str, table: str, column_id: str, months: int = 1) -> Measure:
    """The total of the ``months`` months ending with this one against the
    total of the ``months`` before them (1: month on month, 3: quarter on quarter)."""

    def measure(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        since = month_shift(e, -months)
        current = _monthly(tables, table, (column_id,), since, e)[column_id]
        earlier = month_shift(since, -months)
        before = _monthly(tables, table, (column_id,), earlier, since)[column_id]
        return _engine(kpi_id, current, before)

    return measure


def _engagement_rate(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    columns = ("likes", "comments", "followers")
    found = _monthly(tables, "Channels", columns, s, e)
    return _engine("engagement_rate", *(found[c] for c in columns))


def _roi(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    found = _monthly(tables, "Marketing", ("revenue_from_video", "video_spend"), s, e)
    return _engine("return_on_investment", found["revenue_from_video"], found["video_spend"])


def _clv_funnel(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    columns = ("revenue", "customers_at_start", "churned_customers")
    found = _monthly(tables, "Funnel", columns, s, e, shares=True)
    at_start = found["customers_at_start"]
    if at_start == 0:
        raise _undefined(
            "customer_lifetime_value", "customers_at_start is 0", "zero_customers_at_start"
        )
    churn = kpi_engine.churn_rate(found["churned_customers"], at_start)
    return _engine(
        "customer_lifetime_value", found["revenue"] / at_start, settings["GROSS_MARGIN"], churn
    )


def _new_user_share(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    found = _monthly(tables, "Funnel", ("new_users", "returning_users"), s, e)
    return _engine("new_user_share", found["new_users"], found["returning_users"])


def _clv_revenue(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    # Revenue per customer at the start over the month's churn (no margin).
    revenue = _monthly(tables, "Marketing", ("revenue",), s, e)["revenue"]
    cohort = _cohort(tables, "Customers", s, e)
    before = cohort["before"]
    if before == 0:
        raise _undefined(
            "customer_lifetime_revenue",
            "there are no customers at the start",
            "no_customers_at_start",
        )
    churn = (cohort["either"] - cohort["after"]) / before
    return _engine("customer_lifetime_revenue", revenue / before, churn)


def _retention_cost(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    spend = _monthly(tables, "Marketing", ("retention_spend",), s, e)["retention_spend"]
    cohort = _cohort(tables, "Customers", s, e)
    kept = cohort["before"] + cohort["after"] - cohort["either"]
    return _engine("customer_retention_cost", spend, kept)


# --- the registry, beside RECIPES -------------------------------------------------------------

IBIS_FORMS: Mapping[str, Measure] = {
    "avg_fulfillment_time": _fulfillment,
    "celebrity_acquisition_rate": _celebrity_acquisition,
    "repeat_purchase_rate": _repeat,
    "completion_rate": _completion,
    "nps": _nps,
    "revenue_per_celebrity": _revenue_per_celebrity,
    "churn_rate": _churn,
    "csat": _csat,
    "referral_acquisition_rate": _referral,
    "avg_turnaround_time": _turnaround,
    "engagement_growth": _growth("engagement_growth", *GROWTH_COLUMNS["engagement_growth"]),
    "revenue": _order_revenue,
    "average_order_value": _order_value,
    "cancellation_rate": _status_share(
        "cancellation_rate", "Orders", "ordered_at", "status", "cancelled"
    ),
    "actual_recommendation_rate": _status_share(
        "actual_recommendation_rate", "Survey", "answered_on", "recommended", "yes"
    ),
    **{kpi_id: _monthly_sum(kpi_id, table, kpi_id) for kpi_id, table in MONTHLY_COUNTS.items()},
    "new_user_share": _new_user_share,
    "customer_lifetime_revenue": _clv_revenue,
    "retention_rate": _retention("Customers"),
    "mau": _mau,
    "connection_success_rate": _status_share(
        "connection_success_rate", "Connections", "requested_on", "status", "accepted"
    ),
    "events_per_user": _per_active_user("events_per_user", "Attendance", "event_on", None),
    # Visits[minutes] holds minutes, the unit the function is told.
    "avg_time_per_visit": _per_row_average(
        "avg_time_per_visit", "Visits", "visited_on", "minutes", "minutes"
    ),
    "revenue_per_active_user": _per_active_user(
        "revenue_per_active_user", "Payments", "paid_on", "amount"
    ),
    "customer_success_rate": _status_share(
        "customer_success_rate", "Followups", "followed_up_on", "outcome", "success"
    ),
    "customer_lifetime_value": _clv_funnel,
    "customer_retention_cost": _retention_cost,
    "return_on_investment": _roi,
    "engagement_rate": _engagement_rate,
    "click_through_rate": _monthly_ratio("click_through_rate", "Channels", "clicks", "impressions"),
    "follower_growth_rate": _growth(
        "follower_growth_rate", *GROWTH_COLUMNS["follower_growth_rate"]
    ),
    "bounce_rate": _monthly_ratio("bounce_rate", "Funnel", "single_page_sessions", "sessions"),
    "conversion_rate": _monthly_ratio("conversion_rate", "Funnel", "conversions", "visitors"),
    "customer_acquisition_cost": _monthly_ratio(
        "customer_acquisition_cost", "Funnel", "marketing_spend", "new_customers"
    ),
}

#: The ibis forms of ``TYPE_RECIPES``: where a type measures a KPI from other tables.
TYPE_IBIS_FORMS: Mapping[tuple[str, str], Measure] = {
    ("networking", "retention_rate"): _retention("Members"),
    ("networking", "revenue"): _dated_sum("revenue", "Payments", "paid_on", "amount"),
    ("video_marketing", "revenue"): _monthly_sum("revenue", "Marketing", "revenue"),
    ("social_media", "revenue"): _monthly_sum("revenue", "Funnel", "revenue"),
}

#: The ibis forms of ``FORM_RECIPES``: the forms a type may measure a KPI by.
FORM_IBIS_FORMS: Mapping[str, Measure] = {"completion_rate_on_time": _on_time}


class NoIbisFormError(KeyError):
    """A recipe without an ibis form: a KPI added to the catalogue and the
    recipes, but not here yet."""


def ibis_form_for(business_type: str, kpi_id: str) -> Measure:
    """The ibis form of the recipe ``recipe_for(business_type, kpi_id)``."""
    # The same choice as recipe_for: the type's own recipe, then the form or
    # the months its catalogue entry asks for, then the KPI's recipe.
    entry = None
    with contextlib.suppress(KeyError, kpi_engine.KPIInputError):
        entry = kpi_engine.get_business_type(business_type).kpi(kpi_id)
    if (business_type, kpi_id) in TYPE_RECIPES:
        found = TYPE_IBIS_FORMS.get((business_type, kpi_id))
    elif entry is not None and entry.form in FORM_RECIPES:
        found = FORM_IBIS_FORMS.get(entry.form)
    elif entry is not None and entry.months != 1 and entry.id in GROWTH_COLUMNS:
        found = _growth(entry.id, *GROWTH_COLUMNS[entry.id], months=entry.months)
    else:
        found = IBIS_FORMS.get(kpi_id) if kpi_id in RECIPES else None
    if found is None:
        raise NoIbisFormError(
            f"the recipe of {kpi_id} ({business_type}) has no ibis form in "
            "addin/recipes/ibis_forms.py: add one beside its recipe"
        )
    return found


def compute(
    business_type: str,
    kpi_id: str,
    tables: Tables,
    start: float,
    end: float,
    settings: Mapping[str, Any] | None = None,
) -> float:
    """The ibis form's value for [start, end); KPIUndefinedError when there is none."""
    measure = ibis_form_for(business_type, kpi_id)
    return float(measure(prepare(tables), start, end, settings or {}))


# --- data notes -------------------------------------------------------------------------------


def _blank_raw(value: ir.Column) -> ir.BooleanValue:
    blank = value.isnull()
    if value.type().is_string():
        blank |= value.re_replace("^ +| +$", "") == ""
    return blank


def _found(tables: Tables, check: Any) -> ir.Scalar | int | None:  # noqa: PLR0912  (one branch per problem)
    """How many rows a data check finds, as an ibis count (None: a check
    whose columns the source does not hold)."""
    data = tables.get(check.table)
    if data is None or check.column not in data.columns:
        return None
    raw = data[check.column]
    problem = check.problem
    if problem == "error":
        if not raw.type().is_string():
            return 0
        return fetch(data, n=number_of(raw.isin(sorted(ERROR_VALUES))))["n"]
    if problem.startswith("not_a"):
        return fetch(
            data, n=number_of(~_blank_raw(raw) & rule(tables, check.table, check.column).isnull())
        )["n"]
    if problem == "blank":
        has_data = ibis.literal(False)
        for name in data.columns:
            has_data |= ~_blank_raw(data[name])
        return fetch(data, n=number_of(_blank_raw(raw) & has_data))["n"]
    if problem == "unknown_choice":
        chosen = rule(tables, check.table, check.column)
        allowed = list(column(check.table, check.column).choices)
        return fetch(data, n=number_of(chosen.notnull() & ~chosen.isin(allowed)))["n"]
    if problem in ("delivered_before_ordered", "left_before_joined", "part_over_whole"):
        if check.other not in data.columns:
            return None
        first = rule(
            tables, check.table, check.other if problem != "part_over_whole" else check.column
        )
        then = rule(
            tables, check.table, check.column if problem != "part_over_whole" else check.other
        )
        if problem == "part_over_whole":  # the part (first) over its whole (then)
            return fetch(data, n=number_of((first > then).fill_null(False)))["n"]
        return fetch(data, n=number_of((then < first).fill_null(False)))["n"]
    if problem == "unknown_id":
        master = tables.get(check.other)
        if master is None:
            return None
        keyed = data.select(k=rule(tables, check.table, check.column)).filter(ibis._.k.notnull())
        listed = master.select(k=rule(tables, check.other, MASTERS[check.other])).filter(
            ibis._.k.notnull()
        )
        return int(keyed.anti_join(listed.distinct(), "k").count().to_pyarrow().as_py())
    if problem == "repeated_id":
        who = rule(tables, check.table, check.column)
        found = fetch(data, named=number_of(who.notnull()), distinct=who.nunique())
        return found["named"] - found["distinct"]
    return None


def note_counts(business_type: str, tables: Tables, checks: Any) -> list[Any]:
    """The data notes of a source: per check, how many rows it finds (a
    database has no sheet rows to list, so a note names none)."""
    from .notes import Note, _kpis_reading  # noqa: PLC0415

    notes = []
    for check in checks:
        found = _found(tables, check)
        if not found:
            continue
        columns = {check.column} | (
            {check.other} if check.other in tables[check.table].columns else set()
        )
        notes.append(
            Note(check, int(found), (), _kpis_reading(business_type, check.table, columns))
        )
    return notes


def latest_date(tables: Tables) -> float | None:
    """The latest date serial in any date column of the tables (None: no date)."""
    latest: float | None = None
    for table, data in tables.items():
        for name in data.columns:
            if column(table, name).kind not in ("date", "datetime", "month"):
                continue
            found = fetch(data, latest=serial(table, data[name]).max())["latest"]
            if found and (latest is None or found > latest):
                latest = found
    return latest


def period_has_data(tables: Tables, start: float, end: float) -> bool:
    """Whether some row of the tables is dated in [start, end)."""
    for table, data in tables.items():
        dated = [
            name
            for name in data.columns
            if column(table, name).kind in ("date", "datetime", "month")
        ]
        if not dated:
            continue
        inside = ibis.literal(False)
        for name in dated:
            inside |= within(serial(table, data[name]), start, end)
        if fetch(data, n=number_of(inside))["n"]:
            return True
    return False
