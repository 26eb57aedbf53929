"""Every KPI function tells a Python user what it takes: each argument is
typed with the engine's aliases (Number, Cells, Text, Day), none with Any;
and what those aliases say is what the functions accept (a list, a NumPy
array, a pandas Series, a one-cell range where a number is asked)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import kpi_engine
from kpi_engine._registry import FUNCTIONS

ALIASES = {"Number", "Cells", "Text", "Day"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_argument_has_a_type_of_its_own(name: str) -> None:
    signature = inspect.signature(FUNCTIONS[name])
    assert signature.parameters, name
    aliases = {alias: getattr(kpi_engine, alias) for alias in ALIASES}
    for argument, parameter in signature.parameters.items():
        shown = parameter.annotation
        assert shown in ALIASES or any(shown is a for a in aliases.values()), (
            name,
            argument,
            shown,
        )
    assert signature.return_annotation in ("float", float)


def test_the_aliases_say_what_the_functions_take() -> None:
    assert kpi_engine.churn_rate(5, 100) == kpi_engine.churn_rate([5], np.array([100]))
    block: list[list[kpi_engine.Cell]] = [[9, 10], [3, None]]
    assert kpi_engine.nps(np.array([9, 10, 3])) == kpi_engine.nps(block)
    assert kpi_engine.Cells is not None
    assert kpi_engine.Number is not None
