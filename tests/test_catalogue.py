"""Catalogue invariants over every KPI, business type and language."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import kpi_engine
from kpi_engine import BAND_NAMES, LANGUAGES, display
from kpi_engine._catalogue import KPIS, Band, _profile
from kpi_engine._docs import CATALOGUE_PAGE, render_catalogue_section
from kpi_engine._labels import labels
from tests.conftest import ALL_PROFILE_ENTRIES

pytestmark = pytest.mark.fast

SEED_FILES = {
    "celebrity_video": "000_28244c05cfb26e3e.txt",
    "songwriting": "001_85b63dde80519a2e.txt",
    "networking": "002_562b7edfaea71156.txt",
    "video_marketing": "003_833baf5beb90902a.txt",
    "social_media": "004_e1dc3a0fcabfb965.txt",
}


def test_every_function_takes_the_catalogue_s_arguments_in_order(any_kpi: kpi_engine.KPI) -> None:
    """The ids and argument orders users rely on are those of kpis.toml (the
    loader checks them against the function) and are frozen, for review, in
    tests/snapshots/signatures.txt (see tests/test_registries.py)."""
    function = getattr(kpi_engine, any_kpi.id)
    parameters = list(inspect.signature(function).parameters)
    assert parameters == [argument.name for argument in any_kpi.arguments]
    assert any_kpi.id in kpi_engine.__all__


def test_defaults_of_record_functions() -> None:
    assert inspect.signature(kpi_engine.nps_margin).parameters["confidence"].default == 0.95
    assert inspect.signature(kpi_engine.csat_from_scores).parameters["satisfied_min"].default == 4
    assert (
        inspect.signature(kpi_engine.completion_rate_from_statuses)
        .parameters["completed_status"]
        .default
        == "completed"
    )


def test_every_kpi_is_complete(any_kpi: kpi_engine.KPI, any_language: str) -> None:
    kpi = any_kpi
    assert getattr(kpi_engine, kpi.id) is kpi.function
    assert kpi.title[any_language].strip()
    assert kpi.definition[any_language].strip()
    assert kpi.formula.strip()
    assert kpi.summary, f"{kpi.id} needs a docstring whose first line says what it returns"
    assert kpi.examples, f"{kpi.id} needs a worked example"
    assert all(arg.description for arg in kpi.arguments)
    assert kpi.measures in kpi_engine.KPIS
    assert kpi.unit in labels(any_language)["units"]
    for source in kpi.sources:
        cited = kpi_engine._catalogue.SOURCES[source]
        # An article of the project, the project's own standard definition (said
        # so), or a published work with its publisher, year and address.
        assert (
            source in SEED_FILES.values()
            or (source == "standard" and cited.described)
            or (cited.publisher and cited.published and cited.url)
        )
    assert "Example (" in (kpi.function.__doc__ or ""), "the worked example runs as a doctest"


def test_forms_share_direction_with_their_kpi(any_kpi: kpi_engine.KPI) -> None:
    measured = kpi_engine.KPIS[any_kpi.measures]
    assert any_kpi.direction == measured.direction


def test_titles_differ_between_languages_where_words_differ() -> None:
    # A quick guard against pasting the English text into fr or nl.
    same = [
        k.id
        for k in kpi_engine.KPIS.values()
        if k.definition["en"] in (k.definition["fr"], k.definition["nl"])
    ]
    assert same == []


def test_seed_examples_name_their_seed() -> None:
    for kpi in kpi_engine.KPIS.values():
        for example in kpi.examples:
            assert example.source == "" or example.source in kpi.sources


def test_every_business_type_uses_its_seed(
    any_type: kpi_engine.BusinessType, any_language: str
) -> None:
    assert any_type.source == SEED_FILES[any_type.id]
    assert any_type.title[any_language]
    assert any_type.description[any_language]
    assert any_type.kpis
    for entry in any_type.kpis:
        assert entry.id in kpi_engine.KPIS
        assert entry.title[any_language]


def test_five_business_types() -> None:
    assert set(kpi_engine.BUSINESS_TYPES) == set(SEED_FILES)


def test_songwriting_names_completion_rate_after_songs() -> None:
    entry = kpi_engine.BUSINESS_TYPES["songwriting"].kpi("completion_rate")
    assert entry.title["en"] == "Custom song completion rate"


def test_types_without_article_figures_have_only_external_bands() -> None:
    for type_id in ("video_marketing", "social_media"):
        profile = kpi_engine.BUSINESS_TYPES[type_id]
        for entry in profile.kpis:
            if entry.bands:
                assert entry.external(profile.source), entry.id
            else:
                assert kpi_engine.benchmark_band(entry.id, 1, type_id) == "unrated"
        assert all(profile.unrated.values()), "an unrated KPI says why"


@pytest.mark.parametrize(
    ("business_type", "entry"),
    [p for p in ALL_PROFILE_ENTRIES if p[1].external(p[0].source)],
    ids=lambda v: getattr(v, "id", ""),
)
def test_external_benchmarks_name_a_dated_published_source(
    business_type: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI, any_language: str
) -> None:
    source = kpi_engine._catalogue.SOURCES[entry.source]
    assert source.publisher
    assert source.url.startswith("https://")
    assert re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", source.published)
    assert not source.id.endswith(".txt"), "an article's figures are not external"
    lines = display.external_benchmarks(business_type, any_language)
    assert any(entry.title[any_language] in line and source.url in line for line in lines)


@pytest.mark.parametrize(
    ("business_type", "entry"), ALL_PROFILE_ENTRIES, ids=lambda v: getattr(v, "id", "")
)
def test_bands_ordered_with_direction(
    business_type: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI
) -> None:
    """A better band must ask more: higher thresholds when higher is better."""
    thresholds = [
        entry.bands[name].threshold(entry.direction)[0]
        for name in BAND_NAMES
        if name in entry.bands
    ]
    if entry.direction == "higher":
        assert thresholds == sorted(thresholds, reverse=True)
    else:
        assert thresholds == sorted(thresholds)
    if entry.bands and not entry.external(business_type.source):
        assert entry.source == business_type.source


def _figure_spellings(value: float, unit: str) -> list[str]:
    if unit == "fraction":
        number = round(value * 100, 10)
        text = f"{number:g}"
        return [f"{text}%", f"{text} %", f"{text} à", f"{text}-", f"{text} et", f"{text} "]
    text = f"{value:g}"
    grouped = f"{value:,.0f}".replace(",", " ")
    return [text, grouped]


@pytest.mark.parametrize(
    ("business_type", "entry"),
    [p for p in ALL_PROFILE_ENTRIES if p[1].bands and not p[1].external(p[0].source)],
    ids=lambda v: getattr(v, "id", ""),
)
def test_band_figures_appear_in_the_article(
    business_type: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI, articles: Path
) -> None:
    """Every band figure is one the article gives, not one we made up."""
    article = (articles / business_type.source).read_text(encoding="utf-8").replace("\u00a0", " ")
    for band in entry.bands.values():
        for figure in band.figures().values():
            spellings = _figure_spellings(figure, entry.unit)
            assert any(s in article for s in spellings), (
                f"{entry.id}: {figure} not found as any of {spellings}"
            )


RATING_CASES = [
    # (type, kpi, value, band): boundaries go to the better band; strict bounds stay strict.
    ("celebrity_video", "churn_rate", 0.02, "exceptional"),
    ("celebrity_video", "churn_rate", 0.025, "above_average"),
    ("celebrity_video", "churn_rate", 0.05, "above_average"),
    ("celebrity_video", "churn_rate", 0.09, "typical"),
    ("celebrity_video", "churn_rate", 0.091, "below_typical"),
    ("celebrity_video", "avg_fulfillment_time", 12, "above_average"),
    ("celebrity_video", "avg_fulfillment_time", 11.99, "exceptional"),
    ("celebrity_video", "avg_fulfillment_time", 50, "below_typical"),
    ("celebrity_video", "celebrity_acquisition_rate", 0.4, "typical"),
    ("celebrity_video", "celebrity_acquisition_rate", 0.41, "above_average"),
    ("celebrity_video", "celebrity_acquisition_rate", 0.5, "above_average"),
    ("celebrity_video", "celebrity_acquisition_rate", 0.51, "exceptional"),
    ("celebrity_video", "celebrity_acquisition_rate", 0.2, "below_typical"),
    ("celebrity_video", "nps", 71, "exceptional"),
    ("celebrity_video", "nps", 55, "typical"),
    ("celebrity_video", "nps", 20, "below_typical"),
    ("celebrity_video", "nps_from_counts", 71, "exceptional"),
    ("celebrity_video", "repeat_purchase_rate", 0.45, "typical"),
    ("celebrity_video", "repeat_purchase_rate_from_orders", 0.5, "above_average"),
    ("songwriting", "avg_turnaround_time", 20, "exceptional"),
    ("songwriting", "avg_turnaround_time", 25, "above_average"),
    ("songwriting", "avg_turnaround_time", 40, "typical"),
    ("songwriting", "referral_acquisition_rate", 0.5, "above_average"),
    ("networking", "mau", 100000, "above_average"),
    ("networking", "avg_time_per_visit", 20, "exceptional"),
    ("networking", "csat", 0.74, "below_typical"),
]


@pytest.mark.parametrize(("type_id", "kpi_id", "value", "band"), RATING_CASES)
def test_benchmark_band(type_id: str, kpi_id: str, value: float, band: str) -> None:
    assert kpi_engine.benchmark_band(kpi_id, value, type_id) == band
    assert kpi_engine.benchmark_band(kpi_id.upper(), float(value), type_id.upper()) == band


def test_band_rejects_contradictions() -> None:
    with pytest.raises(kpi_engine.CatalogueError, match="give min or above"):
        kpi_engine._catalogue._band("x", {"min": 1, "above": 2})
    with pytest.raises(kpi_engine.CatalogueError, match="lower bound"):
        kpi_engine._catalogue._band("x", {"min": 5, "max": 2})
    assert Band(about=0.4).threshold("lower") == (0.4, True)


def test_labels_cover_every_language() -> None:
    for language in LANGUAGES:
        words = labels(language)
        assert set(words["ratings"]) == set(kpi_engine.RATINGS)


def test_the_catalogue_page_matches_the_catalogue() -> None:
    page = CATALOGUE_PAGE.read_text(encoding="utf-8")
    section = re.search(r"<!-- catalogue:start -->\n(.*?)<!-- catalogue:end -->", page, re.S)
    assert section, "docs/catalogue.md lacks the catalogue section markers"
    assert section.group(1) == render_catalogue_section(), "run: python -m kpi_engine._docs --write"


# --- targets agree with bands, sources hold their figures ------------------------------


@pytest.mark.parametrize(
    ("business_type", "entry"), ALL_PROFILE_ENTRIES, ids=lambda v: getattr(v, "id", "")
)
def test_default_target_is_rated_at_its_band(
    business_type: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI
) -> None:
    """The default target is the figure of the band it comes from, as an owner
    names it, and every value that meets it by its comparison is rated at
    least at that band; the figure itself meets it only where the band's
    figure is inclusive."""
    target = display.default_target(entry)
    if target is None:
        assert not {"above_average", "exceptional"} & set(entry.bands)
        return
    if entry.target is not None:
        return  # a small business's own target: see the next test
    band = "above_average" if "above_average" in entry.bands else "exceptional"
    figure, inclusive = entry.bands[band].threshold(entry.direction)
    assert target == figure
    comparison = display.target_comparison(entry)
    assert (
        comparison
        == {
            ("higher", True): "≥",
            ("higher", False): ">",
            ("lower", True): "≤",
            ("lower", False): "<",
        }[entry.direction, inclusive]
    )
    order = list(kpi_engine.RATINGS)
    step = display.smallest_step(entry.unit)
    past = target + step if entry.direction == "higher" else target - step
    short = target - step if entry.direction == "higher" else target + step
    assert display.target_met(comparison, target, target) is inclusive
    assert display.target_met(comparison, past, target)
    assert not display.target_met(comparison, short, target)
    for value in (target, past):
        if display.target_met(comparison, value, target):
            rating = entry.rate(value)
            assert order.index(rating) <= order.index(band), (
                f"{business_type.id}/{entry.id}: target {target} met by {value}, rated {rating}"
            )


def test_a_target_of_its_own_is_a_small_business_one_reached_at_the_figure() -> None:
    """Networking's MAU: the article's bands are for platforms of tens of
    thousands of members, so the first target is a small club's, met from
    the figure itself; the bands stay the article's."""
    entry = kpi_engine.BUSINESS_TYPES["networking"].kpi("mau")
    assert entry.target == display.default_target(entry) == 100
    assert display.target_comparison(entry) == "≥"
    assert display.target_met("≥", 100, 100)
    assert entry.rate(100) == "below_typical"
    assert entry.bands["typical"].min == 20000
    assert "Settings" in entry.note


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"target": "100", "note": "why"}, "must be a number"),
        ({"target": True, "note": "why"}, "must be a number"),
        ({"target": 100}, "its note says why"),
    ],
)
def test_a_target_of_its_own_is_checked(raw: dict[str, Any], expected: str) -> None:
    data = {
        "id": "networking",
        "source": "002_562b7edfaea71156.txt",
        "kpis": [{"id": "mau", "typical": {"min": 20000, "max": 100000}, **raw}],
    }
    with pytest.raises(kpi_engine.CatalogueError, match=expected):
        _profile("networking", data, KPIS)


