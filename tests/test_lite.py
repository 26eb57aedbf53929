"""`kpi lite` writes a main.py that runs on its own: its functions and its
refresh_report script are run here in plain CPython, from a folder outside
the source tree, with the engine and report code it carries (not the
installed ones)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from addin.recipes import tables_for
from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI, server_env
from tests.report_support import apply_set_values, book_json

ROOT = Path(__file__).resolve().parent.parent

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
out["left_out"] = namespace["nps"]([[9.0], ["abc"], ["#N/A"]])
try:
    namespace["churn_rate"](-5.0, 100.0)
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
    source = (ROOT / "addin" / "functions.py").read_text()
    assert source in main
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
    assert str(ROOT) not in out["engine_file"]
    assert len(out["results"]) >= 38
    assert all(ok for _, ok in out["results"].values()), out["results"]
    assert out["kpi_list"][0] == ["id", "intitulé", "unité", "sens"]
    assert out["div0"] == "#DIV/0!"
    assert out["left_out"] == 100.0  # cells that do not count, as in the workbook
    assert out["error"] == [
        "xlwings.XlwingsError",
        "churn_rate: churned is -5; expected a whole number of 0 or more",
    ]


def test_lite_output_is_reproducible(tmp_path: Path) -> None:
    assert KPI
    for name in ("a", "b"):
        subprocess.run([KPI, "lite", "-o", str(tmp_path / name)], check=True, timeout=60)
    assert (tmp_path / "a" / "main.py").read_bytes() == (tmp_path / "b" / "main.py").read_bytes()


REFRESH_PROBE = r"""
import json, runpy, sys
import xlwings as xw
namespace = runpy.run_path("main.py")
out = {}
for name in ("book", "broken"):
    book = xw.Book(json=json.loads(open(name + ".json", encoding="utf-8").read()))
    try:
        namespace["refresh_report"](book)
        out[name] = book.json()["actions"]
    except Exception as error:
        out[name] = [type(error).__module__ + "." + type(error).__name__, str(error)]
out["modules"] = {
    name: getattr(module, "__file__", None)
    for name, module in sys.modules.items()
    if name.split(".")[0] in ("addin", "kpi_engine")
}
out["loaded"] = sorted(
    name for name in ("python_calamine", "openpyxl", "click") if name in sys.modules
)
print(json.dumps(out))
"""


def run_lite_refresh(folder: Path, book: dict[str, Any], broken: dict[str, Any]) -> Any:
    """Write main.py into ``folder`` and run its refresh_report on two Book JSONs."""
    assert KPI
    subprocess.run([KPI, "lite", "-o", str(folder)], check=True, timeout=60)
    (folder / "book.json").write_text(json.dumps(book), encoding="utf-8")
    (folder / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-I", "-c", REFRESH_PROBE],
        cwd=folder,
        env=server_env(),  # xlwings' Book(json=...) is xlwings PRO: noncommercial key
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_lite_refresh_report_writes_the_offline_report(tmp_path: Path) -> None:
    path = tmp_path / "shop.xlsx"
    new_workbook(StarterOptions("video_marketing", "fr", as_of=dt.date(2024, 7, 15)), path)
    book = book_json(path)
    broken = book_json(path)
    dropped = next(iter(tables_for("video_marketing")))
    for sheet in broken["sheets"]:
        sheet["tables"] = [t for t in sheet["tables"] if t["name"] != dropped]
    out = run_lite_refresh(tmp_path / "lite", book, broken)

    # Every addin and kpi_engine module came from the folder main.py unpacked,
    # and the Lite path loaded no compiled reader, workbook builder or CLI.
    modules = out["modules"]
    assert "addin.report.excel" in modules
    assert "addin.recipes.kpis" in modules
    assert "kpi_engine" in modules
    unpacked = Path(modules["kpi_engine"]).parent.parent
    assert "kpi_engine_" in unpacked.name
    for name, file in modules.items():
        assert file is None or Path(file).is_relative_to(unpacked), (name, file)
        assert file is None or str(ROOT) not in file, (name, file)
    assert "addin.report.offline" not in modules
    assert not any(name.startswith("addin.starter") for name in modules)
    assert out["loaded"] == []

    # The actions write the report the offline path computes from the same file.
    actions = out["book"]
    expected = make_report(path)
    position = len(book["sheets"])
    assert actions[0]["func"] == "addSheet"
    assert actions[0]["args"] == [position, expected.sheet_name]
    cells = apply_set_values(actions, position)
    written = 0
    for r, row in enumerate(expected.values()):
        for c, value in enumerate(row):
            if r == 2 and c == 1:
                continue  # the refresh time
            got = cells[r, c]
            if isinstance(value, dt.date):
                assert got == float((value - dt.date(1899, 12, 30)).days), (r, c)
            elif value is None:
                assert got in ("", None), (r, c)
            else:
                assert got == value, (r, c)
                written += 1
    assert written > 100
    formats = {action["args"][0] for action in actions if action["func"] == "setNumberFormat"}
    assert {"0.00%", "mmm yyyy"} <= formats

    # A workbook without a table the KPIs read gets a message naming it.
    error_type, message = out["broken"]
    assert error_type == "xlwings.XlwingsError"
    assert f"needs the table(s) {dropped}" in message
