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
of a ratio saw the same load.

    python tests/benchmarks/bench_calls.py [--rounds R] [--seconds S]
        [--concurrency 1,8,32] [--cells N]

Exit status 0: goals met; 1: a goal missed; anything else: a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
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
    server,
    server_env,
)

GOAL_SMALL = 0.8
GOAL_LARGE = 2.0
ECHO = Path(__file__).resolve().parent / "asgi_echo.py"
T = TypeVar("T")


def loadavg() -> float:
    return os.getloadavg()[0]


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


def measured(work: Callable[[], T]) -> tuple[T, float, float]:
    """The result of ``work``, with the load before and after it."""
    before = loadavg()
    result = work()
    return result, before, loadavg()


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
    large_ratios: list[float] = []
    print(
        f"One-cell calls: kpi serve against a bare ASGI echo, same uvicorn options, one "
        f"worker each, {options.seconds:g} s per measurement, {options.rounds} rounds"
    )
    print(
        f"  {'round':>5} {'clients':>7}  {'echo calls/s':>12} {'load':>9}  "
        f"{'kpi calls/s':>11} {'load':>9} {'kpi p50 ms':>10} {'kpi p99 ms':>10}  ratio"
    )
    large_lines = []
    with asgi_echo() as echo_port, kpi_serve() as kpi_port:
        for round_number in range(1, options.rounds + 1):
            for level in levels:
                rates: dict[str, tuple[float, list[float], float, float]] = {}
                order = [("echo", echo_port), ("kpi", kpi_port)]
                if round_number % 2 == 0:
                    order.reverse()
                for name, port in order:
                    print(f"round {round_number}: {name}, {level} clients", file=sys.stderr)
                    (rate, latencies), before, after = measured(
                        lambda port=port, level=level: run(  # type: ignore[misc]
                            load(port, small, level, options.seconds, options.max_calls)
                        )
                    )
                    rates[name] = (rate, latencies, before, after)
                echo_rate, _, echo_before, echo_after = rates["echo"]
                kpi_rate, kpi_latencies, kpi_before, kpi_after = rates["kpi"]
                ratio = kpi_rate / echo_rate
                small_ratios[level].append(ratio)
                print(
                    f"  {round_number:>5} {level:>7}  {echo_rate:12.0f} "
                    f"{echo_before:4.1f}-{echo_after:<4.1f}  {kpi_rate:11.0f} "
                    f"{kpi_before:4.1f}-{kpi_after:<4.1f} "
                    f"{statistics.median(kpi_latencies) * 1000:10.2f} "
                    f"{percentile(kpi_latencies, 0.99) * 1000:10.2f}  {ratio:5.2f}"
                )
            # The large call after the small ones: freeing a million objects
            # must not land in their measurement.
            print(f"round {round_number}: NPS over {options.cells:,} cells", file=sys.stderr)
            (floor_time, value), floor_before, floor_after = measured(lambda: floor(large))
            if abs(value - expected) > 1e-9:
                raise RuntimeError(f"the floor gave {value}, then {expected}")
            (kpi_time, kpi_value), kpi_before, kpi_after = measured(
                lambda: run(one_call(kpi_port, large, timeout))
            )
            if abs(kpi_value - expected) > 1e-9:
                raise RuntimeError(f"kpi serve returned {kpi_value}, NumPy {expected}")
            large_ratios.append(kpi_time / floor_time)
            large_lines.append(
                f"  {round_number:>5}  {floor_time * 1000:8.1f} {floor_before:4.1f}-"
                f"{floor_after:<4.1f}  {kpi_time * 1000:8.1f} {kpi_before:4.1f}-"
                f"{kpi_after:<4.1f}  {kpi_time / floor_time:5.2f}"
            )

    print(f"\nNPS over {options.cells:,} cells: kpi serve against orjson parse + NumPy count")
    print(f"  {'round':>5}  {'floor ms':>8} {'load':>9}  {'kpi ms':>8} {'load':>9}  ratio")
    print("\n".join(large_lines))
    print("\nMedians of the rounds' ratios")
    met = True
    for level in levels:
        ratio = statistics.median(small_ratios[level])
        met &= ratio >= GOAL_SMALL
        print(
            f"  one-cell calls, {level:>2} clients: {ratio:5.2f} of the echo  "
            f"goal >= {GOAL_SMALL:g}"
        )
    large_ratio = statistics.median(large_ratios)
    met &= large_ratio <= GOAL_LARGE
    print(
        f"  NPS over {options.cells:,} cells:  {large_ratio:5.2f}x the floor  "
        f"goal <= {GOAL_LARGE:g}x"
    )
    print(f"\nGoals {'met' if met else 'MISSED'}.")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