def test_celebrity_nps_target_is_the_strict_band_figure() -> None:
    entry = kpi_engine.BUSINESS_TYPES["celebrity_video"].kpi("nps")
    assert kpi_engine.benchmark_band("nps", 70, "celebrity_video") == "typical"
    assert display.default_target(entry) == 70
    assert display.target_comparison(entry) == ">"
    assert display.format_target(70, ">", "score", "en") == ">\u00a070"
    assert not display.target_met(">", 70, 70)
    assert kpi_engine.benchmark_band("nps", 71, "celebrity_video") == "exceptional"


def _is_article(source: str) -> bool:
    return source.endswith(".txt")


def _tracked_in(source: str) -> set[str]:
    """The KPIs that the business type built on this article tracks."""
    return {e.id for t in kpi_engine.BUSINESS_TYPES.values() if t.source == source for e in t.kpis}


def test_every_cited_article_gives_the_kpi(any_kpi: kpi_engine.KPI) -> None:
    """A KPI names an article only where the article gives it: as a worked
    example, or as a KPI of the business type built on that article."""
    from_examples = {e.source for e in any_kpi.examples if e.source}
    for source in any_kpi.sources:
        assert source in kpi_engine._catalogue.SOURCES
        if _is_article(source):
            assert source in from_examples or any_kpi.measures in _tracked_in(source), (
                f"{any_kpi.id} cites {source}, which neither works an example of it "
                f"nor is the article of a type that tracks it"
            )


