"""What the commands write to: a FIFO or a character device given as the
output is refused (one line, exit 2) unless --force, and is never replaced by
a regular file; with --force it is written into. Long legal file names work.
A missing folder and a full device are one line. --wheel-url is a URL.

Every command that writes a file is run: kpi new, kpi refresh -o,
kpi report --html, kpi lite and kpi com-setup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from addin.ooxml import atomic
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI

AS_OF = dt.date(2024, 7, 15)


def kpi(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert KPI
    return subprocess.run(
        [KPI, *args], capture_output=True, text=True, timeout=300, check=False, cwd=cwd
    )


def one_line(result: subprocess.CompletedProcess[str], status: int = 2) -> str:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("book") / "shop.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF, rows=300), path)
    return path


def a_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def a_character_device(path: Path) -> Path:
    """A twin of /dev/null at ``path`` (root may make one); else a link to
    /dev/null, which a user who is not root cannot replace."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        path.symlink_to("/dev/null")
    return path


@contextlib.contextmanager
def fifo_reader(path: Path) -> Iterator[list[bytes]]:
    """Read everything written into the FIFO ``path``, in a thread."""
    got: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as handle:
            got.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    yield got
    thread.join(timeout=120)
    assert not thread.is_alive()


def still_special(path: Path) -> bool:
    mode = os.stat(path).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


# --- the writer itself ---------------------------------------------------------------


