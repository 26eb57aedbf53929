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

import logging
import os
import sys
import time
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
LATENCY = Histogram(
    "kpi_call_seconds",
    "Time from a call's arrival to its answer, by function.",
    ["function"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
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


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {record.getMessage()}"


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


class Observer:
    def __init__(self, settings: Settings) -> None:
        self.json = settings.access_log == "json"

    def record(
        self,
        *,
        function: str,
        cells: int,
        status: int,
        started: float,
        client: Any,
        user: str | None,
    ) -> None:
        seconds = time.perf_counter() - started
        label = function or "unknown"
        CALLS.labels(label, str(status)).inc()
        if status >= 400:
            ERRORS.labels(label).inc()
        LATENCY.labels(label).observe(seconds)
        if access_log.disabled:
            return
        address = client[0] if client else "-"
        if self.json:
            access_log.info(
                orjson.dumps(
                    {
                        "time": time.time(),
                        "client": address,
                        "user": user,
                        "function": label,
                        "cells": cells,
                        "status": status,
                        "ms": round(seconds * 1000, 3),
                    }
                ).decode()
            )
        else:
            access_log.info(
                "%s %s %s cells %d %.1f ms%s",
                address,
                label,
                f"{cells:,}",
                status,
                seconds * 1000,
                f" user={user}" if user else "",
            )


def metrics() -> tuple[bytes, str]:
    """The exposition of every metric, of every worker process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
