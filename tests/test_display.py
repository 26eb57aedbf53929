"""The formatting layer (kpi_engine.display): text and Excel formats agree,
band figures read back as the catalogue's figures in every language.

The Excel formats are checked by LibreOffice, which renders each cell as a
reader sees it (a CSV export "as shown"), against the text that the
narrative, the CLI and the HTML report write for the same value.
"""

from __future__ import annotations

import csv
import datetime as dt
import re

import pytest
from babel.numbers import parse_decimal
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

import kpi_engine
from kpi_engine import display
from kpi_engine._catalogue import UNITS
from kpi_engine._labels import labels
from tests.libreoffice import convert

LANGUAGES = kpi_engine.LANGUAGES
CURRENCIES = ("USD", "EUR", "GBP")
#: Values that exercise rounding, grouping, zero and negatives.
VALUES = (0.0, 0.17647, 1.0, 12.349, 1803.8, 12345.678, -0.05, -2500.5)
#: Changes, among them some that round to zero in some unit (no sign, no arrow).
CHANGES = (0.1357, -0.02, 0.0, 42.5, -1500.25, -0.0002, 0.00049, -0.004)
MONTH = dt.date(2024, 6, 1)


def _same_spaces(text: str) -> str:
    """Spaces as one kind: LibreOffice and babel may use a no-break space
    where the other uses a narrow one, which a reader cannot tell apart."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text).strip()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], str]:
    """Every unit, difference and month format, as LibreOffice shows it."""
    folder = tmp_path_factory.mktemp("display")
    workbook = Workbook()
    sheet = workbook.active
    keys: list[tuple[str, ...]] = []
    for language in LANGUAGES:
        for unit in sorted(UNITS):
            currencies = CURRENCIES if unit == "currency" else (None,)
            for currency in currencies:
                for value in VALUES:
                    keys.append(("value", language, unit, str(currency), repr(value)))
                    sheet.append([value])
                    sheet.cell(sheet.max_row, 1).number_format = display.excel_format(
                        unit, language, currency
                    )
                for comparison in ("≥", ">", "≤", "<"):
                    keys.append(("target", language, unit, str(currency), comparison))
                    sheet.append([VALUES[3]])
                    sheet.cell(sheet.max_row, 1).number_format = display.excel_target_format(
                        unit, comparison, language, currency
                    )
                for change in CHANGES:
                    keys.append(("change", language, unit, str(currency), repr(change)))
                    sheet.append([display.difference_value(change, unit)])
                    sheet.cell(sheet.max_row, 1).number_format = display.excel_difference_format(
                        unit, language, currency, arrows=True
                    )
        for kind in ("month", "short_month"):
            keys.append(("date", language, kind))
            sheet.append([MONTH])
            sheet.cell(sheet.max_row, 1).number_format = display.excel_date_format(kind, language)
    path = folder / "formats.xlsx"
    workbook.save(path)
    (exported,) = convert([path], folder / "out", fmt="csv:Text - txt - csv (StarCalc):44,34,76,1")
    with exported.open(encoding="utf-8", newline="") as handle:
        shown = [row[0] if row else "" for row in csv.reader(handle)]
    assert len(shown) == len(keys), (len(shown), len(keys))
    return dict(zip(keys, shown, strict=True))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_a_cell_shows_what_the_sentence_says(
    rendered: dict[tuple[str, ...], str], unit: str, language: str
) -> None:
    """The Excel format of a unit renders a value exactly as format_value writes it."""
    for currency in CURRENCIES if unit == "currency" else (None,):
        for value in VALUES:
            cell = rendered["value", language, unit, str(currency), repr(value)]
            text = display.format_value(value, unit, language, currency)
            assert _same_spaces(cell) == _same_spaces(text), (value, currency)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_a_change_cell_shows_the_change_of_the_sentence(
    rendered: dict[tuple[str, ...], str], unit: str, language: str
) -> None:
    """Changes carry an arrow, their sign and their unit (points for rates)."""
    arrows = {1: "▲", -1: "▼", 0: "="}
    for currency in CURRENCIES if unit == "currency" else (None,):
        for change in CHANGES:
            cell = rendered["change", language, unit, str(currency), repr(change)]
            sign = display.shown_sign(change, unit)
            text = f"{arrows[sign]} " + display.format_difference(change, unit, language, currency)
            assert _same_spaces(cell) == _same_spaces(text), (change, currency)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_a_target_cell_shows_its_comparison_as_the_text_does(
    rendered: dict[tuple[str, ...], str], unit: str, language: str
) -> None:
    """A target shows the comparison a value meets it by ("> 70"), in the cell
    as in the report's text."""
    for currency in CURRENCIES if unit == "currency" else (None,):
        for comparison in ("≥", ">", "≤", "<"):
            cell = rendered["target", language, unit, str(currency), comparison]
            text = display.format_target(VALUES[3], comparison, unit, language, currency)
            assert _same_spaces(cell) == _same_spaces(text), (comparison, currency)
            assert cell.startswith(comparison)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_month_cell_shows_the_month_of_the_sentence(
    rendered: dict[tuple[str, ...], str], language: str
) -> None:
    assert rendered["date", language, "month"] == display.format_month(MONTH, language)
    short = rendered["date", language, "short_month"]
    # Excel's "mmm" has no abbreviation dot where CLDR's may have one.
    assert short.rstrip(".") == display.format_month(MONTH, language, short=True).replace(".", "")


