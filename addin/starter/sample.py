"""Realistic, deterministic sample data for each business type.

The same type, seed, size and as-of date give the same rows. The data shows a
business that has been running for years, so the first month of the trend
looks like any other:

- people (customers, celebrities, members) join over the four years before
  the as-of month: an established base over the three years before the
  trend, then steady joining through it, a little more each month. Some
  leave, a month to a year after joining.
- events (orders, survey answers, activity, payments...) cover the 26 months
  before the as-of month: the twelve months of the trend and the year before
  them, which the first trend month looks at (its repeat purchase rate counts
  the orders of the twelve months ending with it), and a little more. An
  event falls on a day when its person is present, the busier people more
  often, so activity grows with the people.
- monthly tables (social media, marketing, funnel) cover the eighteen months
  before the as-of month: the trend and the two quarters before it.

``rows`` sets the size of the type's main table; the other tables keep their
proportions.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from addin.recipes.tables import ACQUISITION_CHANNELS
from kpi_engine.inputs import first_of_month

#: Rows of each type's main table over its span: about two years of orders,
#: activity or answers; eighteen months of three social media channels.
DEFAULT_ROWS = {
    "celebrity_video": 1200,
    "songwriting": 600,
    "networking": 3600,
    "video_marketing": 1200,
    "social_media": 54,
}
#: Months before the as-of month that people join over: the trend's twelve
#: and the three years before them.
PEOPLE_MONTHS = 48
#: Months before the as-of month that events cover: the 23 the trend looks at
#: (its first month's repeat purchase rate looks back over the year ending
#: with it) and a few more.
EVENT_MONTHS = 26
#: Months before the as-of month that monthly tables cover: the trend's
#: twelve and the six before them (quarter-on-quarter growth compares the
#: three months ending with a month with the three before).
MONTHLY_MONTHS = 18
#: The social networks of the monthly tables, in the order a business takes them up.
CHANNEL_NAMES = (
    "Instagram",
    "TikTok",
    "YouTube",
    "Facebook",
    "LinkedIn",
    "Pinterest",
    "X",
    "Threads",
    "Snapchat",
    "Reddit",
    "Bluesky",
    "Twitch",
)
MOST_CHANNELS = len(CHANNEL_NAMES)
#: The most rows of a type's main table where it is not MAX_ROWS: a monthly
#: table per channel has a row per channel and month.
MOST_SAMPLE_ROWS = {"social_media": MOST_CHANNELS * MONTHLY_MONTHS}
#: The first day a cell holds as a date (serial 1).
FIRST_EXCEL_DAY = dt.date(1900, 1, 1)
#: How far the busiest and the quietest months are from the average (20 %).
SEASON_SWING = 0.2
#: How much joining, and the monthly tables' volumes, grow each month.
GROWTH = 0.01

Table = dict[str, list[Any]]


class _Calendar:
    """The data's spans, and days within them."""

    def __init__(self, rng: random.Random, as_of: dt.date) -> None:
        self.rng = rng
        self.end = first_of_month(as_of)
        # No day before the first Excel holds: an as-of date in 1903 has
        # people join from 1900 on, not four years back.
        self.people_start = max(first_of_month(as_of, -PEOPLE_MONTHS), FIRST_EXCEL_DAY)
        self.events_start = first_of_month(as_of, -EVENT_MONTHS)

    def joining_days(self, count: int) -> list[dt.date]:
        """``count`` days in order from the people's start to the end, joining
        growing by GROWTH a month: one day, at random, in each of ``count``
        equal shares of the joining (the inverse of its cumulative share), so
        it is steady, with neither empty months nor bursts."""
        days = (self.end - self.people_start).days
        rate = math.log1p(GROWTH) * 12 / 365.25  # per day
        scale = math.expm1(rate * days)
        return [
            self.people_start
            + dt.timedelta(
                days=min(days - 1, int(math.log1p((i + self.rng.random()) / count * scale) / rate))
            )
            for i in range(count)
        ]

    def moment(self, day: dt.date) -> dt.datetime:
        return dt.datetime(
            day.year, day.month, day.day, self.rng.randint(8, 21), self.rng.choice((0, 15, 30, 45))
        )

    def months(self) -> list[dt.date]:
        return [first_of_month(self.end, i - MONTHLY_MONTHS) for i in range(MONTHLY_MONTHS)]


