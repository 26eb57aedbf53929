"""Benchmark: LibreOffice recalculating ``kpi new celebrity_video`` workbooks
over its start-up, in interleaved rounds, and the time of each KPI's formulas.

1. Growth. For each number of orders (sample data, as ``kpi new --rows N``
   writes it), the time LibreOffice takes to open the workbook, recalculate
   every formula and save it, minus the time it takes for the empty workbook
   (its start-up) in the same round. Every round converts the empty workbook
   and each size once, in an order rotated each round; the figures are the
   medians of the per-round figures. Goals: the 20,000-order workbook within
   10 s over start-up; growth from 20,000 to 100,000 orders at most 5.5x.
2. Per KPI, at PER_KPI orders: copies of the same workbook in which every
   formula of the KPIs sheet and of the Trend sheet is removed except one
   KPI's (its row on the KPIs sheet, found by its name KPI_<ID>, and the
   Trend columns headed by its title); the formulas of the other sheets
   (Settings, the data tables) stay in every copy. A copy with no KPI's
   formulas measures loading the data; each KPI's time is its copy's time
   minus that one in the same round, and the data checks (the KPIs sheet's
   other formulas) are measured the same way. CPU time leads the table (and
   each KPI's share of all formulas' CPU time): on a busy machine it moves far
   less than wall time. Each KPI's copy is read back: its KPI cell holds a
   number. With a baseline commit (KPI_BENCH_RECALC_BASELINE), the same
   copies are made of the baseline's workbook (written by its own code, in a
   temporary git worktree, as ``bench_recalc.py`` does), converted in the same
   rounds, and the table gives each KPI's time before and after.

Each conversion is one soffice call with a fresh copy of a warmed-up profile
(as ``bench_recalc.py``); wall time and CPU time (user + system of soffice and
its children) are printed, with the machine's load sampled during each part.

Environment (the defaults are the issue's sizes; try it small first):

    KPI_BENCH_RECALC_ORDERS        sizes of the growth, comma-separated (20000,100000)
    KPI_BENCH_RECALC_PER_KPI       orders of the per-KPI table (100000; 0: skip it)
    KPI_BENCH_RECALC_KPIS          the KPIs of that table, comma-separated (all)
    KPI_BENCH_ROUNDS               interleaved rounds of the growth (3)
    KPI_BENCH_RECALC_PER_KPI_ROUNDS  interleaved rounds of the per-KPI table (1)
    KPI_BENCH_RECALC_TIMEOUT       seconds allowed to one soffice call (900)
    KPI_BENCH_RECALC_BASELINE      a commit whose per-KPI table is measured beside (none)

    KPI_BENCH_RECALC_ORDERS=200,1000 KPI_BENCH_RECALC_PER_KPI=200 KPI_BENCH_RECALC_KPIS=nps \\
        KPI_BENCH_ROUNDS=1 python tests/benchmarks/bench_recalc_kpis.py

Exit status 1 when a goal is missed, 2 when a run is broken (a workbook not
written, not converted, or a KPI cell without a number).
"""

from __future__ import annotations

import html
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_recalc import (
    BUSINESS_TYPE,
    ROOT,
    BrokenRunError,
    Side,
    TimedOutError,
    baseline_worktree,
    convert_seconds,
    generate,
    make_profile,
    soffice,
)
from rounds import LoadWatch

SIZES = sorted(
    int(part)
    for part in os.environ.get("KPI_BENCH_RECALC_ORDERS", "20000,100000").split(",")
    if part.strip()
)
PER_KPI = int(os.environ.get("KPI_BENCH_RECALC_PER_KPI", "100000"))
ONLY_KPIS = [k for k in os.environ.get("KPI_BENCH_RECALC_KPIS", "").split(",") if k.strip()]
ROUNDS = int(os.environ.get("KPI_BENCH_ROUNDS", "3"))
PER_KPI_ROUNDS = int(os.environ.get("KPI_BENCH_RECALC_PER_KPI_ROUNDS", "1"))
TIMEOUT = float(os.environ.get("KPI_BENCH_RECALC_TIMEOUT", "900"))
BASELINE = os.environ.get("KPI_BENCH_RECALC_BASELINE", "").strip()
SECONDS_GOAL_ROWS, SECONDS_GOAL = 20_000, 10.0
GROWTH_FROM, GROWTH_TO, GROWTH_GOAL = 20_000, 100_000, 5.5

