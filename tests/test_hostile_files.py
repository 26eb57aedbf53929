"""Hostile workbook packages: ``kpi report`` and ``kpi refresh`` refuse them
cleanly or read them within bounds, and never write outside the package.

Each case (tests/hostile.py) is a starter workbook with its zip members
rewritten. Both commands run as subprocesses under a 3 GiB address-space and
a CPU limit; a case passes when each command exits 0, or exits 2 with a short
``error: ...`` and no traceback, within 600 MB of peak RSS and 60 seconds; the
original file is unchanged, no temporary file is left beside it, and a written
output keeps every member inside the package and opens in openpyxl and
python-calamine.

The cases run two at a time in one module fixture (each run is a subprocess);
the test per case then reads its outcome. ``python -m tests.hostile_table``
prints the same outcomes as a markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.hostile import (
    CASES,
    KPI,
    MAX_RSS_MB,
    Kit,
    Outcome,
    inside_package,
    run_cases,
    run_limited,
)
from tests.selection import selected_params


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """The base workbook, its refreshed copy and the bombs: built once per session."""
    return Kit(tmp_path_factory.mktemp("hostile-kit"))


@pytest.fixture(scope="module")
def outcomes(
    kit: Kit, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """The outcome of every selected case, run in parallel up front (``-k`` runs fewer)."""
    selected = [case_id for (case_id,) in selected_params(request, "case_id")]
    folder = tmp_path_factory.mktemp("hostile-cases")
    return {o.case.id: o for o in run_cases(kit, [CASES[c] for c in selected], folder)}


@pytest.mark.parametrize("case_id", list(CASES))
def test_hostile_file_is_refused_or_read_within_bounds(
    case_id: str, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[case_id]
    problems = outcome.problems()
    runs = "\n".join(
        f"  {run.args[1]}: exit {run.exit}, {run.peak_rss_mb:.0f} MB, {run.seconds:.1f} s: "
        f"{run.message}"
        for run in (outcome.report, outcome.refresh)
    )
    assert not problems, f"{case_id}:\n- " + "\n- ".join(problems) + "\n" + runs


# --- the harness's own checks: they can see what they look for ---------------------------


@pytest.mark.parametrize(
    "name",
    ["/x/y.xml", "../x.xml", "xl/../../x.xml", "xl\\..\\evil.xml", "C:/x.xml", "c:x.xml"],
)
def test_member_names_outside_the_package_are_seen(name: str) -> None:
    assert not inside_package(name)


@pytest.mark.parametrize("name", ["xl/worksheets/sheet1.xml", "[Content_Types].xml", "a..b.xml"])
def test_member_names_inside_the_package_pass(name: str) -> None:
    assert inside_package(name)


def test_limited_run_reports_peak_rss_and_stops_a_runaway(tmp_path: Path) -> None:
    # 300 MB touched: the peak RSS shows it; 4 GB asked for: the address-space limit refuses.
    touched = run_limited([sys.executable, "-c", "b = bytearray(300 * 1024**2)"], tmp_path)
    assert touched.exit == 0, touched.stderr
    assert 300 <= touched.peak_rss_mb < MAX_RSS_MB
    runaway = run_limited([sys.executable, "-c", "b = bytearray(4 * 1024**3)"], tmp_path)
    assert runaway.exit != 0
    assert runaway.message == "MemoryError"


def test_kpi_entry_point_is_installed() -> None:
    assert KPI, "the kpi script is not next to this Python: pip install -e '.[dev]'"
