"""The report of a file without Excel: ``kpi report`` and ``kpi refresh``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from addin import progress
from addin.ooxml.atomic import write_atomically
from addin.report.model import Report, ReportInputs, build_report, utc_now
from addin.report.package import ReportError, open_package, read_data
from addin.report.writer import plan_parts, write_package

SUFFIXES = (".xlsx", ".xlsm")


def lock_file(path: Path) -> Path | None:
    """Excel's owner file next to an open workbook (``~$name``), if there is one."""
    for candidate in (path.parent / f"~${path.name}", path.parent / f"~${path.name[2:]}"):
        if candidate.exists():
            return candidate
    return None


def make_report(
    path: Path, period: dt.date | None = None, clock: Callable[[], dt.datetime] = utc_now
) -> Report:
    """What a refresh of ``path`` would write."""
    package = open_package(path)
    try:
        data = read_data(package, period)
    finally:
        package.close()
    progress.stage("computing the KPIs")
    return build_report(
        ReportInputs(
            data.business_type, data.language, data.period, data.rows, data.targets, data.currency
        ),
        clock,
    )


def refresh_file(
    path: Path,
    out: Path | None = None,
    period: dt.date | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Report:
    """Write the report sheet into ``out`` (default: ``path`` itself), atomically."""
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
    package = open_package(path)
    try:
        data = read_data(package, period)
        progress.stage("computing the KPIs")
        report = build_report(
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
        changed, new = plan_parts(package, report)
        progress.stage(f"writing {target.name}")
        write_atomically(target, lambda handle: write_package(package, changed, new, handle))
    finally:
        package.close()
    return report
