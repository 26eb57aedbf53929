"""Shared parametrisation (tests run over every KPI, business type and
language) and the shared fixtures: a real `kpi serve`, headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import kpi_engine

if TYPE_CHECKING:
    from tests.addin_support import Server

ROOT = Path(__file__).resolve().parent.parent
#: The source articles sit beside the repository (shared/seeds) in the
#: project's own checkouts and in CI, not in a user's clone.
SEEDS = ROOT.parent / "shared" / "seeds"

#: Excel's own function names: no custom function, table or name may take one.
EXCEL_BUILTINS = frozenset(
    line.strip().upper()
    for line in (ROOT / "tests" / "data" / "excel_builtin_functions.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)

ALL_KPIS = list(kpi_engine.KPIS.values())
ALL_TYPES = list(kpi_engine.BUSINESS_TYPES.values())
ALL_PROFILE_ENTRIES = [(t, entry) for t in ALL_TYPES for entry in t.kpis]
#: Test ids for ``ALL_PROFILE_ENTRIES``: the business type, then the KPI.
ALL_PROFILE_ENTRY_IDS = [f"{t.id}-{entry.id}" for t, entry in ALL_PROFILE_ENTRIES]


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


#: A shop of real size for the refresh inside Excel: the orders of the
#: celebrity_video starter workbook (tests/test_taskpane_refresh.py and the Lite test).
LARGE_ORDERS = 100_000


@pytest.fixture(scope="session")
def large_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`kpi new celebrity_video --rows 100000`, written once per session, and
    the same workbook as the Office.js stub takes it (``officeStub.load``)."""
    from tests.pane_support import stub_state_json, write_shop  # noqa: PLC0415

    path = tmp_path_factory.mktemp("large_shop") / "celebrity_video_100k.xlsx"
    write_shop(path, LARGE_ORDERS, timeout=300)
    return path, stub_state_json(path)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A real `kpi serve` on 127.0.0.1 with the default settings, one per test
    module; a module that needs other settings defines its own."""
    from tests.addin_support import running_server  # noqa: PLC0415

    with running_server() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, one per test module."""
    from tests.browser import chromium  # noqa: PLC0415

    with chromium() as running:
        yield running
