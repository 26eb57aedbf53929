"""Every display function against every number a cell can hold, and the ones
it cannot: huge and tiny floats, decimals, whole numbers past a float, NaN
and the infinities.

Up to Excel's largest number (a float's, ±1.8e308) every function answers with
the figure in full; past it, or for NaN, it refuses with
``DisplayRangeError``, whose one-line message names the function and the
value. An amount of 1e30 used to stop ``kpi report`` with
``decimal.InvalidOperation``: the rounding ran out of decimal digits.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpi_engine
from kpi_engine import display
from kpi_engine._catalogue import Band

UNITS = tuple(display.UNIT_DISPLAYS)
LANGUAGES = kpi_engine.LANGUAGES

#: Finite floats of every size, the edges included.
finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            1e26,
            1e30,
            -1e38,
            9.99999999999999e307,
            display.EXCEL_LARGEST,
            -display.EXCEL_LARGEST,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            0.005,
            -0.005,
        ]
    ),
)
#: What a source's DECIMAL(38, s) column gives: a Decimal.
decimals = st.decimals(
    min_value=Decimal("-1e38"), max_value=Decimal("1e38"), allow_nan=False, allow_infinity=False
)
#: Values no cell holds.
outside = st.one_of(
    st.sampled_from(
        [
            math.nan,
            math.inf,
            -math.inf,
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            Decimal("1e400"),
            10**400,
            -(10**309),
        ]
    )
)


def _calls(value: object, unit: str, language: str) -> list[str]:
    """Every display function that takes a value, on ``value``."""
    number = value  # the functions take floats, and whatever converts to one
    return [
        display.format_value(number, unit, language),  # type: ignore[arg-type]
        display.format_value(number, unit, language, "EUR", long=True),  # type: ignore[arg-type]
        display.format_difference(number, unit, language),  # type: ignore[arg-type]
        display.format_difference(number, unit, language, signed=False, long=True),  # type: ignore[arg-type]
    ]


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(finite, decimals, st.integers(min_value=-(10**307), max_value=10**307)),
    unit=st.sampled_from(UNITS),
    language=st.sampled_from(LANGUAGES),
)
def test_every_number_a_cell_holds_is_shown(value: object, unit: str, language: str) -> None:
    for text in _calls(value, unit, language):
        assert re.search(r"\d", text), text
        assert "E" not in text
        assert "nan" not in text.lower()
        assert "inf" not in text.lower()


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(finite, decimals), language=st.sampled_from(LANGUAGES))
def test_money_and_counts_are_shown_in_full(value: object, language: str) -> None:
    """The figure read back from the text is the value rounded half away from
    zero: every digit of 1e30 is there, none is lost or invented."""
    assert isinstance(value, float | Decimal)
    # A Decimal is shown as it is; a float as the shortest decimal that is it.
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    for unit, places in (("count", 0), ("currency", 2)):
        text = display.format_value(value, unit, language)  # type: ignore[arg-type]
        symbols = display._symbols(language)
        digits = re.sub(r"[^\d" + re.escape(symbols["decimal"]) + "]", "", text)
        shown = Decimal(digits.replace(symbols["decimal"], "."))
        with localcontext(prec=400):
            expected = abs(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
        assert shown == expected, (value, text)


@settings(max_examples=60, deadline=None)
@given(value=outside, unit=st.sampled_from(UNITS), language=st.sampled_from(LANGUAGES))
def test_a_number_no_cell_holds_is_refused_by_name(value: object, unit: str, language: str) -> None:
    for call in (display.format_value, display.format_difference):
        with pytest.raises(display.DisplayRangeError) as refused:
            call(value, unit, language)  # type: ignore[operator, arg-type]
        message = str(refused.value)
        assert message.startswith(f"{call.__name__}: cannot show ")
        assert "Excel's range" in message
        assert "\n" not in message
        assert len(message) < 200  # 10**400 is not printed in full


@settings(max_examples=100, deadline=None)
@given(
    value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    unit=st.sampled_from(UNITS),
    language=st.sampled_from(LANGUAGES),
)
def test_band_figures_of_any_size_are_shown(value: float, unit: str, language: str) -> None:
    for band in (Band(min=value), Band(about=value), Band(min=value, max=value)):
        assert re.search(r"\d", display.format_band(band, unit, language))


def test_a_huge_difference_of_rates_is_shown_not_overflowed() -> None:
    """1e307 as a rate is 1e309 percentage points: past a float, not past a decimal."""
    text = display.format_difference(1e307, "fraction", "en")
    assert text.startswith("+1")
    assert text.endswith(" pp")
    assert text.count(",") == 103
