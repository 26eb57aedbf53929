"""The report of a file without Excel: ``kpi report`` and ``kpi refresh``."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import kpi_engine
from addin import progress
from addin.ooxml.atomic import (
    NotRegularTargetError,
    ReadOnlyTargetError,
    check_target,
    write_atomically,
)
from addin.ooxml.package import ReportError, WorkbookData, open_package, read_data
from addin.ooxml.rewrite import write_package
from addin.recipes import TableRows
from addin.report.model import Report, ReportInputs, build_report, utc_now
from addin.report.writer import plan_parts

if TYPE_CHECKING:
    from addin.sources import ReadAhead

SUFFIXES = (".xlsx", ".xlsm")


def lock_file(path: Path) -> Path | None:
    """Excel's owner file next to an open workbook (``~$name``), if there is one."""
    for candidate in (path.parent / f"~${path.name}", path.parent / f"~${path.name[2:]}"):
        if candidate.exists():
            return candidate
    return None


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Reading a workbook's tables and computing the report make millions of
    objects (a list per row, a value per cell) and no garbage in cycles:
    Python's cyclic collector, which would walk them again and again as they
    are made, waits until the end (about a sixth of a refresh's CPU time at
    1,000,000 orders). Reference counting still frees what is let go. A
    ``--source`` report builds its queries from many small ibis objects,
    which the collector walked about 300 times (0.1 s of CPU time for
    celebrity_video); they leave about 1,300 objects in cycles, collected
    once the collector is back."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def make_report(
    path: Path,
    period: dt.date | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    source: str | None = None,
) -> Report:
    """What a refresh of ``path`` would write (from the tables of ``source``
    when one is given: see ``addin.sources``)."""
    with cyclic_gc_paused() if source is None else nullcontext():
        package = open_package(path)
        try:
            data = read_data(package, period, check_data=source is None)
        finally:
            package.close()
        if source is not None:
            return _source_report(data, source, clock)
        return _workbook_report(data, clock)


def _workbook_report(data: WorkbookData, clock: Callable[[], dt.datetime]) -> Report:
    """The report computed from the workbook's own tables."""
    progress.stage("computing the KPIs")
    return build_report(
        ReportInputs(
            data.business_type,
            data.language,
            data.period,
            data.rows,
            data.targets,
            data.currency,
        ),
        clock,
    )


@dataclass(frozen=True)
class SourceSettings:
    """What a report from a source takes from the command line when no
    workbook gives it: the business type, language, period and gross margin."""

    business_type: str
    language: str = "en"
    period: dt.date | None = None
    gross_margin: float | None = None


def report_from_source(
    source: str, settings: SourceSettings, clock: Callable[[], dt.datetime] = utc_now
) -> Report:
    """The report of the tables of ``source`` alone (``kpi report --source URL --type T``)."""
    import kpi_engine  # noqa: PLC0415

    try:
        profile = kpi_engine.get_business_type(settings.business_type, "kpi report", "--type")
        language = kpi_engine.check_language(settings.language, "kpi report", "--language")
    except (kpi_engine.KPIInputError, KeyError, ValueError) as error:
        raise ReportError(str(error)) from None
    rows = {}
    if settings.gross_margin is not None:
        rows["Settings"] = TableRows({"GROSS_MARGIN": [settings.gross_margin]})
    data = WorkbookData(profile.id, language, settings.period, rows, {}, None)  # type: ignore[arg-type]
    return _source_report(data, source, clock)


def _source_report(data: WorkbookData, url: str, clock: Callable[[], dt.datetime]) -> Report:
    with cyclic_gc_paused():
        return _source_report_of(data, url, clock)


def _source_report_of(data: WorkbookData, url: str, clock: Callable[[], dt.datetime]) -> Report:
    from addin.sources import ReadAhead  # noqa: PLC0415

    # Started before ibis is imported: DuckDB reads the files meanwhile.
    read_ahead = ReadAhead(url, data.business_type)
    try:
        return _source_report_read(data, url, clock, read_ahead)
    finally:
        read_ahead.close()


