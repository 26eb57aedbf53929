"""The compute lane drops work nobody waits for and serves a refresh first.

A call waits for a lane process in the lane's own queue, ordered by urgency
(Refresh report, then large function calls, then the steps of a workbook
start); a waiting call whose client has gone never runs; a running call
whose client has gone is stopped, its process killed and replaced, and the
other calls run on; a client may have only ``KPI_MAX_STARTS_PER_CLIENT``
workbook starts in progress (HTTP 429, whose message the task pane shows).

The functions wait at gate files and write which of them ran, in order
(``tests/lane_support.py``, ``tests/fixtures/gated_scripts.py``): nothing
here depends on how fast the machine is; the deadlines only stop a hung test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from addin.server.lane import (
    BACKGROUND,
    NORMAL,
    URGENT,
    ClientGoneError,
    ComputeLane,
    LaneUnavailableError,
)
from tests.addin_support import Server, running_server, server_env
from tests.lane_support import gated, process_id, ran

ROOT = Path(__file__).resolve().parents[1]
#: Only a hung test waits this long.
DEADLINE = 180.0


def _order(folder: Path) -> list[str]:
    path = folder / "order"
    return path.read_text().split() if path.exists() else []


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists, a zombie (ended, never reaped) included."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(folder: Path, name: str) -> int:
    """The lane process that ran (or runs) ``name``."""
    return int((folder / f"{name}.started").read_text())


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        await asyncio.sleep(0.02)


def test_waiting_calls_run_by_urgency_and_a_gone_client_is_never_run(tmp_path: Path) -> None:
    folder = str(tmp_path)

    async def scenario() -> list[str]:
        lane = ComputeLane(1)
        try:
            first = asyncio.create_task(
                lane.run(gated, folder, "first", body=b"", priority=BACKGROUND)
            )
            await _until((tmp_path / "first.started").exists, "the first call")
            client_left = False

            async def gone() -> bool:
                return client_left

            waiting = [
                asyncio.create_task(lane.run(ran, folder, "start", body=b"", priority=BACKGROUND)),
                asyncio.create_task(
                    lane.run(ran, folder, "abandoned", body=b"", priority=BACKGROUND, gone=gone)
                ),
                asyncio.create_task(lane.run(ran, folder, "call", body=b"", priority=NORMAL)),
                asyncio.create_task(lane.run(ran, folder, "refresh", body=b"", priority=URGENT)),
            ]
            await _until(lambda: lane.waiting == 4, "four calls in the queue")
            client_left = True
            with pytest.raises(ClientGoneError):
                await waiting[1]
            assert lane.waiting == 3
            (tmp_path / "open").touch()
            results = await asyncio.gather(first, waiting[0], waiting[2], waiting[3])
            assert lane.running == 0
            assert lane.waiting == 0
            return list(results)
        finally:
            lane.close()

    assert asyncio.run(scenario()) == ["first", "start", "call", "refresh"]
    # The refresh, queued last, ran first once the process was free; the
    # abandoned start never ran.
    assert _order(tmp_path) == ["first", "refresh", "call", "start"]


def test_a_running_call_whose_client_left_is_stopped_and_only_it(tmp_path: Path) -> None:
    folder = str(tmp_path)
    # A body spooled to a file, as a large call's: a stopped call leaves no file behind.
    spooled = tmp_path / "kpi-call-spooled"
    spooled.write_bytes(b"{}")
    pids: dict[str, int] = {}

    async def scenario() -> None:
        lane = ComputeLane(2)
        try:
            client_left = False

            async def gone() -> bool:
                return client_left

            kept = asyncio.create_task(
                lane.run(gated, folder, "kept", body=b"", priority=BACKGROUND)
            )
            dropped = asyncio.create_task(
                lane.run(gated, folder, "dropped", body=spooled, priority=URGENT, gone=gone)
            )
            await _until(
                lambda: all(
                    (tmp_path / f"{name}.started").exists() for name in ("kept", "dropped")
                ),
                "both calls to run",
            )
            pids.update(kept=_pid(tmp_path, "kept"), dropped=_pid(tmp_path, "dropped"))
            client_left = True
            with pytest.raises(ClientGoneError) as stopped:
                await dropped
            assert stopped.value.running
            # Its process is killed and reaped; the other call's runs on.
            await _until(lambda: not _alive(pids["dropped"]), "the stopped process to end")
            assert not spooled.exists()
            assert _alive(pids["kept"])
            assert not kept.done()
            # A new process takes the stopped one's place, beside the running call.
            pids["new"] = await lane.run(process_id, body=b"", priority=NORMAL)
            assert pids["new"] not in (pids["kept"], pids["dropped"])
            assert lane.running == 1
            (tmp_path / "open").touch()
            assert await kept == "kept"
            assert lane.running == 0
            # Idle processes killed from outside (out of memory) are replaced:
            # each costs at most one call a 503 (LaneUnavailableError, which
            # the client retries), and is reaped.
            killed = (pids["kept"], pids["new"])
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            for _ in range(len(killed) + 1):
                with contextlib.suppress(LaneUnavailableError):
                    pids["next"] = await lane.run(process_id, body=b"", priority=NORMAL)
                    break
            assert pids["next"] not in killed
            assert not any(_alive(pid) for pid in killed)
        finally:
            lane.close()

    asyncio.run(scenario())
    assert _order(tmp_path) == ["kept"]
    # Closing the lane ends its processes: none is left behind.
    assert not any(_alive(pid) for pid in pids.values())


# --- a real server -----------------------------------------------------------------------


def _book(*args: str) -> dict[str, Any]:
    return {
        "client": "Office.js",
        "version": "0.37.8",
        "book": {"name": "Book.xlsx", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [{"name": "Sheet1", "values": [[""]], "pictures": [], "tables": []}],
        "args": list(args),
    }


@pytest.fixture
def gated_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    env = server_env(
        KPI_SCRIPTS_MODULE="tests.fixtures.gated_scripts",
        PYTHONPATH=str(ROOT),
        KPI_TEST_GATES=str(tmp_path),
        KPI_COMPUTE_PROCESSES="1",
        KPI_MAX_STARTS_PER_CLIENT="2",
    )
    with running_server(env=env) as server:
        yield server, tmp_path
    (tmp_path / "open").touch()


def _in_thread(server: Server, script: str, name: str) -> tuple[threading.Thread, dict[str, Any]]:
    answer: dict[str, Any] = {}

    def call() -> None:
        answer["status"], _, answer["body"] = server.request(
            "POST", f"/xlwings/custom-scripts-call/{script}", _book(name), timeout=DEADLINE
        )
        answer["at"] = time.monotonic()

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, answer


def _waiting(server: Server) -> float:
    _, _, body = server.request("GET", "/metrics")
    found = re.search(rb"^kpi_lane_waiting(?:\{[^}]*\})? ([0-9.e+-]+)$", body, re.M)
    return float(found.group(1)) if found else 0.0


def _until_sync(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.05)


def _abandon(server: Server, script: str, name: str) -> None:
    """Send a whole call, then close the connection without reading the answer."""
    with _leaving(server, script, name):
        pass


def test_starts_past_the_limit_get_429_and_a_refresh_runs_before_waiting_starts(
    gated_server: tuple[Server, Path],
) -> None:
    server, gates = gated_server
    first, first_answer = _in_thread(server, "start_workbook", "s1")
    _until_sync((gates / "s1.started").exists, "the first start to run")
    # The same client's second start waits; its third is refused with a message.
    second, second_answer = _in_thread(server, "start_workbook", "s2")
    _until_sync(lambda: _waiting(server) == 1, "the second start to wait")
    status, _, body = server.request(
        "POST", "/xlwings/custom-scripts-call/start_workbook", _book("s3")
    )
    assert status == 429
    detail = json.loads(body)["detail"]
    assert "2 workbook starts of yours are already in progress" in detail
    assert "KPI_MAX_STARTS_PER_CLIENT" in detail
    assert not (gates / "s3.started").exists()
    # A refresh queued behind the waiting start runs before it.
    refresh, refresh_answer = _in_thread(server, "refresh_report", "r1")
    _until_sync(lambda: _waiting(server) == 2, "the refresh to wait")
    (gates / "open").touch()
    for thread in (first, second, refresh):
        thread.join(DEADLINE)
    assert [first_answer["status"], second_answer["status"], refresh_answer["status"]] == [
        200,
        200,
        200,
    ]
    assert _order(gates) == ["s1", "r1", "s2"]


def test_a_start_whose_client_left_while_it_waited_never_runs(
    gated_server: tuple[Server, Path],
) -> None:
    server, gates = gated_server
    first, _ = _in_thread(server, "start_workbook", "s1")
    _until_sync((gates / "s1.started").exists, "the first start to run")
    _abandon(server, "start_workbook", "gone")
    # The abandoned start leaves the queue (or is never queued): nothing waits.
    _until_sync(
        lambda: _waiting(server) == 0 and "went away" in server.log_text(), "the start to go"
    )
    refresh, refresh_answer = _in_thread(server, "refresh_report", "r1")
    _until_sync(lambda: _waiting(server) == 1, "the refresh to wait")
    (gates / "open").touch()
    first.join(DEADLINE)
    refresh.join(DEADLINE)
    assert refresh_answer["status"] == 200
    assert _order(gates) == ["s1", "r1"]
    assert not (gates / "gone.started").exists()


@contextlib.contextmanager
def _leaving(server: Server, script: str, *args: str) -> Iterator[None]:
    """Send a whole call and keep the connection open; close it, without
    reading the answer, when the block ends."""
    body = json.dumps(_book(*args)).encode()
    request = (
        f"POST /xlwings/custom-scripts-call/{script} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        client.sendall(request)
        yield


def _dropped_running(server: Server) -> float:
    _, _, body = server.request("GET", "/metrics")
    found = re.search(rb'^kpi_lane_dropped_total\{stage="running"\} ([0-9.e+-]+)$', body, re.M)
    return float(found.group(1)) if found else 0.0


def _abandon_while_it_runs(server: Server, gates: Path, script: str, *args: str) -> int:
    """Leave a call once it runs; wait for its process to be stopped, then
    refresh (which the stopped call would have held up for ever). The pid of
    the stopped process."""
    name = args[0]
    started = gates / f"{name}.started"
    with _leaving(server, script, *args):
        _until_sync(started.exists, f"{name} to run")
    pid = int(started.read_text())
    _until_sync(lambda: not _alive(pid), f"the process of {name} to be stopped")
    line = f"went away while script:{script} ran; it was stopped and its process replaced"
    _until_sync(lambda: line in server.log_text(), "the log line")
    status, _, body = server.request(
        "POST",
        "/xlwings/custom-scripts-call/refresh_report",
        _book(f"after-{name}"),
        timeout=DEADLINE,
    )
    assert status == 200, body[:300]
    return pid


def test_a_start_or_refresh_whose_client_left_while_it_ran_is_stopped(tmp_path: Path) -> None:
    """The gate never opens: a refresh is answered after each abandoned call
    only because that call's process was killed and a new one took its place."""
    env = server_env(
        KPI_SCRIPTS_MODULE="tests.fixtures.gated_scripts",
        PYTHONPATH=str(ROOT),
        KPI_TEST_GATES=str(tmp_path),
        KPI_COMPUTE_PROCESSES="1",
    )
    with running_server(env=env) as server:
        start = _abandon_while_it_runs(server, tmp_path, "start_workbook", "start")
        refresh = _abandon_while_it_runs(server, tmp_path, "refresh_report", "slow-refresh", "yes")
        # The refresh after each ran in the new process that took its place.
        assert _pid(tmp_path, "after-start") != start
        assert _pid(tmp_path, "after-slow-refresh") not in (start, refresh)
        # The pane's own first step, the plan of a start, built in the lane:
        # a client that leaves a second after asking for the largest (which
        # takes many seconds to build on any machine).
        query = "/taskpane/starter?type=celebrity_video&lang=en&rows=500000"
        with socket.create_connection((server.host, server.port), timeout=30) as client:
            client.sendall(f"GET {query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            time.sleep(1.0)
        _until_sync(lambda: _dropped_running(server) == 3, "the plan to be stopped")
        assert "went away while start_workbook ran; it was stopped" in server.log_text()
        assert (
            server.request("POST", "/xlwings/custom-scripts-call/refresh_report", _book("last"))[0]
            == 200
        )
        last = _pid(tmp_path, "last")
        assert _alive(last)
    assert not (tmp_path / "open").exists()
    assert _order(tmp_path) == ["after-start", "after-slow-refresh", "last"]
    # The server stopped its lane process as it stopped.
    _until_sync(lambda: not _alive(last), "the lane process to end with the server")
