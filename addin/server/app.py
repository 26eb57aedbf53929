"""The web application of ``kpi serve``: the Office.js add-in's backend.

A lean Starlette app that speaks the protocol of xlwings Server and uses
``xlwings.server`` for what it defines (function metadata, custom scripts),
rather than the full ``xlwings-server`` application. Why: speed, measured
by ``make bench``. The hot endpoints are plain routes behind one plain ASGI
middleware (``front.py``); a call's work is in ``calls.py``, and large calls
run in the compute lane (``lane.py``) so that small ones never wait.

xlwings-server itself provides the Office.js client scripts (the custom
functions client, the task pane's script machinery and office.js), which are
served from the installed package under ``/static``.

``create_app()`` reads the settings (``settings.py``) when it is called, not
when this module is imported; uvicorn calls it in each worker process.
Importing this module needs ``XLWINGS_ON_SERVER=true`` set before xlwings is
first imported (``kpi serve`` does that) and an xlwings licence key, since
``xlwings.server`` is xlwings PRO.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import orjson
import xlwings as xw
import xlwings.server
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from addin import functions
from addin.server import calls
from addin.server.auth import Authenticator, AuthError, AuthUnavailableError
from addin.server.front import SECURITY_HEADERS, FrontDoor, Scope
from addin.server.help import (
    INDEX_PATH,
    HelpPages,
    content_security_policy,
    help_path,
    page_language,
)
from addin.server.lane import (
    BACKGROUND,
    NORMAL,
    URGENT,
    ClientGoneError,
    ComputeLane,
    LaneUnavailableError,
    Spool,
)
from addin.server.manifest import ICON_PATHS, VERSION
from addin.server.observe import Observer, configure_logging, metrics, server_log
from addin.server.protocol import PreparedHeaders, send_messages, send_whole, whole_body
from addin.server.settings import Settings, get_settings
from addin.server.taskpane import kpi_entries, page_data, starter_steps
from kpi_engine.inputs import load_numpy

#: The Excel-facing namespace: ``=KPI.NPS(...)``. Outside production the
#: environment's name is appended (``KPI_DEV``), so that a development add-in
#: and the production one can be loaded side by side.
NAMESPACE = "KPI"
DISPLAY_NAME = "KPI add-in"
CALL_PATH = "/xlwings/custom-functions-call"
WEB = Path(__file__).resolve().parent / "web"
#: A body over the limit is read to its end (and dropped) up to this many
#: times the limit, so that the client reads the answer instead of a reset
#: connection, which it would retry; beyond that the connection is closed.
DRAIN_FACTOR = 4


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


def namespace(environment: str) -> str:
    if environment == "prod":
        return NAMESPACE
    # A namespace holds letters, digits and underscores only.
    return f"{NAMESPACE}_{''.join(c if c.isalnum() else '_' for c in environment.upper())}"


# --- what Excel loads once -----------------------------------------------------

#: The custom functions never change while the server runs: describe them once.
META: dict[str, Any] = xlwings.server.custom_functions_meta(functions)
#: The Python name of each custom function, by the id Excel knows it by.
FUNCTION_NAMES = {name.upper(): name for name in functions.EXCEL_FUNCTIONS}


@lru_cache(maxsize=16)
def custom_functions_meta_json(base_url: str) -> bytes:
    """The metadata, each function with the address of its help page (Excel
    links it from the function's tooltip and the Insert Function dialog)."""
    meta = copy.deepcopy(META)
    for function in meta["functions"]:
        function["helpUrl"] = base_url + help_path(FUNCTION_NAMES[function["id"]])
    return orjson.dumps(meta)


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


class BodyTooLargeError(Exception):
    """A body over ``KPI_MAX_BODY_MB``."""


class KpiApp:
    """The routes, with what they share: the settings, the compute lane, the
    authenticator and the access log. Nothing here outlives a call but
    caches of what never changes, so any worker process answers any call."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lane = ComputeLane(settings.compute_processes)
        #: Workbook starts in progress, by client (user, else address).
        self.starts: dict[str, int] = {}
        self.observer = Observer(settings)
        self.authenticator = Authenticator(settings)
        self.scripts_module = settings.scripts_module
        # Fails at start, not on the first button click.
        self.scripts = importlib.import_module(self.scripts_module)
        self.help = HelpPages(namespace(settings.environment), functions.EXCEL_FUNCTIONS)
        # NumPy (when installed) counts large ranges of numbers: imported now,
        # not on the event loop in the middle of the first such call.
        load_numpy()
        #: A custom function call of at most this many bytes is answered on the event loop.
        self.small_call_bytes = min(settings.large_call_bytes, settings.max_body_bytes)

    # --- helpers ---------------------------------------------------------------

    def base_url(self, request: Request) -> str:
        """Where Excel reaches this server: the public URL, else the request's
        own scheme and host (checked by the front door, from a trusted proxy's
        forwarded headers when there is one)."""
        if self.settings.public_url:
            return self.settings.public_url
        scheme = request.scope.get("scheme", "http")
        # Never the raw header: the host[:port] the front door parsed and checked.
        host = request.scope["kpi.host"]
        return f"{scheme}://{host}"

    def js_config(self) -> dict[str, Any]:
        """What xlwings' client scripts read from ``globalThis.config``."""
        providers = {"token": ["token"], "entraid": ["entraid"]}.get(self.settings.auth, [])
        return {
            "appPath": "",
            "authProviders": providers,
            # Only a server fault (5xx) is retried; a #VALUE! (400) never is.
            "customFunctionsMaxRetries": 3,
            "customFunctionsRetryCodes": [500, 502, 503, 504],
            "environment": self.settings.environment,
            "isOfficialLiteAddin": False,
            "pyodideBaseUrl": "",
            "taskpaneReloadAttempts": 3,
            "onWasm": False,
            "requestTimeout": 300,
            "xlwingsVersion": xw.__version__,
        }

    async def read_body(self, request: Request) -> bytes | Path:
        """The body: its bytes when it is small, else the path of the file it
        was spooled to for the lane; ``BodyTooLargeError`` once it passes
        ``KPI_MAX_BODY_MB``."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        too_large = declared.isdigit() and int(declared) > limit
        spool = Spool(self.settings.large_call_bytes)
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit and not too_large:
                    too_large = True
                    spool.discard()
                if too_large:
                    if size > DRAIN_FACTOR * limit:
                        break
                else:
                    spool.write(chunk)
        except BaseException:
            spool.discard()
            raise
        if too_large:
            raise BodyTooLargeError(int(declared) if declared.isdigit() else size)
        return spool.body()

    def too_large(self, size: int, function: str = "") -> str:
        if function == "refresh_report":
            return (
                f"refresh_report: the columns the report reads make {size / (1 << 20):,.1f} MB; "
                f"kpi serve takes at most {self.settings.max_body_mb:g} MB per call (setting "
                "KPI_MAX_BODY_MB). Ask whoever runs the server to raise the limit, or compute "
                "the report from the data's own files (kpi report --source)."
            )
        return (
            f"the call sends {size / (1 << 20):,.1f} MB; kpi serve takes at most "
            f"{self.settings.max_body_mb:g} MB per call (setting KPI_MAX_BODY_MB). "
            "Give the function smaller ranges, or ask whoever runs the server to raise "
            "the limit."
        )

    def _client_key(self, request: Request, user: str | None) -> str:
        client = request.scope.get("client")
        return user or (str(client[0]) if client else "a client")

    @contextlib.contextmanager
    def _start_slot(self, key: str) -> Iterator[bool]:
        """Count one workbook start of ``key`` while it runs; False when the
        client already has ``KPI_MAX_STARTS_PER_CLIENT`` in progress."""
        if self.starts.get(key, 0) >= self.settings.max_starts_per_client:
            yield False
            return
        self.starts[key] = self.starts.get(key, 0) + 1
        try:
            yield True
        finally:
            self.starts[key] -= 1
            if not self.starts[key]:
                del self.starts[key]

    def too_many_starts(self, function: str) -> calls.Answer:
        limit = self.settings.max_starts_per_client
        return calls.error_answer(
            f"{function}: {limit} workbook start{'s' if limit > 1 else ''} of yours "
            f"{'are' if limit > 1 else 'is'} already in progress on the server; wait for "
            f"{'them' if limit > 1 else 'it'} to finish, then start again "
            "(setting KPI_MAX_STARTS_PER_CLIENT)",
            429,
            function,
        )

    async def answer(
        self,
        request: Request,
        compute: Any,
        *args: Any,
        function: str = "",
        priority: int = NORMAL,
    ) -> Response:
        """Authenticate, read the body, compute, log and count: one path for
        every call from Excel. ``compute(*args, body)`` runs on the event loop
        for a small custom function call, in the compute lane otherwise."""
        answer = await self.compute(request, compute, *args, function=function, priority=priority)
        return Response(status_code=499) if answer is None else _response(answer)

    async def compute(
        self,
        request: Request,
        compute: Any,
        *args: Any,
        function: str = "",
        priority: int = NORMAL,
        started: float | None = None,
    ) -> calls.Answer | None:
        """The answer of ``answer``, recorded; None when the client went away."""
        started = time.perf_counter() if started is None else started
        user: str | None = None
        answer: calls.Answer
        try:
            user = await self.authenticator.authenticate(
                request.headers.get("authorization"), request.headers.get("auth-provider")
            )
            body = await self.read_body(request)
            if compute is calls.answer_call and isinstance(body, bytes):
                answer = compute(*args, body)
            elif priority == BACKGROUND:
                with self._start_slot(self._client_key(request, user)) as allowed:
                    answer = (
                        await self.lane.run(
                            compute,
                            *args,
                            body=body,
                            priority=priority,
                            gone=request.is_disconnected,
                        )
                        if allowed
                        else self.too_many_starts(function)
                    )
            else:
                answer = await self.lane.run(
                    compute, *args, body=body, priority=priority, gone=request.is_disconnected
                )
        except AuthError as error:
            answer = calls.error_answer(str(error), 401, function)
        except (AuthUnavailableError, LaneUnavailableError) as error:
            answer = calls.error_answer(
                str(error) or "the server is busy restarting a process; try again", 503, function
            )
        except BodyTooLargeError as error:
            answer = calls.error_answer(self.too_large(error.args[0], function), 413, function)
        except ClientDisconnect:
            server_log.info(
                "%s went away before its call was read", _address(request.scope.get("client"))
            )
            return None
        except ClientGoneError as gone:
            _log_gone(request, function or "its call", gone)
            return None
        self.observer.record(
            function=answer.function or function,
            cells=answer.cells,
            status=answer.status,
            started=started,
            client=request.scope.get("client"),
            user=user,
        )
        return answer

    async def custom_functions_call_asgi(self, scope: Scope, receive: Any, send: Any) -> None:
        """POST /xlwings/custom-functions-call, as a bare ASGI app that the
        front door calls directly (see ``front.py``), past Starlette's routing,
        request and response objects, which a one-cell call would otherwise
        spend most of its time in. A small call, whose body arrives in one
        piece, is answered here on the event loop, when the server's protocol
        has not answered it already (``answer_at_once``); anything else (a
        large body, one in pieces, a client gone) takes ``compute``'s path,
        as every other call from Excel does."""
        started = time.perf_counter()
        # A body that has arrived whole is taken at once (``protocol.py``);
        # anything else, and any other server, through ``receive``.
        body = whole_body(receive)
        if body is None:
            message = await receive()
            body = message.get("body", b"")
            if message["type"] != "http.request" or message.get("more_body", False):
                await self._custom_functions_call_in_pieces(scope, receive, send, message, started)
                return
        if len(body) > self.small_call_bytes:
            message = {"type": "http.request", "body": body, "more_body": False}
            await self._custom_functions_call_in_pieces(scope, receive, send, message, started)
            return
        user: str | None = None
        try:
            if self.authenticator.mode != "none":
                authorization = provider = None
                for key, value in scope["headers"]:
                    if key == b"authorization":
                        authorization = value.decode("latin-1")
                    elif key == b"auth-provider":
                        provider = value.decode("latin-1")
                user = await self.authenticator.authenticate(authorization, provider)
            answer = calls.answer_call(self.settings.max_cells, body)
        except AuthError as error:
            answer = calls.error_answer(str(error), 401)
        except AuthUnavailableError as error:
            answer = calls.error_answer(str(error), 503)
        # ``send_answer`` without a coroutine of its own: where users sign in,
        # every call passes here.
        status, headers, answer_body = self._recorded(scope, answer, started, user)
        if not send_whole(send, status, headers, answer_body):
            await send_messages(send, status, headers, answer_body)

    def answer_at_once(
        self, scope: Scope, body: bytes
    ) -> tuple[int, PreparedHeaders, bytes] | None:
        """POST /xlwings/custom-functions-call, arrived whole, answered before
        any ASGI task starts (``addin.server.protocol``), as
        ``custom_functions_call_asgi`` answers it: a small call, when no
        sign-in is asked for. None: the call takes that ASGI path."""
        if self.authenticator.mode != "none" or len(body) > self.small_call_bytes:
            return None
        started = time.perf_counter()
        answer = calls.answer_call(self.settings.max_cells, body)
        return self._recorded(scope, answer, started, None)

    def _recorded(
        self, scope: Scope, answer: calls.Answer, started: float, user: str | None
    ) -> tuple[int, PreparedHeaders, bytes]:
        """A small call's answer, noted in the access log and the metrics:
        its status, headers and body."""
        status, body = answer.status, answer.body
        # (Positional: keywords cost a one-cell call more than the rest of this.)
        self.observer.record(
            answer.function, answer.cells, status, started, scope.get("client"), user
        )
        return status, prepared_headers(body, status), body

    async def _custom_functions_call_in_pieces(
        self, scope: Scope, receive: Any, send: Any, first: dict[str, Any], started: float
    ) -> None:
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        answer = await self.compute(
            Request(scope, replay), calls.answer_call, self.settings.max_cells, started=started
        )
        await send_answer(send, calls.Answer(499, b"") if answer is None else answer)

    # --- routes ----------------------------------------------------------------

    async def custom_functions_call(self, request: Request) -> Response:
        return await self.answer(request, calls.answer_call, self.settings.max_cells)

    async def custom_scripts_call(self, request: Request) -> Response:
        name = request.path_params["script_name"]
        missing = calls.no_such_script(self.scripts_module, name)
        if missing is not None:
            return _response(missing)
        # A person waits for Refresh report; the steps of a start are background work.
        priority = {"refresh_report": URGENT, "start_workbook": BACKGROUND}.get(name, NORMAL)
        return await self.answer(
            request,
            calls.answer_script,
            self.scripts_module,
            name,
            function=f"script:{name}",
            priority=priority,
        )

    async def custom_scripts_meta(self, request: Request) -> Response:
        return JSONResponse(xlwings.server.custom_scripts_meta(self.scripts))

    async def manifest(self, request: Request) -> Response:
        environment = self.settings.environment
        name = DISPLAY_NAME if environment == "prod" else f"{DISPLAY_NAME} [{environment}]"
        xml = _templates.get_template("manifest.xml").render(
            # One stable id per environment, so Office sees the same add-in each time.
            manifest_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kpi-addin/{environment}"),
            display_name=name,
            namespace=namespace(environment),
            example=page_data(namespace(environment))["example"],
            more=len(functions.EXCEL_FUNCTIONS) - 1,
            base_url=self.base_url(request),
            version=VERSION,
            icons=ICON_PATHS,
            support_path=INDEX_PATH,
            entraid_client_id=self.settings.entraid_client_id
            if self.settings.auth == "entraid"
            else None,
        )
        return Response(xml, media_type="text/xml")

    async def taskpane(self, request: Request) -> Response:
        office_js = sorted(path.name for path in (STATIC / "vendor" / "office-js").iterdir())[-1]
        html = _templates.get_template("taskpane.html").render(
            # Inside <script type="application/json">: escape what could close the tag.
            config_json=jinja2.utils.markupsafe.Markup(
                json.dumps(self.js_config()).replace("<", "\\u003c")
            ),
            static="/static",
            office_js_version=office_js,
            auth=self.settings.auth,
            page_json=jinja2.utils.markupsafe.Markup(
                json.dumps(page_data(namespace(self.settings.environment))).replace("<", "\\u003c")
            ),
        )
        return HTMLResponse(html)

    async def taskpane_kpis(self, request: Request) -> Response:
        """The KPI browser's catalogue, in the language of ``?lang=``."""
        language = page_language(request.query_params.get("lang"), None)
        entries = kpi_entries(language, namespace(self.settings.environment))
        return Response(orjson.dumps(entries), media_type="application/json")

    async def taskpane_starter(self, request: Request) -> Response:
        """The steps of "Start a KPI workbook here" (see ``taskpane.starter_steps``)."""
        query = request.query_params
        try:
            # The steps are built with the sample data: as costly as a call.
            user = await self.authenticator.authenticate(
                request.headers.get("authorization"), request.headers.get("auth-provider")
            )
        except AuthError as error:
            return JSONResponse(
                {"detail": str(error)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        except AuthUnavailableError as error:
            return JSONResponse({"detail": str(error)}, status_code=503)
        try:
            with self._start_slot(self._client_key(request, user)) as allowed:
                if not allowed:
                    return _response(self.too_many_starts("start_workbook"))
                steps = await self.lane.run(
                    starter_steps,
                    query.get("type"),
                    query.get("lang"),
                    query.get("rows"),
                    body=b"",
                    priority=BACKGROUND,
                    gone=request.is_disconnected,
                )
        except ClientGoneError as gone:
            _log_gone(request, "start_workbook", gone)
            return Response(status_code=499)
        except ValueError as error:
            return JSONResponse({"detail": str(error)}, status_code=400)
        except LaneUnavailableError:
            return JSONResponse(
                {"detail": "the server is busy restarting a process; try again"}, status_code=503
            )
        return JSONResponse(steps)

    async def taskpane_refresh_plan(self, request: Request) -> Response:
        """What "Refresh report" reads, from the workbook's structure (``report.pane``)."""
        return await self.answer(request, calls.answer_refresh_plan, function="refresh_plan")

    async def taskpane_refresh(self, request: Request) -> Response:
        """The report sheet's actions from the columns the pane read: one request,
        which carries all it needs, so any instance answers it."""
        return await self.answer(request, calls.answer_refresh, function="refresh_report")

    async def custom_functions_meta(self, request: Request) -> Response:
        return Response(
            custom_functions_meta_json(self.base_url(request)), media_type="application/json"
        )

    async def help_page(self, request: Request) -> Response:
        """A function's help page (``/help/nps``), or the index (``/help/``),
        in the language of ``?lang=`` or else of the browser."""
        language = page_language(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        name = request.path_params.get("name")
        page = self.help.index(language) if name is None else self.help.function(name, language)
        return HTMLResponse(
            page.html,
            page.status,
            headers={
                "Content-Language": page.language,
                "Content-Security-Policy": content_security_policy(),
                "Vary": "Accept-Language",
            },
        )

    async def home(self, request: Request) -> Response:
        # The manifest names the server's own address (AppDomain): a person who
        # opens it in a browser lands on the help.
        return RedirectResponse(INDEX_PATH, status_code=302)

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def metrics(self, request: Request) -> Response:
        # The calls noted since the last batch are counted first.
        self.observer.flush()
        body, content_type = metrics()
        return Response(body, media_type=content_type)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # The lane's processes start now, so the first large call does not wait for them.
        self.lane.warm_up()
        try:
            yield
        finally:
            self.observer.close()
            self.lane.close()


async def custom_functions_code(request: Request) -> Response:
    return Response(CODE_JS, media_type="text/javascript")


#: The headers of every answer to a call, besides its length: JSON, and the
#: security headers that the front door adds to every other answer.
ANSWER_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"application/json"),
    *SECURITY_HEADERS,
)
_BEARER = ((b"www-authenticate", b"Bearer"),)
#: Answers' headers, checked and encoded once, by the answer's length and
#: whether it is a 401: one-cell answers have a handful of lengths.
_PREPARED: dict[tuple[int, bool], PreparedHeaders] = {}
_PREPARED_MAX = 1024


def answer_headers(length: int, unauthorized: bool) -> PreparedHeaders:
    try:
        return _PREPARED[length, unauthorized]
    except KeyError:
        pass
    headers = PreparedHeaders(length, ANSWER_HEADERS + _BEARER if unauthorized else ANSWER_HEADERS)
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    _PREPARED[length, unauthorized] = headers
    return headers


async def send_answer(send: Any, answer: calls.Answer) -> None:
    """An answer as a bare ASGI response (``custom_functions_call_asgi``),
    written at once when the server's cycle can (``protocol.py``)."""
    headers = prepared_headers(answer.body, answer.status)
    if not send_whole(send, answer.status, headers, answer.body):
        await send_messages(send, answer.status, headers, answer.body)


def prepared_headers(body: bytes, status: int) -> PreparedHeaders:
    """An answer's headers, checked and encoded once for each length."""
    # A 401 says how to authenticate, as RFC 6750 asks.
    key = len(body), status == 401
    return _PREPARED.get(key) or answer_headers(*key)


def _response(answer: calls.Answer) -> Response:
    # A 401 says how to authenticate, as RFC 6750 asks.
    headers = {"WWW-Authenticate": "Bearer"} if answer.status == 401 else None
    return Response(answer.body, answer.status, headers, media_type="application/json")


def _log_gone(request: Request, function: str, gone: ClientGoneError) -> None:
    if gone.running:
        server_log.info(
            "%s went away while %s ran; it was stopped and its process replaced",
            _address(request.scope.get("client")),
            function,
        )
    else:
        server_log.info(
            "%s went away while %s waited for a process; it was not run",
            _address(request.scope.get("client")),
            function,
        )


def _address(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"


def create_app(settings: Settings | None = None) -> Any:
    """The app for uvicorn (``factory=True``): built in each worker process."""
    settings = settings or get_settings()
    configure_logging(settings)
    kpi = KpiApp(settings)
    routes: list[Any] = [
        # Plain routes: no request validation or dependency injection on the hot path.
        Route(CALL_PATH, kpi.custom_functions_call, methods=["POST"]),
        Route(
            "/xlwings/custom-scripts-call/{script_name}", kpi.custom_scripts_call, methods=["POST"]
        ),
        Route("/healthz", kpi.healthz, methods=["GET"]),
        Route("/taskpane/refresh-plan", kpi.taskpane_refresh_plan, methods=["POST"]),
        Route("/taskpane/refresh", kpi.taskpane_refresh, methods=["POST"]),
    ]
    for path, endpoint in (
        ("/xlwings/custom-functions-meta", kpi.custom_functions_meta),
        ("/xlwings/custom-functions-meta.json", kpi.custom_functions_meta),
        ("/xlwings/custom-functions-code", custom_functions_code),
        ("/xlwings/custom-functions-code.js", custom_functions_code),
        ("/xlwings/custom-scripts-meta", kpi.custom_scripts_meta),
        ("/xlwings/custom-scripts-meta.json", kpi.custom_scripts_meta),
        ("/manifest.xml", kpi.manifest),
        ("/taskpane.html", kpi.taskpane),
        ("/taskpane/kpis", kpi.taskpane_kpis),
        ("/taskpane/starter", kpi.taskpane_starter),
        ("/", kpi.home),
        ("/help", kpi.help_page),
        (INDEX_PATH, kpi.help_page),
        (INDEX_PATH + "{name:path}", kpi.help_page),
    ):
        routes.append(Route(path, endpoint, methods=["GET"]))
    if settings.metrics:
        routes.append(Route("/metrics", kpi.metrics, methods=["GET"]))
    routes.append(Mount("/web", StaticFiles(directory=WEB / "static", check_dir=False), name="web"))
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(routes=routes, lifespan=kpi.lifespan)
    app.state.kpi = kpi
    return FrontDoor(
        app,
        settings,
        {CALL_PATH: kpi.custom_functions_call_asgi},
        {CALL_PATH: kpi.answer_at_once},
    )
