"""Realistic, deterministic sample data for each business type.

The same type, seed, size and as-of date give the same rows. Data covers the
fourteen months before the as-of month: the twelve months of the trend, the
month before them (for growth KPIs) and a little history. ``rows`` sets the
size of the type's main table; the other tables keep their proportions.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from typing import Any

from kpi_engine._inputs import first_of_month

from addin.recipes.tables import ACQUISITION_CHANNELS

#: Rows of each type's main table for about a year of activity.
DEFAULT_ROWS = {
    "celebrity_video": 1200,
    "songwriting": 600,
    "networking": 2400,
    "video_marketing": 600,
    "social_media": 42,
}
MONTHS_OF_DATA = 14

Table = dict[str, list[Any]]


class _Calendar:
    """Random moments within the data's span, with a mild upward trend."""

    def __init__(self, rng: random.Random, as_of: dt.date) -> None:
        self.rng = rng
        self.end = first_of_month(as_of)
        self.start = first_of_month(as_of, -MONTHS_OF_DATA)
        self.days = (self.end - self.start).days

    def day(self, after: dt.date | None = None) -> dt.date:
        low = 0 if after is None else max(0, (after - self.start).days)
        # Skew towards recent days: activity grows over the year.
        fraction = math.sqrt(self.rng.random())
        return self.start + dt.timedelta(days=low + int(fraction * (self.days - low - 1)))

    def moment(self, after: dt.date | None = None) -> dt.datetime:
        day = self.day(after)
        return dt.datetime(
            day.year, day.month, day.day, self.rng.randint(8, 21), self.rng.choice((0, 15, 30, 45))
        )

    def months(self) -> list[dt.date]:
        return [first_of_month(self.start, i) for i in range(MONTHS_OF_DATA)]


def _people(
    rng: random.Random,
    cal: _Calendar,
    prefix: str,
    count: int,
    leave_share: float,
    channels: bool = False,
) -> Table:
    ids, joined, left, via = [], [], [], []
    for number in range(1, count + 1):
        start = cal.day()
        stop = None
        if rng.random() < leave_share:
            candidate = start + dt.timedelta(days=rng.randint(35, 400))
            stop = candidate if candidate < cal.end else None
        ids.append(f"{prefix}{number:05d}")
        joined.append(start)
        left.append(stop)
        via.append(rng.choices(ACQUISITION_CHANNELS, weights=(4, 3, 2, 2))[0])
    table: Table = {f"{prefix_to_column(prefix)}": ids, "joined_on": joined, "left_on": left}
    if channels:
        table["acquired_via"] = via
    return table


def prefix_to_column(prefix: str) -> str:
    return {"C": "customer_id", "S": "celebrity_id", "M": "member_id"}[prefix]


def _orders(
    rng: random.Random,
    cal: _Calendar,
    customers: Table,
    count: int,
    *,
    celebrities: Table | None,
    hours: tuple[float, float],
    price: tuple[float, float],
) -> Table:
    table: Table = {
        k: []
        for k in (
            "order_id",
            "customer_id",
            "celebrity_id",
            "ordered_at",
            "delivered_at",
            "status",
            "work_hours",
            "amount",
        )
    }
    ids = customers["customer_id"]
    # A few loyal customers order often: that is what makes repeat purchases.
    weights = [rng.choice((1, 1, 1, 2, 4)) for _ in ids]
    buyers = rng.choices(range(len(ids)), weights=weights, k=count)
    for number, who in enumerate(buyers, start=1):
        ordered = cal.moment(after=customers["joined_on"][who])
        roll = rng.random()
        status = "completed" if roll < 0.86 else ("in_progress" if roll < 0.93 else "cancelled")
        delivered = None
        if status == "completed":
            delivered = ordered + dt.timedelta(
                minutes=15 * rng.randint(4 * int(hours[0]), 4 * int(hours[1]))
            )
        table["order_id"].append(f"O{number:06d}")
        table["customer_id"].append(ids[who])
        table["celebrity_id"].append(
            rng.choice(celebrities["celebrity_id"]) if celebrities else None
        )
        table["ordered_at"].append(ordered)
        table["delivered_at"].append(delivered)
        table["status"].append(status)
        table["work_hours"].append(round(rng.uniform(12, 36) * 4) / 4)
        table["amount"].append(round(rng.uniform(*price), 2))
    return table


