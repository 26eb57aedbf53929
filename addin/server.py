"""The backend of the Office.js add-in, started by ``kpi serve``.

A lean FastAPI app that speaks the protocol of xlwings Server and uses
``xlwings.server`` for what it defines (function metadata, custom scripts,
the conversion of results to Excel values), rather than the full
``xlwings-server`` application. Why: speed, measured by ``make bench``.

* Arguments are read once, as a whole. xlwings' generic path converts every
  cell of every argument in Python (and, outside Pyodide, retries a failing
  ``from pyodide.ffi import JsNull`` for each one); the engine already takes
  ranges as Office.js sends them, so here only the few cells that need it
  (empty text, rich values such as dates) are touched.
* The request body is parsed with orjson while the garbage collector is
  paused: parsing a million-cell column creates a million small lists,
  which would otherwise set off collections that find nothing to collect.
* The hot endpoints are plain Starlette routes without middleware, which
  leaves more calls per second for one-cell formulas.

xlwings-server itself provides the Office.js client scripts (the custom
functions client, the task pane's script machinery and office.js), which are
served from the installed package under ``/static``.

Importing this module needs ``XLWINGS_ON_SERVER=true`` set before xlwings is
first imported (``kpi serve`` does that) and an xlwings licence key, since
``xlwings.server`` is xlwings PRO.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import inspect
import json
import os
import re
import uuid
from itertools import chain
from pathlib import Path
from typing import Any

import jinja2
import orjson
import xlwings as xw
import xlwings.server
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from xlwings.pro._xlofficejs import errorstr_to_errortype

from addin import functions

#: The Excel-facing namespace: ``=KPI.NPS(...)``. Outside production the
#: environment's name is appended (``KPI_DEV``), so that a development add-in
#: and the production one can be loaded side by side.
NAMESPACE = "KPI"
DISPLAY_NAME = "KPI add-in"
CALL_PATH = "/xlwings/custom-functions-call"
#: Module whose ``@script`` functions the task pane's buttons run.
SCRIPTS_MODULE = os.environ.get("KPI_SCRIPTS_MODULE", "addin.scripts")
ENVIRONMENT = os.environ.get("KPI_ENVIRONMENT", "prod").strip().lower() or "prod"
#: Bodies larger than this are parsed with the garbage collector paused.
LARGE_BODY = 64 * 1024

WEB = Path(__file__).resolve().parent / "web"


def _xlwings_server_static() -> Path:
    """The static folder of the installed xlwings-server package (not imported)."""
    spec = importlib.util.find_spec("xlwings_server")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "kpi serve needs the xlwings-server package for its Office.js client scripts: "
            "pip install 'kpi-addin[server]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static"


STATIC = _xlwings_server_static()

if not all(hasattr(f, "__xlfunc__") for f in functions.EXCEL_FUNCTIONS.values()):
    raise RuntimeError(
        "xlwings was imported before XLWINGS_ON_SERVER=true was set, so the KPI "
        "functions were not registered as Office.js custom functions; start the "
        "backend with `kpi serve`"
    )

scripts = importlib.import_module(SCRIPTS_MODULE)


def namespace() -> str:
    if ENVIRONMENT == "prod":
        return NAMESPACE
    # A namespace holds letters, digits and underscores only.
    return f"{NAMESPACE}_{re.sub(r'[^A-Z0-9]', '_', ENVIRONMENT.upper())}"


# --- what Excel loads once -----------------------------------------------------

#: The custom functions never change while the server runs: describe them once.
META_JSON = orjson.dumps(xlwings.server.custom_functions_meta(functions))


def _custom_functions_code() -> str:
    """xlwings' Office.js custom-functions client, and one stub per function.

    Each stub hands its arguments to the client's ``base``, which posts them
    to ``/xlwings/custom-functions-call``; ``CustomFunctions.associate`` ties
    it to the function id of the metadata.
    """
    client = (STATIC / "js" / "custom-functions" / "custom-functions-code.js").read_text(
        encoding="utf-8"
    )
    code = client.replace("placeholder_xlwings_version", xw.__version__).replace(
        "placeholder_custom_functions_call_path", CALL_PATH
    )
    stubs = []
    for name, function in sorted(functions.EXCEL_FUNCTIONS.items()):
        # A prefix keeps the stubs clear of the client's own names (base, ...).
        js_name = f"kpi_function_{name}"
        streaming = "true" if inspect.isasyncgenfunction(function) else "false"
        stubs.append(
            f"async function {js_name}() {{\n"
            f"  return await base({{\n"
            f'    funcName: "{name}",\n'
            f"    isStreaming: {streaming},\n"
            f"    isCached: false,\n"
            f"    callerScoped: false,\n"
            f"  }}, ...arguments);\n"
            f"}}\n"
            f'CustomFunctions.associate("{name.upper()}", {js_name});\n'
        )
    return code + "\n" + "".join(stubs)


CODE_JS = _custom_functions_code()

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB),
    autoescape=jinja2.select_autoescape(["html", "xml"]),
)


def _js_config() -> dict[str, Any]:
    """What xlwings' client scripts read from ``globalThis.config``."""
    return {
        "appPath": "",
        "authProviders": [],
        # Only a server fault (5xx) is retried; a #VALUE! (400) never is.
        "customFunctionsMaxRetries": 3,
        "customFunctionsRetryCodes": [500, 502, 503, 504],
        "environment": ENVIRONMENT,
        "isOfficialLiteAddin": False,
        "pyodideBaseUrl": "",
        "taskpaneReloadAttempts": 3,
        "onWasm": False,
        "requestTimeout": 300,
        "xlwingsVersion": xw.__version__,
    }


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def manifest(request: Request) -> Response:
    base_url = _base_url(request)
    name = DISPLAY_NAME if ENVIRONMENT == "prod" else f"{DISPLAY_NAME} [{ENVIRONMENT}]"
    xml = _templates.get_template("manifest.xml").render(
        # One stable id per environment, so Office sees the same add-in each time.
        manifest_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kpi-addin/{ENVIRONMENT}"),
        display_name=name,
        namespace=namespace(),
        base_url=base_url,
    )
    return Response(xml, media_type="text/xml")


