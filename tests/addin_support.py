"""Helpers for the add-in tests: the kpi command run in this process, a real
`kpi serve` process, and arguments in the shapes each Excel runtime delivers
them."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kpi_engine
from kpi_engine._inputs import to_serial

KPI = shutil.which("kpi", path=str(Path(sys.executable).parent))
#: How long a test waits for `kpi serve` to answer once started.
STARTUP_SECONDS = 240
XLWINGS_VERSION = "0.37.8"
#: The route of Excel's custom-function calls on `kpi serve`.
CALL_PATH = "/xlwings/custom-functions-call"


def raw_call_request(
    body: bytes, *extra: str, method: str = "POST", version: str = "1.1", length: int = -1
) -> bytes:
    """The bytes of one HTTP request to the custom-function route as Excel's
    client sends it, ``extra`` header lines after its own; ``length``: a
    Content-Length other than the body's."""
    head = [
        f"{method} {CALL_PATH} HTTP/{version}",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body) if length < 0 else length}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_EPOCH = dt.datetime(1899, 12, 30)


@dataclass(frozen=True)
class Ran:
    """What a kpi command did: its exit status, standard output and error."""

    returncode: int
    stdout: str
    stderr: str


def run_kpi(*args: str | Path) -> Ran:
    """``kpi ARGS`` in this process (click's runner: the real command, its real
    exit status and streams, any exception other than an exit raised), which
    saves a Python start per call."""
    from click.testing import CliRunner  # noqa: PLC0415

    from addin.cli import main  # noqa: PLC0415

    result = CliRunner().invoke(
        main, [str(arg) for arg in args], prog_name="kpi", catch_exceptions=False
    )
    return Ran(result.exit_code, result.stdout, result.stderr)


def kpi_process(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The installed kpi command in a process of its own, as a user's shell
    runs it: its exit status and text output. ``env``: its environment (by
    default this one, with NO_COLOR=1)."""
    assert KPI, "the kpi console script is not installed in this environment"
    return subprocess.run(
        [KPI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NO_COLOR": "1"} if env is None else env,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    #: Where the server's stderr goes: its access log and its warnings.
    log: Path
    #: For a server started with a certificate: what the client trusts.
    tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def request(self, *args: Any, **kwargs: Any) -> tuple[int, str, bytes]:
        """One real HTTP request, as ``exchange`` takes it; returns (status,
        content type, body)."""
        status, response_headers, answer = self.exchange(*args, **kwargs)
        return status, response_headers.get("content-type", ""), answer

    def exchange(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float = 60,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One real HTTP request; returns (status, every response header with
        its name in lower case, body). ``body`` is sent as JSON, or as it is
        when it is bytes."""
        connection = (
            http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.tls)
            if self.tls
            else http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        )
        try:
            raw = body is None or isinstance(body, bytes)
            payload = body if raw else json.dumps(body).encode()
            sent = {"Content-Type": "application/json"} if payload is not None else {}
            sent.update(headers or {})
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            answer = response.read()
            names = {key.lower(): value for key, value in response.getheaders()}
            return response.status, names, answer
        finally:
            connection.close()

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def call(self, func_name: str, args: list[Any], runtime: str = "1.4") -> tuple[int, Any]:
        """POST a custom function call shaped as xlwings' Office.js client sends it."""
        status, _, body = self.request(
            "POST", "/xlwings/custom-functions-call", office_js_body(func_name, args, runtime)
        )
        return status, json.loads(body)


