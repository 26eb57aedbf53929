"""`kpi new social_media --rows N` for every N from 127 up: its sample has
more channels than the KPIs sheet has sized columns, and the per-channel
table heads one column per channel (it used to stop with IndexError, and the
task pane's Start with HTTP 500)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

from addin.starter import StarterOptions, new_workbook
from addin.starter.sample import MOST_SAMPLE_ROWS, sample_tables


@pytest.mark.parametrize("rows", [126, 127, MOST_SAMPLE_ROWS["social_media"]])
def test_every_channel_of_a_large_sample_heads_a_column(tmp_path: Path, rows: int) -> None:
    as_of = dt.date(2024, 7, 15)
    path = new_workbook(
        StarterOptions("social_media", "en", rows=rows, as_of=as_of), tmp_path / "s.xlsx"
    )
    channels = list(
        dict.fromkeys(sample_tables("social_media", as_of=as_of, rows=rows)["Channels"]["channel"])
    )
    shown = {
        cell
        for row in load_workbook(path, read_only=True)["KPIs"].iter_rows(values_only=True)
        for cell in row
        if isinstance(cell, str)
    }
    assert set(channels) <= shown
