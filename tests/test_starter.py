"""`kpi new`: options, determinism, safety, and what a workbook holds."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

import kpi_engine
from addin.recipes import tables_for
from addin.starter import StarterOptions, build, new_workbook
from addin.starter.build import workbook_words
from tests.addin_support import run_kpi

AS_OF = "2024-07-15"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    for target in (first, second):
        result = run_kpi("new", "songwriting", "-o", str(target), "--as-of", AS_OF, "--seed", "7")
        assert result.returncode == 0, result.stderr
    assert digest(first) == digest(second)
    other_seed = tmp_path / "c.xlsx"
    run_kpi("new", "songwriting", "-o", str(other_seed), "--as-of", AS_OF, "--seed", "8")
    assert digest(other_seed) != digest(first)


def test_prints_where_the_file_is(tmp_path: Path) -> None:
    target = tmp_path / "shop.xlsx"
    result = run_kpi("new", "celebrity_video", "-o", str(target), "--as-of", AS_OF)
    assert result.stdout.strip() == str(target.resolve())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("new", "bakery"),
            "error: kpi new: TYPE is 'bakery'; expected one of celebrity_video, networking, social_media, songwriting, video_marketing",
        ),
        (
            ("new", "networking", "--lang", "de"),
            "error: kpi new: --lang is 'de'; expected one of en, fr, nl",
        ),
        (
            ("new", "networking", "--rows", "0"),
            "error: kpi new: --rows is 0; expected a whole number from 1 to 500,000",
        ),
        (
            ("new", "networking", "--rows", "1000000000"),
            "error: kpi new: --rows is 1,000,000,000; expected a whole number from 1 to 500,000",
        ),
        (
            ("new", "networking", "--as-of", "0001-01-01"),
            "error: kpi new: --as-of is 0001-01-01; expected a date from 1903-01-01 to 9999-11-30",
        ),
        (
            ("new", "networking", "--as-of", "9999-12-31"),
            "error: kpi new: --as-of is 9999-12-31; expected a date from 1903-01-01 to 9999-11-30",
        ),
        (("new", "networking", "-o", "."), "error: kpi new: -o . is a folder"),
        (("new",), "error: kpi new: TYPE is missing"),
        (("new", "--all"), "error: kpi new: --all needs -o FOLDER"),
    ],
)
def test_bad_requests_write_nothing(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    # Run inside an empty folder: without -o the file would land here.
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "kpi"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(message), proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_all_into_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "mine.xlsx"
    target.write_bytes(b"the user's own file")
    result = run_kpi("new", "--all", "-o", str(target), "--as-of", AS_OF, "--empty")
    assert result.returncode == 2
    assert "is a file; --all writes one workbook per type and language" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_bytes() == b"the user's own file"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.xlsx"]


def test_existing_file_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "mine.xlsx"
    target.write_bytes(b"the user's own file")
    result = run_kpi("new", "networking", "-o", str(target), "--as-of", AS_OF)
    assert result.returncode == 2
    assert "already exists; pass --force to replace it" in result.stderr
    assert target.read_bytes() == b"the user's own file"
    assert (
        run_kpi("new", "networking", "-o", str(target), "--as-of", AS_OF, "--force").returncode == 0
    )
    assert zipfile.is_zipfile(target)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.xlsx"], "no temporary file is left behind"


def test_all_types_and_languages(tmp_path: Path) -> None:
    result = run_kpi("new", "--all", "-o", str(tmp_path), "--as-of", AS_OF, "--empty")
    assert result.returncode == 0, result.stderr
    expected = {
        f"{t}_{lang}.xlsx" for t in kpi_engine.BUSINESS_TYPES for lang in kpi_engine.LANGUAGES
    }
    assert {p.name for p in tmp_path.iterdir()} == expected


def test_workbook_contents(
    tmp_path: Path, any_type: kpi_engine.BusinessType, any_language: str
) -> None:
    target = new_workbook(
        StarterOptions(any_type.id, any_language, as_of=dt.date(2024, 7, 15)), tmp_path / "w.xlsx"
    )
    book = load_workbook(target)
    words = workbook_words()[any_language]
    sheets = words["sheets"]
    assert book.sheetnames[:4] == [
        sheets["about"],
        sheets["kpis"],
        sheets["trend"],
        sheets["settings"],
    ]
    assert book.properties.language == any_language
    assert book.properties.title == words["title"].format(type=any_type.title[any_language])
    tables = {name: ref for ws in book.worksheets for name, ref in ws.tables.items()}
    assert set(tables) == set(tables_for(any_type.id))
    for entry in any_type.kpis:
        for prefix in ("KPI", "STATUS", "TARGET"):
            assert f"{prefix}_{entry.id.upper()}" in book.defined_names
    for name in ("PERIOD", "PERIOD_START", "PERIOD_END"):
        assert name in book.defined_names
    kpi_sheet = book[sheets["kpis"]]
    formulas = [
        c.value
        for row in kpi_sheet.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    ]
    assert formulas
    assert not any("KPI." in f for f in formulas), "the workbook must not need the add-in"
    trend = book[sheets["trend"]]
    assert len(trend._charts) == len(any_type.kpis)
    for ws in book.worksheets:
        if ws.tables:
            assert ws.data_validations.dataValidation, f"{ws.title} has no data validation"


def test_data_text_is_never_a_formula(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = build.sample_tables

    def tampered(*args: object, **kwargs: object) -> dict[str, dict[str, list[object]]]:
        tables = real(*args, **kwargs)  # type: ignore[arg-type]
        tables["Orders"]["order_id"][0] = '=HYPERLINK("http://example.invalid","click")'
        tables["Orders"]["customer_id"][1] = "+1+1"
        tables["Orders"]["status"][2] = "@SUM(1)"
        return tables

    monkeypatch.setattr(build, "sample_tables", tampered)
    target = new_workbook(
        StarterOptions("celebrity_video", as_of=dt.date(2024, 7, 15)), tmp_path / "w.xlsx"
    )
    book = load_workbook(target)
    orders = book[workbook_words()["tables"]["en"]["Orders"]]
    first = orders["A2"]
    assert first.value == '=HYPERLINK("http://example.invalid","click")'
    assert first.data_type == "s"
    assert orders["B3"].value == "+1+1"
    assert orders["B3"].data_type == "s"
    sheet_xml = zipfile.ZipFile(target).read("xl/worksheets/sheet5.xml").decode()
    assert "<f>HYPERLINK" not in sheet_xml


def test_memory_bounded_write_only(tmp_path: Path) -> None:
    # Write-only mode: the workbook object keeps no cells of the data sheets,
    # and the data rows stay columns of values until they are streamed out.
    book = build.build_workbook(StarterOptions("networking", rows=2000, as_of=dt.date(2024, 7, 15)))
    assert book.workbook.write_only
    assert book.data_rows
    assert all(isinstance(rows, build.SheetRows) for rows in book.data_rows.values())
    target = tmp_path / "w.xlsx"
    build.save_workbook(book, target)  # a write-only workbook is finished by saving it
    activity = load_workbook(target)[workbook_words()["tables"]["en"]["Activity"]]
    assert activity.max_row == 2001
