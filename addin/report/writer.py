"""Write a report sheet into a workbook package without touching anything else.

Only the report sheet's part is (re)written. What must change with it:

- a new report sheet adds its part, a ``<sheet>`` entry in ``xl/workbook.xml``,
  a relationship in ``xl/_rels/workbook.xml.rels`` and an override in
  ``[Content_Types].xml``;
- ``xl/styles.xml`` gains the number formats, fonts, fills and cell formats
  the report's cells need (``addin.ooxml.stylesheet``), appended after the
  existing ones unless it already has them, which is the case from the
  second refresh on;
- when an existing report sheet is replaced, ``xl/calcChain.xml`` loses the
  entries of its old formula cells (the report holds values only);
- the report's own drawing and charts (``charts``): the report sheet's
  relationships part, one ``kpiReport`` drawing and a chart per KPI, with
  their content types.

Every other part is copied as its original compressed bytes, so charts,
images, shapes, pivot tables, slicers, comments, validations, conditional
formats with their extension lists, defined names and VBA stay byte-identical.
The package is written by ``addin.ooxml.zipwriter`` (raw copies and new
entries) through ``addin.ooxml.atomic`` (a temporary file beside the target,
renamed when complete).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping

from addin.ooxml import xmltext
from addin.ooxml.cells import cell_xml
from addin.ooxml.names import MAIN, REL, WORKSHEET_CT, WORKSHEET_REL
from addin.ooxml.package import (
    Package,
    ReportError,
    SheetEntry,
    column_letter,
    parse_xml,
    rels_part,
)
from addin.ooxml.rewrite import CALC_CHAIN, calc_chain_without
from addin.ooxml.stylesheet import StylesheetError, add_cell_formats
from addin.report import charts
from addin.report.layout import SheetLayout, lay_out
from addin.report.model import Report, report_sheet_names

# --- the sheet part ------------------------------------------------------------------


def sheet_xml(
    layout: SheetLayout,
    styles: Mapping[tuple[str, str], int],
    drawing: bool = False,
    date1904: bool = False,
) -> bytes:
    """The report as a worksheet part: values only, inline strings, no formulas,
    each cell with its cell format (``styles``: by number format and style);
    columns, row heights and merged cells as the layout says; printed
    landscape, one page wide; with ``drawing``, the reference to its charts
    (see ``charts``); dates as serials of the workbook's date system
    (``date1904``: see ``addin.ooxml.dates``)."""
    rows = []
    width = 1
    for index, row in enumerate(layout.grid, start=1):
        cells = "".join(
            cell_xml(
                f"{column_letter(col)}{index}",
                cell.value,
                styles[cell.fmt, cell.style],
                date1904=date1904,
            )
            for col, cell in enumerate(row)
            if cell is not None
        )
        width = max(width, len(row))
        height = layout.heights.get(index)
        attributes = f' ht="{height:g}" customHeight="1"' if height is not None else ""
        if cells or attributes:
            rows.append(f'<row r="{index}"{attributes}>{cells}</row>')
    last = f"{column_letter(max(width, len(layout.widths)) - 1)}{len(layout.grid)}"
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
        for i, w in enumerate(layout.widths, start=1)
    )
    merges = "".join(
        f'<mergeCell ref="{column_letter(first)}{row}:{column_letter(last_col)}{row}"/>'
        for row, first, last_col in layout.merges
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"<cols>{cols}</cols>"
        f"<sheetData>{''.join(rows)}</sheetData>"
        + (f'<mergeCells count="{len(layout.merges)}">{merges}</mergeCells>' if merges else "")
        + '<pageMargins left="0.5" right="0.5" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        # Landscape, as wide as one page and as long as it takes.
        '<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
        + (f'<drawing r:id="{charts.SHEET_DRAWING_ID}"/>' if drawing else "")
        + "</worksheet>"
    )
    return xml.encode("utf-8")


# --- styles ------------------------------------------------------------------------


def add_styles(
    package: Package, data: bytes | None, layout: SheetLayout
) -> tuple[bytes | None, dict[tuple[str, str], int]]:
    """Cell formats for the layout's cells: those the workbook has, and the
    missing ones appended (``addin.ooxml.stylesheet``).

    Returns the new styles part (None when unchanged) and the index per
    (number format, style).
    """
    if data is None:
        raise ReportError(
            f"{package.path}: the workbook has no styles part (xl/styles.xml); "
            "open and save it in Excel once, then refresh"
        )
    parse_xml(data, "xl/styles.xml", package.path)  # well-formed and without entities
    wanted = [(cell.fmt, cell.style) for row in layout.grid for cell in row if cell is not None]
    try:
        text, found = add_cell_formats(package.text("xl/styles.xml"), wanted)
    except StylesheetError as error:
        raise ReportError(f"{package.path}: {error}; expected a workbook styles part") from None
    return (None if text is None else text.encode("utf-8")), found


# --- workbook parts when a sheet is added ---------------------------------------------


def _add_sheet_entry(text: str, name: str, sheet_id: int, rel_id: str) -> str:
    match = re.search(r"</((?:[A-Za-z_][\w.-]*:)?)sheets>", text)
    if match is None:
        raise ReportError("the workbook part has no <sheets> list")
    prefix = match.group(1)
    # Declare the relationships namespace on the entry itself: a declaration
    # found elsewhere in the file may be scoped to another element (openpyxl
    # with lxml declares it on each <sheet>), and a local one is always valid.
    rid = f'xmlns:r="{REL}" r:id="{rel_id}"'
    entry = f'<{prefix}sheet name="{xmltext.attribute(name)}" sheetId="{sheet_id}" {rid}/>'
    return text[: match.start()] + entry + text[match.start() :]


def _add_relationship(text: str, rel_id: str, target: str) -> str:
    match = re.search(r"</((?:[A-Za-z_][\w.-]*:)?)Relationships>", text)
    if match is None:
        raise ReportError("the workbook's relationships part has no <Relationships> element")
    prefix = match.group(1)
    entry = f'<{prefix}Relationship Id="{rel_id}" Type="{WORKSHEET_REL}" Target="{target}"/>'
    return text[: match.start()] + entry + text[match.start() :]


def _add_override(text: str, part: str, content_type: str = WORKSHEET_CT) -> str:
    match = re.search(r"</((?:[A-Za-z_][\w.-]*:)?)Types>", text)
    if match is None:
        raise ReportError("[Content_Types].xml has no <Types> element")
    prefix = match.group(1)
    if f'PartName="/{part}"' in text:
        return text
    entry = f'<{prefix}Override PartName="/{part}" ContentType="{content_type}"/>'
    return text[: match.start()] + entry + text[match.start() :]


# --- the package ------------------------------------------------------------------------


def report_sheet(package: Package, name: str) -> SheetEntry | None:
    """The report sheet already in the workbook: its name in any language."""
    for sheet in package.sheets:
        if sheet.name == name:
            return sheet
    names = report_sheet_names()
    for sheet in package.sheets:
        if sheet.name in names:
            return sheet
    return None


def plan_parts(package: Package, report: Report) -> tuple[dict[str, bytes], list[str]]:
    """The parts to replace or add: {part: new bytes}, and which of them are new."""
    names = set(package.zip.namelist())
    changed: dict[str, bytes] = {}
    layout = lay_out(report)
    styles_part = "xl/styles.xml"
    styles_data, styles = add_styles(
        package, package.read(styles_part) if styles_part in names else None, layout
    )
    if styles_data is not None:
        changed[styles_part] = styles_data
    # A workbook may count its dates from 1904; the report's dates must follow it.
    date1904 = package.date1904
    body = sheet_xml(layout, styles, drawing=True, date1904=date1904)
    existing = report_sheet(package, report.sheet_name)
    new: list[str] = []
    if existing is not None and existing.part in names:
        changed[existing.part] = body
        chain = calc_chain_without(package, existing.sheet_id)
        if chain is not None:
            changed[CALC_CHAIN] = chain
        new += _plan_charts(package, report, layout, existing.part, changed)
        return changed, new
    if existing is not None:
        raise ReportError(
            f"{package.path}: the sheet {existing.name!r} has no part in the package; "
            "the file looks damaged: open and save it in Excel, then refresh"
        )
    number = 1
    while f"xl/worksheets/sheet{number}.xml" in names:
        number += 1
    part = f"xl/worksheets/sheet{number}.xml"
    workbook_rels = rels_part(package.workbook_part)
    rels_text = package.text(workbook_rels)
    used_ids = set(re.findall(r'\bId="([^"]+)"', rels_text))
    rel_number = 1
    while f"rId{rel_number}" in used_ids:
        rel_number += 1
    rel_id = f"rId{rel_number}"
    sheet_id = max((sheet.sheet_id for sheet in package.sheets), default=0) + 1
    workbook_text = package.text(package.workbook_part)
    changed[package.workbook_part] = _add_sheet_entry(
        workbook_text, report.sheet_name, sheet_id, rel_id
    ).encode("utf-8")
    target = os.path.relpath(part, os.path.dirname(package.workbook_part)).replace(os.sep, "/")
    changed[workbook_rels] = _add_relationship(rels_text, rel_id, target).encode("utf-8")
    types = package.text("[Content_Types].xml")
    changed["[Content_Types].xml"] = _add_override(types, part).encode("utf-8")
    changed[part] = body
    new.append(part)
    new += _plan_charts(package, report, layout, part, changed)
    # The new parts must still parse: a final check before anything is written.
    for name in (package.workbook_part, workbook_rels, "[Content_Types].xml"):
        parse_xml(changed[name], name, package.path)
    return changed, new


def _plan_charts(
    package: Package,
    report: Report,
    layout: SheetLayout,
    sheet_part: str,
    changed: dict[str, bytes],
) -> list[str]:
    """Add or rewrite the report's drawing and charts; return the parts that are new.

    The report sheet's relationships part then holds the drawing only: the
    report sheet is the refresh's own, and so are its parts.
    """
    names = set(package.zip.namelist())
    sheet_rels = rels_part(sheet_part)
    drawing = _our_drawing(package, sheet_rels, names)
    chart_parts = [
        f"xl/charts/{posixpath.splitext(posixpath.basename(drawing))[0]}_{index + 1}.xml"
        for index in range(len(report.kpis))
    ]
    changed[sheet_rels] = charts.relationships(
        [(charts.SHEET_DRAWING_ID, charts.DRAWING_REL, _relative(drawing, sheet_part))]
    )
    changed[drawing] = charts.drawing_part(layout)
    changed[rels_part(drawing)] = charts.relationships(
        [
            (f"rId{index + 1}", charts.CHART_REL, _relative(chart, drawing))
            for index, chart in enumerate(chart_parts)
        ]
    )
    types = (
        changed["[Content_Types].xml"].decode("utf-8")
        if "[Content_Types].xml" in changed
        else package.text("[Content_Types].xml")
    )
    types = _add_override(types, drawing, charts.DRAWING_CT)
    for index, chart in enumerate(chart_parts):
        changed[chart] = charts.chart_part(report, layout, index)
        types = _add_override(types, chart, charts.CHART_CT)
    changed["[Content_Types].xml"] = types.encode("utf-8")
    for part in (sheet_rels, drawing, rels_part(drawing), *chart_parts, "[Content_Types].xml"):
        parse_xml(changed[part], part, package.path)
    return [
        part
        for part in (sheet_rels, drawing, rels_part(drawing), *chart_parts)
        if part not in names
    ]


def _our_drawing(package: Package, sheet_rels: str, names: set[str]) -> str:
    """The report's drawing part: the one a previous refresh made, or a free name.

    The report sheet's relationships are read only to find that drawing, and
    only a target that resolves to ``xl/drawings/kpiReport<N>.xml`` inside the
    package counts; whatever else they say is dropped when they are rebuilt.
    """
    if sheet_rels in names:
        for target in re.findall(
            r'Target="([^"]*kpiReport[^"]*)"', package.read(sheet_rels).decode("utf-8", "replace")
        ):
            part = posixpath.normpath(
                posixpath.join(posixpath.dirname(posixpath.dirname(sheet_rels)), target)
            )
            if _OUR_DRAWING.fullmatch(part) and part in names:
                return part
    number = 1
    while f"xl/drawings/kpiReport{number}.xml" in names:
        number += 1
    return f"xl/drawings/kpiReport{number}.xml"


_OUR_DRAWING = re.compile(r"xl/drawings/kpiReport[0-9]{1,6}\.xml")


def _relative(target: str, source: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(source))
