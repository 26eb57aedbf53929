"""The structure of every starter workbook matches its reviewed snapshot."""

from __future__ import annotations

import pytest

import kpi_engine
from tests.snapshots.structure import render, snapshot_path

pytestmark = pytest.mark.fast

CASES = [(t, lang) for t in kpi_engine.BUSINESS_TYPES for lang in kpi_engine.LANGUAGES]


@pytest.mark.parametrize(
    ("business_type", "language"), CASES, ids=[f"{t}_{lang}" for t, lang in CASES]
)
def test_structure_matches_snapshot(business_type: str, language: str) -> None:
    expected = snapshot_path(business_type, language).read_text(encoding="utf-8")
    assert render(business_type, language) == expected, (
        "the workbook's structure changed; if intended, run make regen and review the diff"
    )
