"""uvicorn's HTTP protocol, with deadlines for slow and half-open clients.

uvicorn times out idle keep-alive connections, but a connection that sends
nothing, or half a request's headers, or a body one byte at a time, stays
open for ever; a few hundred of them use up the process's file descriptors
and nobody else gets in. Here every connection must finish its request's
headers within ``KPI_HEADER_TIMEOUT`` seconds of connecting (or of its
previous response), and may pause at most ``KPI_BODY_TIMEOUT`` seconds while
it sends a body. A client that misses either is disconnected, with one log
line. Nothing is timed while the server itself computes.

The answers to custom function calls, one-cell calls above all, come by
the thousand with the same headers: those are checked and encoded once
(``PreparedHeaders``) and written as they are (``LeanResponseCycle``),
where uvicorn would check each header of each answer again. Such a call's
body, once it has all arrived, is taken in one step (``whole_body``), and
its answer written in one (``send_whole``): the same bytes as the ASGI
messages (``receive``, then a response's start and body) that any other
case still takes.

An app may go further for such requests: one that has ``answer_at_once``
and names its paths in ``at_once_paths`` is asked for the answer as soon
as a request to one of them has arrived whole, and the answer is written
before the protocol returns, with no ASGI task or message at all (a task
costs a one-cell call about a tenth of its time). The app answers None for
anything it would rather take through ASGI; whatever the lean path does not
write (a connection to close, ``100 Continue``, a body in pieces) starts
the app's ASGI task as uvicorn would.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from addin.server.settings import get_settings

log = logging.getLogger("kpi.serve")


class OneWriteTransport:
    """A transport that sends what one step of the event loop writes as one
    ``write``. uvicorn writes a response's headers and its body separately;
    if the process dies between the two, a proxy has already passed the
    headers on and cannot send the call to another instance. Written at
    once, a small answer arrives whole or not at all."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


#: RFC 9110: a header's name is a token (here in lower case, as HTTP/2 and
#: uvicorn write it); its value holds no control character but tab.
_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_HEADER_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")
#: Headers whose meaning uvicorn handles itself: never in prepared headers.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})


class PreparedHeaders(tuple[tuple[bytes, bytes], ...]):
    """A response's headers, checked and encoded once, when they are made,
    for answers sent over and over with the same headers (a custom function
    call's). uvicorn checks every header of every response against its
    rules; an answer whose ``http.response.start`` carries these is written
    as they were encoded (``LeanResponseCycle``). To any other ASGI server
    they are plain (name, value) pairs, ``content-length`` first."""

    content_length: int
    block: bytes

    def __new__(
        cls, content_length: int, headers: tuple[tuple[bytes, bytes], ...]
    ) -> PreparedHeaders:
        for name, value in headers:
            if _HEADER_NAME.fullmatch(name) is None or name in _FRAMING:
                raise ValueError(f"not a header name that can be prepared: {name!r}")
            if _HEADER_VALUE.fullmatch(value) is None:
                raise ValueError(f"not a header value: {value!r}")
        length = str(content_length).encode()
        self = super().__new__(cls, ((b"content-length", length), *headers))
        self.content_length = content_length
        self.block = b"".join(b"%s: %s\r\n" % pair for pair in self)
        return self


