"""The atomic writer (``addin.ooxml.atomic``) with real processes and signals:
an interrupted write leaves no temporary file and the target as it was; a
killed one leaves a file that the next write removes; file modes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from addin.ooxml import atomic
from addin.report.offline import refresh_file
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI
from tests.conftest import ROOT

#: A process that writes a big file slowly through the atomic writer, and
#: says so on its standard output once the temporary file holds some of it.
WRITER = """
import sys, time
from pathlib import Path
from addin.ooxml.atomic import write_atomically

def write(file):
    chunk = b"x" * (1 << 20)
    for index in range(10_000):
        file.write(chunk)
        if index == 1:
            file.flush()
            print("writing", flush=True)
        time.sleep(0.01)

write_atomically(Path(sys.argv[1]), write)
"""


def temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if ".kpi-" in p.name and p.name.endswith(".tmp"))


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"the old workbook")
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "writing\n"
        yield process, target
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_removes_the_temporary_file(
    writer: tuple[subprocess.Popen[str], Path], signum: signal.Signals
) -> None:
    process, target = writer
    (temporary,) = temporaries(target.parent)
    assert f".kpi-{process.pid}-" in temporary.name
    assert temporary.stat().st_size >= 2 << 20
    process.send_signal(signum)
    _, errors = process.communicate(timeout=30)
    assert process.returncode == 128 + signum
    assert "Traceback" not in errors
    assert temporaries(target.parent) == []
    assert target.read_bytes() == b"the old workbook"


def test_a_killed_write_is_cleaned_up_by_the_next_one(
    writer: tuple[subprocess.Popen[str], Path],
) -> None:
    process, target = writer
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    (leftover,) = temporaries(target.parent)
    assert f".kpi-{process.pid}-" in leftover.name
    assert target.read_bytes() == b"the old workbook"
    assert atomic.leftovers(target.parent) == [leftover]

    atomic.write_bytes_atomically(target.parent / "other.xlsx", b"new")
    assert temporaries(target.parent) == []
    assert target.read_bytes() == b"the old workbook"


def test_a_running_writers_file_and_other_files_are_kept(tmp_path: Path) -> None:
    alive = tmp_path / atomic.temporary_name(tmp_path / "a.xlsx")  # this process: running
    alive.write_bytes(b"")
    hour_ago = time.time() - 2 * 3600
    legacy = [
        tmp_path / ".shop.xlsx.k2j4x_9a.tmp",  # NamedTemporaryFile, kpi refresh
        tmp_path / ".~kpi-ab12cd34.xlsx",  # mkstemp, kpi new
        tmp_path / ".~kpi-ab12cd34.fixed.xlsx",
    ]
    fresh_legacy = tmp_path / ".shop.xlsm.qwertyui.tmp"
    not_ours = [tmp_path / ".notes.txt.abcdefgh.tmp", tmp_path / "shop.xlsx"]
    for path in [*legacy, fresh_legacy, *not_ours]:
        path.write_bytes(b"")
    for path in [*legacy, *not_ours]:
        os.utime(path, (hour_ago, hour_ago))

    atomic.write_bytes_atomically(tmp_path / "target.xlsx", b"new")

    remaining = {p.name for p in tmp_path.iterdir()}
    assert remaining == {alive.name, fresh_legacy.name, "target.xlsx"} | {p.name for p in not_ours}
    # Once the age limit has passed, a file whose writer cannot be shown dead goes too.
    assert atomic.leftovers(tmp_path, now=time.time() + atomic.STALE_AFTER + 60) == sorted(
        [alive, fresh_legacy]
    )


def test_an_error_in_the_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"old")
    handlers = [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]

    def failing(file: BinaryIO) -> None:
        file.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic.write_atomically(target, failing)
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]
    assert target.read_bytes() == b"old"
    # The handlers the write installed are gone again.
    assert [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)] == handlers


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask")
def test_modes(tmp_path: Path) -> None:
    new = tmp_path / "new.xlsx"
    atomic.write_bytes_atomically(new, b"a")
    assert mode(new) == 0o644  # 0o666 less the umask
    os.umask(0o077)
    private = tmp_path / "private.xlsx"
    atomic.write_bytes_atomically(private, b"a")
    assert mode(private) == 0o600
    os.umask(0o022)
    shared = tmp_path / "shared.xlsx"
    shared.write_bytes(b"old")
    shared.chmod(0o664)
    atomic.write_bytes_atomically(shared, b"new")
    assert (mode(shared), shared.read_bytes()) == (0o664, b"new")
    private.chmod(0o600)
    atomic.write_bytes_atomically(private, b"new")
    assert mode(private) == 0o600


@pytest.mark.usefixtures("umask")
def test_refresh_to_a_new_file_gets_the_usual_mode(tmp_path: Path) -> None:
    source = new_workbook(
        StarterOptions("celebrity_video", as_of=dt.date(2024, 7, 15)), tmp_path / "shop.xlsx"
    )
    assert mode(source) == 0o644
    source.chmod(0o640)
    refresh_file(source, period=dt.date(2024, 6, 1))
    assert mode(source) == 0o640  # replaced: keeps its mode
    out = refresh_file(source, tmp_path / "out.xlsx", period=dt.date(2024, 6, 1))
    assert out.kpis
    assert mode(tmp_path / "out.xlsx") == 0o644  # new: 0o666 less the umask, not 0o600


def test_a_symlink_is_written_where_it_points(tmp_path: Path) -> None:
    folder = tmp_path / "real"
    folder.mkdir()
    real = folder / "shop.xlsx"
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "shop.xlsx"
    link.symlink_to(real)
    chained = tmp_path / "latest.xlsx"
    chained.symlink_to(link)
    atomic.write_bytes_atomically(chained, b"new")
    # Both links are still links, the file they name holds the new bytes and
    # keeps its mode, and the temporary file was made beside it.
    assert (chained.is_symlink(), link.is_symlink()) == (True, True)
    assert (real.read_bytes(), mode(real)) == (b"new", 0o640)
    assert sorted(p.name for p in folder.iterdir()) == ["shop.xlsx"]


def test_kpi_refresh_through_a_symlink_refreshes_its_target(tmp_path: Path) -> None:
    real = new_workbook(
        StarterOptions("networking", as_of=dt.date(2024, 7, 15)), tmp_path / "shop.xlsx"
    )
    link = tmp_path / "current.xlsx"
    link.symlink_to(real.name)
    result = subprocess.run(
        [KPI, "refresh", str(link)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    with zipfile.ZipFile(real) as package:
        assert "Report" in package.read("xl/workbook.xml").decode()


@pytest.mark.parametrize("read_only", [0o444, 0o400, 0o044])
def test_a_read_only_target_is_refused_and_kept(tmp_path: Path, read_only: int) -> None:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"old")
    target.chmod(read_only)
    with pytest.raises(atomic.ReadOnlyTargetError) as refused:
        atomic.write_bytes_atomically(target, b"new")
    assert str(refused.value).startswith(f"{target} is read-only (mode {read_only:04o})")
    assert "nothing was written" in str(refused.value)
    assert (target.read_bytes(), mode(target)) == (b"old", read_only)
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


@pytest.mark.parametrize("command", ["refresh", "refresh-output", "new"])
def test_commands_refuse_a_read_only_file_with_a_message(tmp_path: Path, command: str) -> None:
    source = new_workbook(
        StarterOptions("songwriting", as_of=dt.date(2024, 7, 15)), tmp_path / "shop.xlsx"
    )
    locked = tmp_path / "locked.xlsx"
    locked.write_bytes(source.read_bytes())
    locked.chmod(0o444)
    before = locked.read_bytes()
    args = {
        "refresh": ["refresh", str(locked)],
        "refresh-output": ["refresh", str(source), "-o", str(locked)],
        "new": ["new", "songwriting", "-o", str(locked), "--force"],
    }[command]
    result = subprocess.run([KPI, *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{locked} is read-only (mode 0444); nothing was written" in result.stderr
    assert result.stderr.count("\n") == 1
    assert locked.read_bytes() == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_kpi_new_interrupted_says_so_in_one_line(tmp_path: Path, signum: signal.Signals) -> None:
    target = tmp_path / "big.xlsx"
    process = subprocess.Popen(
        [KPI, "new", "celebrity_video", "--rows", "200000", "-o", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not temporaries(tmp_path):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the write never started"
            time.sleep(0.005)
        time.sleep(0.2)
        process.send_signal(signum)
        _, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + signum
    assert errors == f"error: interrupted by {signum.name}: nothing was written to {target}\n"
    assert list(tmp_path.iterdir()) == []
