"""Benchmark: the task pane's "Refresh report" at 20,000, 100,000 and
1,000,000 orders, through the pane's own code path: taskpane.js in headless
Chromium, the Office.js stub (tests/officejs_stub.js, which refuses any sync
over 5 MB as Excel on the web does) and a real `kpi serve`, started afresh
for each size.

The workbook is `kpi new celebrity_video --rows N` loaded into the stub; the
1,000,000 case is `--rows 500000` (the most `kpi new` writes) with its orders
twice (the copies get order ids of their own). Printed per size: seconds
from the click to the report written, the largest sync (request or
response), the number of syncs, the refresh request's body, and the server's
memory for the refresh: the rise of its processes' peak resident memory
(VmHWM, the lane's process included) over what they held before the click,
on a server that has refreshed a small shop once (what a server loads once,
its modules and locale data, is not counted against the body).

Baseline, measured in the same run: what the pane did before, xlwings'
whole-book runPython of ``refresh_report``, at the sizes where its one read
stays under 5 MB (the stub refuses the others, as Excel on the web would).

Goals: the time from 100,000 to 1,000,000 orders grows at most 12x; the
largest sync stays under 4 MB at every size; the server's memory for the
refresh is at most 10x the body.

    python tests/benchmarks/bench_taskpane_refresh.py [--sizes 20000,100000,1000000]
        [--baseline 2000,10000,20000]

Exit status 1 when a goal is missed, 3 when a refresh fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench_support import descendants  # noqa: E402  (after the path is set)

GROWTH_GOAL = 12.0
SYNC_GOAL = 4 * 1000 * 1000
MEMORY_GOAL = 10.0
#: The most rows `kpi new` writes; larger shops repeat its orders.
KPI_NEW_MAX = 500_000


def memory(pids: list[int], field: str) -> int:
    """The sum of ``field`` (VmRSS, VmHWM) of the processes, in bytes."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith(field + ":"):
                total += int(line.split()[1]) * 1024
    return total


def shop_state(folder: Path, orders: int) -> dict[str, Any]:
    """The stub's workbook for a shop of ``orders`` orders."""
    from tests.pane_support import stub_state, write_shop  # noqa: PLC0415

    rows = min(orders, KPI_NEW_MAX)
    path = folder / f"shop_{rows}.xlsx"
    if not path.exists():
        write_shop(path, rows)
    state = stub_state(path)
    if orders > rows:
        sheet = next(s for s in state["sheets"] if any(t["name"] == "Orders" for t in s["tables"]))
        table = next(t for t in sheet["tables"] if t["name"] == "Orders")
        body = sheet["rows"][1 : rows + 1]
        copies = 0
        while rows + copies * rows < orders:
            copies += 1
            take = min(rows, orders - copies * rows)
            sheet["rows"].extend([f"{row[0]}-{copies}", *row[1:]] for row in body[:take])
        last = table["address"].split(":")[1]
        letters = "".join(ch for ch in last if ch.isalpha())
        table["address"] = f"A1:{letters}{orders + 1}"
    return state


def click_refresh(pane: Any) -> str:
    pane.page.click("[data-tab=refresh]")
    pane.page.click("#refresh-button")
    pane.wait("#refresh-done:not(.d-none)", "#global-error-alert:not(.d-none)", timeout=3_600_000)
    return pane.error()  # type: ignore[no-any-return]


