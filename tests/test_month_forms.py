"""A recipe that carries its own month form (``Recipe.by_month``) is computed
by it in the report, and that form runs where ibis is not installed (xlwings
Lite computes the report from the same recipes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import kpi_engine
from addin.recipes import recipe_for
from addin.recipes.by_month import form_of

pytestmark = pytest.mark.fast


def _recipes() -> list[tuple[str, str]]:
    return [
        (business_type, entry.id)
        for business_type in sorted(kpi_engine.BUSINESS_TYPES)
        for entry in kpi_engine.get_business_type(business_type).kpis
    ]


def test_a_recipe_carrying_its_month_form_is_computed_by_it() -> None:
    carried = []
    for business_type, kpi_id in _recipes():
        recipe = recipe_for(business_type, kpi_id)
        if recipe.by_month is not None:
            assert form_of(recipe) is recipe.by_month
            carried.append(kpi_id)
    # Repeat purchases move a twelve-month window: the recipe says so itself.
    assert "repeat_purchase_rate" in carried


def test_repeat_purchases_month_form_runs_without_ibis() -> None:
    """The form, with ibis made unimportable, gives what ``Recipe.compute``
    gives, for a month with orders and for one with none."""
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["ibis"] = None  # as in xlwings Lite: no ibis
        from addin.recipes import as_rows, month_shift, recipe_for
        from kpi_engine.inputs import to_serial
        import datetime as dt, kpi_engine

        orders = {
            "customer_id": ["C1", "C1", " c2", "C3", None, "C3"],
            "ordered_at": [45300.5, 45310.0, 45320.25, 45000.0, 45301.0, 45330.0],
        }
        out = []
        for month in (dt.date(2024, 2, 1), dt.date(2020, 1, 1)):
            start = to_serial("test", "month", month)
            end = month_shift(start, 1)
            recipe = recipe_for("celebrity_video", "repeat_purchase_rate")
            results = []
            for compute in (recipe.compute, recipe.by_month):
                try:
                    results.append(compute(as_rows({"Orders": dict(orders)}), start, end).hex())
                except kpi_engine.KPIUndefinedError as error:
                    results.append([error.function, error.code])
            out.append(results)
        print(json.dumps([out, "ibis" in sys.modules and sys.modules["ibis"] is not None]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    (with_orders, without), ibis_loaded = json.loads(done.stdout)
    assert not ibis_loaded
    assert with_orders[0] == with_orders[1]
    assert float.fromhex(with_orders[0]) > 0
    assert without == [
        ["repeat_purchase_rate_from_orders", "no_orders"],
        ["repeat_purchase_rate_from_orders", "no_orders"],
    ]
