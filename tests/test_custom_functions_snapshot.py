"""The whole custom-functions metadata that Excel reads, frozen.

Any change to a function's name, description, arguments, options or help
address shows here as a diff to review. The server runs with a public URL,
as a team's does, so that each ``helpUrl`` is the same from run to run.
After an intended change, rewrite the snapshot:

    KPI_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_custom_functions_snapshot.py
"""

from __future__ import annotations

import json
import os

import pytest

from tests.addin_support import running_server
from tests.conftest import ROOT

pytestmark = pytest.mark.server

SNAPSHOT = ROOT / "tests" / "snapshots" / "custom_functions_meta.json"


def test_custom_functions_metadata_matches_the_snapshot() -> None:
    with running_server("--public-url", "https://kpi.example.com") as server:
        status, _, body = server.request("GET", "/xlwings/custom-functions-meta.json")
    assert status == 200
    served = json.dumps(json.loads(body), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("KPI_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(served, encoding="utf-8")
    assert served == SNAPSHOT.read_text(encoding="utf-8")
