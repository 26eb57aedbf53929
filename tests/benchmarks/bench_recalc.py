"""Benchmark: LibreOffice recalculating celebrity_video starter workbooks, now and at a baseline.

For each number of orders (the main table), the time LibreOffice takes to open
a starter workbook, recalculate every formula and save it, minus the time it
takes for the empty workbook (LibreOffice's start-up); for the current code and,
in the same run, for a baseline commit whose workbook formulas grow
quadratically. The baseline's workbooks come from its own code, checked out in
a temporary git worktree and run by the same Python in a child process.

Each workbook is converted in its own soffice call, with a per-call timeout
(best of --repeat). A call that times out is reported as not finished, and the
larger workbooks of that side are not run. Each result is read back: the named
cell KPI_REPEAT_PURCHASE_RATE must hold a number.

    python tests/benchmarks/bench_recalc.py [--rows 2000,20000,100000] [--skip-baseline]
        [--baseline-commit 2fb699e] [--timeout 600] [--repeat 1]

Exit status 1 when a goal is missed (growth from 2,000 to 20,000 orders at most
15x; 20,000 orders under 30 s over start-up), 2 when a run is broken (a
workbook not generated, not converted, or without a number in its KPI).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BUSINESS_TYPE = "celebrity_video"
AS_OF = dt.date(2024, 7, 15)
CHECKED_NAME = "KPI_REPEAT_PURCHASE_RATE"
GROWTH_FROM, GROWTH_TO = 2_000, 20_000
GROWTH_GOAL = 15.0
SECONDS_GOAL_ROWS = 20_000
SECONDS_GOAL = 30.0

# Run with PYTHONPATH set to the code under test; it reports where `addin`
# came from, so that an installed copy cannot silently stand in for it.
_CHILD_GENERATE = """
import datetime as dt, json, sys
from pathlib import Path
import addin
from addin.starter import StarterOptions, new_workbook
business_type, rows, target = sys.argv[1], sys.argv[2], Path(sys.argv[3])
as_of = dt.date.fromisoformat(sys.argv[4])
if rows == "empty":
    options = StarterOptions(business_type, empty=True, as_of=as_of)
else:
    options = StarterOptions(business_type, rows=int(rows), as_of=as_of)
new_workbook(options, target, force=True)
print(json.dumps({"addin": str(Path(addin.__file__).resolve())}))
"""


class BrokenRunError(Exception):
    """The run cannot give a meaningful figure (exit status 2)."""


class TimedOutError(Exception):
    """LibreOffice did not finish within the timeout."""


@dataclass
class Side:
    """One version of the code and what was measured for it."""

    label: str
    code_root: Path | None  # None: not measured
    status: str = ""  # why it was not measured
    startup: float | None = None
    over_startup: dict[int, float] = field(default_factory=dict)
    not_finished: dict[int, str] = field(default_factory=dict)


def generate(side: Side, rows: int | None, target: Path) -> None:
    """A starter workbook written by the side's code (``rows=None``: empty)."""
    assert side.code_root is not None
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD_GENERATE,
            BUSINESS_TYPE,
            "empty" if rows is None else str(rows),
            str(target),
            AS_OF.isoformat(),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=side.code_root,
        env={**os.environ, "PYTHONPATH": str(side.code_root)},
    )
    if result.returncode != 0:
        what = "--empty" if rows is None else f"--rows {rows}"
        raise BrokenRunError(
            f"{side.label}: kpi new {BUSINESS_TYPE} {what} failed:\n{result.stderr}"
        )
    imported = Path(json.loads(result.stdout.strip().splitlines()[-1])["addin"])
    if not imported.is_relative_to(side.code_root.resolve()):
        raise BrokenRunError(
            f"{side.label}: the workbook generator imported addin from outside the code tested"
        )


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise BrokenRunError("LibreOffice is missing: make system-deps")
    return found


