"""What the xlwings Lite tests share: the files `kpi lite` writes, installed
as xlwings Lite installs them, and run by tests/lite_probe.py."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kpi_engine
from addin.functions import EXCEL_SIGNATURES
from addin.lite import WHEEL_NAME
from addin.recipes import tables_for
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI, server_env
from tests.report_support import book_json

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "lite_probe.py"


def _wrapper_source(name: str, summary: str, arguments: list[tuple[str, str, Any]]) -> str:
    decorators = ["@xw.func"] + [
        f"@xw.arg({json.dumps(arg)}, doc={json.dumps(doc, ensure_ascii=False)})"
        for arg, doc, _ in arguments
    ]
    parameters = [
        arg if default is inspect.Parameter.empty else f"{arg}={default!r}"
        for arg, _, default in arguments
    ]
    passed = ", ".join(arg for arg, _, _ in arguments)
    return "\n".join(
        [
            *decorators,
            f"def {name}({', '.join(parameters)}):",
            f"    {json.dumps(summary, ensure_ascii=False)}",
            f"    return kpi_functions.{name}({passed})",
        ]
    )


def wrappers_main_py() -> str:
    """main.py as `kpi lite` wrote it before the functions came from the wheel:
    one wrapper per Excel function, each with the description and argument help
    of its catalogue entry (``kpi_engine.KPIS``; ``addin.functions`` for the two
    helpers that are not KPIs), and the refresh_report script. The yardstick
    that the short main.py must show in Excel exactly as."""
    signatures = {
        kpi.id: (kpi.summary, [(a.name, a.description, a.default) for a in kpi.arguments])
        for kpi in kpi_engine.KPIS.values()
    }
    for name, signature in EXCEL_SIGNATURES.items():
        signatures.setdefault(name, (signature.summary, list(signature.arguments)))
    functions = [_wrapper_source(name, *signature) for name, signature in signatures.items()]
    script = '''
@xw.script
async def refresh_report(book: xw.BookAsync):
    """Recompute every KPI from the workbook's tables and write the report sheet."""
    from addin.ooxml.package import ReportError
    from addin.report.pane import refresh_book_async

    try:
        await refresh_book_async(book)
    except ReportError as error:
        raise xw.XlwingsError(str(error)) from None
'''
    return "\n\n".join(
        ["import xlwings as xw", "from addin import functions as kpi_functions", *functions, script]
    )


def write_lite(folder: Path, *options: str) -> list[Path]:
    """Run `kpi lite -o folder`; the paths it printed."""
    assert KPI, "the kpi console script is not installed in this environment"
    written = subprocess.run(
        [KPI, "lite", "-o", str(folder), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    return [Path(line) for line in written.stdout.splitlines()]


def install_wheel(folder: Path) -> Path:
    """Install the wheel `kpi lite` wrote with pip, without its dependencies,
    into a folder of its own: the engine that main.py then imports."""
    site = folder / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(folder / WHEEL_NAME),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return site


@dataclass
class StarterBooks:
    """A starter workbook, its Book JSON, and the same without one table the KPIs read."""

    path: Path
    book: dict[str, Any]
    broken: dict[str, Any]
    dropped_table: str


def starter_books(folder: Path) -> StarterBooks:
    path = folder / "shop.xlsx"
    new_workbook(StarterOptions("video_marketing", "fr", as_of=dt.date(2024, 7, 15)), path)
    book = book_json(path)
    broken = book_json(path)
    dropped = next(iter(tables_for("video_marketing")))
    for sheet in broken["sheets"]:
        sheet["tables"] = [t for t in sheet["tables"] if t["name"] != dropped]
    return StarterBooks(path, book, broken, dropped)


def probe_config(
    folder: Path, main: str, site: str | None, books: dict[str, dict[str, Any]]
) -> Path:
    """Write the probe's config, the Book JSONs and the yardstick main.py
    (``wrappers_main_py``) into ``folder``; the config's path. ``main`` and
    ``site`` are paths as the probe's Python sees them; the other files are
    named relative to ``folder``, the probe's working folder."""
    names = {}
    for name, book in books.items():
        (folder / f"{name}.json").write_text(json.dumps(book), encoding="utf-8")
        names[name] = f"{name}.json"
    (folder / "wrappers_main.py").write_text(wrappers_main_py(), encoding="utf-8")
    config = folder / "probe.json"
    config.write_text(
        json.dumps({"main": main, "site": site, "books": names, "wrappers": "wrappers_main.py"}),
        encoding="utf-8",
    )
    return config


def run_probe_in_cpython(
    folder: Path, books: dict[str, dict[str, Any]], *, as_in_lite: bool = False
) -> Any:
    """Install the wheel in ``folder``, run its main.py through the probe in
    this CPython, isolated from the source tree; the probe's output.

    ``as_in_lite``: with ``XLWINGS_ON_SERVER=true``, as in xlwings Lite, where
    ``xw.func`` and ``xw.script`` record what Excel is told; the probe then
    also runs xlwings' discovery. Without it, they do nothing (plain CPython).
    """
    site = install_wheel(folder)
    config = probe_config(folder, str(folder / "main.py"), str(site), books)
    # xlwings' Book(json=...) is xlwings PRO: noncommercial key.
    env = server_env(XLWINGS_ON_SERVER="true") if as_in_lite else server_env()
    result = subprocess.run(
        [sys.executable, "-I", str(PROBE), str(config)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
