"""Benchmark: record functions on a million cells against a NumPy baseline.

Both sides get the same Python list, shaped as Excel delivers a column (one
one-element row per cell, numbers as floats), and both include the
conversion from that list. The goal: each KPI function within 3x of NumPy.

    python tests/benchmarks/bench_engine.py [--cells N] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import kpi_engine

GOAL = 3.0


def numpy_nps(rows: list[list[Any]]) -> float:
    scores = np.asarray(rows, dtype=float).ravel()
    scores = scores[~np.isnan(scores)]
    if not np.all((scores >= 0) & (scores <= 10) & (scores == np.round(scores))):
        raise ValueError("bad score")
    return float(((scores >= 9).sum() - (scores <= 6).sum()) * 100 / scores.size)


def numpy_csat(rows: list[list[Any]]) -> float:
    ratings = np.asarray(rows, dtype=float).ravel()
    ratings = ratings[~np.isnan(ratings)]
    return float((ratings >= 4).sum() / ratings.size)


def numpy_repeat(rows: list[list[Any]]) -> float:
    ids = np.asarray(rows, dtype=str).ravel()
    _, counts = np.unique(ids, return_counts=True)
    return float((counts >= 2).sum() / counts.size)


def best_of(function: Callable[[Any], float], data: Any, repeat: int) -> tuple[float, float]:
    best = float("inf")
    result = float("nan")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(data)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    rng = random.Random(2024)
    n = options.cells
    scores = [[float(rng.randint(0, 10))] for _ in range(n)]
    ratings = [[float(rng.randint(1, 5))] for _ in range(n)]
    customers = [[f"C{rng.randint(1, max(1, n // 3)):07d}"] for _ in range(n)]
    cases = [
        ("nps", kpi_engine.nps, numpy_nps, scores),
        ("csat_from_scores", kpi_engine.csat_from_scores, numpy_csat, ratings),
        (
            "repeat_purchase_rate_from_orders",
            kpi_engine.repeat_purchase_rate_from_orders,
            numpy_repeat,
            customers,
        ),
    ]
    print(f"{n:,} cells, best of {options.repeat} runs")
    print(f"{'function':<34} {'engine':>10} {'numpy':>10} {'ratio':>7}  goal <= {GOAL:g}x")
    worst = 0.0
    for name, engine, baseline, data in cases:
        engine_time, engine_value = best_of(engine, data, options.repeat)
        numpy_time, numpy_value = best_of(baseline, data, options.repeat)
        if abs(engine_value - numpy_value) > 1e-9:
            raise SystemExit(f"{name}: engine {engine_value} and NumPy {numpy_value} disagree")
        ratio = engine_time / numpy_time
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= GOAL else "SLOWER THAN GOAL"
        print(
            f"{name:<34} {engine_time * 1000:>8.1f}ms {numpy_time * 1000:>8.1f}ms {ratio:>6.2f}x  {verdict}"
        )
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
