"""The report's charts: one line chart per KPI over the report's trend table.

The charts read the twelve months that the report sheet itself holds, so
they show what the last refresh wrote. Their parts carry a ``kpiReport``
name, which keeps them apart from the user's own drawings and charts; a
second refresh rewrites the same parts, so refreshing twice gives the same
file.
"""

from __future__ import annotations

from dataclasses import dataclass

# CHART_CT, CHART_REL, DRAWING_CT and DRAWING_REL are imported for the writer,
# whose chart planning names them through this module (charts.CHART_CT...).
from addin.ooxml.names import (  # noqa: F401
    CHART,
    CHART_CT,
    CHART_REL,
    DRAWING_CT,
    DRAWING_MAIN,
    DRAWING_REL,
    PKG_REL,
    REL,
    SPREADSHEET_DRAWING,
)
from addin.report.model import Report
from addin.report.package import column_letter

#: The id of the drawing in the report sheet's own relationships part.
SHEET_DRAWING_ID = "rIdKpiReportDrawing"
#: Excel number formats of the chart axes, by KPI unit.
_AXIS_FORMATS = {"fraction": "0%", "count": "#,##0", "currency": "#,##0"}
_CHART_COLUMNS, _CHART_ROWS = 6, 15


@dataclass(frozen=True)
class TrendLayout:
    """Where the charts' data sits on the report sheet (1-based rows): the
    copy of the trend table to its right, blank where the table shows a dash."""

    first_month_row: int
    last_month_row: int
    columns: tuple[str, ...]


def trend_layout(report: Report) -> TrendLayout:
    """Find the charts' data in the report's grid: the twelve month rows."""
    month_rows = [
        index
        for index, row in enumerate(report.grid, start=1)
        if row and row[0] is not None and row[0].fmt == "month" and index > 3
    ]
    first, last = month_rows[0], month_rows[-1]
    count = len(report.kpis)
    # Month, the KPIs, a blank column, then the charts' copy (0-based columns).
    columns = tuple(column_letter(count + 2 + index) for index in range(count))
    return TrendLayout(first, last, columns)


def _quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def chart_part(report: Report, index: int, layout: TrendLayout) -> bytes:
    # openpyxl serialises the chart; imported here so that the Excel path
    # (which only needs trend_layout) runs where openpyxl is not installed.
    from openpyxl.chart import LineChart, Reference, Series  # noqa: PLC0415
    from openpyxl.xml.functions import tostring  # noqa: PLC0415

    kpi = report.kpis[index]
    sheet = _quoted(report.sheet_name)
    column = layout.columns[index]
    values = f"{sheet}!${column}${layout.first_month_row}:${column}${layout.last_month_row}"
    months = f"{sheet}!$A${layout.first_month_row}:$A${layout.last_month_row}"
    chart = LineChart()
    chart.title = kpi.title
    chart.legend = None
    chart.display_blanks = "gap"  # a month without a value is a gap, not a zero
    series = Series(Reference(range_string=values), title=kpi.title)
    series.smooth = False  # monthly figures: straight lines, no invented curves
    chart.series.append(series)
    chart.set_categories(Reference(range_string=months))
    chart.x_axis.number_format = "mmm yyyy"
    chart.y_axis.number_format = _AXIS_FORMATS.get(kpi.unit, "0.0")
    # openpyxl leaves the axes' 'delete' flag unset, which some readers take as hidden.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + tostring(chart._write())


def drawing_part(count: int, first_row: int) -> bytes:
    """One anchored frame per chart, two charts side by side, below the report."""
    anchors = []
    for index in range(count):
        column = (index % 2) * _CHART_COLUMNS
        row = first_row + (index // 2) * _CHART_ROWS
        anchors.append(
            "<xdr:twoCellAnchor>"
            f"<xdr:from><xdr:col>{column}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            f"<xdr:to><xdr:col>{column + _CHART_COLUMNS}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{row + _CHART_ROWS - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            '<xdr:graphicFrame macro="">'
            f'<xdr:nvGraphicFramePr><xdr:cNvPr id="{index + 2}" name="KPI chart {index + 1}"/>'
            "<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>"
            '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            f'<a:graphic><a:graphicData uri="{CHART}">'
            f'<c:chart xmlns:c="{CHART}" xmlns:r="{REL}" r:id="rId{index + 1}"/>'
            "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/>"
            "</xdr:twoCellAnchor>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<xdr:wsDr xmlns:xdr="{SPREADSHEET_DRAWING}" xmlns:a="{DRAWING_MAIN}">'
        f"{''.join(anchors)}</xdr:wsDr>"
    ).encode()


def relationships(targets: list[tuple[str, str, str]]) -> bytes:
    """A relationships part: (id, type, target) per relationship."""
    entries = "".join(
        f'<Relationship Id="{rel_id}" Type="{rel_type}" Target="{target}"/>'
        for rel_id, rel_type, target in targets
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{PKG_REL}">{entries}</Relationships>'
    ).encode()
