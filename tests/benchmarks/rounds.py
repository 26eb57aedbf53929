"""What the benchmarks share: sides run in interleaved rounds, each in a child
process whose wall time, CPU time and peak memory are kept, the machine's load
sampled while they run, and ratios taken per round then their median.

On a busy machine (other work on the same cores) one slow moment would favour
whichever side ran then: running every side once per round, in a rotating
order, and taking the median of the per-round ratios spreads that moment over
all sides. CPU time (user + system, the child's and its own children's) is
printed beside wall time: it moves less than wall time when the cores are
shared, which steadies a ratio of two sides that both work on one core.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: Code a child runs first: ``peak_mb()`` gives its own peak resident memory,
#: VmHWM of /proc/self/status (getrusage's ru_maxrss can carry the parent's
#: high-water mark through the fork and exec that started the child).
PEAK = """
def peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
"""


class ChildFailedError(SystemExit):
    """A side's child process failed: the run has no figure for it."""


@dataclass
class Run:
    """One run of one side: what its child printed, with its times."""

    wall: float  # seconds, as the parent saw them (start-up included)
    cpu: float  # user + system seconds of the child and its children
    result: dict[str, Any]

    @property
    def peak_mb(self) -> float:
        return float(self.result.get("max_rss_mb", float("nan")))


def run_child(
    argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float | None = None
) -> Run:
    """Run ``argv``, whose last line of output is a JSON object; time it.

    Only one child runs at a time (the load sampler is a thread), so the
    difference of RUSAGE_CHILDREN around it is its own CPU time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=timeout,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise ChildFailedError(f"a child failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    return Run(wall, cpu, json.loads(lines[-1]) if lines else {})


def python_child(
    code: str, *args: str, timeout: float | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run Python ``code`` (which may call ``peak_mb()``) with ``args``."""
    return run_child([sys.executable, "-c", PEAK + code, *args], env=env, timeout=timeout)


class LoadWatch:
    """The 1-minute load average, sampled every ``every`` seconds in a thread
    while the ``with`` block runs: printed with each table, so that a reader
    knows how busy the machine was while it was measured."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def now() -> float:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            return float(loadavg.read().split()[0])

    def _sample(self) -> None:
        while True:
            self.samples.append(self.now())
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> LoadWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        values = self.samples or [self.now()]
        return (
            f"load (1-min average, {os.cpu_count()} cores) during the run: "
            f"min {min(values):.1f}, median {statistics.median(values):.1f}, "
            f"max {max(values):.1f} ({len(values)} samples)"
        )


@dataclass
class Rounds:
    """Every side run once per round, in an order rotated each round."""

    runs: dict[str, list[Run]] = field(default_factory=dict)

    def run(self, sides: dict[str, Callable[[], Run]], repeat: int) -> Rounds:
        names = list(sides)
        for round_ in range(repeat):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                self.runs.setdefault(name, []).append(sides[name]())
        return self

    def median(self, name: str, what: str = "wall") -> float:
        return statistics.median(_measure(run, what) for run in self.runs[name])

    def ratio(self, name: str, baseline: str, what: str = "wall") -> float:
        """The median over rounds of (``name`` / ``baseline``) in the same round."""
        return statistics.median(
            _measure(ours, what) / _measure(theirs, what)
            for ours, theirs in zip(self.runs[name], self.runs[baseline], strict=True)
        )

    def peak(self, name: str) -> float:
        return max(run.peak_mb for run in self.runs[name])

    def table(self, first: str = "side") -> list[str]:
        """Median wall and CPU seconds and peak memory of each side."""
        width = max(len(first), *(len(name) for name in self.runs)) + 2
        lines = [f"{first:<{width}}{'wall s':>9}{'CPU s':>9}{'peak MB':>9}"]
        for name in self.runs:
            lines.append(
                f"{name:<{width}}{self.median(name):>9.2f}{self.median(name, 'cpu'):>9.2f}"
                f"{self.peak(name):>9.0f}"
            )
        return lines


def _measure(run: Run, what: str) -> float:
    return run.wall if what == "wall" else run.cpu


def goal_line(label: str, ratio: float, cpu_ratio: float | None, goal: float) -> tuple[str, bool]:
    """A goal's line (met on wall time, the user's wait) and whether it is met."""
    met = ratio <= goal
    cpu = f", CPU time {cpu_ratio:.2f}x" if cpu_ratio is not None else ""
    return (
        f"  {label}: {ratio:.2f}x wall{cpu} (goal <= {goal:g}x)  {'ok' if met else 'MISSES GOAL'}",
        met,
    )
