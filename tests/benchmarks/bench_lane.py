"""Benchmark: the task pane's Refresh report while workbook starts fill the compute lane.

A real `kpi serve` (one lane process) on 127.0.0.1. The refresh_report
script runs on the Book JSON of a starter workbook, as the task pane sends
it:

* idle: the refresh alone, the baseline of this run; and one start of
  ``--rows`` rows alone (/taskpane/starter, built in the lane);
* abandoned while running: ``--rounds`` times, a client asks for a start,
  which runs at once in the idle lane, and closes the connection after a
  second, as a person who closes the task pane; the refresh is sent as it
  leaves;
* abandoned: ``--abandoned`` clients each ask for a start at once and close
  the connection after a second (one start runs, the others wait); then the
  refresh;
* concurrent: ``--concurrent`` clients ask for such steps and wait for them;
  then the refresh.

Printed: each refresh's latency and its ratio to the idle one, and how many
starts were answered 429 (one address may have KPI_MAX_STARTS_PER_CLIENT
starts in progress). Goals, against figures measured in the same run:

* beside abandoned starts, running or waiting, a refresh waits for none of
  them: only for the lane to replace the process of the one it stopped.
  Counted met when it takes less than half of one start alone (a start of
  200,000 rows takes several times as long as a process takes to start);
* beside concurrent starts, a refresh waits for at most the one call
  already running: that call's time plus the idle refresh (the bound), with
  half again as margin for a busy machine.

Before the lane had its own queue, abandoned and concurrent starts queued in
the pool ahead of the refresh, which waited for all of them; before a
running call was stopped when its client left, a refresh beside abandoned
starts waited for the one that ran.

    python tests/benchmarks/bench_lane.py [--rows N] [--rounds R] [--abandoned A] [--concurrent C]
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from addin.starter import StarterOptions, new_workbook
from tests.addin_support import Server, running_server, server_env
from tests.report_support import book_json


def _starter_query(rows: int) -> str:
    return f"/taskpane/starter?type=celebrity_video&lang=en&rows={rows}"


def _abandon(server: Server, rows: int, after: float) -> None:
    """Ask for a start's steps, then leave. Each start has its own row count:
    the lane keeps the plan of a start it has built, and would answer a
    second one from it."""
    request = f"GET {_starter_query(rows)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        client.sendall(request)
        time.sleep(after)


def _refresh(server: Server, book: dict[str, object]) -> float:
    start = time.perf_counter()
    status, _, body = server.request(
        "POST", "/xlwings/custom-scripts-call/refresh_report", book, timeout=600
    )
    assert status == 200, body[:300]
    return time.perf_counter() - start


def _one_start(server: Server, rows: int) -> float:
    start = time.perf_counter()
    status, _, _ = server.request("GET", _starter_query(rows), timeout=600)
    assert status == 200, status
    return time.perf_counter() - start


def _abandoned_while_running(server: Server, book: dict[str, object], rows: int) -> float:
    """A start that runs, left after a second; the refresh sent as its client leaves."""
    client = threading.Thread(target=_abandon, args=(server, rows, 1.0))
    client.start()
    client.join()
    return _refresh(server, book)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--abandoned", type=int, default=4)
    parser.add_argument("--concurrent", type=int, default=6)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.xlsx"
        new_workbook(StarterOptions("celebrity_video", "en", as_of=dt.date(2024, 7, 15)), path)
        book = book_json(path)
    env = server_env(KPI_COMPUTE_PROCESSES="1")
    with running_server(env=env) as server:
        _refresh(server, book)  # the lane's process is warm
        idle = min(_refresh(server, book) for _ in range(3))
        start_alone = _one_start(server, options.rows)
        bound = start_alone + idle
        print(
            f"idle refresh: {idle:.2f} s; one start of {options.rows:,} rows: {start_alone:.2f} s"
        )

        running = []
        for i in range(options.rounds):
            # Once the refresh is answered the lane is idle again: the start
            # was stopped, or had finished before the refresh ran.
            running.append(_abandoned_while_running(server, book, options.rows + 10 + i))
        print(
            f"refresh as a running start's client leaves ({options.rounds} rounds): "
            f"median {statistics.median(running):.2f} s, max {max(running):.2f} s "
            f"({max(running) / idle:.1f}x idle; one start alone {start_alone:.2f} s)"
        )

        threads = [
            threading.Thread(target=_abandon, args=(server, options.rows + 1 + i, 1.0))
            for i in range(options.abandoned)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.2)  # the clients have gone
        abandoned = _refresh(server, book)
        for thread in threads:
            thread.join()
        print(
            f"refresh after {options.abandoned} abandoned starts: {abandoned:.2f} s "
            f"({abandoned / idle:.1f}x idle; one start alone {start_alone:.2f} s)"
        )

        statuses: list[int] = []

        def concurrent(rows: int) -> None:
            status, _, _ = server.request("GET", _starter_query(rows), timeout=600)
            statuses.append(status)

        threads = [
            threading.Thread(target=concurrent, args=(options.rows + 100 + i,))
            for i in range(options.concurrent)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        busy = _refresh(server, book)
        for thread in threads:
            thread.join()
        refused = statuses.count(429)
        print(
            f"refresh beside {options.concurrent} concurrent starts: {busy:.2f} s "
            f"({busy / idle:.1f}x idle; bound {bound:.2f} s); "
            f"{refused} of them answered 429, {statuses.count(200)} served"
        )
    dropped = max(*running, abandoned) < start_alone / 2
    met = dropped and busy <= 1.5 * bound
    if met:
        print("goal met")
    elif not dropped:
        print("goal missed: a refresh waited for an abandoned start")
    else:
        print("goal missed: a refresh waited for more than one running call")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
