"""What the task pane reads from ``kpi serve``, besides the page itself:

* its words in every language (``templates/taskpane.toml``), the business
  types and the workbook's sheet names, in the page (``page_data``);
* the KPI browser's catalogue in one language (``kpi_entries``): each KPI's
  title, definition, formula, worked example and bands, as its help page
  shows them (``help.kpi_summary``), and the call to insert, whose arguments
  name the starter tables' columns (``addin.recipes.calls``);
* the steps of "Start a KPI workbook here" (``starter_steps``), which the
  page then runs one by one through the ``start_workbook`` script.

Kept apart from ``app.py`` so that it imports without xlwings' server mode.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from functools import cache
from typing import Any

import kpi_engine
from addin.recipes.calls import excel_call
from addin.server.help import help_path, kpi_summary
from kpi_engine import BUSINESS_TYPES, KPIS, LANGUAGES
from kpi_engine.texts import templates_dir


@cache
def _words() -> Mapping[str, Any]:
    with templates_dir().joinpath("taskpane.toml").open("rb") as handle:
        return tomllib.load(handle)


def words(language: str) -> Mapping[str, str]:
    """The task pane's words in ``language``."""
    return _words()[language]  # type: ignore[no-any-return]


def page_data(namespace: str) -> dict[str, Any]:
    """Everything the page needs before it knows Office's language."""
    from addin.starter.build import workbook_words  # noqa: PLC0415

    return {
        "namespace": namespace,
        "languages": list(LANGUAGES),
        "words": {language: dict(words(language)) for language in LANGUAGES},
        "sheets": {language: dict(workbook_words()[language]["sheets"]) for language in LANGUAGES},
        "business_types": [
            {"id": profile.id, "title": dict(profile.title)} for profile in BUSINESS_TYPES.values()
        ],
        "example": excel_call(KPIS["nps"], namespace),
        # Shown at the foot of the pane: the version to name when asking for help.
        "version": kpi_engine.__version__,
    }


@cache
def kpi_entries(language: str, namespace: str) -> list[dict[str, Any]]:
    """The KPI browser's catalogue in ``language``."""
    entries = []
    for kpi in KPIS.values():
        summary = kpi_summary(kpi, language, namespace)
        summary["call"] = excel_call(kpi, namespace)
        summary["help"] = f"{help_path(kpi.id)}?lang={language}"
        entries.append(summary)
    return entries


class StarterRequestError(ValueError):
    """A request for the steps of a starter workbook that cannot be met."""


def starter_steps(
    business_type: str | None, language: str | None, rows: str | None, body: object = None
) -> dict[str, Any]:
    """The steps that write the starter workbook of ``business_type`` in
    ``language``: the sheets, each chunk of data rows, then the rest; and
    the as-of date that every step must be called with, so that all of them
    write the same sample.

    It runs in the compute lane (``body`` is the lane's, unused), where the
    ``start_workbook`` steps run too: the plan is built and kept there."""
    from addin.scripts import starter_options  # noqa: PLC0415
    from addin.starter.plan import office_js_parts, starter_plan, step_labels  # noqa: PLC0415

    count: int | None = None
    if rows not in (None, ""):
        assert rows is not None
        if not rows.strip().isdigit():
            raise StarterRequestError(
                f"start_workbook: rows is {rows[:40]!r}; expected a whole number"
            )
        count = int(rows)
    as_of = dt.date.today().isoformat()
    options = starter_options(business_type or "", language or "en", as_of, count)
    plan = starter_plan(options)
    return {
        "business_type": options.business_type,
        "language": options.language,
        "as_of": as_of,
        "rows": count,
        "sheets": plan.sheet_names,
        "steps": step_labels(plan),
        "office_js": office_js_parts(plan),
    }
