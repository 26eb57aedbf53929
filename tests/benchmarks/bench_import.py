"""Benchmark: `kpi import` of a large Orders export, linear in its rows.

An Orders export of N rows (Python's csv module, ISO date-times, a few bad
rows) is imported into an empty celebrity video starter workbook, and so is
one of N/10 rows, each in a child process that reports its time and peak
memory (max RSS). The baseline, measured in the same run, is the least any
importer does: the csv module reading the same file and parsing its dates
and amounts with the standard library (datetime.fromisoformat, float).

    python tests/benchmarks/bench_import.py [--rows N] [--repeat R]

Printed: seconds and peak MB of each, the ratio import / baseline, and the
time per row of the large import over that of the small one, which is 1
for a linear import. Exit status 1 when that ratio is over LINEAR_GOAL,
3 when the import does not load the rows it should.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench_support import child  # noqa: E402  (after the path is set)

LINEAR_GOAL = 1.5
AS_OF = dt.date(2024, 7, 15)
#: Every BAD_EVERY-th row has an amount that is no number: loaded as text, and named.
BAD_EVERY = 1000

_CHILD_BASELINE = """
import csv, datetime, json, resource, sys, time
start = time.perf_counter()
rows = 0
with open(sys.argv[1], newline="", encoding="utf-8") as handle:
    reader = csv.reader(handle)
    next(reader)
    for row in reader:
        datetime.datetime.fromisoformat(row[3])
        if row[4]:
            datetime.datetime.fromisoformat(row[4])
        try:
            float(row[6])
        except ValueError:
            pass
        rows += 1
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CHILD_IMPORT = """
import json, resource, sys, time
from pathlib import Path
from addin.importing import import_file
start = time.perf_counter()
result = import_file(Path(sys.argv[1]), Path(sys.argv[2]), "Orders", mode="replace")
print(json.dumps({"seconds": time.perf_counter() - start, "rows": result.imported,
                  "noted": result.noted,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_export(path: Path, rows: int) -> None:
    from addin.recipes import tables_for  # noqa: PLC0415

    first = dt.datetime(2022, 7, 1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([column.id for column in tables_for("celebrity_video")["Orders"]])
        for i in range(rows):
            ordered = first + dt.timedelta(minutes=(i * 7919) % (730 * 24 * 60))
            delivered = ordered + dt.timedelta(hours=1 + i % 72) if i % 7 else None
            amount = "n/a" if i % BAD_EVERY == 0 else f"{50 + (i * 37) % 400}.{i % 100:02d}"
            writer.writerow(
                [
                    f"O{i:07d}",
                    f"C{i % 5000:05d}",
                    f"S{i % 40:05d}",
                    ordered.isoformat(sep=" "),
                    "" if delivered is None else delivered.isoformat(sep=" "),
                    ("completed", "in_progress", "cancelled")[i % 3],
                    amount,
                ]
            )


def main() -> int:
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    sizes = (max(1, options.rows // 10), options.rows)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        workbook = base / "orders.xlsx"
        new_workbook(
            StarterOptions("celebrity_video", "en", empty=True, as_of=AS_OF), workbook, force=True
        )
        exports = {}
        for size in sizes:
            export = exports[size] = base / f"orders_{size}.csv"
            start = time.perf_counter()
            write_export(export, size)
            print(
                f"export: {size:,} rows, {export.stat().st_size / 1e6:.1f} MB "
                f"(written in {time.perf_counter() - start:.1f} s)"
            )
        # Interleaved (small, large, small, large...): a machine that gets
        # busier or quieter during the run weighs on both sizes alike.
        runs: dict[int, tuple[list[dict[str, float]], list[dict[str, float]]]] = {
            size: ([], []) for size in sizes
        }
        for _ in range(options.repeat):
            for size in sizes:
                runs[size][0].append(child(_CHILD_BASELINE, str(exports[size])))
                runs[size][1].append(child(_CHILD_IMPORT, str(workbook), str(exports[size])))
        results: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
        for size in sizes:
            baselines, imports = runs[size]
            best = (
                min(baselines, key=lambda r: r["seconds"]),
                min(imports, key=lambda r: r["seconds"]),
            )
            expected_bad = len(range(0, size, BAD_EVERY))
            if best[1]["rows"] != size or best[1]["noted"] != expected_bad:
                print(
                    f"wrong import: {best[1]['rows']:,} rows loaded, {best[1]['noted']:,} "
                    f"with a data note; expected {size:,} and {expected_bad:,}"
                )
                return 3
            results[size] = best
        print(f"{'':<44}{'rows':>10}{'seconds':>9}{'peak MB':>10}{'µs/row':>9}")
        for size, (baseline, ours) in results.items():
            for label, run in (
                ("csv read + date/number parse (baseline)", baseline),
                ("kpi import", ours),
            ):
                print(
                    f"{label:<44}{size:>10,}{run['seconds']:>9.2f}{run['max_rss_mb']:>10.0f}"
                    f"{run['seconds'] / size * 1e6:>9.1f}"
                )
        for size, (baseline, ours) in results.items():
            print(
                f"ratio kpi import / baseline at {size:,} rows: {ours['seconds'] / baseline['seconds']:.2f}"
            )
        small, large = sizes
        per_row = (results[large][1]["seconds"] / large) / (results[small][1]["seconds"] / small)
        print(
            f"linearity: time per row at {large:,} rows / at {small:,} rows: {per_row:.2f} "
            f"(goal <= {LINEAR_GOAL}); best of {options.repeat}"
        )
    return 0 if per_row <= LINEAR_GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
