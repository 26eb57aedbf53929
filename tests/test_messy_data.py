"""The data rules on hand-made messy workbooks, with values worked out by hand.

Each workbook mixes clean rows with the messy rows of a real export; the
comments give the arithmetic. LibreOffice recalculates them, and the
workbook, ``kpi report`` and the add-in must agree (tests/differential.py)
and equal the hand-worked values. A second set gives every business type
tables of exactly one row, which LibreOffice reads as plain values.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import kpi_engine
from addin.ooxml.cells import ExcelError
from addin.recipes import tables_for
from tests.addin_support import KPI
from tests.differential import disagreements, report_of, write_workbook
from tests.libreoffice import convert
from tests.selection import selected_params

pytestmark = pytest.mark.libreoffice

D, T = dt.date, dt.datetime
NA = ExcelError("#N/A")


def table(columns: str, *rows: tuple[Any, ...]) -> dict[str, list[Any]]:
    names = columns.split()
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


CELEBRITY_VIDEO = {
    # Cohort on 1 June: C1, C2, C3 (first stay) and C5 (two identical rows).
    # On 1 July: C1, C3 (back on 20 June) and C5. Churn = 1 (C2) / 4.
    # C4 joins and leaves in June: in neither. C6, C7, C8 and the row
    # without an id are left out (text date, left before joining, an error).
    "Customers": table(
        "customer_id joined_on left_on",
        ("C1", D(2023, 1, 10), None),
        ("C2", D(2023, 2, 1), D(2024, 6, 15)),
        (" c3 ", D(2023, 3, 1), D(2024, 6, 5)),
        ("C3", D(2024, 6, 20), None),
        ("C4", D(2024, 6, 3), D(2024, 6, 25)),
        ("C5", D(2022, 5, 5), None),
        ("C5", D(2022, 5, 5), None),
        ("C6", "2023-01-01", None),
        ("C7", D(2023, 4, 1), D(2023, 3, 1)),
        (None, D(2023, 1, 1), None),
        ("C8", D(2023, 5, 1), NA),
    ),
    # In the twelve months to June: C1 (as "C1" and "c1 "), 1001 (a number
    # and the same digits as text, three times), C2 once, X99 twice: 3 of 4
    # customers ordered again: 0.75. 1001 and X99 are not in Customers: their
    # orders still count, and a note lists them.
    # Ordered in June with a status: Completed, in_progress, COMPLETED,
    # refunded: 2 of 4 completed. Delivered in June with both times, in
    # order: 24 h and 12 h: 18 h. Revenue of June's deliveries: 100 + 50.5
    # + 20 (the amounts '30' and -5 are left out) over the celebrities taking
    # part, those with a delivery in June: S1 alone (also as "s1 "; S3 joined
    # but delivered nothing): 170.5.
    "Orders": table(
        "order_id customer_id celebrity_id ordered_at delivered_at status amount",
        ("O1", "C1", "S1", T(2024, 5, 3, 9), T(2024, 5, 4, 9), "completed", 80.0),
        ("O2", "c1 ", "S1", T(2024, 6, 2, 10), T(2024, 6, 3, 10), "Completed ", 100.0),
        ("O3", 1001, "S1", T(2024, 1, 10, 9), None, "cancelled", None),
        ("O4", "1001", "S3", T(2024, 2, 10, 9), None, "cancelled", None),
        ("O5", "C2", "S1", T(2024, 3, 1, 9), None, "cancelled", None),
        ("O6", "X99", "S1", T(2024, 4, 1, 9), None, "cancelled", None),
        ("O7", "X99", "S1", T(2024, 4, 2, 9), None, "cancelled", None),
        ("O8", NA, "S1", T(2024, 6, 10, 9), None, "in_progress", None),
        ("O9", "C5", "S1", "2024-06-12", T(2024, 6, 13, 9), "completed", -5.0),
        ("O10", "C1", "S1", T(2023, 6, 30, 9), T(2023, 7, 1, 9), "completed", 10.0),
        ("O11", "1001", "s1 ", T(2024, 6, 15, 8), T(2024, 6, 15, 20), "COMPLETED", 50.5),
        ("O12", "C1", "S1", T(2024, 6, 20, 10), T(2024, 6, 19, 10), "refunded", 20.0),
        ("O13", "C1", "S1", None, T(2024, 6, 25, 9), "completed", "30"),
        ("O14", "C1", "S1", T(2024, 6, 21, 9), None, "   ", None),
    ),
    # Present during June: S1 (also as "s1") and S3, who joins on 28 June;
    # S2 left on 31 May. New in June: S3, over the cohort S1: 1.0.
    "Celebrities": table(
        "celebrity_id joined_on left_on",
        ("S1", D(2023, 1, 1), None),
        ("s1", D(2023, 1, 1), None),
        ("S2", D(2023, 1, 1), D(2024, 5, 31)),
        ("S3", D(2024, 6, 28), None),
    ),
    # June's answers: 10, 9, 3, 8 count ('9', 11, 7.5, #N/A and a blank do
    # not): 2 promoters, 1 detractor: (2 - 1) x 100 / 4 = 25.
    "Survey": table(
        "answered_on respondent_id recommend_score",
        *[
            (D(2024, 6, day), "C1", score)
            for day, score in enumerate([10, 9, "9", 11, 7.5, 3, NA, None, 8], start=1)
        ],
    ),
}
CELEBRITY_VIDEO_VALUES = {
    "churn_rate": 0.25,
    "repeat_purchase_rate": 0.75,
    "completion_rate": 0.5,
    "avg_fulfillment_time": 18.0,
    "revenue_per_celebrity": 170.5,
    "celebrity_acquisition_rate": 1.0,
    "nps": 25.0,
}
CELEBRITY_VIDEO_NOTES = {
    ("Customers", "joined_on", "not_a_date"): (9,),
    ("Customers", "left_on", "not_a_date"): (12,),
    ("Customers", "customer_id", "blank"): (11,),
    ("Customers", "left_on", "left_before_joined"): (10,),
    ("Customers", "customer_id", "repeated_id"): (5, 8),
    ("Orders", "customer_id", "error"): (9,),
    ("Orders", "customer_id", "unknown_id"): (4, 5, 7, 8, 12),
    ("Orders", "ordered_at", "not_a_date"): (10,),
    ("Orders", "ordered_at", "blank"): (14,),
    ("Orders", "delivered_at", "delivered_before_ordered"): (13,),
    ("Orders", "status", "unknown_choice"): (13,),
    ("Orders", "amount", "not_an_amount"): (10, 14),
    ("Celebrities", "celebrity_id", "repeated_id"): (3,),
    ("Survey", "recommend_score", "not_a_score"): (4, 5, 6, 8),
}

SONGWRITING = {
    # On 1 June C1 and C2; C3 and C4 join and leave in June. The article's
    # (E - N) / S gives (2 - 2) / 2 = 0 and stopped the first release with
    # "new_customers is 2, more than customers_at_end"; the cohort keeps
    # both: retention 1.0.
    "Customers": table(
        "customer_id joined_on left_on acquired_via",
        ("C1", D(2023, 1, 1), None, "organic"),
        ("C2", D(2023, 1, 1), None, "Referral "),
        ("C3", D(2024, 6, 3), D(2024, 6, 20), "referral"),
        ("C4", D(2024, 6, 4), D(2024, 6, 21), "advertising"),
    ),
    # Completed within the agreed day (due_on), among June's 7 orders with a
    # status: O1 (delivered on its due day), O3 (no agreed day: its status
    # alone decides, though no delivery time is given), O4 (its due date is
    # text, unreadable: no agreed day) and O7 (late evening of its due day):
    # 4 / 7 (O8 below makes it 5 / 8). O2 is a day late, O5 is not completed, and O6 has an agreed day
    # but no delivery time to show it was met.
    "Orders": table(
        "order_id customer_id ordered_at delivered_at due_on status work_hours amount",
        ("O1", "C1", T(2024, 6, 1, 9), T(2024, 6, 2, 9), D(2024, 6, 2), "completed", 20.0, 300.0),
        ("O2", "C1", T(2024, 6, 5, 9), T(2024, 6, 6, 9), D(2024, 6, 5), "completed", "10", 300.0),
        ("O3", "C1", T(2024, 6, 7, 9), None, None, "completed", None, None),
        ("O4", "C2", T(2024, 6, 8, 9), T(2024, 6, 10, 18), "2024-06-09", "completed", None, None),
        ("O5", "C2", T(2024, 6, 9, 9), None, None, "in_progress", None, None),
        ("O6", "C2", T(2024, 6, 10, 9), None, D(2024, 6, 30), "completed", None, None),
        (
            "O7",
            "C1",
            T(2024, 6, 11, 9),
            T(2024, 6, 20, 23),
            D(2024, 6, 20),
            "completed",
            None,
            None,
        ),
        # A due date with a time still means its whole day and the next
        # morning is before due_on + 1: on time (5 / 8 with this row).
        (
            "O8",
            "C1",
            T(2024, 6, 12, 9),
            T(2024, 6, 21, 8),
            T(2024, 6, 20, 12),
            "completed",
            None,
            None,
        ),
    ),
    "Survey": table(
        "answered_on respondent_id satisfaction",
        (D(2024, 6, 1), "C1", 5),
        (D(2024, 6, 2), "C2", "good"),
    ),
    "Social": table("month channel engagements", (D(2024, 5, 1), "TikTok", 100)),
}
SONGWRITING_VALUES = {
    "retention_rate": 1.0,
    "referral_acquisition_rate": 0.5,  # C3 of the newcomers C3 and C4
    "avg_turnaround_time": 20.0,  # O2's hours are text: left out
    "completion_rate": 5 / 8,
    "csat": 1.0,
}

HAND_WORKED = [
    ("celebrity_video", CELEBRITY_VIDEO, CELEBRITY_VIDEO_VALUES),
    ("songwriting", SONGWRITING, SONGWRITING_VALUES),
]

#: The choices "How your data is read" states, each on rows where another
#: choice would give another value (name: business type, tables, values).
CHOICES = {
    # Repeat purchase looks back twelve months: C1 ordered in August 2023
    # and in June: again; C2's first order (15 June 2023) is before the
    # twelve months, so C2 ordered once in them; C3 once: 1 / 3 (the month
    # alone would give 0 / 2). Fulfilment time counts in the month of
    # delivery: O4 (ordered in May, 48 h) and O2 (12 h) in June: 30 h; O5,
    # ordered in June but delivered in July, is July's (by the month of the
    # order it would be 24 h).
    "celebrity_video_choices": (
        "celebrity_video",
        {
            "Customers": table(
                "customer_id joined_on left_on",
                ("C1", D(2023, 1, 1), None),
                ("C2", D(2023, 1, 1), None),
                ("C3", D(2023, 1, 1), None),
            ),
            "Orders": table(
                "order_id customer_id celebrity_id ordered_at delivered_at status amount",
                ("O1", "C1", "S1", T(2023, 8, 10, 9), T(2023, 8, 11, 9), "completed", 10.0),
                ("O2", "C1", "S1", T(2024, 6, 10, 9), T(2024, 6, 10, 21), "completed", 10.0),
                ("O3", "C2", "S1", T(2023, 6, 15, 9), T(2023, 6, 16, 9), "completed", 10.0),
                ("O4", "C2", "S1", T(2024, 5, 30, 12), T(2024, 6, 1, 12), "completed", 10.0),
                ("O5", "C3", "S1", T(2024, 6, 29, 12), T(2024, 7, 1, 0), "completed", 10.0),
            ),
            "Celebrities": table("celebrity_id joined_on left_on", ("S1", D(2023, 1, 1), None)),
        },
        {"repeat_purchase_rate": 1 / 3, "avg_fulfillment_time": 30.0},
    ),
    # A part above its whole leaves the row out only from the KPIs that read
    # both: TikTok's 150 clicks of 100 impressions leave the click-through
    # rate at Instagram's 50 / 1,000, while its reach and impressions count.
    "social_media_choices": (
        "social_media",
        {
            "Channels": table(
                "month channel reach impressions clicks",
                (D(2024, 6, 1), "Instagram", 800, 1000, 50),
                (D(2024, 6, 1), "TikTok", 300, 100, 150),
            ),
        },
        {"click_through_rate": 0.05, "reach": 1100.0, "impressions": 1100.0},
    ),
}


#: Ids that sort in unusual places: letters after punctuation, a sharp s, an
#: accent, another letter case. The workbook finds each order's customer by a
#: binary search over the sorted customer ids, so every customer has orders,
#: whichever of them sorts last, and ids sort before, between and past them.
UNKNOWN_IDS = {
    "Customers": table(
        "customer_id joined_on left_on",
        *[
            (customer, D(2023, 1, 1), None)
            for customer in ["a-1", "Z+a", "zssè", "Z[", " zz", "Zß", 1001, "é1"]
        ],
    ),
    "Orders": table(
        "order_id customer_id celebrity_id ordered_at delivered_at status amount",
        *[
            (f"O{n}", customer, "S1", T(2024, 6, 1, 9), None, "cancelled", None)
            for n, customer in enumerate(
                [
                    "A-1",
                    "z+A ",
                    "ZSSÈ",
                    "z[",
                    "ZZ",
                    "zß",
                    "1001",
                    "É1",
                    "zzz",  # after every customer: unknown
                    "0",  # before every customer: unknown
                    "Z+",  # between two customers: unknown
                    "zs",  # between two customers: unknown
                    "a-1",
                    "zz",
                    1001,
                ],
                start=1,
            )
        ],
    ),
    "Celebrities": table("celebrity_id joined_on left_on", ("S1", D(2023, 1, 1), None)),
}
#: The sheet rows of the unknown ids above (row 2 is the first order).
UNKNOWN_IDS_ROWS = (10, 11, 12, 13)


#: Orders on the edges of the Trend's months and of repeat purchases' twelve-
#: month windows (the period is June 2024: months July 2023 to June 2024,
#: windows from [2022-08-01, 2023-08-01) to [2023-07-01, 2024-07-01)): the
#: first and the last moment of a window or month, one moment past its end,
#: two orders at the same moment, an id written in other letter case and
#: spacing, three orders of one customer, a blank id, a text date. Every
#: customer is listed once (the Trend counts people without sorting ids).
WINDOW_EDGES = {
    "Customers": table(
        "customer_id joined_on left_on",
        ("R1", D(2022, 1, 1), None),
        ("R2", D(2022, 1, 1), D(2024, 6, 1)),
        ("R3", D(2022, 1, 1), D(2023, 7, 31)),
        ("R4", D(2023, 7, 1), None),
        ("U1", D(2024, 6, 30), None),
    ),
    "Orders": table(
        "order_id customer_id celebrity_id ordered_at delivered_at status amount",
        ("O1", "R1", "S1", T(2023, 7, 1), T(2023, 7, 1), "completed", 10.0),
        ("O2", "R1", "s1 ", T(2024, 6, 30, 23, 59), T(2024, 6, 30, 23, 59), "completed", 20.0),
        ("O3", "R2", "S2", T(2024, 1, 15, 9), T(2024, 6, 1), "completed", 30.0),
        ("O4", " r2", "S2", T(2024, 1, 15, 9), T(2024, 6, 1), "completed", 40.0),
        ("O5", "R3", "S1", T(2022, 7, 31, 23), T(2022, 8, 1), "completed", 50.0),
        ("O6", "R3", "S1", T(2022, 8, 1), T(2023, 6, 30, 23), "completed", 60.0),
        ("O7", "R3", "S2", T(2023, 7, 31, 23, 59), T(2023, 8, 1), "completed", 70.0),
        ("O8", "R4", "S3", T(2024, 7, 1), T(2024, 7, 1), "completed", 80.0),
        ("O9", "R4", "S3", T(2024, 5, 31, 23), T(2024, 5, 31, 23), "cancelled", None),
        ("O10", "U1", " S3", T(2024, 6, 1), T(2024, 6, 2), "completed", 90.0),
        ("O11", None, "S1", T(2024, 6, 1), T(2024, 6, 3), "completed", 5.0),
        ("O12", "R1", "S1", "2024-06-05", T(2024, 6, 6), "completed", 15.0),
    ),
    "Celebrities": table(
        "celebrity_id joined_on left_on",
        ("S1", D(2022, 1, 1), None),
        ("S2", D(2022, 1, 1), None),
        ("S3", D(2023, 7, 1), D(2024, 6, 1)),
    ),
}


#: No id anywhere: the people tables' ids blank or spaces, orders without a
#: customer or celebrity. Every KPI of people is undefined, not an error.
NO_IDS = {
    "Customers": table(
        "customer_id joined_on left_on",
        (None, D(2023, 1, 1), None),
        ("  ", D(2023, 2, 1), None),
    ),
    "Orders": table(
        "order_id customer_id celebrity_id ordered_at delivered_at status amount",
        ("O1", None, " ", T(2024, 6, 1, 9), T(2024, 6, 2), "completed", 10.0),
        ("O2", "  ", None, T(2024, 6, 3, 9), T(2024, 6, 4), "completed", 20.0),
    ),
    "Celebrities": table("celebrity_id joined_on left_on", (" ", D(2023, 1, 1), None)),
}


def one_row_tables(business_type: str) -> dict[str, dict[str, list[Any]]]:
    """Every table of the type with exactly one clean row, dated in June 2024."""
    rows: dict[str, dict[str, list[Any]]] = {}
    for name, columns in tables_for(business_type).items():
        row: dict[str, Any] = {}
        for column in columns:
            row[column.id] = {
                "id": "A1",
                "text": "Instagram",
                "choice": column.choices[0] if column.choices else None,
                "date": D(2024, 6, 10) if column.id != "left_on" else None,
                "datetime": T(2024, 6, 10, 9),
                "month": D(2024, 6, 1),
                "whole": 10,
                "number": 2.5,
                "money": 99.0,
                "score": 9,
                "rating": 4,
            }[column.kind]
        rows[name] = {c: [v] for c, v in row.items()}
    return rows


def messy_cases() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every workbook of this module by name: (business type, tables)."""
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        business_type: (business_type, tables) for business_type, tables, _ in HAND_WORKED
    }
    for business_type in kpi_engine.BUSINESS_TYPES:
        cases[f"{business_type}_one_row"] = (business_type, one_row_tables(business_type))
    for name, (business_type, tables, _) in CHOICES.items():
        cases[name] = (business_type, tables)
    cases["unknown_ids"] = ("celebrity_video", UNKNOWN_IDS)
    cases["window_edges"] = ("celebrity_video", WINDOW_EDGES)
    cases["no_ids"] = ("celebrity_video", NO_IDS)
    return cases


