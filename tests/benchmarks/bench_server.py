"""Benchmark: `kpi serve` against its floor and against stock xlwings Server.

Both servers run as real processes on 127.0.0.1, one worker each, serving
the same NPS function; every figure below comes from this one run.

* A large call: one argument of N cells (a column of scores, as Office.js
  sends it). The floor is what no server can avoid: parsing the JSON body
  (orjson, collector paused) and computing the NPS with NumPy, in-process,
  from a body with one score per row as this benchmark sends it.
  Goal: `kpi serve` within 3x of the floor. Also printed: the ratio to stock
  xlwings Server (measured once; it takes about a minute for 1,000,000 cells).
* Small calls: one-cell calls from 1, 8 and 32 concurrent keep-alive clients,
  for a fixed time each. Goal: at least 3x the calls per second of stock
  xlwings Server; p50 and p99 latency reported.
* Small calls beside a large one: a team's worth of one-cell calls (16
  clients, each calling every 20 ms, spread over the interval), first on
  an idle server, then while large calls run back to back. Goal: the p99
  latency beside the large calls at most 2x the idle p99 (kpi serve; its
  compute lane takes the large calls off the event loop).
* Memory: the largest body the default limits accept (KPI_MAX_BODY_MB,
  filled with cells as Excel sends formatted numbers, under KPI_MAX_CELLS),
  and how much the sum of the server's processes' peak resident memory
  grows for it, as a multiple of the body's size. Goal: at most 12x. (Most
  of it is orjson's parse: a rich value of some 60 bytes becomes a dict, two
  strings, a float and a list, and orjson's own parse tree lives beside
  them until it is done.)

    python tests/benchmarks/bench_server.py [--cells N] [--seconds S]
        [--concurrency 1,8,32] [--repeat R]

Exit status 0: goals met; 1: a goal missed; anything else: a failure.
xlwings Server is xlwings PRO: this script passes XLWINGS_LICENSE_KEY to
both servers, `noncommercial` (benchmarking) unless one is set.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.addin_support import free_port, stop  # noqa: E402  (after the path is set)
from tests.bench_support import descendants  # noqa: E402

GOAL_LARGE = 3.0
GOAL_SMALL = 3.0
GOAL_BESIDE_LARGE = 2.0
GOAL_MEMORY = 12.0
#: The paced load of the small calls beside a large one.
PACED_CLIENTS = 16
PACED_INTERVAL = 0.02
CALL_PATH = "/xlwings/custom-functions-call"

#: What stock xlwings Server serves: the same function, written the way its
#: documentation writes custom functions.
STOCK_FUNCTIONS = textwrap.dedent(
    '''\
    from xlwings import func

    import kpi_engine


    @func
    def nps(scores):
        """Net Promoter Score."""
        return kpi_engine.nps(scores)
    '''
)


def body(args: list[Any]) -> bytes:
    """A call as xlwings' Office.js client sends it."""
    return orjson.dumps(
        {
            "client": "Office.js",
            "func_name": "nps",
            "args": args,
            "caller_address": "[Survey.xlsx]Sheet1!B2",
            "session_id": "benchmark",
            "culture_info_name": "en-US",
            "date_format": "M/d/yyyy",
            "version": "0.37.8",
            "runtime": "1.4",
        }
    )


def numpy_nps(rows: list[list[Any]]) -> float:
    # The fastest way from a list of rows to an array (np.asarray on the rows
    # is several times slower): the tighter the floor, the more honest the ratio.
    scores = np.fromiter(chain.from_iterable(rows), dtype=float, count=len(rows))
    scores = scores[~np.isnan(scores)]
    if not np.all((scores >= 0) & (scores <= 10) & (scores == np.round(scores))):
        raise ValueError("bad score")
    return float(((scores >= 9).sum() - (scores <= 6).sum()) * 100 / scores.size)


def floor(payload: bytes) -> tuple[float, float]:
    """Parse the body and compute the NPS with NumPy, in-process."""
    start = time.perf_counter()
    gc.disable()
    try:
        data = orjson.loads(payload)
        value = numpy_nps(data["args"][0])
        del data
    finally:
        gc.enable()
    return time.perf_counter() - start, value


# --- servers -------------------------------------------------------------------