def make_profile(folder: Path) -> Path:
    """A LibreOffice profile that recalculates every formula on load."""
    from tests.libreoffice import _PROFILE_SETTINGS  # noqa: PLC0415

    user = folder / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, encoding="utf-8")
    return folder


def convert_seconds(source: Path, outdir: Path, profile: Path, timeout: float) -> float:
    """Seconds for soffice to open, recalculate and save ``source`` as xlsx in ``outdir``.

    soffice is a script that starts the office in a grandchild process, which
    a plain timeout would leave running; it gets a session of its own so that
    the whole tree is killed on timeout or interruption.
    """
    command = [
        soffice(),
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "xlsx",
        "--outdir",
        str(outdir),
        str(source),
    ]
    # Its temporary files go with the work folder, also when it is killed.
    scratch = outdir / ".tmp"
    scratch.mkdir(exist_ok=True)
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        _, stderr = process.communicate(timeout=timeout)
        seconds = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        raise TimedOutError from None
    finally:
        if process.poll() is None or _group_alive(process.pid):
            _kill_group(process.pid)
            process.communicate()
            _remove_office_pipe(profile)
    if process.returncode != 0:
        raise BrokenRunError(
            f"LibreOffice failed on {source.name} (exit {process.returncode}):\n"
            + stderr.decode(errors="replace")
        )
    if not (outdir / source.name).exists():
        raise BrokenRunError(f"LibreOffice did not write {source.name}")
    return seconds


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _remove_office_pipe(profile: Path) -> None:
    """The socket a killed office leaves behind, which a clean exit removes.

    LibreOffice names it after the MD5 of its profile's URL in UTF-16, in hex
    without zero padding, in a fixed folder (desktop/source/app/officeipcthread.cxx,
    sal/osl/unx/pipe.cxx); TMPDIR does not move it.
    """
    digest = hashlib.md5(profile.resolve().as_uri().encode("utf-16-le"), usedforsecurity=False)
    name = f"OSL_PIPE_{os.getuid()}_SingleOfficeIPC_{''.join(f'{b:x}' for b in digest.digest())}"
    for folder in ("/tmp", "/var/tmp"):
        with contextlib.suppress(OSError):
            (Path(folder) / name).unlink()


def check_recalculated(path: Path) -> None:
    """The converted workbook holds a number where the KPI formula is."""
    from openpyxl import load_workbook  # noqa: PLC0415

    from tests.starter_reader import named_value  # noqa: PLC0415

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        value = named_value(book, CHECKED_NAME)
    finally:
        book.close()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BrokenRunError(
            f"{path.name}: after LibreOffice, {CHECKED_NAME} holds {value!r}; expected a number"
        )


def best_seconds(
    source: Path, work: Path, profile: Path, timeout: float, repeat: int, check: bool
) -> float:
    outdir = work / "recalculated"
    outdir.mkdir(exist_ok=True)
    run_profile = work / "run-profile"
    times = []
    for _ in range(repeat):
        (outdir / source.name).unlink(missing_ok=True)
        # A fresh copy of a profile that has started once: each call pays the
        # same start-up, and a killed call leaves no lock behind for the next.
        shutil.rmtree(run_profile, ignore_errors=True)
        shutil.copytree(profile, run_profile)
        try:
            times.append(convert_seconds(source, outdir, run_profile, timeout))
        finally:
            shutil.rmtree(run_profile, ignore_errors=True)
        if check:
            check_recalculated(outdir / source.name)
        (outdir / source.name).unlink(missing_ok=True)
    return min(times)


