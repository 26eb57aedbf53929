"""Recipes of members and cohorts: who is there (customers, celebrities,
members), who came, who stayed, who was active, and the money per head.

Each is one declaration composed from the shared quantities of
``quantities``: ``PresentAtStart``, ``Churned``, ``Retained``,
``Newcomers``, ``ActiveUsers``, ``DatedSum`` and ``DatedCount``.
"""

from __future__ import annotations

import kpi_engine

from .quantities import (
    ActiveUsers,
    Churned,
    DatedCount,
    DatedSum,
    Newcomers,
    PresentAtStart,
    Retained,
    cohort_ids,
    mean_of,
    quotient,
    total_of,
)
from .recipe import ReadsCells, Recipe
from .rules import Rows


def retention(table: str) -> Recipe:
    """Retention of the people of a master table (Customers, or Members);
    the engine's function reads the ids at the start and at the end."""
    return quotient(
        "retention_rate",
        Retained(table),
        PresentAtStart(table),
        engine=cohort_ids("retention_rate_from_ids", table),
    )


def _mau_cells(rows: Rows, s: float, e: float) -> tuple[object, ...]:
    activity = rows["Activity"]
    return activity["member_id"], activity["active_on"], s


def revenue_per_active_user(business_type: str) -> Recipe:
    return quotient("revenue_per_active_user", DatedSum.revenue_of(business_type), ActiveUsers())


#: The recipes of this family that hold for every type that tracks them.
RECIPES: tuple[Recipe, ...] = (
    # The engine's function reads the ids at the start and at the end.
    quotient(
        "churn_rate",
        Churned("Customers"),
        PresentAtStart("Customers"),
        engine=cohort_ids("churn_rate_from_ids", "Customers"),
    ),
    retention("Customers"),
    quotient("celebrity_acquisition_rate", Newcomers("Celebrities"), PresentAtStart("Celebrities")),
    quotient(
        "referral_acquisition_rate", Newcomers("Customers", via="referral"), Newcomers("Customers")
    ),
    # MAU's engine function reads the activity itself, with the month's date.
    total_of("mau", ActiveUsers(), engine=ReadsCells("mau", _mau_cells)),
    quotient(
        "events_per_user", DatedCount("Attendance", "event_on", name="attendances"), ActiveUsers()
    ),
    # Visits[minutes] holds minutes, the unit the function is told.
    mean_of(
        "avg_time_per_visit",
        DatedSum("Visits", "visited_on", "minutes"),
        "visits",
        extra=("minutes",),
    ),
    revenue_per_active_user("networking"),
)


def type_recipes(profile: kpi_engine.BusinessType) -> dict[str, Recipe]:
    """The recipes that follow from where the type's data holds its members
    (``[holds]`` in its catalogue file): retention of Members, not Customers."""
    members = profile.holds.get("members")
    if members is not None and members["table"] != "Customers":
        return {"retention_rate": retention(members["table"])}
    return {}
