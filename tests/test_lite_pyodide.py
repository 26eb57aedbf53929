"""The files of `kpi lite` run in Pyodide, the Python of xlwings Lite, and give
what they give in CPython: every KPI function on sample ranges, the helper
functions, the error messages, and refresh_report's actions on a starter
workbook's Book JSON.

Pyodide is the npm package (tests/node/package.json, installed by `make
node`), run under Node. micropip and packaging load from their PyPI wheels, as
Pyodide's own packages. Then micropip installs the requirements.txt that
`kpi lite` writes by default (kpi-addin==<version>) as xlwings Lite does, from
a package index: pypiserver on 127.0.0.1, the only index micropip is given.
It holds the wheels of this environment's versions, so that the same Python
code runs on both interpreters:

- the kpi-addin wheel, built from this tree as make dist builds it;
- babel, defusedxml, jinja2 and xlwings: their pure-Python wheels from PyPI,
  as xlwings Lite installs them;
- markupsafe (jinja2's): built here from its source without its C speedups,
  the plain-Python build that its setup.py falls back to. In xlwings Lite it
  comes compiled, from Pyodide's own package repository, which this machine
  cannot reach.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import kpi_engine
from addin.lite import WHEEL_NAME
from tests.addin_support import run_node
from tests.lite_support import (
    PROBE,
    ROOT,
    probe_config,
    run_probe_in_cpython,
    starter_books,
    write_lite,
)
from tests.release_support import package_index

NODE_DIR = ROOT / "tests" / "node"
RUNNER = NODE_DIR / "pyodide_lite.mjs"
PYODIDE = NODE_DIR / "node_modules" / "pyodide"

#: What the Lite path imports, besides the standard library and kpi-addin.
PURE_WHEELS = ("babel", "defusedxml", "jinja2", "xlwings")


def _pip(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def local_wheels(wheels: Path) -> dict[str, list[str]]:
    """Fill ``wheels`` with every wheel the Pyodide run installs; the order.json
    that the Node runner reads."""
    wheels.mkdir()
    lock = json.loads((PYODIDE / "pyodide-lock.json").read_text(encoding="utf-8"))
    # micropip and packaging as this Pyodide pins them (its lock file).
    bootstrap = {name: lock["packages"][name]["version"] for name in ("packaging", "micropip")}
    pinned = [f"{name}=={version}" for name, version in bootstrap.items()]
    pinned += [f"{name}=={metadata.version(name)}" for name in PURE_WHEELS]
    _pip(
        "download",
        "--only-binary=:all:",
        "--platform=any",
        "--implementation=py",
        "--abi=none",
        f"--python-version={lock['info']['python'].rsplit('.', 1)[0]}",
        "--no-deps",
        "--dest",
        str(wheels),
        *pinned,
        cwd=wheels,
    )
    # CC=false makes the C compiler fail, so markupsafe's setup.py builds its
    # pure-Python wheel (markupsafe/_native.py instead of _speedups.c).
    _pip(
        "wheel",
        "--no-deps",
        "--no-binary=markupsafe",
        "--wheel-dir",
        str(wheels),
        f"markupsafe=={metadata.version('markupsafe')}",
        cwd=wheels,
        env={**os.environ, "CC": "false"},
    )
    names = sorted(p.name for p in wheels.glob("*.whl"))

    def wheel_of(project: str) -> str:
        (name,) = [n for n in names if n.lower().startswith(f"{project}-")]
        assert name.endswith("-none-any.whl"), name  # pure Python, as Pyodide needs
        return name

    order = {
        "bootstrap": [wheel_of(name) for name in bootstrap],
        # Dependencies before what needs them; each install checks its own.
        "install": [wheel_of(name) for name in ("markupsafe", *PURE_WHEELS)] + [WHEEL_NAME],
    }
    (wheels / "order.json").write_text(json.dumps(order), encoding="utf-8")
    return order


def index_packages(wheels: Path, order: dict[str, list[str]], packages: Path) -> None:
    """Fill ``packages``, the index's folder: the wheels micropip installs from
    it, and the kpi-addin wheel built from this tree."""
    packages.mkdir()
    for name in order["install"]:
        if name != WHEEL_NAME:
            shutil.copy(wheels / name, packages / name)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(packages), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert (packages / WHEEL_NAME).is_file()


def run_in_pyodide(tmp_path: Path, books: dict[str, dict[str, Any]]) -> Any:
    assert shutil.which("node"), "Node.js is needed for this test (make test installs it)"
    assert PYODIDE.is_dir(), f"Pyodide is not installed in {NODE_DIR}: run make node"
    lite = tmp_path / "lite"
    write_lite(lite)  # by default: requirements.txt names kpi-addin==<version>
    wheels = tmp_path / "wheels"
    order = local_wheels(wheels)
    packages = tmp_path / "index"
    index_packages(wheels, order, packages)
    # The folder the probe sees as /lite in Pyodide: main.py and its inputs only.
    seen = tmp_path / "pyodide_lite"
    seen.mkdir()
    for name in ("main.py", "requirements.txt"):
        shutil.copy(lite / name, seen / name)
    shutil.copy(PROBE, seen / "lite_probe.py")
    probe_config(seen, "/lite/main.py", None, books)
    with package_index(packages) as index:
        result = run_node(RUNNER, str(wheels), str(seen), index.root, timeout=300)
        result["index_log"] = index.log.read_text(encoding="utf-8", errors="replace")
    return result


@dataclass
class Runs:
    """The probe's output from one Pyodide run and one CPython run of the same files."""

    pyodide: Any
    cpython: Any


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """One Pyodide run for the tests of this module: it costs a Pyodide start
    and the installs from the index."""
    tmp_path = tmp_path_factory.mktemp("lite_pyodide")
    books = starter_books(tmp_path)
    named = {"book": books.book, "broken": books.broken}
    pyodide = run_in_pyodide(tmp_path, named)
    cpython_folder = tmp_path / "cpython"
    write_lite(cpython_folder)
    # With XLWINGS_ON_SERVER=true, as the Pyodide run has it (as in xlwings Lite).
    cpython = run_probe_in_cpython(cpython_folder, named, as_in_lite=True)
    return Runs(pyodide, cpython)