def _people(
    rng: random.Random,
    cal: _Calendar,
    prefix: str,
    count: int,
    leave_share: float,
    channels: bool = False,
    stay_days: tuple[int, int] = (35, 400),
) -> Table:
    """People in the order they joined; ``leave_share`` of them leave after
    ``stay_days`` (at random in that range)."""
    joined = cal.joining_days(count)
    left: list[dt.date | None] = []
    for start in joined:
        stop = None
        if rng.random() < leave_share:
            # Measured from the start, so that no date passes 9999-12-31.
            stay = rng.randint(*stay_days)
            stop = start + dt.timedelta(days=stay) if stay < (cal.end - start).days else None
        left.append(stop)
    table: Table = {
        prefix_to_column(prefix): [f"{prefix}{number:05d}" for number in range(1, count + 1)],
        "joined_on": joined,
        "left_on": left,
    }
    if channels:
        # Half of them on a friend's word, the rest by advertising, search or social media.
        table["acquired_via"] = [
            rng.choices(ACQUISITION_CHANNELS, weights=(6, 2, 2, 2))[0] for _ in range(count)
        ]
    return table


def prefix_to_column(prefix: str) -> str:
    return {"C": "customer_id", "S": "celebrity_id", "M": "member_id"}[prefix]


def _events_of(
    rng: random.Random,
    cal: _Calendar,
    people: Table,
    count: int,
    loyalty: list[int] | None = None,
) -> list[tuple[dt.date, int]]:
    """``count`` events in date order, as (day, index of the person): a
    person takes part in proportion to the days they are present within the
    events' span (times their loyalty), on one of those days."""
    firsts, spans = [], []
    for joined, left in zip(people["joined_on"], people["left_on"], strict=True):
        first = max(joined, cal.events_start)
        firsts.append(first)
        spans.append(max(0, ((left or cal.end) - first).days))
    weights = spans if loyalty is None else [s * w for s, w in zip(spans, loyalty, strict=True)]
    if not any(weights):  # nobody present (a tiny sample): anyone, any day
        firsts = [cal.events_start] * len(spans)
        spans = [(cal.end - cal.events_start).days] * len(spans)
        weights = spans
    who = rng.choices(range(len(spans)), weights=weights, k=count)
    return sorted(((_seasonal_day(rng, firsts[i], spans[i]), i) for i in who), key=lambda e: e[0])


def season(day: dt.date) -> float:
    """How busy the business is in ``day``'s month, 1 on average: a quiet
    summer and a busy end of year (gifts, events), as a small business sees."""
    return 1.0 + SEASON_SWING * math.cos(2 * math.pi * (day.month - 11.5) / 12)


def _seasonal_day(rng: random.Random, first: dt.date, span: int) -> dt.date:
    """A day within ``span`` days of ``first``, busy months more likely: a
    few draws, each kept in proportion to its month's season."""
    day = first + dt.timedelta(days=rng.randrange(span))
    for _ in range(4):
        if rng.random() * (1 + SEASON_SWING) <= season(day):
            break
        day = first + dt.timedelta(days=rng.randrange(span))
    return day


def _someone_present(rng: random.Random, people: Table, id_column: str, day: dt.date) -> Any:
    """Someone present on ``day``, if draws find one (else the last to have
    joined by then): people are in the order they joined, so those who joined
    by then come first, and the recent ones are the likelier to be there."""
    joined, left = people["joined_on"], people["left_on"]
    joined_by = bisect_right(joined, day) or len(joined)
    for _ in range(64):
        index = rng.randrange(joined_by)
        if left[index] is None or left[index] > day:
            return people[id_column][index]
    return people[id_column][joined_by - 1]


