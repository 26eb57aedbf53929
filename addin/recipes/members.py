"""Recipes of members and cohorts: who is there (customers, celebrities,
members), who came, who stayed, who was active, and the money per head.

Each recipe holds its three forms (workbook formula, engine call, ibis
form), mostly composed from the shared quantities of ``quantities``:
``ActiveUsers``, ``PresentAtStart``, ``DatedSum``, the cohort and the
newcomers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kpi_engine

from .quantities import (
    IBIS,
    ActiveUsers,
    DatedCount,
    DatedSum,
    excel_cohort,
    excel_newcomers,
    keys_at,
    newcomer_keys,
    quotient,
)
from .recipe import EngineCall, Recipe, ratio
from .rules import Let, Rows, both, excel_counts, excel_within, total, valid, within

if TYPE_CHECKING:
    from .ibis_forms import Tables


# --- churn and retention: the cohort ----------------------------------------------------


def _churn(s: str, e: str) -> str:
    let = Let()
    cohort = excel_cohort(let, "Customers", s, e)
    return ratio(let, cohort.churned, cohort.before)


def _churn_engine(rows: Rows, s: float, e: float) -> EngineCall:
    return EngineCall("churn_rate_from_ids", tuple(map(sorted, keys_at(rows, "Customers", s, e))))


def _churn_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    cohort = IBIS.cohort(tables, "Customers", s, e)
    if cohort["before"] == 0:
        raise IBIS.no_cohort("churn_rate_from_ids")
    return float((cohort["either"] - cohort["after"]) / cohort["before"])


def retention(table: str) -> Recipe:
    """Retention of the people of a master table (Customers, or Members)."""

    def formula(s: str, e: str) -> str:
        let = Let()
        cohort = excel_cohort(let, table, s, e)
        return ratio(let, cohort.retained, cohort.before)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        return EngineCall("retention_rate_from_ids", tuple(map(sorted, keys_at(rows, table, s, e))))

    def ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        cohort = IBIS.cohort(tables, table, s, e)
        if cohort["before"] == 0:
            raise IBIS.no_cohort("retention_rate_from_ids")
        return float((cohort["before"] + cohort["after"] - cohort["either"]) / cohort["before"])

    return Recipe("retention_rate", formula, engine_call, ibis)


# --- newcomers -------------------------------------------------------------------------------


def _celebrity_acquisition(s: str, e: str) -> str:
    let = Let()
    newcomers = excel_newcomers(let, "Celebrities", s, e)
    return ratio(let, newcomers.new, newcomers.before)


def _celebrity_acquisition_engine(rows: Rows, s: float, e: float) -> EngineCall:
    at_start, new = newcomer_keys(rows["Celebrities"], "celebrity_id", s, e)
    return EngineCall("celebrity_acquisition_rate", (len(new), len(at_start)))


def _celebrity_acquisition_ibis(
    tables: Tables, s: float, e: float, settings: Mapping[str, Any]
) -> float:
    found = IBIS.newcomers(tables, "Celebrities", s, e)
    return float(IBIS.engine("celebrity_acquisition_rate", found["either"], found["before"]))


def _referral(s: str, e: str) -> str:
    let = Let()
    newcomers = excel_newcomers(let, "Customers", s, e)
    channel = let.value("Customers", "acquired_via", "choice", "channel", padded=True)
    return ratio(let, newcomers.among(f'({channel}="referral")'), newcomers.new)


def _referral_engine(rows: Rows, s: float, e: float) -> EngineCall:
    customers = rows["Customers"]
    _, new = newcomer_keys(customers, "customer_id", s, e)
    _, referred = newcomer_keys(customers, "customer_id", s, e, via="referral")
    return EngineCall("referral_acquisition_rate", (len(referred), len(new)))


def _referral_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    channel = IBIS.read(tables, "Customers", "acquired_via")
    found = IBIS.newcomers(tables, "Customers", s, e, referred=channel == "referral")
    return float(IBIS.engine("referral_acquisition_rate", found["referred"], found["either"]))


# --- active users ----------------------------------------------------------------------------


def _mau(s: str, e: str) -> str:
    let = Let()
    return let.formula(ActiveUsers().excel(let, s, e))


def _mau_engine(rows: Rows, s: float, e: float) -> EngineCall:
    activity = rows["Activity"]
    return EngineCall("mau", (activity["member_id"], activity["active_on"], s))


def _mau_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    return ActiveUsers().ibis(tables, s, e)


def per_row_average(
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
        return ratio(let, f"SUM({counted}*{value})", rows)

    def engine_call(rows: Rows, s: float, e: float) -> EngineCall:
        data = rows[table]
        mask = both(within(data, date_column, s, e), valid(data, value_column, "number"))
        return EngineCall(
            kpi_id, (total(data.read(value_column, "number"), mask), sum(mask), *extra)
        )

    def ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
        value = IBIS.read(tables, table, value_column)
        counted = IBIS.within(IBIS.read(tables, table, date_column), s, e) & value.notnull()
        found = IBIS.fetch(
            tables[table], amount=IBIS.total(value, counted), rows=IBIS.number_of(counted)
        )
        return float(IBIS.engine(kpi_id, found["amount"], found["rows"], *extra))

    return Recipe(kpi_id, formula, engine_call, ibis)


# --- money per head, and the type's revenue -------------------------------------------------


def revenue_per_active_user(business_type: str) -> Recipe:
    return quotient("revenue_per_active_user", DatedSum.revenue_of(business_type), ActiveUsers())


#: The recipes of this family that hold for every type that tracks them.
RECIPES: tuple[Recipe, ...] = (
    Recipe("churn_rate", _churn, _churn_engine, _churn_ibis),
    retention("Customers"),
    Recipe(
        "celebrity_acquisition_rate",
        _celebrity_acquisition,
        _celebrity_acquisition_engine,
        _celebrity_acquisition_ibis,
    ),
    Recipe("referral_acquisition_rate", _referral, _referral_engine, _referral_ibis),
    Recipe("mau", _mau, _mau_engine, _mau_ibis),
    quotient("events_per_user", DatedCount("Attendance", "event_on"), ActiveUsers()),
    # Visits[minutes] holds minutes, the unit the function is told.
    per_row_average("avg_time_per_visit", "Visits", "visited_on", "minutes", "minutes"),
    revenue_per_active_user("networking"),
)


def type_recipes(profile: kpi_engine.BusinessType) -> dict[str, Recipe]:
    """The recipes that follow from where the type's data holds its members
    (``[holds]`` in its catalogue file): retention of Members, not Customers."""
    members = profile.holds.get("members")
    if members is not None and members["table"] != "Customers":
        return {"retention_rate": retention(members["table"])}
    return {}