@pytest.fixture(scope="module")
def workbooks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str, Path, Path]]:
    """The workbooks of the cases this run selected (each test's ``workbook``),
    written and recalculated in one LibreOffice batch: ``-k`` picks a few,
    and LibreOffice then opens only those."""
    folder = tmp_path_factory.mktemp("messy")
    cases = messy_cases()
    selected = [name for (name,) in selected_params(request, "workbook")]
    paths = {
        name: write_workbook(cases[name][0], "en", cases[name][1], folder / f"{name}.xlsx")
        for name in selected
    }
    recalculated = convert(list(paths.values()), folder / "recalculated")
    return {
        name: (cases[name][0], paths[name], done)
        for name, done in zip(paths, recalculated, strict=True)
    }


@pytest.fixture(scope="module")
def celebrity_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-worked celebrity_video workbook as written: the commands and
    the data notes read it without LibreOffice."""
    folder = tmp_path_factory.mktemp("messy_notes")
    return write_workbook("celebrity_video", "en", CELEBRITY_VIDEO, folder / "celebrity_video.xlsx")


@pytest.mark.parametrize(
    ("workbook", "values"),
    [(business_type, values) for business_type, _, values in HAND_WORKED],
    ids=[business_type for business_type, _, _ in HAND_WORKED],
)
def test_hand_worked_values(
    workbooks: dict[str, tuple[str, Path, Path]], workbook: str, values: dict[str, float]
) -> None:
    business_type, original, recalculated = workbooks[workbook]
    assert disagreements(original, recalculated, business_type, "en") == []
    report = {kpi.id: kpi.value for kpi in report_of(original).kpis}
    for kpi_id, value in values.items():
        assert report[kpi_id] == pytest.approx(value), kpi_id


@pytest.mark.parametrize("workbook", list(CHOICES))
def test_the_stated_choices_hold_in_every_path(
    workbooks: dict[str, tuple[str, Path, Path]], workbook: str
) -> None:
    """The workbook in LibreOffice, the report, the add-in and the ibis form
    agree, on the value each stated choice gives."""
    business_type, original, recalculated = workbooks[workbook]
    assert disagreements(original, recalculated, business_type, "en") == []
    report = {kpi.id: kpi.value for kpi in report_of(original).kpis}
    for kpi_id, value in CHOICES[workbook][2].items():
        assert report[kpi_id] == pytest.approx(value), kpi_id


def test_hand_worked_data_notes(celebrity_video: Path) -> None:
    found = {
        (n.check.table, n.check.column, n.check.problem): n.first_rows
        for n in report_of(celebrity_video).notes
    }
    assert found == CELEBRITY_VIDEO_NOTES


def test_kpi_report_on_messy_data_answers_without_a_traceback(celebrity_video: Path) -> None:
    assert KPI
    text = subprocess.run(
        [KPI, "report", str(celebrity_video)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert text.returncode == 0, text.stderr
    assert "Traceback" not in text.stderr
    assert (
        "Orders, status: not one of completed, in_progress, cancelled in 1 row (13)" in text.stdout
    )
    as_json = subprocess.run(
        [KPI, "report", str(celebrity_video), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    notes = json.loads(as_json.stdout)["data_notes"]
    assert {"table": "Survey", "column": "recommend_score", "rows": 4} in [
        {k: note[k] for k in ("table", "column", "rows")} for note in notes
    ]


def test_kpi_refresh_writes_the_data_notes_into_the_report_sheet(
    celebrity_video: Path, tmp_path: Path
) -> None:
    assert KPI
    out = tmp_path / "refreshed.xlsx"
    done = subprocess.run(
        [KPI, "refresh", str(celebrity_video), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = load_workbook(out, read_only=True)["Report"]
    texts = [cell for row in report.iter_rows(values_only=True) for cell in row if cell]
    assert "Data notes" in texts
    assert (
        "Survey, recommend_score: not a whole number from 0 to 10 in 4 rows (4, 5, 6, 8); left out"
        in texts
    )


@pytest.mark.parametrize(
    "workbook", [f"{business_type}_one_row" for business_type in kpi_engine.BUSINESS_TYPES]
)
def test_tables_of_one_row(workbooks: dict[str, tuple[str, Path, Path]], workbook: str) -> None:
    business_type, original, recalculated = workbooks[workbook]
    assert disagreements(original, recalculated, business_type, "en") == []


@pytest.mark.parametrize("workbook", ["unknown_ids"])
def test_unknown_ids_wherever_they_sort(
    workbooks: dict[str, tuple[str, Path, Path]], workbook: str
) -> None:
    business_type, original, recalculated = workbooks[workbook]
    assert disagreements(original, recalculated, business_type, "en") == []
    unknown = [
        n.first_rows
        for n in report_of(original).notes
        if (n.check.table, n.check.column, n.check.problem)
        == ("Orders", "customer_id", "unknown_id")
    ]
    assert unknown == [UNKNOWN_IDS_ROWS]


@pytest.mark.parametrize("workbook", ["window_edges"])
def test_orders_on_the_edges_of_months_and_windows(
    workbooks: dict[str, tuple[str, Path, Path]], workbook: str
) -> None:
    business_type, original, recalculated = workbooks[workbook]
    assert disagreements(original, recalculated, business_type, "en") == []
    report = report_of(original)
    value = {kpi.id: kpi.value for kpi in report.kpis}
    # June's window holds R1 (2 orders), R2 (2, one id), R3 (1: O7), R4 (1:
    # O9; O8 is past the end) and U1 (1): 2 of 5 customers buy again.
    assert value["repeat_purchase_rate"] == pytest.approx(2 / 5)


@pytest.mark.parametrize("workbook", ["no_ids"])
def test_no_ids_at_all(workbooks: dict[str, tuple[str, Path, Path]], workbook: str) -> None:
    business_type, original, recalculated = workbooks[workbook]
    assert disagreements(original, recalculated, business_type, "en") == []
    value = {kpi.id: kpi.value for kpi in report_of(original).kpis}
    assert value["churn_rate"] is None
    assert value["repeat_purchase_rate"] is None
