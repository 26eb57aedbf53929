"""The call of each Excel function that the task pane's KPI browser puts in
a cell: its arguments name the starter tables' real columns, so that the
formula works in a workbook that "Start a KPI workbook here" (or ``kpi new``)
made.

A function that reads records (scores, ids, dates) gets the columns
themselves (``NPS(Survey[recommend_score])``). A function that takes totals
gets the sum of the column of that name where the KPI's recipe reads one
(``CLICK_THROUGH_RATE(SUM(Channels[clicks]), SUM(Channels[impressions]))``);
an argument with no column of its own (a count of customers that needs a
window) is left as its name, for the reader to fill in. A test checks every
column named here against ``tables``.
"""

from __future__ import annotations

import kpi_engine

from .kpis import RECIPES

#: Record arguments, per KPI: the column (``Table[column]``) or defined name
#: each one reads. Optional arguments are left out of the call.
RECORD_COLUMNS: dict[str, dict[str, str]] = {
    "nps": {"scores": "Survey[recommend_score]"},
    "nps_margin": {"scores": "Survey[recommend_score]"},
    "mau": {"user_ids": "Activity[member_id]", "dates": "Activity[active_on]", "month": "PERIOD"},
    "reach": {"accounts_reached": "Channels[reach]"},
    "impressions": {"impression_counts": "Channels[impressions]"},
    "csat_from_scores": {"scores": "Survey[satisfaction]"},
    "repeat_purchase_rate_from_orders": {"customer_ids": "Orders[customer_id]"},
    "avg_fulfillment_time_from_timestamps": {
        "requested_at": "Orders[ordered_at]",
        "delivered_at": "Orders[delivered_at]",
    },
    "completion_rate_from_statuses": {"statuses": "Orders[status]"},
}


def argument_reference(kpi: kpi_engine.KPI, argument: str) -> str:
    """What the inserted call gives for ``argument`` of ``kpi``."""
    given = RECORD_COLUMNS.get(kpi.id, {})
    if argument in given:
        return given[argument]
    recipe = RECIPES.get(kpi.id) or RECIPES.get(kpi.measures)
    if recipe is not None:
        for table, columns in recipe.reads.items():
            if argument in columns:
                return f"SUM({table}[{argument}])"
    return argument


def excel_call(kpi: kpi_engine.KPI, namespace: str, separator: str = ",") -> str:
    """The formula the KPI browser inserts: ``=KPI.NPS(Survey[recommend_score])``."""
    arguments = [
        argument_reference(kpi, argument.name)
        for argument in kpi.arguments
        if not argument.optional
    ]
    return f"={namespace}.{kpi.id.upper()}({separator.join(arguments)})"
