"""What the xlwings Lite tests share: the files `kpi lite` writes, installed
as xlwings Lite installs them, and run by tests/lite_probe.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from addin.lite import WHEEL_NAME
from addin.recipes import tables_for
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI, server_env
from tests.report_support import book_json

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "lite_probe.py"


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
    """Write the probe's config and the Book JSONs into ``folder``; the config's path.
    ``main`` and ``site`` are paths as the probe's Python sees them."""
    names = {}
    for name, book in books.items():
        (folder / f"{name}.json").write_text(json.dumps(book), encoding="utf-8")
        names[name] = f"{name}.json"
    config = folder / "probe.json"
    config.write_text(json.dumps({"main": main, "site": site, "books": names}), encoding="utf-8")
    return config


def run_probe_in_cpython(folder: Path, books: dict[str, dict[str, Any]]) -> Any:
    """Install the wheel in ``folder``, run its main.py through the probe in
    this CPython, isolated from the source tree; the probe's output."""
    site = install_wheel(folder)
    config = probe_config(folder, str(folder / "main.py"), str(site), books)
    result = subprocess.run(
        [sys.executable, "-I", str(PROBE), str(config)],
        cwd=folder,
        env=server_env(),  # xlwings' Book(json=...) is xlwings PRO: noncommercial key
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
