"""The join between catalogue entries (data) and KPI functions (code).

A function becomes a KPI function by the ``@kpi_function`` decorator; the
catalogue loader then insists that every entry has a function of the same
name and every function has an entry, so neither can be added alone.

The decorator also holds every KPI function to the engine's one promise: it
answers with a finite float or raises ``KPIInputError``/``KPIUndefinedError``.
A result that overflowed to infinity or NaN is reported as inputs too large
to compute with, naming them all, and -0.0 comes back as 0.0.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ._inputs import too_large

F = TypeVar("F", bound=Callable[..., Any])

FUNCTIONS: dict[str, Callable[..., Any]] = {}


def kpi_function(func: F) -> F:
    if func.__name__ in FUNCTIONS:
        raise RuntimeError(f"KPI function {func.__name__!r} is defined twice")
    signature = inspect.signature(func)

    @functools.wraps(func)
    def finite_result(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        if type(result) is not float:
            # An int or a bool (True == 1) would pass for a measurement: a bug here.
            raise TypeError(f"{func.__name__} returned {result!r}, not a float")
        if not math.isfinite(result):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            raise too_large(func.__name__, bound.arguments)
        return result + 0.0

    FUNCTIONS[func.__name__] = finite_result
    return cast(F, finite_result)