def _survey(rng: random.Random, cal: _Calendar, count: int, prefix: str, population: int) -> Table:
    return {
        "answered_on": [cal.day() for _ in range(count)],
        "respondent_id": [
            f"{prefix}{rng.randint(1, max(1, population)):05d}" for _ in range(count)
        ],
        "recommend_score": [
            rng.choices(range(11), weights=(1, 1, 1, 1, 1, 2, 3, 6, 9, 12, 11))[0]
            for _ in range(count)
        ],
        "satisfaction": [
            rng.choices(range(1, 6), weights=(1, 2, 3, 8, 9))[0] for _ in range(count)
        ],
    }


def _monthly_channels(rng: random.Random, cal: _Calendar, count: int) -> Table:
    names = ["Instagram", "TikTok", "YouTube", "Facebook", "LinkedIn", "Pinterest"]
    channel_count = max(1, math.ceil(count / MONTHS_OF_DATA))
    channels = [names[i] if i < len(names) else f"Channel {i + 1}" for i in range(channel_count)]
    table: Table = {
        k: []
        for k in (
            "month",
            "channel",
            "followers",
            "reach",
            "impressions",
            "likes",
            "comments",
            "clicks",
            "engagements",
        )
    }
    for channel in channels:
        followers = rng.randint(2000, 20000)
        for month in cal.months():
            if len(table["month"]) >= count:
                break
            followers = max(100, int(followers * rng.uniform(0.98, 1.08)))
            reach = int(followers * rng.uniform(1.5, 4))
            impressions = int(reach * rng.uniform(1.3, 2.5))
            likes = int(followers * rng.uniform(0.02, 0.08))
            comments = int(likes * rng.uniform(0.05, 0.2))
            table["month"].append(month)
            table["channel"].append(channel)
            table["followers"].append(followers)
            table["reach"].append(reach)
            table["impressions"].append(impressions)
            table["likes"].append(likes)
            table["comments"].append(comments)
            table["clicks"].append(int(impressions * rng.uniform(0.005, 0.03)))
            table["engagements"].append(likes + comments + int(likes * rng.uniform(0.05, 0.3)))
    return table


