"""A call's body taken whole and its answer written at once
(``addin.server.protocol``: ``whole_body``, ``send_whole``) give the bytes
uvicorn's own protocol writes for the same answer sent as ASGI messages:
status line, headers (uvicorn's Date and Server included), body, ``100
Continue``, ``Connection: close``, for requests whole, in pieces, pipelined,
HTTP/1.0 or HEAD. In-process, each protocol driven over the same bytes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from addin.server.front import SECURITY_HEADERS
from addin.server.protocol import (
    GuardedHttpToolsProtocol,
    LeanResponseCycle,
    PreparedHeaders,
    send_messages,
    send_whole,
    whole_body,
)
from tests.addin_support import CALL_PATH
from tests.addin_support import raw_call_request as request
from tests.benchmarks.asgi_echo import received

pytestmark = pytest.mark.fast

HEADERS = ((b"content-type", b"application/json"), *SECURITY_HEADERS)
DATE = [(b"date", b"Mon, 07 Dec 2026 18:00:00 GMT"), (b"server", b"uvicorn")]
LATER = [(b"date", b"Mon, 07 Dec 2026 18:00:01 GMT"), (b"server", b"uvicorn")]


class Transport:
    """What the protocol writes, kept; a socket's other calls, accepted."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Answering:
    """An app that answers as the custom-function call does: its body taken
    whole when it can, else received; its answer, with prepared headers,
    written at once when it can, else as two ASGI messages. It notes which
    of the two each step took."""

    def __init__(self) -> None:
        self.taken_whole: list[bool] = []
        self.sent_whole: list[bool] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = whole_body(receive)
        self.taken_whole.append(body is not None)
        if body is None:
            body = await received(receive)
        answer = b'{"result":[[%d]],"echo":"%s"}' % (len(body), body[:20].hex().encode())
        headers = PreparedHeaders(len(answer), HEADERS)
        sent = send_whole(send, 200, headers, answer)
        self.sent_whole.append(sent)
        if not sent:
            await send_messages(send, 200, headers, answer)


class AnsweringAtOnce(Answering):
    """``Answering``, which also answers at once (``answer_at_once``) what
    has arrived whole, with the same bytes; ``refuse``: what it gives instead
    of an answer (None: take the ASGI path; an exception: raised)."""

    at_once_paths = frozenset({CALL_PATH})

    def __init__(self, refuse: Any = False) -> None:
        super().__init__()
        self.at_once: list[bytes] = []
        self.refuse = refuse

    def answer_at_once(
        self, scope: dict[str, Any], body: bytes
    ) -> tuple[int, PreparedHeaders, bytes] | None:
        if isinstance(self.refuse, Exception):
            raise self.refuse
        if self.refuse is None:
            return None
        self.at_once.append(body)
        answer = b'{"result":[[%d]],"echo":"%s"}' % (len(body), body[:20].hex().encode())
        return 200, PreparedHeaders(len(answer), HEADERS), answer


def exchange(
    protocol_class: type[HttpToolsProtocol], steps: list[Any], app: Answering | None = None
) -> tuple[bytes, Answering]:
    """The bytes a protocol writes for ``steps``: bytes the client sends, or
    a new list of uvicorn's default headers (the date changes)."""
    app = Answering() if app is None else app

    async def run() -> bytes:
        loop = asyncio.get_running_loop()
        config = Config(app, log_config=None, proxy_headers=False, lifespan="off")
        config.load()
        state = ServerState()
        state.default_headers = DATE
        protocol = protocol_class(config=config, server_state=state, app_state={}, _loop=loop)
        # pytest's own log handler would turn uvicorn's access log on.
        protocol.access_log = False
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        for step in steps:
            if isinstance(step, list):
                state.default_headers = step
                continue
            protocol.data_received(step)
            for _ in range(20):
                await asyncio.sleep(0)
        protocol.connection_lost(None)
        return b"".join(transport.written)

    return asyncio.run(run()), app


