"""The names of Office Open XML: namespaces, content types, relationship types.

A package is held together by these strings: a part is found through its
relationship type, opened through its content type and read through its
namespaces, and a single wrong letter makes Excel repair or refuse the file.
They were string literals repeated in several modules; here each is written
once (values from ECMA-376 and, for the Office 2017 extensions, from what
Excel writes), and the readers and writers of ``addin`` import them.

The names follow the prefixes Excel gives the namespaces in its own files
(``MAIN`` for the default spreadsheet namespace, ``REL`` for ``r:``), so a
constant reads like the markup it goes into.
"""

from __future__ import annotations

# --- namespaces ---------------------------------------------------------------------

#: SpreadsheetML, the default namespace of the workbook, sheet and styles parts.
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#: The ``r:`` namespace (``r:id`` attributes), also the stem of relationship types.
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#: The namespace of a ``.rels`` part (``<Relationships>``).
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
#: The namespace of ``[Content_Types].xml`` (``<Types>``).
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
#: DrawingML: the ``a:``, ``xdr:`` and ``c:`` namespaces of drawings and charts.
DRAWING_MAIN = "http://schemas.openxmlformats.org/drawingml/2006/main"
SPREADSHEET_DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"
#: Office 2017's chart extensions (``c16r3:``): "show #N/A as an empty cell".
CHART_2017 = "http://schemas.microsoft.com/office/drawing/2017/03/chart"
#: Office 2017's dynamic-array properties (``xda:``) in ``xl/metadata.xml``.
DYNAMIC_ARRAY = "http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray"
#: Dublin Core, the ``dc:`` namespace of ``docProps/core.xml``.
DUBLIN_CORE = "http://purl.org/dc/elements/1.1/"

# --- relationship types -------------------------------------------------------------

WORKSHEET_REL = REL + "/worksheet"
TABLE_REL = REL + "/table"
DRAWING_REL = REL + "/drawing"
CHART_REL = REL + "/chart"
SHEET_METADATA_REL = REL + "/sheetMetadata"

# --- content types --------------------------------------------------------------------

_OFFICE = "application/vnd.openxmlformats-officedocument."
WORKSHEET_CT = _OFFICE + "spreadsheetml.worksheet+xml"
SHEET_METADATA_CT = _OFFICE + "spreadsheetml.sheetMetadata+xml"
DRAWING_CT = _OFFICE + "drawing+xml"
CHART_CT = _OFFICE + "drawingml.chart+xml"