def measure(
    side: Side, rows: list[int], work: Path, profile: Path, options: argparse.Namespace
) -> None:
    """Start-up and seconds over start-up for each size, smallest first."""
    assert side.code_root is not None
    folder = work / side.label.split()[0]
    folder.mkdir()
    empty = folder / "empty.xlsx"
    generate(side, None, empty)
    try:
        side.startup = best_seconds(
            empty, folder, profile, options.timeout, options.repeat, check=False
        )
    except TimedOutError:
        raise BrokenRunError(
            f"{side.label}: the empty workbook did not finish in {options.timeout:g} s"
        ) from None
    print(f"{side.label}: start-up (empty workbook) {side.startup:.2f} s")
    for count in rows:
        timed_out = [n for n in side.not_finished if n < count]
        if timed_out:
            side.not_finished[count] = f"not run ({timed_out[0]:,} did not finish)"
            continue
        workbook = folder / f"orders_{count}.xlsx"
        generate(side, count, workbook)
        try:
            seconds = best_seconds(
                workbook, folder, profile, options.timeout, options.repeat, check=True
            )
        except TimedOutError:
            side.not_finished[count] = f"did not finish in {options.timeout:g} s"
            print(f"{side.label}: {count:,} orders did not finish in {options.timeout:g} s")
            continue
        finally:
            workbook.unlink(missing_ok=True)
        side.over_startup[count] = seconds - side.startup
        print(
            f"{side.label}: {count:,} orders {seconds:.2f} s, {seconds - side.startup:.2f} s over"
        )


@dataclass
class Worktree:
    """A temporary git worktree of one commit, removed on exit."""

    repo: Path
    path: Path

    def __enter__(self) -> Worktree:
        return self

    def __exit__(self, *_: object) -> None:
        removed = subprocess.run(
            ["git", "-C", str(self.repo), "worktree", "remove", "--force", str(self.path)],
            capture_output=True,
            check=False,
        )
        if removed.returncode != 0:
            shutil.rmtree(self.path, ignore_errors=True)
            subprocess.run(
                ["git", "-C", str(self.repo), "worktree", "prune"],
                capture_output=True,
                check=False,
            )


def baseline_worktree(commit: str, folder: Path) -> Worktree | str:
    """A worktree of ``commit`` of the repository this script lives in, or why not."""
    if shutil.which("git") is None:
        return "git is not installed"
    top = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if top.returncode != 0:
        return "this copy of the code is not a git checkout"
    repo = Path(top.stdout.strip())
    found = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        return f"commit {commit} is not in this repository"
    worktree = Worktree(repo, folder / "baseline-code")
    add = ["git", "-C", str(repo), "worktree", "add", "--detach", "--quiet", str(worktree.path)]
    try:
        added = subprocess.run(
            [*add, commit],
            capture_output=True,
            check=False,
        )
    except BaseException:
        # Interrupted half-way: whatever git made is removed.
        worktree.__exit__()
        raise
    if added.returncode != 0:
        worktree.__exit__()
        return f"git worktree add {commit} failed"
    return worktree


def parse_rows(text: str) -> list[int]:
    try:
        rows = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of numbers like 2000,20000"
        ) from None
    if rows[0] < 1:
        raise argparse.ArgumentTypeError("each number of orders is 1 or more")
    return rows


def cell(side: Side, count: int) -> str:
    if side.code_root is None:
        return side.status
    if count in side.over_startup:
        return f"{side.over_startup[count]:.2f} s"
    return side.not_finished.get(count, "")