def test_lite_files_run_in_pyodide_as_in_cpython(runs: Runs) -> None:
    pyodide, cpython = runs.pyodide, runs.cpython
    in_pyodide = pyodide["probe"]
    assert in_pyodide["platform"] == "emscripten"
    assert pyodide["wanted"] == [f"kpi-addin=={kpi_engine.__version__}"]
    assert pyodide["installed"]["kpi-addin"] == kpi_engine.__version__
    # kpi-addin and its dependencies came from the index on 127.0.0.1, and only from it.
    assert set(pyodide["installed"]) >= {"kpi-addin", "markupsafe", *PURE_WHEELS}
    # (micropip says "pypi" for any index: the index's own log shows what it served.)
    served = pyodide["index_log"].lower()
    assert f"/packages/{WHEEL_NAME}".lower() in served
    for name in ("markupsafe", *PURE_WHEELS):
        assert f"/simple/{name}/" in served, name
        assert f"/packages/{name}-" in served, name
    assert not {"openpyxl", "lxml", "python-calamine", "click"} & set(pyodide["installed"])
    for name, file in in_pyodide["modules"].items():
        assert file is None or file.startswith("/lib/python"), (name, file)

    # Every KPI's worked examples, the helpers and the messages, as in CPython.
    assert len(in_pyodide["results"]) >= 38
    assert all(ok for _, ok in in_pyodide["results"].values()), in_pyodide["results"]
    for key in ("results", "kpi_list", "benchmark_band", "div0", "left_out", "error"):
        assert in_pyodide[key] == cpython[key], key
    assert in_pyodide["loaded"] == cpython["loaded"] == []

    # refresh_report: the same actions, one by one, and the same message for
    # the workbook that lacks a table.
    for name in ("book", "broken"):
        got, expected = in_pyodide["books"][name], cpython["books"][name]
        assert len(got) == len(expected), name
        for n, (action, wanted) in enumerate(zip(got, expected, strict=True)):
            assert action == wanted, (name, n)
    assert in_pyodide["books"]["broken"][0] == "addin.ooxml.package.ReportError"
    assert len(in_pyodide["books"]["book"]) > 20


def test_xlwings_lite_finds_every_function_of_the_short_main_py(runs: Runs) -> None:
    """main.py imports the functions and the script from the wheel; xlwings'
    own discovery, run in Pyodide on the module ``main``, finds each one as
    Excel showed it when main.py defined one wrapper per function: the same
    names, descriptions, arguments (help, optional ones, defaults) and script."""
    discovery = runs.pyodide["probe"]["discovery"]
    short, wrappers = discovery["main"], discovery["wrappers"]
    functions = {f["id"]: f for f in short["functions"]["functions"]}
    # Every KPI of the catalogue, and the two helpers, as the catalogue describes them.
    assert set(functions) == {kpi.id.upper() for kpi in kpi_engine.KPIS.values()} | {
        "BENCHMARK_BAND",
        "KPI_LIST",
    }
    for kpi in kpi_engine.KPIS.values():
        function = functions[kpi.id.upper()]
        assert function["name"] == kpi.id.upper()
        assert function["description"] == kpi.summary
        assert [
            (p["name"], p["description"], p.get("optional", False)) for p in function["parameters"]
        ] == [
            (a.name, a.description, a.default is not inspect.Parameter.empty) for a in kpi.arguments
        ], kpi.id
    # The same as the wrappers gave, to the last field that Excel and xlwings read.
    assert short["functions"] == wrappers["functions"]
    assert short["xlfunc"] == wrappers["xlfunc"]
    assert short["scripts"] == wrappers["scripts"]
    (script,) = short["scripts"]
    assert script["function_name"] == "refresh_report"
    assert script["lazy"] is True  # xw.BookAsync: the book comes without its values
    # And the same in CPython.
    assert runs.cpython["discovery"] == discovery


def test_xlwings_lite_calls_the_functions_of_the_short_main_py(runs: Runs) -> None:
    """Each KPI called by name through xlwings' custom_functions_call, in
    Pyodide, gives the worked example's value; no value is #DIV/0!, bad input
    the engine's message."""
    called = runs.pyodide["probe"]["called"]
    examples = [key for key in called if "/" in key]
    assert len(examples) == sum(len(kpi.examples) for kpi in kpi_engine.KPIS.values()) >= 38
    assert all(called[key][1] for key in examples), called
    assert called["kpi_list"][0] == ["id", "intitulé", "unité", "sens"]
    assert called["div0"] == [[{"type": "Error", "errorType": "Div0"}]]
    assert called["error"] == [
        "xlwings.XlwingsError",
        "churn_rate: churned is -5; expected a whole number of 0 or more",
    ]
    assert called == runs.cpython["called"]
