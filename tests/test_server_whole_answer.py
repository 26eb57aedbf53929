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
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from addin.server.front import SECURITY_HEADERS
from addin.server.protocol import (
    GuardedHttpToolsProtocol,
    LeanResponseCycle,
    PreparedHeaders,
    send_whole,
    whole_body,
)
from tests.addin_support import raw_call_request as request

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
            chunks = []
            more = True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
        answer = b'{"result":[[%d]],"echo":"%s"}' % (len(body), body[:20].hex().encode())
        headers = PreparedHeaders(len(answer), HEADERS)
        sent = send_whole(send, 200, headers, answer)
        self.sent_whole.append(sent)
        if not sent:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": answer})


def exchange(protocol_class: type[HttpToolsProtocol], steps: list[Any]) -> tuple[bytes, Answering]:
    """The bytes a protocol writes for ``steps``: bytes the client sends, or
    a new list of uvicorn's default headers (the date changes)."""
    app = Answering()

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
