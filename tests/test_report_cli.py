"""`kpi report`, `kpi refresh` on starter workbooks, and the report model:
same values as the engine, language-aware text, same sheet twice."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

import kpi_engine
from addin.recipes import month_shift, recipe_for
from addin.report.model import reasons
from addin.report.offline import make_report, refresh_file
from addin.starter import StarterOptions, new_workbook
from kpi_engine import display
from kpi_engine._inputs import to_serial
from tests.addin_support import KPI
from tests.report_support import FIXED_CLOCK, kpi_table, sheet_values
from tests.starter_reader import KPIValue, compute, read_workbook

AS_OF = dt.date(2024, 7, 15)


def kpi(*args: str) -> subprocess.CompletedProcess[str]:
    assert KPI
    return subprocess.run([KPI, *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def starters(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("starters")
    paths = {}
    for business_type in kpi_engine.BUSINESS_TYPES:
        for language in kpi_engine.LANGUAGES:
            path = folder / f"{business_type}_{language}.xlsx"
            new_workbook(StarterOptions(business_type, language, as_of=AS_OF), path)
            paths[business_type, language] = path
    return paths


def test_report_json_equals_the_engine_for_every_type(
    starters: dict[tuple[str, str], Path],
) -> None:
    for business_type in kpi_engine.BUSINESS_TYPES:
        path = starters[business_type, "en"]
        before = path.read_bytes()
        result = kpi("report", str(path), "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        _, period, values = compute(path)  # openpyxl reader, the starter's own
        assert period == dt.date(2024, 6, 1)
        assert (report["business_type"], report["language"], report["period"]) == (
            business_type,
            "en",
            "2024-06",
        )
        summary = report["kpis"]
        assert list(summary) == [v.kpi_id for v in values]
        for value in values:
            assert summary[value.kpi_id]["value"] == value.value, value.kpi_id
            assert summary[value.kpi_id]["band"] == value.band
        assert report["data_notes"] == []  # the sample data is clean
        assert path.read_bytes() == before  # kpi report writes nothing


def test_report_text_is_a_table_in_the_workbook_language(
    starters: dict[tuple[str, str], Path],
) -> None:
    result = kpi("report", str(starters["songwriting", "nl"]), "--period", "2024-05")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout  # piped: no colours
    lines = result.stdout.splitlines()
    profile = kpi_engine.BUSINESS_TYPES["songwriting"]
    assert lines[0] == f"KPI-rapport: {profile.title['nl']}, mei 2024"
    assert lines[1].split()[:2] == ["KPI", "Waarde"]
    report = make_report(starters["songwriting", "nl"], dt.date(2024, 5, 1))
    ratings = kpi_engine._labels.labels("nl")["ratings"]
    for entry, line in zip(profile.kpis, lines[2:], strict=False):
        assert line.startswith(entry.title["nl"])
        kpi_report = next(k for k in report.kpis if k.id == entry.id)
        if kpi_report.value is not None:
            # The value with its unit, as Dutch writes it, and the band in Dutch.
            assert display.format_value(kpi_report.value, entry.unit, "nl") in line
            assert ratings[kpi_report.band] in line
        assert line == line.rstrip()


def test_report_json_carries_what_programs_need(starters: dict[tuple[str, str], Path]) -> None:
    result = kpi("report", str(starters["celebrity_video", "fr"]), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["business_type"], report["language"], report["period"]) == (
        "celebrity_video",
        "fr",
        "2024-06",
    )
    assert report["currency"] == "USD"
    assert report["period_text"] == "juin 2024"
    for kpi_id, entry in report["kpis"].items():
        for key in ("value", "previous", "change", "target", "gap", "band", "target_met"):
            assert key in entry, (kpi_id, key)
        assert "margin" in entry
        assert "data_notes" in entry
        if entry["value"] is not None and entry["previous"] is not None:
            assert entry["change"] == pytest.approx(entry["value"] - entry["previous"])
        if entry["value"] is not None and entry["target"] is not None:
            assert entry["gap"] == pytest.approx(entry["value"] - entry["target"])
            # Met by the comparison of the band the target comes from (> for "more than 70").
            value, target = entry["value"], entry["target"]
            met = {
                ">": value > target,
                "≥": value >= target,
                "<": value < target,
                "≤": value <= target,
            }[entry["target_comparison"]]
            assert entry["target_met"] is met
            assert entry["target_comparison"] in entry["shown"]["target"]
    assert report["kpis"]["nps"]["margin"] is not None


@pytest.mark.parametrize(
    ("language", "sheet", "decimal"),
    [("en", "Report", "."), ("fr", "Rapport", ","), ("nl", "Rapport", ",")],
)
def test_refresh_writes_the_sheet_of_the_workbook_language(
    starters: dict[tuple[str, str], Path], tmp_path: Path, language: str, sheet: str, decimal: str
) -> None:
    out = tmp_path / f"refreshed_{language}.xlsx"
    result = kpi("refresh", str(starters["celebrity_video", language]), "-o", str(out))
    assert result.returncode == 0, result.stderr
    values = CalamineWorkbook.from_path(str(out)).get_sheet_by_name(sheet).to_python()
    _, _, expected = compute(starters["celebrity_video", language], language)
    rows = kpi_table(values, {value.kpi_id for value in expected})
    for value in expected:
        assert rows[value.kpi_id]["value"] == value.value
        assert rows[value.kpi_id]["kpi"] == value.title
    # The narrative writes the numbers as the language does: "23,4 %" in French.
    churn = next(v for v in expected if v.kpi_id == "completion_rate")
    assert churn.value is not None
    shown = f"{churn.value * 100:.1f}".replace(".", decimal)
    narrative = [
        row[1] for row in values if row and row[0] == churn.title and isinstance(row[1], str)
    ]
    assert re.search(re.escape(shown) + r"[\s\u00a0\u202f]?%", narrative[-1]), narrative


def test_refreshing_twice_gives_the_same_sheet(
    starters: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    refresh_file(starters["networking", "fr"], first, clock=lambda: FIXED_CLOCK)
    refresh_file(first, second, clock=lambda: FIXED_CLOCK)
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), name
    # With the real clock, the refresh time is the only cell that differs.
    third = tmp_path / "third.xlsx"
    refresh_file(second, third)
    sheet_a = CalamineWorkbook.from_path(str(second)).get_sheet_by_name("Rapport").to_python()
    sheet_b = CalamineWorkbook.from_path(str(third)).get_sheet_by_name("Rapport").to_python()
    differ = [
        (r, c)
        for r, (row_a, row_b) in enumerate(zip(sheet_a, sheet_b, strict=True))
        for c, (x, y) in enumerate(zip(row_a, row_b, strict=True))
        if x != y
    ]
    assert differ == [(2, 1)]
    assert sheet_a[2][1] == FIXED_CLOCK


def compute_for(path: Path, period: dt.date) -> tuple[str, dt.date, list[KPIValue]]:
    """The starter's own openpyxl reader and recipes, for another period."""
    business_type, _, rows = read_workbook(path)
    profile = kpi_engine.get_business_type(business_type)
    start = to_serial("test", "period", period)
    values = []
    for entry in profile.kpis:
        try:
            value: float | None = recipe_for(business_type, entry.id).compute(
                rows, start, month_shift(start, 1)
            )
            why = ""
        except kpi_engine.KPIUndefinedError as undefined:
            value, why = None, undefined.code
        values.append(KPIValue(entry.id, entry.title["en"], entry.unit, value, None, why))
    return business_type, period, values


