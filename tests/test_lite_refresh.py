"""xlwings Lite's refresh_report at a real shop's size, in Pyodide.

main.py's ``refresh_report`` (from the kpi-addin wheel) takes an ``xw.BookAsync``: xlwings Lite gives it
the workbook without its cell values, and the script reads the columns the
KPIs need a chunk of rows at a time (``await rng.get_value()``), each read
one Office.js sync. Here that runs in Pyodide under Node, with the packages
of `kpi lite`'s requirements from local wheels (as tests/test_lite_pyodide.py
installs them), xlwings' own Office.js client (the custom-scripts JavaScript
of xlwings Lite and xlwings Server) and the in-memory workbook of
tests/officejs_stub.js, which refuses every sync over 5 MB as Excel on the
web does. What xlwings Lite's own glue does (read the book without values,
call the script, run its actions) is done by tests/node/pyodide_lite_refresh.mjs
in the few lines that xlwings documents; the script is found in main.py and
called by xlwings' own custom_scripts_meta and custom_scripts_call.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

from addin.lite import WHEEL_NAME
from addin.report.pane import MAX_SYNC_BYTES
from tests.addin_support import run_node
from tests.lite_support import ROOT, write_lite
from tests.pane_support import stub_state
from tests.taskpane_support import (
    OFFICE_JS_LIMIT,
    assert_report_cells_are_kpi_reports,
    kpi_new,
    sync_summary,
)
from tests.test_lite_pyodide import NODE_DIR, PYODIDE, local_wheels

RUNNER = NODE_DIR / "pyodide_lite_refresh.mjs"
STUB = ROOT / "tests" / "officejs_stub.js"


def xlwings_client(folder: Path) -> Path:
    """xlwings' Office.js client scripts, as ES modules Node can import."""
    spec = importlib.util.find_spec("xlwings_server")
    assert spec
    assert spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "static" / "js"
    shutil.copytree(source, folder)
    (folder / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    return folder


def run_lite_refresh(tmp_path: Path, books: list[tuple[str, Path | None]]) -> Any:
    assert shutil.which("node"), "Node.js is needed for this test (make test installs it)"
    assert PYODIDE.is_dir(), f"Pyodide is not installed in {NODE_DIR}: run make node"
    lite = tmp_path / "lite"
    write_lite(lite)
    wheels = tmp_path / "wheels"
    local_wheels(wheels)
    shutil.copy(lite / WHEEL_NAME, wheels / WHEEL_NAME)
    seen = tmp_path / "pyodide_lite"
    seen.mkdir()
    for name in ("main.py", "requirements.txt"):
        shutil.copy(lite / name, seen / name)
    listing = tmp_path / "books.json"
    listing.write_text(
        json.dumps(
            [
                {"name": name, "state": None if state is None else str(state)}
                for name, state in books
            ]
        ),
        encoding="utf-8",
    )
    client = xlwings_client(tmp_path / "xlwings_js")
    return run_node(
        RUNNER, str(wheels), str(seen), str(client), str(STUB), str(listing), timeout=900
    )


def write_state(path: Path, state: dict[str, Any]) -> Path:
    target = path.with_suffix(".json")
    target.write_text(json.dumps(state, default=str), encoding="utf-8")
    return target


def assert_report_is_kpi_reports(report: list[list[Any]], path: Path) -> None:
    """The report sheet Lite wrote ((row, column, value) per cell) is `kpi
    report`'s on ``path``; Pyodide's floating point may differ in the last
    bits of a sum."""
    cells = {(row, column): value for row, column, value in report}
    assert_report_cells_are_kpi_reports(cells, path, rel=1e-12)


def test_lite_refreshes_100000_orders_in_chunks_under_the_cap(
    tmp_path: Path, large_shop: tuple[Path, str]
) -> None:
    path, state_json = large_shop
    large = tmp_path / "large.json"
    large.write_text(state_json, encoding="utf-8")
    small_path = kpi_new(tmp_path, "celebrity_video", "nl", "2026-11-15")
    small = stub_state(small_path)
    broken = json.loads(json.dumps(small))
    for sheet in broken["sheets"]:
        sheet["tables"] = [t for t in sheet["tables"] if t["name"] != "Survey"]
    out = run_lite_refresh(
        tmp_path,
        [
            ("large", large),
            ("small", write_state(tmp_path / "small", small)),
            ("again", None),
            ("broken", write_state(tmp_path / "broken", broken)),
        ],
    )
    books = out["books"]

    done = books["large"]
    assert "error" not in done, done.get("error")
    # xlwings' own custom_scripts_call found refresh_report in main.py and,
    # from its xw.BookAsync, handed it the book without values.
    assert done["lazy"] is True
    assert done["missing"] == []
    assert_report_is_kpi_reports(done["report"], path)
    syncs = done["syncs"]
    largest, reading = sync_summary(syncs)
    print(
        f"\nxlwings Lite (Pyodide {out['pyodide']}), 100,000 orders: {len(syncs)} syncs "
        f"({reading} reading cells), the largest {largest:,} bytes, {done['seconds']:.0f} s"
    )
    assert largest < MAX_SYNC_BYTES < OFFICE_JS_LIMIT
    assert reading >= 10  # the orders' columns, chunk by chunk
    assert done["sheets"][-1] == "Report"
    assert not [name for name in done["sheets"] if name.startswith("~")]

    # A Dutch workbook; refreshed again, its report takes the old one's place.
    assert_report_is_kpi_reports(books["small"]["report"], small_path)
    assert books["again"]["sheets"] == books["small"]["sheets"]
    assert_report_is_kpi_reports(books["again"]["report"], small_path)

    # A workbook without a table the KPIs read: the message names it, nothing is written.
    assert "needs the table(s) Survey" in books["broken"]["error"]
    assert books["broken"]["sheets"] == [sheet["name"] for sheet in broken["sheets"]]