def _orders(
    rng: random.Random,
    cal: _Calendar,
    customers: Table,
    count: int,
    *,
    celebrities: Table | None,
    hours: tuple[float, float],
    price: tuple[float, float],
    agreed_days: tuple[int, int] | None = None,
    completed: float = 0.86,
    loyalty_choices: tuple[int, ...] = (1, 1, 1, 2, 4),
) -> Table:
    """Orders of ``customers``: ``completed`` of them completed, the rest
    half in progress and half cancelled; a customer's loyalty (how many times
    more often than most they order) drawn from ``loyalty_choices``."""
    table: Table = {
        k: []
        for k in (
            "order_id",
            "customer_id",
            "celebrity_id",
            "ordered_at",
            "delivered_at",
            "due_on",
            "status",
            "work_hours",
            "amount",
        )
    }
    ids = customers["customer_id"]
    # A few loyal customers order often: that is what makes repeat purchases.
    loyalty = [rng.choice(loyalty_choices) for _ in ids]
    # Ordered at a time of day, in order: order ids grow with time.
    moments = sorted(
        (cal.moment(day), who) for day, who in _events_of(rng, cal, customers, count, loyalty)
    )
    for number, (ordered, who) in enumerate(moments, start=1):
        day = ordered.date()
        roll = rng.random()
        status = (
            "completed"
            if roll < completed
            else ("in_progress" if roll < (1 + completed) / 2 else "cancelled")
        )
        delivered = None
        if status == "completed":
            delivered = ordered + dt.timedelta(
                minutes=15 * rng.randint(4 * int(hours[0]), 4 * int(hours[1]))
            )
        table["order_id"].append(f"O{number:06d}")
        table["customer_id"].append(ids[who])
        table["celebrity_id"].append(
            _someone_present(rng, celebrities, "celebrity_id", day) if celebrities else None
        )
        table["ordered_at"].append(ordered)
        table["delivered_at"].append(delivered)
        # The delivery day agreed with the customer, where the business agrees one.
        table["due_on"].append(
            day + dt.timedelta(days=rng.randint(*agreed_days)) if agreed_days else None
        )
        table["status"].append(status)
        table["work_hours"].append(round(rng.uniform(12, 36) * 4) / 4)
        table["amount"].append(round(rng.uniform(*price), 2))
    return table


#: How often each answer comes, from 0 to 10 to "how likely are you to
#: recommend us?" and from 1 to 5 to "how satisfied are you?": the answers of
#: customers who are mostly pleased, an NPS near 35 and four in five satisfied.
RECOMMEND_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 6, 9, 13, 14)
SATISFACTION_WEIGHTS = (1, 1, 3, 8, 11)


def _survey(
    rng: random.Random,
    cal: _Calendar,
    people: Table,
    id_column: str,
    count: int,
    *,
    recommend: tuple[float, ...] = RECOMMEND_WEIGHTS,
    satisfaction: tuple[float, ...] = SATISFACTION_WEIGHTS,
) -> Table:
    answers = _events_of(rng, cal, people, count)
    return {
        "answered_on": [day for day, _ in answers],
        "respondent_id": [people[id_column][who] for _, who in answers],
        "recommend_score": [rng.choices(range(11), weights=recommend)[0] for _ in range(count)],
        "satisfaction": [rng.choices(range(1, 6), weights=satisfaction)[0] for _ in range(count)],
        "recommended": [rng.choices(("yes", "no"), weights=(3, 7))[0] for _ in range(count)],
    }


