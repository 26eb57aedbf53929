"""Large ranges of numbers, counted with NumPy when it is installed.

The engine never needs NumPy: in xlwings Lite, or wherever it is missing,
every range is read the pure-Python way (``_records.read_counts``). When
NumPy can be imported and a range of at least ``NUMPY_MIN_CELLS`` cells
holds only numbers and blanks (Python ``int``, ``float`` and ``None``: what
Office.js sends once parsed, and what most columns of scores, counts and
amounts hold), its values are counted in one pass over an array instead of
one Python step per cell.

The result is the ``Counter`` the pure-Python path builds from the same
cells with the same reader (``number_value``, ``amount_value``,
``count_value``, ``score_value``): the same values with the same counts, so
every KPI built on it gives the same number. Any other range (text, dates,
TRUE/FALSE, a cell that is no cell at all) takes the pure-Python path, which
is also the one that names a bad cell's position: the two paths cannot
differ in their messages. tests/test_numeric_path.py holds both paths to
the same values and messages over random ranges, bad cells included.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from typing import Any

from ._cells import amount_value, count_value, number_value, score_value

#: Ranges with fewer cells are counted in Python: NumPy's set-up would cost
#: more than it saves.
NUMPY_MIN_CELLS = 4096
#: Whole numbers up to this are tallied by value (``bincount``) rather than sorted.
_LARGEST_TALLY = 1 << 16
_NUMBER_KINDS = frozenset({int, float, type(None)})
_ROW_KINDS = frozenset({list, tuple})
_FIRST = itemgetter(0)
_UNLOADED: Any = object()
_numpy: Any = _UNLOADED
#: Ranges whose caller has looked at every cell and found only numbers and
#: blanks, with their number of cells, by ``id`` (see ``numbers_checked``).
_checked: dict[int, tuple[Any, int]] = {}


def numpy() -> Any:
    """The numpy module, imported on first use; None when it is not installed."""
    global _numpy  # noqa: PLW0603  (imported once, on the first large range)
    if _numpy is _UNLOADED:
        try:
            _numpy = importlib.import_module("numpy")
        except ImportError:
            _numpy = None
    return _numpy


def _cells(values: Any) -> tuple[Callable[[], Iterator[Any]], int] | None:
    """How to walk the cells of a range given as a list (of rows) without
    copying them, and how many there are at least; None for any other shape."""
    if (type(values) is not list and type(values) is not tuple) or not values:
        return None
    first = type(values[0])
    if first is list or first is tuple:
        if not set(map(type, values)) <= _ROW_KINDS:
            return None
        # A column has a row per cell: counting its cells would be one more pass.
        size = len(values) if len(values) >= NUMPY_MIN_CELLS else sum(map(len, values))
        return (lambda: chain.from_iterable(values)), size
    return (lambda: iter(values)), len(values)


def _tally(np: Any, values: Any, whole: bool, key: Callable[[Any], Any]) -> Counter[Any]:
    """How often each value occurs, keyed as the reader keys it."""
    if not values.size:
        return Counter()
    if whole and values.max() < _LARGEST_TALLY:
        tallies = np.bincount(values.astype(np.int64))
        distinct = np.flatnonzero(tallies)
        tallies = tallies[distinct]
    else:
        distinct, tallies = np.unique(values, return_counts=True)
    return Counter(dict(zip(map(key, distinct.tolist()), tallies.tolist(), strict=True)))


def _numbers(np: Any, array: Any) -> Counter[Any]:
    return _tally(np, array[np.isfinite(array)], False, float)


def _amounts(np: Any, array: Any) -> Counter[Any]:
    return _tally(np, array[np.isfinite(array) & (array >= 0)], False, float)


def _counts(np: Any, array: Any) -> Counter[Any]:
    kept = np.isfinite(array) & (array >= 0) & (array == np.floor(array))
    return _tally(np, array[kept], True, float)


def _scores(np: Any, array: Any) -> Counter[Any]:
    kept = np.isfinite(array) & (array >= 0) & (array <= 10) & (array == np.floor(array))
    return _tally(np, array[kept], True, int)


#: The readers of ``_cells`` that have an array form, and that form.
_ARRAY_READERS: dict[Callable[[Any], Any], Callable[[Any, Any], Counter[Any]]] = {
    number_value: _numbers,
    amount_value: _amounts,
    count_value: _counts,
    score_value: _scores,
}


@contextmanager
def numbers_checked(ranges: list[tuple[Any, int]]) -> Iterator[None]:
    """While the block runs, ``counts`` takes each range of ``ranges`` (a
    list of rows, or of cells, with its exact number of cells) as one whose
    every row is a list and every cell an ``int``, a ``float`` or ``None``,
    and does not look at each cell again to find out. For a caller that has
    already looked (the add-in's server, which checks what it receives): a
    million-cell column is then walked twice, not four times.

    Only the very list objects given are trusted, and only in the block."""
    added = [id(values) for values, _ in ranges if id(values) not in _checked]
    for values, cells in ranges:
        _checked.setdefault(id(values), (values, cells))
    try:
        yield
    finally:
        for key in added:
            del _checked[key]


def _checked_array(np: Any, values: Any, cells: int) -> Any:
    """The array of a range ``numbers_checked`` vouches for; None when a
    number does not fit a float (the pure path then reads the range)."""
    first = type(values[0]) if values else None
    rows = first is list or first is tuple
    try:
        if rows and cells == len(values):
            # As many cells as rows: a column (unless a row is empty), whose
            # cells are taken without an iterator per row.
            try:
                return np.fromiter(map(_FIRST, values), dtype=np.float64, count=cells)
            except IndexError:
                pass
        walk = chain.from_iterable(values) if rows else iter(values)
        return np.fromiter(walk, dtype=np.float64, count=cells)
    except (OverflowError, ValueError, TypeError):
        return None


def counts(values: Any, read: Callable[[Any], Any]) -> Counter[Any] | None:
    """``read_counts``'s answer for a large range of numbers and blanks, by
    NumPy; None when NumPy, the range or the reader does not fit (the
    pure-Python path then reads the range)."""
    if type(values) is not list and type(values) is not tuple:
        # A lone value (one cell): nothing to count in an array.
        return None
    count_array = _ARRAY_READERS.get(read)
    if count_array is None:
        return None
    checked = _checked.get(id(values))
    if checked is not None and checked[0] is values:
        if checked[1] < NUMPY_MIN_CELLS:
            return None
        np = numpy()
        if np is None:
            return None
        array = _checked_array(np, values, checked[1])
        return None if array is None else count_array(np, array)
    walk = _cells(values)
    if walk is None or walk[1] < NUMPY_MIN_CELLS:
        return None
    np = numpy()
    if np is None:
        return None
    cells = walk[0]
    # The check: every cell a number or a blank (one pass, in C); a bool,
    # text or anything else leaves the range to the pure-Python path.
    if not set(map(type, cells())) <= _NUMBER_KINDS:
        return None
    try:
        # None becomes NaN, which no reader counts; an int too large for a
        # float (which no reader counts either) raises: the pure path.
        array = np.fromiter(cells(), dtype=np.float64)
    except (OverflowError, ValueError, TypeError):
        return None
    return count_array(np, array)
