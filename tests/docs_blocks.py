"""The fenced code blocks of README.md and the docs site's pages.

Every block names its language. A shell block (``sh``) is run by
``tests/test_docs.py`` unless the line before it is a comment saying why it
cannot run here::

    <!-- not-run: needs a Windows desktop with Excel -->
    ```sh
    kpi com-setup
    ```

Python examples are doctests (``>>>``), which pytest runs through
``--doctest-glob=*.md`` (pyproject.toml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SHELL = "sh"

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
_NOT_RUN = re.compile(r"^\s*<!-- not-run: (?P<reason>.+?) -->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    not_run: str | None  # the reason, when the block is marked not-run

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md and every page of the docs site."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent = opening.group("indent")
        body = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j].removeprefix(indent))
            j += 1
        previous = lines[i - 1] if i else ""
        marker = _NOT_RUN.match(previous)
        found.append(
            Block(
                page=page,
                line=i + 1,
                lang=opening.group("lang"),
                text="\n".join(body) + "\n",
                not_run=marker.group("reason") if marker else None,
            )
        )
        i = j + 1
    return found


def commands(block: Block) -> list[str]:
    """The block's command lines, with continuation lines joined."""
    joined: list[str] = []
    pending = ""
    for raw in block.text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            joined.append(line)
    return joined
