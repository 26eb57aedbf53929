"""Benchmark: calls per second through nginx with one `kpi serve` instance, and with two.

Two instances run on loopback ports (one process each), with two nginx
processes in front, both running the shipped site (deploy/nginx.conf) as the
tests run it: one passes every call to the first instance, the other spreads
the calls over both. The same keep-alive clients send the same Office.js-shaped
=KPI.NPS(range) calls through one nginx, then the other, in alternation, for a
fixed time each; the best run of each is compared. Every answer is checked
against the engine's value; one error stops the benchmark.

Goal: two instances give at least 1.6x the calls per second of one, on this
2-core machine, where nginx and the load generator share the cores with the
instances. Hence the size of a call: about 5,000 cells (20 KB), whose parsing
and computing take the instance about 2 ms of CPU, against a few hundredths of
a millisecond for nginx and for the load generator (their CPU time per call is
printed). That stays under KPI_LARGE_CALL_KB (32 KB), so each call is computed
in the instance's own process, as the many small calls of a workbook are; a
larger call would be handed to the instance's compute process and measure that
lane instead.

    python tests/benchmarks/bench_scaleout.py [--cells N] [--clients K]
        [--seconds S] [--repeat R]

Exit status 0: goal met; 1: goal missed; anything else: a failure.
The instances run with XLWINGS_LICENSE_KEY=noncommercial (benchmarking), as
the tests run them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
GOAL = 1.6


def engine_calls_per_second(body: bytes, seconds: float = 1.0) -> float:
    """The same call parsed and computed in this process, on one core: what
    one instance could give at best, with no HTTP at all."""
    import kpi_engine  # noqa: PLC0415  (after the path points at the project)

    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        kpi_engine.nps(json.loads(body)["args"][0])
        calls += 1
    return calls / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=5000, help="cells per call")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="measurements of each setup")
    options = parser.parse_args()
    # After the path points at the project.
    from addin.server.settings import Settings  # noqa: PLC0415
    from tests import scaleout  # noqa: PLC0415

    calls = [scaleout.nps_call(options.cells, seed) for seed in range(options.clients)]
    size_kb = max(len(call.body) for call in calls) / 1024
    large_kb = Settings().large_call_kb
    lane = "the instance's own process" if size_kb <= large_kb else "its compute process"
    engine = engine_calls_per_second(calls[0].body)
    cores = os.cpu_count() or 1

    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    with (
        tempfile.TemporaryDirectory() as folder,
        scaleout.kpi_instances(2, Path(folder)) as instances,
    ):
        ports = [instance.port for instance in instances]
        groups = [instance.process.pid for instance in instances]
        with (
            scaleout.nginx(ports[:1], Path(folder) / "nginx-1") as one,
            scaleout.nginx(ports, Path(folder) / "nginx-2") as two,
        ):
            proxies = {1: one, 2: two}
            for proxy in proxies.values():  # warm up: connections, caches
                scaleout.Load(proxy.port, calls, 10**9, seconds=0.5).run()
            for _ in range(options.repeat):
                for count, proxy in proxies.items():
                    print(f"{count} instance(s): {options.seconds:g} s", file=sys.stderr)
                    runs[count].append(measure(scaleout, proxy, groups, calls, options))

    best = {count: max(results, key=lambda run: run["rate"]) for count, results in runs.items()}
    ratio = best[2]["rate"] / best[1]["rate"]
    print(
        f"\nThrough nginx: {options.clients} keep-alive clients, NPS calls of "
        f"{options.cells:,} cells ({size_kb:.1f} KB, computed in {lane}: "
        f"KPI_LARGE_CALL_KB={large_kb:g}), {options.seconds:g} s per run, {cores} cores"
    )
    print(f"  the engine alone (parse + compute, one core, no HTTP)  {engine:8.0f} calls/s")
    print(
        f"  {'instances':>9}  {'calls/s':>8}   CPU ms per call: {'instances':>9} "
        f"{'nginx':>6} {'generator':>9}   cores busy"
    )
    for count, results in runs.items():
        for run in results:
            mark = "  best" if run is best[count] else ""
            print(
                f"  {count:>9}  {run['rate']:8.0f}   {'':16} {run['instances']:9.3f} "
                f"{run['nginx']:6.3f} {run['generator']:9.3f}   {run['busy']:10.2f}{mark}"
            )
    print(
        f"\n  2 instances / 1 instance: {ratio:.2f}x (best runs)  goal >= {GOAL:g}x"
        f"  [{best[1]['rate']:.0f} -> {best[2]['rate']:.0f} calls/s]"
    )
    met = ratio >= GOAL
    print(f"\nGoal {'met' if met else 'MISSED'}.")
    return 0 if met else 1


def measure(
    scaleout: Any, proxy: Any, groups: list[int], calls: list[Any], options: Any
) -> dict[str, float]:
    """One timed load through ``proxy``, with the CPU time each part used."""

    def instance_pids() -> list[int]:
        return [pid for group in groups for pid in scaleout.process_group(group)]

    before = scaleout.cpu_seconds(instance_pids()), scaleout.cpu_seconds(proxy.pids())
    report = scaleout.Load(proxy.port, calls, 10**9, seconds=options.seconds).run()
    after = scaleout.cpu_seconds(instance_pids()), scaleout.cpu_seconds(proxy.pids())
    if report.failures:
        raise RuntimeError(f"calls failed through nginx: {report.failures[:5]}")
    per_call = 1000 / max(report.calls, 1)
    spent = (
        after[0] - before[0],
        after[1] - before[1],
        report.generator_cpu_seconds,
    )
    return {
        "rate": report.calls_per_second,
        "instances": spent[0] * per_call,
        "nginx": spent[1] * per_call,
        "generator": spent[2] * per_call,
        "busy": sum(spent) / report.seconds,
    }


if __name__ == "__main__":
    sys.exit(main())
