"""Benchmark: ``kpi refresh`` of a workbook whose Orders table holds many rows,
against python-calamine and fastexcel reading the same tables, in
interleaved rounds.

The workbook is a celebrity_video starter workbook (``kpi new``) holding
generated tables (as ``bench_sources.py`` generates them): ORDERS orders in
Orders, the table most of its KPIs read, with their customers, celebrities
and survey answers. Three sides run, each in its own child process, once per
round, the order rotated each round:

* ``kpi refresh`` (``refresh_file``: read the tables, compute the 10 KPIs over
  13 months with the data notes, write the report sheet into a copy);
* python-calamine reading the tables the KPIs read (Orders, Customers,
  Celebrities, Survey) into Python values (the baseline of the goal);
* fastexcel reading the same tables into Arrow columns (an anchor).

Wall time, CPU time (user + system) and peak memory (VmHWM) are printed, with
the machine's load sampled during the rounds; ratios are medians of the
per-round ratios. The refresh's 130 values are checked against the
hand-written DuckDB query of ``bench_source_query.py`` over the same rows in
Parquet.

Environment (the defaults are the issue's sizes; try it small first):

    KPI_BENCH_REFRESH_ORDERS  orders in the workbook (1000000)
    KPI_BENCH_ROUNDS          interleaved rounds (3)

    KPI_BENCH_REFRESH_ORDERS=2000 KPI_BENCH_ROUNDS=1 python tests/benchmarks/bench_refresh_orders.py

Exit status 3 when the refresh's values differ from the query's by more than
1e-9, 1 when kpi refresh takes more than 2x the calamine read (wall time), 0
otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_source_query import PERIOD, differences, hand_query, python_child_query
from bench_sources import generate, workbook_rows, write_parquet
from rounds import LoadWatch, Rounds, goal_line, python_child

ORDERS = int(os.environ.get("KPI_BENCH_REFRESH_ORDERS", "1000000"))
ROUNDS = int(os.environ.get("KPI_BENCH_ROUNDS", "3"))
AS_OF = dt.date(2024, 7, 15)
CALAMINE_GOAL = 2.0
TABLES = ("Orders", "Customers", "Celebrities", "Survey")

_CHILD_REFRESH = """
import datetime as dt, json, sys, time
from pathlib import Path
start = time.perf_counter()
from addin.report.offline import refresh_file
report = refresh_file(Path(sys.argv[1]), Path(sys.argv[2]), period=dt.date.fromisoformat(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - start,
                  "values": {k.id: [k.year_ago, *k.trend] for k in report.kpis},
                  "max_rss_mb": peak_mb()}))
"""

_CHILD_CALAMINE = """
import json, sys, time
start = time.perf_counter()
from python_calamine import CalamineWorkbook
book = CalamineWorkbook.from_path(sys.argv[1], load_tables=True)
cells = 0
for name in sys.argv[2:]:
    rows = book.get_table_by_name(name).to_python()
    cells += sum(len(row) for row in rows)
print(json.dumps({"seconds": time.perf_counter() - start, "cells": cells,
                  "max_rss_mb": peak_mb()}))
"""

_CHILD_FASTEXCEL = """
import json, sys, time
start = time.perf_counter()
import fastexcel
reader = fastexcel.read_excel(sys.argv[1])
cells = 0
for name in sys.argv[2:]:
    table = reader.load_table(name, eager=True)
    cells += table.num_rows * table.num_columns
print(json.dumps({"seconds": time.perf_counter() - start, "cells": cells,
                  "max_rss_mb": peak_mb()}))
"""


def main() -> int:
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="bench-refresh-orders-") as where:
        work = Path(where)
        started = time.perf_counter()
        tables = generate(ORDERS, seed=11)
        write_parquet(tables, work / "parquet")
        book = new_workbook(
            StarterOptions("celebrity_video", "en", as_of=AS_OF),
            work / "orders.xlsx",
            data=workbook_rows(tables),
        )
        del tables
        print(
            f"kpi refresh of a celebrity_video workbook with {ORDERS:,} orders in Orders: "
            f"{book.stat().st_size / 1e6:.1f} MB, built in {time.perf_counter() - started:.1f} s"
        )
        out = work / "refreshed.xlsx"
        sides = {
            "kpi refresh": lambda: python_child(
                _CHILD_REFRESH, str(book), str(out), PERIOD.isoformat()
            ),
            "python-calamine read": lambda: python_child(_CHILD_CALAMINE, str(book), *TABLES),
            "fastexcel read": lambda: python_child(_CHILD_FASTEXCEL, str(book), *TABLES),
        }
        with LoadWatch() as load:
            rounds = Rounds().run(sides, ROUNDS)
        expected = python_child_query(hand_query(work / "parquet")).result["values"]
        wrong = sum(
            differences("kpi refresh", run.result["values"], expected)
            for run in rounds.runs["kpi refresh"]
        )
        cells = rounds.runs["python-calamine read"][0].result["cells"]
        print(
            f"   130 values equal to the hand-written query's within 1e-9: {'NO' if wrong else 'yes'}; "
            f"the readers read {cells:,} cells"
        )
        print(f"   {load.summary()}")
        print(f"   medians of {ROUNDS} interleaved round(s):")
        for line in rounds.table():
            print(f"   {line}")
        print("   ratios (median of per-round ratios):")
        line, met = goal_line(
            "kpi refresh / python-calamine read",
            rounds.ratio("kpi refresh", "python-calamine read"),
            rounds.ratio("kpi refresh", "python-calamine read", "cpu"),
            CALAMINE_GOAL,
        )
        print(f"   {line}")
        fast = rounds.ratio("kpi refresh", "fastexcel read")
        fast_cpu = rounds.ratio("kpi refresh", "fastexcel read", "cpu")
        print(
            f"     kpi refresh / fastexcel read: {fast:.2f}x wall, CPU time {fast_cpu:.2f}x "
            "(an anchor, no goal)"
        )
    if wrong:
        return 3
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
