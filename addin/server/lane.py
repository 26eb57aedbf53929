"""The compute lane: large calls and scripts run in separate processes.

Why processes: a call over a million cells spends most of its time parsing
JSON and walking lists, under the GIL, so a thread would still stall every
small call behind it. The event loop keeps only small calls (under
``KPI_LARGE_CALL_KB``, a few milliseconds at most) and hands the rest, as
the body's bytes, to ``KPI_COMPUTE_PROCESSES`` processes started with
``spawn`` (a fork of a process that runs an event loop and threads is
unsafe). The lane's processes hold no state: any of them, in any server
instance, gives the same answer.

Each process runs one call at a time, through a pipe of its own. Work waits
for a process in the lane's own queue, so a call that starts waiting has at
most ``KPI_COMPUTE_PROCESSES`` calls ahead of it once it is first in line.
The queue is ordered by urgency: the task pane's Refresh report first, then
custom function calls, then the steps of a workbook start.

Work nobody waits for is dropped. A waiting call whose client has gone (the
task pane closed, the request dropped) is taken out of the queue and never
runs. A running call whose client has gone is stopped: its process is killed
and a new one takes its place. That is why each call has a process to
itself, and not a slot in a shared pool: killing one process loses only the
call it runs, where a pool breaks with all its calls. A lane call writes no
file (it answers with the actions Excel applies), so a killed call leaves
nothing half-written; the file its body was spooled to is removed.
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
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from typing import Any

from addin.server.observe import LANE_DROPPED, LANE_WAITING

log = logging.getLogger("kpi.serve")


#: How much lower the lane's processes run than the server's (see ``nice(1)``).
LANE_NICENESS = 10


class LaneUnavailableError(Exception):
    """The lane's process died (out of memory, killed): the call may be retried."""


class ClientGoneError(Exception):
    """The client went away: its call was never run (``running`` False) or
    was stopped half-way, its process killed and replaced (``running`` True)."""

    def __init__(self, *, running: bool = False) -> None:
        super().__init__("the client went away")
        self.running = running


#: The order in which waiting calls get a process (lower first).
URGENT = 0  # the task pane's Refresh report: a person waits for it
NORMAL = 1  # large custom function calls
BACKGROUND = 2  # the steps of "Start a KPI workbook here", and their plan
#: How often a waiting or running call checks that its client is still there, in seconds.
CLIENT_CHECK_SECONDS = 0.25
#: How long a process that is asked to stop (the server stops) may take to finish.
STOP_SECONDS = 5.0


def _start_worker() -> None:
    # Import the functions once, before the first call, and leave SIGINT to
    # the server, which stops the lane itself.
    import signal  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Large calls are background work: when the cores are busy, the
    # scheduler serves the event loop, and the small calls, first.
    if hasattr(os, "nice"):
        os.nice(LANE_NICENESS)
    import addin.functions  # noqa: F401, PLC0415


def _serve(connection: Connection) -> None:
    """A lane process: run the calls that come through ``connection``, one at
    a time, until the server says stop (None) or goes away (end of file)."""
    _start_worker()
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        try:
            outcome: tuple[bool, Any] = (True, function(*args))
        except BaseException as error:  # raised again in the server
            outcome = (False, error)
        try:
            connection.send(outcome)
        except (EOFError, OSError):
            return
        except Exception as error:  # an answer that cannot be pickled
            connection.send((False, RuntimeError(f"{type(error).__name__}: {error}")))


class _ProcessEndedError(Exception):
    """The lane process ended before it answered: killed, or out of memory."""


