"""The compute lane: large calls and scripts run in separate processes.

Why processes: a call over a million cells spends most of its time parsing
JSON and walking lists, under the GIL, so a thread would still stall every
small call behind it. The event loop keeps only small calls (under
``KPI_LARGE_CALL_KB``, a few milliseconds at most) and hands the rest, as
the body's bytes, to a pool of ``KPI_COMPUTE_PROCESSES`` processes started
with ``spawn`` (a fork of a process that runs an event loop and threads is
unsafe). The lane's processes hold no state: any of them, in any server
instance, gives the same answer.

Work waits for a process in the lane's own queue, never in the pool's: the
pool is handed at most one call per process, so a call that starts waiting
has at most ``KPI_COMPUTE_PROCESSES`` calls ahead of it once it is first in
line. The queue is ordered by urgency: the task pane's Refresh report first,
then custom function calls, then the steps of a workbook start. A waiting
call whose client has gone (the task pane closed, the request dropped) is
taken out of the queue and never runs. A call already running in a process
runs to its end: a process cannot be stopped half-way without losing the
pool, and each call is bounded (a start is a sequence of steps).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from addin.server.observe import LANE_WAITING

log = logging.getLogger("kpi.serve")


#: How much lower the lane's processes run than the server's (see ``nice(1)``).
LANE_NICENESS = 10


class LaneUnavailableError(Exception):
    """The lane's process died (out of memory, killed): the call may be retried."""


class ClientGoneError(Exception):
    """The client went away while its call waited for a process: it was not run."""


#: The order in which waiting calls get a process (lower first).
URGENT = 0  # the task pane's Refresh report: a person waits for it
NORMAL = 1  # large custom function calls
BACKGROUND = 2  # the steps of "Start a KPI workbook here", and their plan
#: How often a waiting call checks that its client is still there, in seconds.
CLIENT_CHECK_SECONDS = 0.25


def _start_worker() -> None:
    # Import the functions once, before the first call, and leave SIGINT to
    # the server, which stops the pool itself.
    import signal  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Large calls are background work: when the cores are busy, the
    # scheduler serves the event loop, and the small calls, first.
    if hasattr(os, "nice"):
        os.nice(LANE_NICENESS)
    import addin.functions  # noqa: F401, PLC0415


class Spool:
    """A request body on its way to the lane: kept in memory while it is
    small, written to a file in RAM (``/dev/shm`` where there is one) piece by
    piece once it passes ``threshold`` bytes."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.size = 0
        self._chunks: list[bytes] = []
        self._fd: int | None = None
        self.path: Path | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._fd is None:
            self._chunks.append(chunk)
            if self.size > self.threshold:
                folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
                self._fd, name = tempfile.mkstemp(prefix="kpi-call-", dir=folder)
                self.path = Path(name)
                for piece in self._chunks:
                    os.write(self._fd, piece)
                self._chunks.clear()
        else:
            view = memoryview(chunk)
            while view:
                view = view[os.write(self._fd, view) :]

    def body(self) -> bytes | Path:
        """The bytes of a small body, or the path of a large one's file."""
        if self._fd is None:
            return b"".join(self._chunks)
        os.close(self._fd)
        self._fd = None
        assert self.path is not None
        return self.path

    def discard(self) -> None:
        self._chunks.clear()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class ComputeLane:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        #: Calls handed to the pool and not yet finished: at most ``processes``.
        self.running = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrival = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(not waiter.done() for _, _, waiter in self._waiting)

    async def _process(self, priority: int, gone: Callable[[], Awaitable[bool]] | None) -> None:
        """Wait for a free process, in order of ``priority`` then arrival;
        ``ClientGoneError`` once ``gone()`` says the client left."""
        if self.running < self.processes and not self._waiting:
            self.running += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (priority, next(self._arrival), waiter)
        heapq.heappush(self._waiting, entry)
        LANE_WAITING.inc()
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=CLIENT_CHECK_SECONDS)
                if done:
                    return
                if gone is not None and await gone():
                    raise ClientGoneError
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._finished()  # the process was handed over just now: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
            raise
        finally:
            LANE_WAITING.dec()

    def _finished(self, _: object = None) -> None:
        """A call left its process: hand it to the first call still waiting."""
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)  # the process passes on; ``running`` stays
                return
        self.running -= 1

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
            )
        return self._pool

    def warm_up(self) -> None:
        """Start the processes now, not on the first large call."""
        pool = self._executor()
        for future in [pool.submit(int) for _ in range(self.processes)]:
            future.result()

    async def run(
        self,
        function: Callable[..., Any],
        *args: Any,
        body: bytes | Path,
        priority: int = NORMAL,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> Any:
        """``function(*args, body)`` in a lane process. A body spooled to a
        file (``Spool``) travels as its path: the event loop then never
        copies or pickles megabytes, which would stall the small calls.

        It waits for a process in order of ``priority``; ``gone`` (the
        request's ``is_disconnected``) takes it out of the queue, unrun, with
        ``ClientGoneError``, once its client has left."""
        try:
            await self._process(priority, gone)
        except ClientGoneError:
            if isinstance(body, Path):
                body.unlink(missing_ok=True)
            raise
        try:
            pool = self._executor()
            future = asyncio.get_running_loop().run_in_executor(pool, function, *args, body)
        except BaseException:
            self._finished()
            raise
        # The process is free when the call ends, even if nobody awaits it any more.
        future.add_done_callback(self._finished)
        try:
            return await future
        except BrokenProcessPool:
            # A new pool for the next call; this one is retried by the client.
            log.error("a compute process died; starting a new one")
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise LaneUnavailableError from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
