"""Benchmark: ``kpi report --source`` over Parquet against polars and against
one hand-written DuckDB query, in interleaved rounds.

For each number of orders, the celebrity_video tables (orders with their
customers, celebrities and survey answers, generated as in
``bench_sources.py``) are written to Parquet, and four sides compute the same
130 values, the 10 KPIs over the 12 months of the trend and the month a year
before the period (2024-06):

* ``kpi report --source`` (``report_from_source``: the recipes' ibis forms on
  DuckDB, with the data notes, as the command runs);
* polars computing the same KPIs from the same files (a baseline);
* one hand-written DuckDB query (a baseline): common table expressions that
  read each table once, apply the data rules of docs/data-rules.md (ids and
  statuses trimmed by TRIM's rule and caseless, dates from 1900 to 9999,
  amounts from 0 up, scores whole from 0 to 10, master rows with an id and a
  joining date that do not leave before they join, counted once), bucket the
  rows by month and give the 130 values, each KPI measured as its recipe in
  addin/recipes/ measures it;
* DuckDB scanning the columns the KPIs read (an anchor: the floor of any
  engine reading these files).

Each side runs in its own child process, once per round, the order rotated
each round; wall time, CPU time (user + system) and peak memory (VmHWM) are
kept, and the ratios are the median of the per-round ratios. The load of the
machine is sampled during each size's rounds and printed with its table.

Environment (the defaults are the issue's sizes; try it small first):

    KPI_BENCH_SOURCE_ORDERS   orders per size, comma-separated (1000000,10000000)
    KPI_BENCH_ROUNDS          interleaved rounds per size (3)
    KPI_BENCH_SOURCE_MESSY_ORDERS  orders of the messy tables checked first (20000)

    KPI_BENCH_SOURCE_ORDERS=20000 KPI_BENCH_ROUNDS=1 python tests/benchmarks/bench_source_query.py

First, on small messy tables (``messy_tables``: ids with spaces and in other
letter cases, errors' text, repeated master rows, bad amounts and scores...),
the hand-written query's 130 values are checked equal to kpi's: it applies the
rules, not only on clean generated data.

Exit status 3 when the messy check fails, or when polars' or the hand-written query's values differ from
kpi's by more than 1e-9 (relative, or absolute near 0), 1 when a goal is
missed (kpi at most 1x polars and at most 2x the hand-written query, in wall
time, at every size), 0 otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sources import generate, write_parquet
from rounds import LoadWatch, Rounds, Run, goal_line, python_child

SIZES = [
    int(part)
    for part in os.environ.get("KPI_BENCH_SOURCE_ORDERS", "1000000,10000000").split(",")
    if part.strip()
]
ROUNDS = int(os.environ.get("KPI_BENCH_ROUNDS", "3"))
MESSY_ORDERS = int(os.environ.get("KPI_BENCH_SOURCE_MESSY_ORDERS", "20000"))
PERIOD = dt.date(2024, 6, 1)
POLARS_GOAL, QUERY_GOAL = 1.0, 2.0
TOLERANCE = 1e-9
KPIS = (
    "avg_fulfillment_time",
    "celebrity_acquisition_rate",
    "repeat_purchase_rate",
    "completion_rate",
    "nps",
    "revenue_per_celebrity",
    "churn_rate",
    "revenue",
    "average_order_value",
    "cancellation_rate",
)


def months() -> list[dt.date]:
    """The month a year before the period, then the 12 months of the trend."""
    first = dt.date(PERIOD.year - 1, PERIOD.month, 1)
    return [
        dt.date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1)
        for n in range(13)
    ]


def serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


def next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


#: The report, as ``kpi report --source FOLDER --type celebrity_video --period 2024-06``
#: computes it, and as that command's process ends (``end_without_last_collections``).
_CHILD_KPI = """
import json, sys, time
start = time.perf_counter()
from addin.cli import end_without_last_collections
end_without_last_collections()
from addin.report.offline import SourceSettings, report_from_source
from addin.ooxml.package import period_from
report = report_from_source(sys.argv[1], SourceSettings("celebrity_video", "en",
                            period_from(sys.argv[2], "--period")))
