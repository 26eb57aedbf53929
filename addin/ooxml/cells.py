"""Cell XML for the data rows that the starter streams into its sheets.

Text goes through ``xmltext``: characters XML cannot hold are written as
Excel's ``_xHHHH_`` escape, so a pasted control character neither breaks the
file nor disappears from the user's text. Dates are serials (``dates``) of
the 1900 system, in which a new workbook counts its dates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from addin.ooxml import dates, xmltext
from kpi_engine._cells import ERROR_VALUES


class ExcelError(str):
    """An Excel error value (``#N/A``...) to write into a cell as an error,
    where a plain string would be written as text."""

    def __new__(cls, value: str) -> ExcelError:
        if value not in ERROR_VALUES:
            raise ValueError(f"{value!r} is not an Excel error value")
        return super().__new__(cls, value)


def cell_xml(ref: str, value: Any, date_style: int | None, *, date1904: bool = False) -> str:
    """One ``<c>`` element: text is always an inline string, never a formula;
    a date is a serial of the 1900 system, or of the 1904 one with ``date1904``."""
    if isinstance(value, ExcelError):
        return f'<c r="{ref}" t="e"><v>{xmltext.text(value)}</v></c>'
    if isinstance(value, str):
        text = xmltext.text(value)
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.date):
        style = "" if date_style is None else f' s="{date_style}"'
        return f'<c r="{ref}"{style}><v>{dates.to_serial(value, date1904=date1904)!r}</v></c>'
    return f'<c r="{ref}"><v>{value!r}</v></c>'
