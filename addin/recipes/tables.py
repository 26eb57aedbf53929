"""The data tables of the starter workbooks, their columns and how they relate.

Tables have stable names and English column ids, so formulas, the add-in
(``=KPI.NPS(Survey[recommend_score])``) and the report find them in any
language; only sheet names and explanations are translated.

A column's kind says which data rule reads it (see ``rules``). Master tables
(Customers, Celebrities, Members) list who is there and when: one row per
stay, so a customer who leaves and comes back has two rows. Event tables
(Orders, Activity...) point at a master table through an id column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: Column kinds and what a cell of each must hold to count.
KINDS = ("id", "text", "choice", "date", "datetime", "month", "whole", "number", "money")
KINDS += ("score", "rating")


@dataclass(frozen=True)
class Column:
    id: str
    kind: str
    choices: tuple[str, ...] = ()
    #: A row without a value here is not a usable row (a date that places it
    #: in time, the id of a listed customer...): a blank is worth a data note.
    required: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.id}: kind {self.kind!r} is not one of {KINDS}")


def _column(column_id: str, kind: str, *choices: str, required: bool = False) -> Column:
    return Column(column_id, kind, tuple(choices), required)


ORDER_STATUSES = ("completed", "in_progress", "cancelled")
CONNECTION_STATUSES = ("accepted", "declined", "pending")
ACQUISITION_CHANNELS = ("referral", "advertising", "organic", "social_media")
FOLLOWUP_OUTCOMES = ("success", "no_success")
YES_NO = ("yes", "no")


def _people(id_column: str, *extra: Column) -> tuple[Column, ...]:
    return (
        _column(id_column, "id", required=True),
        _column("joined_on", "date", required=True),
        _column("left_on", "date"),
        *extra,
    )


def _monthly(*columns: tuple[str, str]) -> tuple[Column, ...]:
    return (
        _column("month", "month", required=True),
        *(_column(c, kind) for c, kind in columns),
    )


#: Every table any business type uses, with its columns in sheet order.
TABLES: Mapping[str, tuple[Column, ...]] = {
    "Orders": (
        _column("order_id", "id"),
        _column("customer_id", "id"),
        _column("celebrity_id", "id"),
        _column("ordered_at", "datetime", required=True),
        _column("delivered_at", "datetime"),
        _column("due_on", "date"),
        _column("status", "choice", *ORDER_STATUSES),
        _column("work_hours", "number"),
        _column("amount", "money"),
    ),
    "Customers": _people("customer_id", _column("acquired_via", "choice", *ACQUISITION_CHANNELS)),
    "Celebrities": _people("celebrity_id"),
    "Survey": (
        _column("answered_on", "date", required=True),
        _column("respondent_id", "id"),
        _column("recommend_score", "score"),
        _column("satisfaction", "rating"),
        _column("recommended", "choice", *YES_NO),
    ),
    "Social": _monthly(("channel", "text"), ("engagements", "whole")),
    "Members": _people("member_id"),
    "Activity": (
        _column("member_id", "id", required=True),
        _column("active_on", "date", required=True),
    ),
    "Connections": (
        _column("requested_on", "date", required=True),
        _column("member_id", "id"),
        _column("status", "choice", *CONNECTION_STATUSES),
    ),
    "Attendance": (
        _column("event_on", "date", required=True),
        _column("member_id", "id"),
        _column("event_name", "text"),
    ),
    "Visits": (
        _column("visited_on", "date", required=True),
        _column("member_id", "id"),
        _column("minutes", "number"),
    ),
    "Payments": (
        _column("paid_on", "date", required=True),
        _column("member_id", "id"),
        _column("amount", "money"),
    ),
    "Followups": (
        _column("followed_up_on", "date", required=True),
        _column("customer_id", "id"),
        _column("outcome", "choice", *FOLLOWUP_OUTCOMES),
    ),
    "Marketing": _monthly(
        ("video_spend", "money"),
        ("revenue_from_video", "money"),
        ("retention_spend", "money"),
        ("revenue", "money"),
    ),
    "Channels": _monthly(
        ("channel", "text"),
        ("followers", "whole"),
        ("reach", "whole"),
        ("impressions", "whole"),
        ("likes", "whole"),
        ("comments", "whole"),
        ("saves", "whole"),
        ("video_views", "whole"),
        ("profile_visits", "whole"),
        ("shares", "whole"),
        ("closeups", "whole"),
        ("clicks", "whole"),
        ("website_clicks", "whole"),
        ("profile_actions", "whole"),
    ),
    "Funnel": _monthly(
        ("sessions", "whole"),
        ("single_page_sessions", "whole"),
        ("unique_page_views", "whole"),
        ("new_users", "whole"),
        ("returning_users", "whole"),
        ("visitors", "whole"),
        ("conversions", "whole"),
        ("marketing_spend", "money"),
        ("new_customers", "whole"),
        ("revenue", "money"),
        ("customers_at_start", "whole"),
        ("churned_customers", "whole"),
    ),
}

#: Master tables and the id column that names who is listed.
MASTERS: Mapping[str, str] = {
    "Customers": "customer_id",
    "Celebrities": "celebrity_id",
    "Members": "member_id",
}

#: Where an event table's id column points: (table, column) -> master table.
REFERENCES: Mapping[tuple[str, str], str] = {
    ("Orders", "customer_id"): "Customers",
    ("Orders", "celebrity_id"): "Celebrities",
    ("Activity", "member_id"): "Members",
    ("Connections", "member_id"): "Members",
    ("Attendance", "member_id"): "Members",
    ("Visits", "member_id"): "Members",
    ("Payments", "member_id"): "Members",
    ("Followups", "customer_id"): "Customers",
}

#: Rows whose part may not exceed its whole, per table: (part, whole).
PARTS_OF_WHOLES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "Channels": (("clicks", "impressions"), ("website_clicks", "clicks")),
    "Funnel": (
        ("single_page_sessions", "sessions"),
        ("conversions", "visitors"),
        ("churned_customers", "customers_at_start"),
    ),
}

#: Columns a type does not need, dropped from its tables (the celebrity of an
#: order only exists on a celebrity platform, hours worked only for songs).
UNUSED_COLUMNS: Mapping[str, frozenset[tuple[str, str]]] = {
    "celebrity_video": frozenset(
        {
            ("Orders", "work_hours"),
            ("Orders", "due_on"),
            ("Customers", "acquired_via"),
            ("Survey", "satisfaction"),
            ("Survey", "recommended"),
        }
    ),
    "songwriting": frozenset(
        {("Orders", "celebrity_id"), ("Survey", "recommend_score"), ("Survey", "recommended")}
    ),
    "networking": frozenset({("Survey", "recommend_score"), ("Survey", "recommended")}),
    "video_marketing": frozenset({("Customers", "acquired_via")}),
    "social_media": frozenset(),
}

#: Tables a type keeps although no KPI formula reads them directly: orders
#: name their customers, and the customer list is where a shop keeps them.
EXTRA_TABLES: Mapping[str, tuple[str, ...]] = {
    "celebrity_video": ("Customers",),
    "video_marketing": ("Customers",),
}

#: Types whose KPIs need the gross margin setting.
NEEDS_GROSS_MARGIN = frozenset({"social_media"})


def column(table: str, column_id: str) -> Column:
    for candidate in TABLES[table]:
        if candidate.id == column_id:
            return candidate
    raise KeyError(f"table {table} has no column {column_id}")