_CELL = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_FORMULA = re.compile(r"<f\b[^>]*/>|<f\b[^>]*>.*?</f>", re.S)


def converted(source: Path, work: Path, profile: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one soffice call converting ``source``."""
    outdir = work / "recalculated"
    outdir.mkdir(exist_ok=True)
    (outdir / source.name).unlink(missing_ok=True)
    run_profile = work / "run-profile"
    shutil.rmtree(run_profile, ignore_errors=True)
    shutil.copytree(profile, run_profile)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        wall = convert_seconds(source, outdir, run_profile, TIMEOUT)
    finally:
        shutil.rmtree(run_profile, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def kpi_cell_value(path: Path, name: str) -> object:
    from openpyxl import load_workbook  # noqa: PLC0415

    from tests.starter_reader import named_value  # noqa: PLC0415

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        return named_value(book, name)
    finally:
        book.close()


# --- growth --------------------------------------------------------------------------------


def growth(
    work: Path, profile: Path, books: dict[int, Path]
) -> tuple[dict[int, tuple[float, float]], bool]:
    """The growth table; the median wall and CPU seconds over start-up by size, and the
    goals met."""
    names: list[str | int] = ["empty", *books]
    files: dict[str | int, Path] = {"empty": work / "empty.xlsx"}
    for size, book in books.items():
        files[size] = book
    over: dict[int, list[tuple[float, float]]] = {size: [] for size in books}
    startups: list[tuple[float, float]] = []
    print(f"\n1. {BUSINESS_TYPE}: open, recalculate and save; {ROUNDS} interleaved round(s)")
    with LoadWatch() as load:
        for round_ in range(ROUNDS):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            times = {name: converted(files[name], work, profile) for name in order}
            startup = times.pop("empty")
            startups.append(startup)
            for name, (wall, cpu) in times.items():
                over[int(name)].append((wall - startup[0], cpu - startup[1]))
            print(
                f"   round {round_ + 1}: start-up {startup[0]:.2f} s; "
                + ", ".join(f"{size:,} orders {times[size][0]:.2f} s" for size in books)
            )
    print(f"   {load.summary()}")
    print(f"   {'orders':<12}{'wall s over start-up':>22}{'CPU s over start-up':>22}")
    print(
        f"   {'start-up':<12}{statistics.median(s[0] for s in startups):>22.2f}"
        f"{statistics.median(s[1] for s in startups):>22.2f}"
    )
    medians = {}
    for size, runs in over.items():
        medians[size] = (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
        )
        print(f"   {size:<12,}{medians[size][0]:>22.2f}{medians[size][1]:>22.2f}")
    met = True
    print("   goals:")
    if SECONDS_GOAL_ROWS in medians:
        ok = medians[SECONDS_GOAL_ROWS][0] <= SECONDS_GOAL
        met &= ok
        print(
            f"     {SECONDS_GOAL_ROWS:,} orders over start-up: {medians[SECONDS_GOAL_ROWS][0]:.2f} s "
            f"(goal <= {SECONDS_GOAL:g} s)  {'ok' if ok else 'MISSES GOAL'}"
        )
    else:
        print(f"     {SECONDS_GOAL_ROWS:,} orders over start-up: not measured (sizes {SIZES})")
    if GROWTH_FROM in over and GROWTH_TO in over:
        ratios = [b[0] / a[0] for a, b in zip(over[GROWTH_FROM], over[GROWTH_TO], strict=True)]
        cpus = [b[1] / a[1] for a, b in zip(over[GROWTH_FROM], over[GROWTH_TO], strict=True)]
        ok = statistics.median(ratios) <= GROWTH_GOAL
        met &= ok
        print(
            f"     growth {GROWTH_FROM:,} -> {GROWTH_TO:,} orders: {statistics.median(ratios):.2f}x "
            f"wall, CPU time {statistics.median(cpus):.2f}x (goal <= {GROWTH_GOAL:g}x)  "
            f"{'ok' if ok else 'MISSES GOAL'}"
        )
    elif len(over) >= 2:
        small, large = min(over), max(over)
        ratios = [b[0] / a[0] for a, b in zip(over[small], over[large], strict=True)]
        print(
            f"     growth {small:,} -> {large:,} orders: {statistics.median(ratios):.2f}x wall "
            f"(the goal is measured from {GROWTH_FROM:,} to {GROWTH_TO:,})"
        )
    return medians, met


# --- one KPI's formulas --------------------------------------------------------------------


class Book:
    """The parts of a workbook package that say where each KPI's formulas are."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with zipfile.ZipFile(path) as package:
            self.parts = {name: package.read(name) for name in package.namelist()}
        workbook = self.parts["xl/workbook.xml"].decode()
        rels = self.parts["xl/_rels/workbook.xml.rels"].decode()
        targets = dict(re.findall(r'Id="([^"]+)"[^>]*?Target="([^"]+)"', rels))
        targets |= {i: t for t, i in re.findall(r'Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)}
        self.sheets = {
            html.unescape(name): "xl/" + targets[rid].removeprefix("/xl/").removeprefix("xl/")
            for name, rid in re.findall(
                r'<sheet\b[^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', workbook
            )
        }
        self.names = {
            name: html.unescape(ref)
            for name, ref in re.findall(r'<definedName name="([^"]+)"[^>]*>([^<]+)<', workbook)
        }
        shared = self.parts.get("xl/sharedStrings.xml", b"").decode()
        self.strings = [
            html.unescape(re.sub(r"<[^>]+>", "", item))
            for item in re.findall(r"<si>(.*?)</si>", shared, re.S)
        ]

    def text_cells(self, sheet: str) -> dict[tuple[str, int], str]:
        found = {}
        for column, row, attributes, body in _CELL.findall(self.parts[self.sheets[sheet]].decode()):
            inline = re.search(r"<is>(.*?)</is>", body or "", re.S)
            if inline:
                found[(column, int(row))] = html.unescape(re.sub(r"<[^>]+>", "", inline.group(1)))
            elif 't="s"' in attributes:
                value = re.search(r"<v>(\d+)</v>", body or "")
                if value:
                    found[(column, int(row))] = self.strings[int(value.group(1))]
        return found

    def kpi_row(self, kpi_id: str) -> tuple[str, int]:
        """The sheet and row of the KPI's cell (its name KPI_<ID>)."""
        ref = self.names.get(f"KPI_{kpi_id.upper()}")
        found = re.fullmatch(r"'?(.+?)'?!\$?[A-Z]+\$?(\d+)", ref or "")
        if found is None:
            raise BrokenRunError(f"{self.path.name}: no name KPI_{kpi_id.upper()} for {kpi_id}")
        return found.group(1), int(found.group(2))

    def keep_only(self, kpi_ids: list[str], checks: bool, target: Path) -> int:
        """A copy keeping the formulas of ``kpi_ids`` (and of the data checks when
        ``checks``) on the KPIs and Trend sheets; the number of formulas kept there."""
        rows = {kpi: self.kpi_row(kpi) for kpi in kpis_of(self)}
        (kpi_sheet,) = {sheet for sheet, _ in rows.values()}
        titles = {
            kpi: self.text_cells(kpi_sheet).get(("A", row), "") for kpi, (_, row) in rows.items()
        }
        trend_columns: dict[str, set[str]] = {kpi: set() for kpi in rows}
        for (column, _), text in self.text_cells("Trend").items():
            for kpi, title in titles.items():
                if title and text == title:
                    trend_columns[kpi].add(column)
        kpi_rows = {row for _, row in rows.values()}
        keep_rows = {rows[kpi][1] for kpi in kpi_ids}
        keep_columns = set().union(*(trend_columns[kpi] for kpi in kpi_ids))
        all_kpi_columns = set().union(*trend_columns.values())
        kept = 0

        def edit(sheet: str, keep: object) -> str:
            nonlocal kept

            def one(match: re.Match[str]) -> str:
                nonlocal kept
                column, row, body = match.group(1), int(match.group(2)), match.group(4)
                if body is None or "<f" not in body:
                    return match.group(0)
                if keep(column, row):  # type: ignore[operator]
                    kept += 1
                    return match.group(0)
                attributes = match.group(3).replace(' cm="1"', "")
                return f'<c r="{column}{row}"{attributes}>{_FORMULA.sub("", body)}</c>'

            return _CELL.sub(one, self.parts[self.sheets[sheet]].decode())

        edited = {
            self.sheets[kpi_sheet]: edit(
                kpi_sheet,
                lambda column, row: row in keep_rows or (checks and row not in kpi_rows),
            ),
            self.sheets["Trend"]: edit(
                "Trend",
                lambda column, row: column in keep_columns or column not in all_kpi_columns,
            ),
        }
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for name, data in self.parts.items():
                if name == "xl/calcChain.xml":
                    continue  # it lists formula cells; LibreOffice and Excel rebuild it
                out.writestr(name, edited[name].encode() if name in edited else data)
        for kpi in kpi_ids:
            if not trend_columns[kpi]:
                raise BrokenRunError(f"no Trend column is headed {titles[kpi]!r} ({kpi})")
        return kept


def kpis_of(book: Book) -> list[str]:
    import kpi_engine  # noqa: PLC0415

    return [entry.id for entry in kpi_engine.get_business_type(BUSINESS_TYPE).kpis]


def per_kpi(
    work: Path,
    profile: Path,
    paths: dict[str, Path],
    orders: int,
    whole: tuple[float, float] | None,
) -> None:
    """The per-KPI table of each side's workbook (``paths``: the side's name, such as
    "after" or "before", and its workbook), converted in the same rounds;
    ``whole``: the current workbook's wall and CPU seconds over start-up."""
    books = {side: Book(path) for side, path in paths.items()}
    kpis = ONLY_KPIS or kpis_of(next(iter(books.values())))
    print(
        f"\n2. per KPI at {orders:,} orders: copies keeping one KPI's formulas (see the docstring); "
        f"{PER_KPI_ROUNDS} interleaved round(s)" + (f"; sides: {', '.join(paths)}")
    )
    startup = "(start-up: the empty workbook)"
    none = "(none: the data and shared formulas)"
    copies: dict[str, tuple[list[str], bool]] = {
        none: ([], False),
        "data checks": ([], True),
        **{kpi: ([kpi], False) for kpi in kpis},
    }
    files: dict[tuple[str, str], Path] = {("", startup): work / "empty.xlsx"}
    kept: dict[tuple[str, str], int] = {}
    for side, book in books.items():
        for n, (label, (keep, checks)) in enumerate(copies.items()):
            files[(side, label)] = work / f"copy_{side}_{n}.xlsx"
            kept[(side, label)] = book.keep_only(keep, checks, files[(side, label)])
            if (keep or checks) and kept[(side, label)] == 0:
                raise BrokenRunError(f"{side} {label}: no formula kept in its copy")
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in files}
    keys = list(files)
    with LoadWatch() as load:
        for round_ in range(PER_KPI_ROUNDS):
            shift = round_ % len(keys)
            for key in keys[shift:] + keys[:shift]:
                runs[key].append(converted(files[key], work, profile))
                keep = copies.get(key[1], ([], False))[0]
                if keep:
                    name = f"KPI_{keep[0].upper()}"
                    value = kpi_cell_value(work / "recalculated" / files[key].name, name)
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise BrokenRunError(
                            f"{key[0]} {key[1]}: its KPI cell holds {value!r}, not a number"
                        )
                (work / "recalculated" / files[key].name).unlink(missing_ok=True)
    for key in kept:
        files[key].unlink()
    print(f"   {load.summary()}")
    print_per_kpi(runs, kept, list(copies), whole)


def print_per_kpi(
    runs: dict[tuple[str, str], list[tuple[float, float]]],
    kept: dict[tuple[str, str], int],
    labels: list[str],
    whole: tuple[float, float] | None,
) -> None:
    """The per-KPI table from the rounds' ``runs`` of each (side, copy); ``labels``: the
    copies, the first the one without KPI formulas."""
    startup = "(start-up: the empty workbook)"
    none = labels[0]
    books = list(dict.fromkeys(side for side, _ in kept))

    def over(key: tuple[str, str], base: tuple[str, str], what: int) -> float:
        """The median over rounds of ``key`` minus ``base`` in the same round."""
        return statistics.median(
            ours[what] - theirs[what] for ours, theirs in zip(runs[key], runs[base], strict=True)
        )

    for side in books:
        loading = (over((side, none), ("", startup), 0), over((side, none), ("", startup), 1))
        print(
            f"   {side}: loading the data and the shared formulas: {loading[0]:.2f} s over "
            f"start-up (CPU {loading[1]:.2f} s)"
        )
    current = next(iter(books))
    if whole is not None:
        loading_cpu = over((current, none), ("", startup), 1)
        formulas_cpu: float | None = whole[1] - loading_cpu
    else:
        formulas_cpu = None
    # The Trend sheet's month cells stay in every copy: a KPI's count leaves them out.
    table = {
        (side, label): (over((side, label), (side, none), 0), over((side, label), (side, none), 1))
        for side, label in kept
        if label != none
    }
    heads = "".join(f"{'formulas':>10}{'wall s':>9}{'CPU s':>9}" for _ in books)
    print(f"   {'':<30}" + "".join(f"{side:>28}" for side in books))
    share = "" if formulas_cpu is None else f"  share of {current}'s formulas' CPU"
    ratio = f"{'CPU ratio':>12}" if len(books) == 2 else ""
    print(f"   {'KPI':<30}{heads}{ratio}{share}")
    labels = [label for label in labels if label != none]
    for label in sorted(labels, key=lambda lab: -table[(current, lab)][1]):
        line = f"   {label:<30}"
        for side in books:
            wall, cpu = table[(side, label)]
            line += f"{kept[(side, label)] - kept[(side, none)]:>10}{wall:>9.2f}{cpu:>9.2f}"
        if len(books) == 2:
            mine, theirs = (table[(side, label)][1] for side in books)
            line += f"{(mine / theirs if theirs > 0 else float('nan')):>12.2f}"
        cpu = table[(current, label)][1]
        if formulas_cpu is not None and formulas_cpu > 0:
            line += f"{cpu / formulas_cpu:>10.0%}"
        print(line)
    print(
        "   (each: its copy's time minus the side's copy without KPI formulas, median of the"
        " rounds; sorted by CPU time, steadier than wall time on a busy machine"
        + (f"; CPU ratio: {' over '.join(books)})" if len(books) == 2 else ")")
    )


def run(work: Path) -> int:
    profile = make_profile(work / "profile")
    current = Side("current", ROOT)
    generate(current, None, work / "empty.xlsx")
    (work / "warm-up").mkdir()
    try:  # the first start of a profile fills it in: done once, outside any timing
        convert_seconds(work / "empty.xlsx", work / "warm-up", profile, TIMEOUT)
    except TimedOutError:
        raise BrokenRunError(f"LibreOffice did not start in {TIMEOUT:g} s") from None
    version = subprocess_version()
    print(f"{version}; {BUSINESS_TYPE} workbooks from kpi new --rows N")
    books = {}
    for size in sorted({*SIZES, *([PER_KPI] if PER_KPI else [])}):
        books[size] = work / f"orders_{size}.xlsx"
        generate(current, size, books[size])
    try:
        medians, met = growth(work, profile, {size: books[size] for size in SIZES})
        for size in SIZES:
            value = kpi_cell_value(
                work / "recalculated" / books[size].name, "KPI_REPEAT_PURCHASE_RATE"
            )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BrokenRunError(f"{size:,} orders: KPI_REPEAT_PURCHASE_RATE holds {value!r}")
        if PER_KPI:
            sides = {"after" if BASELINE else "current": books[PER_KPI]}
            if not BASELINE:
                per_kpi(work, profile, sides, PER_KPI, medians.get(PER_KPI))
                return 0 if met else 1
            worktree = baseline_worktree(BASELINE, work)
            if isinstance(worktree, str):
                raise BrokenRunError(f"baseline {BASELINE}: {worktree}")
            with worktree:
                before = work / f"baseline_orders_{PER_KPI}.xlsx"
                generate(Side(f"baseline ({BASELINE})", worktree.path), PER_KPI, before)
            sides[f"before ({BASELINE})"] = before
            per_kpi(work, profile, sides, PER_KPI, medians.get(PER_KPI))
    except TimedOutError:
        print(f"a conversion did not finish in {TIMEOUT:g} s (KPI_BENCH_RECALC_TIMEOUT)")
        return 1
    return 0 if met else 1


def subprocess_version() -> str:
    import subprocess  # noqa: PLC0415

    done = subprocess.run([soffice(), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "LibreOffice"


def main() -> int:
    try:
        with tempfile.TemporaryDirectory(prefix="bench-recalc-kpis-") as folder:
            return run(Path(folder))
    except BrokenRunError as broken:
        print(f"broken run: {broken}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
