"""Print the hostile-file outcomes as a markdown table.

    python -m tests.hostile_table            # every case
    python -m tests.hostile_table far-cell   # the cases whose id contains any of the words
    python -m tests.hostile_table --legs     # the import and sources legs (tests/hostile_legs.py)

One row per command (report, refresh) per case: exit code, peak RSS, wall
seconds, the error line (or a traceback's last line) and the case's verdict.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.hostile import CASES, Kit, run_cases, table


def legs(words: list[str]) -> int:
    """The import and sources legs (``tests/hostile_legs.py``)."""
    from tests.hostile_legs import LEG_CASES, leg_table, run_leg_cases  # noqa: PLC0415

    cases = [c for c in LEG_CASES.values() if not words or any(w in c.id for w in words)]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kpi-hostile-legs-") as folder:
        outcomes = run_leg_cases(cases, Path(folder))
    print(leg_table(outcomes))
    failing = [o.case.id for o in outcomes if o.problems()]
    print(
        f"\n{len(outcomes)} cases, {len(failing)} failing, {time.monotonic() - start:.0f} s",
        file=sys.stderr,
    )
    return 1 if failing else 0


def main(words: list[str]) -> int:
    if words[:1] == ["--legs"]:
        return legs(words[1:])
    cases = [c for c in CASES.values() if not words or any(w in c.id for w in words)]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kpi-hostile-") as folder:
        kit = Kit(Path(folder))
        outcomes = run_cases(kit, cases, Path(folder) / "cases")
    print(table(outcomes))
    failing = [o.case.id for o in outcomes if o.problems()]
    print(
        f"\n{len(outcomes)} cases, {len(failing)} failing, {time.monotonic() - start:.0f} s",
        file=sys.stderr,
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
