"""What the server tells its operators: one access log line per call, and
Prometheus metrics at ``/metrics``.

The log line names the function, the cells it read, the status and the
duration; ``KPI_ACCESS_LOG=json`` writes it as one JSON object per line for
a log collector. The metrics count calls and errors and keep a latency
histogram, per function. With several worker processes (``kpi serve
--workers N``) each process writes its samples to the folder named by
``PROMETHEUS_MULTIPROC_DIR``, which ``kpi serve`` sets up, so that /metrics
answers for all of them whichever process serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sys
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from addin.server.settings import Settings

access_log = logging.getLogger("kpi.access")
server_log = logging.getLogger("kpi.serve")

CALLS = Counter(
    "kpi_calls", "Calls from Excel, by function and HTTP status.", ["function", "status"]
)
ERRORS = Counter(
    "kpi_call_errors",
    "Calls answered with an error (#VALUE!, 401, 413...), by function.",
    ["function"],
)
#: The latency histogram's buckets' upper bounds, in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LATENCY = Histogram(
    "kpi_call_seconds",
    "Time from a call's arrival to its answer, by function.",
    ["function"],
    buckets=LATENCY_BUCKETS,
)


LANE_WAITING = Gauge(
    "kpi_lane_waiting",
    "Calls waiting for a compute lane process (starts, refreshes, large calls).",
    multiprocess_mode="livesum",
)
LANE_DROPPED = Counter(
    "kpi_lane_dropped",
    "Lane calls dropped because their client went away: taken out of the queue "
    "(stage=waiting) or stopped, their process replaced (stage=running).",
    ["stage"],
)


#: How the access log and the server's log show when a line was written.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
#: Access log lines wait at most this long, in seconds, to be written
#: together; a stop of the server (Ctrl+C, SIGTERM) writes those waiting.
ACCESS_LOG_DELAY = 0.25
#: ... or until this many are waiting.
ACCESS_LOG_BATCH = 512
#: A pipe takes a write of up to this many bytes whole, so that lines from
#: several worker processes never interleave mid-line.
PIPE_BUF = 4096


#: One call, as the access log and the metrics take it: the wall-clock time,
#: the client's address, the user, the function, the cells, the status and
#: the seconds it took.
Entry = tuple[float, str, str | None, str, int, int, float]


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{self.formatTime(record, TIME_FORMAT)} {record.getMessage()}"


def configure_logging(settings: Settings) -> None:
    """The server's and the access log's lines go to stderr, once per process."""
    for logger in (access_log, server_log):
        logger.setLevel(logging.INFO)
        logger.propagate = False
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(_Text())
            logger.addHandler(handler)
    access_log.disabled = settings.access_log == "off"


class AccessLog:
    """One line per call, in the ``kpi.access`` logger's format, for a
    fraction of its cost: a call only notes its figures; the lines are
    formatted and written together, a moment later (``ACCESS_LOG_DELAY``),
    with one write per few kilobytes. A line costs some 50 µs through
    ``logging`` (a record, a look up the stack, a lock, a flush), about as
    much as the rest of a one-cell call.

    Lines go to the stream of the logger's own handler (``configure_logging``);
    when the logger has other handlers (set up by whoever embeds the app),
    each line goes through ``logging`` as before, still formatted late."""

    def __init__(self, json: bool, batch: Callable[[list[Entry]], None] | None = None) -> None:
        self.json = json
        #: Also given each batch, before its lines are written (or not, when
        #: the access log is off): the metrics count it (``Observer``).
        self.batch = batch
        self._pending: list[Entry] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._stamp = ""

    def note(
        self, address: str, user: str | None, label: str, cells: int, status: int, seconds: float
    ) -> None:
        self._pending.append((time.time(), address, user, label, cells, status, seconds))
        # A full batch is written at once, else a timer writes it a moment
        # later, if none is set yet.
        if len(self._pending) >= ACCESS_LOG_BATCH:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                # No event loop (a call made outside the server): at once.
                self.flush()
                return
            self._timer = loop.call_later(ACCESS_LOG_DELAY, self.flush)

    def _time(self, wall: float) -> str:
        second = int(wall)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(TIME_FORMAT, time.localtime(wall))
        return self._stamp

    def line(self, entry: Entry) -> str:
        """The message of one line, as ``logging`` wrote it."""
        wall, address, user, label, cells, status, seconds = entry
        if self.json:
            return orjson.dumps(
                {
                    "time": wall,
                    "client": address,
                    "user": user,
                    "function": label,
                    "cells": cells,
                    "status": status,
                    "ms": round(seconds * 1000, 3),
                }
            ).decode()
        return (
            f"{address} {label} {cells:,} cells {status} {seconds * 1000:.1f} ms"
            f"{f' user={user}' if user else ''}"
        )

    def _texts(self, pending: list[Entry]) -> list[str]:
        """Each line as the logger's handler writes it: the time, the message."""
        if self.json:
            return [f"{self._time(entry[0])} {self.line(entry)}\n" for entry in pending]
        # ``line``'s text, written out here: formatting is most of what a line
        # costs, and a batch holds hundreds. The calls of a batch come from a
        # few clients and functions: the part of a line between the time and
        # the duration is formatted once per batch for each.
        texts = []
        append = texts.append
        middles: dict[tuple[str, str, int, int], str] = {}
        for wall, address, user, label, cells, status, seconds in pending:
            stamp = self._stamp if int(wall) == self._second else self._time(wall)
            key = address, label, cells, status
            middle = middles.get(key)
            if middle is None:
                middle = middles[key] = f"{address} {label} {cells:,} cells {status} "
            append(f"{stamp} {middle}{seconds * 1000:.1f} ms{f' user={user}' if user else ''}\n")
        return texts

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        if self.batch is not None:
            self.batch(pending)
        if access_log.disabled:
            return
        handlers = access_log.handlers
        handler = handlers[0] if len(handlers) == 1 else None
        if not isinstance(handler, logging.StreamHandler) or not isinstance(
            handler.formatter, _Text
        ):
            for entry in pending:
                access_log.info("%s", self.line(entry))
            return
        text = "".join(self._texts(pending))
        handler.acquire()
        try:
            # In pieces of whole lines, each at most PIPE_BUF long (but for a
            # line longer than that, written whole): cut where a piece's
            # last line ends, not line by line.
            start = 0
            while len(text) - start > PIPE_BUF:
                end = text.rfind("\n", start, start + PIPE_BUF) + 1
                if end <= start:
                    end = text.index("\n", start) + 1
                self._write(handler, text[start:end])
                start = end
            self._write(handler, text[start:] if start else text)
        finally:
            handler.release()

    @staticmethod
    def _write(handler: logging.StreamHandler[Any], piece: str) -> None:
        try:
            handler.stream.write(piece)
            handler.stream.flush()
        except (OSError, ValueError):
            # A closed or broken stream: as logging would, say so (if stderr
            # still takes it) and go on serving.
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write("kpi serve: the access log could not be written\n")


