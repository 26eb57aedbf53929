"""How KPI values are shown: as text in the reader's language, and as Excel
number formats.

Each unit of the catalogue has one display rule (``catalogue/units.toml``):
a rate is a percent with one decimal, an NPS a whole score whose changes are
points, hours carry their unit, money its currency. Text goes through babel,
so it follows the language ("17.6%", "17,6 %"; "$1,803.80", "1 803,80 $US");
the Excel formats are built from the same babel patterns, so a cell shows
what the sentence beside it says. The KPI sheets, the report sheet, the
charts, the HTML report, the narrative and the CLI all use this module.

>>> format_value(0.17647, "fraction", "en")
'17.6%'
>>> format_value(1803.8, "currency", "fr", "EUR")
'1\\u202f803,80\\xa0€'
>>> format_difference(0.1357, "fraction", "en")
'+13.6 pp'
>>> excel_format("hours", "en")
'[$-409]#,##0.0" hr"'
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache
from importlib import resources
from typing import Literal, ParamSpec, TypeVar

from babel import Locale
from babel.dates import format_datetime, format_skeleton
from babel.numbers import NumberPattern, format_decimal, get_currency_symbol, parse_pattern
from babel.units import format_unit

from ._catalogue import LANGUAGES, UNITS, Band, BusinessType, CatalogueError, ProfileKPI
from ._errors import describe_value
from ._labels import labels

P = ParamSpec("P")
R = TypeVar("R")
ShownAs = Literal["percent", "number", "currency", "duration"]
Difference = Literal["same", "percentage_points", "points"]

#: Excel's locale ids, which make month names follow the workbook's language
#: whatever the language of the Excel that opens it ([$-40C]mmmm: "juin").
EXCEL_LOCALE_IDS: Mapping[str, str] = {"en": "409", "fr": "40C", "nl": "413"}
#: The currency a value is in when nobody says otherwise.
DEFAULT_CURRENCY = "USD"
#: The largest number a cell holds, and so the largest any format here shows
#: (Excel's own, a float's: 1.7976931348623157e308). Past it, a value is
#: refused with ``DisplayRangeError``.
EXCEL_LARGEST = 1.7976931348623157e308


class DisplayRangeError(ValueError):
    """A value no Excel cell can hold (NaN, an infinity, past ±1.8e308) was
    given to be shown. The engine never computes one; the message names the
    function, the value and what was expected."""

    def __init__(self, function: str, value: object, unit: str) -> None:
        super().__init__(
            f"{function}: cannot show {describe_value(value)} as {unit}: expected a finite number "
            f"within Excel's range, ±{EXCEL_LARGEST:.15g}"
        )
        self.function = function
        self.value = value


@dataclass(frozen=True)
class UnitDisplay:
    """The display rule of one unit (see ``catalogue/units.toml``)."""

    unit: str
    shown_as: ShownAs
    decimals: int
    difference: Difference
    cldr_unit: str | None = None
    suffix: str | None = None

    @property
    def difference_scale(self) -> float:
        """What a difference of two values is multiplied by to be in its own
        unit: 100 for rates, whose differences are percentage points."""
        return 100.0 if self.difference == "percentage_points" else 1.0


def _load_units() -> Mapping[str, UnitDisplay]:
    path = resources.files("kpi_engine").joinpath("catalogue", "units.toml")
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    if set(data) != set(UNITS):
        raise CatalogueError(
            f"units.toml must describe exactly the catalogue's units {sorted(UNITS)}; "
            f"it has {sorted(data)}"
        )
    units = {}
    for unit, raw in data.items():
        display = UnitDisplay(unit=unit, **raw)
        if display.shown_as not in ("percent", "number", "currency", "duration"):
            raise CatalogueError(f"units.toml [{unit}]: shown_as {display.shown_as!r} is unknown")
        if (display.shown_as == "duration") != (display.cldr_unit is not None):
            raise CatalogueError(f"units.toml [{unit}]: a duration needs cldr_unit, and only it")
        units[unit] = display
    return units


UNIT_DISPLAYS: Mapping[str, UnitDisplay] = _load_units()


def unit_display(unit: str) -> UnitDisplay:
    return UNIT_DISPLAYS[unit]


def smallest_step(unit: str) -> float:
    """The smallest difference a value of this unit shows: 0.001 for a rate
    shown as 12.3 %, 1 for an NPS, 0.01 for money."""
    display = UNIT_DISPLAYS[unit]
    scale = 2 if display.shown_as == "percent" else 0
    return float(10.0 ** -(display.decimals + scale))


def _target_band(entry: ProfileKPI) -> Band | None:
    """The band a KPI's first target comes from: the article's above-average
    band, else its exceptional band."""
    for name in ("above_average", "exceptional"):
        band = entry.bands.get(name)
        if band is not None:
            return band
    return None


def default_target(entry: ProfileKPI) -> float | None:
    """The first goal a workbook proposes for a KPI: the figure an owner
    would name, that of the article's above-average band (its exceptional
    band where it gives no above-average one): 70 for "more than 70", 40 %
    for "more than 40 %". Where the article's figures are for platforms far
    larger than a small business (monthly active users in the tens of
    thousands), the catalogue names a small business's target instead
    (``target`` in the business type's file). None where the article gives
    no band to aim for. The owner sets their own in Settings.

    A value meets it as it enters that band (see ``target_comparison``).
    """
    if entry.target is not None:
        return entry.target
    band = _target_band(entry)
    return None if band is None else band.threshold(entry.direction)[0]


Comparison = Literal[">", "≥", "<", "≤"]


def target_comparison(entry: ProfileKPI) -> Comparison:
    """How a value meets a KPI's target: the comparison of the band the first
    target comes from (">" for "more than 70": 70 itself is not met; "≥" for
    "at least 95 %"). Where no band gives one, or the catalogue names the
    target itself, reaching the target counts.

    A target shows with it: "> 70", "≤ 5.0%"."""
    band = None if entry.target is not None else _target_band(entry)
    inclusive = True if band is None else band.threshold(entry.direction)[1]
    if entry.direction == "higher":
        return "≥" if inclusive else ">"
    return "≤" if inclusive else "<"


def target_met(comparison: str, value: float, target: float) -> bool:
    """Whether ``value`` meets ``target`` by ``comparison`` (">", "≥", "<", "≤")."""
    return {
        ">": value > target,
        "≥": value >= target,
        "<": value < target,
        "≤": value <= target,
    }[comparison]


#: A comparison as an Excel formula writes it.
EXCEL_COMPARISONS: Mapping[str, str] = {">": ">", "≥": ">=", "<": "<", "≤": "<="}


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _symbols(language: str) -> Mapping[str, str]:
    symbols: Mapping[str, str] = _locale(language).number_symbols["latn"]
    return symbols


def _number_format(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def _words(language: str, long: bool) -> Mapping[str, str]:
    """The unit words written after a figure, in their plain form (the short
    words of cells and Excel formats have one form)."""
    return {
        key: word if isinstance(word, str) else word["other"]
        for key, word in labels(language)["unit_words_long" if long else "unit_words"].items()
    }


def _word_for(language: str, long: bool, key: str, shown: Decimal) -> str:
    """The unit word after the figure ``shown``, in the plural form the
    language's rule gives it: "0,8 point de pourcentage", "2 points";
    "1.0 percentage points" (a figure with decimals is plural in English).

    >>> _word_for("fr", True, "percentage_points", Decimal("0.8"))
    'point de pourcentage'
    >>> _word_for("en", True, "points", Decimal("1"))
    'point'
    """
    word = labels(language)["unit_words_long" if long else "unit_words"][key]
    if isinstance(word, str):
        return word
    form = _locale(language).plural_form(shown)
    return str(word.get(form, word["other"]))


# --- text ----------------------------------------------------------------------------


#: Digits enough for every float in full with its decimals: the default 28
#: would make rounding 1e26 to cents fail (decimal.InvalidOperation).
_DIGITS = 400


def _exact(value: float, function: str, unit: str) -> Decimal:
    """``value`` as the Decimal it is, or ``DisplayRangeError`` for a value no
    cell holds (an int too large for a float included)."""
    try:
        number = float(value)
    except (OverflowError, ValueError):  # an int past a float; Decimal('sNaN')
        raise DisplayRangeError(function, value, unit) from None
    if not math.isfinite(number):
        raise DisplayRangeError(function, value, unit)
    return Decimal(repr(number))


def _rounded(value: float | Decimal, decimals: int) -> Decimal:
    """``value`` rounded as Excel and LibreOffice round what a cell shows:
    halves away from zero (babel would round them to even, so that 42.5
    read "42" beside a cell showing 43), and no sign on a zero ("0", not "-0").

    >>> str(_rounded(42.5, 0)), str(_rounded(-0.05, 1)), str(_rounded(-0.04, 1))
    ('43', '-0.1', '0.0')
    """
    exact = value if isinstance(value, Decimal) else _exact(value, "display", "a number")
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return abs(rounded) if rounded == 0 else rounded


def _wide(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` with decimal digits enough for any float (``_DIGITS``),
    in its own context: babel rounds within the current one too."""

    @functools.wraps(function)
    def wide(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(prec=_DIGITS):
            return function(*args, **kwargs)

    return wide


def _plain(value: float | Decimal, decimals: int, language: str) -> str:
    return format_decimal(
        _rounded(value, decimals), format=_number_format(decimals), locale=language
    )


def _patterned(
    value: float, shown_as: str, decimals: int, language: str, currency: str | None
) -> str:
    """A percentage or an amount of money through the language's CLDR pattern."""
    if shown_as == "percent":
        # The pattern scales by 100: round in the unit the reader sees.
        shown = _rounded(value, decimals + 2)
        return str(_percent_pattern(language, decimals).apply(shown, _locale(language)))
    pattern = _currency_pattern(language, decimals)
    return str(
        pattern.apply(
            _rounded(value, decimals),
            _locale(language),
            currency=currency or DEFAULT_CURRENCY,
            currency_digits=False,
        )
    )


@_wide
def format_value(
    value: float,
    unit: str,
    language: str,
    currency: str | None = None,
    *,
    long: bool = False,
) -> str:
    """A value of ``unit`` as a reader of ``language`` writes it, with its unit.

    ``long`` spells the unit out where it is a word ("30.9 hours" rather than
    "30.9 hr"), for sentences.

    >>> format_value(30.94, "hours", "fr")
    '30,9\\u202fh'
    >>> format_value(12345, "count", "nl")
    '12.345'
    >>> format_value(22.2, "score", "en")
    '22'
    """
    display = unit_display(unit)
    _exact(value, "format_value", unit)
    if display.shown_as in ("percent", "currency"):
        return _patterned(value, display.shown_as, display.decimals, language, currency)
    if display.shown_as == "duration":
        assert display.cldr_unit is not None
        return str(
            format_unit(
                _rounded(value, display.decimals),
                display.cldr_unit,
                length="long" if long else "short",
                format=_number_format(display.decimals),
                locale=language,
            )
        )
    text = _plain(value, display.decimals, language)
    if display.suffix:
        shown = _rounded(value, display.decimals)
        text += " " + _word_for(language, long, display.suffix, abs(shown))
    return text


def _difference_decimals(unit: str) -> int:
    """The decimals a difference of ``unit`` shows, in its own unit (points
    for rates and scores, the unit itself otherwise)."""
    return unit_display(unit).decimals


def format_target(
    target: float, comparison: str, unit: str, language: str, currency: str | None = None
) -> str:
    """A target with the comparison a value meets it by: "> 70", "≥ 95.0%".

    >>> format_target(70, ">", "score", "fr")
    '>\xa070'
    """
    return f"{comparison}\u00a0{format_value(target, unit, language, currency)}"


def counted(language: str, forms: Mapping[str, str], count: int) -> str:
    """``count`` in the text of the plural form the language's rule gives it
    (CLDR's categories: ``one``, ``other``...), its figure as the language
    writes it: never a noun made plural by adding letters to it.

    >>> counted("fr", {"one": "{count} ligne", "other": "{count} lignes"}, 1)
    '1 ligne'
    >>> counted("fr", {"one": "{count} ligne", "other": "{count} lignes"}, 1500)
    '1\u202f500 lignes'
    """
    form = _locale(language).plural_form(count)
    text = forms.get(form, forms["other"])
    return text.format(count=format_value(count, "count", language))


@_wide
def difference_value(difference: float, unit: str) -> float:
    """A difference of two values of ``unit`` in its own unit, rounded as it
    is shown: 0.1357 between two rates is 13.6 percentage points. A cell that
    holds it picks its format's section (up, down, level) from what it
    shows, so that 1.0 % against 1.02 % reads "= 0.0 pp", never "▼ -0.0 pp".

    >>> difference_value(0.1357, "fraction"), difference_value(-0.0002, "fraction")
    (13.6, 0.0)
    """
    # In decimals: a float product could overflow to inf.
    scale = Decimal(repr(unit_display(unit).difference_scale))
    exact = _exact(difference, "difference_value", unit)
    return float(_rounded(exact * scale, _difference_decimals(unit)))


@_wide
def shown_sign(difference: float, unit: str) -> int:
    """1, -1 or 0: the sign of a difference of ``unit`` as it is shown. A
    difference that rounds to zero has none: -0.0002 between two rates shows
    as 0.0 points, level, with neither sign nor arrow.

    >>> shown_sign(-0.0002, "fraction"), shown_sign(-0.0006, "fraction"), shown_sign(0.4, "score")
    (0, -1, 0)
    """
    # In decimals, as format_difference shows it: a float product could overflow to inf.
    scale = Decimal(repr(unit_display(unit).difference_scale))
    shown = _rounded(_exact(difference, "shown_sign", unit) * scale, _difference_decimals(unit))
    return (shown > 0) - (shown < 0)


@_wide
def format_difference(
    difference: float,
    unit: str,
    language: str,
    currency: str | None = None,
    *,
    signed: bool = True,
    long: bool = False,
) -> str:
    """The difference of two values of ``unit``, with its sign and its unit.

    Differences of rates are percentage points and those of scores points:
    a completion rate going from 80 % to 90 % has risen by 10 points, not 10 %.

    >>> format_difference(-2.0, "score", "en")
    '-2 pts'
    >>> format_difference(0.1357, "fraction", "fr", long=True)
    '+13,6 points de pourcentage'
    >>> format_difference(4.22, "hours", "nl", signed=False)
    '4,2 uur'
    """
    display = unit_display(unit)
    exact = _exact(difference, "format_difference", unit)
    magnitude = abs(difference)
    if display.difference == "same":
        text = format_value(magnitude, unit, language, currency, long=long)
    else:
        decimals = display.decimals
        # In decimals: a float product could overflow to inf.
        scaled = abs(exact) * Decimal(repr(display.difference_scale))
        text = _plain(scaled, decimals, language)
        text += " " + _word_for(language, long, display.difference, _rounded(scaled, decimals))
    if not signed or shown_sign(difference, unit) == 0:
        # A zero never carries a sign, nor does what rounds to one ("0.0 pp").
        return text
    symbols = _symbols(language)
    return (symbols["minusSign"] if difference < 0 else symbols["plusSign"]) + text


# --- Excel number formats --------------------------------------------------------------


def _quoted(text: str) -> str:
    """Literal text inside an Excel number format."""
    return f'"{text}"' if text else ""


def _percent_pattern(language: str, decimals: int) -> NumberPattern:
    pattern = _locale(language).percent_formats[None]
    prefix, suffix = pattern.prefix[0], pattern.suffix[0]
    return _pattern(f"{prefix}{_number_format(decimals)}{suffix}", decimals)


def _currency_pattern(language: str, decimals: int) -> NumberPattern:
    pattern = _locale(language).currency_formats["standard"]
    return _pattern(
        ";".join(
            f"{prefix}{_number_format(decimals)}{suffix}"
            for prefix, suffix in zip(pattern.prefix, pattern.suffix, strict=True)
        ),
        decimals,
    )


def _pattern(text: str, decimals: int) -> NumberPattern:
    pattern = parse_pattern(text)
    pattern.frac_prec = (decimals, decimals)
    return pattern


def _excel_affix(text: str, currency_symbol: str) -> str:
    """A babel prefix or suffix as Excel literals: the percent sign stays
    unquoted (it scales the value), every other character is quoted."""
    parts = re.split(r"(%)", text.replace("¤", currency_symbol))
    return "".join(part if part == "%" else _quoted(part) for part in parts)


def _unit_suffix(display: UnitDisplay, language: str) -> str:
    """The text after the figure in a duration's short form ("" hr", " h")."""
    assert display.cldr_unit is not None
    marker = 7
    shown = str(format_unit(marker, display.cldr_unit, length="short", format="0", locale=language))
    before, _, after = shown.partition(str(marker))
    return _quoted(before) + "{number}" + _quoted(after)


def _localised(sections: list[str], language: str) -> str:
    """Number format sections joined, each marked with the language's locale:
    LibreOffice then writes the figure with that language's separators; Excel
    keeps the separators of the machine it runs on."""
    prefix = f"[$-{EXCEL_LOCALE_IDS[language]}]"
    return ";".join(prefix + section for section in sections)


def excel_format(unit: str, language: str, currency: str | None = None) -> str:
    """The Excel number format of a value of ``unit`` in a ``language`` workbook.

    The unit around the figure is the language's ("30.9 hr", "30,9 h").

    >>> excel_format("fraction", "fr")
    '[$-40C]#,##0.0"\\xa0"%'
    >>> excel_format("currency", "nl", "EUR")
    '[$-413]"€\\xa0"#,##0.00;[$-413]"€\\xa0-"#,##0.00'
    """
    return _localised(_format_sections(unit, language, currency), language)


def _format_sections(unit: str, language: str, currency: str | None) -> list[str]:
    display = unit_display(unit)
    number = _number_format(display.decimals)
    if display.shown_as == "percent":
        pattern = _locale(language).percent_formats[None]
        return [_excel_affix(pattern.prefix[0], "") + number + _excel_affix(pattern.suffix[0], "")]
    if display.shown_as == "currency":
        symbol = get_currency_symbol(currency or DEFAULT_CURRENCY, locale=language)
        pattern = _locale(language).currency_formats["standard"]
        sections = [
            _excel_affix(prefix, symbol) + number + _excel_affix(suffix, symbol)
            for prefix, suffix in zip(pattern.prefix, pattern.suffix, strict=True)
        ]
        return sections if sections[0] != sections[1] else sections[:1]
    if display.shown_as == "duration":
        return [_unit_suffix(display, language).replace("{number}", number)]
    if display.suffix:
        return [number + _quoted(" " + _words(language, False)[display.suffix])]
    return [number]


def excel_target_format(
    unit: str, comparison: str, language: str, currency: str | None = None
) -> str:
    """The Excel format of a target cell: the value's, after the comparison a
    value meets it by, as ``format_target`` writes it ("> 70").

    >>> excel_target_format("score", ">", "en")
    '[$-409]">\xa0"#,##0'
    """
    return _localised(
        [
            _quoted(comparison + "\u00a0") + section
            for section in _format_sections(unit, language, currency)
        ],
        language,
    )


def excel_difference_format(
    unit: str, language: str, currency: str | None = None, *, arrows: bool = False
) -> str:
    """The Excel format of a difference of two values of ``unit``, signed;
    with ``arrows``, an up or down triangle before it (a change over time).

    The cell holds the difference in its own unit (``difference_value``):
    percentage points for rates.

    >>> excel_difference_format("fraction", "en", arrows=True)
    '[$-409]"▲ +"#,##0.0" pp";[$-409]"▼ -"#,##0.0" pp";[$-409]"= "#,##0.0" pp"'
    """
    display = unit_display(unit)
    if display.difference == "same":
        # The positive section: the sign is written before it.
        magnitude = _format_sections(unit, language, currency)[0]
    else:
        word = _words(language, False)[display.difference]
        magnitude = _number_format(display.decimals) + _quoted(" " + word)
    symbols = _symbols(language)
    up, down, flat = ("▲ ", "▼ ", "= ") if arrows else ("", "", "")
    return _localised(
        [
            _quoted(up + symbols["plusSign"]) + magnitude,
            _quoted(down + symbols["minusSign"]) + magnitude,
            _quoted(flat) + magnitude,
        ],
        language,
    )


# --- dates -----------------------------------------------------------------------------

#: CLDR date fields and their Excel codes.
_EXCEL_DATE_FIELDS = {
    "y": "yyyy",
    "yy": "yy",
    "yyyy": "yyyy",
    "M": "m",
    "MM": "mm",
    "MMM": "mmm",
    "MMMM": "mmmm",
    "d": "d",
    "dd": "dd",
    "H": "h",
    "HH": "hh",
    "m": "m",
    "mm": "mm",
}


#: Characters that Excel's date formats show as they are, unquoted. Quoting
#: them could keep Excel from reading "hh:mm" as hours and minutes.
_EXCEL_PLAIN = re.compile(r"[ ,.:/\-]+")


def _excel_date(pattern: str) -> str:
    """A CLDR date pattern ("d MMM y, HH:mm") as an Excel date format."""
    out = []
    for match in re.finditer(r"'([^']*)'|(([A-Za-z])\3*)|([^A-Za-z']+)", pattern):
        literal, field, _, other = match.groups()
        if literal is not None:
            out.append(_quoted(literal or "'"))
        elif field is not None:
            if field not in _EXCEL_DATE_FIELDS:
                raise ValueError(f"no Excel date code for the CLDR field {field!r} in {pattern!r}")
            out.append(_EXCEL_DATE_FIELDS[field])
        else:
            out.append(other if _EXCEL_PLAIN.fullmatch(other) else _quoted(other))
    return "".join(out)


_SKELETONS = {"month": "yMMMM", "short_month": "yMMM", "day": "yMMMd", "time": "Hm"}
DateKind = Literal["month", "short_month", "moment"]


def _cldr_pattern(kind: DateKind, language: str) -> str:
    skeletons = _locale(language).datetime_skeletons
    if kind != "moment":
        return str(skeletons[_SKELETONS[kind]].pattern)
    joined: str = _locale(language).datetime_formats["medium"]
    return joined.replace("{1}", str(skeletons[_SKELETONS["day"]].pattern)).replace(
        "{0}", str(skeletons[_SKELETONS["time"]].pattern)
    )


def excel_date_format(kind: DateKind, language: str) -> str:
    """The Excel format of a month ("June 2024", or "Jun 2024" for
    ``short_month``) or a moment ("Jul 1, 2024, 08:30") in ``language``, month
    names included.

    >>> excel_date_format("month", "fr")
    '[$-40C]mmmm yyyy'
    """
    return f"[$-{EXCEL_LOCALE_IDS[language]}]" + _excel_date(_cldr_pattern(kind, language))


def format_month(month: dt.date, language: str, *, short: bool = False) -> str:
    """A month as ``language`` names it: "June 2024", "juin 2024"; ``short``
    abbreviates the name where the language does, for chart axes.

    >>> format_month(dt.date(2024, 6, 1), "nl", short=True)
    'jun 2024'
    """
    skeleton = _SKELETONS["short_month" if short else "month"]
    return str(format_skeleton(skeleton, month, locale=language))


def every_month(language: str) -> list[str]:
    """The twelve months of a year as ``language`` names them ("January 2024"
    ... "December 2024"): a cell that shows any month is as wide as the
    longest. Digits are all as wide in the workbooks' font, so any year of
    four digits measures the same."""
    return [format_month(dt.date(2024, month, 1), language) for month in range(1, 13)]


def format_moment(moment: dt.datetime, language: str) -> str:
    """A date and time as ``language`` writes it, with the month's name."""
    return str(format_datetime(moment, _cldr_pattern("moment", language), locale=language))


# --- benchmark bands -------------------------------------------------------------------


def _figure(value: float, unit: str, language: str, currency: str | None, bare: bool) -> str:
    """A band's figure: as many decimals as it has (30 %, 2.5 h), its unit
    unless ``bare`` (the lower end of a range)."""
    display = unit_display(unit)
    scaled = value * 100 if display.shown_as == "percent" else value
    decimals = max(len(f"{round(scaled, 6):g}".partition(".")[2]), 0)
    if bare or (display.shown_as == "number" and not display.suffix):
        return _plain(scaled, decimals, language)
    if display.shown_as in ("percent", "currency"):
        return _patterned(value, display.shown_as, decimals, language, currency)
    if display.shown_as == "duration":
        assert display.cldr_unit is not None
        return str(
            format_unit(
                value,
                display.cldr_unit,
                length="short",
                format=_number_format(decimals),
                locale=language,
            )
        )
    return _plain(scaled, decimals, language) + " " + _words(language, False)[str(display.suffix)]


@_wide
def format_band(band: Band, unit: str, language: str, currency: str | None = None) -> str:
    """A band as the article words it, in ``language``: "30–40%",
    "1 500–3 000 $US", "> 50 %", "≥ 95%", "~ 40%".

    >>> format_band(Band(min=1500, max=3000), "currency", "nl", "USD")
    'US$\xa01.500–US$\xa03.000'
    """
    f = _figure
    if band.about is not None:
        return f"~ {f(band.about, unit, language, currency, False)}"
    low = band.min if band.min is not None else band.above
    high = band.max if band.max is not None else band.below
    if low is not None and high is not None:
        bare = f(low, unit, language, currency, True)
        whole = f(low, unit, language, currency, False)
        # "30–40 %": one unit for the range where the unit follows the figure;
        # "$1,500–$3,000" where it comes first.
        first = bare if whole.startswith(bare) else whole
        return f"{first}–{f(high, unit, language, currency, False)}"
    if band.min is not None:
        return f"≥ {f(band.min, unit, language, currency, False)}"
    if band.above is not None:
        return f"> {f(band.above, unit, language, currency, False)}"
    if band.max is not None:
        return f"≤ {f(band.max, unit, language, currency, False)}"
    assert band.below is not None
    return f"< {f(band.below, unit, language, currency, False)}"


def format_bands(entry: ProfileKPI, language: str, currency: str | None = None) -> dict[str, str]:
    """The bands of a business type's KPI, by band name, in ``language``."""
    return {
        name: format_band(band, entry.unit, language, currency)
        for name, band in entry.bands.items()
    }


def _check_languages() -> None:
    missing = set(LANGUAGES) - set(EXCEL_LOCALE_IDS)
    if missing:
        raise CatalogueError(f"display.EXCEL_LOCALE_IDS lacks {sorted(missing)}")


_check_languages()

__all__ = [
    "EXCEL_LOCALE_IDS",
    "UNIT_DISPLAYS",
    "UnitDisplay",
    "counted",
    "difference_value",
    "every_month",
    "excel_date_format",
    "excel_difference_format",
    "excel_format",
    "excel_target_format",
    "format_band",
    "format_bands",
    "format_difference",
    "format_moment",
    "format_month",
    "format_target",
    "format_value",
    "shown_sign",
    "target_comparison",
    "target_met",
    "unit_display",
]


def external_benchmarks(profile: BusinessType, language: str) -> list[str]:
    """One line per KPI whose bands are an external benchmark: the KPI's title
    and the source (publisher, title, date, address), in the reader's language."""
    from ._catalogue import SOURCES  # noqa: PLC0415

    said = str(labels(language)["benchmark_sources"]["external"])
    lines = []
    for entry in profile.kpis:
        if entry.external(profile.source):
            source = SOURCES[entry.source]
            lines.append(
                said.format(
                    kpi=entry.title[language],
                    publisher=source.publisher,
                    title=source.cited(language),
                    published=source.published,
                    url=source.url,
                )
            )
    return lines
