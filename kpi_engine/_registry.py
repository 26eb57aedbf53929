"""The join between catalogue entries (data) and KPI functions (code).

A function becomes a KPI function by the ``@kpi_function`` decorator; the
catalogue loader then insists that every entry has a function of the same
name and every function has an entry, so neither can be added alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

FUNCTIONS: dict[str, Callable[..., Any]] = {}


def kpi_function(func: F) -> F:
    if func.__name__ in FUNCTIONS:
        raise RuntimeError(f"KPI function {func.__name__!r} is defined twice")
    FUNCTIONS[func.__name__] = func
    return func
