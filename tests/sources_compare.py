"""The ibis forms against the engine, KPI by KPI and month by month."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import kpi_engine
from addin.recipes import month_shift, recipe_for
from addin.recipes.ibis_forms import Tables, compute
from addin.report.model import TREND_MONTHS
from kpi_engine._inputs import first_of_month, to_serial


def outcome(run: Any) -> tuple[str, Any]:
    """("value", v) or ("undefined", reason code) or ("error", text)."""
    try:
        return "value", float(run())
    except kpi_engine.KPIUndefinedError as error:
        return "undefined", error.code
    except kpi_engine.KPIInputError as error:
        return "input_error", error.argument


def same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    if a[0] == b[0] == "value":
        return math.isclose(a[1], b[1], rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def disagreements(
    business_type: str,
    rows: Mapping[str, Any],
    tables: Tables,
    period: dt.date,
    where: str = "ibis",
    kpi_ids: tuple[str, ...] | None = None,
) -> list[str]:
    """Every KPI of the type in every month of the report's trend where the
    ibis form on ``tables`` and the engine on ``rows`` differ."""
    settings = {}
    if "Settings" in rows:
        settings["GROSS_MARGIN"] = rows["Settings"]["GROSS_MARGIN"][0]
    found = []
    for offset in range(1 - TREND_MONTHS, 1):
        month = first_of_month(period, offset)
        start = to_serial("test", "month", month)
        end = month_shift(start, 1)
        for entry in kpi_engine.get_business_type(business_type).kpis:
            if kpi_ids is not None and entry.id not in kpi_ids:
                continue
            recipe = recipe_for(business_type, entry.id)
            engine = outcome(lambda: recipe.compute(rows, start, end))  # noqa: B023
            ibis_form = outcome(
                lambda: compute(business_type, entry.id, tables, start, end, settings)  # noqa: B023
            )
            if not same(engine, ibis_form):
                found.append(
                    f"{entry.id} in {month:%Y-%m}: engine {engine!r}, {where} {ibis_form!r}"
                )
    return found
