"""The metrics of ``kpi serve``, counted a batch at a time, in-process.

A call notes its figures; the metrics count them with the access log's
batch (``Observer``). Here: a batch counts exactly what one ``observe`` and
one ``inc`` per call count, bounds included; nothing waits once the batch is
written or the server stops; with several worker processes
(``PROMETHEUS_MULTIPROC_DIR``) each call is counted at once; and the
installed prometheus_client takes a batch per bucket (else the one-by-one
path runs, slower but the same).
"""

from __future__ import annotations

import asyncio
import logging
import math
from bisect import bisect_left
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from addin.server import observe
from addin.server.observe import (
    LATENCY,
    LATENCY_BUCKETS,
    Observer,
    _Text,
    access_log,
    observe_all,
    takes_batches,
)
from addin.server.settings import Settings

pytestmark = pytest.mark.fast


class Lines:
    def __init__(self) -> None:
        self.text: list[str] = []

    def write(self, text: str) -> None:
        self.text.append(text)

    def flush(self) -> None:
        pass

    def lines(self) -> list[str]:
        return "".join(self.text).splitlines()


@pytest.fixture
def lines() -> Iterator[Lines]:
    saved = access_log.handlers[:], access_log.disabled, access_log.level
    stream = Lines()
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(_Text())
    access_log.handlers[:] = [handler]
    access_log.disabled = False
    access_log.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        access_log.handlers[:], access_log.disabled, access_log.level = saved


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _observer(monkeypatch: pytest.MonkeyPatch, *, several: bool = False) -> Observer:
    if several:
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent-only-read-by-the-observer")
    else:
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return Observer(Settings())


def test_the_installed_prometheus_client_takes_batches() -> None:
    """If an upgrade changes the histogram's layout, the batch path turns
    itself off (and this fails, so that someone looks)."""
    assert takes_batches(LATENCY.labels("test_batch_layout"))
    assert not takes_batches(object())


def test_a_batch_counts_what_one_observe_per_call_counts() -> None:
    """Seconds on every bound, just above it, and beyond the last."""
    seconds = [0.0, 1e-9]
    for bound in LATENCY_BUCKETS:
        seconds += [float(bound), math.nextafter(float(bound), math.inf)]
    seconds += [61.0, 1e6]
    registry = CollectorRegistry()
    reference = Histogram("reference", "", buckets=LATENCY_BUCKETS, registry=registry)
    for value in seconds:
        reference.observe(value)
    child = Histogram(
        "batched", "", ["function"], buckets=LATENCY_BUCKETS, registry=registry
    ).labels("f")
    buckets = [0] * (len(LATENCY_BUCKETS) + 1)
    for value in seconds:
        buckets[bisect_left(observe.LATENCY_BOUNDS, value)] += 1
    observe_all(child, buckets, seconds)
    for bound in [*map(str, map(float, LATENCY_BUCKETS)), "+Inf"]:
        assert registry.get_sample_value("batched_bucket", {"function": "f", "le": bound}) == (
            registry.get_sample_value("reference_bucket", {"le": bound})
        ), bound
    assert registry.get_sample_value(
        "batched_count", {"function": "f"}
    ) == registry.get_sample_value("reference_count")
    assert registry.get_sample_value("batched_sum", {"function": "f"}) == pytest.approx(
        registry.get_sample_value("reference_sum"), rel=1e-12
    )


def test_the_one_by_one_path_counts_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CollectorRegistry()
    child = Histogram("plain", "", buckets=LATENCY_BUCKETS, registry=registry)
    monkeypatch.setattr(observe, "takes_batches", lambda child: False)
    observe_all(child, [0] * (len(LATENCY_BUCKETS) + 1), [0.002, 0.5])
    assert registry.get_sample_value("plain_count") == 2
    assert registry.get_sample_value("plain_bucket", {"le": "0.0025"}) == 1


def _calls(observer: Observer, function: str, times: int, status: int = 200) -> None:
    for _ in range(times):
        observer.record(function, 1, status, 0.0, ("127.0.0.1", 5000), None)


