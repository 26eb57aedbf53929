"""Shared parametrisation: tests run over every KPI, business type and language."""

from __future__ import annotations

from pathlib import Path

import pytest

import kpi_engine

ROOT = Path(__file__).resolve().parent.parent
#: The source articles sit beside the repository (shared/seeds).
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
