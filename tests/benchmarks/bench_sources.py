"""Benchmark: the report from a source (``kpi report --source``), at scale.

1. ORDERS orders (default 10,000,000) in Parquet, with their customers,
   celebrities and survey answers: the celebrity_video report (10 KPIs over
   the 12 months of its trend, with the data notes) through DuckDB, against
   polars computing the same KPIs from the same files (the baseline). Both
   give the same values, checked.
2. WORKBOOK_ROWS orders (default 1,000,000, under Excel's 1,048,576 rows)
   in a starter workbook: ``kpi report`` from the workbook (today's path),
   against ``kpi report --source`` from the same rows in Parquet.

Each side runs in a child process, which reports its time and peak memory
(max RSS). Row counts come from the environment, to try it small:

    KPI_BENCH_ORDERS=200000 KPI_BENCH_WORKBOOK_ROWS=20000 python tests/benchmarks/bench_sources.py

Exit status 3 when DuckDB's and polars' values differ.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rounds import PEAK  # noqa: E402  (tests/benchmarks: the folder of this script)

from tests.bench_support import child  # noqa: E402  (after the path is set)

ORDERS = int(os.environ.get("KPI_BENCH_ORDERS", "10000000"))
WORKBOOK_ROWS = int(os.environ.get("KPI_BENCH_WORKBOOK_ROWS", "1000000"))
PERIOD = "2024-06"
FIRST, END = 45078.0, 45474.0  # 2023-06-01 .. 2024-07-01 as Excel serials
EPOCH = 25569  # 1970-01-01


def generate(orders: int, seed: int = 7) -> dict[str, Any]:
    """The celebrity_video tables as numpy columns (serials for dates, NaN: none)."""
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    customers, celebrities = max(100, orders // 10), max(20, min(5000, orders // 2000))
    ordered = np.round((FIRST + rng.random(orders) * (END - FIRST)) * 1440) / 1440
    hours = rng.uniform(1, 96, orders)
    delivered = np.where(rng.random(orders) < 0.95, ordered + np.round(hours * 60) / 1440, np.nan)
    status = rng.choice(
        np.array(["completed", "in_progress", "cancelled"]), orders, p=[0.85, 0.1, 0.05]
    )

    def stays(count: int, prefix: str, width: int) -> dict[str, Any]:
        joined = np.floor(44562 + rng.random(count) * (45450 - 44562))  # 2022-01-01 on
        left = np.where(rng.random(count) < 0.15, joined + rng.integers(30, 600, count), np.nan)
        return {
            "id": np.char.add(prefix, np.char.zfill(np.arange(count).astype(str), width)),
            "joined_on": joined,
            "left_on": left,
        }

    answers = max(10, orders // 20)
    return {
        "Orders": {
            "customer_id": np.char.add(
                "C", np.char.zfill(rng.integers(0, customers, orders).astype(str), 7)
            ),
            "celebrity_id": np.char.add(
                "S", np.char.zfill(rng.integers(0, celebrities, orders).astype(str), 5)
            ),
            "ordered_at": ordered,
            "delivered_at": delivered,
            "status": status,
            "amount": np.round(rng.uniform(20, 500, orders), 2),
        },
        "Customers": stays(customers, "C", 7),
        "Celebrities": stays(celebrities, "S", 5),
        "Survey": {
            "answered_on": np.floor(FIRST + rng.random(answers) * (END - FIRST)),
            "respondent_id": np.char.add(
                "C", np.char.zfill(rng.integers(0, customers, answers).astype(str), 7)
            ),
            "recommend_score": rng.integers(0, 11, answers).astype(float),
        },
    }


_ID_COLUMNS = {"Customers": "customer_id", "Celebrities": "celebrity_id"}
_DATES = {"ordered_at", "delivered_at", "joined_on", "left_on", "answered_on"}


def write_parquet(tables: dict[str, Any], folder: Path) -> int:
    """The tables as Parquet files (dates as timestamps); their total size in bytes."""
    import numpy as np  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for name, columns in tables.items():
        arrays = {}
        for column_id, values in columns.items():
            our = _ID_COLUMNS.get(name, column_id) if column_id == "id" else column_id
            if column_id in _DATES:
                micros = np.round((values - EPOCH) * 86400e6)
                mask = np.isnan(values)
                arrays[our] = pa.array(
                    np.where(mask, 0, micros).astype("int64"), pa.int64(), mask=mask
                ).cast(pa.timestamp("us"))
            else:
                arrays[our] = pa.array(values)
        path = folder / f"{name}.parquet"
        pq.write_table(pa.table(arrays), path)
        size += path.stat().st_size
    return size


def workbook_rows(tables: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """The tables as workbook cells: datetimes, floats, text, None."""
    from kpi_engine.excel_dates import from_serial  # noqa: PLC0415

    rows: dict[str, dict[str, list[Any]]] = {}
    for name, columns in tables.items():
        rows[name] = {}
        for column_id, values in columns.items():
            our = _ID_COLUMNS.get(name, column_id) if column_id == "id" else column_id
            if column_id in _DATES:
                rows[name][our] = [None if math.isnan(v) else from_serial(v) for v in values]
            else:
                rows[name][our] = values.tolist()
    return rows


_CHILD_SOURCE = (
    PEAK
    + """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from addin.report.offline import SourceSettings, make_report, report_from_source