def test_rates_change_in_percentage_points_in_every_language() -> None:
    for language in LANGUAGES:
        words = labels(language)["unit_words_long"]["percentage_points"]["other"]
        text = display.format_difference(0.1357, "fraction", language, long=True)
        assert text.endswith(words), text
        assert "%" not in text
        assert "13" in text
        assert "6" in text
    assert display.format_difference(-0.02, "fraction", "en") == "-2.0 pp"


def test_scores_are_whole_numbers_and_their_changes_points() -> None:
    assert display.format_value(22.6, "score", "en") == "23"
    assert display.format_value(-4.4, "score", "fr") == "-4"
    assert display.format_difference(13.6, "score", "en", long=True) == "+14 points"
    assert display.format_difference(-13.6, "score", "nl", long=True) == "-14 punten"


def test_durations_name_their_unit_in_every_language() -> None:
    for language in LANGUAGES:
        for unit in ("hours", "minutes"):
            short = display.format_value(30.94, unit, language)
            long = display.format_value(30.94, unit, language, long=True)
            assert re.search(r"[^\d\s.,\u00a0\u202f]", short), short
            assert re.search(r"[^\W\d_]{3,}", long), long  # a word, not an abbreviation
    assert display.format_value(30.94, "hours", "en", long=True) == "30.9 hours"
    assert display.format_value(2.5, "minutes", "nl", long=True) == "2,5 minuten"


def test_money_follows_the_currency_and_the_language() -> None:
    assert display.format_value(1803.8, "currency", "en") == "$1,803.80"
    assert display.format_value(1803.8, "currency", "en", "EUR") == "€1,803.80"
    assert _same_spaces(display.format_value(1803.8, "currency", "fr", "EUR")) == "1 803,80 €"
    assert _same_spaces(display.format_value(1803.8, "currency", "nl", "GBP")) == "£ 1.803,80"
    assert _same_spaces(display.format_value(-12.5, "currency", "nl", "EUR")) == "€ -12,50"


def test_every_unit_has_one_display_rule() -> None:
    assert set(display.UNIT_DISPLAYS) == set(UNITS)
    for unit, rule in display.UNIT_DISPLAYS.items():
        assert rule.unit == unit
        assert rule.decimals >= 0
        if rule.difference == "percentage_points":
            assert rule.shown_as == "percent"


