"""Plain-text renderings of catalogue facts, shared by the CLI and the docs."""

from __future__ import annotations

from ._catalogue import Band, ProfileKPI

_UNIT_SUFFIX = {"hours": " h", "minutes": " min", "fraction": " %"}


def _number(value: float, unit: str) -> str:
    """A figure without its unit: 0.3 as '30' for a fraction, 1500 as '1,500'."""
    if unit == "fraction":
        value = round(value * 100, 10)
    return f"{value:,.10g}" if abs(value) >= 1000 else f"{value:.10g}"


def format_figure(value: float, unit: str) -> str:
    """A figure in the unit's usual form: 0.3 as '30 %', 1500 as '1,500'."""
    return _number(value, unit) + _UNIT_SUFFIX.get(unit, "")


def format_band(band: Band, unit: str) -> str:
    """A band as the article words it: '30-40 %', '> 50 %', '>= 95 %', '~ 40 %'."""
    f = format_figure
    if band.about is not None:
        return f"~ {f(band.about, unit)}"
    low = band.min if band.min is not None else band.above
    high = band.max if band.max is not None else band.below
    if low is not None and high is not None:
        return f"{_number(low, unit)}-{f(high, unit)}"
    if band.min is not None:
        return f">= {f(band.min, unit)}"
    if band.above is not None:
        return f"> {f(band.above, unit)}"
    if band.max is not None:
        return f"<= {f(band.max, unit)}"
    assert band.below is not None
    return f"< {f(band.below, unit)}"


def format_bands(entry: ProfileKPI) -> dict[str, str]:
    return {name: format_band(band, entry.unit) for name, band in entry.bands.items()}
