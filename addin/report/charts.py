"""The report's charts: one line chart per KPI over the report's trend table.

The charts read the twelve months that the report sheet itself holds, so
they show what the last refresh wrote; a month without a value is a blank
cell there, which a line chart leaves as a gap. Their parts carry a
``kpiReport`` name, which keeps them apart from the user's own drawings and
charts; a second refresh rewrites the same parts, so refreshing twice gives
the same file. Where each chart goes is the layout's (``addin.report.layout``).
"""

from __future__ import annotations

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
from addin.report.layout import EMU_PER_PIXEL, ChartPlace, SheetLayout
from addin.report.model import Report
from kpi_engine import display

#: The id of the drawing in the report sheet's own relationships part.
SHEET_DRAWING_ID = "rIdKpiReportDrawing"


def _quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def series_range(layout: SheetLayout, index: int) -> str:
    """The cells of one KPI's chart, its title first (A1 style, absolute)."""
    column = layout.trend.columns[index]
    return f"${column}${layout.trend.header_row}:${column}${layout.trend.last_month_row}"


def chart_part(report: Report, layout: SheetLayout, index: int) -> bytes:
    # openpyxl serialises the chart; imported here so that the Excel path
    # (which only needs the layout) runs where openpyxl is not installed.
    from openpyxl.chart import LineChart, Reference, Series  # noqa: PLC0415
    from openpyxl.xml.functions import tostring  # noqa: PLC0415

    from addin.ooxml.charts import chart_title  # noqa: PLC0415

    kpi = report.kpis[index]
    sheet = _quoted(report.sheet_name)
    column = layout.trend.columns[index]
    trend = layout.trend
    values = f"{sheet}!${column}${trend.first_month_row}:${column}${trend.last_month_row}"
    months = f"{sheet}!$A${trend.first_month_row}:$A${trend.last_month_row}"
    chart = LineChart()
    chart.title = chart_title(kpi.title)
    chart.legend = None
    chart.display_blanks = "gap"  # a month without a value is a gap, not a zero
    series = Series(Reference(range_string=values), title=kpi.title)
    series.smooth = False  # monthly figures: straight lines, no invented curves
    chart.series.append(series)
    chart.set_categories(Reference(range_string=months))
    chart.x_axis.number_format = display.excel_date_format("short_month", report.language)
    # Month labels below the plot, also where values fall below zero (an NPS).
    chart.x_axis.tickLblPos = "low"
    chart.y_axis.number_format = display.excel_format(kpi.unit, report.language, report.currency)
    # openpyxl leaves the axes' 'delete' flag unset, which some readers take as hidden.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + tostring(chart._write())


def _anchor(index: int, place: ChartPlace) -> str:
    return (
        "<xdr:oneCellAnchor>"
        f"<xdr:from><xdr:col>{place.column}</xdr:col>"
        f"<xdr:colOff>{place.column_offset * EMU_PER_PIXEL}</xdr:colOff>"
        f"<xdr:row>{place.row}</xdr:row>"
        f"<xdr:rowOff>{place.row_offset * EMU_PER_PIXEL}</xdr:rowOff></xdr:from>"
        f'<xdr:ext cx="{place.width * EMU_PER_PIXEL}" cy="{place.height * EMU_PER_PIXEL}"/>'
        '<xdr:graphicFrame macro="">'
        f'<xdr:nvGraphicFramePr><xdr:cNvPr id="{index + 2}" name="KPI chart {index + 1}"/>'
        "<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>"
        '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
        f'<a:graphic><a:graphicData uri="{CHART}">'
        f'<c:chart xmlns:c="{CHART}" xmlns:r="{REL}" r:id="rId{index + 1}"/>'
        "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/>"
        "</xdr:oneCellAnchor>"
    )


def drawing_part(layout: SheetLayout) -> bytes:
    """One frame of a fixed size per chart, placed as the layout says."""
    anchors = "".join(_anchor(index, place) for index, place in enumerate(layout.charts))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<xdr:wsDr xmlns:xdr="{SPREADSHEET_DRAWING}" xmlns:a="{DRAWING_MAIN}">'
        f"{anchors}</xdr:wsDr>"
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