def print_table(
    rows: list[int], current: Side, baseline: Side, options: argparse.Namespace
) -> None:
    version = subprocess.run(
        [soffice(), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"\n{version or 'LibreOffice'}: open, recalculate and save a {BUSINESS_TYPE} workbook")
    print(
        f"seconds over start-up (each side's empty workbook), best of {options.repeat}; "
        f"data as of {AS_OF}"
    )
    width = 34
    print(f"{'orders':<12}{current.label:<{width}}{baseline.label:<{width}}baseline / current")
    startup = [
        f"{s.startup:.2f} s" if s.startup is not None else cell(s, 0) for s in (current, baseline)
    ]
    print(f"{'start-up':<12}{startup[0]:<{width}}{startup[1]}")
    for count in rows:
        ratio = ""
        ours, theirs = current.over_startup.get(count), baseline.over_startup.get(count)
        if ours is not None and theirs is not None and ours > 0:
            ratio = f"{theirs / ours:.1f}x"
        line = f"{count:<12,}{cell(current, count):<{width}}{cell(baseline, count):<{width}}{ratio}"
        print(line.rstrip())


def goals(rows: list[int], current: Side, timeout: float) -> int:
    """Print each goal against the current code; the number missed."""
    missed = 0
    print("goals (current code, this run):")
    name = f"growth {GROWTH_FROM:,} -> {GROWTH_TO:,} orders"
    if GROWTH_FROM not in rows or GROWTH_TO not in rows:
        print(f"  {name}: not measured (--rows lacks {GROWTH_FROM} or {GROWTH_TO})")
    elif GROWTH_TO not in current.over_startup or GROWTH_FROM not in current.over_startup:
        missed += 1
        print(f"  {name}: did not finish in {timeout:g} s (goal <= {GROWTH_GOAL:g}x)  MISSES GOAL")
    elif current.over_startup[GROWTH_FROM] <= 0:
        print(f"  {name}: not measurable ({GROWTH_FROM:,} orders within start-up noise)")
    else:
        growth = current.over_startup[GROWTH_TO] / current.over_startup[GROWTH_FROM]
        met = growth <= GROWTH_GOAL
        missed += not met
        print(
            f"  {name}: {growth:.1f}x (goal <= {GROWTH_GOAL:g}x)  {'ok' if met else 'MISSES GOAL'}"
        )
    name = f"{SECONDS_GOAL_ROWS:,} orders over start-up"
    if SECONDS_GOAL_ROWS not in rows:
        print(f"  {name}: not measured (--rows lacks {SECONDS_GOAL_ROWS})")
    elif SECONDS_GOAL_ROWS not in current.over_startup:
        missed += 1
        print(f"  {name}: did not finish in {timeout:g} s (goal < {SECONDS_GOAL:g} s)  MISSES GOAL")
    else:
        seconds = current.over_startup[SECONDS_GOAL_ROWS]
        met = seconds < SECONDS_GOAL
        missed += not met
        print(
            f"  {name}: {seconds:.2f} s (goal < {SECONDS_GOAL:g} s)  {'ok' if met else 'MISSES GOAL'}"
        )
    return missed


def run(options: argparse.Namespace, work: Path) -> int:
    rows: list[int] = options.rows
    profile = make_profile(work / "profile")
    current = Side("current", ROOT)
    baseline = Side(f"baseline ({options.baseline_commit})", None)
    # The first start of a profile fills it in; done once here, outside any timing.
    warm_up = work / "warm-up"
    (warm_up / "out").mkdir(parents=True)
    generate(current, None, warm_up / "empty.xlsx")
    try:
        convert_seconds(warm_up / "empty.xlsx", warm_up / "out", profile, options.timeout)
    except TimedOutError:
        raise BrokenRunError(f"LibreOffice did not start in {options.timeout:g} s") from None
    measure(current, rows, work, profile, options)
    if options.skip_baseline:
        baseline.status = "skipped (--skip-baseline)"
    else:
        worktree = baseline_worktree(options.baseline_commit, work)
        if isinstance(worktree, str):
            baseline.status = "unavailable"
            print(f"baseline unavailable: {worktree}; measuring the current code only")
        else:
            with worktree:
                baseline.code_root = worktree.path
                measure(baseline, rows, work, profile, options)
    print_table(rows, current, baseline, options)
    return 1 if goals(rows, current, options.timeout) else 0


def _terminate(signum: int, _: FrameType | None) -> None:
    # Turned into an exception so that soffice and the worktree are cleaned up.
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=parse_rows, default=parse_rows("2000,20000,100000"))
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--baseline-commit", default="2fb699e")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with tempfile.TemporaryDirectory() as folder:
            return run(options, Path(folder))
    except BrokenRunError as broken:
        print(f"broken run: {broken}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