from addin.ooxml.package import period_from
if sys.argv[2] == "-":
    report = report_from_source(sys.argv[1], SourceSettings("celebrity_video", "en",
                                period_from(sys.argv[3], "--period")))
else:
    report = make_report(Path(sys.argv[2]), source=sys.argv[1] if sys.argv[1] != "-" else None)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "trend": {k.id: k.trend for k in report.kpis},
                  "max_rss_mb": peak_mb()}))
"""
)

#: The same KPIs with polars, from the same Parquet files: the baseline.
_CHILD_POLARS = (
    PEAK
    + r"""
import json, sys, time, datetime as dt
start = time.perf_counter()
import polars as pl
folder = sys.argv[1]
def serial(c):
    return (pl.col(c).dt.epoch("us").cast(pl.Float64) / 86400e6 + 25569)
orders = pl.read_parquet(f"{folder}/Orders.parquet").with_columns(
    serial("ordered_at").alias("o"), serial("delivered_at").alias("d"),
    pl.col("customer_id").str.strip_chars(" ").str.to_lowercase().alias("who"))
survey = pl.read_parquet(f"{folder}/Survey.parquet").with_columns(serial("answered_on").alias("a"))
def stays(name, key):
    t = pl.read_parquet(f"{folder}/{name}.parquet").with_columns(
        pl.col(key).str.strip_chars(" ").str.to_lowercase().alias("who"),
        serial("joined_on").alias("since"), serial("left_on").alias("until"))
    return t.filter(pl.col("until").is_null() | (pl.col("until") >= pl.col("since")))
customers, celebrities = stays("Customers", "customer_id"), stays("Celebrities", "celebrity_id")
def present_at(t, m):
    return t.filter((pl.col("since") < m) & (pl.col("until").is_null() | (pl.col("until") >= m)))
def months():
    day = dt.date(2023, 7, 1)
    for _ in range(12):
        nxt = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        yield (day - dt.date(1899, 12, 30)).days, (nxt - dt.date(1899, 12, 30)).days, day
        day = nxt
def ratio(a, b):
    return None if b == 0 else a / b
trend = {k: [] for k in ("avg_fulfillment_time", "celebrity_acquisition_rate",
    "repeat_purchase_rate", "completion_rate", "nps", "revenue_per_celebrity", "churn_rate",
    "revenue", "average_order_value", "cancellation_rate")}
