"""`kpi serve` in front of a team: limits, inputs that used to give HTTP 500,
forwarded headers and trusted hosts, JSON-only POSTs, slow and half-open
clients, the access log and the metrics. A real server process on
127.0.0.1, real HTTP requests."""

from __future__ import annotations

import json
import math
import re
import socket
import time
from collections.abc import Iterator

import pytest

import kpi_engine
from tests.addin_support import Server, office_js_body, running_server, server_env

pytestmark = pytest.mark.server

CALL = "/xlwings/custom-functions-call"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    env = server_env(
        KPI_MAX_BODY_MB="1",
        KPI_MAX_CELLS="50000",
        KPI_HEADER_TIMEOUT="2",
        KPI_BODY_TIMEOUT="2",
        KPI_PUBLIC_URL="https://kpi.example.com",
        KPI_TRUSTED_PROXIES="127.0.0.1",
    )
    with running_server(env=env) as running:
        yield running


def detail(answer: bytes) -> str:
    return str(json.loads(answer)["detail"])


def log_with(server: Server, *texts: str, within: float = 60) -> str:
    """The server's log once it holds every one of ``texts``: the access log
    line is written as the answer goes out, later still on a busy machine."""
    deadline = time.monotonic() + within
    log = server.log_text()
    while not all(text in log for text in texts) and time.monotonic() < deadline:
        time.sleep(0.05)
        log = server.log_text()
    return log


# --- limits ----------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_message_naming_the_setting(server: Server) -> None:
    scores = [[9.0]] * 300_000  # about 2 MB of JSON
    status, _, answer = server.request("POST", CALL, office_js_body("nps", [scores]))
    # 413 is not among the statuses the Office.js client retries.
    assert status == 413
    message = detail(answer)
    assert "kpi serve takes at most 1 MB per call (setting KPI_MAX_BODY_MB)" in message
    assert message.startswith("the call sends 2.0 MB; ")