def refresh_once(
    browser: Any, orders: int, state: dict[str, Any], whole_book: bool, warm_up: dict[str, Any]
) -> dict[str, Any]:
    """One refresh on a fresh `kpi serve`, after one refresh of a small shop
    (``warm_up``: what a server loads once, modules and locale data, is then
    loaded); what it measured."""
    from tests.addin_support import running_server, server_env  # noqa: PLC0415
    from tests.pane_support import load_into_stub  # noqa: PLC0415
    from tests.taskpane_support import open_pane  # noqa: PLC0415

    env = server_env(KPI_MAX_BODY_MB="512")
    with running_server(env=env) as server:
        pane = open_pane(browser, server)
        load_into_stub(pane.page, warm_up)
        if click_refresh(pane):
            raise RuntimeError(f"the warm-up refresh failed: {pane.error()}")
        load_into_stub(pane.page, state)
        bodies: list[int] = []
        pane.page.on(
            "request",
            lambda request: (
                bodies.append(len(request.post_data_buffer or b""))
                if request.url.endswith(
                    ("/taskpane/refresh", "/custom-scripts-call/refresh_report")
                )
                else None
            ),
        )
        pids = descendants(server.process.pid)
        before = memory(pids, "VmRSS")
        started = time.perf_counter()
        if whole_book:
            error = pane.page.evaluate(
                """async () => {
                  try {
                    await xlwings.runPython({scriptName: "refresh_report", errorDisplayMode: "taskpane"});
                    const alert = document.getElementById("global-error-alert");
                    return alert.classList.contains("d-none") ? "" : alert.innerText;
                  } catch (error) { return String(error && error.message || error); }
                }"""
            )
        else:
            error = click_refresh(pane)
        seconds = time.perf_counter() - started
        peak = memory(descendants(server.process.pid), "VmHWM")
        syncs = pane.page.evaluate("officeStub.syncLog")
        pane.page.close()
    largest = max((max(s["request"], s["response"]) for s in syncs), default=0)
    return {
        "orders": orders,
        "error": error,
        "seconds": seconds,
        "largest": largest,
        "syncs": len(syncs),
        "body": max(bodies, default=0),
        "memory": max(0, peak - before),
    }


def show(label: str, run: dict[str, Any]) -> None:
    if run["error"]:
        print(f"{label:<34}{run['orders']:>10,}  refused: {run['error'][:90]}")
        return
    print(
        f"{label:<34}{run['orders']:>10,}{run['seconds']:>9.1f}{run['largest'] / 1e6:>10.2f}"
        f"{run['syncs']:>7}{run['body'] / 1e6:>9.1f}{run['memory'] / 1e6:>9.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000,1000000")
    parser.add_argument("--baseline", default="2000,10000,20000")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",") if n]
    baseline = [int(n) for n in args.baseline.split(",") if n]

    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    from tests.browser import launch  # noqa: PLC0415

    runs: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        folder = Path(scratch)
        browser = launch(playwright)
        print(
            f"{'':<34}{'orders':>10}{'seconds':>9}{'max MB':>10}{'syncs':>7}"
            f"{'body MB':>9}{'mem MB':>9}"
        )
        warm_up = shop_state(folder, 200)
        try:
            for orders in baseline:
                state = shop_state(folder, orders)
                run = refresh_once(browser, orders, state, whole_book=True, warm_up=warm_up)
                base.append(run)
                show("whole-book runPython (baseline)", run)
            for orders in sizes:
                state = shop_state(folder, orders)
                run = refresh_once(browser, orders, state, whole_book=False, warm_up=warm_up)
                runs.append(run)
                show("chunked refresh", run)
        finally:
            browser.close()

    if any(run["error"] for run in runs):
        print("A chunked refresh failed.")
        return 3
    met = True
    by_size = {run["orders"]: run for run in runs}
    if 100_000 in by_size and 1_000_000 in by_size:
        growth = by_size[1_000_000]["seconds"] / by_size[100_000]["seconds"]
        ok = growth <= GROWTH_GOAL
        met &= ok
        print(
            f"time 100,000 -> 1,000,000 orders: {growth:.1f}x "
            f"(goal <= {GROWTH_GOAL:g}x): {'PASS' if ok else 'MISSED'}"
        )
    largest = max(run["largest"] for run in runs)
    ok = largest < SYNC_GOAL
    met &= ok
    print(f"largest sync: {largest:,} bytes (goal < {SYNC_GOAL:,}): {'PASS' if ok else 'MISSED'}")
    for run in runs:
        ratio = run["memory"] / run["body"] if run["body"] else float("inf")
        ok = ratio <= MEMORY_GOAL
        met &= ok
        print(
            f"server memory at {run['orders']:,} orders: {ratio:.1f}x the body "
            f"(goal <= {MEMORY_GOAL:g}x): {'PASS' if ok else 'MISSED'}"
        )
    for old in base:
        new = next((run for run in runs if run["orders"] == old["orders"]), None)
        if new and not old["error"]:
            print(
                f"at {old['orders']:,} orders the chunked refresh takes "
                f"{new['seconds'] / old['seconds']:.2f}x the whole-book read's time; "
                f"its largest sync is {new['largest'] / old['largest']:.2f}x as large"
            )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
