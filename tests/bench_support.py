"""What the benchmark scripts (tests/benchmarks) share: a measured step run
in a Python process of its own, so that one step's memory and imports do
not weigh on the next."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT


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