def test_a_body_without_a_length_is_counted_as_it_comes(server: Server) -> None:
    scores = json.dumps(office_js_body("nps", [[[9.0]] * 300_000])).encode()
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        client.sendall(
            f"POST {CALL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for start in range(0, len(scores), 65536):
            piece = scores[start : start + 65536]
            client.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        client.sendall(b"0\r\n\r\n")
        reply = _read_response(client)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"setting KPI_MAX_BODY_MB" in reply


def test_too_many_cells_is_a_message_naming_the_setting(server: Server) -> None:
    ids = [["c"]] * 30_000
    dates = [[45000.0]] * 30_000
    status, _, answer = server.request("POST", CALL, office_js_body("mau", [ids, dates, [[45000]]]))
    assert status == 400
    assert detail(answer) == (
        "mau: the call has 60,001 cells; kpi serve takes at most 50,000 cells per call "
        "(setting KPI_MAX_CELLS). Give the function smaller ranges, or ask whoever runs "
        "the server to raise the limit."
    )
    # More lists than the cells allow (here empty rows, which cost the most
    # memory once parsed) is refused before the body is parsed.
    status, _, answer = server.request("POST", CALL, office_js_body("nps", [[[]] * 120_000]))
    assert status == 400
    assert detail(answer).startswith(
        "nps: the call has more than 50,000 cells; kpi serve takes at most 50,000 cells per call"
    )
    # Counted exactly once the body is read: cells in a block of two columns.
    block = [["c", 45000.0]] * 25_001
    status, _, answer = server.request("POST", CALL, office_js_body("nps", [block]))
    assert status == 400
    assert detail(answer).startswith(
        "nps: the call has 50,002 cells; kpi serve takes at most 50,000 cells per call"
    )


def test_a_huge_value_is_quoted_by_a_short_prefix(server: Server) -> None:
    huge = "x" * 500_000
    for body in (
        office_js_body("churn_rate", [[[huge]], [[100.0]]]),
        office_js_body(huge, []),
        office_js_body("benchmark_band", [[["nps"]], [[50.0]], [[huge]]]),
    ):
        status, _, answer = server.request("POST", CALL, body)
        assert status == 400
        assert len(answer) < 1000, answer[:200]
        assert "xxxxxxxx" in detail(answer)


# --- inputs that used to give HTTP 500 -------------------------------------------


@pytest.mark.parametrize(
    ("function", "args", "expected"),
    [
        ("nps", [[[{"basicValue": {"nested": 1}}]]], "nps, argument scores: a rich value"),
        ("nps", [[[[9.0]]]], "nps, argument scores, cell 1: [9.0] is not a cell value"),
        ("mau", [[["a"]], [[45000.0]], [[1e300]]], "mau: month"),
        ("nps_margin", [[[9.0], [3.0]], [[1 - 2**-53]]], "nps_margin: confidence"),
    ],
)
def test_inputs_that_were_500s_are_messages(
    server: Server, function: str, args: list[object], expected: str
) -> None:
    status, _, answer = server.request("POST", CALL, office_js_body(function, args))
    assert status == 400, answer
    assert detail(answer).startswith(expected), detail(answer)


@pytest.mark.parametrize(
    "args",
    [
        # The last month Excel can hold: nobody was active in it.
        [[["a"]], [[45000.0]], [["9999-12"]]],
        # Text dates with a time zone at the ends of the calendar: left out, and noted.
        [[["a"]], [["0001-01-01T00:00:00+05:00"]], [[45000.0]]],
        [[["a"]], [["9999-12-31T23:00:00-05:00"]], [[45000.0]]],
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_answered(server: Server, args: object) -> None:
    status, _, answer = server.request("POST", CALL, office_js_body("mau", args))
    assert status == 200, answer
    assert json.loads(answer) == {"result": [[0.0]]}


def test_a_runtime_that_is_not_a_version_still_gets_its_div0(server: Server) -> None:
    for runtime in ("abc", "", "1.x", "99999999999.1"):
        status, body = server.call("churn_rate", [[[0.0]], [[0.0]]], runtime=runtime)
        assert status == 200
        assert body["result"] in ([["#DIV/0!"]], [[{"type": "Error", "errorType": "Div0"}]])


@pytest.mark.parametrize(
    "book",
    [
        {},
        {"book": {}},
        {"client": "Office.js", "version": "0.37.8", "book": {"name": "B.xlsx"}, "sheets": []},
        {
            "client": "Office.js",
            "version": "0.37.8",
            "book": {"name": "B.xlsx", "active_sheet_index": 3, "selection": "A1"},
            "sheets": [{"name": "S", "values": [[1]]}],
            "names": [],
        },
        {
            "client": "Office.js",
            "version": "0.37.8",
            "book": {"name": "B.xlsx", "active_sheet_index": 0, "selection": "A1"},
            "sheets": [{"name": "S", "values": "not rows"}],
            "names": [],
        },
    ],
)
def test_refresh_report_with_a_malformed_book_is_a_message(server: Server, book: object) -> None:
    status, _, answer = server.request("POST", "/xlwings/custom-scripts-call/refresh_report", book)
    assert status == 400, answer
    assert detail(answer).startswith("refresh_report: the workbook the task pane sent")


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("customer_lifetime_value", [[[1e308]], [[1e308]], [[1e-308]]]),
        ("return_on_investment", [[[1e308]], [[1e-308]]]),
        ("engagement_rate", [[[1e308]], [[1e-308]]]),
        ("nps_from_counts", [[[1e308]], [[1e308]], [[1e308]]]),
    ],
)
def test_results_are_finite_or_an_error_never_a_blank(
    server: Server, function: str, args: list[object]
) -> None:
    status, _, answer = server.request("POST", CALL, office_js_body(function, args))
    if status == 200:
        value = json.loads(answer)["result"][0][0]
        assert isinstance(value, float | dict), value
        assert not isinstance(value, float) or math.isfinite(value)
    else:
        assert status == 400
        assert detail(answer).startswith(function)


# --- who may talk to it ----------------------------------------------------------


def test_a_host_that_is_not_allowed_is_refused(server: Server) -> None:
    status, _, answer = server.request("GET", "/manifest.xml", headers={"Host": "evil.example"})
    assert status == 400
    assert "KPI_ALLOWED_HOSTS" in detail(answer)
    assert server.request("GET", "/manifest.xml", headers={"Host": "kpi.example.com"})[0] == 200


def test_manifest_urls_come_from_the_public_url(server: Server) -> None:
    _, _, xml = server.request("GET", "/manifest.xml")
    urls = set(re.findall(rb'DefaultValue="(https?://[^"/]+)', xml))
    assert urls == {b"https://kpi.example.com"}


def test_forwarded_headers_are_believed_from_a_trusted_proxy_only() -> None:
    env = server_env(KPI_TRUSTED_PROXIES="127.0.0.1", KPI_ALLOWED_HOSTS="kpi.example.org")
    forwarded = {"X-Forwarded-Host": "kpi.example.org", "X-Forwarded-Proto": "https"}
    with running_server(env=env) as behind_proxy:
        _, _, xml = behind_proxy.request("GET", "/manifest.xml", headers=forwarded)
    assert b'"https://kpi.example.org/taskpane.html"' in xml
    # The same headers from an address that is not a proxy change nothing.
    env = server_env(KPI_TRUSTED_PROXIES="10.0.0.0/8", KPI_ALLOWED_HOSTS="kpi.example.org")
    with running_server(env=env) as direct:
        _, _, xml = direct.request("GET", "/manifest.xml", headers=forwarded)
    assert f'"{direct.url}/taskpane.html"'.encode() in xml


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_posts_that_are_not_json_are_refused(server: Server, content_type: str) -> None:
    body = json.dumps(office_js_body("nps", [[[9.0]]])).encode()
    status, _, answer = server.request("POST", CALL, body, headers={"Content-Type": content_type})
    assert status == 415
    assert "JSON only" in detail(answer)
    assert server.request("POST", CALL, body)[0] == 200


def test_every_answer_carries_the_security_headers(server: Server) -> None:
    for method, path, body in (
        ("GET", "/taskpane.html", None),
        ("GET", "/manifest.xml", None),
        ("POST", CALL, office_js_body("nps", [[[9.0]]])),
        ("POST", CALL, b"{"),
    ):
        _, headers, _ = server.exchange(method, path, body)
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store, max-age=0"


def test_a_call_through_the_compute_lane_carries_the_security_headers(server: Server) -> None:
    # Over KPI_LARGE_CALL_KB: read in pieces and answered by the lane, not on the event loop.
    scores = [[float(i % 11)] for i in range(20_000)]
    status, headers, answer = server.exchange("POST", CALL, office_js_body("nps", [scores]))
    assert (status, json.loads(answer)) == (200, {"result": [[kpi_engine.nps(scores)]]})
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store, max-age=0"
    assert headers["content-type"] == "application/json"


# --- slow and half-open clients --------------------------------------------------


def _read_response(client: socket.socket) -> bytes:
    chunks = []
    while True:
        data = client.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
        if b"\r\n\r\n" in b"".join(chunks):
            head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
            if length and len(rest) >= int(length[1]):
                return b"".join(chunks)


def _closed_by_server(client: socket.socket, within: float) -> bool:
    client.settimeout(within)
    try:
        return client.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_half_open_and_slow_clients_are_disconnected(server: Server) -> None:
    silent = [socket.create_connection((server.host, server.port)) for _ in range(300)]
    half_headers = []
    for _ in range(100):
        client = socket.create_connection((server.host, server.port))
        client.sendall(b"POST " + CALL.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        half_headers.append(client)
    half_body = socket.create_connection((server.host, server.port))
    half_body.sendall(
        b"POST " + CALL.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    try:
        # The deadlines are two seconds here (a margin for a busy machine); give them
        # ample time to pass.
        for client in [*silent, *half_headers, half_body]:
            assert _closed_by_server(client, within=20)
        # Meanwhile, and afterwards, everyone else is served.
        assert server.call("nps", [[[9.0]]]) == (200, {"result": [[100.0]]})
    finally:
        for client in [*silent, *half_headers, half_body]:
            client.close()
    assert "no complete request headers in time" in server.log_text()
    assert "no complete request body in time" in server.log_text()
    assert "Traceback" not in server.log_text()


def test_a_client_that_goes_away_is_one_log_line(server: Server) -> None:
    before = server.log_text().count("went away")
    client = socket.create_connection((server.host, server.port))
    client.sendall(
        b"POST " + CALL.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"args": ['
    )
    client.close()
    deadline = time.monotonic() + 20
    while server.log_text().count("went away") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.log_text().count("went away") == before + 1
    assert "Traceback" not in server.log_text()


# --- what it tells its operators -------------------------------------------------


def test_one_access_log_line_per_call(server: Server) -> None:
    server.call("retention_rate", [[[50.0]], [[10.0]], [[1000.0]]])
    server.call("retention_rate", [[[-5.0]], [[10.0]], [[1000.0]]])
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while len(lines) < 2 and time.monotonic() < deadline:
        lines = [line for line in server.log_text().splitlines() if " retention_rate " in line]
        time.sleep(0.05)
    assert len(lines) == 2
    assert re.search(r"127\.0\.0\.1 retention_rate 3 cells 200 [\d.]+ ms$", lines[0]), lines
    assert re.search(r"127\.0\.0\.1 retention_rate 3 cells 400 [\d.]+ ms$", lines[1]), lines


def test_access_log_as_json() -> None:
    with running_server(env=server_env(KPI_ACCESS_LOG="json")) as logged:
        logged.call("nps", [[[9.0], [3.0]]])
        records = [
            json.loads(line[line.index("{") :])
            for line in log_with(logged, '"function"').splitlines()
            if '"function"' in line
        ]
    (record,) = records
    assert {key: record[key] for key in ("function", "cells", "status", "client")} == {
        "function": "nps",
        "cells": 2,
        "status": 200,
        "client": "127.0.0.1",
    }
    assert record["ms"] > 0


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(part in line for part in wanted.split(",")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_calls_errors_and_latency(server: Server) -> None:
    before = server.request("GET", "/metrics")[2].decode()
    server.call("churn_rate", [[[5.0]], [[100.0]]])
    server.call("churn_rate", [[[-5.0]], [[100.0]]])
    status, content_type, body = server.request("GET", "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    after = body.decode()
    for name, labels, more in (
        ("kpi_calls_total", {"function": "churn_rate", "status": "200"}, 1),
        ("kpi_calls_total", {"function": "churn_rate", "status": "400"}, 1),
        ("kpi_call_errors_total", {"function": "churn_rate"}, 1),
        ("kpi_call_seconds_count", {"function": "churn_rate"}, 2),
    ):
        assert _metric(after, name, **labels) - _metric(before, name, **labels) == more, name
    assert 'kpi_call_seconds_bucket{function="churn_rate",le="0.005"}' in after


def test_healthz(server: Server) -> None:
    assert server.request("GET", "/healthz")[::2] == (200, b'{"status":"ok"}')


def test_metrics_of_several_workers_are_summed() -> None:
    with running_server("--workers", "2") as workers:
        for _ in range(40):
            assert workers.call("churn_rate", [[[50.0]], [[1000.0]]])[0] == 200
        _, _, body = workers.request("GET", "/metrics")
    assert _metric(body.decode(), "kpi_calls_total", function="churn_rate", status="200") == 40


# --- small calls beside large ones -----------------------------------------------


def test_small_calls_are_answered_while_a_large_one_computes(server: Server) -> None:
    """The large call runs in the compute lane; the small ones, on the event
    loop, are answered right all the same (how fast is for make bench)."""
    import threading  # noqa: PLC0415

    scores = [[float(i % 11)] for i in range(45_000)]
    done: list[float] = []
    large = threading.Thread(
        target=lambda: done.append(server.call("nps", [scores])[1]["result"][0][0])
    )
    large.start()
    answers = [server.call("nps", [[[10.0]]]) for _ in range(20)]
    large.join()
    assert answers == [(200, {"result": [[100.0]]})] * 20
    assert done == [kpi_engine.nps(scores)]


# --- authentication, end to end --------------------------------------------------


def test_a_shared_token_lets_the_team_in_and_nobody_else() -> None:
    token = "kpi-team-token-8d2f61c0e9"
    with running_server(env=server_env(KPI_AUTH="token", KPI_AUTH_TOKEN=token)) as guarded:
        body = office_js_body("churn_rate", [[[5.0]], [[100.0]]])
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-000000"},
            {"Authorization": token},
        ):
            status, answer_headers, answer = guarded.exchange("POST", CALL, body, headers=headers)
            assert status == 401, headers
            assert answer_headers["www-authenticate"] == "Bearer"
            assert token not in answer.decode()
            assert detail(answer)
        status, _, answer = guarded.request(
            "POST",
            CALL,
            body,
            headers={"Authorization": f"Bearer {token}", "Auth-Provider": "token"},
        )
        assert (status, json.loads(answer)) == (200, {"result": [[0.05]]})
        # What Excel loads before anyone signs in stays open.
        for path in ("/manifest.xml", "/taskpane.html", "/web/auth.js", "/healthz"):
            assert guarded.request("GET", path)[0] == 200, path
        log = log_with(guarded, "churn_rate 2 cells 200", "user=shared-token")
        assert "churn_rate 2 cells 200" in log
        assert "user=shared-token" in log


def test_entra_id_tokens_are_checked_against_the_tenants_keys() -> None:
    from tests.auth_support import (  # noqa: PLC0415
        CLIENT_ID,
        OTHER_TENANT_ID,
        STRANGER_KEY,
        TENANT_ID,
        USER,
        make_token,
        serving_jwks,
    )

    with serving_jwks() as jwks:
        env = server_env(
            KPI_AUTH="entraid",
            KPI_ENTRAID_TENANT_ID=TENANT_ID,
            KPI_ENTRAID_CLIENT_ID=CLIENT_ID,
            KPI_ENTRAID_JWKS_URL=jwks.url,
        )
        body = office_js_body("churn_rate", [[[5.0]], [[100.0]]])
        valid = make_token()
        head, payload, signature = valid.split(".")
        tampered = ".".join(
            (head, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), signature)
        )
        refused = {
            "expired": make_token(exp=int(time.time()) - 3600),
            "wrong audience": make_token(aud="api://another-app"),
            "wrong tenant": make_token(tid=OTHER_TENANT_ID),
            "tampered": tampered,
            "another key": make_token(key=STRANGER_KEY),
        }
        with running_server(env=env) as guarded:
            status, _, answer = guarded.request(
                "POST",
                CALL,
                body,
                headers={"Authorization": f"Bearer {valid}", "Auth-Provider": "entraid"},
            )
            assert (status, json.loads(answer)) == (200, {"result": [[0.05]]})
            for case, token in refused.items():
                status, _, answer = guarded.request(
                    "POST",
                    CALL,
                    body,
                    headers={"Authorization": f"Bearer {token}", "Auth-Provider": "entraid"},
                )
                assert status == 401, case
                assert detail(answer), case
                assert token not in answer.decode(), case
            _, _, xml = guarded.request("GET", "/manifest.xml")
            log = log_with(guarded, f"user={USER}")
    assert f"<Id>{CLIENT_ID}</Id>".encode() in xml
    assert f"user={USER}" in log
    assert "Traceback" not in log


# --- settings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"KPI_AUTH": "token"}, "KPI_AUTH=token needs the shared token in KPI_AUTH_TOKEN"),
        ({"KPI_MAX_CELLS": "many"}, "KPI_MAX_CELLS: Input should be a valid integer"),
        ({"KPI_MAX_BODY_MB": "0"}, "KPI_MAX_BODY_MB: Input should be greater than 0"),
        ({"KPI_PUBLIC_URL": "kpi.example.com"}, "KPI_PUBLIC_URL: Value error, expected an address"),
        ({"KPI_TRUSTED_PROXIES": "proxy.local"}, "KPI_TRUSTED_PROXIES: Value error, expected IP"),
        (
            {"KPI_AUTH": "entraid", "KPI_ENTRAID_TENANT_ID": "contoso.onmicrosoft.com"},
            "KPI_ENTRAID_TENANT_ID: Value error, expected the tenant's id",
        ),
    ],
)
def test_settings_that_are_not_valid_stop_the_server_with_a_clear_line(
    settings: dict[str, str], expected: str
) -> None:
    import subprocess  # noqa: PLC0415

    from tests.addin_support import KPI  # noqa: PLC0415

    assert KPI
    result = subprocess.run(
        [KPI, "serve", "--port", "1"],
        env=server_env(**settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("kpi serve: the settings are not valid:")
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_serve_warns_when_excel_would_refuse_the_manifest() -> None:
    with running_server("--public-url", "http://kpi.example.com") as plain:
        _, _, xml = plain.request("GET", "/manifest.xml")
        log = plain.log_text()
    assert b'"http://kpi.example.com/taskpane.html"' in xml
    assert (
        "warning: Excel refuses an add-in served over plain http from http://kpi.example.com" in log
    )
    with running_server("--public-url", "https://kpi.example.com") as secure:
        log = secure.log_text()
    assert "warning: Excel refuses" not in log


def test_deeply_nested_values_are_messages(server: Server) -> None:
    deep = b"[" * 1020 + b"]" * 1020
    for body in (
        b'{"func_name": %s, "args": []}' % deep,
        b'{"func_name": "nps", "args": [[[%s]]]}' % deep,
        b'{"func_name": "nps", "args": [[[{"basicValue": %s}]]]}' % deep,
        b'{"func_name": "nps", "args": [[[{"a": 1}]]]}',
    ):
        status, _, answer = server.request("POST", CALL, body)
        assert status == 400, answer
        assert len(detail(answer)) < 300