class LaneProcess:
    """One process of the lane and the pipe to it. The process starts with
    its first call, in the thread that runs that call; ``stop`` kills it from
    the event loop, whatever it is doing, and the thread that waits for its
    answer then sees the pipe close."""

    def __init__(self, context: SpawnContext) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._process: SpawnProcess | None = None
        self._connection: Connection | None = None
        #: Asked to stop (its client went away, or the server stops).
        self.stopped = False
        #: Ended, and its pipe closed: it takes no more calls.
        self.ended = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        """Started and not ended (a process not yet started counts as alive)."""
        return not self.ended and (self._process is None or self._process.is_alive())

    def start(self) -> None:
        """Start the process (it then imports the functions), unless it runs."""
        with self._lock:
            if self._process is not None:
                return
            if self.stopped:
                self.ended = True
                raise _ProcessEndedError
            parent, child = self._context.Pipe()
            # Daemonic: if the server ends without closing the lane, its
            # processes end with it rather than be waited for.
            process = self._context.Process(
                target=_serve, args=(child,), name="kpi-lane", daemon=True
            )
            process.start()
            child.close()
            self._process, self._connection = process, parent

    def call(self, function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """``function(*args)`` in the process, waited for in a thread;
        ``_ProcessEndedError`` if the process ends first."""
        try:
            self.start()
            assert self._connection is not None
            self._connection.send((function, args))
            succeeded, value = self._connection.recv()
        except (EOFError, OSError):
            self._end()
            raise _ProcessEndedError from None
        with self._lock:
            stopped = self.stopped
        if stopped:
            # Killed just as it answered: its client has gone all the same.
            self._end()
            raise _ProcessEndedError
        if not succeeded:
            raise value
        return value

    def stop(self) -> None:
        """Kill the process now: the call it runs is lost, and nothing else."""
        with self._lock:
            self.stopped = True
            if self._process is not None and not self.ended:
                self._process.kill()

    def _end(self) -> None:
        """Reap the process (no zombie is left) and close the pipe."""
        if self._process is not None:
            self._process.join(STOP_SECONDS)
            if self._process.exitcode is None:
                self._process.kill()
                self._process.join()
        if self._connection is not None:
            self._connection.close()
        self.ended = True

    def close(self) -> None:
        """End an idle process: it is asked to stop, then killed if it does not."""
        if self._connection is not None and not self.ended:
            with contextlib.suppress(OSError):
                self._connection.send(None)
        self._end()


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
        self._context = multiprocessing.get_context("spawn")
        #: The threads that wait for the processes' answers, one per running call.
        self._threads = ThreadPoolExecutor(max_workers=processes, thread_name_prefix="kpi-lane")
        #: Processes ready for a call.
        self._idle: list[LaneProcess] = []
        #: Processes running a call.
        self._busy: set[LaneProcess] = set()
        #: Calls handed to a process and not yet finished: at most ``processes``.
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
                    raise ClientGoneError(running=False)
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

    def _finished(self) -> None:
        """A call left its process: hand it to the first call still waiting."""
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)  # the process passes on; ``running`` stays
                return
        self.running -= 1

    def _returned(
        self, process: LaneProcess, body: bytes | Path, answer: asyncio.Future[Any]
    ) -> None:
        """A call's thread has its answer, or its process has ended (and been
        reaped): the process goes back to the idle ones if it lives."""
        if not answer.cancelled():
            # Taken, so that the answer of a call nobody awaits any more is
            # not logged as "never retrieved".
            answer.exception()
        self._busy.discard(process)
        if not process.ended and not process.stopped:
            self._idle.append(process)
        if isinstance(body, Path):
            body.unlink(missing_ok=True)  # read by the call, unless it was stopped first
        self._finished()

    def _idle_process(self) -> LaneProcess:
        """A process ready for a call: an idle one that still lives (one may
        have been killed from outside, out of memory), else a new one."""
        while self._idle:
            process = self._idle.pop()
            if process.alive:
                return process
            process.close()
        return LaneProcess(self._context)

    def warm_up(self) -> None:
        """Start the processes now, not on the first large call."""
        processes = [LaneProcess(self._context) for _ in range(self.processes - len(self._idle))]
        for process in processes:
            process.start()  # all at once: each imports the functions
        for process in processes:
            process.call(int, ())  # ready
            self._idle.append(process)

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

        It waits for a process in order of ``priority``. ``gone`` (the
        request's ``is_disconnected``) is asked every
        ``CLIENT_CHECK_SECONDS`` while the call waits and while it runs:
        once its client has left, the call is taken out of the queue unrun,
        or its process is killed, and ``ClientGoneError`` says which."""
        try:
            await self._process(priority, gone)
        except ClientGoneError:
            LANE_DROPPED.labels(stage="waiting").inc()
            if isinstance(body, Path):
                body.unlink(missing_ok=True)
            raise
        try:
            process = self._idle_process()
            self._busy.add(process)
            answer = asyncio.get_running_loop().run_in_executor(
                self._threads, process.call, function, (*args, body)
            )
        except BaseException:
            self._finished()
            raise
        # The process is free when its thread ends, even if nobody awaits it any more.
        answer.add_done_callback(lambda future: self._returned(process, body, future))
        try:
            while True:
                done, _ = await asyncio.wait({answer}, timeout=CLIENT_CHECK_SECONDS)
                if done:
                    break
                if gone is not None and await gone():
                    raise ClientGoneError(running=True)
        except BaseException as error:
            # Nobody waits for the answer any more (the client left, or the
            # request was cancelled): the process stops working for nobody.
            process.stop()
            if isinstance(error, ClientGoneError):
                LANE_DROPPED.labels(stage="running").inc()
            raise
        try:
            return answer.result()
        except _ProcessEndedError:
            if not process.stopped:
                log.error("a compute process died; starting a new one")
            raise LaneUnavailableError from None

    def close(self) -> None:
        """Stop every process: idle ones are asked to, running ones are killed."""
        for process in list(self._busy):
            process.stop()
        self._threads.shutdown(wait=True, cancel_futures=True)
        for process in self._idle:
            process.close()
        self._idle.clear()