def run_node(script: Path, *args: str, stdin: str | None = None, timeout: float = 120) -> Any:
    """Run a Node.js script of tests/node; its last line of output, as JSON."""
    node = shutil.which("node")
    assert node, "Node.js is needed for this test (make test checks for it)"
    result = subprocess.run(
        [node, str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def office_js_body(func_name: str, args: list[Any], runtime: str = "1.4") -> dict[str, Any]:
    return {
        "client": "Office.js",
        "func_name": func_name,
        "args": args,
        "caller_address": "[Book1.xlsx]Sheet1!B2",
        "session_id": "3f1c1b7e-tests",
        "culture_info_name": "en-US",
        "date_format": "M/d/yyyy",
        "version": XLWINGS_VERSION,
        "runtime": runtime,
    }


def server_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("XLWINGS_")}
    env["XLWINGS_LICENSE_KEY"] = "noncommercial"
    env.update(extra)
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    """End ``process``: politely, then for good if it has not gone in 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(
    *args: str, env: dict[str, str] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[Server]:
    """Start `kpi serve` on a free loopback port; stop it afterwards. With
    ``tls`` (and ``--ssl-certfile``/``--ssl-keyfile`` among ``args``) it is
    reached over HTTPS, trusting what ``tls`` trusts."""
    assert KPI, "the kpi console script is not installed in this environment"
    port = free_port()
    # A file, not a pipe: the server logs a line per call, and a pipe that
    # nobody reads would fill up and stall it.
    log = Path(tempfile.mkdtemp(prefix="kpi-serve-")) / "serve.log"
    log_file = log.open("wb")
    process = subprocess.Popen(
        [KPI, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=env or server_env(),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = Server("127.0.0.1", port, process, log, tls)
    try:
        # Starting imports the engine and spawns the lane's process: at load 8
        # and more on two cores that took over a minute.
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"kpi serve exited early:\n{server.log_text()}")
            try:
                status, _, _ = server.request("GET", "/xlwings/custom-functions-meta", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"kpi serve did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.1)
        yield server
    finally:
        stop(process)
        log_file.close()


# --- arguments as each runtime delivers them ----------------------------------


def serial(value: Any) -> Any:
    """A date as Office.js sends it: an Excel serial number."""
    if isinstance(value, dt.date):
        return to_serial("tests", "date", value)
    return value


def com_cell(value: Any) -> Any:
    """A cell as COM delivers it: numbers are floats, dates are datetimes."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


def com_argument(value: Any) -> Any:
    """A lone value for one cell, a column as a list of one-element rows."""
    if isinstance(value, list):
        return [[com_cell(cell)] for cell in value]
    return com_cell(value)


def office_js_argument(value: Any) -> Any:
    """Office.js sends every argument as a matrix: a column is a list of rows."""
    if value is None:
        return None
    if isinstance(value, list):
        return [[serial(com_cell(cell))] for cell in value]
    return [[serial(com_cell(value))]]


def example_args(kpi: kpi_engine.KPI, example: Any) -> list[Any]:
    """An example's arguments in parameter order; None for an omitted optional."""
    args = list(example.args)
    for argument in kpi.arguments[len(args) :]:
        args.append(example.kwargs.get(argument.name))
    return args


def undefined_args(kpi: kpi_engine.KPI) -> list[Any] | None:
    """Arguments for which the engine says the KPI has no value, if any are
    among the simple candidates: all zeros, or empty ranges."""
    example = kpi.examples[0]
    given = example_args(kpi, example)
    candidates = [
        [None if a is None else 0 for a in given],
        # Keep single values (a month, a threshold) and blank every range.
        [[None, None] if isinstance(a, list) else a for a in given],
    ]
    for args in candidates:
        present = list(args)
        while present and present[-1] is None:
            present.pop()
        try:
            kpi.function(*present)
        except kpi_engine.KPIUndefinedError:
            return args
        except (kpi_engine.KPIInputError, TypeError):
            continue
    return None


def write_xlsx_export(
    path: Path,
    tables: Mapping[str, Mapping[str, Sequence[Any]]],
    date_format: str = "yyyy-mm-dd hh:mm:ss",
) -> Path:
    """Tables as an .xlsx export, a sheet per table, written by XlsxWriter
    (not by us) as a database tool writes one: dates as date cells, numbers
    as number cells, a NaN as the error #NUM!, None as an empty cell."""
    import xlsxwriter  # noqa: PLC0415

    book = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    dated = book.add_format({"num_format": date_format})
    for name, columns in tables.items():
        sheet = book.add_worksheet(name)
        for col, (header, values) in enumerate(columns.items()):
            sheet.write_string(0, col, header)
            for row, value in enumerate(values, start=1):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    moment = (
                        value
                        if isinstance(value, dt.datetime)
                        else dt.datetime.combine(value, dt.time())
                    )
                    sheet.write_datetime(row, col, moment, dated)
                elif isinstance(value, str):
                    sheet.write_string(row, col, value)
                else:
                    sheet.write_number(row, col, value)
    book.close()
    return path