async def taskpane(request: Request) -> Response:
    office_js = sorted(path.name for path in (STATIC / "vendor" / "office-js").iterdir())[-1]
    html = _templates.get_template("taskpane.html").render(
        # Inside <script type="application/json">: escape what could close the tag.
        config_json=jinja2.utils.markupsafe.Markup(
            json.dumps(_js_config()).replace("<", "\\u003c")
        ),
        static="/static",
        office_js_version=office_js,
    )
    return HTMLResponse(html)


async def custom_functions_meta(request: Request) -> Response:
    return Response(META_JSON, media_type="application/json")


async def custom_functions_code(request: Request) -> Response:
    return Response(CODE_JS, media_type="text/javascript")


# --- custom function calls -----------------------------------------------------


class BadCallError(Exception):
    """A call that cannot be made: Excel shows #VALUE! with this message."""


def _error(message: str) -> Response:
    # 400, never 500: xlwings' client retries a 5xx three times, and the
    # message is what Excel shows when the user hovers over #VALUE!.
    return JSONResponse({"detail": message}, status_code=400)


def _cell(value: Any) -> Any:
    """One cell as the engine takes it: a rich value (a date, a number with a
    format, an error) becomes its plain value; empty text becomes blank."""
    if type(value) is dict:
        basic = value.get("basicValue")
        # An error cell keeps its text (#N/A), so the engine names it.
        return None if basic == "" else basic
    if value == "":
        return None
    return value


def _argument(raw: Any) -> Any:
    """One argument as Office.js sends it (always a matrix, or null when
    omitted) in the shape Excel's other runtimes give: a lone value for one
    cell, a flat list for a one-row range, the list of rows otherwise."""
    value = raw
    if type(value) is list and len(value) == 1:
        value = value[0]
        if type(value) is list and len(value) == 1:
            value = value[0]
    if type(value) is not list:
        return _cell(value)
    if not value or type(value[0]) is not list:
        kinds = set(map(type, value))
        if dict in kinds:
            return [_cell(v) for v in value]
        return value
    # A block: look at each cell's type once (a fast C loop); only rich
    # values need rebuilding, and empty text is already blank to the engine.
    if set(map(type, value)) != {list}:
        value = [row if type(row) is list else [row] for row in value]
    kinds = set(map(type, chain.from_iterable(value)))
    if dict in kinds:
        return [[_cell(v) for v in row] for row in value]
    return value