def _numbers(text: str, language: str) -> list[float]:
    """The figures of a band text, read back with the language's own rules."""
    symbols = display._symbols(language)
    group, decimal = re.escape(symbols["group"]), re.escape(symbols["decimal"])
    # A group separator is one only before three digits; otherwise it ends the figure.
    pattern = rf"\d{{1,3}}(?:{group}\d{{3}})+(?:{decimal}\d+)?|\d+(?:{decimal}\d+)?"
    return [float(parse_decimal(token, locale=language)) for token in re.findall(pattern, text)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_band_texts_read_back_as_the_catalogue_figures(language: str) -> None:
    """Every band of every business type: its figures, read as a reader of the
    language reads them, are the catalogue's ("1 500–3 000 $US" is 1500 to
    3000 in French, never 1.5 to 3)."""
    checked = 0
    for business_type in kpi_engine.BUSINESS_TYPES.values():
        for entry in business_type.kpis:
            percent = display.unit_display(entry.unit).shown_as == "percent"
            for name, band in entry.bands.items():
                text = display.format_band(band, entry.unit, language, business_type.currency)
                figures = [
                    f * 100 if percent else f
                    for f in (band.min, band.above, band.max, band.below, band.about)
                    if f is not None
                ]
                read = _numbers(text, language)
                assert read == pytest.approx(sorted(figures)), (
                    business_type.id,
                    entry.kpi.id,
                    name,
                    text,
                )
                checked += 1
    assert checked > 20


def test_band_texts_use_the_language_separators() -> None:
    band = (
        kpi_engine.BUSINESS_TYPES["celebrity_video"].kpi("revenue_per_celebrity").bands["typical"]
    )
    assert display.format_band(band, "currency", "en", "USD") == "$1,500–$3,000"
    assert _same_spaces(display.format_band(band, "currency", "fr", "USD")) == "1 500–3 000 $US"
    assert _same_spaces(display.format_band(band, "currency", "nl", "USD")) == "US$ 1.500–US$ 3.000"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_unit_has_its_words_in_every_language(language: str) -> None:
    said = labels(language)
    for rule in display.UNIT_DISPLAYS.values():
        for key in ("unit_words", "unit_words_long"):
            for name in (rule.suffix, None if rule.difference == "same" else rule.difference):
                if name:
                    word = said[key][name]
                    forms = [word] if isinstance(word, str) else list(word.values())
                    assert all(form.strip() for form in forms)
                    assert isinstance(word, str) or "other" in word


@pytest.mark.parametrize(
    ("difference", "unit", "language", "expected"),
    [
        (-0.008, "fraction", "fr", "0,8\u00a0point de pourcentage"),
        (0.012, "fraction", "fr", "1,2\u00a0point de pourcentage"),
        (0.02, "fraction", "fr", "2,0 points de pourcentage"),
        (0.01, "fraction", "en", "1.0 percentage points"),
        (1.0, "score", "en", "1 point"),
        (-1.0, "score", "nl", "1 punt"),
        (3.0, "score", "nl", "3 punten"),
        (0.01, "fraction", "nl", "1,0 procentpunten"),
    ],
)
def test_long_unit_words_agree_with_the_figure_by_the_language_plural_rule(
    difference: float, unit: str, language: str, expected: str
) -> None:
    """French keeps the singular below 2 ("0,8 point"); English and Dutch
    make a figure with decimals plural ("1.0 percentage points")."""
    text = display.format_difference(difference, unit, language, signed=False, long=True)
    assert _same_spaces(text) == _same_spaces(expected)


#: A zero with a sign: "-0.0", "+0 pts", "−0,0 %" (the minus of any language).
SIGNED_ZERO = re.compile(r"[-+\u2212]\s?(?:US\$|\$|€|£)?\s?0(?:[.,]0+)?(?![\d.,]*[1-9])")


@given(
    difference=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    unit=st.sampled_from(sorted(UNITS)),
    language=st.sampled_from(LANGUAGES),
    currency=st.sampled_from(CURRENCIES),
)
def test_no_difference_shows_a_signed_zero(
    difference: float, unit: str, language: str, currency: str
) -> None:
    """A difference that shows as zero has neither sign nor arrow, as text and
    as the number a cell holds; one that shows a figure has the figure's sign."""
    text = display.format_difference(difference, unit, language, currency)
    assert not SIGNED_ZERO.search(text), text
    sign = display.shown_sign(difference, unit)
    cell = display.difference_value(difference, unit)
    assert str(cell) != "-0.0"
    assert (cell > 0) - (cell < 0) == sign
    if sign == 0:
        assert text == display.format_difference(difference, unit, language, currency, signed=False)
    else:
        assert sign == ((difference > 0) - (difference < 0))


@pytest.mark.parametrize("difference", [-0.0002, 0.0004, -0.0, 0.0])
def test_a_rate_change_that_rounds_to_zero_is_level(difference: float) -> None:
    assert display.format_difference(difference, "fraction", "en") == "0.0 pp"
    assert display.shown_sign(difference, "fraction") == 0
