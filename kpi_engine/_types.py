"""What the KPI functions take, as type hints for Python users.

A KPI function takes what an Excel cell or range holds: numbers, text,
TRUE/FALSE, dates, blanks; a range as a list (a row or a column) or a list
of rows, or as the NumPy array or pandas Series a Python analyst holds
(``_inputs.cells`` reads them; neither library is imported). Where a single
value is expected, a one-cell range is taken too, as Excel passes one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias


class ArrayLike(Protocol):
    """A NumPy array, or a pandas Series or Index: a range of its values."""

    @property
    def ndim(self) -> int: ...

    def tolist(self) -> Any: ...


class FrameLike(Protocol):
    """A pandas DataFrame: a range of its rows."""

    @property
    def ndim(self) -> int: ...

    def to_numpy(self) -> Any: ...


#: What one cell holds.
Cell: TypeAlias = float | int | str | bool | dt.date | dt.datetime | dt.time | None
#: A range of cells: a row or a column, a block of rows, an array or a Series.
Cells: TypeAlias = Sequence[Cell] | Sequence[Sequence[Cell]] | ArrayLike | FrameLike
#: A number, or a one-cell range holding one.
Number: TypeAlias = float | int | Cells
#: A text, or a one-cell range holding one.
Text: TypeAlias = str | Cells
#: A day: a date, an ISO date text, an Excel serial, or a one-cell range.
Day: TypeAlias = dt.date | str | float | int | Cells

__all__ = ["ArrayLike", "Cell", "Cells", "Day", "FrameLike", "Number", "Text"]
