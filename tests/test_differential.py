"""Differential fuzzing: workbook formulas, ``kpi report`` and the add-in agree.

Hypothesis writes messy tables (tests/messy.py) into starter workbooks of
every business type; LibreOffice recalculates them, many files per soffice
call over both cores; every KPI value, status, trend cell, chart value and
data-note count is then compared with ``kpi report --json`` on the same file
with the add-in's functions on the same columns, and with each recipe's ibis
form on the same rows typed into DuckDB, data notes included (tests/differential.py).
The source leg writes the same rows, typed as a database export types them,
as a Parquet folder and a CSV folder and compares every slot of ``kpi report
--source`` on each (month, previous, year earlier, trend months, channels,
data-note counts) with the workbook's report. The import leg writes the
same typed rows as a CSV export and an .xlsx export, loads each with ``kpi
import`` into an empty workbook of the type, and requires of each imported
workbook every slot of the original's report, and its own formulas, as
LibreOffice recalculates them, to agree with that report.

``make test`` runs a fixed, derandomised set of at least 50 workbooks. ``make
fuzz`` runs many more from a fresh seed and prints it; a failing workbook is
kept, and ``make fuzz SEED=<seed>`` generates the same workbooks again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from addin.ooxml.package import open_package, read_data
from tests.differential import (
    disagreements,
    formula_disagreements,
    import_disagreements,
    imported_workbooks,
    report_of,
    source_disagreements,
    write_workbook,
)
from tests.libreoffice import convert
from tests.messy import BUSINESS_TYPES, messy_tables
from tests.selection import selected_params

pytestmark = pytest.mark.libreoffice

#: Workbooks per business type: 10 in ``make test``, more in ``make fuzz``.
PER_TYPE = int(os.environ.get("KPI_FUZZ_PER_TYPE", "10"))
#: Of those, how many also go through ``--source`` as a Parquet and a CSV
#: folder (a few seconds each): 2 in ``make test``, 40 in ``make fuzz``.
SOURCE_PER_TYPE = int(os.environ.get("KPI_FUZZ_SOURCE_PER_TYPE", "2"))
#: Of those, how many also go through ``kpi import`` as a CSV and an .xlsx
#: export, each imported workbook recalculated by LibreOffice too: 2 in
#: ``make test``, 20 in ``make fuzz``.
IMPORT_PER_TYPE = int(os.environ.get("KPI_FUZZ_IMPORT_PER_TYPE", "2"))
#: ``make fuzz`` sets a seed; ``make test`` runs derandomised.
SEED = os.environ.get("KPI_FUZZ_SEED")
#: Where a failing workbook is kept for a person to open.
KEEP = Path(os.environ.get("KPI_FUZZ_KEEP", "fuzz-failures"))


def generate(business_type: str, count: int) -> list[dict[str, dict[str, list[Any]]]]:
    """``count`` messy table sets for a business type, drawn by Hypothesis."""
    drawn: list[dict[str, dict[str, list[Any]]]] = []

    @settings(
        max_examples=count,
        derandomize=SEED is None,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(messy_tables(business_type))
    def collect(tables: dict[str, dict[str, list[Any]]]) -> None:
        drawn.append(tables)

    if SEED is not None:
        collect = seed(int(SEED) + BUSINESS_TYPES.index(business_type))(collect)
    collect()
    return drawn[:count]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[tuple[str, Path]]]:
    """(language, workbook) per generated workbook of a business type, as
    written; each type's workbooks are generated when first asked for."""
    folder = tmp_path_factory.mktemp("fuzz")
    done: dict[str, list[tuple[str, Path]]] = {}

    def of_type(business_type: str) -> list[tuple[str, Path]]:
        if business_type not in done:
            done[business_type] = []
            for number, tables in enumerate(generate(business_type, PER_TYPE)):
                language = ("en", "fr", "nl")[number % 3]
                path = folder / f"{business_type}_{number:03d}.xlsx"
                written = write_workbook(business_type, language, tables, path)
                done[business_type].append((language, written))
        return done[business_type]

    return of_type