def _monthly_channels(
    rng: random.Random,
    cal: _Calendar,
    count: int,
    *,
    monthly_growth: tuple[float, float] = (0.98, 1.08),
    like_share: tuple[float, float] = (0.02, 0.08),
) -> Table:
    """``count`` rows of channels' monthly figures: each channel's followers
    grow by a factor drawn from ``monthly_growth`` a month, and a share of
    them drawn from ``like_share`` like its posts."""
    channel_count = min(MOST_CHANNELS, max(1, math.ceil(count / MONTHLY_MONTHS)))
    channels = list(CHANNEL_NAMES[:channel_count])
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
            "saves",
            "video_views",
            "profile_visits",
            "shares",
            "closeups",
            "clicks",
            "website_clicks",
            "profile_actions",
            "engagements",
        )
    }
    for channel in channels:
        followers = rng.randint(2000, 20000)
        # Each channel has its own audience: the shares of its followers it
        # reaches, who like, comment or click, drawn once; a month moves them
        # by a tenth at most, so that a figure changes as a real account's does.
        ratio = {
            name: rng.uniform(low, high)
            for name, (low, high) in {
                "reach": (1.5, 4),
                "impressions": (1.3, 2.5),
                "likes": like_share,
                "comments": (0.05, 0.2),
                "clicks": (0.005, 0.03),
                "shares": (0.05, 0.3),
                "saves": (0.05, 0.25),
                "video_views": (0.3, 1.2),
                "profile_visits": (0.01, 0.04),
                "closeups": (0.002, 0.01),
                "website_clicks": (0.4, 0.8),
                "profile_actions": (0.02, 0.1),
            }.items()
        }

        def share(name: str, ratio: dict[str, float] = ratio) -> float:
            return ratio[name] * rng.uniform(0.9, 1.1)

        for month in cal.months():
            if len(table["month"]) >= count:
                break
            followers = max(100, int(followers * rng.uniform(*monthly_growth)))
            # Followers stay; what they do follows the season.
            reach = int(followers * share("reach") * season(month))
            impressions = int(reach * share("impressions"))
            likes = int(followers * share("likes"))
            comments = int(likes * share("comments"))
            clicks = int(impressions * share("clicks"))
            shares = int(likes * share("shares"))
            table["month"].append(month)
            table["channel"].append(channel)
            table["followers"].append(followers)
            table["reach"].append(reach)
            table["impressions"].append(impressions)
            table["likes"].append(likes)
            table["comments"].append(comments)
            table["saves"].append(int(likes * share("saves")))
            table["video_views"].append(int(reach * share("video_views")))
            table["profile_visits"].append(int(reach * share("profile_visits")))
            table["shares"].append(shares)
            table["closeups"].append(int(impressions * share("closeups")))
            table["clicks"].append(clicks)
            table["website_clicks"].append(int(clicks * share("website_clicks")))
            table["profile_actions"].append(int(clicks * share("profile_actions")))
            table["engagements"].append(likes + comments + shares)
    return table