def _source_report_read(
    data: WorkbookData, url: str, clock: Callable[[], dt.datetime], read_ahead: ReadAhead
) -> Report:
    from addin.ooxml.dates import from_serial_date  # noqa: PLC0415
    from addin.recipes import NEEDS_GROSS_MARGIN, MissingRecipeError  # noqa: PLC0415
    from addin.recipes.ibis_forms import NoIbisFormError, ibis_form_for  # noqa: PLC0415
    from addin.sources import SourceError, SourceMeasure, open_source  # noqa: PLC0415
    from kpi_engine.inputs import first_of_month, to_serial  # noqa: PLC0415

    for entry in kpi_engine.get_business_type(data.business_type).kpis:
        try:
            ibis_form_for(data.business_type, entry.id)
        except (NoIbisFormError, MissingRecipeError) as error:
            raise SourceError(f"--source {url}: {error.args[0]}") from None
    progress.stage("connecting to the source")
    source = open_source(url, data.business_type, data.language, read_ahead)
    try:
        settings = {}
        if "Settings" in data.rows:
            settings["GROSS_MARGIN"] = data.rows["Settings"]["GROSS_MARGIN"][0]
        elif data.business_type in NEEDS_GROSS_MARGIN:
            raise SourceError(
                f"{source.where}: the {data.business_type} KPIs need a gross margin: "
                "pass --gross-margin 0.6 (or a workbook whose settings hold GROSS_MARGIN)"
            )
        measure = SourceMeasure(source, settings, business_type=data.business_type)
        period = data.period
        if period is None:
            latest = measure.latest_month(data.business_type)
            if latest is None:
                raise SourceError(f"{source.where}: the tables hold no dates at all")
            period = first_of_month(from_serial_date(latest))
        start = to_serial("report", "month", period)
        end = to_serial("report", "month", first_of_month(period, 1))
        with measure.engine(f"looking for data in {period:%Y-%m}"):
            has_data = measure.has_data(start, end)
        # Every KPI's months of the report, fetched at once when first asked.
        measure.plan(period)
        if not has_data:
            raise SourceError(
                f"{source.where}: no data for the period {period:%Y-%m}; choose a month "
                "with data (--period YYYY-MM)"
            )
        progress.stage("computing the KPIs")
        return build_report(
            ReportInputs(
                data.business_type,
                data.language,
                period,
                {},
                data.targets,
                data.currency,
                measure=measure,
            ),
            clock,
        )
    finally:
        source.close()


def refresh_file(
    path: Path,
    out: Path | None = None,
    period: dt.date | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
    source: str | None = None,
) -> Report:
    """Write the report sheet into ``out`` (default: ``path`` itself), atomically;
    computed from the tables of ``source`` when one is given."""
    path = Path(path)
    target = Path(out) if out is not None else path
    for file in {path, target}:
        if file.suffix.lower() not in SUFFIXES:
            raise ReportError(
                f"{file} has the extension {file.suffix or '(none)'!r}; "
                "expected .xlsx or .xlsm (the report is written into the workbook package)"
            )
    if path.suffix.lower() != target.suffix.lower():
        raise ReportError(
            f"{path} is {path.suffix} and {target} is {target.suffix}; the output keeps "
            "the input's kind (.xlsm holds macros, .xlsx cannot)"
        )
    for file in {path, target}:
        lock = lock_file(file)
        if lock is not None and not force:
            raise ReportError(
                f"{file} looks open in Excel (its lock file {lock.name} is next to it); "
                "close it in Excel and refresh, or pass --force if the lock file is stale"
            )
    if not target.parent.is_dir():
        raise ReportError(f"the folder of {target} does not exist")
    if target != path:
        try:
            check_target(target, into_special=force)
        except NotRegularTargetError as error:  # a FIFO or a device without --force
            raise ReportError(f"-o {error}") from None
        except ReadOnlyTargetError:
            pass  # said, as for FILE itself, when the write is refused
    with cyclic_gc_paused() if source is None else nullcontext():
        return _refresh(path, target, period, force, clock, source)


def _refresh(
    path: Path,
    target: Path,
    period: dt.date | None,
    force: bool,
    clock: Callable[[], dt.datetime],
    source: str | None,
) -> Report:
    package = open_package(path)
    try:
        data = read_data(package, period, check_data=source is None)
        if source is not None:
            report = _source_report(data, source, clock)
        else:
            report = _workbook_report(data, clock)
        changed, new = plan_parts(package, report)
        progress.stage(f"writing {target.name}")
        write_atomically(
            target,
            lambda handle: write_package(package, changed, new, handle),
            into_special=force,
        )
    finally:
        package.close()
    return report
