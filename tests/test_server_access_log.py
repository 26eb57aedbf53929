"""The access log of ``kpi serve``, in-process: the lines it writes in
batches are the lines ``logging`` wrote one by one, each batch in pieces a
pipe takes whole, and none is lost when the server stops."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from addin.server.observe import (
    ACCESS_LOG_DELAY,
    PIPE_BUF,
    AccessLog,
    _Text,
    access_log,
)

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d 127\.0\.0\.1 nps 1,000 cells 200 2\.5 ms")


class Writes:
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass

    def lines(self) -> list[str]:
        return "".join(self.writes).splitlines()


@pytest.fixture
def stream() -> Iterator[Writes]:
    saved = access_log.handlers[:], access_log.disabled, access_log.level
    writes = Writes()
    handler = logging.StreamHandler(writes)  # type: ignore[arg-type]
    handler.setFormatter(_Text())
    access_log.handlers[:] = [handler]
    access_log.disabled = False
    access_log.setLevel(logging.INFO)  # as configure_logging sets it
    try:
        yield writes
    finally:
        access_log.handlers[:], access_log.disabled, access_log.level = saved


def test_lines_are_written_together_a_moment_later(stream: Writes) -> None:
    log = AccessLog(json=False)

    async def calls() -> None:
        for _ in range(1000):
            log.note("127.0.0.1", None, "nps", 1000, 200, 0.0025)
        # 512 lines make a batch at once; the rest wait for the delay.
        assert len(stream.lines()) == 512
        await asyncio.sleep(ACCESS_LOG_DELAY * 3)

    asyncio.run(calls())
    lines = stream.lines()
    assert len(lines) == 1000
    assert all(LINE.fullmatch(line) for line in lines), lines[:3]
    assert all(len(write.encode()) <= PIPE_BUF and write.endswith("\n") for write in stream.writes)
    assert len(stream.writes) < 100


def test_a_stop_writes_the_lines_still_waiting(stream: Writes) -> None:
    log = AccessLog(json=True)

    async def calls() -> None:
        log.note("127.0.0.1", "shared-token", "churn_rate", 2, 400, 0.001)
        assert stream.lines() == []
        log.flush()  # what the server's shutdown does (Observer.close)

    asyncio.run(calls())
    (line,) = stream.lines()
    record = json.loads(line[line.index("{") :])
    assert {key: record[key] for key in ("client", "user", "function", "cells", "status")} == {
        "client": "127.0.0.1",
        "user": "shared-token",
        "function": "churn_rate",
        "cells": 2,
        "status": 400,
    }
    assert record["ms"] == 1.0


def test_other_handlers_get_one_record_per_line(stream: Writes) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    access_log.handlers[:] = [Keep()]
    log = AccessLog(json=False)
    log.note("127.0.0.1", None, "nps", 1000, 200, 0.0025)
    log.note("127.0.0.1", "ann@example.com", "nps", 1000, 200, 0.0025)  # no event loop: at once
    assert [record.getMessage() for record in records] == [
        "127.0.0.1 nps 1,000 cells 200 2.5 ms",
        "127.0.0.1 nps 1,000 cells 200 2.5 ms user=ann@example.com",
    ]


def test_a_batch_s_lines_are_those_logging_writes(stream: Writes) -> None:
    """The batch formats its lines itself: the same text as ``logging``'s
    handler gives each message, the time included, across a second's change."""
    entries = [
        (1_700_000_000.2, "127.0.0.1", None, "nps", 1_000_000, 200, 0.4123),
        (1_700_000_000.9, "10.0.0.7", "ann@example.com", "churn_rate", 2, 400, 0.00004),
        (1_700_000_001.1, "-", None, "unknown", 0, 413, 12.0),
    ]
    for json_lines in (False, True):
        log = AccessLog(json=json_lines)
        stream.writes.clear()
        for entry in entries:
            log._pending.append(entry)
        log.flush()
        formatter = _Text()
        expected = []
        for entry in entries:
            record = logging.LogRecord(
                "kpi.access", logging.INFO, "", 0, "%s", (log.line(entry),), None
            )
            record.created = entry[0]
            expected.append(formatter.format(record))
        assert stream.lines() == expected


@given(
    cells=st.integers(min_value=-(10**12), max_value=10**12)
    | st.sampled_from([0, 1, 999, 1000, -999, -1000, -1001, 10**6]),
    seconds=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1),
    user=st.sampled_from([None, "", "ann@example.com"]),
)
def test_every_line_of_a_batch_is_the_line_logging_writes(
    cells: int, seconds: list[float], user: str | None
) -> None:
    """The batch writes each count and duration out in its own way (a short
    count as it is, the same client, function, count and status once per
    batch): the same text as ``line`` gives ``logging``, line by line."""
    log = AccessLog(json=False)
    entries = [
        (1_700_000_000.5 + i * 0.3, "127.0.0.1", user, "nps", cells, 200, duration)
        for i, duration in enumerate(seconds)
    ]
    # Each part of the line told apart: another client, user, function, count, status.
    entries += [
        (1_700_000_009.0, "10.0.0.7", user, "nps", cells, 200, seconds[0]),
        (1_700_000_009.1, "127.0.0.1", "bob", "nps", cells, 200, seconds[0]),
        (1_700_000_009.2, "127.0.0.1", user, "churn_rate", cells, 200, seconds[0]),
        (1_700_000_009.3, "127.0.0.1", user, "nps", cells + 1, 200, seconds[0]),
        (1_700_000_009.4, "127.0.0.1", user, "nps", cells, 400, seconds[0]),
    ]
    texts = log._texts(entries)
    assert texts == [f"{log._time(entry[0])} {log.line(entry)}\n" for entry in entries]
