"""Cell XML for the data rows that the starter streams into its sheets.

Text goes through ``xmltext``: characters XML cannot hold are written as
Excel's ``_xHHHH_`` escape, so a pasted control character neither breaks the
file nor disappears from the user's text. Dates are serials (``dates``) of
the 1900 system, in which a new workbook counts its dates.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from addin.ooxml import dates, xmltext
from kpi_engine.cells import ERROR_VALUES


class ExcelError(str):
    """An Excel error value (``#N/A``...) to write into a cell as an error,
    where a plain string would be written as text."""

    def __new__(cls, value: str) -> ExcelError:
        if value not in ERROR_VALUES:
            raise ValueError(f"{value!r} is not an Excel error value")
        return super().__new__(cls, value)


def cell_xml(
    ref: str,
    value: Any,
    style: int | None = None,
    *,
    date_style: int | None = None,
    date1904: bool = False,
) -> str:
    """One ``<c>`` element, or '' for None: text is always an inline string,
    never a formula; a date is a serial of the 1900 system, or of the 1904
    one with ``date1904``. ``style`` is the cell format of any cell,
    ``date_style`` that of a date (the starter's data rows set only that).

    The one cell writer of the starter's data rows and the report sheet.
    """
    if value is None:
        return ""
    if isinstance(value, dt.date):
        style = date_style if date_style is not None else style
    s = f' s="{style}"' if style else ""
    if isinstance(value, ExcelError):
        return f'<c r="{ref}"{s} t="e"><v>{xmltext.text(value)}</v></c>'
    if isinstance(value, str):
        text = xmltext.text(value)
        return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}"{s}><v>{dates.to_serial(value, date1904=date1904)!r}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    number = float(value)
    if not math.isfinite(number):
        # A cell cannot hold NaN or infinity; Excel would refuse the file.
        raise ValueError(f"cell {ref}: {number!r} is not a number a cell can hold")
    return f'<c r="{ref}"{s}><v>{number!r}</v></c>'
