"""Structure-aware fuzzing of workbook packages: ``kpi report`` and ``kpi
refresh`` on mutated real packages exit 0 or 2, never with a traceback, leave
the original as it was and never write a member outside the package.

The seeds are real packages: starter workbooks of three business types, and
two XlsxWriter workbooks holding a chart, a PNG image, a comment, a data
validation and (the .xlsm) a VBA project part, one of them with the
celebrity_video tables, a PERIOD name and the subject property so that the
report reads it through. Hypothesis draws a plan of one to three mutations
per example: at the zip level (drop, duplicate, rename or reorder members,
flip bytes of compressed data, lie about a size or a CRC, truncate the file)
and at the XML level (delete, duplicate or move an element, set an attribute
to an edge value, change the text of a ``<v>`` or ``<t>``, add a DOCTYPE).

As in tests/test_differential.py, Hypothesis only draws the plans; the
examples then run two at a time as limited subprocesses (tests/hostile.py),
and every failing one is reported and kept in ``fuzz-failures/package-fuzz/``
(the file, and a note of its plan and the commands' output).

``make test``: 40 examples, derandomised when ``CI`` is set. ``make fuzz``:
``KPI_PACKAGE_FUZZ_EXAMPLES`` examples from the seed ``KPI_FUZZ_SEED``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import os
import random
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from lxml import etree

from addin.starter import StarterOptions, new_workbook
from tests.hostile import (
    EXTERNAL,
    KPI,
    LAUGHS,
    Member,
    deflated,
    inside_package,
    read_members,
    run_limited,
    with_doctype,
    write_zip,
)
from tests.report_support import add_tables
from tests.starter_reader import read_workbook

EXAMPLES = int(os.environ.get("KPI_PACKAGE_FUZZ_EXAMPLES", "40"))
#: ``make fuzz`` passes a seed; CI runs the same derandomised set every time.
SEED = os.environ.get("KPI_FUZZ_SEED")
DERANDOMIZE = SEED is None and bool(os.environ.get("CI"))
KEEP = Path(os.environ.get("KPI_FUZZ_KEEP", "fuzz-failures")) / "package-fuzz"

AS_OF = dt.date(2024, 7, 15)
#: Fewer rows than a default starter: the same structure, a quicker run per example.
ROWS = 300
STARTER_TYPES = ("celebrity_video", "songwriting", "networking")

#: Attribute and text values at the edges of what a reader expects.
EDGE_VALUES = (
    "",
    "-1",
    "0",
    "999999999",
    "1e308",
    "NaN",
    "A1:XFD1048576",
    "XFE1048577",
    "A0",
    "../x",
    "/x.xml",
    "..\\..\\x.xml",
    "#N/A",
    "x" * 100_000,
    "Ωμέγα ünïcødé 漢字 🙂",
    "2958466",
    "-2958466",
)
#: Attributes the reader and the writer look at, to set where an element has none.
ATTRIBUTES = ("ref", "r", "t", "s", "name", "sheetId", "Target", "Id", "headerRowCount")
ATTRIBUTES += ("totalsRowCount", "count", "displayName", "TargetMode", "Type", "localSheetId")
#: Names a member may be renamed to: out of the package, or almost the original.
RENAMES = ("../evil.xml", "/abs.xml", "xl\\evil.xml", "C:/evil.xml", "xl//evil.xml", "")


# --- seeds -------------------------------------------------------------------------------


def png(width: int = 4, height: int = 3) -> bytes:
    """A small RGB PNG, written by hand: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 60, y * 80, 200)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def vba_stand_in() -> bytes:
    """Not a real VBA project: an OLE compound-file signature and bytes.

    A genuine vbaProject.bin comes out of Excel (XlsxWriter's vba_extract.py
    takes it from an .xlsm that Excel saved); none can be made here. The
    refresh copies the part as opaque bytes either way, which is what is tested."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + hashlib.sha256(b"vba").digest() * 64


def xlsxwriter_workbook(
    path: Path, folder: Path, rows: dict[str, Any] | None, vba: bool = False
) -> Path:
    """A workbook with a chart, an image, a comment and a validation; with
    ``rows``, the celebrity_video tables, a PERIOD name and the subject, so
    that the report reads it like a starter."""
    book = xlsxwriter.Workbook(str(path), {"default_date_format": "yyyy-mm-dd hh:mm"})
    if vba:
        book.add_vba_project(str(_written(folder / "vbaProject.bin", vba_stand_in())))
    dashboard = book.add_worksheet("Dashboard")
    if rows is not None:
        book.set_properties({"subject": "celebrity_video", "title": "Fuzz seed"})
        settings_sheet = book.add_worksheet("Settings")
        settings_sheet.write("A1", "Reporting period")
        settings_sheet.write_datetime(
            "B1", dt.datetime(2024, 6, 1), book.add_format({"num_format": "yyyy-mm"})
        )
        book.define_name("PERIOD", "=Settings!$B$1")
        add_tables(book, "celebrity_video", rows)
    for row, value in enumerate([3, 7, 12, 5, 9], start=1):
        dashboard.write_number(row, 1, value)
    chart = book.add_chart({"type": "column"})
    chart.add_series({"name": "Values", "values": "=Dashboard!$B$2:$B$6"})
    dashboard.insert_chart("D2", chart)
    dashboard.insert_image("D20", str(_written(folder / "picture.png", png())))
    dashboard.write("A1", "Channel")
    dashboard.write_comment("A1", "Pick a channel from the list")
    dashboard.data_validation("A2", {"validate": "list", "source": ["web", "app", "store"]})
    book.close()
    return path


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """Each seed package's members, by seed name (its suffix is the file's)."""
    folder = tmp_path_factory.mktemp("fuzz-seeds")
    paths = {}
    for business_type in STARTER_TYPES:
        path = folder / f"starter_{business_type}.xlsx"
        new_workbook(StarterOptions(business_type, as_of=AS_OF, rows=ROWS), path)
        paths[path.name] = path
    _, _, rows = read_workbook(paths["starter_celebrity_video.xlsx"])
    for name, tables, vba in (
        ("xlsxwriter_tables.xlsx", rows, False),
        ("xlsxwriter_tables_vba.xlsm", rows, True),
        ("xlsxwriter_features.xlsx", None, False),
    ):
        paths[name] = xlsxwriter_workbook(folder / name, folder, tables, vba)
    return {name: read_members(path) for name, path in paths.items()}


# --- mutation plans: plain data, drawn by Hypothesis, applied here --------------------------


@dataclass(frozen=True)
class Mutation:
    kind: str
    part: str = ""
    args: tuple[Any, ...] = ()

    def __str__(self) -> str:
        shown = [
            repr(a) if len(repr(a)) < 60 else f"{repr(a)[:40]}...({len(a)})" for a in self.args
        ]
        return f"{self.kind}({self.part!r}{''.join(', ' + s for s in shown)})"


@dataclass(frozen=True)
class Plan:
    seed: str
    mutations: tuple[Mutation, ...]

    @property
    def suffix(self) -> str:
        return Path(self.seed).suffix

    def __str__(self) -> str:
        return f"{self.seed}: " + "; ".join(str(m) for m in self.mutations)


XML_KINDS = ("delete", "duplicate_element", "move", "set_attribute", "set_text", "doctype")
ZIP_KINDS = ("drop", "duplicate_member", "rename", "reorder", "flip", "declare_size")
ZIP_KINDS += ("declare_compressed", "bad_crc", "truncate")


def mutations(members: dict[str, bytes]) -> st.SearchStrategy[Mutation]:
    names = list(members)
    xml_parts = [n for n in names if n.endswith((".xml", ".rels"))]
    index = st.integers(0, 10**6)
    edge = st.one_of(st.sampled_from(EDGE_VALUES), st.text(max_size=12).filter(_xml_safe))
    xml = st.one_of(
        st.builds(Mutation, st.just("delete"), st.sampled_from(xml_parts), st.tuples(index)),
        st.builds(
            Mutation, st.just("duplicate_element"), st.sampled_from(xml_parts), st.tuples(index)
        ),
        st.builds(Mutation, st.just("move"), st.sampled_from(xml_parts), st.tuples(index, index)),
        st.builds(
            Mutation,
            st.just("set_attribute"),
            st.sampled_from(xml_parts),
            st.tuples(index, st.one_of(st.none(), st.sampled_from(ATTRIBUTES)), edge),
        ),
        st.builds(
            Mutation, st.just("set_text"), st.sampled_from(xml_parts), st.tuples(index, edge)
        ),
        st.builds(
            Mutation,
            st.just("doctype"),
            st.sampled_from(xml_parts),
            st.tuples(st.sampled_from(("laughs", "external", "empty"))),
        ),
    )
    member = st.sampled_from(names)
    fraction = st.floats(0, 1)
    zip_level = st.one_of(
        st.builds(Mutation, st.just("drop"), member),
        st.builds(Mutation, st.just("duplicate_member"), member),
        st.builds(
            Mutation,
            st.just("rename"),
            member,
            st.tuples(st.one_of(st.sampled_from(RENAMES), st.sampled_from(names))),
        ),
        st.builds(Mutation, st.just("reorder"), st.just(""), st.tuples(index)),
        st.builds(Mutation, st.just("flip"), member, st.tuples(fraction, st.integers(1, 16))),
        st.builds(
            Mutation,
            st.just("declare_size"),
            member,
            st.tuples(st.sampled_from((0, 1, -1, +1, 2**31, 0xFFFFFFFF))),
        ),
        st.builds(
            Mutation,
            st.just("declare_compressed"),
            member,
            st.tuples(st.sampled_from((-1000, -1, +1, +1000))),
        ),
        st.builds(Mutation, st.just("bad_crc"), member),
        st.builds(Mutation, st.just("truncate"), st.just(""), st.tuples(fraction)),
    )
    return st.one_of(xml, zip_level)


def _xml_safe(text: str) -> bool:
    """Text that lxml accepts in an attribute or element (XML 1.0 characters)."""
    try:
        etree.Element("x", a=text).text = text
    except ValueError:
        return False
    return True


def draw_plans(seeds: dict[str, dict[str, bytes]], count: int) -> list[Plan]:
    """``count`` mutation plans, drawn by Hypothesis."""
    drawn: list[Plan] = []

    @settings(
        max_examples=count,
        derandomize=DERANDOMIZE,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        seed_name = data.draw(st.sampled_from(sorted(seeds)))
        plan = data.draw(st.lists(mutations(seeds[seed_name]), min_size=1, max_size=3))
        drawn.append(Plan(seed_name, tuple(plan)))

    if SEED is not None:
        collect = seed(int(SEED))(collect)
    collect()
    return drawn[:count]


def _xml_mutation(data: bytes, mutation: Mutation) -> bytes:
    if mutation.kind == "doctype":
        entities, reference = {
            "laughs": (LAUGHS, "&lol9;"),
            "external": (EXTERNAL, "&xxe;"),
            "empty": ("", ""),
        }[mutation.args[0]]
        return with_doctype(data, entities, reference)
    parser = etree.XMLParser(resolve_entities=False, huge_tree=True, remove_blank_text=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return data  # an earlier mutation (a DOCTYPE, say) made it unparsable here
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    chosen = elements[mutation.args[0] % len(elements)]
    if mutation.kind in ("delete", "duplicate_element", "move") and chosen is root:
        if len(elements) == 1:
            return data
        chosen = elements[1 + mutation.args[0] % (len(elements) - 1)]
    parent = chosen.getparent()
    if mutation.kind == "delete":
        parent.remove(chosen)
    elif mutation.kind == "duplicate_element":
        chosen.addnext(copy.deepcopy(chosen))
    elif mutation.kind == "move":
        parent.remove(chosen)
        parent.insert(mutation.args[1] % (len(parent) + 1), chosen)
    elif mutation.kind == "set_attribute":
        _, attribute, value = mutation.args
        if attribute is None:  # one of its own attributes, when it has some
            own = list(chosen.attrib)
            attribute = own[mutation.args[0] % len(own)] if own else "ref"
        chosen.set(attribute, value)
    elif mutation.kind == "set_text":
        texts = [e for e in elements if etree.QName(e).localname in ("v", "t")] or elements
        texts[mutation.args[0] % len(texts)].text = mutation.args[1]
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def apply(plan: Plan, seeds: dict[str, dict[str, bytes]], path: Path) -> Path:  # noqa: PLR0912
    """Write the seed with the plan's mutations applied, to ``path``."""
    members = dict(seeds[plan.seed])
    for mutation in plan.mutations:
        if mutation.kind in XML_KINDS and mutation.part in members:
            members[mutation.part] = _xml_mutation(members[mutation.part], mutation)
    entries = [deflated(name, data) for name, data in members.items()]
    truncate: float | None = None
    for mutation in plan.mutations:
        found = [i for i, e in enumerate(entries) if e.name == mutation.part]
        at = found[0] if found else None
        if mutation.kind == "reorder":
            random.Random(mutation.args[0]).shuffle(entries)
        elif mutation.kind == "truncate":
            truncate = mutation.args[0]
        elif at is None:
            continue
        elif mutation.kind == "drop":
            del entries[at]
        elif mutation.kind == "duplicate_member":
            entries.insert(at + 1, entries[at])
        elif mutation.kind == "rename":
            entries[at] = replace(entries[at], name=mutation.args[0])
        elif mutation.kind == "flip":
            entries[at] = _flipped(entries[at], *mutation.args)
        elif mutation.kind == "declare_size":
            change = mutation.args[0]
            size = entries[at].size + change if change in (-1, 1) else change
            entries[at] = replace(entries[at], declared_size=max(0, size) & 0xFFFFFFFF)
        elif mutation.kind == "declare_compressed":
            declared = max(0, entries[at].compressed + mutation.args[0])
            entries[at] = replace(entries[at], declared_compressed=declared)
        elif mutation.kind == "bad_crc":
            entries[at] = replace(entries[at], declared_crc=entries[at].crc ^ 0x5A5A5A5A)
    write_zip(path, entries)
    if truncate is not None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * truncate)])
    return path