class Observer:
    """The access log's lines and the metrics, from the calls' figures.

    A call only notes its figures (``record``), in the access log's batch;
    the metrics count the batch when it is written, a moment later
    (``ACCESS_LOG_DELAY``), or before ``/metrics`` answers (``flush``):
    counting each call through ``prometheus_client`` takes a lock per
    counter and per histogram bucket, which for a one-cell call was as much
    as its work. With several worker processes (``PROMETHEUS_MULTIPROC_DIR``)
    each call is counted at once, since any process may answer ``/metrics``
    for all of them."""

    def __init__(self, settings: Settings) -> None:
        self.json = settings.access_log == "json"
        self.at_once = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.access = AccessLog(self.json, None if self.at_once else self.count)
        #: The metrics' children by (function, status): ``labels()`` takes a
        #: lock and builds a key on every call.
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._latencies: dict[str, Any] = {}

    def record(
        self,
        function: str,
        cells: int,
        status: int,
        started: float,
        client: Any,
        user: str | None,
    ) -> None:
        seconds = time.perf_counter() - started
        label = function or "unknown"
        if self.at_once:
            counter, errors = self._counters(label, status)
            counter.inc()
            if errors is not None:
                errors.inc()
            self._latency(label).observe(seconds)
            if access_log.disabled:
                return
        self.access.note(client[0] if client else "-", user, label, cells, status, seconds)

    def _counters(self, label: str, status: int) -> tuple[Any, Any]:
        counters = self._children.get((label, status))
        if counters is None:
            counters = (
                CALLS.labels(label, str(status)),
                ERRORS.labels(label) if status >= 400 else None,
            )
            self._children[label, status] = counters
        return counters

    def _latency(self, label: str) -> Any:
        latency = self._latencies.get(label)
        if latency is None:
            latency = self._latencies[label] = LATENCY.labels(label)
        return latency

    def count(self, entries: list[Entry]) -> None:
        """Count calls in the metrics: each (function, status) and each
        histogram bucket once per batch."""
        calls: dict[tuple[str, int], int] = {}
        latencies: dict[str, tuple[list[int], list[float]]] = {}
        for _, _, _, label, _, status, seconds in entries:
            key = label, status
            calls[key] = calls.get(key, 0) + 1
            latency = latencies.get(label)
            if latency is None:
                latency = latencies[label] = ([0] * len(LATENCY_BOUNDS), [])
            # The first bucket whose bound is at least the seconds, as
            # ``Histogram.observe`` finds it.
            latency[0][bisect_left(LATENCY_BOUNDS, seconds)] += 1
            latency[1].append(seconds)
        for (label, status), times in calls.items():
            counter, errors = self._counters(label, status)
            counter.inc(times)
            if errors is not None:
                errors.inc(times)
        for label, (buckets, seconds) in latencies.items():
            observe_all(self._latency(label), buckets, seconds)

    def flush(self) -> None:
        """Count and write the calls noted so far (before ``/metrics`` answers)."""
        self.access.flush()

    def close(self) -> None:
        """Write the access log lines still waiting (the server stops)."""
        self.access.flush()