values = {k.id: [k.year_ago, *k.trend] for k in report.kpis}
print(json.dumps({"seconds": time.perf_counter() - start, "values": values,
                  "notes": len(report.kpis[0].notes), "max_rss_mb": peak_mb()}))
"""

#: The same KPIs with polars, over the same 13 months (argv: folder, then the
#: months' first days as serials, then the serial after the last month).
_CHILD_POLARS = r"""
import json, sys, time
start = time.perf_counter()
import polars as pl
folder = sys.argv[1]
bounds = [int(x) for x in sys.argv[2:]]
def serial(c):
    return pl.col(c).dt.epoch("us").cast(pl.Float64) / 86400e6 + 25569
def key(c):
    return pl.col(c).str.strip_chars(" ").str.replace_all(" {2,}", " ").str.to_lowercase()
orders = pl.read_parquet(f"{folder}/Orders.parquet").with_columns(
    serial("ordered_at").alias("o"), serial("delivered_at").alias("d"),
    key("customer_id").alias("who"), key("celebrity_id").alias("star"), key("status").alias("st"),
    pl.when(pl.col("amount") >= 0).then(pl.col("amount")).alias("amount"))
survey = pl.read_parquet(f"{folder}/Survey.parquet").with_columns(serial("answered_on").alias("a"))
def stays(name, column):
    t = pl.read_parquet(f"{folder}/{name}.parquet").with_columns(
        key(column).alias("who"), serial("joined_on").alias("since"), serial("left_on").alias("until"))
    return t.filter(pl.col("who").is_not_null() & pl.col("since").is_not_null()
                    & (pl.col("until").is_null() | (pl.col("until") >= pl.col("since"))))
customers, celebrities = stays("Customers", "customer_id"), stays("Celebrities", "celebrity_id")
def present_at(t, m):
    return set(t.filter((pl.col("since") < m) & (pl.col("until").is_null() | (pl.col("until") >= m)))["who"])
def ratio(a, b):
    return None if b == 0 else a / b
values = {k: [] for k in ("avg_fulfillment_time", "celebrity_acquisition_rate",
    "repeat_purchase_rate", "completion_rate", "nps", "revenue_per_celebrity", "churn_rate",
    "revenue", "average_order_value", "cancellation_rate")}
for n in range(len(bounds) - 1):
    s, e = bounds[n], bounds[n + 1]
    w = orders.filter((pl.col("d") >= s) & (pl.col("d") < e) & pl.col("o").is_not_null()
                      & (pl.col("d") >= pl.col("o")))
    values["avg_fulfillment_time"].append(ratio(((w["d"] - w["o"]).sum()) * 24, w.height))
    a = present_at(celebrities, s)
    joined = set(celebrities.filter((pl.col("since") >= s) & (pl.col("since") < e))["who"])
    values["celebrity_acquisition_rate"].append(ratio(len(joined - a), len(a)))
    y = orders.filter((pl.col("o") >= WINDOWS[n]) & (pl.col("o") < e)
                      & pl.col("who").is_not_null()).group_by("who").len()
    values["repeat_purchase_rate"].append(ratio(y.filter(pl.col("len") >= 2).height, y.height))
    m = orders.filter((pl.col("o") >= s) & (pl.col("o") < e) & pl.col("st").is_not_null())
    values["completion_rate"].append(ratio((m["st"] == "completed").sum(), m.height))
    values["cancellation_rate"].append(ratio((m["st"] == "cancelled").sum(), m.height))
    sc = survey.filter((pl.col("a") >= s) & (pl.col("a") < e) & (pl.col("recommend_score") >= 0)
                       & (pl.col("recommend_score") <= 10)
                       & (pl.col("recommend_score") % 1 == 0))["recommend_score"]
    values["nps"].append(ratio(((sc >= 9).sum() - (sc <= 6).sum()) * 100, sc.len()))
    shipped = orders.filter((pl.col("d") >= s) & (pl.col("d") < e))
    paid = shipped.filter(pl.col("amount").is_not_null())
    rev = paid["amount"].sum()
    values["revenue_per_celebrity"].append(ratio(rev, shipped["star"].drop_nulls().n_unique()))
    values["revenue"].append(rev)
    values["average_order_value"].append(ratio(rev, paid.height))
    a, b = present_at(customers, s), present_at(customers, e)
    values["churn_rate"].append(ratio(len(a - b), len(a)))
