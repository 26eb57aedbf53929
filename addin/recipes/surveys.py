"""Recipes of survey answers: NPS, CSAT and the share who recommended.

Each is composed from the month's answers that meet some conditions
(``quantities.DatedCount``): with a score, a promoter's or a detractor's
score, a satisfied rating.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .conditions import IBIS, AtLeast, AtMost, Condition, Has
from .quantities import (
    DatedCount,
    quotient,
    status_share,
)
from .recipe import Recipe, month_cells, per
from .rules import Let

if TYPE_CHECKING:
    from .ibis_forms import Tables


def answered(*where: Condition, name: str) -> DatedCount:
    """The survey's answers of the month that meet ``where``."""
    return DatedCount("Survey", "answered_on", where, name)


PROMOTERS = answered(AtLeast("recommend_score", 9), name="promoters")
DETRACTORS = answered(AtMost("recommend_score", 6), name="detractors")
RESPONSES = answered(Has("recommend_score"), name="responses")
#: NPS's engine function reads the month's scores itself.
NPS_SCORES = month_cells("nps", "Survey", "answered_on", "recommend_score")


# --- NPS: written out -------------------------------------------------------------------
#
# Special: a difference of two shares in points, multiplied before dividing
# as the engine does ((6 - 2) * 100 / 10 is exactly 40; 0.4 * 100 is not).


def _nps(s: str, e: str) -> str:
    let = Let()
    promoters, detractors = PROMOTERS.excel(let, s, e), DETRACTORS.excel(let, s, e)
    return let.formula(per(f"({promoters}-{detractors})*100", RESPONSES.excel(let, s, e)))


def _nps_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    measures = [part.ibis(tables, s, e) for part in (PROMOTERS, DETRACTORS, RESPONSES)]
    promoters, detractors, responses = IBIS.fetch_all(tables, measures)
    if responses == 0:
        raise NPS_SCORES.no_value()
    return (promoters - detractors) * 100 / responses


# --- the recipes ------------------------------------------------------------------------------

RECIPES: tuple[Recipe, ...] = (
    Recipe("nps", _nps, NPS_SCORES.call, _nps_ibis, (PROMOTERS, DETRACTORS, RESPONSES)),
    # Satisfied: a rating of 4 or more; the engine's function reads the ratings.
    quotient(
        "csat",
        answered(AtLeast("satisfaction", 4), name="satisfied"),
        answered(Has("satisfaction"), name="rated"),
        engine=month_cells("csat_from_scores", "Survey", "answered_on", "satisfaction", args=(4,)),
    ),
    status_share("actual_recommendation_rate", "Survey", "answered_on", "recommended", "yes"),
)