@pytest.mark.parametrize("length", [215, 240, 254, 255])
@pytest.mark.parametrize("letter", ["a", "é", "日"])
def test_a_long_legal_name_is_written(tmp_path: Path, length: int, letter: str) -> None:
    """Names of up to 255 bytes, in one- to three-byte characters: the
    temporary name is shortened to fit, and is still found as a leftover."""
    size = len(letter.encode())
    name = letter * ((length - 5) // size) + ".html"
    assert len(name.encode()) <= 255
    target = tmp_path / name
    atomic.write_bytes_atomically(target, b"page")
    assert target.read_bytes() == b"page"
    assert os.listdir(tmp_path) == [name]
    temporary = atomic.temporary_name(target)
    assert len(temporary.encode()) <= atomic.NAME_MAX
    assert atomic._OURS.fullmatch(temporary)
    temporary.encode("utf-8")  # cut at a character boundary


def test_a_fifo_is_refused_and_stays_a_fifo(tmp_path: Path) -> None:
    target = a_fifo(tmp_path / "out.html")
    with pytest.raises(atomic.NotRegularTargetError) as refused:
        atomic.write_bytes_atomically(target, b"page")
    assert "a FIFO" in str(refused.value)
    assert "--force" in str(refused.value)
    assert still_special(target)
    assert os.listdir(tmp_path) == ["out.html"]


def test_a_fifo_is_written_into_when_asked(tmp_path: Path) -> None:
    target = a_fifo(tmp_path / "out.html")
    with fifo_reader(target) as got:
        atomic.write_bytes_atomically(target, b"page" * 100_000, into_special=True)
    assert got == [b"page" * 100_000]
    assert still_special(target)


def test_a_full_device_is_an_error_and_stays_a_device() -> None:
    with pytest.raises(OSError, match="No space left"):
        atomic.write_bytes_atomically(Path("/dev/full"), b"page", into_special=True)
    assert still_special(Path("/dev/full"))


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(atomic.MissingFolderError, match="does not exist"):
        atomic.write_bytes_atomically(tmp_path / "nowhere" / "out.html", b"page")


# --- every command -------------------------------------------------------------------


@pytest.mark.parametrize("make", [a_fifo, a_character_device])
def test_kpi_report_html_refuses_a_special_file(
    tmp_path: Path, workbook: Path, make: object
) -> None:
    target = make(tmp_path / "report.html")  # type: ignore[operator]
    line = one_line(kpi("report", str(workbook), "--html", str(target)))
    assert "not a regular file" in line
    assert "--force" in line
    assert still_special(target)


def test_kpi_report_html_writes_into_a_fifo_with_force(tmp_path: Path, workbook: Path) -> None:
    target = a_fifo(tmp_path / "report.html")
    with fifo_reader(target) as got:
        result = kpi("report", str(workbook), "--html", str(target), "--force")
    assert result.returncode == 0, result.stderr
    assert got[0].startswith(b"<!DOCTYPE html>")
    assert still_special(target)


@pytest.mark.parametrize("make", [a_fifo, a_character_device])
def test_kpi_refresh_refuses_a_special_output(tmp_path: Path, workbook: Path, make: object) -> None:
    target = make(tmp_path / "out.xlsx")  # type: ignore[operator]
    before = workbook.read_bytes()
    line = one_line(kpi("refresh", str(workbook), "-o", str(target)))
    assert "not a regular file" in line
    assert still_special(target)
    assert workbook.read_bytes() == before


def test_kpi_refresh_writes_into_a_character_device_with_force(
    tmp_path: Path, workbook: Path
) -> None:
    target = a_character_device(tmp_path / "out.xlsx")
    result = kpi("refresh", str(workbook), "-o", str(target), "--force")
    assert result.returncode == 0, result.stderr
    assert still_special(target)


def test_kpi_new_with_force_writes_into_a_fifo(tmp_path: Path) -> None:
    target = a_fifo(tmp_path / "shop.xlsx")
    line = one_line(kpi("new", "celebrity_video", "-o", str(target), "--rows", "10"))
    assert "already exists" in line
    with fifo_reader(target) as got:
        result = kpi("new", "celebrity_video", "-o", str(target), "--rows", "10", "--force")
    assert result.returncode == 0, result.stderr
    assert got[0].startswith(b"PK")
    assert still_special(target)


@pytest.mark.parametrize(
    "args",
    [
        ["refresh", "{workbook}", "-o", "{missing}/out.xlsx"],
        ["report", "{workbook}", "--html", "{missing}/report.html"],
    ],
)
def test_a_missing_folder_is_one_line(tmp_path: Path, workbook: Path, args: list[str]) -> None:
    missing = tmp_path / "nowhere"
    filled = [arg.format(missing=missing, workbook=workbook) for arg in args]
    line = one_line(kpi(*filled))
    assert "does not exist" in line
    assert not missing.exists()


def test_kpi_new_makes_the_folders_it_writes_into(tmp_path: Path) -> None:
    """kpi new makes something new, as kpi lite does: its folders too
    (`make demo` writes demo/celebrity_video_en.xlsx in a fresh clone)."""
    target = tmp_path / "nowhere" / "yet" / "shop.xlsx"
    result = kpi("new", "celebrity_video", "--rows", "10", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(b"PK")


def test_kpi_lite_refuses_a_fifo_and_a_device_as_its_folder(tmp_path: Path) -> None:
    fifo = a_fifo(tmp_path / "lite")
    line = one_line(kpi("lite", "-o", str(fifo)))
    assert "is not a folder" in line
    assert still_special(fifo)
    line = one_line(kpi("lite", "-o", "/dev/full"))
    assert "is not a folder" in line
    assert still_special(Path("/dev/full"))


def test_kpi_lite_refuses_a_fifo_among_its_files(tmp_path: Path) -> None:
    main = a_fifo(tmp_path / "main.py")
    line = one_line(kpi("lite", "-o", str(tmp_path)))
    assert "a FIFO" in line
    assert "--force" not in line  # kpi lite has none to offer
    assert still_special(main)
    assert sorted(os.listdir(tmp_path)) == ["main.py"]  # nothing written


def test_kpi_com_setup_refuses_a_fifo(tmp_path: Path) -> None:
    conf = a_fifo(tmp_path / "xlwings.conf")
    line = one_line(kpi("com-setup", "--conf", str(conf)))
    assert "a FIFO" in line
    assert still_special(conf)


@pytest.mark.parametrize(
    "url",
    [
        "https://x/a b.whl",
        "https://x/a.whl\n--index-url https://evil/",
        "https://x/a\tb.whl",
        "https://x/a%zz.whl",
        "https:///a.whl",
        "https://x:port/a.whl",
        "http://x/a.whl",
    ],
)
def test_kpi_lite_refuses_a_wheel_url_that_is_not_a_url(tmp_path: Path, url: str) -> None:
    result = kpi("lite", "-o", str(tmp_path / "lite"), "--wheel-url", url)
    assert result.returncode == 2, result.stderr
    assert "--wheel-url" in result.stderr
    assert not (tmp_path / "lite").exists()


def test_kpi_lite_takes_a_wheel_url(tmp_path: Path) -> None:
    url = "https://raw.githubusercontent.com/you/kpi/main/kpi_addin-0.1.0-py3-none-any.whl"
    result = kpi("lite", "-o", str(tmp_path), "--wheel-url", url)
    assert result.returncode == 0, result.stderr
    assert url in (tmp_path / "requirements.txt").read_text(encoding="utf-8")
