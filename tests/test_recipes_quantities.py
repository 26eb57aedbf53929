"""Each shared quantity of the recipes, alone: its value on the workbook's
rows equals its ibis measure on DuckDB, in every month of the report's
trend, for every quantity that some recipe of a business type is composed
of (``Recipe.parts``). A recipe that hands the engine its cells (the
``ReadsCells`` of ``quantities``) is checked here on its quantities' rows
form too, which its own engine call does not run. (The workbook form of
each quantity is recalculated by LibreOffice, within its recipes'
formulas, in tests/test_starter_recalc.py and tests/test_messy_data.py.)
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

import kpi_engine
from addin.recipes import month_shift, recipe_for
from addin.recipes.ibis_forms import fetch_all, prepare
from addin.recipes.quantities import Months
from addin.report.model import TREND_MONTHS
from kpi_engine.inputs import first_of_month, to_serial
from tests.sources_support import duckdb_tables, starter_rows, typed_tables

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
BUSINESS_TYPES = list(kpi_engine.BUSINESS_TYPES)


def parts_of(business_type: str) -> list[tuple[str, Any]]:
    """(KPI id, quantity) for every part of the type's recipes, each once."""
    found: list[tuple[str, Any]] = []
    for entry in kpi_engine.get_business_type(business_type).kpis:
        for part in recipe_for(business_type, entry.id).parts:
            if all(part != other for _, other in found):
                found.append((entry.id, part))
    return found


#: Recipes written out without any shared quantity, and why: repeat
#: purchases look at the twelve months before the period and count the ids
#: that come twice (addin/recipes/orders.py).
WRITTEN_OUT = {"repeat_purchase_rate"}


@pytest.mark.fast
def test_each_quantity_states_whether_it_has_a_formula_of_all_the_months() -> None:
    """A recipe gets one Trend formula for its twelve months when each of its
    quantities has that form; a growth over the months before says it has
    none, and keeps a Trend formula per month (so do the lifetime values,
    whose recipes are written out)."""
    growths = 0
    for business_type in kpi_engine.BUSINESS_TYPES:
        for entry in kpi_engine.get_business_type(business_type).kpis:
            recipe = recipe_for(business_type, entry.id)
            for part in recipe.parts:
                assert part.excel_months is None or callable(part.excel_months), part
            if any(isinstance(part, Months) for part in recipe.parts):
                growths += 1
                assert recipe.months is None, entry.id
    assert growths >= 2


def test_every_other_recipe_is_composed_of_shared_quantities() -> None:
    bare = [
        f"{entry.id} ({business_type})"
        for business_type in BUSINESS_TYPES
        for entry in kpi_engine.get_business_type(business_type).kpis
        if not recipe_for(business_type, entry.id).parts and entry.id not in WRITTEN_OUT
    ]
    assert not bare, (
        f"{', '.join(bare)}: compose the recipe from addin/recipes/quantities.py "
        "(quotient, total_of, combined...), or, where it is really special, give the "
        "Recipe the quantities it uses as parts="
    )
    for kpi_id in WRITTEN_OUT:  # an exception that stops being one leaves the list
        assert not any(recipe_for(t, kpi_id).parts for t in BUSINESS_TYPES if _has(t, kpi_id))


def _has(business_type: str, kpi_id: str) -> bool:
    return any(e.id == kpi_id for e in kpi_engine.get_business_type(business_type).kpis)


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_each_quantity_on_duckdb_equals_its_value_on_the_rows(
    business_type: str, tmp_path: Any
) -> None:
    rows = starter_rows(business_type, tmp_path, AS_OF)
    parts = parts_of(business_type)
    assert parts
    con, tables = duckdb_tables(typed_tables(business_type, rows))
    prepared = prepare(tables)
    try:
        wrong = []
        for offset in range(1 - TREND_MONTHS, 1):
            start = to_serial("test", "month", first_of_month(PERIOD, offset))
            end = month_shift(start, 1)
            measured = fetch_all(prepared, [part.ibis(prepared, start, end) for _, part in parts])
            for (kpi_id, part), ibis_value in zip(parts, measured, strict=True):
                value = part.rows(rows, start, end)
                if not math.isclose(value, ibis_value, rel_tol=1e-9, abs_tol=1e-9):
                    wrong.append(
                        f"{part} of {kpi_id} at {start}: rows {value}, duckdb {ibis_value}"
                    )
    finally:
        con.disconnect()
    assert not wrong, "\n".join(wrong)
