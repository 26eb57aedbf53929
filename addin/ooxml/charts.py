"""Chart parts written by openpyxl, finished with what it cannot say.

A month without a value is plotted from ``#N/A`` (``NA()``): with the
display option below, Excel 365 shows ``#N/A`` as an empty cell, which the
chart (empty cells shown as gaps) leaves as a gap rather than drawing a line
across it. openpyxl has no property for that option, so it is added to the
chart part here, as XlsxWriter's ``show_na_as_empty_cell`` writes it (a test
compares the two). LibreOffice ignores the option and plots ``#N/A`` as zero.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from addin.ooxml.names import CHART as CHART_NAMESPACE
from addin.ooxml.names import CHART_2017 as C16R3_NAMESPACE

#: The Office 2017 chart extension that holds "show #N/A as empty".
NA_AS_EMPTY_URI = "{56B9EC1D-385E-4148-901F-78D8002777C0}"


def with_na_as_gap(chart_xml: bytes) -> bytes:
    """The chart part with #N/A shown as an empty cell: an extension list at
    the end of its <c:chart> element, whatever prefix the part gives it."""
    root = etree.fromstring(chart_xml)
    chart = root.find(f"{{{CHART_NAMESPACE}}}chart")
    if chart is None or b"dispNaAsBlank" in chart_xml:
        return chart_xml
    extensions = etree.SubElement(chart, f"{{{CHART_NAMESPACE}}}extLst")
    extension = etree.SubElement(
        extensions,
        f"{{{CHART_NAMESPACE}}}ext",
        {"uri": NA_AS_EMPTY_URI},
        nsmap={"c16r3": C16R3_NAMESPACE},
    )
    options = etree.SubElement(extension, f"{{{C16R3_NAMESPACE}}}dataDisplayOptions16")
    etree.SubElement(options, f"{{{C16R3_NAMESPACE}}}dispNaAsBlank", {"val": "1"})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def chart_title(text: str) -> Any:
    """An openpyxl chart title in 12-point bold: the default 18 points crowds
    a small chart."""
    from openpyxl.chart.text import RichText, Text  # noqa: PLC0415
    from openpyxl.chart.title import Title  # noqa: PLC0415
    from openpyxl.drawing.text import (  # noqa: PLC0415
        CharacterProperties,
        Paragraph,
        ParagraphProperties,
        RegularTextRun,
    )

    font = CharacterProperties(sz=1200, b=True)
    paragraph = Paragraph(
        pPr=ParagraphProperties(defRPr=font), r=[RegularTextRun(rPr=font, t=text)]
    )
    return Title(tx=Text(rich=RichText(p=[paragraph])), overlay=False)