CALL = b'{"func_name":"nps","args":[[[9.0]]]}'
CASES: dict[str, tuple[list[Any], list[bool], list[bool]]] = {
    # steps, then for the lean protocol: bodies taken whole, answers sent whole
    "one call": ([request(CALL)], [True], [True]),
    "calls one after the other": (
        [request(CALL), request(b"{}"), request(CALL)],
        [True, True, True],
        [True, True, True],
    ),
    "pipelined calls": ([request(CALL) + request(b"[1]") + request(CALL)], [True] * 3, [True] * 3),
    "a body in pieces": ([request(CALL)[:-10], request(CALL)[-10:]], [False], [True]),
    "headers in pieces": ([request(CALL)[:30], request(CALL)[30:]], [True], [True]),
    "an empty body": ([request(b"")], [True], [True]),
    "connection close": ([request(CALL, "Connection: close")], [True], [False]),
    "HTTP/1.0": ([request(CALL, version="1.0")], [True], [False]),
    "100 continue": (
        [request(b"", "Expect: 100-continue", length=len(CALL)), CALL],
        [False],
        [True],
    ),
    # A client that did not wait for it still gets its 100 Continue, as from uvicorn.
    "100 continue, body at once": ([request(CALL, "Expect: 100-continue")], [False], [True]),
    "HEAD": ([request(b"", method="HEAD")], [True], [False]),
    "the date changes": (
        [request(CALL), LATER, request(CALL), DATE, request(b"{}")],
        [True] * 3,
        [True] * 3,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_whole_answers_are_the_bytes_uvicorn_writes(case: str) -> None:
    steps, taken, sent = CASES[case]
    expected, plain = exchange(HttpToolsProtocol, steps)
    written, lean = exchange(GuardedHttpToolsProtocol, steps)
    assert written == expected
    assert expected.count(b"HTTP/1.1 200 OK\r\n") == len(taken)
    # uvicorn's own cycle takes neither step; the add-in's takes them where it can.
    assert plain.taken_whole == [False] * len(taken)
    assert plain.sent_whole == [False] * len(sent)
    assert (lean.taken_whole, lean.sent_whole) == (taken, sent)


#: For each case, the requests an app that answers at once answers so: those
#: arrived whole, whose answer the lean path writes.
AT_ONCE = {
    "one call": 1,
    "calls one after the other": 3,
    "pipelined calls": 3,
    "a body in pieces": 0,
    "headers in pieces": 1,
    "an empty body": 1,
    "connection close": 0,
    "HTTP/1.0": 0,
    "100 continue": 0,
    "100 continue, body at once": 0,
    "HEAD": 0,
    "the date changes": 3,
}


@pytest.mark.parametrize("case", CASES)
def test_answers_at_once_are_the_bytes_uvicorn_writes(case: str) -> None:
    steps, taken, _ = CASES[case]
    expected, _ = exchange(HttpToolsProtocol, steps, AnsweringAtOnce())
    written, app = exchange(GuardedHttpToolsProtocol, steps, AnsweringAtOnce())
    assert written == expected
    assert len(app.at_once) == AT_ONCE[case]
    # The others took the ASGI path, as with any app.
    assert len(app.taken_whole) == len(taken) - AT_ONCE[case]
    if AT_ONCE[case]:
        # Each with its own body.
        assert all(body == CALL or body in (b"{}", b"[1]", b"") for body in app.at_once)


@pytest.mark.parametrize("refuse", [None, RuntimeError("a fault in the app")])
def test_what_an_app_does_not_answer_at_once_takes_the_asgi_path(refuse: Any) -> None:
    steps = [request(CALL) + request(b"{}"), request(CALL)]
    expected, _ = exchange(HttpToolsProtocol, steps)
    written, app = exchange(GuardedHttpToolsProtocol, steps, AnsweringAtOnce(refuse))
    assert written == expected
    assert app.at_once == []
    assert app.taken_whole == [True, True, True]


def test_an_answer_the_lean_path_does_not_write_is_sent_through_asgi() -> None:
    class PlainHeaders(AnsweringAtOnce):
        def answer_at_once(
            self, scope: dict[str, Any], body: bytes
        ) -> tuple[int, PreparedHeaders, bytes] | None:
            self.at_once.append(body)
            # Plain pairs, not prepared: uvicorn checks and writes them.
            headers = (*PreparedHeaders(2, HEADERS), (b"x-plain", b"yes"))
            return 200, headers, b"{}"  # type: ignore[return-value]

    steps = [request(CALL), request(b"[1]")]
    written, app = exchange(GuardedHttpToolsProtocol, steps, PlainHeaders())
    assert written.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert written.count(b"x-plain: yes\r\n") == 2
    assert written.count(b"\r\n\r\n{}") == 2
    assert app.at_once == [CALL, b"[1]"]
    # Computed once each, at once; only sent through ASGI.
    assert app.taken_whole == []


def test_only_posts_to_the_app_s_paths_wait_to_be_answered_at_once() -> None:
    other = request(CALL).replace(CALL_PATH.encode(), b"/elsewhere", 1)
    written, app = exchange(GuardedHttpToolsProtocol, [other, request(CALL)], AnsweringAtOnce())
    assert written.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert app.at_once == [CALL]
    assert len(app.taken_whole) == 1


#: Requests of every kind the cases above hold, to mix.
MIXED = [
    request(CALL),
    request(b"{}"),
    request(b""),
    request(CALL).replace(CALL_PATH.encode(), b"/elsewhere", 1),
    request(CALL, "Connection: close"),
    request(CALL, version="1.0"),
    request(b"", method="HEAD"),
    request(CALL, "Expect: 100-continue"),
]


@st.composite
def mixed_requests(draw: st.DrawFn) -> list[Any]:
    """A few requests, one after the other, cut into pieces anywhere."""
    sent = b"".join(draw(st.lists(st.sampled_from(MIXED), min_size=1, max_size=5)))
    cuts = sorted(draw(st.sets(st.integers(1, len(sent) - 1), max_size=4)))
    return [sent[start:end] for start, end in zip([0, *cuts], [*cuts, len(sent)], strict=True)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_requests())
def test_any_mix_of_requests_gets_the_bytes_uvicorn_writes(steps: list[Any]) -> None:
    expected, _ = exchange(HttpToolsProtocol, steps, AnsweringAtOnce())
    written, _ = exchange(GuardedHttpToolsProtocol, steps, AnsweringAtOnce())
    assert written == expected


def test_a_body_that_matches_no_content_length_is_never_written_whole() -> None:
    transport = Transport()
    cycle = _cycle(transport)
    headers = PreparedHeaders(5, HEADERS)
    assert not cycle.send_whole(200, headers, b"1234")
    assert not cycle.send_whole(200, headers, b"123456")
    # Plain pairs are checked by uvicorn, never written as they are.
    assert not cycle.send_whole(200, tuple(headers), b"12345")  # type: ignore[arg-type]
    assert not cycle.send_whole(999, headers, b"12345")
    assert transport.written == []
    assert not cycle.response_started
    assert cycle.send_whole(200, headers, b"12345")
    assert transport.written[0].endswith(b"\r\n\r\n12345")
    assert cycle.response_complete
    # Once answered, never again.
    assert not cycle.send_whole(200, headers, b"12345")
    assert len(transport.written) == 1


def test_a_client_gone_or_slow_to_read_takes_uvicorn_s_path() -> None:
    headers = PreparedHeaders(2, HEADERS)
    for state in ("disconnected", "write_paused", "access_log", "closing"):
        transport = Transport()
        cycle = _cycle(transport)
        if state == "disconnected":
            cycle.disconnected = True
        elif state == "write_paused":
            cycle.flow.write_paused = True
        elif state == "access_log":
            cycle.access_log = True
        else:
            cycle.keep_alive = False
        assert not cycle.send_whole(200, headers, b"{}"), state
        assert transport.written == [], state


def test_a_body_still_arriving_is_received_not_taken() -> None:
    cycle = _cycle(Transport())
    cycle.body += b'{"a":'
    assert cycle.whole_body() is None
    cycle.more_body = False
    cycle.waiting_for_100_continue = True
    assert cycle.whole_body() is None
    cycle.waiting_for_100_continue = False
    cycle.disconnected = True
    assert cycle.whole_body() is None
    cycle.disconnected = False
    assert cycle.whole_body() == b'{"a":'
    assert cycle.body == b""
    assert not cycle.message_event.is_set()


def test_another_server_s_receive_and_send_are_left_to_asgi() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}"}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("nothing is sent by send_whole itself")

    assert whole_body(receive) is None
    assert not send_whole(send, 200, PreparedHeaders(2, HEADERS), b"{}")


def _cycle(transport: Transport) -> LeanResponseCycle:
    """A cycle as uvicorn makes it for a POST, its headers read."""
    return LeanResponseCycle(
        scope={"type": "http", "method": "POST", "http_version": "1.1"},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("uvicorn.error"),
        access_logger=logging.getLogger("uvicorn.access"),
        access_log=False,
        default_headers=DATE,
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=True,
        on_response=lambda: None,
    )