def wait_until_up(
    port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 90
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no server on port {port} after {seconds} s")


@contextmanager
def server(command: list[str], port: int, env: dict[str, str], cwd: Path) -> Iterator[int]:
    # The server's log goes to a file: a pipe nobody reads would fill up and
    # stall a server that logs every call (stock xlwings Server does).
    log = cwd / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(port, process, log)
            yield port
        finally:
            stop(process)


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XLWINGS_")}
    env["XLWINGS_LICENSE_KEY"] = os.environ.get("XLWINGS_LICENSE_KEY") or "noncommercial"
    env.update(extra)
    return env


@contextmanager
def kpi_serve(**settings: str) -> Iterator[int]:
    kpi = shutil.which("kpi", path=str(Path(sys.executable).parent))
    if kpi is None:
        raise RuntimeError("the kpi command is not installed in this environment")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = [kpi, "serve", "--port", str(port), "--workers", "1"]
        # The access log goes to a file as in production; the bench pays for it.
        with server(command, port, server_env(**settings), Path(folder)) as running:
            yield running


def process_tree(port: int) -> list[int]:
    """The process listening on ``port`` and all its descendants."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inode = fields[9]
    if inode is None:
        raise RuntimeError(f"nothing listens on port {port}")
    owner = None
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == f"socket:[{inode}]":
                owner = int(fd.parts[2])
                break
        except OSError:
            continue
    if owner is None:
        raise RuntimeError(f"no process owns port {port}")
    return descendants(owner)


def peak_rss(pids: list[int]) -> int:
    """The sum of the processes' peak resident memory (VmHWM), in bytes."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
                if os.environ.get("KPI_BENCH_VERBOSE"):
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    print(f"  {pid} {line.split()[1]} kB {command[:120]!r}", file=sys.stderr)
    return total


def largest_accepted_body(max_body: int, max_cells: int) -> tuple[bytes, int]:
    """NPS scores as Excel sends formatted numbers, as many as fit the limits."""
    cell = {"type": "FormattedNumber", "basicValue": 9.0, "numberFormat": "0"}
    per_cell = len(orjson.dumps([cell])) + 1
    cells = min(max_cells, (max_body - 1024) // per_cell)
    rows = [[dict(cell, basicValue=float(i % 11))] for i in range(cells)]
    payload = body([rows])
    while len(payload) > max_body:
        rows = rows[: int(len(rows) * 0.99)]
        payload = body([rows])
    return payload, len(rows)


async def paced(port: int, payload: bytes, keep_going: Any) -> list[float]:
    """PACED_CLIENTS keep-alive clients, each calling every PACED_INTERVAL
    seconds (spread over it), while ``keep_going()``; their latencies."""
    request = request_bytes(port, payload)
    latencies: list[float] = []

    async def client(offset: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.sleep(offset)
            due = time.perf_counter()
            while keep_going():
                begin = time.perf_counter()
                status, _ = await asyncio.wait_for(exchange(reader, writer, request), 60)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}")
                latencies.append(time.perf_counter() - begin)
                due += PACED_INTERVAL
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
        finally:
            writer.close()

    step = PACED_INTERVAL / PACED_CLIENTS
    await asyncio.gather(*(client(i * step) for i in range(PACED_CLIENTS)))
    return latencies


async def beside_large(
    port: int, small: bytes, large: bytes, expected: float, calls: int, seconds: float
) -> tuple[list[float], list[float]]:
    """Paced small calls on an idle server for ``seconds``, then beside
    ``calls`` large calls."""
    timeout = 600.0
    end = time.perf_counter() + seconds
    idle = await paced(port, small, lambda: time.perf_counter() < end)
    running = [True]

    async def large_calls() -> None:
        try:
            for _ in range(calls):
                _, value = await one_call(port, large, timeout)
                if abs(value - expected) > 1e-9:
                    raise RuntimeError(f"kpi serve returned {value}, NumPy {expected}")
        finally:
            running[0] = False

    busy, _ = await asyncio.gather(paced(port, small, lambda: running[0]), large_calls())
    return idle, busy


@contextmanager
def stock_xlwings_server() -> Iterator[int]:
    """xlwings-server as its documentation runs it, with the same function."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "custom_functions.py").write_text(STOCK_FUNCTIONS)
        env = server_env(XLWINGS_PROJECT_DIR=str(project), XLWINGS_ENVIRONMENT="prod")
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "xlwings_server.main:main_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with server(command, port, env, project) as running:
            yield running


# --- a small HTTP/1.1 client: the same for both servers -----------------------


def request_bytes(port: int, payload: bytes) -> bytes:
    head = (
        f"POST {CALL_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError("response without Content-Length")
    return status, await reader.readexactly(length)


async def one_call(port: int, payload: bytes, timeout: float) -> tuple[float, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**26)
    try:
        start = time.perf_counter()
        status, answer = await asyncio.wait_for(
            exchange(reader, writer, request_bytes(port, payload)), timeout
        )
        elapsed = time.perf_counter() - start
    finally:
        writer.close()
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {answer[:200]!r}")
    return elapsed, orjson.loads(answer)["result"][0][0]


async def load(
    port: int, payload: bytes, clients: int, seconds: float, max_calls: int
) -> tuple[float, list[float]]:
    """Keep-alive clients calling in a loop; returns (calls/s, latencies)."""
    request = request_bytes(port, payload)
    latencies: list[float] = []
    started = [0]

    async def client(deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline and started[0] < max_calls:
                started[0] += 1
                begin = time.perf_counter()
                status, _ = await asyncio.wait_for(exchange(reader, writer, request), 60)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}")
                latencies.append(time.perf_counter() - begin)
        finally:
            writer.close()

    # Warm up (connections, caches), then measure.
    await asyncio.gather(*(client(time.perf_counter() + 0.2) for _ in range(clients)))
    latencies.clear()
    started[0] = 0
    start = time.perf_counter()
    await asyncio.gather(*(client(start + seconds) for _ in range(clients)))
    return len(latencies) / (time.perf_counter() - start), latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- the run -------------------------------------------------------------------


def measure_memory(megabytes: float | None, timeout: float) -> tuple[int, int, int, int]:
    """(body size, cells, peak RSS before, peak RSS after) for the largest
    body the limits accept, or one of ``megabytes``."""
    from addin.server.settings import Settings  # noqa: PLC0415

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    size = int(megabytes * (1 << 20)) if megabytes else defaults.max_body_bytes
    print(f"kpi serve: a body of {size / (1 << 20):,.1f} MB", file=sys.stderr)
    payload, cells = largest_accepted_body(size, defaults.max_cells)
    with kpi_serve() as port:
        before = peak_rss(process_tree(port))
        asyncio.run(one_call(port, payload, timeout))
        after = peak_rss(process_tree(port))
    return len(payload), cells, before, after


def report_beside(latencies: tuple[list[float], list[float]], calls: int) -> float:
    idle, busy = latencies
    ratio = percentile(busy, 0.99) / percentile(idle, 0.99)
    print(
        f"\nSmall calls beside large ones: {PACED_CLIENTS} clients, one call each every "
        f"{PACED_INTERVAL * 1000:g} ms"
    )
    print(f"  {'':<34} {'calls':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for label, values in (("idle server", idle), (f"beside {calls} large calls", busy)):
        print(
            f"  {label:<34} {len(values):7d} {statistics.median(values) * 1000:8.2f} "
            f"{percentile(values, 0.99) * 1000:8.2f}"
        )
    print(f"  p99 ratio {ratio:5.2f}x  goal <= {GOAL_BESIDE_LARGE:g}x")
    return ratio


def report_memory(size: int, cells: int, before: int, after: int) -> float:
    ratio = (after - before) / size
    print(f"\nMemory: a body of {size / (1 << 20):,.1f} MB ({cells:,} formatted-number cells)")
    print(
        f"  peak resident memory of the server's processes {after / (1 << 20):,.0f} MB, "
        f"{before / (1 << 20):,.0f} MB before the call: it grew {ratio:5.2f}x the body  "
        f"goal <= {GOAL_MEMORY:g}x"
    )
    return ratio


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="large calls to kpi serve")
    parser.add_argument("--seconds", type=float, default=5.0, help="per small-call load")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--max-calls", type=int, default=1_000_000)
    parser.add_argument(
        "--memory-mb",
        type=float,
        default=None,
        help="size of the memory test's body (default: the KPI_MAX_BODY_MB default)",
    )
    return parser.parse_args()


def main() -> int:
    options = arguments()
    levels = [int(level) for level in options.concurrency.split(",")]
    if not os.environ.get("XLWINGS_LICENSE_KEY"):
        print("XLWINGS_LICENSE_KEY is not set: the servers run with 'noncommercial' here.")

    rng = np.random.default_rng(2024)
    scores = [[float(s)] for s in rng.integers(0, 11, options.cells)]
    large = body([scores])
    small = body([[[9.0]]])
    floors = [floor(large) for _ in range(options.repeat)]
    floor_time = min(t for t, _ in floors)
    expected = floors[0][1]
    timeout = max(600.0, options.cells / 5_000)

    results: dict[str, dict[str, Any]] = {"kpi serve": {}, "xlwings Server": {}}
    for name, start_server in (("kpi serve", kpi_serve), ("xlwings Server", stock_xlwings_server)):
        with start_server() as port:
            # Small calls first: the aftermath of a huge call (freeing a
            # million objects) must not land in their measurement.
            for clients in levels:
                print(f"{name}: {clients} concurrent one-cell clients", file=sys.stderr)
                results[name][clients] = asyncio.run(
                    load(port, small, clients, options.seconds, options.max_calls)
                )
            if name == "kpi serve":
                print(f"{name}: small calls beside large ones", file=sys.stderr)
                results[name]["beside"] = asyncio.run(
                    beside_large(port, small, large, expected, options.repeat, options.seconds)
                )
            repeat = options.repeat if name == "kpi serve" else 1
            times = []
            for _ in range(repeat):
                print(f"{name}: one call of {options.cells:,} cells", file=sys.stderr)
                elapsed, value = asyncio.run(one_call(port, large, timeout))
                if abs(value - expected) > 1e-9:
                    raise RuntimeError(f"{name} returned {value}, NumPy {expected}")
                times.append(elapsed)
            results[name]["large"] = min(times)

    memory = measure_memory(options.memory_mb, timeout)

    ours, stock = results["kpi serve"], results["xlwings Server"]
    large_ratio = ours["large"] / floor_time
    print(f"\nLarge call: one argument of {options.cells:,} cells (NPS)")
    print(f"  floor (orjson parse + NumPy, in-process)  {floor_time * 1000:10.1f} ms")
    print(
        f"  kpi serve (best of {options.repeat})                  "
        f"{ours['large'] * 1000:10.1f} ms  {large_ratio:5.2f}x floor  goal <= {GOAL_LARGE:g}x"
    )
    print(
        f"  stock xlwings Server (one call)            {stock['large'] * 1000:10.1f} ms  "
        f"{stock['large'] / floor_time:5.2f}x floor  "
        f"{stock['large'] / ours['large']:6.1f}x slower than kpi serve"
    )
    print(f"\nSmall calls: one cell, {options.seconds:g} s per level, one worker each")
    print(
        f"  {'clients':>7}  {'server':<22} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8}  "
        f"ratio  goal >= {GOAL_SMALL:g}x"
    )
    worst_small = float("inf")
    for clients in levels:
        our_rate, our_lat = ours[clients]
        stock_rate, stock_lat = stock[clients]
        ratio = our_rate / stock_rate
        worst_small = min(worst_small, ratio)
        for name, rate, lat, shown in (
            ("kpi serve", our_rate, our_lat, f"{ratio:5.2f}x"),
            ("stock xlwings Server", stock_rate, stock_lat, ""),
        ):
            print(
                f"  {clients:>7}  {name:<22} {rate:9.0f} "
                f"{statistics.median(lat) * 1000:8.2f} {percentile(lat, 0.99) * 1000:8.2f}  {shown}"
            )
    beside_ratio = report_beside(ours["beside"], options.repeat)
    memory_ratio = report_memory(*memory)
    met = (
        large_ratio <= GOAL_LARGE
        and worst_small >= GOAL_SMALL
        and beside_ratio <= GOAL_BESIDE_LARGE
        and memory_ratio <= GOAL_MEMORY
    )
    print(f"\nGoals {'met' if met else 'MISSED'}.")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