def _celebrity_video(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    customers = _people(rng, cal, "C", max(1, rows * 3 // 4), 0.25)
    celebrities = _people(rng, cal, "S", max(1, rows // 20), 0.1)
    return {
        "Orders": _orders(
            rng, cal, customers, rows, celebrities=celebrities, hours=(2, 60), price=(25, 400)
        ),
        "Customers": customers,
        "Celebrities": celebrities,
        "Survey": _survey(rng, cal, max(1, rows // 2), "C", len(customers["customer_id"])),
    }


def _songwriting(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    customers = _people(rng, cal, "C", max(1, rows * 2 // 3), 0.2, channels=True)
    social = _monthly_channels(rng, cal, 3 * MONTHS_OF_DATA)
    return {
        "Orders": _orders(
            rng, cal, customers, rows, celebrities=None, hours=(48, 240), price=(150, 900)
        ),
        "Customers": customers,
        "Survey": _survey(rng, cal, max(1, rows // 2), "C", len(customers["customer_id"])),
        "Social": {k: social[k] for k in ("month", "channel", "engagements")},
    }


def _events(
    rng: random.Random,
    cal: _Calendar,
    members: Table,
    count: int,
    date_column: str,
    extra: dict[str, Callable[[], Any]],
) -> Table:
    table: Table = {date_column: [], "member_id": []}
    for key in extra:
        table[key] = []
    ids, joined, left = members["member_id"], members["joined_on"], members["left_on"]
    for _ in range(count):
        who = rng.randrange(len(ids))
        day = cal.day(after=joined[who])
        if left[who] is not None and day >= left[who]:
            day = joined[who]
        table[date_column].append(day)
        table["member_id"].append(ids[who])
        for key, make in extra.items():
            table[key].append(make())
    return table


def _networking(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    members = _people(rng, cal, "M", max(1, rows // 10), 0.2)
    statuses = ("accepted", "declined", "pending")
    events = ("Breakfast meetup", "Founders evening", "Webinar", "Industry fair")
    return {
        "Members": members,
        "Activity": _events(rng, cal, members, rows, "active_on", {}),
        "Connections": _events(
            rng,
            cal,
            members,
            max(1, rows * 5 // 8),
            "requested_on",
            {"status": lambda: rng.choices(statuses, weights=(13, 4, 3))[0]},
        ),
        "Attendance": _events(
            rng,
            cal,
            members,
            max(1, rows * 5 // 12),
            "event_on",
            {"event_name": lambda: rng.choice(events)},
        ),
        "Visits": _events(
            rng,
            cal,
            members,
            max(1, rows * 5 // 4),
            "visited_on",
            {"minutes": lambda: round(rng.uniform(2, 25), 1)},
        ),
        "Payments": _events(
            rng,
            cal,
            members,
            max(1, rows // 4),
            "paid_on",
            {"amount": lambda: rng.choice((9.0, 19.0, 49.0, 99.0))},
        ),
        "Survey": _survey(rng, cal, max(1, rows // 8), "M", len(members["member_id"])),
    }


def _marketing(rng: random.Random, cal: _Calendar) -> Table:
    table: Table = {
        k: [] for k in ("month", "video_spend", "revenue_from_video", "retention_spend", "revenue")
    }
    for month in cal.months():
        spend = round(rng.uniform(2000, 6000), 2)
        table["month"].append(month)
        table["video_spend"].append(spend)
        table["revenue_from_video"].append(round(spend * rng.uniform(0.8, 2.5), 2))
        table["retention_spend"].append(round(rng.uniform(800, 2500), 2))
        table["revenue"].append(round(rng.uniform(20000, 45000), 2))
    return table


def _video_marketing(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    customers = _people(rng, cal, "C", max(1, rows * 4 // 3), 0.3)
    followups: Table = {"followed_up_on": [], "customer_id": [], "outcome": []}
    for _ in range(max(1, rows // 2)):
        followups["followed_up_on"].append(cal.day())
        followups["customer_id"].append(rng.choice(customers["customer_id"]))
        followups["outcome"].append("success" if rng.random() < 0.72 else "no_success")
    return {
        "Customers": customers,
        "Survey": _survey(rng, cal, rows, "C", len(customers["customer_id"])),
        "Followups": followups,
        "Marketing": _marketing(rng, cal),
    }


def _social_media(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    channels = _monthly_channels(rng, cal, rows)
    funnel: Table = {
        k: []
        for k in (
            "month",
            "sessions",
            "single_page_sessions",
            "visitors",
            "conversions",
            "marketing_spend",
            "new_customers",
            "revenue",
            "customers_at_start",
            "churned_customers",
        )
    }
    customers = rng.randint(800, 1500)
    for month in cal.months():
        sessions = rng.randint(8000, 20000)
        visitors = int(sessions * rng.uniform(0.6, 0.85))
        new = rng.randint(40, 120)
        churned = rng.randint(10, 60)
        funnel["month"].append(month)
        funnel["sessions"].append(sessions)
        funnel["single_page_sessions"].append(int(sessions * rng.uniform(0.3, 0.6)))
        funnel["visitors"].append(visitors)
        funnel["conversions"].append(int(visitors * rng.uniform(0.01, 0.04)))
        funnel["marketing_spend"].append(round(rng.uniform(3000, 9000), 2))
        funnel["new_customers"].append(new)
        funnel["revenue"].append(round(customers * rng.uniform(20, 40), 2))
        funnel["customers_at_start"].append(customers)
        funnel["churned_customers"].append(churned)
        customers = customers + new - churned
    return {"Channels": {k: channels[k] for k in channels if k != "engagements"}, "Funnel": funnel}


_GENERATORS: dict[str, Callable[[random.Random, _Calendar, int], dict[str, Table]]] = {
    "celebrity_video": _celebrity_video,
    "songwriting": _songwriting,
    "networking": _networking,
    "video_marketing": _video_marketing,
    "social_media": _social_media,
}


def sample_tables(
    business_type: str, *, as_of: dt.date, seed: int = 0, rows: int | None = None
) -> dict[str, Table]:
    """Sample rows of every table of a business type, as columns."""
    rng = random.Random(f"{business_type}:{seed}")
    size = DEFAULT_ROWS[business_type] if rows is None else max(1, rows)
    return _GENERATORS[business_type](rng, _Calendar(rng, as_of), size)