print(json.dumps({"seconds": time.perf_counter() - start, "values": values,
                  "max_rss_mb": peak_mb()}))
"""

_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA")


def key_sql(column: str) -> str:
    """An id or a status as the rules compare it: TRIM's trim, caseless; NULL
    for a blank or an Excel error's text."""
    errors = ", ".join(f"'{error}'" for error in _ERRORS)
    ends = f"trim({column}, ' ')"  # spaces only, as TRIM
    # Runs of spaces inside shrink to one; the regular expression only where there is a run.
    trimmed = f"(CASE WHEN contains({ends}, '  ') THEN regexp_replace({ends}, ' {{2,}}', ' ', 'g') ELSE {ends} END)"
    return f"CASE WHEN {column} IN ({errors}) OR {ends} = '' THEN NULL ELSE lower({trimmed}) END"


def serial_sql(column: str) -> str:
    """A timestamp as its Excel serial (the phantom 29 February 1900 counted),
    NULL outside the dates Excel holds."""
    days = f"(epoch({column}) / 86400 + 25569)"
    number = f"(CASE WHEN {days} < 61 THEN {days} - 1 ELSE {days} END)"
    return f"(CASE WHEN {number} >= 1 AND {number} < 2958466 THEN {number} END)"


def month_sql(column: str) -> str:
    """The month of a timestamp that counts as a date, as a number (year * 12 + month - 1)."""
    return f"(CASE WHEN {serial_sql(column)} IS NOT NULL THEN year({column}) * 12 + month({column}) - 1 END)"


