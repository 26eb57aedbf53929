"""The benchmark scripts still run (on a small input; timing is not asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def run_benchmark(script: str, *args: str, timeout: int = 900) -> str:
    """Run a benchmark script on a tiny input; return what it printed.

    The timeout only stops a hung script: a tiny input takes seconds when the
    machine is idle, but minutes at load 8 to 10 on two cores, LibreOffice
    and git worktrees included.

    Exit status 1 only means "a goal missed", which says nothing on a tiny
    input; a wrong result or a crash exits otherwise and fails the test.
    """
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def test_engine_benchmark_runs_and_agrees_with_numpy() -> None:
    out = run_benchmark("bench_engine.py", "--cells", "2000", "--repeat", "1")
    for name in ("nps", "csat_from_scores", "repeat_purchase_rate_from_orders"):
        assert name in out


def test_starter_benchmark_runs() -> None:
    out = run_benchmark(
        "bench_starter.py",
        "--rows",
        "60",
        "--types",
        "social_media",
        "--skip-libreoffice",
        timeout=600,
    )
    assert "social_media" in out
    assert "xlsxwriter" in out


def test_server_benchmark_runs_both_servers() -> None:
    out = run_benchmark(
        "bench_server.py",
        "--cells",
        "2000",
        "--repeat",
        "1",
        "--seconds",
        "0.3",
        "--concurrency",
        "1,2",
        "--memory-mb",
        "2",
    )
    assert "floor (orjson parse + NumPy, in-process)" in out
    assert "p99 ratio" in out
    assert "peak resident memory of the server's processes" in out
    assert "stock xlwings Server (one call)" in out
    for clients in ("1", "2"):
        assert f"{clients:>9}  kpi serve" in out
        assert f"{clients:>9}  stock xlwings Server" in out


def test_calls_benchmark_runs_against_the_echo() -> None:
    # The large call checks kpi serve's NPS against NumPy's: a wrong value fails.
    out = run_benchmark(
        "bench_calls.py",
        "--rounds",
        "1",
        "--seconds",
        "0.2",
        "--concurrency",
        "1,2",
        "--cells",
        "20000",
    )
    assert "One-cell calls: kpi serve against a bare ASGI echo" in out
    for clients in ("1", "2"):
        assert f"one-cell calls, {clients:>2} clients:" in out
    assert "NPS over 20,000 cells:" in out


def test_report_benchmark_runs_against_calamine() -> None:
    out = run_benchmark("bench_report.py", "--rows", "2000", "--repeat", "1")
    assert "python-calamine read (baseline)" in out
    assert "kpi refresh" in out
    assert "ratio kpi refresh / calamine read" in out


def test_import_benchmark_runs_against_its_baseline() -> None:
    out = run_benchmark("bench_import.py", "--rows", "2000", "--repeat", "1")
    assert "csv read + date/number parse (baseline)" in out
    assert "ratio kpi import / baseline at 2,000 rows" in out
    assert "linearity: time per row at 2,000 rows / at 200 rows" in out


def test_recalc_benchmark_runs_on_the_current_code() -> None:
    out = run_benchmark(
        "bench_recalc.py", "--rows", "50,200", "--skip-baseline", "--timeout", "600"
    )
    assert "open, recalculate and save a celebrity_video workbook" in out
    assert "start-up" in out
    assert "skipped (--skip-baseline)" in out
    for label in ("orders", "current", "baseline (2fb699e)", "goals (current code, this run)"):
        assert label in out
    assert "\n200 " in out


def test_recalc_benchmark_runs_against_the_baseline() -> None:
    """The baseline's own code, from a temporary git worktree (or unavailable, outside git)."""
    out = run_benchmark("bench_recalc.py", "--rows", "50", "--timeout", "600")
    assert "baseline (2fb699e): start-up (empty workbook)" in out or "unavailable" in out
    assert "baseline / current" in out
    assert "\n50 " in out
    assert "growth 2,000 -> 20,000 orders" in out


