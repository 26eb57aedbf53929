"""Shared parametrisation: tests run over every KPI, business type and language."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kpi_engine

ROOT = Path(__file__).resolve().parent.parent
#: The source articles sit beside the repository (shared/seeds) in the
#: project's own checkouts and in CI, not in a user's clone.
SEEDS = ROOT.parent / "shared" / "seeds"

ALL_KPIS = list(kpi_engine.KPIS.values())
ALL_TYPES = list(kpi_engine.BUSINESS_TYPES.values())
ALL_PROFILE_ENTRIES = [(t, entry) for t in ALL_TYPES for entry in t.kpis]


def kpi_id(kpi: kpi_engine.KPI) -> str:
    return kpi.id


@pytest.fixture(params=ALL_KPIS, ids=kpi_id)
def any_kpi(request: pytest.FixtureRequest) -> kpi_engine.KPI:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=ALL_TYPES, ids=lambda t: t.id)
def any_type(request: pytest.FixtureRequest) -> kpi_engine.BusinessType:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=kpi_engine.LANGUAGES)
def any_language(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def articles() -> Path:
    """The folder of source articles; the test is skipped in a clone without it."""
    if SEEDS.is_dir():
        return SEEDS
    if os.environ.get("CI"):
        pytest.fail("CI runs with the source articles beside the checkout (../shared/seeds)")
    pytest.skip("the source articles (../shared/seeds) are not beside this checkout")