def hand_query(folder: Path) -> str:
    """The hand-written query: 13 rows (the months in order), one column per KPI.

    Written for speed as one would by hand: each table is read once; an id's
    rule (trim, lower case) runs on its distinct stored values, grouped first,
    not on every row; a person's presence at the 14 month boundaries is one
    bit mask per master row, OR-ed per person; a customer's orders in each of
    the 13 twelve-month windows are 13 filtered counts of one grouping.
    """
    firsts = months()
    count = len(firsts)
    rows = ", ".join(
        f"({n}, {day.year * 12 + day.month - 1}, {serial(day)}, {serial(next_month(day))})"
        for n, day in enumerate(firsts)
    )
    # The month boundaries: the start of each month, then the end of the last.
    points = [serial(day) for day in firsts] + [serial(next_month(firsts[-1]))]

    def at_or_before(column: str) -> str:
        return " + ".join(f"({t} <= {column})::INTEGER" for t in points)

    # Present at boundary p: joined before it, and not left or left on or after it.
    first_present = at_or_before("since")
    last_present = f"CASE WHEN until IS NULL THEN {count} ELSE {at_or_before('until')} - 1 END"
    joined_month = " + ".join(f"({t} <= since)::INTEGER" for t in points[1:count])

    def masks(table: str, column: str, joined: bool) -> str:
        joined_bits = (
            f", bit_or(CASE WHEN since >= {points[0]} AND since < {points[-1]} "
            f"THEN 1::BIGINT << ({joined_month}) ELSE 0 END) AS joined"
            if joined
            else ""
        )
        return f"""(
    SELECT {key_sql("raw")} AS who, bit_or(present) AS present{", bit_or(joined) AS joined" if joined else ""}
    FROM (
        SELECT raw, bit_or(CASE WHEN last >= first THEN (1::BIGINT << (last + 1)) - (1::BIGINT << first)
                                ELSE 0 END) AS present{joined_bits}
        FROM (
            SELECT raw, since, {first_present} AS first, {last_present} AS last FROM (
                SELECT {column} AS raw, {serial_sql("joined_on")} AS since,
                       {serial_sql("left_on")} AS until, left_on IS NULL AS staying
                FROM read_parquet('{folder / table}.parquet'))
            WHERE since IS NOT NULL AND (staying OR until >= since))
        GROUP BY raw)
    GROUP BY who HAVING who IS NOT NULL)"""

    # A customer's orders in the twelve months that end with each month.
    windows = ", ".join(
        f"count(*) FILTER (om BETWEEN {day.year * 12 + day.month - 12} "
        f"AND {day.year * 12 + day.month - 1}) AS w{n}"
        for n, day in enumerate(firsts)
    )
    return f"""
WITH
months(i, mi, s, e) AS (VALUES {rows}),
orders AS (
    SELECT customer_id, celebrity_id, status, o, d,
           CASE WHEN o IS NOT NULL THEN year(ordered_at) * 12 + month(ordered_at) - 1 END AS om,
           CASE WHEN d IS NOT NULL THEN year(delivered_at) * 12 + month(delivered_at) - 1 END AS dm,
           amount
    FROM (
        SELECT customer_id, celebrity_id, status, ordered_at, delivered_at,
               {serial_sql("ordered_at")} AS o, {serial_sql("delivered_at")} AS d,
               CASE WHEN isfinite(amount) AND amount >= 0 THEN amount END AS amount
        FROM read_parquet('{folder / "Orders"}.parquet'))),
by_delivery AS (
    SELECT dm AS mi,
           count(*) FILTER (o IS NOT NULL AND d >= o) AS fulfilled,
           sum(d - o) FILTER (o IS NOT NULL AND d >= o) AS days,
           count(amount) AS paid, coalesce(sum(amount), 0) AS revenue
    FROM orders WHERE dm IS NOT NULL GROUP BY dm),
active AS (
    SELECT mi, count(DISTINCT {key_sql("celebrity_id")}) AS active
    FROM (SELECT DISTINCT dm AS mi, celebrity_id FROM orders WHERE dm IS NOT NULL)
    GROUP BY mi),
by_order AS (
    SELECT mi, coalesce(sum(n) FILTER (status IS NOT NULL), 0) AS statuses,
           coalesce(sum(n) FILTER (status = 'completed'), 0) AS completed,
           coalesce(sum(n) FILTER (status = 'cancelled'), 0) AS cancelled
    FROM (
        SELECT mi, {key_sql("status")} AS status, n
        FROM (SELECT om AS mi, status, count(*) AS n FROM orders WHERE om IS NOT NULL GROUP BY ALL))
    GROUP BY mi),
per_stored_id AS MATERIALIZED (
    -- Materialized: else the filter on the id's rule below is pushed under the grouping.
    SELECT customer_id, {windows} FROM orders WHERE om IS NOT NULL GROUP BY customer_id),
per_customer AS (
    SELECT list_value({", ".join(f"sum(w{n})" for n in range(count))}) AS windows
    FROM (SELECT {key_sql("customer_id")} AS who, * EXCLUDE (customer_id) FROM per_stored_id)
    WHERE who IS NOT NULL GROUP BY who),
repeat AS (
    SELECT m.i, count(*) FILTER (windows[m.i + 1] >= 1) AS customers,
           count(*) FILTER (windows[m.i + 1] >= 2) AS repeaters
    FROM months m CROSS JOIN per_customer GROUP BY m.i),
answers AS (
    SELECT mi, count(*) AS answers, count(*) FILTER (score >= 9) AS promoters,
           count(*) FILTER (score <= 6) AS detractors FROM (
        SELECT {month_sql("answered_on")} AS mi,
               CASE WHEN isfinite(recommend_score) AND recommend_score >= 0
                     AND recommend_score <= 10 AND recommend_score % 1 = 0
                    THEN recommend_score END AS score
        FROM read_parquet('{folder / "Survey"}.parquet'))
    WHERE mi IS NOT NULL AND score IS NOT NULL GROUP BY mi),
customers AS {masks("Customers", "customer_id", False)},
celebrities AS {masks("Celebrities", "celebrity_id", True)},
churn AS (
    SELECT m.i, count(*) FILTER ((present >> m.i) & 1 = 1) AS cohort,
           count(*) FILTER ((present >> m.i) & 1 = 1 AND (present >> (m.i + 1)) & 1 = 0) AS churned
    FROM months m CROSS JOIN customers GROUP BY m.i),
acquisition AS (
    SELECT m.i, count(*) FILTER ((present >> m.i) & 1 = 1) AS at_start,
           count(*) FILTER ((joined >> m.i) & 1 = 1 AND (present >> m.i) & 1 = 0) AS newcomers
    FROM months m CROSS JOIN celebrities GROUP BY m.i)
SELECT
    CASE WHEN fulfilled > 0 THEN days * 24 / fulfilled END AS avg_fulfillment_time,
    CASE WHEN at_start > 0 THEN newcomers / at_start END AS celebrity_acquisition_rate,
    CASE WHEN customers > 0 THEN repeaters / customers END AS repeat_purchase_rate,
    CASE WHEN statuses > 0 THEN completed / statuses END AS completion_rate,
    CASE WHEN answers > 0 THEN (promoters - detractors) * 100 / answers END AS nps,
    CASE WHEN active > 0 THEN revenue / active END AS revenue_per_celebrity,
    CASE WHEN cohort > 0 THEN churned / cohort END AS churn_rate,
    coalesce(revenue, 0) AS revenue,
    CASE WHEN paid > 0 THEN revenue / paid END AS average_order_value,
    CASE WHEN statuses > 0 THEN cancelled / statuses END AS cancellation_rate
FROM months m
LEFT JOIN by_delivery USING (mi) LEFT JOIN active USING (mi) LEFT JOIN by_order USING (mi)
LEFT JOIN answers USING (mi) LEFT JOIN repeat USING (i) LEFT JOIN churn USING (i)
LEFT JOIN acquisition USING (i)
ORDER BY m.i
"""


