"""The hostile harness's import and sources legs (``tests/hostile_legs.py``):
every case is refused with one line, or read, within 600 MB and 60 seconds,
the files it read byte-identical, with the exit status and the words the
case expects.

The cases run two at a time in one module fixture (each run is a
subprocess under the harness's limits); ``python -m tests.hostile_table
--legs`` prints the same outcomes as a markdown table.
"""

from __future__ import annotations

import pytest

from tests.hostile_legs import LEG_CASES, LegOutcome, run_leg_cases
from tests.selection import selected_params


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, LegOutcome]:
    """The outcome of every selected case, run in parallel up front (``-k`` runs fewer)."""
    selected = [case_id for (case_id,) in selected_params(request, "case_id")]
    folder = tmp_path_factory.mktemp("hostile-legs")
    return {o.case.id: o for o in run_leg_cases([LEG_CASES[c] for c in selected], folder)}


@pytest.mark.parametrize("case_id", list(LEG_CASES))
def test_hostile_input_is_refused_or_read_within_bounds(
    case_id: str, outcomes: dict[str, LegOutcome]
) -> None:
    outcome = outcomes[case_id]
    run = outcome.run
    problems = outcome.problems()
    assert not problems, (
        f"{case_id}:\n- " + "\n- ".join(problems) + f"\n  exit {run.exit}, "
        f"{run.peak_rss_mb:.0f} MB, {run.seconds:.1f} s: {run.message}"
    )
