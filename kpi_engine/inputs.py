"""Arguments as the KPI functions check them: one cell from a range, Excel
date serials and months. The add-in uses them so that its messages and its
months are the engine's own. ``load_numpy`` imports NumPy ahead of the
first large range of numbers (see ``_numeric``), for a server that would
rather not pause for it mid-call; ``numbers_checked`` lets a caller that
has already looked at every cell of a large range (the add-in's server)
spare the engine a second look.
"""

from __future__ import annotations

from ._errors import describe_value, short_repr
from ._inputs import first_of_month, serial_to_date, single, single_cell, to_serial
from ._numeric import numbers_checked
from ._numeric import numpy as load_numpy

__all__ = [
    "describe_value",
    "first_of_month",
    "load_numpy",
    "numbers_checked",
    "serial_to_date",
    "short_repr",
    "single",
    "single_cell",
    "to_serial",
]
