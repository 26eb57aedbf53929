"""The report's sentences in every language, and the reasons a KPI has no value.

A manager forwards these sentences as they are: they carry units and a
sensible precision, changes of rates in percentage points, the reasons in
the reader's language, and no engine ids, file names or English words in a
French or Dutch report.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import addin
import kpi_engine
from addin.report.model import KPIReport, Report, ReportInputs, build_report, reasons
from addin.report.narrative import sentence
from addin.starter import StarterOptions, new_workbook
from kpi_engine import display
from kpi_engine._labels import labels
from tests.completeness import zeroed_codes
from tests.report_support import FIXED_CLOCK
from tests.starter_reader import read_workbook

AS_OF = dt.date(2024, 7, 15)
LANGUAGES = kpi_engine.LANGUAGES
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Each business type's sample rows, read from its starter workbook."""
    folder = tmp_path_factory.mktemp("narrative")
    rows = {}
    for business_type in kpi_engine.BUSINESS_TYPES:
        path = folder / f"{business_type}.xlsx"
        new_workbook(StarterOptions(business_type, "en", as_of=AS_OF), path)
        _, _, rows[business_type] = read_workbook(path)
    return rows


def _report(
    rows: dict[str, dict[str, object]], business_type: str, language: str, **kwargs: object
) -> Report:
    inputs = ReportInputs(
        business_type, language, kwargs.pop("period", dt.date(2024, 6, 1)), rows[business_type]
    )
    return build_report(dataclasses.replace(inputs, **kwargs), lambda: FIXED_CLOCK)


# --- the reasons -----------------------------------------------------------------------


def _literal_codes() -> set[str]:
    """Every code written as a literal in a ``KPIUndefinedError(...)`` of the
    engine or the add-in (the third argument)."""
    codes = set()
    for folder in (Path(kpi_engine.__file__).parent, Path(addin.__file__).parent):
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "attr", getattr(node.func, "id", ""))
                    == "KPIUndefinedError"
                    and len(node.args) == 3
                    and isinstance(node.args[2], ast.Constant)
                ):
                    codes.add(node.args[2].value)
    return codes


def _zeroed_codes() -> Iterator[str]:
    """Every reason an aggregate KPI gives when any of its worked example's
    arguments is 0, the others as in its worked example."""
    for kpi in kpi_engine.KPIS.values():
        yield from zeroed_codes(kpi)


def _empty_month_codes(rows: dict[str, dict[str, object]]) -> Iterator[str]:
    """The reasons of every KPI of every business type in a month with no data."""
    for business_type in kpi_engine.BUSINESS_TYPES:
        report = _report(rows, business_type, "en", period=dt.date(2001, 3, 1))
        for kpi in report.kpis:
            if kpi.value is None:  # a count such as MAU is 0 in an empty month
                yield kpi.reason


@pytest.mark.fast
def test_every_reason_the_engine_and_the_recipes_give_has_words_in_every_language(
    sample_rows: dict[str, dict[str, object]],
) -> None:
    reached = set(_zeroed_codes()) | set(_empty_month_codes(sample_rows))
    codes = reached | _literal_codes()
    assert "" not in codes
    assert {"no_responses", "zero_cost", "no_customers_at_start"} <= codes
    for language in LANGUAGES:
        missing = codes - set(reasons(language))
        assert not missing, (language, sorted(missing))
    # No words are kept for a reason nothing gives.
    assert set(reasons("en")) - codes == {"bad_setting"}


@pytest.mark.fast
@pytest.mark.parametrize("language", ["fr", "nl"])
def test_reasons_are_translated_and_end_a_sentence(language: str) -> None:
    english, said = reasons("en"), reasons(language)
    assert set(said) == set(english)
    for code, text in said.items():
        assert text.strip(), (language, code)
        assert text != english[code], (language, code)
        assert not text.endswith("."), (language, code)  # the template adds the full stop
        assert re.findall(r"\{(\w+)\}", text) == re.findall(r"\{(\w+)\}", english[code])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_kpi_with_no_value_says_why_in_the_report_language(
    sample_rows: dict[str, dict[str, object]], language: str
) -> None:
    """Each reason, put in the sentence of a KPI without value, reads in the
    report's language: its month name, the reason's words, no English."""
    report = _report(sample_rows, "celebrity_video", language)
    kpi = report.kpis[0]
    month = display.format_month(report.period, language)
    english = reasons("en")
    for code, words in reasons(language).items():
        if "{" in words:
            continue  # bad_setting: its own test below
        undefined = dataclasses.replace(kpi, value=None, reason=code, reason_text=words)
        text = sentence(report, undefined)
        assert text.startswith(kpi.title), text
        assert month in text, text
        assert words in text, text
        if language != "en":
            assert english[code] not in text, text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_setting_out_of_range_is_named_in_the_report_language(
    sample_rows: dict[str, dict[str, object]], language: str
) -> None:
    # Social media measures lifetime value with the gross margin (video
    # marketing measures it as revenue, as its article does).
    rows = dict(sample_rows)
    rows["social_media"] = dict(rows["social_media"])
    rows["social_media"]["Settings"] = {"GROSS_MARGIN": [1.5]}
    report = _report(rows, "social_media", language)
    clv = next(k for k in report.kpis if k.id == "customer_lifetime_value")
    assert clv.value is None
    assert clv.reason == "bad_setting"
    assert "GROSS_MARGIN" in clv.narrative
    assert "1.5" in clv.narrative.replace(",", ".")
    assert clv.reason_text in clv.narrative