def _flipped(member: Member, fraction: float, count: int) -> Member:
    packed = bytearray(b"".join(member.raw()))
    if not packed:
        return member
    start = min(int(len(packed) * fraction), len(packed) - 1)
    for i in range(start, min(start + count, len(packed))):
        packed[i] ^= 0xFF
    data = bytes(packed)
    return replace(member, raw=lambda: [data])


# --- the run --------------------------------------------------------------------------------


def problems_of(plan: Plan, seeds: dict[str, dict[str, bytes]], folder: Path) -> list[str]:
    """What went wrong on one mutated package (empty: it behaved)."""
    assert KPI
    folder.mkdir(parents=True)
    path = apply(plan, seeds, folder / f"mutated{plan.suffix}")
    before = path.read_bytes()
    out = folder / f"OUT{plan.suffix}"
    found = []
    for args in (["report", path.name, "--json"], ["refresh", path.name, "-o", out.name]):
        run = run_limited([KPI, *args], folder)
        if "Traceback" in run.stderr or run.exit not in (0, 2):
            found.append(f"kpi {args[0]}: exit {run.exit}, {run.peak_rss_mb:.0f} MB: {run.message}")
    if path.read_bytes() != before:
        found.append("the original changed")
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".~kpi" in p.name]
    if leftovers:
        found.append(f"leftover files: {leftovers}")
    if out.exists():
        try:
            with zipfile.ZipFile(out) as archive:
                outside = [n for n in archive.namelist() if not inside_package(n)]
        except zipfile.BadZipFile as error:
            outside = []
            found.append(f"the output is not a zip: {error}")
        if outside:
            found.append(f"output members outside the package: {outside}")
    return found