def test_scaleout_benchmark_runs_through_nginx() -> None:
    out = run_benchmark("bench_scaleout.py", "--cells", "500", "--seconds", "0.3", "--repeat", "1")
    assert "the engine alone (parse + compute, one core, no HTTP)" in out
    assert "2 instances / 1 instance:" in out


def test_sources_benchmark_runs_and_duckdb_agrees_with_polars() -> None:
    import os  # noqa: PLC0415

    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "benchmarks" / "bench_sources.py")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
        env={**os.environ, "KPI_BENCH_ORDERS": "20000", "KPI_BENCH_WORKBOOK_ROWS": "2000"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "same values: yes" in result.stdout
    assert "kpi report WORKBOOK --source FOLDER" in result.stdout


def test_taskpane_refresh_benchmark_runs_in_chromium() -> None:
    out = run_benchmark("bench_taskpane_refresh.py", "--sizes", "2000", "--baseline", "2000")
    assert "whole-book runPython (baseline)" in out
    assert "chunked refresh" in out
    assert "largest sync:" in out
    assert "at 2,000 orders the chunked refresh takes" in out


def run_benchmark_with(script: str, env: dict[str, str], timeout: int = 900) -> str:
    """Run a benchmark script sized by its environment variables; what it printed.

    The timeout only stops a hung script (seconds when the machine is idle,
    minutes at load 10 on two cores). Exit status 1 only says a goal is missed;
    a difference in values (3) or a broken run (2) fails the test."""
    import os  # noqa: PLC0415

    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "benchmarks" / script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
        env={**os.environ, "KPI_BENCH_ROUNDS": "1", **env},
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.stdout


def test_source_query_benchmark_agrees_with_polars_and_the_hand_written_query() -> None:
    out = run_benchmark_with(
        "bench_source_query.py",
        {"KPI_BENCH_SOURCE_ORDERS": "5000", "KPI_BENCH_SOURCE_MESSY_ORDERS": "5000"},
    )
    assert "130 values equal to kpi's within 1e-09: yes" in out
    assert "5,000 messy orders equal kpi's within 1e-09: yes" in out
    assert "load (1-min average" in out
    for side in ("polars", "hand-written DuckDB query", "DuckDB scan of the columns"):
        assert f"kpi report --source / {side}:" in out


def test_refresh_orders_benchmark_runs_against_calamine_and_fastexcel() -> None:
    out = run_benchmark_with("bench_refresh_orders.py", {"KPI_BENCH_REFRESH_ORDERS": "1000"})
    assert "130 values equal to the hand-written query's within 1e-9: yes" in out
    assert "kpi refresh / python-calamine read:" in out
    assert "kpi refresh / fastexcel read:" in out
    assert "load (1-min average" in out


def test_recalc_kpis_benchmark_times_one_kpi_in_libreoffice() -> None:
    out = run_benchmark_with(
        "bench_recalc_kpis.py",
        {
            "KPI_BENCH_RECALC_ORDERS": "50",
            "KPI_BENCH_RECALC_PER_KPI": "50",
            "KPI_BENCH_RECALC_KPIS": "nps",
        },
    )
    assert "wall s over start-up" in out
    assert "\n   nps " in out
    assert "data checks" in out
    assert "load (1-min average" in out


def test_recalc_kpis_benchmark_times_one_kpi_before_and_after() -> None:
    out = run_benchmark_with(
        "bench_recalc_kpis.py",
        {
            "KPI_BENCH_RECALC_ORDERS": "50",
            "KPI_BENCH_RECALC_PER_KPI": "50",
            "KPI_BENCH_RECALC_KPIS": "nps",
            "KPI_BENCH_RECALC_BASELINE": "HEAD",
        },
    )
    assert "before (HEAD): loading the data and the shared formulas" in out
    assert "CPU ratio: after over before (HEAD)" in out
    assert "\n   nps " in out