_CHILD_QUERY = """
import json, sys, time
start = time.perf_counter()
import duckdb
rows = duckdb.connect().execute(sys.argv[1]).fetchall()
names = sys.argv[2].split(",")
values = {name: [row[n] for row in rows] for n, name in enumerate(names)}
print(json.dumps({"seconds": time.perf_counter() - start, "values": values,
                  "max_rss_mb": peak_mb()}))
"""


def python_child_query(query: str) -> Run:
    """The hand-written query's values, from a child process."""
    return python_child(_CHILD_QUERY, query, ",".join(KPIS))


#: The floor: DuckDB reading every column the KPIs read, once.
_CHILD_SCAN = """
import json, sys, time
start = time.perf_counter()
import duckdb
folder = sys.argv[1]
connection = duckdb.connect()
for table, columns in (("Orders", "customer_id celebrity_id status ordered_at delivered_at amount"),
                       ("Customers", "customer_id joined_on left_on"),
                       ("Celebrities", "celebrity_id joined_on left_on"),
                       ("Survey", "answered_on recommend_score")):
    picked = ", ".join(f"max({c})" for c in columns.split())
    connection.execute(f"SELECT {picked} FROM read_parquet('{folder}/{table}.parquet')").fetchall()
print(json.dumps({"seconds": time.perf_counter() - start, "max_rss_mb": peak_mb()}))
"""


