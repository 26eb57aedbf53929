"""Cell XML for the data rows that the starter streams into its sheets."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from xml.sax.saxutils import escape

from kpi_engine._cells import ERROR_VALUES, serial_of

#: Characters XML 1.0 cannot hold; a pasted control character must not break the file.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ExcelError(str):
    """An Excel error value (``#N/A``...) to write into a cell as an error,
    where a plain string would be written as text."""

    def __new__(cls, value: str) -> ExcelError:
        if value not in ERROR_VALUES:
            raise ValueError(f"{value!r} is not an Excel error value")
        return super().__new__(cls, value)


def cell_xml(ref: str, value: Any, date_style: int | None) -> str:
    """One ``<c>`` element: text is always an inline string, never a formula."""
    if isinstance(value, ExcelError):
        return f'<c r="{ref}" t="e"><v>{escape(value)}</v></c>'
    if isinstance(value, str):
        text = escape(_XML_ILLEGAL.sub("", value))
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.date):
        style = "" if date_style is None else f' s="{date_style}"'
        return f'<c r="{ref}"{style}><v>{serial_of(value)!r}</v></c>'
    return f'<c r="{ref}"><v>{value!r}</v></c>'