def test_a_kpi_with_no_value_shows_a_dash_and_why(
    starters: dict[tuple[str, str], Path],
) -> None:
    # January 2022: customers already join (and stay), but the sample's
    # orders, answers and social media months start later.
    report = make_report(starters["songwriting", "en"], dt.date(2022, 1, 1))
    undefined = [k for k in report.kpis if k.value is None]
    defined = [k for k in report.kpis if k.value is not None]
    _, _, engine = compute_for(starters["songwriting", "en"], dt.date(2022, 1, 1))
    assert [k.id for k in undefined] == [v.kpi_id for v in engine if v.value is None]
    assert undefined  # the sample data completes no project that month
    assert [k.reason for k in undefined] == [v.why_undefined for v in engine if v.value is None]
    assert defined
    for kpi_report in undefined:
        # The reason is a code, worded in the report's language in the sentence.
        assert kpi_report.reason_text == reasons("en")[kpi_report.reason]
        assert kpi_report.reason_text in kpi_report.narrative
        assert kpi_report.target_met is None
    table = kpi_table(sheet_values(report), {k.id for k in report.kpis})
    for kpi_report in report.kpis:
        row = table[kpi_report.id]
        assert row["value"] == ("-" if kpi_report.value is None else kpi_report.value)


def test_a_target_without_a_value_shows_a_dash_not_no_target(tmp_path: Path) -> None:
    """A month without survey answers: the NPS has no value but a target, and
    says "-" where it would say whether the target is met, as the KPIs sheet
    does; "no target" is only for a KPI without one."""
    from click.testing import CliRunner  # noqa: PLC0415

    from addin.cli import main  # noqa: PLC0415
    from addin.report.offline import make_report  # noqa: PLC0415
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415
    from addin.starter.sample import sample_tables  # noqa: PLC0415
    from kpi_engine._labels import labels  # noqa: PLC0415

    as_of = dt.date(2024, 7, 15)
    data = sample_tables("celebrity_video", as_of=as_of)
    survey = data["Survey"]
    keep = [day < dt.date(2024, 6, 1) for day in survey["answered_on"]]
    data["Survey"] = {
        k: [v for v, kept in zip(col, keep, strict=True) if kept] for k, col in survey.items()
    }
    book = new_workbook(
        StarterOptions("celebrity_video", "en", as_of=as_of), tmp_path / "b.xlsx", data=data
    )
    report = make_report(book)
    (nps,) = [kpi for kpi in report.kpis if kpi.id == "nps"]
    assert nps.value is None
    assert nps.target is not None
    assert nps.target_status == "no_value"
    words = labels("en")["target_met"]
    assert words["no_value"] == "-"
    printed = CliRunner().invoke(main, ["report", str(book)]).stdout
    without_target = sum(1 for kpi in report.kpis if kpi.target is None)
    assert printed.count(words["no_target"]) == without_target, printed
    (line,) = [line for line in printed.splitlines() if line.startswith(nps.title)][:1]
    assert line.rstrip().endswith(" -"), line