def test_calls_are_counted_when_their_batch_is_written(
    monkeypatch: pytest.MonkeyPatch, lines: Lines
) -> None:
    observer = _observer(monkeypatch)
    calls = ("kpi_calls_total", {"function": "test_batch_written", "status": "200"})
    errors = ("kpi_call_errors_total", {"function": "test_batch_written"})
    latency = ("kpi_call_seconds_count", {"function": "test_batch_written"})

    async def serve() -> None:
        _calls(observer, "test_batch_written", 3)
        _calls(observer, "test_batch_written", 2, status=400)
        # Noted, not counted yet: the batch waits for its moment.
        assert _value(calls[0], **calls[1]) == 0
        await asyncio.sleep(observe.ACCESS_LOG_DELAY * 3)
        assert _value(calls[0], **calls[1]) == 3
        assert _value(errors[0], **errors[1]) == 2
        assert _value(latency[0], **latency[1]) == 5

    asyncio.run(serve())
    assert len(lines.lines()) == 5


def test_flush_counts_at_once_and_a_stop_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, lines: Lines
) -> None:
    observer = _observer(monkeypatch)
    name = "test_batch_flush"

    async def serve() -> None:
        _calls(observer, name, 4)
        observer.flush()  # what /metrics does before it answers
        assert _value("kpi_calls_total", function=name, status="200") == 4
        _calls(observer, name, 3)
        observer.close()  # the server stops

    asyncio.run(serve())
    assert _value("kpi_calls_total", function=name, status="200") == 7
    assert _value("kpi_call_seconds_count", function=name) == 7
    assert len([line for line in lines.lines() if f" {name} " in line]) == 7


def test_a_full_batch_is_counted_at_once(monkeypatch: pytest.MonkeyPatch, lines: Lines) -> None:
    observer = _observer(monkeypatch)
    name = "test_batch_full"

    async def serve() -> None:
        _calls(observer, name, observe.ACCESS_LOG_BATCH)
        assert _value("kpi_calls_total", function=name, status="200") == observe.ACCESS_LOG_BATCH
        observer.close()

    asyncio.run(serve())


def test_with_the_access_log_off_calls_are_still_counted(
    monkeypatch: pytest.MonkeyPatch, lines: Lines
) -> None:
    access_log.disabled = True
    observer = _observer(monkeypatch)
    name = "test_batch_log_off"

    async def serve() -> None:
        _calls(observer, name, 2)
        observer.flush()

    asyncio.run(serve())
    assert _value("kpi_calls_total", function=name, status="200") == 2
    assert lines.lines() == []


def test_several_workers_count_each_call_at_once(
    monkeypatch: pytest.MonkeyPatch, lines: Lines
) -> None:
    """Any worker may answer /metrics for all: none may keep calls back."""
    observer = _observer(monkeypatch, several=True)
    name = "test_batch_several"

    async def serve() -> None:
        _calls(observer, name, 2, status=400)
        assert _value("kpi_calls_total", function=name, status="400") == 2
        assert _value("kpi_call_errors_total", function=name) == 2
        assert _value("kpi_call_seconds_count", function=name) == 2
        observer.close()

    asyncio.run(serve())
    assert len(lines.lines()) == 2


def test_a_batch_is_written_in_whole_lines_under_pipe_buf(lines: Lines) -> None:
    """Cut where a piece's last line ends; a line longer than PIPE_BUF (a
    long user name) goes whole, in a piece of its own, and none is lost."""
    log = observe.AccessLog(json=False)
    long_user = "u" * (observe.PIPE_BUF + 100)
    for i in range(300):
        user = long_user if i == 57 else None
        log._pending.append((1_700_000_000 + i / 100, "127.0.0.1", user, "nps", 1, 200, 0.001))
    log.flush()
    assert all(piece.endswith("\n") for piece in lines.text)
    assert all(
        len(piece.encode()) <= observe.PIPE_BUF for piece in lines.text if "uuu" not in piece
    )
    (alone,) = [piece for piece in lines.text if "uuu" in piece]
    assert alone.count("\n") == 1
    assert len(lines.lines()) == 300
    assert len(lines.text) < 10
