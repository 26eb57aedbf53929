"""Recipes of survey answers: NPS and CSAT.

Each recipe holds its formula, its engine call and its ibis form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .orders import status_share
from .quantities import IBIS
from .recipe import UNDEFINED, EngineCall, Recipe, ratio
from .rules import (
    Let,
    Rows,
    excel_counts,
    excel_within,
    pick,
    within,
)

if TYPE_CHECKING:
    from .ibis_forms import Tables


def _nps(s: str, e: str) -> str:
    let = Let()
    answered = let.value("Survey", "answered_on", "date", "answered")
    score = let.value("Survey", "recommend_score", "score", "score")
    counted = let.bind("counted", f"{excel_within(answered, s, e)}*{excel_counts('score', score)}")
    responses = let.bind("responses", f"SUM({counted})")
    promoters = f"SUM({counted}*({score}>=9))"
    detractors = f"SUM({counted}*({score}<=6))"
    # Multiply before dividing, as the engine does.
    return let.formula(f"IF({responses}=0,{UNDEFINED},({promoters}-{detractors})*100/{responses})")


def _nps_engine(rows: Rows, s: float, e: float) -> EngineCall:
    survey = rows["Survey"]
    return EngineCall(
        "nps", (pick(survey["recommend_score"], within(survey, "answered_on", s, e)),)
    )


def _csat(s: str, e: str) -> str:
    let = Let()
    answered = let.value("Survey", "answered_on", "date", "answered")
    rating = let.value("Survey", "satisfaction", "rating", "rating")
    counted = let.bind(
        "counted", f"{excel_within(answered, s, e)}*{excel_counts('rating', rating)}"
    )
    responses = let.bind("responses", f"SUM({counted})")
    satisfied = f"SUM({counted}*IF(ISNUMBER({rating}),{rating}>=4,FALSE))"
    return ratio(let, satisfied, responses)


def _csat_engine(rows: Rows, s: float, e: float) -> EngineCall:
    survey = rows["Survey"]
    ratings = pick(survey["satisfaction"], within(survey, "answered_on", s, e))
    return EngineCall("csat_from_scores", (ratings, 4))


# --- the ibis forms ---------------------------------------------------------------------


def _nps_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    promoters, passives, detractors = IBIS.nps_groups(tables, s, e)
    responses = promoters + passives + detractors
    if responses == 0:
        raise IBIS.undefined("nps", "there are no responses", "no_responses")
    # Multiply before dividing, as the engine does.
    return (promoters - detractors) * 100 / responses


def _csat_ibis(tables: Tables, s: float, e: float, settings: Mapping[str, Any]) -> float:
    rating, counted = IBIS.scores(tables, "satisfaction", s, e)
    found = IBIS.fetch(
        tables["Survey"],
        satisfied=IBIS.number_of(counted & (rating >= 4)),
        answers=IBIS.number_of(counted),
    )
    if found["answers"] == 0:
        raise IBIS.undefined("csat_from_scores", "there are no responses", "no_responses")
    return IBIS.engine("csat", found["satisfied"], found["answers"])


# --- the recipes ------------------------------------------------------------------------------

RECIPES: tuple[Recipe, ...] = (
    Recipe("nps", _nps, _nps_engine, _nps_ibis),
    Recipe("csat", _csat, _csat_engine, _csat_ibis),
    status_share("actual_recommendation_rate", "Survey", "answered_on", "recommended", "yes"),
)
