"""The benchmark scripts still run (on a small input; timing is not asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_engine_benchmark_runs_and_agrees_with_numpy() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "benchmarks" / "bench_engine.py"),
            "--cells",
            "2000",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    # Exit 1 would only mean "slower than the goal" on this tiny input; a
    # disagreement with NumPy or a crash exits otherwise.
    assert result.returncode in (0, 1), result.stderr
    for name in ("nps", "csat_from_scores", "repeat_purchase_rate_from_orders"):
        assert name in result.stdout


def test_starter_benchmark_runs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "benchmarks" / "bench_starter.py"),
            "--rows",
            "60",
            "--types",
            "social_media",
            "--skip-libreoffice",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode in (0, 1), result.stderr
    assert "social_media" in result.stdout
    assert "xlsxwriter" in result.stdout


def test_server_benchmark_runs_both_servers() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "benchmarks" / "bench_server.py"),
            "--cells",
            "2000",
            "--repeat",
            "1",
            "--seconds",
            "0.3",
            "--concurrency",
            "1,2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    # Exit 1 would only mean "a goal missed" on this tiny input; a wrong
    # result from either server or a crash exits otherwise.
    assert result.returncode in (0, 1), result.stderr
    assert "floor (orjson parse + NumPy, in-process)" in result.stdout
    assert "stock xlwings Server (one call)" in result.stdout
    for clients in ("1", "2"):
        assert f"{clients:>9}  kpi serve" in result.stdout
        assert f"{clients:>9}  stock xlwings Server" in result.stdout


def test_report_benchmark_runs_against_calamine() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "benchmarks" / "bench_report.py"),
            "--rows",
            "2000",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    # Exit 1 would only mean "slower than the goal" on this tiny input.
    assert result.returncode in (0, 1), result.stderr
    assert "python-calamine read (baseline)" in result.stdout
    assert "kpi refresh" in result.stdout
    assert "ratio kpi refresh / calamine read" in result.stdout