def keep(plan: Plan, seeds: dict[str, dict[str, bytes]], problems: list[str], number: int) -> Path:
    """The failing package and a note of what was done and what happened, for a person."""
    KEEP.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(plan).encode()).hexdigest()[:10]
    kept = apply(plan, seeds, KEEP / f"{number:03d}-{digest}{plan.suffix}")
    kept.with_suffix(".txt").write_text(f"{plan}\n\n" + "\n".join(problems) + "\n")
    return kept


def test_mutated_packages_are_refused_or_read(
    seeds: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    plans = draw_plans(seeds, EXAMPLES)
    assert len(plans) == EXAMPLES

    def check(numbered: tuple[int, Plan]) -> tuple[int, Plan, list[str]]:
        number, plan = numbered
        return number, plan, problems_of(plan, seeds, tmp_path / f"{number:03d}")

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(check, enumerate(plans)))
    failures = []
    for number, plan, problems in results:
        if problems:
            kept = keep(plan, seeds, problems, number)
            failures.append(f"{kept.name}: {plan}\n    " + "\n    ".join(problems))
    where = f"seed {SEED}" if SEED is not None else "derandomised" if DERANDOMIZE else "random"
    assert not failures, (
        f"{len(failures)} of {len(plans)} mutated packages ({where}) misbehaved "
        f"(kept in {KEEP}):\n" + "\n".join(failures)
    )