@pytest.fixture(scope="module")
def fuzzed(
    request: pytest.FixtureRequest,
    written: Callable[[str], list[tuple[str, Path]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[str, str, Path, Path]]:
    """(business type, language, original, recalculated) per generated
    workbook of the business types this run selected, recalculated in one
    LibreOffice batch (``-k`` picks a few types: LibreOffice opens only theirs)."""
    cases = [
        (business_type, language, path)
        for (business_type,) in selected_params(request, "business_type")
        for language, path in written(business_type)
    ]
    recalculated = convert(
        [path for _, _, path in cases], tmp_path_factory.mktemp("fuzz_recalculated")
    )
    return [(t, lang, p, r) for (t, lang, p), r in zip(cases, recalculated, strict=True)]


def test_enough_workbooks_of_every_type(
    written: Callable[[str], list[tuple[str, Path]]],
) -> None:
    generated = [
        (business_type, language, path)
        for business_type in BUSINESS_TYPES
        for language, path in written(business_type)
    ]
    assert len(generated) >= 5 * PER_TYPE
    assert {business_type for business_type, *_ in generated} == set(BUSINESS_TYPES)


def _kept(original: Path, language: str, found: list[str]) -> str:
    """Keep a disagreeing workbook for a person to open; the failure line naming it."""
    KEEP.mkdir(parents=True, exist_ok=True)
    kept = KEEP / original.name
    shutil.copy(original, kept)
    return f"{kept} ({language}):\n  " + "\n  ".join(found[:12])


def _assert_none(failures: list[str]) -> None:
    where = f"seed {SEED}" if SEED is not None else "the derandomised set"
    assert not failures, f"{len(failures)} workbooks of {where} disagree:\n" + "\n".join(failures)


def _rows_of(path: Path) -> Any:
    package = open_package(path)
    try:
        return read_data(package).rows
    finally:
        package.close()


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_formulas_report_and_addin_agree(
    fuzzed: list[tuple[str, str, Path, Path]], business_type: str
) -> None:
    failures = []
    for kind, language, original, recalculated in fuzzed:
        if kind != business_type:
            continue
        found = disagreements(original, recalculated, kind, language)
        if found:
            failures.append(_kept(original, language, found))
    _assert_none(failures)


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_sources_agree_with_the_workbook(
    written: Callable[[str], list[tuple[str, Path]]], business_type: str, tmp_path: Path
) -> None:
    """The source leg: the same rows typed as a database export types them,
    as a Parquet folder and as a CSV folder, through ``kpi report --source``:
    every slot (month, previous, year earlier, trend months, channels, data
    note counts) as ``kpi report`` on the workbook gives it."""
    cases = written(business_type)[:SOURCE_PER_TYPE]
    failures, compared = [], 0
    for number, (language, original) in enumerate(cases):
        count, found = source_disagreements(
            original, report_of(original), _rows_of(original), tmp_path / f"{number:03d}"
        )
        compared += count
        if found:
            failures.append(_kept(original, language, found))
    print(f"{business_type}: {len(cases)} workbooks, {compared} slots compared through --source")
    assert compared > 0
    _assert_none(failures)


@pytest.fixture(scope="module")
def imported(
    fuzzed: list[tuple[str, str, Path, Path]], tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[str, str, Path, dict[str, tuple[Path, Path]]]]:
    """(business type, language, original, {form: (imported, recalculated)})
    for the first IMPORT_PER_TYPE workbooks of each type: the rows exported
    as CSV and as .xlsx, each loaded with ``kpi import`` into an empty
    workbook, all recalculated by LibreOffice in one run."""
    folder = tmp_path_factory.mktemp("imported")
    cases = []
    for business_type in BUSINESS_TYPES:
        chosen = [case for case in fuzzed if case[0] == business_type][:IMPORT_PER_TYPE]
        for number, (_, language, original, _) in enumerate(chosen):
            where = folder / f"{business_type}_{number:03d}"
            where.mkdir()
            made = imported_workbooks(business_type, language, _rows_of(original), where)
            cases.append((business_type, language, original, made))
    paths = [path for *_, made in cases for path in made.values()]
    recalculated = dict(zip(paths, convert(paths, folder / "recalculated"), strict=True))
    return [
        (t, lang, original, {form: (p, recalculated[p]) for form, p in made.items()})
        for t, lang, original, made in cases
    ]


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_imports_agree_with_the_workbook(
    imported: list[tuple[str, str, Path, dict[str, tuple[Path, Path]]]], business_type: str
) -> None:
    """The import leg: the rows as a CSV and an .xlsx export, through ``kpi
    import`` into an empty workbook: every slot of ``kpi report`` on it as on
    the original workbook, and its own formulas (LibreOffice) agreeing with
    that report: KPI values, statuses, trend, charts and data notes."""
    failures, compared, workbooks = [], 0, 0
    for kind, language, original, made in imported:
        if kind != business_type:
            continue
        workbooks += 1
        count, found, reports = import_disagreements(
            report_of(original), {form: path for form, (path, _) in made.items()}
        )
        compared += count
        for form, report in reports.items():
            recalculated = made[form][1]
            found += [
                f"{form}: {d}" for d in formula_disagreements(report, recalculated, kind, language)
            ]
        if found:
            failures.append(_kept(original, language, found))
    print(f"{business_type}: {workbooks} workbooks, {compared} slots compared through kpi import")
    assert compared > 0
    _assert_none(failures)
