"""Benchmark: the custom-function call path of `kpi serve` against its floors.

* One-cell calls: `kpi serve` (one worker, its default settings: access log
  on, to a file as in production) against a bare ASGI app that echoes each
  request's body (``asgi_echo.py``), served by the same uvicorn with the same
  options (``addin.commands.uvicorn_options``), one worker. Keep-alive
  clients call in a loop for a fixed time, at 1, 8 and 32 clients. The two
  servers take turns within each round, in alternating order, and the ratio
  (kpi calls/s over echo calls/s) is taken per round; the figure is the
  median of the rounds' ratios. Goal: at least 0.8 of the echo at every level.
* NPS over a large range (1,000,000 cells, one score per row, as Office.js
  sends a column): one call to `kpi serve` against the floor, parsing the
  body with orjson and counting with NumPy in this process
  (``bench_server.floor``). Interleaved with the floor in each round; the
  median of the rounds' ratios. Goal: at most 2x the floor.

The machine's load (/proc/loadavg, 1 minute) is printed for each
measurement: the ratios hold for a busy machine only as far as both sides
of a ratio saw the same load. Beside each ratio of calls/s or time, the
ratio of CPU time the servers' processes used (from /proc/PID/stat), which
a busy machine changes far less: the figure to compare across runs.

    python tests/benchmarks/bench_calls.py [--rounds R] [--seconds S]
        [--concurrency 1,8,32] [--cells N]

Exit status 0: goals met; 1: a goal missed; anything else: a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# A sibling script, not a package: found through sys.path.
from bench_server import (
    body,
    floor,
    free_port,
    kpi_serve,
    load,
    one_call,
    percentile,
    process_tree,
    server,
    server_env,
)

GOAL_SMALL = 0.8
GOAL_LARGE = 2.0
ECHO = Path(__file__).resolve().parent / "asgi_echo.py"
T = TypeVar("T")


def loadavg() -> float:
    return os.getloadavg()[0]


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """The clients run on uvloop when it is there (as the servers do), so
    that the client costs the shared cores as little as it can."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)  # type: ignore[no-any-return]


@contextmanager
def asgi_echo() -> Iterator[int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, str(ECHO), "--port", str(port)]
        with server(command, port, server_env(), Path(folder)) as running:
            yield running


@dataclass
class Measure:
    """One measurement: its result, the load before and after, and the CPU
    time the server's processes used meanwhile."""

    result: Any
    load: tuple[float, float]
    cpu: float

    @property
    def loads(self) -> str:
        return f"{self.load[0]:4.1f}-{self.load[1]:<4.1f}"


def measured(work: Callable[[], Any], pids: list[int]) -> Measure:
    before, cpu = loadavg(), cpu_seconds(pids)
    result = work()
    return Measure(result, (before, loadavg()), cpu_seconds(pids) - cpu)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short rounds rather than a few long ones: on a shared machine the
    # load changes by the second, and the median of many paired rounds
    # stands up to it better.
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.5, help="per one-cell measurement")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--max-calls", type=int, default=1_000_000)
    return parser.parse_args()


def large_round(
    port: int, large: bytes, expected: float, timeout: float
) -> tuple[tuple[float, float], str]:
    """The floor, then kpi serve, on the large body: (the ratios of time and
    of CPU time, the table's line)."""
    started = time.process_time()
    floor_run = measured(lambda: floor(large), [])
    floor_cpu = time.process_time() - started
    floor_time, value = floor_run.result
    if abs(value - expected) > 1e-9:
        raise RuntimeError(f"the floor gave {value}, then {expected}")
    # The lane's processes included: the call runs in one of them.
    kpi_run = measured(lambda: run(one_call(port, large, timeout)), process_tree(port))
    kpi_time, kpi_value = kpi_run.result
    if abs(kpi_value - expected) > 1e-9:
        raise RuntimeError(f"kpi serve returned {kpi_value}, NumPy {expected}")
    line = (
        f"{floor_time * 1000:8.1f} {floor_cpu * 1000:8.1f} "
        f"{floor_run.loads}  {kpi_time * 1000:8.1f} {kpi_run.cpu * 1000:8.1f} "
        f"{kpi_run.loads}  {kpi_time / floor_time:5.2f}  {kpi_run.cpu / floor_cpu:5.2f}"
    )
    return (kpi_time / floor_time, kpi_run.cpu / floor_cpu), line


