"""Dynamic-array formulas in a package written by openpyxl.

Excel 365 and 2021 store a formula that works on whole arrays (FILTER,
UNIQUE, a comparison of a column with a date) as a one-cell array formula
``<f t="array" ref="B6">`` whose cell carries ``cm="1"``: a pointer to the
XLDAPR entry of ``xl/metadata.xml``, which says "dynamic array". Without it,
Excel reads the formula as a legacy one: it adds the implicit-intersection
``@`` and computes one row instead of the column. openpyxl writes the array
formula but neither the ``cm`` attribute nor the metadata part, so the
starter's save adds both here, as XlsxWriter's ``write_dynamic_array_formula``
writes them (a test compares the two).
"""

from __future__ import annotations

import re

from addin.ooxml.names import DYNAMIC_ARRAY, MAIN, SHEET_METADATA_CT, SHEET_METADATA_REL

METADATA_PART = "xl/metadata.xml"
METADATA_CONTENT_TYPE = SHEET_METADATA_CT
METADATA_RELATIONSHIP = SHEET_METADATA_REL

#: The metadata part Excel writes for dynamic arrays: one cell metadata
#: record (``cm="1"``) whose future metadata says the formula is dynamic.
METADATA_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    + f'<metadata xmlns="{MAIN}" xmlns:xda="{DYNAMIC_ARRAY}">'.encode()
    + b'<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" '
    b'copy="1" pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" '
    b'clearFormats="1" clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
    b'<futureMetadata name="XLDAPR" count="1"><bk><extLst>'
    b'<ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}">'
    b'<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    b'</futureMetadata><cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata>'
    b"</metadata>"
)

# openpyxl writes a cell as <c r=".." s=".." t=".."> and its array formula
# as the first child, <f t="array" ref="..">.
_ARRAY_CELL = re.compile(rb'<c ((?:(?! cm=)[^>])*)><f t="array"')


def mark_dynamic_arrays(sheet_xml: bytes) -> tuple[bytes, int]:
    """Mark every array-formula cell of a sheet as a dynamic array; return the
    new part and how many cells were marked."""
    return _ARRAY_CELL.subn(rb'<c \1 cm="1"><f t="array"', sheet_xml)


def with_metadata_content_type(content_types: bytes) -> bytes:
    override = (
        f'<Override PartName="/{METADATA_PART}" ContentType="{METADATA_CONTENT_TYPE}"/>'
    ).encode()
    if override in content_types:
        return content_types
    return content_types.replace(b"</Types>", override + b"</Types>", 1)


def with_metadata_relationship(workbook_rels: bytes) -> bytes:
    if METADATA_RELATIONSHIP.encode() in workbook_rels:
        return workbook_rels
    taken = {int(n) for n in re.findall(rb'Id="rId(\d+)"', workbook_rels)}
    free = max(taken, default=0) + 1
    relationship = (
        f'<Relationship Id="rId{free}" Type="{METADATA_RELATIONSHIP}" Target="metadata.xml"/>'
    ).encode()
    return workbook_rels.replace(b"</Relationships>", relationship + b"</Relationships>", 1)