def _encoded(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """uvicorn's default headers, encoded; None when one of them is not
    what the lean path writes as it is (uvicorn's path then checks them)."""
    for name, value in headers:
        if _HEADER_NAME.fullmatch(name.lower()) is None or name.lower() in _FRAMING:
            return None
        if _HEADER_VALUE.fullmatch(value) is None:
            return None
    return b"".join(b"%s: %s\r\n" % (name.lower(), value) for name, value in headers)


#: The attributes of uvicorn's response cycle that the lean start reads and
#: sets: it is used only with a uvicorn whose cycle has them all.
_CYCLE_STATE = {
    "response_started",
    "response_complete",
    "more_body",
    "body",
    "message_event",
    "on_response",
    "scope",
    "waiting_for_100_continue",
    "expected_content_length",
    "chunked_encoding",
    "keep_alive",
    "default_headers",
    "access_log",
    "flow",
    "disconnected",
    "transport",
}
_STATUS_LINE: dict[int, bytes] | None = getattr(httptools_impl, "STATUS_LINE", None)
_LEAN = _STATUS_LINE is not None and _CYCLE_STATE.issubset(
    RequestResponseCycle.__init__.__code__.co_names
)
#: Answers at once only with a uvicorn that starts each request's ASGI task
#: in ``_start_asgi_task(cycle, app)``.
_AT_ONCE = (
    _LEAN
    and callable(getattr(HttpToolsProtocol, "_start_asgi_task", None))
    and HttpToolsProtocol._start_asgi_task.__code__.co_varnames[:3] == ("self", "cycle", "app")
)


class LeanResponseCycle(RequestResponseCycle):
    """uvicorn's response cycle, which writes a response start whose headers
    are ``PreparedHeaders`` without checking them again; anything else, and
    any case out of the ordinary (a client gone or slow to read, a
    connection to close, uvicorn's own access log), takes uvicorn's path."""

    #: uvicorn's default headers (date, server), encoded, by the list that
    #: holds them: uvicorn makes a new list when the date changes.
    _defaults: tuple[list[tuple[bytes, bytes]] | None, bytes | None] = (None, None)

    def _lean_defaults(self) -> bytes | None:
        """uvicorn's default headers, encoded, when the lean path may write
        this cycle's response; None sends it down uvicorn's path."""
        if (
            self.response_started
            or self.disconnected
            or self.flow.write_paused
            or self.access_log
            or not self.keep_alive
        ):
            return None
        defaults = self.default_headers
        cached, encoded = LeanResponseCycle._defaults
        if cached is not defaults:
            encoded = _encoded(defaults)
            LeanResponseCycle._defaults = (defaults, encoded)
        return encoded

    def _lean_head(self, status_code: int, headers: PreparedHeaders) -> bytes | None:
        """The status line and headers of a response start, encoded, when the
        lean path may write them; None sends it down uvicorn's path."""
        encoded = self._lean_defaults()
        status = _STATUS_LINE.get(status_code) if _STATUS_LINE is not None else None
        if encoded is None or status is None:
            return None
        return b"".join((status, encoded, headers.block, b"\r\n"))

    async def send(self, message: Any) -> None:
        headers = message.get("headers")
        head = (
            self._lean_head(message["status"], headers)
            if type(headers) is PreparedHeaders and message["type"] == "http.response.start"
            else None
        )
        if head is None:
            await super().send(message)
            return
        self.response_started = True
        self.waiting_for_100_continue = False
        self.expected_content_length = headers.content_length
        self.chunked_encoding = False
        self.transport.write(head)

    def whole_body(self) -> bytes | None:
        """The request's body when all of it has arrived and nothing else is
        waiting (no ``100 Continue`` to send, the client still there): what
        ``receive`` would give in one message, without its steps. None:
        ``receive`` it."""
        if not self._arrived_whole():
            return None
        return self.take_body()

    def _arrived_whole(self) -> bool:
        return not (
            self.more_body
            or self.disconnected
            or self.response_complete
            or self.waiting_for_100_continue
        )

    def take_body(self) -> bytes:
        """The body received so far, taken out of the cycle."""
        self.flow.resume_reading()
        body = bytes(self.body)
        self.body = bytearray()
        self.message_event.clear()
        return body

    def may_answer_at_once(self) -> bool:
        """Whether the request has arrived whole and its answer may be written
        at once (``send_whole``), before any ASGI task starts."""
        return (
            self._arrived_whole()
            and self.scope["method"] != "HEAD"
            and self._lean_defaults() is not None
        )

    def send_whole(self, status_code: int, headers: PreparedHeaders, body: bytes) -> bool:
        """Write a whole response at once, as its two ASGI messages (start,
        then the body) would: True; False when nothing was written and the
        response must take the ASGI path (``send``)."""
        if (
            type(headers) is not PreparedHeaders
            or len(body) != headers.content_length
            or self.scope["method"] == "HEAD"
        ):
            return False
        head = self._lean_head(status_code, headers)
        if head is None:
            return False
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding = False
        self.expected_content_length = 0
        self.response_complete = True
        self.transport.write(head + body)
        self.message_event.set()
        self.on_response()
        return True


#: An app's ``answer_at_once``: for a request's scope and whole body, the
#: answer's status, headers and body, or None to take the ASGI path. Prepared
#: headers are written as they are; plain pairs go through uvicorn's checks.
AtOnce = Callable[[dict[str, Any], bytes], "tuple[int, PreparedHeaders, bytes] | None"]


async def send_messages(send: Any, status: int, headers: PreparedHeaders, body: bytes) -> None:
    """An answer as the two ASGI messages of a response."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def answering(status: int, headers: PreparedHeaders, body: bytes) -> Any:
    """An ASGI app that sends this answer: for an answer computed at once
    that the lean path does not write (headers that are not prepared)."""

    async def send_answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send_messages(send, status, headers, body)

    return send_answer


def _nothing() -> None:
    pass


def whole_body(receive: Any) -> bytes | None:
    """The request's whole body, taken at once from ``receive`` when it is
    this module's cycle's and the body has all arrived
    (``LeanResponseCycle.whole_body``); None: await ``receive()``."""
    cycle = getattr(receive, "__self__", None)
    return cycle.whole_body() if type(cycle) is LeanResponseCycle else None


def send_whole(send: Any, status: int, headers: PreparedHeaders, body: bytes) -> bool:
    """Write a whole answer at once through ``send`` when it is this
    module's cycle's and the answer may take the lean path
    (``LeanResponseCycle.send_whole``): True; False: nothing was written,
    send the answer's two ASGI messages."""
    cycle = getattr(send, "__self__", None)
    return type(cycle) is LeanResponseCycle and cycle.send_whole(status, headers, body)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.header_timeout
        self._body_timeout = settings.body_timeout
        self._keep_alive_timeout = settings.keep_alive_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for = ""
        # The app's ``answer_at_once`` (see the module docstring), and the
        # requests to its paths read in this ``data_received``, not yet started.
        self._at_once: AtOnce | None = (
            getattr(self.app, "answer_at_once", None) if _AT_ONCE else None
        )
        self._at_once_paths: frozenset[str] = getattr(self.app, "at_once_paths", frozenset())
        self._deferring = False
        self._deferred: deque[tuple[RequestResponseCycle, Any]] = deque()

    def _arm(self, seconds: float, waiting_for: str) -> None:
        self._disarm()
        self._waiting_for = waiting_for
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = "%s:%d" % self.client if self.client else "a client"  # noqa: UP031
        log.info("closed the connection of %s: no complete %s in time", client, self._waiting_for)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))  # type: ignore[arg-type]
        self._arm(self._header_timeout, "request headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._at_once is None:
            super().data_received(data)
            return
        self._deferring = True
        try:
            super().data_received(data)
        finally:
            try:
                # In the order they came; an answer written may start a
                # pipelined request, which joins the queue.
                while self._deferred:
                    cycle, app = self._deferred.popleft()
                    if not self._answered_at_once(cycle):
                        super()._start_asgi_task(cycle, app)
            finally:
                self._deferring = False

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        scope = cycle.scope
        if (
            self._deferring
            and app is self.app
            and scope["method"] == "POST"
            and scope["path"] in self._at_once_paths
        ):
            # Once the data received is read: the body may be in it.
            self._deferred.append((cycle, app))
            return
        super()._start_asgi_task(cycle, app)

    def _answered_at_once(self, cycle: RequestResponseCycle) -> bool:
        """Whether the app answered the request at once (and the answer is
        written, or on its way); False: it takes the ASGI path."""
        if (
            self._at_once is None
            or type(cycle) is not LeanResponseCycle
            or not cycle.may_answer_at_once()
        ):
            return False
        try:
            answered = self._at_once(cycle.scope, bytes(cycle.body))
        except Exception:
            # The ASGI path runs the same code, and reports the fault as
            # uvicorn reports any app's.
            return False
        if answered is None:
            return False
        cycle.take_body()
        status, headers, body = answered
        if cycle.send_whole(status, headers, body):
            # As uvicorn does once an app returns.
            cycle.on_response = _nothing
        else:
            super()._start_asgi_task(cycle, answering(status, headers, body))
        return True

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if _LEAN and type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = LeanResponseCycle
        self._arm(self._body_timeout, "request body")

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        # The clock restarts with every piece of the body.
        if self._deadline is not None:
            self._arm(self._body_timeout, "request body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        # uvicorn's own keep-alive timer closes an idle connection sooner;
        # this one catches a client that starts the next request and stalls.
        # A pipelined request already read is being answered: no deadline.
        if not pipelined and not self.transport.is_closing():
            self._arm(self._header_timeout + self._keep_alive_timeout, "request headers")
