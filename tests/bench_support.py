"""What the benchmark scripts (tests/benchmarks) share: a measured step run
in a Python process of its own, so that one step's memory and imports do
not weigh on the next, and the processes a measured server is made of.
Standard library only: a benchmark imports it before anything it measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(code: str, *args: str, timeout: float = 1800) -> dict[str, Any]:
    """Run ``code`` with ``args`` in a fresh Python, from the repository's
    folder; the JSON object it printed last. A failure ends the benchmark
    with the child's error."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=timeout,
    )
    if done.returncode != 0:
        raise SystemExit(f"the child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux: read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree
