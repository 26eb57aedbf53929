"""Runs the main.py that `kpi lite` wrote, as xlwings Lite would, and prints what
came out as one line of JSON: the same script in CPython (tests/test_lite.py)
and in Pyodide (tests/test_lite_pyodide.py), so the two can be compared.

    python lite_probe.py CONFIG.json

CONFIG.json: {"main": path of main.py, "site": a folder to import the engine
from first, or null, "books": {name: path of a Book JSON, ...}}.

Standard library and xlwings only: this file runs where the engine is just
what requirements.txt installed.
"""

import datetime as dt
import json
import runpy
import sys
from pathlib import Path


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    if config["site"]:
        sys.path.insert(0, config["site"])

    import xlwings as xw  # noqa: PLC0415  (after the engine's folder is on the path)

    namespace = runpy.run_path(config["main"])

    import kpi_engine  # noqa: PLC0415  (the copy main.py imported)
    from addin.report import excel as report_excel  # noqa: PLC0415

    out = {"python": sys.version.split()[0], "platform": sys.platform, "results": {}}
    for kpi in kpi_engine.KPIS.values():
        for n, example in enumerate(kpi.examples):
            args = list(example.args) + [
                example.kwargs.get(a.name) for a in kpi.arguments[len(example.args) :]
            ]
            # Ranges arrive as lists of rows, one cell per row for a column.
            cells = [[[c] for c in a] if isinstance(a, list) else a for a in args]
            value = namespace[kpi.id](*cells)
            out["results"][f"{kpi.id}/{n}"] = [value, example.matches(value)]
    out["kpi_list"] = namespace["kpi_list"]("social_media", "fr")
    out["benchmark_band"] = namespace["benchmark_band"]("retention_rate", 0.8, "networking")
    out["div0"] = namespace["churn_rate"](0.0, 0.0)
    out["left_out"] = namespace["nps"]([[9.0], ["abc"], ["#N/A"]])
    try:
        namespace["churn_rate"](-5.0, 100.0)
    except Exception as error:
        out["error"] = [type(error).__module__ + "." + type(error).__name__, str(error)]

    # The report's "refreshed at" cell is the only thing that depends on the time:
    # one fixed clock makes the actions of two runs comparable byte for byte.
    report_excel.refresh_book.__defaults__ = (None, lambda: dt.datetime(2024, 7, 15, 9, 30))
    out["books"] = {}
    for name, path in config["books"].items():
        book = xw.Book(json=json.loads(Path(path).read_text(encoding="utf-8")))
        try:
            # main.py's refresh_report reads on demand, which only xlwings Lite's
            # client can answer (tests/test_lite_refresh.py runs it with one);
            # here the report code of the wheel writes through a whole Book.
            report_excel.refresh_book(book)
            out["books"][name] = book.json()["actions"]
        except Exception as error:
            out["books"][name] = [type(error).__module__ + "." + type(error).__name__, str(error)]
    out["modules"] = {
        name: getattr(module, "__file__", None)
        for name, module in sys.modules.items()
        if name.split(".")[0] in ("addin", "kpi_engine")
    }
    out["loaded"] = sorted(
        name for name in ("python_calamine", "openpyxl", "click", "lxml") if name in sys.modules
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
