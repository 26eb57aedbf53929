"""Formulas in a starter workbook are stored exactly as XlsxWriter stores them.

XlsxWriter's own test suite compares its output, part by part, with files
saved by Excel (its comparison corpus, for dynamic arrays dynamic_array01 to
03.xlsx). Every formula cell of every starter workbook is written again with
XlsxWriter, at the same place, from the formula as Excel shows it (our
``_xlfn.`` prefixes taken off again; ``_xlpm.`` names kept, which XlsxWriter
asks its user to write), as a dynamic-array formula where ours is an array
formula: the stored text, the cell's ``cm`` attribute and the formula's
``t``/``ref`` attributes must be the same, and so must the metadata part that
``cm="1"`` points at.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from lxml import etree

import kpi_engine
from addin.starter import StarterOptions, new_workbook

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CASES = [(t, lang) for t in kpi_engine.BUSINESS_TYPES for lang in kpi_engine.LANGUAGES]


def formula_cells(path: Path) -> dict[tuple[int, str], dict[str, Any]]:
    """Per (sheet number, cell): the stored formula and its markup."""
    cells: dict[tuple[int, str], dict[str, Any]] = {}
    with zipfile.ZipFile(path) as package:
        sheets = sorted(
            (n for n in package.namelist() if n.startswith("xl/worksheets/sheet")),
            key=lambda n: int(n.removeprefix("xl/worksheets/sheet").removesuffix(".xml")),
        )
        for number, part in enumerate(sheets):
            root = etree.fromstring(package.read(part))
            for cell in root.iter(f"{MAIN}c"):
                formula = cell.find(f"{MAIN}f")
                if formula is None:
                    continue
                cells[number, cell.get("r")] = {
                    "text": formula.text,
                    "f": dict(formula.attrib),
                    "cm": cell.get("cm"),
                }
    return cells


def shown(stored: str) -> str:
    """The formula as Excel shows it, but for the _xlpm. names XlsxWriter wants."""
    return "=" + stored.replace("_xlfn._xlws.", "").replace("_xlfn.", "")


def rewrite_with_xlsxwriter(cells: dict[tuple[int, str], dict[str, Any]], target: Path) -> None:
    book = xlsxwriter.Workbook(str(target), {"use_future_functions": True})
    sheets = [book.add_worksheet() for _ in range(1 + max(number for number, _ in cells))]
    for (number, ref), cell in cells.items():
        formula = shown(cell["text"])
        if cell["f"].get("t") == "array":
            # Its range: the cell, or the cells its values spill into (a
            # Trend column's twelve months), as Excel saves a spilled formula.
            first, _, last = cell["f"]["ref"].partition(":")
            sheets[number].write_dynamic_array_formula(f"{first}:{last or first}", formula)
        else:
            sheets[number].write_formula(ref, formula)
    book.close()


def parts(path: Path, *names: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in names}


def canonical(xml: bytes) -> bytes:
    return etree.tostring(etree.fromstring(xml), method="c14n")


@pytest.mark.parametrize(
    ("business_type", "language"), CASES, ids=[f"{kind}_{language}" for kind, language in CASES]
)
def test_every_formula_is_stored_as_xlsxwriter_stores_it(
    tmp_path: Path, business_type: str, language: str
) -> None:
    ours = new_workbook(
        StarterOptions(business_type, language, as_of=dt.date(2024, 7, 15)), tmp_path / "ours.xlsx"
    )
    cells = formula_cells(ours)
    assert any(c["cm"] == "1" for c in cells.values()), "the KPI formulas are dynamic arrays"
    theirs = tmp_path / "xlsxwriter.xlsx"
    rewrite_with_xlsxwriter(cells, theirs)
    assert formula_cells(theirs) == cells

    names = ("xl/metadata.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels")
    mine, reference = parts(ours, *names), parts(theirs, *names)
    assert canonical(mine["xl/metadata.xml"]) == canonical(reference["xl/metadata.xml"])
    metadata_type = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"
    for found in (mine, reference):
        assert (
            b'PartName="/xl/metadata.xml" ContentType="' + metadata_type
            in found["[Content_Types].xml"]
        )
        assert (
            b'relationships/sheetMetadata" Target="metadata.xml"'
            in found["xl/_rels/workbook.xml.rels"]
        )


def test_array_formulas_and_only_they_point_at_the_dynamic_array_metadata(
    tmp_path: Path,
) -> None:
    path = new_workbook(
        StarterOptions("networking", as_of=dt.date(2024, 7, 15)), tmp_path / "w.xlsx"
    )
    for cell in formula_cells(path).values():
        assert (cell["cm"] == "1") == (cell["f"].get("t") == "array"), cell
        if cell["cm"]:
            assert "[" in cell["text"], "an array formula works on a table's columns"


def _elements(element: Any) -> list[tuple[str, dict[str, str]]]:
    """An element and its descendants as (namespaced tag, attributes), prefixes aside."""
    return [(e.tag, dict(e.attrib)) for e in element.iter()]


def test_trend_charts_show_na_as_a_gap_as_xlsxwriter_writes_it(tmp_path: Path) -> None:
    chart_ns = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
    reference = tmp_path / "xlsxwriter.xlsx"
    book = xlsxwriter.Workbook(str(reference))
    sheet = book.add_worksheet()
    sheet.write_column("A1", [1, 2, 3])
    chart = book.add_chart({"type": "line"})
    chart.add_series({"values": "=Sheet1!$A$1:$A$3", "smooth": False})
    chart.show_na_as_empty_cell()
    sheet.insert_chart("C1", chart)
    book.close()
    theirs = etree.fromstring(parts(reference, "xl/charts/chart1.xml")["xl/charts/chart1.xml"])
    ours_path = new_workbook(
        StarterOptions("songwriting", as_of=dt.date(2024, 7, 15)), tmp_path / "ours.xlsx"
    )
    with zipfile.ZipFile(ours_path) as package:
        charts = [n for n in package.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == len(kpi_engine.BUSINESS_TYPES["songwriting"].kpis)
        for name in charts:
            ours = etree.fromstring(package.read(name))
            mine = ours.find(f"{chart_ns}chart/{chart_ns}extLst")
            reference_element = theirs.find(f"{chart_ns}chart/{chart_ns}extLst")
            assert mine is not None, name
            assert _elements(mine) == _elements(reference_element), name
            # Empty cells as gaps, hidden cells plotted: XlsxWriter leaves
            # these unwritten where they are Excel's defaults.
            blanks = ours.find(f"{chart_ns}chart/{chart_ns}dispBlanksAs")
            assert blanks is not None, name
            assert blanks.get("val") == "gap", name
            hidden = ours.find(f"{chart_ns}chart/{chart_ns}plotVisOnly")
            assert hidden is not None, name
            assert hidden.get("val") == "0", name
            smooth = ours.findall(f".//{chart_ns}ser/{chart_ns}smooth")
            assert [s.get("val") for s in smooth] == ["0"], name