def _number_spellings(value: float) -> set[str]:
    """How an article may write a number: 0.2, 0,2, 66,67 %, 100 000 or 100,000."""
    spellings = set()
    for number in (value, round(value * 100, 10)):
        plain = f"{number:g}" if abs(number) < 1e6 else f"{number:.0f}"
        spellings |= {plain, plain.replace(".", ",")}
        if number == int(number) and abs(number) >= 1000:
            grouped = f"{int(number):,}"
            spellings |= {grouped, grouped.replace(",", " "), grouped.replace(",", "\u202f")}
    return spellings


def _figures(example: kpi_engine._catalogue.Example) -> list[float]:
    numbers = [a for a in example.args if isinstance(a, int | float) and not isinstance(a, bool)]
    return [*numbers, example.result]


@pytest.mark.parametrize(
    ("kpi", "example"),
    [(k, e) for k in kpi_engine.KPIS.values() for e in k.examples if _is_article(e.source)],
    ids=lambda v: getattr(v, "id", ""),
)
def test_article_examples_appear_in_their_article(
    kpi: kpi_engine.KPI, example: kpi_engine._catalogue.Example, articles: Path
) -> None:
    """Every figure of a worked example cited from an article is in that article."""
    article = (articles / example.source).read_text(encoding="utf-8").replace("\u00a0", " ")
    for figure in _figures(example):
        spellings = _number_spellings(figure)
        assert any(s in article for s in spellings), (
            f"{kpi.id}: {figure} of the example {example.args} is not in {example.source} "
            f"as any of {sorted(spellings)}"
        )