#: The bounds of the latency histogram's buckets, as it keeps them: floats,
#: the last one infinite.
LATENCY_BOUNDS: tuple[float, ...] = (*map(float, LATENCY_BUCKETS), math.inf)


def takes_batches(child: Any) -> bool:
    """Whether a histogram's child can take a batch of observations at once
    (``observe_all``): prometheus_client (0.4 on) keeps one value per bucket
    (``_buckets``) and one for the sum (``_sum``), each with ``inc``. Any
    other layout takes the one-by-one path."""
    buckets = getattr(child, "_buckets", None)
    return (
        getattr(child, "_upper_bounds", None) == list(LATENCY_BOUNDS)
        and type(buckets) is list
        and len(buckets) == len(LATENCY_BOUNDS)
        and all(callable(getattr(value, "inc", None)) for value in buckets)
        and callable(getattr(getattr(child, "_sum", None), "inc", None))
    )


def observe_all(child: Any, buckets: list[int], seconds: list[float]) -> None:
    """``child.observe(s)`` for each of ``seconds``, whose counts by bucket
    are ``buckets``: one increment per bucket rather than per call, when the
    child takes it (``takes_batches``)."""
    if not takes_batches(child):
        for value in seconds:
            child.observe(value)
        return
    child._sum.inc(math.fsum(seconds))
    for bucket, times in enumerate(buckets):
        if times:
            child._buckets[bucket].inc(times)


def metrics() -> tuple[bytes, str]:
    """The exposition of every metric, of every worker process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