def _excel_value(result: Any, runtime: Any) -> Any:
    """A function's result as Office.js takes it: always a matrix."""
    if type(result) is list:
        return [[_excel_scalar(cell, runtime) for cell in row] for row in result]
    return [[_excel_scalar(result, runtime)]]


def _excel_scalar(value: Any, runtime: Any) -> Any:
    if value is None:
        return ""
    if type(value) is str and value.startswith("#"):
        return errorstr_to_errortype(value, runtime or "1.1")
    return value


def call(data: Any) -> Any:
    """Run one custom function call; return the result for Office.js."""
    if type(data) is not dict:
        raise BadCallError("the request body must be a JSON object")
    name = data.get("func_name")
    function = functions.EXCEL_FUNCTIONS.get(name) if type(name) is str else None
    if function is None:
        raise BadCallError(f"there is no function named {name!r}; see =KPI.KPI_LIST()")
    args = data.get("args")
    if type(args) is not list:
        raise BadCallError(f"{name}: the request has no list of arguments")
    parameters = function.__xlfunc__["args"]
    if len(args) > len(parameters):
        raise BadCallError(f"{name}: takes at most {len(parameters)} arguments, got {len(args)}")
    values = [_argument(arg) for arg in args]
    try:
        result = function(*values)
    except xw.XlwingsError as error:
        raise BadCallError(str(error)) from None
    except TypeError as error:
        # Too few arguments for a required parameter; any other TypeError is a
        # fault in the add-in and is left to surface as one.
        if len(values) < len(parameters):
            missing = ", ".join(p["name"] for p in parameters[len(values) :])
            raise BadCallError(f"{name}: missing arguments: {missing}") from None
        raise error
    return _excel_value(result, data.get("runtime"))


async def custom_functions_call(request: Request) -> Response:
    body = await request.body()
    pause = len(body) > LARGE_BODY and gc.isenabled()
    if pause:
        gc.disable()
    try:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            return _error(f"the request body is not valid JSON: {error}")
        try:
            result = call(data)
        except BadCallError as error:
            return _error(str(error))
        # The argument lists go away here, by reference counting, while the
        # collector still sleeps.
        del data
        return Response(orjson.dumps({"result": result}), media_type="application/json")
    finally:
        if pause:
            gc.enable()


# --- custom scripts (task pane buttons) ----------------------------------------


def _script(name: str) -> Any:
    function = getattr(scripts, name, None)
    if getattr(function, "__xlscript__", None) is None:
        return None
    return function


async def custom_scripts_meta(request: Request) -> Response:
    return JSONResponse(xlwings.server.custom_scripts_meta(scripts))


async def custom_scripts_call(request: Request) -> Response:
    name = request.path_params["script_name"]
    if _script(name) is None:
        return _error(
            f"Custom script {name!r} doesn't exist yet: define it with @script in {SCRIPTS_MODULE}"
        )
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        return _error(f"the request body is not valid JSON: {error}")
    if type(data) is not dict:
        return _error("the request body must be a JSON object")
    args = data.pop("args", None) or []
    book = xw.Book(json=data)
    try:
        book = await xlwings.server.custom_scripts_call(
            scripts, name, None, typehint_to_value={xw.Book: book}, args=args
        )
        return JSONResponse(book.json())
    except xw.XlwingsError as error:
        return _error(str(error))
    finally:
        book.close()


def create_app() -> FastAPI:
    app = FastAPI(title=DISPLAY_NAME, docs_url=None, redoc_url=None, openapi_url=None)
    # Plain routes: no request validation or dependency injection on the hot path.
    app.add_route(CALL_PATH, custom_functions_call, methods=["POST"])
    for path, endpoint in (
        ("/xlwings/custom-functions-meta", custom_functions_meta),
        ("/xlwings/custom-functions-meta.json", custom_functions_meta),
        ("/xlwings/custom-functions-code", custom_functions_code),
        ("/xlwings/custom-functions-code.js", custom_functions_code),
        ("/xlwings/custom-scripts-meta", custom_scripts_meta),
        ("/xlwings/custom-scripts-meta.json", custom_scripts_meta),
        ("/manifest.xml", manifest),
        ("/taskpane.html", taskpane),
    ):
        app.add_route(path, endpoint, methods=["GET"])
    app.add_route(
        "/xlwings/custom-scripts-call/{script_name}", custom_scripts_call, methods=["POST"]
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


app = create_app()
