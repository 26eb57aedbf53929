"""Recipes of survey answers: NPS, CSAT and the share who recommended.

Each is composed from the month's answers that meet some conditions
(``quantities.DatedCount``): with a score, a promoter's or a detractor's
score, a satisfied rating.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .conditions import AtLeast, AtMost, Has
from .quantities import counter, ibis_of, quotient, status_share
from .recipe import IbisParts, Recipe, month_cells, per
from .rules import Let, months_let

#: The survey's answers of the month that meet conditions.
answered = counter("Survey", "answered_on")

PROMOTERS = answered(AtLeast("recommend_score", 9), name="promoters")
DETRACTORS = answered(AtMost("recommend_score", 6), name="detractors")
RESPONSES = answered(Has("recommend_score"), name="responses")
NPS_PARTS = (PROMOTERS, DETRACTORS, RESPONSES)
#: NPS's engine function reads the month's scores itself.
NPS_SCORES = month_cells("nps", "Survey", "answered_on", "recommend_score")


# --- NPS: written out -------------------------------------------------------------------
#
# Special: a difference of two shares in points, multiplied before dividing
# as the engine does ((6 - 2) * 100 / 10 is exactly 40; 0.4 * 100 is not).


def _nps(s: str, e: str) -> str:
    let = Let()
    promoters, detractors, responses = (part.excel(let, s, e) for part in NPS_PARTS)
    return let.formula(per(f"({promoters}-{detractors})*100", responses))


def _nps_months(starts: str, ends: str) -> str:
    let, first, last = months_let(starts, ends)
    promoters, detractors, responses = (part.excel_months(let, first, last) for part in NPS_PARTS)
    return let.formula(per(f"({promoters}-{detractors})*100", responses))


def _nps_finish(values: Sequence[Any], settings: Mapping[str, Any]) -> float:
    promoters, detractors, responses = values
    if responses == 0:
        raise NPS_SCORES.no_value()
    return float((promoters - detractors) * 100 / responses)


_nps_ibis = ibis_of(NPS_PARTS, _nps_finish)


# --- the recipes ------------------------------------------------------------------------------

RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "nps",
        _nps,
        NPS_SCORES.call,
        _nps_ibis,
        NPS_PARTS,
        ibis_parts=IbisParts(NPS_PARTS, _nps_finish),
        months=_nps_months,
    ),
    # Satisfied: a rating of 4 or more; the engine's function reads the ratings.
    quotient(
        "csat",
        answered(AtLeast("satisfaction", 4), name="satisfied"),
        answered(Has("satisfaction"), name="rated"),
        engine=month_cells("csat_from_scores", "Survey", "answered_on", "satisfaction", args=(4,)),
    ),
    status_share("actual_recommendation_rate", "Survey", "answered_on", "recommended", "yes"),
)
