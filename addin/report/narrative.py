"""The report's sentences: a few per KPI, in the report's language, from
the Jinja2 templates ``templates/report/narrative.<language>.j2``.

Every figure is formatted by ``kpi_engine.display`` before it reaches a
template, so a sentence carries the same units and precision as the cells
beside it: changes of rates in percentage points, durations with their
unit, money in the workbook's currency.
"""

from __future__ import annotations

import re
from functools import cache

import jinja2

from addin.report.model import KPIReport, Report, words
from kpi_engine import display
from kpi_engine.texts import labels, templates_dir


def template_loader() -> jinja2.BaseLoader:
    """The report's templates (``templates/report/``), installed or in the
    source tree: the narrative's and the HTML page's."""
    return jinja2.FunctionLoader(
        lambda name: templates_dir().joinpath("report", name).read_text(encoding="utf-8")
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=template_loader(),
        autoescape=False,  # plain text for a cell; the HTML page escapes it itself
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def counted(language: str, forms: dict[str, str], count: int) -> str:
    """``count`` with the noun in the plural form the language needs."""
    return display.counted(language, forms, count)


def sentence(report: Report, kpi: KPIReport) -> str:
    """What the figures of one KPI say, in one or a few sentences."""
    language = report.language
    said = words(language)
    change_sign = kpi.shown_sign(kpi.change)
    better = kpi.change_is_better
    text = (
        _environment()
        .get_template(f"narrative.{language}.j2")
        .render(
            title=kpi.title,
            period=display.format_month(report.period, language),
            value=report.text(kpi, kpi.value, long=True),
            previous=report.text(kpi, kpi.previous, long=True),
            change=report.difference_text(kpi, kpi.change, signed=False, long=True),
            change_sign=change_sign,
            verdict=None if better is None else said["verdict"]["better" if better else "worse"],
            margin=None
            if kpi.margin is None
            else display.format_value(kpi.margin, "points", language, long=True),
            answers=None
            if kpi.answers is None
            else counted(language, said["answers"], kpi.answers),
            band_id=kpi.band,
            band=None if kpi.band is None else labels(language)["ratings"][kpi.band],
            target=report.text(kpi, kpi.target, long=True),
            met=kpi.target_met,
            gap=report.difference_text(kpi, kpi.gap, signed=False, long=True),
            reason=kpi.reason_text,
        )
    )
    # The templates break lines for readability; a cell holds one paragraph.
    # Only the templates' own spaces are joined: the no-break spaces that
    # display puts between a figure and its unit ("34,3 heures") stay.
    return re.sub(r"[ \t\r\n]+", " ", text).strip()