def main() -> int:
    options = arguments()
    levels = [int(level) for level in options.concurrency.split(",")]
    if not os.environ.get("XLWINGS_LICENSE_KEY"):
        print("XLWINGS_LICENSE_KEY is not set: kpi serve runs with 'noncommercial' here.")
    rng = np.random.default_rng(2024)
    large = body([[[float(s)] for s in rng.integers(0, 11, options.cells)]])
    small = body([[[9.0]]])
    expected = floor(large)[1]
    timeout = max(600.0, options.cells / 5_000)

    small_ratios: dict[int, list[float]] = {level: [] for level in levels}
    cpu_ratios: dict[int, list[float]] = {level: [] for level in levels}
    large_ratios: list[float] = []
    large_cpu_ratios: list[float] = []
    print(
        f"One-cell calls: kpi serve against a bare ASGI echo, same uvicorn options, one "
        f"worker each, {options.seconds:g} s per measurement, {options.rounds} rounds"
    )
    print(
        "  CPU us: the server's processes' CPU time per call, which a busy machine changes "
        "far less than calls/s;\n  CPU ratio: the echo's CPU time per call over kpi serve's, "
        "the calls/s ratio of two servers that had a core each to themselves"
    )
    print(
        f"  {'round':>5} {'clients':>7}  {'echo calls/s':>12} {'p50 ms':>6} {'CPU us':>6} "
        f"{'load':>9}  {'kpi calls/s':>11} {'p50 ms':>6} {'p99 ms':>6} {'CPU us':>6} "
        f"{'load':>9}  ratio  CPU ratio"
    )
    large_lines = []
    with asgi_echo() as echo_port, kpi_serve() as kpi_port:
        trees = {"echo": process_tree(echo_port), "kpi": process_tree(kpi_port)}
        for round_number in range(1, options.rounds + 1):
            for level in levels:
                runs: dict[str, Measure] = {}
                order = [("echo", echo_port), ("kpi", kpi_port)]
                if round_number % 2 == 0:
                    order.reverse()
                for name, port in order:
                    print(f"round {round_number}: {name}, {level} clients", file=sys.stderr)
                    runs[name] = measured(
                        lambda port=port, level=level: run(  # type: ignore[misc]
                            load(port, small, level, options.seconds, options.max_calls)
                        ),
                        trees[name],
                    )
                echo, kpi = runs["echo"], runs["kpi"]
                (echo_rate, echo_latencies), (kpi_rate, kpi_latencies) = echo.result, kpi.result
                # The warm-up's calls are in the CPU time too: a fraction of a
                # second's worth, the same share for both servers.
                echo_cpu = echo.cpu / (echo_rate * options.seconds)
                kpi_cpu = kpi.cpu / (kpi_rate * options.seconds)
                ratio = kpi_rate / echo_rate
                small_ratios[level].append(ratio)
                cpu_ratios[level].append(echo_cpu / kpi_cpu)
                print(
                    f"  {round_number:>5} {level:>7}  {echo_rate:12.0f} "
                    f"{statistics.median(echo_latencies) * 1000:6.2f} {echo_cpu * 1e6:6.0f} "
                    f"{echo.loads}  {kpi_rate:11.0f} "
                    f"{statistics.median(kpi_latencies) * 1000:6.2f} "
                    f"{percentile(kpi_latencies, 0.99) * 1000:6.2f} {kpi_cpu * 1e6:6.0f} "
                    f"{kpi.loads}  {ratio:5.2f}  {echo_cpu / kpi_cpu:5.2f}"
                )
            # The large call after the small ones: freeing a million objects
            # must not land in their measurement.
            print(f"round {round_number}: NPS over {options.cells:,} cells", file=sys.stderr)
            ratios, line = large_round(kpi_port, large, expected, timeout)
            large_ratios.append(ratios[0])
            large_cpu_ratios.append(ratios[1])
            large_lines.append(f"  {round_number:>5}  {line}")

    print(f"\nNPS over {options.cells:,} cells: kpi serve against orjson parse + NumPy count")
    print(
        f"  {'round':>5}  {'floor ms':>8} {'CPU ms':>8} {'load':>9}  {'kpi ms':>8} "
        f"{'CPU ms':>8} {'load':>9}  ratio  CPU ratio"
    )
    print("\n".join(large_lines))
    print("\nMedians of the rounds' ratios (the goals are on calls/s and on time)")
    met = True
    for level in levels:
        ratio = statistics.median(small_ratios[level])
        met &= ratio >= GOAL_SMALL
        print(
            f"  one-cell calls, {level:>2} clients: {ratio:5.2f} of the echo's calls/s  "
            f"goal >= {GOAL_SMALL:g}   (CPU ratio {statistics.median(cpu_ratios[level]):4.2f})"
        )
    large_ratio = statistics.median(large_ratios)
    met &= large_ratio <= GOAL_LARGE
    print(
        f"  NPS over {options.cells:,} cells:  {large_ratio:5.2f}x the floor's time  "
        f"goal <= {GOAL_LARGE:g}x   (CPU time {statistics.median(large_cpu_ratios):4.2f}x)"
    )
    print(f"\nGoals {'met' if met else 'MISSED'}.")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