def _celebrity_video(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    customers = _people(rng, cal, "C", max(1, rows // 2), 0.25)
    # New celebrities every month (two or three at the default size), most
    # of them staying one to three months: the platform renews its roster,
    # about a third of it a month.
    celebrities = _people(rng, cal, "S", max(3, rows // 12), 0.98, stay_days=(30, 90))
    return {
        # Most videos recorded within a day or two, nearly all delivered; a
        # core of fans who order again for each birthday.
        "Orders": _orders(
            rng,
            cal,
            customers,
            rows,
            celebrities=celebrities,
            hours=(4, 40),
            price=(60, 700),
            completed=0.93,
        ),
        "Customers": customers,
        "Celebrities": celebrities,
        # About a hundred answers a month at the default size: an NPS whose
        # margin of error is near ten points, not thirty.
        "Survey": _survey(rng, cal, customers, "customer_id", max(1, rows * 2)),
    }


def _songwriting(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    # Most customers order a song for one occasion; half of the new ones come
    # on a friend's word.
    customers = _people(rng, cal, "C", max(1, rows), 0.2, channels=True)
    # The songs shared online draw a little more engagement each month.
    social = _monthly_channels(
        rng, cal, 3 * MONTHLY_MONTHS, monthly_growth=(1.05, 1.11), like_share=(0.045, 0.055)
    )
    return {
        "Orders": _orders(
            rng,
            cal,
            customers,
            rows,
            celebrities=None,
            hours=(48, 168),
            price=(150, 900),
            agreed_days=(7, 14),
            completed=0.96,
            loyalty_choices=(1, 1, 1, 1, 3),
        ),
        "Customers": customers,
        # Customers moved by their song: nearly all satisfied.
        "Survey": _survey(
            rng, cal, customers, "customer_id", max(1, rows * 2), satisfaction=(1, 1, 1, 8, 39)
        ),
        "Social": {k: social[k] for k in ("month", "channel", "engagements")},
    }


def _events(
    rng: random.Random,
    cal: _Calendar,
    members: Table,
    count: int,
    date_column: str,
    extra: dict[str, Callable[[], Any]],
    loyalty: list[int] | None = None,
) -> Table:
    table: Table = {date_column: [], "member_id": []}
    for key in extra:
        table[key] = []
    for day, who in _events_of(rng, cal, members, count, loyalty):
        table[date_column].append(day)
        table["member_id"].append(members["member_id"][who])
        for key, make in extra.items():
            table[key].append(make())
    return table


def _networking(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    # A professional club of a few hundred members; about a third of those
    # who join leave within a year.
    members = _people(rng, cal, "M", max(1, rows // 12), 0.3)
    statuses = ("accepted", "declined", "pending")
    events = ("Breakfast meetup", "Founders evening", "Webinar", "Industry fair")
    # A core of regulars, active most weeks and at most events, and
    # occasional members: what a networking platform's activity looks like.
    regulars = [rng.choice((1, 1, 2, 3, 5)) for _ in members["member_id"]]
    return {
        "Members": members,
        "Activity": _events(rng, cal, members, rows, "active_on", {}, regulars),
        "Connections": _events(
            rng,
            cal,
            members,
            max(1, rows * 5 // 12),
            "requested_on",
            # Members ask people they have met: most requests are accepted.
            {"status": lambda: rng.choices(statuses, weights=(17, 2, 1))[0]},
        ),
        "Attendance": _events(
            rng,
            cal,
            members,
            # Three or four events a month for an active member, the
            # regulars at most of them.
            max(1, rows * 2),
            "event_on",
            {"event_name": lambda: rng.choice(events)},
            regulars,
        ),
        "Visits": _events(
            rng,
            cal,
            members,
            max(1, rows // 3),
            "visited_on",
            {"minutes": lambda: round(rng.uniform(4, 26), 1)},
        ),
        "Payments": _events(
            rng,
            cal,
            members,
            # About one active member in two pays in a month.
            max(1, rows // 3),
            "paid_on",
            {"amount": lambda: rng.choice((9.0, 19.0, 49.0, 99.0))},
        ),
        "Survey": _survey(
            rng, cal, members, "member_id", max(1, rows // 3), satisfaction=(1, 1, 2, 8, 14)
        ),
    }


def _marketing(rng: random.Random, cal: _Calendar) -> Table:
    """Monthly spend and revenue: growing, busier at the end of the year,
    the videos returning one and a half to two times what they cost."""
    table: Table = {
        k: [] for k in ("month", "video_spend", "revenue_from_video", "retention_spend", "revenue")
    }
    for index, month in enumerate(cal.months()):
        grown = (1 + GROWTH) ** index * season(month)
        spend = round(4000 * grown * rng.uniform(0.9, 1.1), 2)
        table["month"].append(month)
        table["video_spend"].append(spend)
        table["revenue_from_video"].append(round(spend * rng.uniform(1.5, 1.9), 2))
        table["retention_spend"].append(round(1600 * grown * rng.uniform(0.9, 1.1), 2))
        table["revenue"].append(round(32000 * grown * rng.uniform(0.93, 1.07), 2))
    return table


def _video_marketing(rng: random.Random, cal: _Calendar, rows: int) -> dict[str, Table]:
    customers = _people(rng, cal, "C", max(1, rows * 4 // 3), 0.3)
    followups: Table = {"followed_up_on": [], "customer_id": [], "outcome": []}
    for day, who in _events_of(rng, cal, customers, max(1, rows // 2)):
        followups["followed_up_on"].append(day)
        followups["customer_id"].append(customers["customer_id"][who])
        followups["outcome"].append("success" if rng.random() < 0.72 else "no_success")
    return {
        "Customers": customers,
        "Survey": _survey(rng, cal, customers, "customer_id", rows * 2),
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
            "unique_page_views",
            "new_users",
            "returning_users",
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
    for index, month in enumerate(cal.months()):
        grown = (1 + GROWTH) ** index * season(month)
        sessions = int(14000 * grown * rng.uniform(0.9, 1.1))
        visitors = int(sessions * rng.uniform(0.7, 0.8))
        new = int(customers * rng.uniform(0.03, 0.04) * season(month))
        churned = int(customers * rng.uniform(0.018, 0.024))
        funnel["month"].append(month)
        funnel["sessions"].append(sessions)
        funnel["single_page_sessions"].append(int(sessions * rng.uniform(0.38, 0.48)))
        first_timers = int(visitors * rng.uniform(0.5, 0.6))
        funnel["unique_page_views"].append(int(sessions * rng.uniform(2.0, 2.4)))
        funnel["new_users"].append(first_timers)
        funnel["returning_users"].append(visitors - first_timers)
        funnel["visitors"].append(visitors)
        funnel["conversions"].append(int(visitors * rng.uniform(0.025, 0.035)))
        funnel["marketing_spend"].append(round(6000 * grown * rng.uniform(0.9, 1.1), 2))
        funnel["new_customers"].append(new)
        funnel["revenue"].append(round(customers * rng.uniform(27, 33), 2))
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
