"""The articles' definitions, measured from table rows as the recipes read them.

Each test builds the few rows an article's example describes and checks that
the recipe a business type uses (chosen by its catalogue entry: ``form``,
``months``) gives the article's figure.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import kpi_engine
from addin.recipes import recipe_for
from addin.report.model import ReportInputs, build_report, channel_value, kpi_value
from addin.starter.sample import sample_tables
from tests.conftest import ALL_PROFILE_ENTRIES

pytestmark = pytest.mark.fast


def month(year: int, number: int) -> dt.date:
    return dt.date(year, number, 1)


@pytest.mark.parametrize(
    ("profile", "entry"), ALL_PROFILE_ENTRIES, ids=lambda v: getattr(v, "id", "")
)
def test_a_type_measures_each_kpi_by_the_form_its_entry_names(
    profile: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI
) -> None:
    recipe = recipe_for(profile.id, entry.id)
    assert recipe.kpi_id == entry.id
    if entry.form != entry.id:
        empty = {"Orders": {c: [] for c in ("ordered_at", "delivered_at", "due_on", "status")}}
        assert recipe.engine_call(_rows(empty), 45444.0, 45474.0).function == entry.form


def _rows(tables: dict) -> dict:
    from addin.recipes import as_rows  # noqa: PLC0415

    return as_rows(tables)


def test_songwriting_completion_counts_delivery_by_the_agreed_day() -> None:
    # 001: completed and delivered within the agreed deadline, over all projects of the period.
    orders = {
        "ordered_at": [dt.datetime(2024, 6, d, 9) for d in (1, 2, 3, 4, 5)],
        "status": ["completed", "completed", "completed", "cancelled", "completed"],
        # On the due day (late evening), a day late, on time, never, no date agreed.
        "delivered_at": [
            dt.datetime(2024, 6, 8, 23, 30),
            dt.datetime(2024, 6, 10, 9),
            dt.datetime(2024, 6, 6, 9),
            None,
            dt.datetime(2024, 6, 20, 9),
        ],
        "due_on": [
            dt.date(2024, 6, 8),
            dt.date(2024, 6, 9),
            dt.date(2024, 6, 10),
            dt.date(2024, 6, 9),
            None,
        ],
    }
    value = kpi_value("songwriting", "completion_rate", _rows({"Orders": orders}), month(2024, 6))
    assert value == pytest.approx(3 / 5)
    # The celebrity platform counts completion by status alone, as article 000 does.
    celebrity = kpi_value(
        "celebrity_video", "completion_rate", _rows({"Orders": orders}), month(2024, 6)
    )
    assert celebrity == pytest.approx(4 / 5)
    assert "due_on" in recipe_for("songwriting", "completion_rate").formula("S", "E")


def test_songwriting_engagement_growth_is_quarter_on_quarter() -> None:
    # 001's example: 1,500 engagements in the first quarter, 2,500 in the second: 66.67 %.
    social = {
        "month": [month(2024, m) for m in range(1, 7)],
        "channel": ["Instagram"] * 6,
        "engagements": [400, 500, 600, 800, 850, 850],
    }
    rows = _rows({"Social": social})
    assert kpi_engine.BUSINESS_TYPES["songwriting"].kpi("engagement_growth").months == 3
    assert kpi_value("songwriting", "engagement_growth", rows, month(2024, 6)) == pytest.approx(
        (2500 - 1500) / 1500
    )
    formula = recipe_for("songwriting", "engagement_growth").formula("S", "E")
    assert "EDATE(E,-3)" in formula
    assert "EDATE(since,-3)" in formula


def test_revenue_per_celebrity_divides_by_those_taking_part() -> None:
    # 000: celebrities taking part actively; here those with a message delivered in the month.
    celebrities = {
        "celebrity_id": ["S1", "S2", "S3"],
        "joined_on": [dt.date(2023, 1, 1)] * 3,
        "left_on": [None] * 3,
    }
    orders = {
        "order_id": ["O1", "O2", "O3"],
        "celebrity_id": ["S1", "S2", "S1"],
        "ordered_at": [dt.datetime(2024, 6, 1, 9)] * 3,
        "delivered_at": [
            dt.datetime(2024, 6, 2, 9),
            dt.datetime(2024, 6, 3, 9),
            dt.datetime(2024, 6, 4, 9),
        ],
        "amount": [60000.0, 30000.0, 10000.0],
        "status": ["completed"] * 3,
    }
    rows = _rows({"Orders": orders, "Celebrities": celebrities})
    # 100,000 over the 2 who delivered (S3 is on the roster, idle): 50,000, not 33,333.
    assert kpi_value("celebrity_video", "revenue_per_celebrity", rows, month(2024, 6)) == 50000


def test_the_report_compares_with_the_same_month_a_year_earlier() -> None:
    as_of = dt.date(2024, 7, 15)
    tables = sample_tables("celebrity_video", as_of=as_of)
    report = build_report(ReportInputs("celebrity_video", "en", dt.date(2024, 6, 1), tables))
    summary = report.summary()["kpis"]
    rows = _rows(tables)
    for kpi in report.kpis:
        try:
            expected = kpi_value("celebrity_video", kpi.id, rows, dt.date(2023, 6, 1))
        except kpi_engine.KPIUndefinedError:
            expected = None
        assert kpi.year_ago == expected, kpi.id
        if kpi.value is not None and expected is not None:
            assert kpi.year_change == pytest.approx(kpi.value - expected)
        assert summary[kpi.id]["year_ago"] == kpi.year_ago
    assert any(kpi.year_ago is not None for kpi in report.kpis)


def test_the_report_groups_social_media_by_stage_and_shows_each_channel() -> None:
    tables = sample_tables("social_media", as_of=dt.date(2024, 7, 15))
    tables["Settings"] = {"GROSS_MARGIN": [0.6]}  # the workbook's setting
    report = build_report(ReportInputs("social_media", "fr", dt.date(2024, 6, 1), tables))
    stages = [kpi.stage for kpi in report.kpis]
    assert stages == sorted(stages, key=kpi_engine.STAGES.index)
    assert set(stages) == set(kpi_engine.STAGES)
    reach = next(kpi for kpi in report.kpis if kpi.id == "reach")
    names = [name for name, _ in reach.channels]
    assert len(names) == 3
    # Counts add up over the channels; each channel is its own rows.
    assert sum(value for _, value in reach.channels) == reach.value
    rows = _rows(tables)
    for name, value in reach.channels:
        assert value == channel_value("social_media", "reach", rows, dt.date(2024, 6, 1), name)
    # KPIs of other tables (the website's) have no channel figures.
    assert next(kpi for kpi in report.kpis if kpi.id == "bounce_rate").channels == ()


@pytest.mark.parametrize("language", kpi_engine.LANGUAGES)
def test_the_kpi_sheet_gives_each_stage_a_heading(tmp_path: Path, language: str) -> None:
    from openpyxl import load_workbook  # noqa: PLC0415

    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415
    from addin.starter.build import workbook_words  # noqa: PLC0415
    from kpi_engine._labels import labels  # noqa: PLC0415

    path = tmp_path / "social.xlsx"
    new_workbook(StarterOptions("social_media", language, as_of=dt.date(2024, 7, 15)), path)
    sheet = load_workbook(path)[workbook_words()[language]["sheets"]["kpis"]]
    first_column = [row[0] for row in sheet.iter_rows(values_only=True)]
    profile = kpi_engine.BUSINESS_TYPES["social_media"]
    stage_words = labels(language)["stages"]
    expected = []
    for index, entry in enumerate(profile.kpis):
        if index == 0 or profile.kpis[index - 1].stage != entry.stage:
            expected.append(stage_words[entry.stage])
        expected.append(entry.title[language])
    start = first_column.index(expected[0])
    assert first_column[start : start + len(expected)] == expected