for s, e, day in months():
    w = orders.filter((pl.col("d") >= s) & (pl.col("d") < e) & (pl.col("d") >= pl.col("o")))
    trend["avg_fulfillment_time"].append(ratio(((w["d"] - w["o"]).sum()) * 24, w.height))
    a = set(present_at(celebrities, s)["who"])
    joined = set(celebrities.filter((pl.col("since") >= s) & (pl.col("since") < e))["who"])
    trend["celebrity_acquisition_rate"].append(ratio(len(joined - a), len(a)))
    s12 = (dt.date(day.year - 1 + (day.month) // 12, day.month % 12 + 1, 1) - dt.date(1899, 12, 30)).days
    y = orders.filter((pl.col("o") >= s12) & (pl.col("o") < e)).group_by("who").len()
    trend["repeat_purchase_rate"].append(ratio(y.filter(pl.col("len") >= 2).height, y.height))
    m = orders.filter((pl.col("o") >= s) & (pl.col("o") < e))
    trend["completion_rate"].append(ratio((m["status"] == "completed").sum(), m.height))
    sc = survey.filter((pl.col("a") >= s) & (pl.col("a") < e))["recommend_score"]
    trend["nps"].append(ratio(((sc >= 9).sum() - (sc <= 6).sum()) * 100, sc.len()))
    shipped = orders.filter((pl.col("d") >= s) & (pl.col("d") < e))
    rev = shipped["amount"].sum()
    trend["revenue_per_celebrity"].append(ratio(rev, shipped["celebrity_id"].n_unique()))
    trend["revenue"].append(rev)
    trend["average_order_value"].append(ratio(rev, shipped.height))
    trend["cancellation_rate"].append(ratio((m["status"] == "cancelled").sum(), m.height))
    a, b = set(present_at(customers, s)["who"]), set(present_at(customers, e)["who"])
    trend["churn_rate"].append(ratio(len(a - b), len(a)))
print(json.dumps({"seconds": time.perf_counter() - start, "trend": trend,
                  "max_rss_mb": peak_mb()}))
"""
)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def main() -> int:
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    status = 0
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as where:
        folder = Path(where)
        print(f"1. {ORDERS:,} orders in Parquet: the celebrity_video report, DuckDB against polars")
        started = time.perf_counter()
        size = write_parquet(generate(ORDERS), folder / "big")
        print(
            f"   generated and written in {time.perf_counter() - started:.1f} s, {size / 1e6:.0f} MB of Parquet"
        )
        duck = child(_CHILD_SOURCE, str(folder / "big"), "-", PERIOD)
        polars = child(_CHILD_POLARS, str(folder / "big"))
        for kpi_id, values in polars["trend"].items():
            if not all(_close(a, b) for a, b in zip(values, duck["trend"][kpi_id], strict=True)):
                print(f"   {kpi_id}: DuckDB {duck['trend'][kpi_id]} polars {values}")
                status = 3
        print(f"   same values: {'yes' if status == 0 else 'NO'}")
        print(
            f"   kpi report --source (DuckDB): {duck['seconds']:7.1f} s  {duck['max_rss_mb']:7.0f} MB max RSS"
        )
        print(
            f"   polars, same KPIs:            {polars['seconds']:7.1f} s  {polars['max_rss_mb']:7.0f} MB max RSS"
        )
        print(
            f"   ratio DuckDB / polars: time {duck['seconds'] / polars['seconds']:.2f}, "
            f"memory {duck['max_rss_mb'] / polars['max_rss_mb']:.2f}"
        )

        print(
            f"2. {WORKBOOK_ROWS:,} orders: from a workbook (today) against from Parquet (--source)"
        )
        tables = generate(WORKBOOK_ROWS, seed=11)
        write_parquet(tables, folder / "small")
        started = time.perf_counter()
        book = new_workbook(
            StarterOptions("celebrity_video", "en", as_of=dt.date(2024, 7, 15)),
            folder / "orders.xlsx",
            data=workbook_rows(tables),
        )
        print(
            f"   workbook written in {time.perf_counter() - started:.1f} s, "
            f"{book.stat().st_size / 1e6:.0f} MB"
        )
        from_book = child(_CHILD_SOURCE, "-", str(book))
        from_parquet = child(_CHILD_SOURCE, str(folder / "small"), str(book))
        print(
            f"   kpi report WORKBOOK:                  {from_book['seconds']:7.1f} s  {from_book['max_rss_mb']:7.0f} MB max RSS"
        )
        print(
            f"   kpi report WORKBOOK --source FOLDER:  {from_parquet['seconds']:7.1f} s  {from_parquet['max_rss_mb']:7.0f} MB max RSS"
        )
        print(
            f"   ratio workbook / Parquet: time {from_book['seconds'] / from_parquet['seconds']:.2f}, "
            f"memory {from_book['max_rss_mb'] / from_parquet['max_rss_mb']:.2f}"
        )
        for kpi_id, values in from_book["trend"].items():
            if not all(
                _close(a, b) for a, b in zip(values, from_parquet["trend"][kpi_id], strict=True)
            ):
                print(f"   {kpi_id}: workbook {values} Parquet {from_parquet['trend'][kpi_id]}")
                status = 3
    return status


if __name__ == "__main__":
    raise SystemExit(main())