#: The kpi side runs with its modules' bytecode cached, as an installed
#: package's is (pip compiles it on install), even where the environment
#: says not to write bytecode: the first run (the messy check) writes it.
#: The other sides import only installed packages, whose bytecode is there.
_KPI_ENV = {"PYTHONDONTWRITEBYTECODE": ""}


def kpi_child(folder: Path) -> Run:
    """kpi's values for the tables in ``folder``, from a child process."""
    return python_child(_CHILD_KPI, str(folder), f"{PERIOD:%Y-%m}", env=_KPI_ENV)


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def differences(name: str, theirs: dict[str, list[Any]], ours: dict[str, list[Any]]) -> int:
    """Print each value of ``theirs`` that is not kpi's; their number."""
    found = 0
    for kpi_id in KPIS:
        for month, a, b in zip(months(), theirs[kpi_id], ours[kpi_id], strict=True):
            if not close(a, b):
                found += 1
                print(f"   {name} differs: {kpi_id} {month:%Y-%m}: {a!r}, kpi {b!r}")
    return found


def messy_tables(orders: int) -> dict[str, Any]:
    """Generated tables with what the data rules are about: ids with spaces
    around them and in other letter cases, an error's text and blanks for ids,
    statuses written otherwise or unknown, negative and missing amounts, orders
    delivered before they were ordered, master rows repeated, leaving before
    joining, and people who leave and come back; scores out of range or not whole."""
    import numpy as np  # noqa: PLC0415

    tables = generate(orders, seed=5)
    rng = np.random.default_rng(3)
    rows = tables["Orders"]
    count = len(rows["amount"])

    def some(share: float) -> Any:
        return rng.random(count) < share

    ids = rows["customer_id"].astype(object)
    spaced, error, blank = some(0.05), some(0.01), some(0.01)
    ids[spaced] = [f" {x.lower()}  " for x in ids[spaced]]
    ids[error], ids[blank] = "#N/A", "   "
    rows["customer_id"] = ids
    stars = rows["celebrity_id"].astype(object)
    spaced = some(0.05)
    stars[spaced] = [f"{x.lower()} " for x in stars[spaced]]
    rows["celebrity_id"] = stars
    status = rows["status"].astype(object)
    for share, text in ((0.05, "Completed "), (0.02, " CANCELLED"), (0.01, "lost"), (0.01, "")):
        status[some(share)] = text
    rows["status"] = status
    rows["amount"] = np.where(some(0.03), -5.0, np.where(some(0.03), np.nan, rows["amount"]))
    rows["delivered_at"] = np.where(some(0.03), rows["delivered_at"] - 5, rows["delivered_at"])
    for name in ("Customers", "Celebrities"):
        stays = tables[name]
        size = len(stays["id"])
        again = rng.integers(0, size, size // 10)
        back = rng.random(size) < 0.1
        stays_ids = stays["id"].astype(object)
        upper = rng.random(size) < 0.1
        stays_ids[upper] = [f"  {x.upper()}" for x in stays_ids[upper]]
        wrong = rng.random(size) < 0.05
        left = np.where(wrong, stays["joined_on"] - 10, stays["left_on"])
        tables[name] = {
            "id": np.concatenate([stays_ids, stays_ids[again], stays_ids[back]]),
            "joined_on": np.concatenate(
                [
                    stays["joined_on"],
                    stays["joined_on"][again],
                    45200 + rng.integers(0, 200, int(back.sum())),
                ]
            ),
            "left_on": np.concatenate([left, left[again], np.full(int(back.sum()), np.nan)]),
        }
    scores = tables["Survey"]["recommend_score"]
    answers = len(scores)
    scores = np.where(rng.random(answers) < 0.05, 11.0, scores)
    tables["Survey"]["recommend_score"] = np.where(rng.random(answers) < 0.05, 5.5, scores)
    return tables


def check_rules(work: Path) -> int:
    """The hand-written query against kpi on messy tables: the number of differences."""
    folder = work / "messy"
    write_parquet(messy_tables(MESSY_ORDERS), folder)
    ours = kpi_child(folder).result["values"]
    theirs = python_child_query(hand_query(folder)).result["values"]
    found = differences("hand-written DuckDB query (messy data)", theirs, ours)
    print(
        f"the hand-written query applies the data rules as kpi does: its 130 values on "
        f"{MESSY_ORDERS:,} messy orders equal kpi's within {TOLERANCE:g}: {'NO' if found else 'yes'}"
    )
    return found


def measure(orders: int, work: Path) -> tuple[int, list[bool]]:
    """One size: its table, its checks and its goals (exit code, goals met)."""
    folder = work / f"orders-{orders}"
    print(
        f"\n{orders:,} orders in Parquet, celebrity_video, 10 KPIs x 13 months (period {PERIOD:%Y-%m})"
    )
    started = time.perf_counter()
    size = write_parquet(generate(orders), folder)
    print(f"   generated and written in {time.perf_counter() - started:.1f} s, {size / 1e6:.0f} MB")
    firsts = months()
    bounds = [str(serial(day)) for day in firsts] + [str(serial(next_month(firsts[-1])))]
    # The repeat purchase rate's twelve months end with the month: they start 12 months before its end.
    windows = [serial(next_month(dt.date(day.year - 1, day.month, 1))) for day in firsts]
    polars_code = f"WINDOWS = {windows!r}\n" + _CHILD_POLARS
    query = hand_query(folder)
    sides = {
        "kpi report --source": lambda: kpi_child(folder),
        "polars": lambda: python_child(polars_code, str(folder), *bounds),
        "hand-written DuckDB query": lambda: python_child_query(query),
        "DuckDB scan of the columns": lambda: python_child(_CHILD_SCAN, str(folder)),
    }
    with LoadWatch() as load:
        rounds = Rounds().run(sides, ROUNDS)
    status = 0
    ours = rounds.runs["kpi report --source"][0].result["values"]
    for name in ("polars", "hand-written DuckDB query"):
        for run in rounds.runs[name]:
            if differences(name, run.result["values"], ours):
                status = 3
                break
    print(f"   130 values equal to kpi's within {TOLERANCE:g}: {'yes' if status == 0 else 'NO'}")
    print(f"   {load.summary()}")
    print(f"   medians of {ROUNDS} interleaved round(s):")
    for line in rounds.table():
        print(f"   {line}")
    goals = []
    print("   ratios (median of per-round ratios):")
    for baseline, goal in (("polars", POLARS_GOAL), ("hand-written DuckDB query", QUERY_GOAL)):
        line, met = goal_line(
            f"kpi report --source / {baseline}",
            rounds.ratio("kpi report --source", baseline),
            rounds.ratio("kpi report --source", baseline, "cpu"),
            goal,
        )
        print(f"   {line}")
        goals.append(met)
    scan = rounds.ratio("kpi report --source", "DuckDB scan of the columns")
    print(
        f"     kpi report --source / DuckDB scan of the columns: {scan:.1f}x wall (an anchor, no goal)"
    )
    memory = rounds.peak("kpi report --source") / rounds.peak("polars")
    print(f"     peak memory kpi / polars: {memory:.2f}x")
    return status, goals


def main() -> int:
    status, goals = 0, []
    with tempfile.TemporaryDirectory(prefix="bench-source-query-") as work:
        if check_rules(Path(work)):
            return 3
        for orders in SIZES:
            found, met = measure(orders, Path(work))
            status = max(status, found)
            goals += met
            # Each size's files go once measured: 10,000,000 orders take a few GB.
            for file in (Path(work) / f"orders-{orders}").glob("*"):
                file.unlink()
    if status:
        return status
    print(f"\ngoals: {'all met' if all(goals) else 'MISSED'}")
    return 0 if all(goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())
