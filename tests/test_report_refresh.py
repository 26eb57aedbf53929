"""`kpi refresh` on workbooks written by an independent writer (xlsxwriter):
every part it need not change stays byte-identical, the report equals the
engine, and LibreOffice opens and recalculates the result without errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

import kpi_engine
from addin.recipes import month_shift, recipe_for
from addin.report.model import nps_margin_for, reasons
from kpi_engine._inputs import to_serial
from tests.addin_support import KPI
from tests.conftest import ROOT
from tests.libreoffice import convert
from tests.report_support import add_tables, kpi_table, starter_rows, without_answers_in

BUSINESS_TYPE = "celebrity_video"
PERIOD = dt.date(2024, 6, 1)
AS_OF = dt.date(2024, 7, 15)
#: What a refresh that adds the report sheet may change, besides adding it.
MAY_CHANGE = {
    "xl/styles.xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "[Content_Types].xml",
}
ERRORS = ("#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#N/A", "#NUM!", "#NULL!", "Err:")


def vba_blob() -> bytes:
    """An opaque VBA project stand-in: an OLE header then deterministic bytes.

    The refresh must carry it over untouched whatever it holds."""
    body = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(512))
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + body


def build_workbook(path: Path, rows: dict[str, Any], vba: Path | None = None) -> None:
    """The data tables plus a chart, an image, a comment, a list validation, an
    icon set, a defined name and a sparkline group, written by xlsxwriter."""
    book = xlsxwriter.Workbook(str(path), {"default_date_format": "yyyy-mm-dd hh:mm"})
    book.set_properties({"subject": BUSINESS_TYPE, "title": "Shop KPIs"})
    if vba is not None:
        book.add_vba_project(str(vba))
    dashboard = book.add_worksheet("Dashboard")
    settings = book.add_worksheet("Settings")
    settings.write("A1", "Reporting period")
    settings.write_datetime(
        "B1", dt.datetime(2024, 6, 18), book.add_format({"num_format": "yyyy-mm"})
    )
    settings.write("A2", "NPS target")
    settings.write("B2", 45)
    book.define_name("PERIOD", "=Settings!$B$1")
    book.define_name("TARGET_NPS", "=Settings!$B$2")
    add_tables(book, BUSINESS_TYPE, rows)
    amounts = len(rows["Orders"]["amount"])
    book.define_name("Amounts", f"=Orders!$H$2:$H${amounts + 1}")
    chart = book.add_chart({"type": "line"})
    chart.add_series({"name": "Amount", "values": "=Orders!$H$2:$H$40"})
    dashboard.insert_chart("E2", chart)
    dashboard.insert_image(
        "E20", str(ROOT / "docs" / "pictures" / "kpis-en.png"), {"x_scale": 0.2, "y_scale": 0.2}
    )
    dashboard.write("A1", "Channel")
    dashboard.write_comment("A1", "Pick a channel from the list")
    dashboard.data_validation("A2", {"validate": "list", "source": ["web", "app", "store"]})
    dashboard.write("A2", "web")
    for row, value in enumerate([3, 7, 12, 5, 9], start=4):
        dashboard.write_number(row, 0, value)
        dashboard.write_number(row, 1, value * 2)
    dashboard.conditional_format("A5:A9", {"type": "icon_set", "icon_style": "3_arrows"})
    dashboard.add_sparkline("C5", {"range": "Dashboard!A5:B5", "type": "column"})
    dashboard.add_sparkline("C6", {"range": "Dashboard!A6:B6"})
    book.close()


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def engine_value(rows: dict[str, Any], kpi_id: str, month: dt.date) -> float | None:
    start = to_serial("test", "month", month)
    try:
        return recipe_for(BUSINESS_TYPE, kpi_id).compute(rows, start, month_shift(start, 1))
    except kpi_engine.KPIUndefinedError:
        return None


def report_rows(path: Path, sheet: str = "Report") -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def kpi_rows(values: list[list[Any]]) -> dict[str, dict[str, Any]]:
    return kpi_table(values, {entry.id for entry in kpi_engine.BUSINESS_TYPES[BUSINESS_TYPE].kpis})


def run_refresh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert KPI
    return subprocess.run(
        [KPI, "refresh", *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # The survey answers of the period dropped, so that the NPS is undefined there.
    return without_answers_in(
        starter_rows(BUSINESS_TYPE, AS_OF, tmp_path_factory.mktemp("rows")), PERIOD
    )


@pytest.fixture(scope="module")
def refreshed(
    tmp_path_factory: pytest.TempPathFactory, rows: dict[str, Any]
) -> dict[str, tuple[Path, Path]]:
    """Each kind of file before and after `kpi refresh`."""
    folder = tmp_path_factory.mktemp("refresh")
    vba = folder / "vbaProject.bin"
    vba.write_bytes(vba_blob())
    cases = {}
    for suffix in (".xlsx", ".xlsm"):
        source = folder / f"shop{suffix}"
        build_workbook(source, rows, vba if suffix == ".xlsm" else None)
        out = folder / f"shop_refreshed_{suffix[1:]}{suffix}"
        result = run_refresh(str(source), "-o", str(out))
        assert result.returncode == 0, result.stderr
        cases[suffix] = (source, out)
    return cases


def split_added(added: set[str]) -> tuple[str, set[str]]:
    """The new report sheet, and the parts of its own charts: nothing else may be added."""
    sheets = [p for p in added if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", p)]
    assert len(sheets) == 1, added
    sheet_part = sheets[0]
    family = added - {sheet_part}
    allowed = re.compile(
        r"xl/worksheets/_rels/sheet\d+\.xml\.rels|xl/drawings/(_rels/)?kpiReport\d+\.xml(\.rels)?"
        r"|xl/charts/kpiReport\d+_\d+\.xml"
    )
    assert all(allowed.fullmatch(p) for p in family), family
    assert rels_of(sheet_part) in family
    return sheet_part, family


def rels_of(part: str) -> str:
    folder, name = part.rsplit("/", 1)
    return f"{folder}/_rels/{name}.rels"


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_every_other_part_is_byte_identical(
    refreshed: dict[str, tuple[Path, Path]], suffix: str
) -> None:
    source, out = refreshed[suffix]
    before, after = parts(source), parts(out)
    _, chart_family = split_added(set(after) - set(before))
    assert len([p for p in chart_family if p.startswith("xl/charts/")]) == len(
        kpi_engine.BUSINESS_TYPES[BUSINESS_TYPE].kpis
    ), "one chart per KPI"
    assert set(before) <= set(after)
    changed = {name for name in before if before[name] != after[name]}
    assert changed <= MAY_CHANGE, changed
    # The features the refresh must keep are really there, and untouched.
    for kept in (
        "xl/charts/chart1.xml",
        "xl/media/image1.png",
        "xl/comments1.xml",
        "xl/drawings/drawing1.xml",
    ):
        assert kept in before
        assert before[kept] == after[kept]
    dashboard = before["xl/worksheets/sheet1.xml"].decode()
    for feature in ("<dataValidation ", "iconSet", "x14:sparklineGroup", "<extLst>"):
        assert feature in dashboard
    assert b'name="Amounts"' in after["xl/workbook.xml"]
    # The report's charts read the report's own trend table, one KPI each.
    report = "'Report'!"
    for chart in sorted(p for p in chart_family if p.startswith("xl/charts/")):
        assert report.encode() in after[chart]
    if suffix == ".xlsm":
        assert after["xl/vbaProject.bin"] == vba_blob()
        assert b"vbaProject" in after["[Content_Types].xml"]


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_changed_parts_only_gain_the_report_entries(
    refreshed: dict[str, tuple[Path, Path]], suffix: str
) -> None:
    source, out = refreshed[suffix]
    before, after = parts(source), parts(out)
    sheet_part, chart_family = split_added(set(after) - set(before))
    target = sheet_part.removeprefix("xl/")
    workbook = after["xl/workbook.xml"].decode()
    entry = re.search(
        r'<sheet name="Report" sheetId="\d+" xmlns:r="[^"]+" r:id="rId\d+"/>', workbook
    )
    assert entry
    assert workbook.replace(entry.group(0), "") == before["xl/workbook.xml"].decode()
    rels = after["xl/_rels/workbook.xml.rels"].decode()
    rel = re.search(rf'<Relationship Id="rId\d+" Type="[^"]+/worksheet" Target="{target}"/>', rels)
    assert rel
    assert rels.replace(rel.group(0), "") == before["xl/_rels/workbook.xml.rels"].decode()
    types = after["[Content_Types].xml"].decode()
    for part in (sheet_part, *[p for p in chart_family if "_rels" not in p]):
        override = re.search(
            rf'<Override PartName="/{re.escape(part)}" ContentType="[^"]+"/>', types
        )
        assert override, part
        types = types.replace(override.group(0), "")
    assert types == before["[Content_Types].xml"].decode()
    styles_before = before["xl/styles.xml"].decode()
    styles_after = after["xl/styles.xml"].decode()
    # Number formats, fonts, fills and cell formats only gain entries at the
    # end of their lists: existing indexes keep their meaning; nothing else changes.
    outside_before, outside_after = styles_before, styles_after
    for tag in ("numFmts", "fonts", "fills", "cellXfs"):
        old_list, new_list = style_list(styles_before, tag), style_list(styles_after, tag)
        assert new_list.startswith(old_list), tag
        outside_before = without_list(outside_before, tag)
        outside_after = without_list(outside_after, tag)
    assert outside_after == outside_before


def style_list(styles: str, tag: str) -> str:
    """The entries of one list of a styles part (empty when it has none)."""
    found = re.search(rf"<{tag}\b[^>]*?(?:/>|>(.*?)</{tag}>)", styles, re.S)
    return "" if found is None else found.group(1) or ""


def without_list(styles: str, tag: str) -> str:
    return re.sub(rf"<{tag}\b[^>]*?(?:/>|>.*?</{tag}>)", "", styles, flags=re.S)


def test_report_values_equal_the_engine(
    refreshed: dict[str, tuple[Path, Path]], rows: dict[str, Any]
) -> None:
    _, out = refreshed[".xlsx"]
    values = report_rows(out)
    by_id = kpi_rows(values)
    profile = kpi_engine.BUSINESS_TYPES[BUSINESS_TYPE]
    assert set(by_id) == {entry.id for entry in profile.kpis}
    previous_month = dt.date(2024, 5, 1)
    for entry in profile.kpis:
        row = by_id[entry.id]
        expected = engine_value(rows, entry.id, PERIOD)
        before = engine_value(rows, entry.id, previous_month)
        assert row["value"] == ("-" if expected is None else expected), entry.id
        assert row["previous"] == ("-" if before is None else before), entry.id
        if expected is not None:
            assert (
                row["band"]
                == kpi_engine._labels.labels("en")["ratings"][
                    kpi_engine.benchmark_band(entry.id, expected, BUSINESS_TYPE)
                ]
            )
    # The NPS is undefined for the period (no answers): a dash, and the reason
    # in words (no English engine message).
    assert by_id["nps"]["value"] == "-"
    start = to_serial("test", "month", PERIOD)
    with pytest.raises(kpi_engine.KPIUndefinedError) as undefined:
        recipe_for(BUSINESS_TYPE, "nps").compute(rows, start, month_shift(start, 1))
    title = by_id["nps"]["kpi"]
    narrative = [row for row in values if row and row[0] == title and row[1] != "-"]
    assert reasons("en")[undefined.value.code] in narrative[-1][1]
    assert by_id["nps"]["target"] == 45  # the TARGET_NPS named cell
    assert by_id["nps"]["target_met"] == "-"  # a target, but no value to hold to it
    # Twelve trend months ending with the period, each value the engine's; a
    # month without a value is a blank cell.
    month_row = next(i for i, row in enumerate(values) if row and row[0] == "Month")
    header = values[month_row]
    for offset, row in enumerate(values[month_row + 1 : month_row + 13]):
        month = dt.date(2023 + (6 + offset) // 12, (6 + offset) % 12 + 1, 1)
        assert row[0].date() == month if isinstance(row[0], dt.datetime) else row[0] == month
        for entry, cell in zip(profile.kpis, row[1:], strict=False):
            assert header[1 + profile.kpis.index(entry)] == entry.title["en"]
            expected = engine_value(rows, entry.id, month)
            assert cell == ("" if expected is None else expected), (entry.id, month)


def test_nps_margin_is_the_engine_margin(tmp_path: Path) -> None:
    rows = starter_rows(BUSINESS_TYPE, AS_OF, tmp_path)
    source = tmp_path / "with_survey.xlsx"
    build_workbook(source, rows)
    result = run_refresh(str(source))
    assert result.returncode == 0, result.stderr
    row = kpi_rows(report_rows(source))["nps"]
    start = to_serial("test", "month", PERIOD)
    answered = [
        score
        for day, score in zip(
            rows["Survey"]["answered_on"], rows["Survey"]["recommend_score"], strict=True
        )
        if start <= to_serial("test", "day", day) < month_shift(start, 1) and score is not None
    ]
    assert answered
    assert row["margin"] == kpi_engine.nps_margin(answered)
    assert nps_margin_for(rows, PERIOD) == row["margin"]


@pytest.mark.filterwarnings("ignore:Sparkline Group extension:UserWarning")  # openpyxl reading
@pytest.mark.libreoffice
def test_libreoffice_recalculates_the_result_without_errors(
    refreshed: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    outs = [refreshed[".xlsx"][1], refreshed[".xlsm"][1]]
    converted = convert(outs, tmp_path)
    expected = kpi_rows(report_rows(outs[0]))
    assert len(set(converted)) == 2
    for path in converted:
        book = load_workbook(path, data_only=True)
        assert "Report" in book.sheetnames
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                for value in row:
                    assert not (isinstance(value, str) and value.startswith(ERRORS)), (
                        path.name,
                        sheet.title,
                        value,
                    )
        report = book["Report"]
        got = kpi_table([list(row) for row in report.iter_rows(values_only=True)], set(expected))
        for kpi_id, row in expected.items():
            if row["value"] == "-":
                assert got[kpi_id]["value"] == "-"
            else:  # LibreOffice keeps 15 significant digits
                assert got[kpi_id]["value"] == pytest.approx(row["value"], rel=1e-13)
