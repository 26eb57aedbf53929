"""The answer to a custom function call, written by the lean path
(``addin.server.protocol``: headers checked once, not per answer), is the
HTTP/1.1 response uvicorn would write: one Content-Length that matches the
body, uvicorn's Date and Server, the security headers, keep-alive kept, and
``Connection: close`` honoured. A real server process, raw sockets."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator

import pytest

import kpi_engine
from addin.server import protocol
from addin.server.front import SECURITY_HEADERS
from addin.server.protocol import PreparedHeaders
from tests.addin_support import (
    Server,
    office_js_body,
    raw_call_request,
    running_server,
)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


def _response(
    client: socket.socket, pending: bytearray
) -> tuple[bytes, list[tuple[str, str]], bytes]:
    """One response read off the connection: (status line, headers, body)."""
    while b"\r\n\r\n" not in pending:
        data = client.recv(65536)
        assert data, f"the connection closed before a whole response: {bytes(pending)!r}"
        pending += data
    head, _, _ = bytes(pending).partition(b"\r\n\r\n")
    del pending[: len(head) + 4]
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = [
        (name.lower(), value.strip()) for name, _, value in (x.partition(":") for x in lines)
    ]
    lengths = [int(value) for name, value in headers if name == "content-length"]
    assert len(lengths) == 1, headers
    while len(pending) < lengths[0]:
        data = client.recv(65536)
        assert data
        pending += data
    body = bytes(pending[: lengths[0]])
    del pending[: lengths[0]]
    return status.encode(), headers, body


@pytest.mark.server
def test_answers_on_one_connection_are_whole_http_responses(server: Server) -> None:
    calls = [
        (office_js_body("nps", [[[9.0]]]), 200, {"result": [[100.0]]}),
        (office_js_body("nps", [[[3.0]]]), 200, {"result": [[-100.0]]}),
        (office_js_body("nps", [[[[1.0]]]]), 400, None),
        (office_js_body("no_such_function", [[[1.0]]]), 400, None),
    ]
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        pending = bytearray()
        # Sent one after the other on one keep-alive connection.
        for body, status, result in calls:
            client.sendall(raw_call_request(json.dumps(body).encode()))
            line, headers, answer = _response(client, pending)
            assert line.startswith(f"HTTP/1.1 {status} ".encode())
            names = [name for name, _ in headers]
            assert len(names) == len(set(names)), names  # no header twice
            found = dict(headers)
            for name, value in SECURITY_HEADERS:
                assert found[name.decode()] == value.decode()
            assert found["content-type"] == "application/json"
            assert found["server"] == "uvicorn"
            assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", found["date"])
            assert "transfer-encoding" not in found
            assert "connection" not in found
            if result is not None:
                assert json.loads(answer) == result
            else:
                assert json.loads(answer)["detail"]
        assert not pending


@pytest.mark.server
def test_a_client_that_says_connection_close_is_answered_then_closed(server: Server) -> None:
    body = json.dumps(office_js_body("nps", [[[10.0]]])).encode()
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        client.sendall(raw_call_request(body, "Connection: close"))
        pending = bytearray()
        line, headers, answer = _response(client, pending)
        assert line.startswith(b"HTTP/1.1 200 ")
        assert dict(headers)["connection"] == "close"
        assert json.loads(answer) == {"result": [[100.0]]}
        assert client.recv(1) == b""


@pytest.mark.server
def test_a_client_that_expects_100_continue_gets_it_then_its_answer(server: Server) -> None:
    # Its body is received, not taken whole (``protocol.whole_body``).
    body = json.dumps(office_js_body("nps", [[[9.0]]])).encode()
    head = raw_call_request(body, "Expect: 100-continue")[: -len(body)]
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        client.sendall(head)
        pending = bytearray()
        while b"\r\n\r\n" not in pending:
            data = client.recv(65536)
            assert data
            pending += data
        assert bytes(pending) == b"HTTP/1.1 100 Continue\r\n\r\n"
        pending.clear()
        client.sendall(body)
        line, headers, answer = _response(client, pending)
        assert line.startswith(b"HTTP/1.1 200 ")
        assert dict(headers)["content-type"] == "application/json"
        assert json.loads(answer) == {"result": [[100.0]]}
        # The connection serves the next call.
        client.sendall(raw_call_request(body))
        line, _, answer = _response(client, pending)
        assert json.loads(answer) == {"result": [[100.0]]}


@pytest.mark.fast
def test_the_lean_path_is_on_with_the_uvicorn_installed() -> None:
    # Off only with a uvicorn whose response cycle lacks what it sets.
    assert protocol._LEAN


@pytest.mark.fast
def test_prepared_headers_are_checked_when_made() -> None:
    headers = PreparedHeaders(12, ((b"content-type", b"application/json"),))
    # To any ASGI server: plain pairs, the length first.
    assert list(headers) == [(b"content-length", b"12"), (b"content-type", b"application/json")]
    assert headers.block == b"content-length: 12\r\ncontent-type: application/json\r\n"
    assert headers.content_length == 12
    for bad in (
        (b"x-evil", b"a\r\nset-cookie: b"),
        (b"x-evil\r\n", b"a"),
        (b"X-Upper", b"a"),
        (b"content-length", b"3"),
        (b"connection", b"close"),
        (b"transfer-encoding", b"chunked"),
    ):
        with pytest.raises(ValueError, match="not a header"):
            PreparedHeaders(1, (bad,))


@pytest.mark.fast
def test_default_headers_the_lean_path_cannot_write_go_to_uvicorn() -> None:
    assert protocol._encoded(
        [(b"Server", b"uvicorn"), (b"date", b"Mon, 07 Dec 2026 12:00:00 GMT")]
    ) == (b"server: uvicorn\r\ndate: Mon, 07 Dec 2026 12:00:00 GMT\r\n")
    for bad in ((b"x-bad", b"a\nb"), (b"x bad", b"a"), (b"connection", b"close")):
        assert protocol._encoded([bad]) is None


@pytest.mark.server
def test_large_ranges_of_numbers_give_the_engine_s_value(server: Server) -> None:
    """Ranges the server looks at once and the engine counts with NumPy
    (``numbers_checked``): a column, one with as many cells as rows that is
    no column (an empty row, a row of two), a block, a row; each gives what
    the engine gives its cells."""
    size = 12_000
    scores = [float((i * 7) % 11) if i % 13 else None for i in range(size)]
    column = [[score] for score in scores]
    uneven = [[score] for score in scores[:-2]] + [[], scores[-2:]]
    block = [scores[i : i + 4] for i in range(0, size, 4)]
    counted = [score for score in scores if score is not None]
    expected = kpi_engine.nps(counted)
    for shape in (column, uneven, block, [scores]):
        status, answer = server.call("nps", [shape])
        assert (status, answer) == (200, {"result": [[expected]]})


def _answer_of(
    server: Server, request: bytes, continued: bool
) -> tuple[bytes, dict[str, str], bytes]:
    """The answer to one request on a new connection: sent whole, or (``continued``)
    its headers first, with ``Expect: 100-continue``, and its body once the
    server asks for it, which sends it down the ASGI path."""
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        pending = bytearray()
        if continued:
            client.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
            while b"\r\n\r\n" not in pending:
                data = client.recv(65536)
                assert data
                pending += data
            if bytes(pending).startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
                del pending[: len(b"HTTP/1.1 100 Continue\r\n\r\n")]
                client.sendall(body)
        else:
            client.sendall(request)
        line, headers, answer = _response(client, pending)
    return line, {name: value for name, value in headers if name != "date"}, answer


@pytest.mark.server
def test_calls_answered_at_once_are_answered_as_through_asgi(server: Server) -> None:
    """A call that has arrived whole is answered before any ASGI task starts
    (``answer_at_once``); one whose body the server had to ask for goes
    through ASGI. Both give the same status, headers and body, errors and
    refusals at the door included."""
    calls = [
        raw_call_request(json.dumps(office_js_body("nps", [[[9.0]]])).encode()),
        raw_call_request(json.dumps(office_js_body("nps", [[[9.0], [2.0], [7.0]]])).encode()),
        raw_call_request(json.dumps(office_js_body("nps", [[["eleven"]]])).encode()),
        raw_call_request(json.dumps(office_js_body("nps", [[[]]])).encode()),
        raw_call_request(json.dumps(office_js_body("no_such_function", [[[1.0]]])).encode()),
        raw_call_request(b'{"func_name": "nps", "args": [[[9.0]]'),
        raw_call_request(b"[]"),
        raw_call_request(b"{}").replace(
            b"Content-Type: application/json", b"Content-Type: text/plain"
        ),
        raw_call_request(b"{}").replace(b"Host: 127.0.0.1", b"Host: evil.example"),
    ]
    statuses = set()
    for request in calls:
        at_once = _answer_of(server, request, continued=False)
        through_asgi = _answer_of(server, request, continued=True)
        assert at_once == through_asgi, request
        statuses.add(at_once[0].split()[1])
    assert statuses == {b"200", b"400", b"415"}
