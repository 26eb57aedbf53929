"""uvicorn's HTTP protocol, with deadlines for slow and half-open clients.

uvicorn times out idle keep-alive connections, but a connection that sends
nothing, or half a request's headers, or a body one byte at a time, stays
open for ever; a few hundred of them use up the process's file descriptors
and nobody else gets in. Here every connection must finish its request's
headers within ``KPI_HEADER_TIMEOUT`` seconds of connecting (or of its
previous response), and may pause at most ``KPI_BODY_TIMEOUT`` seconds while
it sends a body. A client that misses either is disconnected, with one log
line. Nothing is timed while the server itself computes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.header_timeout
        self._body_timeout = settings.body_timeout
        self._keep_alive_timeout = settings.keep_alive_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for = ""

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

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
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
