"""Worked examples: the issue's table of seed examples, and every catalogue example."""

from __future__ import annotations

import math

import pytest

import kpi_engine
from tests.conftest import ALL_KPIS

# The seed examples as the articles state them (inputs -> result, with the
# seed file). Results the articles round (66.67 %) are compared to 4 decimals.
SEED_EXAMPLES = [
    ("avg_fulfillment_time", (60, 20), 3, "000"),
    ("celebrity_acquisition_rate", (20, 50), 0.40, "000"),
    ("repeat_purchase_rate", (300, 1000), 0.30, "000"),
    ("repeat_purchase_rate", (30, 100), 0.30, "001"),
    ("completion_rate", (85, 100), 0.85, "000"),
    ("completion_rate", (80, 100), 0.80, "001"),
    ("nps_from_shares", (0.70, 0.10), 60, "000"),
    ("revenue_per_celebrity", (100000, 50), 2000, "000"),
    ("churn_rate", (50, 1000), 0.05, "000"),
    ("csat", (80, 100), 0.80, "001"),
    ("csat", (160, 200), 0.80, "002"),
    ("referral_acquisition_rate", (25, 50), 0.50, "001"),
    ("avg_turnaround_time", (250, 10), 25, "001"),
    ("engagement_growth", (2500, 1500), 0.6667, "001"),
    ("retention_rate", (110, 20, 100), 0.90, "001"),
    ("retention_rate", (550, 100, 500), 0.90, "002"),
    ("connection_success_rate", (200, 300), 0.6667, "002"),
    ("events_per_user", (500, 100), 5, "002"),
    # 1,000 hours over 5,000 visits: 0.2 hours, which the article also gives as 12 minutes.
    ("avg_time_per_visit", (1000, 5000, "hours"), 12, "002"),
    ("revenue_per_active_user", (100000, 10000), 10, "002"),
]


@pytest.mark.parametrize(("kpi_id", "args", "expected", "seed"), SEED_EXAMPLES)
def test_seed_example(kpi_id: str, args: tuple[float, ...], expected: float, seed: str) -> None:
    function = getattr(kpi_engine, kpi_id)
    # As Excel sends them: floats.
    value = function(*[float(a) if isinstance(a, int | float) else a for a in args])
    assert value == pytest.approx(expected, abs=5e-5)
    assert any(
        e.source.startswith(seed) and e.args == args for e in kpi_engine.KPIS[kpi_id].examples
    ), f"the catalogue entry of {kpi_id} lacks the {seed} example {args}"


def test_exact_seed_examples_are_exact() -> None:
    # "Correct to the decimal": results the articles give exactly come out exactly.
    assert kpi_engine.nps_from_shares(0.7, 0.1) == 60
    assert kpi_engine.churn_rate(50.0, 1000.0) == 0.05
    assert kpi_engine.retention_rate(110.0, 20.0, 100.0) == 0.9
    assert kpi_engine.nps([10, 9, 9, 8, 7, 6, 3, 10, 9, 10]) == 40


@pytest.mark.parametrize(
    ("kpi", "example"),
    [(kpi, example) for kpi in ALL_KPIS for example in kpi.examples],
    ids=lambda v: getattr(v, "id", ""),
)
def test_catalogue_example(kpi: kpi_engine.KPI, example: object) -> None:
    assert isinstance(example, kpi_engine._catalogue.Example)
    value = kpi(*example.args, **example.kwargs)
    assert example.matches(value), f"{kpi.id}{example.args} gave {value}, expected {example.result}"
    assert math.isfinite(value)


def test_nps_margin_by_hand() -> None:
    # 6 promoters, 2 passives, 2 detractors; adjusted-Wald worked out by hand
    # with z(0.975) = 1.959963984540054.
    n = 10 + 3
    p, d = (6 + 0.75) / n, (2 + 0.75) / n
    expected = 1.959963984540054 * math.sqrt((p + d - (p - d) ** 2) / n) * 100
    assert kpi_engine.nps_margin([10, 9, 9, 8, 7, 6, 3, 10, 9, 10]) == pytest.approx(
        expected, rel=1e-12
    )
    wider = kpi_engine.nps_margin([10, 9, 9, 8, 7, 6, 3, 10, 9, 10], 0.99)
    assert wider > expected


def test_visit_time_names_the_unit_of_its_input() -> None:
    """The article's example in hours rates as its 12 minutes do, not as 0.2 minutes."""
    in_hours = kpi_engine.avg_time_per_visit(1000, 5000, "hours")
    assert in_hours == 12
    assert kpi_engine.avg_time_per_visit(1000 * 60, 5000) == 12
    assert kpi_engine.avg_time_per_visit(1000 * 60, 5000, "Minutes") == 12
    assert (
        kpi_engine.benchmark_band("avg_time_per_visit", in_hours, "networking") == "above_average"
    )
    with pytest.raises(kpi_engine.KPIInputError, match=r"avg_time_per_visit: time_unit is 'days'"):
        kpi_engine.avg_time_per_visit(1000, 5000, "days")
    # Every duration states its unit: none is left to be "the unit of the inputs".
    assert {k.unit for k in kpi_engine.KPIS.values()} & {"duration"} == set()
