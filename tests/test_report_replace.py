"""`kpi refresh` on a workbook that already has a report sheet: its part is
replaced in place, the calculation chain loses that sheet's formula cells
(the report holds values), and nothing else changes."""

from __future__ import annotations

import datetime as dt
import subprocess
import zipfile
from pathlib import Path

from python_calamine import CalamineWorkbook

import kpi_engine
from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI
from tests.report_support import sheet_values

CALC_CHAIN_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"
CALC_CHAIN_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain"


def with_old_report(source: Path, target: Path) -> None:
    """The Trend sheet (formulas, sheetId 3) renamed Report, plus a calcChain
    listing cells of sheet 2 and sheet 3."""
    chain = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<c r="B6" i="2"/><c r="B7"/><c r="B4" i="3"/><c r="C4"/><c r="B8" i="2"/></calcChain>'
    )
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b'name="Trend"', b'name="Report"')
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    f'<Relationship Id="rId99" Type="{CALC_CHAIN_REL}" Target="calcChain.xml"/>'
                    "</Relationships>".encode(),
                )
            elif info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    f'<Override PartName="/xl/calcChain.xml" ContentType="{CALC_CHAIN_CT}"/></Types>'.encode(),
                )
            new.writestr(info, data)
        new.writestr("xl/calcChain.xml", chain)


CELEBRITY = kpi_engine.BUSINESS_TYPES["celebrity_video"]


def test_an_existing_report_sheet_is_replaced_in_place(tmp_path: Path) -> None:
    starter = tmp_path / "starter.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=dt.date(2024, 7, 15)), starter)
    path = tmp_path / "shop.xlsx"
    with_old_report(starter, path)
    with zipfile.ZipFile(path) as archive:
        before = {name: archive.read(name) for name in archive.namelist()}
    assert KPI
    result = subprocess.run(
        [KPI, "refresh", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(path) as archive:
        after = {name: archive.read(name) for name in archive.namelist()}
    # Nothing removed; what is added is the report's own drawing and charts.
    assert set(before) <= set(after)
    added = set(after) - set(before)
    assert added == {
        "xl/drawings/kpiReport1.xml",
        "xl/drawings/_rels/kpiReport1.xml.rels",
        # One chart per KPI of the type.
        *(f"xl/charts/kpiReport1_{n}.xml" for n in range(1, len(CELEBRITY.kpis) + 1)),
    }
    changed = {name for name in before if before[name] != after[name]}
    # The old report's relationships now point at the new charts only.
    assert changed == {
        "xl/worksheets/_rels/sheet3.xml.rels",
        "xl/worksheets/sheet3.xml",
        "xl/calcChain.xml",
        "xl/styles.xml",
        "[Content_Types].xml",
    }
    assert (
        after["xl/calcChain.xml"]
        .decode()
        .endswith(
            '<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<c r="B6" i="2"/><c r="B7"/><c r="B8" i="2"/></calcChain>'
        )
    )
    assert b"<f>" not in after["xl/worksheets/sheet3.xml"]
    values = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Report").to_python()
    expected = sheet_values(make_report(starter))
    assert [row[:2] for row in values[3:]] == [
        ["" if v is None else v for v in row[:2]] for row in expected[3:]
    ]