# --- the mutations themselves do what they say ---------------------------------------------


def test_seeds_are_read_by_the_report(seeds: dict[str, dict[str, bytes]], tmp_path: Path) -> None:
    """Unmutated, every seed with tables reports (exit 0) and the others are refused
    (exit 2): the fuzzer starts from packages the reader knows."""
    assert KPI
    for name, members in seeds.items():
        path = write_zip(tmp_path / name, [deflated(n, d) for n, d in members.items()])
        run = run_limited([KPI, "report", path.name, "--json"], tmp_path)
        expected = 2 if name == "xlsxwriter_features.xlsx" else 0
        assert run.exit == expected, f"{name}: {run.stderr}"
        assert "Traceback" not in run.stderr


def test_each_seed_holds_what_it_claims(seeds: dict[str, dict[str, bytes]]) -> None:
    vba = seeds["xlsxwriter_tables_vba.xlsm"]
    assert "xl/vbaProject.bin" in vba
    for name in ("xlsxwriter_tables.xlsx", "xlsxwriter_features.xlsx"):
        members = seeds[name]
        assert any(n.startswith("xl/charts/chart") for n in members), name
        assert any(n.startswith("xl/media/image") and n.endswith(".png") for n in members)
        assert any(n.startswith("xl/comments") for n in members), name
    assert b"dataValidation" in seeds["xlsxwriter_features.xlsx"]["xl/worksheets/sheet1.xml"]


def test_a_plan_is_applied_the_same_way_twice(
    seeds: dict[str, dict[str, bytes]], tmp_path: Path
) -> None:
    # A kept failure must be the file that failed: applying is deterministic.
    plans = draw_plans(seeds, 5)
    for number, plan in enumerate(plans):
        first = apply(plan, seeds, tmp_path / f"a{number}{plan.suffix}").read_bytes()
        second = apply(plan, seeds, tmp_path / f"b{number}{plan.suffix}").read_bytes()
        assert first == second, str(plan)


def test_xml_mutations_change_the_part(seeds: dict[str, dict[str, bytes]]) -> None:
    sheet = seeds["starter_celebrity_video.xlsx"]["xl/workbook.xml"]
    for kind, args in (
        ("delete", (3,)),
        ("duplicate_element", (3,)),
        ("set_attribute", (3, "name", "../x")),
        ("set_text", (0, "x")),
        ("doctype", ("laughs",)),
    ):
        changed = _xml_mutation(sheet, Mutation(kind, "xl/workbook.xml", args))
        assert changed != sheet, kind
        if kind != "doctype":
            etree.fromstring(changed)  # still well-formed XML
