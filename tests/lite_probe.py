"""Runs the main.py that `kpi lite` wrote, as xlwings Lite would, and prints what
came out as one line of JSON: the same script in CPython (tests/test_lite.py)
and in Pyodide (tests/test_lite_pyodide.py), so the two can be compared.

    python lite_probe.py CONFIG.json

CONFIG.json: {"main": path of main.py, "site": a folder to import the engine
from first, or null, "books": {name: path of a Book JSON, ...}, "wrappers":
path of main.py as `kpi lite` wrote it with one wrapper per function}.

main.py is imported as the module ``main``, as xlwings Lite imports it. With
XLWINGS_ON_SERVER=true (as in xlwings Lite, where ``xw.func`` and
``xw.script`` are xlwings.server's), the probe also runs xlwings' own
discovery on it (``custom_functions_meta``, ``custom_scripts_meta``: what
Excel is told) and on the wrappers' main.py, and calls every KPI through
``custom_functions_call``, the way xlwings Lite calls a custom function.

Standard library and xlwings only: this file runs where the engine is just
what requirements.txt installed.
"""

import asyncio
import datetime as dt
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def load_module(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def discovered(module: ModuleType) -> dict[str, Any]:
    """What xlwings' own code finds in ``module``: the functions' metadata that
    Excel registers, the scripts, and each function's ``__xlfunc__`` (with the
    defaults of optional arguments, which the metadata does not show)."""
    from xlwings import server  # noqa: PLC0415

    return {
        "functions": server.custom_functions_meta(module),
        "scripts": server.custom_scripts_meta(module),
        "xlfunc": {
            name: json.loads(json.dumps(member.__xlfunc__, default=repr))
            for name, member in vars(module).items()
            if hasattr(member, "__xlfunc__")
        },
    }


async def call_as_lite(module: ModuleType, name: str, args: list[Any]) -> Any:
    """Call a custom function as xlwings Lite does: by name, each argument a
    matrix (Office.js sends every argument as rows of cells)."""
    import xlwings as xw  # noqa: PLC0415
    from xlwings import server  # noqa: PLC0415

    data = {
        "func_name": name,
        "args": [a if isinstance(a, list) else [[a]] for a in args],
        "version": xw.__version__,
        "client": "Office.js",
        "runtime": "1.4",
    }
    try:
        return await server.custom_functions_call(data, module)
    except Exception as error:
        return [type(error).__module__ + "." + type(error).__name__, str(error)]


async def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    if config["site"]:
        sys.path.insert(0, config["site"])

    import xlwings as xw  # noqa: PLC0415  (after the engine's folder is on the path)

    module = load_module("main", config["main"])
    namespace = vars(module)

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

    if os.environ.get("XLWINGS_ON_SERVER") == "true":
        wrappers = load_module("wrappers_main", config["wrappers"])
        out["discovery"] = {"main": discovered(module), "wrappers": discovered(wrappers)}
        called = out["called"] = {}
        for kpi in kpi_engine.KPIS.values():
            for n, example in enumerate(kpi.examples):
                args = list(example.args) + [
                    example.kwargs.get(a.name) for a in kpi.arguments[len(example.args) :]
                ]
                cells = [[[c] for c in a] if isinstance(a, list) else a for a in args]
                value = await call_as_lite(module, kpi.id, cells)
                # A value comes back as a matrix of one cell; an error as [type, message].
                matched = isinstance(value[0], list) and example.matches(value[0][0])
                called[f"{kpi.id}/{n}"] = [value, matched]
        called["kpi_list"] = await call_as_lite(module, "kpi_list", ["social_media", "fr"])
        called["div0"] = await call_as_lite(module, "churn_rate", [0.0, 0.0])
        called["error"] = await call_as_lite(module, "churn_rate", [-5.0, 100.0])
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
