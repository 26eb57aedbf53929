"""Chart parts written by openpyxl, finished with what it cannot say.

A month without a value is plotted from ``#N/A`` (``NA()``): a line chart
skips such a point, and with the display option below Excel 365 leaves a gap
there instead of drawing a line across it (the chart's "Show #N/A as an
empty cell" setting, with empty cells shown as gaps). openpyxl has no
property for that option, so it is added to the chart part here, as
XlsxWriter's ``show_na_as_empty_cell`` writes it.
"""

from __future__ import annotations

#: The extension that carries "show #N/A as an empty cell" (Office 2017 charts).
NA_AS_EMPTY_EXTENSION = (
    b'<c:extLst><c:ext uri="{56B9EC1D-385E-4148-901F-78D8002777C0}" '
    b'xmlns:c16r3="http://schemas.microsoft.com/office/drawing/2017/03/chart">'
    b'<c16r3:dataDisplayOptions16><c16r3:dispNaAsBlank val="1"/>'
    b"</c16r3:dataDisplayOptions16></c:ext></c:extLst>"
)


def with_na_as_gap(chart_xml: bytes) -> bytes:
    """The chart part with #N/A shown as an empty cell, at the end of <c:chart>."""
    if b"dispNaAsBlank" in chart_xml or b"</c:chart>" not in chart_xml:
        return chart_xml
    return chart_xml.replace(b"</c:chart>", NA_AS_EMPTY_EXTENSION + b"</c:chart>", 1)
