"""The Host and X-Forwarded-Host headers are read as RFC 3986's host[:port]
and nothing else, so that the manifest, the function metadata's help links
and every other URL the server builds can only ever name the configured host
or a host that was checked.

``Host: localhost:@evil.com`` used to pass the check (its part before the
last colon is "localhost") and put ``http://localhost:@evil.com/...``, whose
host is evil.com, into the manifest's SourceLocation and AppDomain.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from addin.server.front import FrontDoor, parse_host
from addin.server.settings import Settings
from tests.addin_support import Server, running_server, server_env

#: Values that are not host[:port]: each was, or is a relative of, a bypass.
HOSTILE = [
    "localhost:@evil.com",
    "localhost:8000@evil.com",
    "localhost@evil.com",
    "user:pass@localhost",
    "127.0.0.1:1/evil",
    "127.0.0.1/evil",
    "localhost:8000/../evil.com",
    "localhost?x=evil.com",
    "localhost#evil.com",
    "localhost:8000, evil.com",
    "localhost,evil.com",
    "localhost evil.com",
    "localhost:8000 ",
    " localhost",
    "localhost\tevil",
    "localhost:",
    "localhost:80:80",
    "localhost:99999",
    "localhost:0",
    "localhost:-1",
    "localhost:+80",
    "localhost:８０",
    "localhost%2F@evil.com",
    "local%68ost",
    "[::1",
    "[::1]evil.com",
    "[::1]:",
    "[::1%25eth0]",
    "[evil.com]",
    "[127.0.0.1]",
    "::1",
    "",
    "ⅼocalhost",
    "localhost\\evil.com",
    "http://localhost",
    "-localhost",
    "x" * 300,
]

ACCEPTED = [
    ("localhost", ("localhost", None)),
    ("LOCALHOST:8000", ("localhost", 8000)),
    ("127.0.0.1:65535", ("127.0.0.1", 65535)),
    ("[::1]", ("[::1]", None)),
    ("[::1]:8443", ("[::1]", 8443)),
    ("kpi.example.com", ("kpi.example.com", None)),
    ("kpi-1.internal_net.example:443", ("kpi-1.internal_net.example", 443)),
]


@pytest.mark.parametrize("value", HOSTILE)
def test_anything_but_host_and_port_is_not_a_host(value: str) -> None:
    assert parse_host(value) is None


@pytest.mark.parametrize(("value", "parsed"), ACCEPTED)
def test_host_and_port_are_read(value: str, parsed: tuple[str, int | None]) -> None:
    assert parse_host(value) == parsed


# --- the front door, in process ------------------------------------------------------


def _through_front_door(
    headers: list[tuple[bytes, bytes]], **settings: Any
) -> tuple[int, dict[str, Any] | None]:
    """The status of one request through the front door, and the scope the
    route saw (None when the request was refused)."""
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    door = FrontDoor(app, Settings(**settings))
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/manifest.xml",
        "scheme": "http",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
    }
    asyncio.run(door(scope, receive, send))
    return statuses[0], (seen or None)


@pytest.mark.parametrize("allowed", [[], ["*"]])
@pytest.mark.parametrize("value", HOSTILE)
def test_the_front_door_refuses_what_is_not_host_and_port(value: str, allowed: list[str]) -> None:
    """Refused even where every host is allowed (``KPI_ALLOWED_HOSTS=*``)."""
    status, seen = _through_front_door([(b"host", value.encode("utf-8"))], allowed_hosts=allowed)
    assert (status, seen) == (400, None)


# An empty X-Forwarded-Host is no header (nginx sends none): the Host is checked.
@pytest.mark.parametrize("value", [value for value in HOSTILE if value])
def test_a_forwarded_host_is_checked_as_the_host_is(value: str) -> None:
    headers = [(b"host", b"127.0.0.1:8000"), (b"x-forwarded-host", value.encode("utf-8"))]
    status, seen = _through_front_door(headers, trusted_proxies=["127.0.0.1"], allowed_hosts=["*"])
    assert (status, seen) == (400, None)


def test_two_host_headers_are_refused() -> None:
    headers = [(b"host", b"localhost"), (b"host", b"evil.com")]
    assert _through_front_door(headers, allowed_hosts=["*"]) == (400, None)


def test_the_route_sees_the_host_as_it_was_checked() -> None:
    status, seen = _through_front_door([(b"host", b"LocalHost:8000")])
    assert status == 200
    assert seen is not None
    assert seen["kpi.host"] == "localhost:8000"
    assert dict(seen["headers"])[b"host"] == b"localhost:8000"


# --- a real server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server(env=server_env(KPI_TRUSTED_PROXIES="127.0.0.1")) as running:
        yield running


def _raw_get(server: Server, path: str, *header_lines: str) -> tuple[int, bytes]:
    """A GET with the header lines exactly as given (http.client would check them)."""
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in header_lines)
    request += "Connection: close\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        client.sendall(request.encode("latin-1"))
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def _named_hosts(body: bytes) -> set[str]:
    """The host of every URL the server built into a manifest (its icons,
    pages, AppDomain) or a metadata file (its help links)."""
    urls = re.findall(rb'(?:DefaultValue="|<AppDomain>|"helpUrl":")(https?://[^"<]+)', body)
    assert urls
    return {str(urlsplit(url.decode()).hostname) for url in urls}


@pytest.mark.parametrize(
    "value", ["localhost:@evil.com", "127.0.0.1:1/evil", "localhost:8000, evil.com"]
)
@pytest.mark.parametrize("path", ["/manifest.xml", "/xlwings/custom-functions-meta.json"])
def test_the_three_bypasses_are_refused_by_a_real_server(
    server: Server, value: str, path: str
) -> None:
    status, body = _raw_get(server, path, f"Host: {value}")
    assert status == 400, body
    assert b"host[:port]" in body
    status, body = _raw_get(server, path, "Host: 127.0.0.1", f"X-Forwarded-Host: {value}")
    assert status == 400, body


def test_the_manifest_names_only_the_checked_host(server: Server) -> None:
    for path in ("/manifest.xml", "/xlwings/custom-functions-meta.json"):
        status, body = _raw_get(server, path, f"Host: LOCALHOST:{server.port}")
        assert status == 200
        assert _named_hosts(body) == {"localhost"}
        assert f"http://localhost:{server.port}/".encode() in body


def test_a_request_admitted_twice_is_admitted_the_same() -> None:
    """A call the server could not answer at once is admitted again on the
    ASGI path (``FrontDoor.answer_at_once``, then ``__call__``): the second
    time changes nothing, forwarded headers included."""
    door = FrontDoor(lambda *args: None, Settings(trusted_proxies=["127.0.0.1"]))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/xlwings/custom-functions-call",
        "scheme": "http",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"x-forwarded-for", b"203.0.113.7, 127.0.0.1"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-host", b"LocalHost:8443"),
        ],
        "client": ("127.0.0.1", 40000),
    }
    assert door._admit(scope) is None
    once = copy.deepcopy(scope)
    assert once["client"] == ("203.0.113.7", 0)
    assert (once["scheme"], once["kpi.host"]) == ("https", "localhost:8443")
    assert door._admit(scope) is None
    assert scope == once


def test_only_posts_to_its_paths_are_answered_at_once() -> None:
    answered: list[bytes] = []

    def answer(scope: dict[str, Any], body: bytes) -> Any:
        answered.append(body)
        return None

    door = FrontDoor(
        lambda *args: None, Settings(), at_once={"/xlwings/custom-functions-call": answer}
    )
    assert door.at_once_paths == frozenset({"/xlwings/custom-functions-call"})
    for method, path in (("GET", "/xlwings/custom-functions-call"), ("POST", "/manifest.xml")):
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
        }
        assert door.answer_at_once(scope, b"{}") is None
    assert answered == []
    scope["method"], scope["path"] = "POST", "/xlwings/custom-functions-call"
    assert door.answer_at_once(scope, b"{}") is None
    assert answered == [b"{}"]
    # Refused at the door, at once, as through ASGI.
    scope["headers"] = [(b"host", b"localhost"), (b"content-type", b"text/plain")]
    status, headers, body = door.answer_at_once(scope, b"{}")  # type: ignore[misc]
    assert status == 415
    assert "application/json" in json.loads(body)["detail"]
    assert dict(headers)[b"content-length"] == str(len(body)).encode()
    assert answered == [b"{}"]
