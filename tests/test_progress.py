"""Progress of long commands: on stderr when it is a terminal (a real
pseudo-terminal here), nothing at all when it is piped."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest

import kpi_engine
from addin import progress
from tests.addin_support import KPI

ERASE = "\r\x1b[K"


def run_on_terminal(*args: str) -> tuple[int, str, str]:
    """Run kpi with stderr on a pseudo-terminal and stdout on a pipe; return
    the exit status, stdout, and what the terminal received."""
    assert KPI, "the kpi console script is not installed in this environment"
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm"}
    process = subprocess.Popen([KPI, *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    received = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        received += chunk
    os.close(master)
    stdout = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=300), stdout, received.decode()


def run_piped(*args: str) -> subprocess.CompletedProcess[str]:
    assert KPI, "the kpi console script is not installed in this environment"
    return subprocess.run([KPI, *args], capture_output=True, text=True, timeout=300, check=False)


def shown_lines(terminal: str) -> list[str]:
    """The successive texts of the progress line."""
    return [line for line in terminal.replace("\r\n", "\n").split(ERASE) if line.strip()]


@pytest.fixture(scope="module")
def large_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("large") / "shop.xlsx"
    result = run_piped(
        "new", "celebrity_video", "--rows", "30000", "-o", str(target), "--as-of", "2024-07-15"
    )
    assert result.returncode == 0, result.stderr
    return target


def test_kpi_new_with_many_rows_counts_the_rows_written(tmp_path: Path) -> None:
    target = tmp_path / "big.xlsx"
    status, stdout, terminal = run_on_terminal(
        "new", "celebrity_video", "--rows", "30000", "-o", str(target)
    )
    assert status == 0, terminal
    assert stdout == f"{target.resolve()}\n"  # stdout stays a clean list of files
    lines = shown_lines(terminal)
    assert "big.xlsx: making the sample data" in lines
    counts = [
        line
        for line in lines
        if re.fullmatch(r"big\.xlsx: writing \w+: [\d,]+/[\d,]+ \(\d+%\)", line)
    ]
    assert counts, lines
    assert counts[-1].endswith("(100%)")
    assert terminal.endswith(ERASE)  # the line is erased when the work ends


def test_kpi_new_all_numbers_each_workbook(tmp_path: Path) -> None:
    status, stdout, terminal = run_on_terminal("new", "--all", "--empty", "-o", str(tmp_path))
    assert status == 0, terminal
    total = len(kpi_engine.BUSINESS_TYPES) * len(kpi_engine.LANGUAGES)
    assert len(stdout.splitlines()) == total
    prefixes = {
        match[1] for line in shown_lines(terminal) if (match := re.match(r"\[(\d+)/(\d+)\] ", line))
    }
    assert prefixes == {str(n) for n in range(1, total + 1)}


def test_kpi_refresh_of_a_large_file_shows_its_steps(large_workbook: Path) -> None:
    status, stdout, terminal = run_on_terminal("refresh", str(large_workbook))
    assert status == 0, terminal
    assert stdout.startswith(f"{large_workbook}: sheet 'Report'")
    assert shown_lines(terminal) == [
        "reading the tables",
        "checking the rows",
        "computing the KPIs",
        f"writing {large_workbook.name}",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("new", "celebrity_video", "--rows", "30000"),
        ("new", "--all", "--empty"),
        ("refresh",),
        ("report",),
    ],
    ids=["new-rows", "new-all", "refresh", "report"],
)
def test_nothing_on_stderr_when_piped(
    tmp_path: Path, large_workbook: Path, args: tuple[str, ...]
) -> None:
    if args[0] == "new":
        out = tmp_path if "--all" in args else tmp_path / "out.xlsx"
        command = [*args, "-o", str(out)]
    else:
        command = [*args, str(large_workbook)]
    result = run_piped(*command)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "\x1b" not in result.stdout


def test_the_library_prints_nothing_without_a_display() -> None:
    # Called outside a command (the server, xlwings Lite, a notebook): silent.
    progress.stage("reading the tables")
    progress.count("writing Orders", 5, 10)
    stream = io.StringIO()  # not a terminal
    with progress.shown(stream) as display:
        progress.stage("computing the KPIs")
    assert (display, stream.getvalue()) == (None, "")
