"""`kpi lite` writes a main.py that runs on its own: its functions are run
here in plain CPython, from a folder outside the source tree, with the
engine it carries (not the installed one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.addin_support import KPI

PROBE = r"""
import datetime as dt, json, runpy, sys
namespace = runpy.run_path("main.py")
import kpi_engine
out = {"engine_file": kpi_engine.__file__, "results": {}}
for kpi in kpi_engine.KPIS.values():
    for n, example in enumerate(kpi.examples):
        args = list(example.args) + [example.kwargs.get(a.name) for a in kpi.arguments[len(example.args):]]
        column = [[[c] for c in a] if isinstance(a, list) else a for a in args]
        value = namespace[kpi.id](*column)
        out["results"][f"{kpi.id}/{n}"] = [value, example.matches(value)]
out["kpi_list"] = namespace["kpi_list"]("social_media", "fr")[:2]
out["div0"] = namespace["churn_rate"](0.0, 0.0)
try:
    namespace["nps"]([[9.0], ["abc"]])
except Exception as error:
    out["error"] = [type(error).__module__ + "." + type(error).__name__, str(error)]
print(json.dumps(out))
"""


def test_lite_main_py_runs_in_plain_cpython(tmp_path: Path) -> None:
    assert KPI
    folder = tmp_path / "lite"
    written = subprocess.run(
        [KPI, "lite", "-o", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert written.returncode == 0, written.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["main.py", "requirements.txt"]
    main = (folder / "main.py").read_text()
    # The functions part of main.py is addin/functions.py, unchanged.
    source = (Path(__file__).resolve().parent.parent / "addin" / "functions.py").read_text()
    assert main.endswith(source)
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert "kpi_engine_" in out["engine_file"]  # the copy main.py carries
    assert str(Path(__file__).resolve().parent.parent) not in out["engine_file"]
    assert len(out["results"]) >= 38
    assert all(ok for _, ok in out["results"].values()), out["results"]
    assert out["kpi_list"][0] == ["id", "intitulé", "unité", "sens"]
    assert out["div0"] == "#DIV/0!"
    assert out["error"] == [
        "xlwings.XlwingsError",
        "nps: scores[2] is 'abc'; expected a whole number from 0 to 10",
    ]


def test_lite_output_is_reproducible(tmp_path: Path) -> None:
    assert KPI
    for name in ("a", "b"):
        subprocess.run([KPI, "lite", "-o", str(tmp_path / name)], check=True, timeout=60)
    assert (tmp_path / "a" / "main.py").read_bytes() == (tmp_path / "b" / "main.py").read_bytes()
