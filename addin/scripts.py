"""Custom scripts of the Office.js add-in: what the task pane's buttons run.

``kpi serve`` discovers every function of this module decorated with
``@xlwings.script`` (``xlwings.server.script`` on the server): it lists them at
``/xlwings/custom-scripts-meta`` and runs them at
``/xlwings/custom-scripts-call/<name>``. ``refresh_report`` reads the whole
book that xlwings hands it: classic xlwings calls it through
``run_refresh_report`` (RunPython), where COM has no size limit. The task
pane's "Refresh report" button does not call it: it reads only the KPIs'
columns in chunks under Excel on the web's 5 MB (``addin.report.pane``), and
``kpi lite`` gives xlwings Lite an async script that does the same. The
report code itself is in ``addin.report``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import xlwings as xw

if TYPE_CHECKING:
    from addin.starter import StarterOptions


@xw.script
def refresh_report(book: xw.Book) -> None:
    """Recompute every KPI from the workbook's tables and write the report sheet."""
    from addin.ooxml.package import ReportError  # noqa: PLC0415
    from addin.report.excel import refresh_book  # noqa: PLC0415
    from kpi_engine.display import DisplayRangeError  # noqa: PLC0415

    try:
        refresh_book(book)
    except (ReportError, DisplayRangeError) as error:
        raise xw.XlwingsError(str(error)) from None


def run_refresh_report() -> None:
    """Classic xlwings: ``RunPython "import addin.scripts; addin.scripts.run_refresh_report()"``."""
    refresh_report(xw.Book.caller())


@xw.script
def start_workbook(
    book: xw.Book,
    business_type: str,
    language: str = "en",
    as_of: str = "",
    rows: int | None = None,
    step: int = 0,
) -> None:
    """Write one step of a starter workbook (``kpi new``'s content) into this workbook.

    The task pane asks ``/taskpane/starter`` for the steps and their
    ``as_of`` date, then calls this once per step: the sheets, each chunk of
    data rows, then the tables, rules, formulas, names and charts.
    """
    from addin.starter.into_book import StepError, write_step  # noqa: PLC0415
    from addin.starter.plan import starter_plan  # noqa: PLC0415

    try:
        plan = starter_plan(starter_options(business_type, language, as_of, rows))
        write_step(book, plan, _whole(step, "step"))
    except (StepError, ValueError) as error:
        raise xw.XlwingsError(str(error)) from None


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"start_workbook: {name} is {value!r}; expected a whole number")
    return int(value)


def starter_options(
    business_type: object, language: object, as_of: object, rows: object
) -> StarterOptions:
    """The options of a task pane request, checked as ``kpi new`` checks its
    own, with messages that name ``start_workbook``'s arguments."""
    import kpi_engine  # noqa: PLC0415
    from addin.starter import StarterOptions  # noqa: PLC0415
    from addin.starter.build import MAX_ROWS  # noqa: PLC0415

    profile = kpi_engine.get_business_type(business_type, "start_workbook", "business_type")
    lang = kpi_engine.check_language(language, "start_workbook", "language")
    day = None
    if as_of:
        try:
            day = dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise ValueError(
                f"start_workbook: as_of is {as_of!r}; expected a date as YYYY-MM-DD"
            ) from None
    count = None if rows in (None, "") else _whole(rows, "rows")
    if count is not None and not 1 <= count <= MAX_ROWS:
        raise ValueError(
            f"start_workbook: rows is {count:,}; expected a whole number from 1 to {MAX_ROWS:,}"
        )
    return StarterOptions(profile.id, lang, rows=count, as_of=day).checked()
