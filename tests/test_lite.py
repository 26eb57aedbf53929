"""`kpi lite` writes a short main.py, a requirements.txt and the kpi-addin
wheel; main.py runs here in plain CPython with the engine installed from that
wheel alone (not from the source tree), and its functions show in Excel
exactly as the add-in's do. tests/test_lite_pyodide.py runs the same in
Pyodide."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from addin.functions import EXCEL_SIGNATURES
from addin.lite import USER_SECTION_MARKER, WHEEL_NAME
from addin.report.offline import make_report
from kpi_engine import display
from tests.addin_support import kpi_process, server_env
from tests.lite_support import ROOT, run_probe_in_cpython, starter_books, write_lite
from tests.release_support import build_wheel
from tests.report_support import apply_set_values, sheet_values

#: The most lines main.py may have: a person reads it through.
MAIN_PY_LINES = 100


def test_lite_writes_a_short_main_py_that_a_person_can_read(tmp_path: Path) -> None:
    folder = tmp_path / "lite"
    written = write_lite(folder)
    assert [p.name for p in written] == ["main.py", "requirements.txt", WHEEL_NAME]
    main = (folder / "main.py").read_text(encoding="utf-8")
    tree = ast.parse(main)
    lines = main.splitlines()
    assert len(lines) < MAIN_PY_LINES, len(lines)
    assert max(len(line) for line in lines) <= 100
    # The functions and the script come from the wheel, not written out here:
    # main.py defines nothing of its own (the user's example is commented out).
    assert "from addin.xlwings_lite import *" in main
    assert not [
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    _, marker, user_part = main.partition(USER_SECTION_MARKER)
    assert marker
    assert main.count(USER_SECTION_MARKER) == 1
    assert all(line.startswith("#") for line in user_part.strip().splitlines())
    # The header says what the user can edit, and the names Excel knows.
    docstring = ast.get_docstring(tree)
    assert docstring
    assert "What you can edit: the part at the end, below the marked line." in docstring
    assert "=NPS(Survey[recommend_score])" in docstring
    assert "refresh_report" in docstring
    # No engine carried inside: no long lines of base64, no unpacking.
    assert "b64decode" not in main
    assert "zipfile" not in main
    assert not re.search(r"[A-Za-z0-9+/=]{120,}", main)

    requirements = (folder / "requirements.txt").read_text(encoding="utf-8")
    assert "kpi-addin==0.1.0" in requirements.splitlines()
    with zipfile.ZipFile(folder / WHEEL_NAME) as wheel:
        assert wheel.testzip() is None
        names = set(wheel.namelist())
        metadata = wheel.read("kpi_addin-0.1.0.dist-info/METADATA").decode()
    assert {"kpi_engine/catalogue/kpis.toml", "kpi_engine/templates/labels.toml"} <= names
    assert {"addin/functions.py", "addin/xlwings_lite.py", "addin/report/excel.py"} <= names
    assert not any("__pycache__" in name for name in names)
    # What Pyodide cannot install stays out of the browser.
    assert "Requires-Dist: python-calamine>=0.2; sys_platform != 'emscripten'" in metadata
    assert "Requires-Dist: jinja2>=3.1\n" in metadata


def test_lite_requirements_name_the_hosted_wheel(tmp_path: Path) -> None:
    url = f"https://raw.githubusercontent.com/example/kpi/main/{WHEEL_NAME}"
    write_lite(tmp_path / "lite", "--wheel-url", url)
    lines = (tmp_path / "lite" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert url in lines
    assert not any(line.startswith("kpi-addin") for line in lines)
    refused = kpi_process(
        "lite", "-o", tmp_path / "other", "--wheel-url", "http://example.org/kpi.zip", timeout=60
    )
    assert refused.returncode == 2
    assert "give the https:// address of the .whl file" in refused.stderr
    assert not (tmp_path / "other").exists()


def test_lite_keeps_the_users_own_functions(tmp_path: Path) -> None:
    folder = tmp_path / "lite"
    write_lite(folder)
    main = folder / "main.py"
    own = '\n\n@xw.func\ndef double(x):\n    """Twice x."""\n    return 2 * x\n'
    generated = main.read_text(encoding="utf-8").split(USER_SECTION_MARKER)[0]
    main.write_text(generated + USER_SECTION_MARKER + own, encoding="utf-8")
    write_lite(folder)
    again = main.read_text(encoding="utf-8")
    assert again.endswith(USER_SECTION_MARKER + own)
    assert "# An example to start from" not in again


def test_lite_output_is_reproducible(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_lite(tmp_path / name)
    for file in ("main.py", "requirements.txt", WHEEL_NAME):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


METADATA_PROBE = r"""
import json, runpy, sys, types
from xlwings.pro.udfs_officejs import custom_functions_meta
import addin.functions
main = types.ModuleType("main")
main.__dict__.update(runpy.run_path(sys.argv[1]))
print(json.dumps([custom_functions_meta(main), custom_functions_meta(addin.functions)]))
"""


def excel_metadata(main: Path) -> tuple[Any, Any]:
    """xlwings' own function metadata for main.py and for addin.functions."""
    result = subprocess.run(
        [sys.executable, "-c", METADATA_PROBE, str(main)],
        env=server_env(XLWINGS_ON_SERVER="true"),  # makes @xw.func record metadata
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lite_meta, addin_meta = json.loads(result.stdout)
    return lite_meta, addin_meta


def test_lite_functions_show_in_excel_as_the_addins(tmp_path: Path) -> None:
    """xlwings' own function metadata (what Excel shows: names, descriptions,
    argument help, optional arguments) is the same for main.py as for the
    add-in module that kpi serve registers."""
    folder = tmp_path / "lite"
    write_lite(folder)
    lite_meta, addin_meta = excel_metadata(folder / "main.py")
    assert len(lite_meta["functions"]) == len(EXCEL_SIGNATURES)
    assert lite_meta == addin_meta


def test_a_users_function_with_a_kpis_name_takes_its_place(tmp_path: Path) -> None:
    """As main.py's header says: a function of the user's section named as a
    KPI is the one Excel gets; the other functions stay."""
    folder = tmp_path / "lite"
    write_lite(folder)
    main = folder / "main.py"
    own = '\n\n@xw.func\ndef nps(scores):\n    """My own NPS."""\n    return 0\n'
    generated = main.read_text(encoding="utf-8").split(USER_SECTION_MARKER)[0]
    main.write_text(generated + USER_SECTION_MARKER + own, encoding="utf-8")
    lite_meta, addin_meta = excel_metadata(main)
    mine = {f["id"]: f for f in lite_meta["functions"]}
    theirs = {f["id"]: f for f in addin_meta["functions"]}
    assert mine.keys() == theirs.keys()
    assert mine["NPS"]["description"] == "My own NPS."
    assert theirs["NPS"]["description"] != "My own NPS."
    assert {k: v for k, v in mine.items() if k != "NPS"} == {
        k: v for k, v in theirs.items() if k != "NPS"
    }


def test_lite_main_py_runs_in_plain_cpython(tmp_path: Path) -> None:
    folder = tmp_path / "lite"
    write_lite(folder)
    out = run_probe_in_cpython(folder, {})
    engine = Path(out["modules"]["kpi_engine"])
    assert engine.is_relative_to(folder / "site"), engine  # the wheel's copy
    assert str(ROOT) not in str(engine)
    assert len(out["results"]) >= 38
    assert all(ok for _, ok in out["results"].values()), out["results"]
    assert out["kpi_list"][0] == ["id", "intitulé", "unité", "sens"]
    assert out["benchmark_band"] == "exceptional"  # retention 0.8 among networking's bands
    assert out["div0"] == "#DIV/0!"
    assert out["left_out"] == 100.0  # cells that do not count, as in the workbook
    assert out["error"] == [
        "xlwings.XlwingsError",
        "churn_rate: churned is -5; expected a whole number of 0 or more",
    ]


def test_lite_refresh_report_writes_the_offline_report(tmp_path: Path) -> None:
    books = starter_books(tmp_path)
    folder = tmp_path / "lite"
    write_lite(folder)
    out = run_probe_in_cpython(folder, {"book": books.book, "broken": books.broken})

    # Every addin and kpi_engine module came from the installed wheel, and the
    # Lite path loaded no compiled reader, workbook builder, XML library or CLI.
    modules = out["modules"]
    assert "addin.report.excel" in modules
    assert "addin.recipes.kpis" in modules
    for name, file in modules.items():
        assert file is None or Path(file).is_relative_to(folder / "site"), (name, file)
    assert "addin.report.offline" not in modules
    assert not any(name.startswith("addin.starter") for name in modules)
    assert out["loaded"] == []

    # The actions write the report the offline path computes from the same file.
    actions = out["books"]["book"]
    expected = make_report(books.path)
    position = len(books.book["sheets"])
    assert actions[0]["func"] == "addSheet"
    assert actions[0]["args"] == [position, expected.sheet_name]
    cells = apply_set_values(actions, position)
    written = 0
    for r, row in enumerate(sheet_values(expected)):
        for c, value in enumerate(row):
            if r == 2 and c == 1:
                continue  # the refresh time
            got = cells.get((r, c))
            if isinstance(value, dt.date):
                assert got == float((value - dt.date(1899, 12, 30)).days), (r, c)
            elif value is None:
                assert got in ("", None), (r, c)
            else:
                assert got == value, (r, c)
                written += 1
    assert written > 100
    formats = {action["args"][0] for action in actions if action["func"] == "setNumberFormat"}
    # The formatting layer's codes for the workbook's units and months.
    language, currency = expected.language, expected.currency
    assert {display.excel_format(kpi.unit, language, currency) for kpi in expected.kpis} <= formats
    assert display.excel_date_format("month", language) in formats

    # A workbook without a table the KPIs read gets a message naming it.
    error_type, message = out["books"]["broken"]
    assert error_type == "addin.ooxml.package.ReportError"
    assert f"needs the table(s) {books.dropped_table}" in message


def test_lite_wheel_holds_what_the_projects_build_puts_in_its_wheel(tmp_path: Path) -> None:
    """The wheel `kpi lite` writes from the installed package has the same
    files and dependencies as the one the project's build backend makes."""
    built = build_wheel(tmp_path / "dist")
    assert built.name == WHEEL_NAME
    write_lite(tmp_path / "lite")

    def contents(path: Path) -> tuple[set[str], list[str]]:
        with zipfile.ZipFile(path) as wheel:
            metadata = wheel.read("kpi_addin-0.1.0.dist-info/METADATA").decode()
            return set(wheel.namelist()), [
                line for line in metadata.splitlines() if line.startswith("Requires-Dist:")
            ]

    assert contents(tmp_path / "lite" / WHEEL_NAME) == contents(built)