# --- the sentences ---------------------------------------------------------------------


def _every_report(rows: dict[str, dict[str, object]]) -> Iterator[tuple[Report, KPIReport]]:
    for business_type, language in itertools.product(kpi_engine.BUSINESS_TYPES, LANGUAGES):
        report = _report(rows, business_type, language)
        for kpi in report.kpis:
            yield report, kpi


def test_sentences_carry_the_figures_of_the_cells_with_their_units(
    sample_rows: dict[str, dict[str, object]],
) -> None:
    """The value, the previous value, the change, the target and the gap of
    every KPI of every business type, in every language, as display writes
    them (long unit words), so the sentence and the cells say the same."""
    checked = 0
    for report, kpi in _every_report(sample_rows):
        text, language = kpi.narrative, report.language
        if kpi.value is None:
            assert kpi.reason_text in text
            continue
        assert report.text(kpi, kpi.value, long=True) in text, text
        if kpi.previous is not None and kpi.shown_sign(kpi.change):
            assert report.text(kpi, kpi.previous, long=True) in text, text
            change = report.difference_text(kpi, kpi.change, signed=False, long=True)
            assert change in text, text
            unit_rule = display.unit_display(kpi.unit)
            if unit_rule.difference != "same":
                word = labels(language)["unit_words_long"][unit_rule.difference]
                assert change.endswith(tuple(word.values())), change
        if kpi.target is not None:
            assert report.text(kpi, kpi.target, long=True) in text, text
            if kpi.target_met is False:
                assert report.difference_text(kpi, kpi.gap, signed=False, long=True) in text
        checked += 1
    assert checked > 50


def test_sentences_hold_no_ids_file_names_or_raw_floats(
    sample_rows: dict[str, dict[str, object]],
) -> None:
    for report, kpi in _every_report(sample_rows):
        text = kpi.narrative
        # An underscore would be an id (below_typical, zero_cost) or a file name.
        assert ".txt" not in text, text
        assert "_" not in text, text
        assert "None" not in text, text
        assert "{" not in text, text
        assert not re.search(r"\d[.,]\d{3}\d", text), text  # no float with many decimals
        article_words = {"en": "article", "fr": "article", "nl": "artikel"}
        assert article_words[report.language] not in text.lower(), text


def test_nps_is_a_whole_score_and_its_change_points(
    sample_rows: dict[str, dict[str, object]],
) -> None:
    for report, kpi in _every_report(sample_rows):
        if kpi.id != "nps" or kpi.value is None:
            continue
        decimal = display._symbols(report.language)["decimal"]
        value = report.text(kpi, kpi.value, long=True)
        assert decimal not in value, value
        assert "%" not in kpi.narrative.split("±")[0], kpi.narrative
        if kpi.change:
            points = labels(report.language)["unit_words_long"]["points"]
            change = report.difference_text(kpi, kpi.change, signed=False, long=True)
            assert change.endswith(tuple(points.values())), change


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_french_and_dutch_sentences_hold_no_english(
    sample_rows: dict[str, dict[str, object]], language: str
) -> None:
    english = labels("en")
    english_words = {
        *english["ratings"].values(),
        *(form for forms in english["unit_words_long"].values() for form in forms.values()),
        *reasons("en").values(),
        "the month before",
        "target",
        "benchmark",
    }
    # "points" is French too ("points de pourcentage").
    own = [str(v) for group in labels(language).values() for v in group.values()]
    english_words = {w for w in english_words if not any(w in text for text in own)}
    for business_type in kpi_engine.BUSINESS_TYPES:
        report = _report(sample_rows, business_type, language)
        for kpi in report.kpis:
            for words in english_words:
                assert words not in kpi.narrative, (words, kpi.narrative)


def test_the_sentences_follow_the_language_number_rules(
    sample_rows: dict[str, dict[str, object]],
) -> None:
    """ "17,6 %" in French and Dutch, "17.6%" in English: the same figure."""
    for business_type in kpi_engine.BUSINESS_TYPES:
        by_language = {
            language: _report(sample_rows, business_type, language) for language in LANGUAGES
        }
        for index, kpi in enumerate(by_language["en"].kpis):
            if kpi.value is None or display.unit_display(kpi.unit).shown_as != "percent":
                continue
            for language, report in by_language.items():
                shown = report.text(report.kpis[index], report.kpis[index].value, long=True)
                decimal = display._symbols(language)["decimal"]
                assert decimal in shown, shown
                assert shown in report.kpis[index].narrative


def test_the_templates_are_the_ones_in_templates() -> None:
    """One template per language, in the source tree, and nothing else writes sentences."""
    found = sorted(p.name for p in (REPO / "templates" / "report").glob("narrative.*.j2"))
    assert found == sorted(f"narrative.{language}.j2" for language in LANGUAGES)
