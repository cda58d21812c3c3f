"""--format html: one self-contained page with both sides of every finding, fragments highlighted,
everything escaped; rendered in headless Chromium when it is installed."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import with_allow_comments

from codeguard.engine.scan import scan
from codeguard.index.store import IndexStore
from codeguard.report.html import HtmlReport

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(
    scenario: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, run_cli: Callable[..., Any]
) -> Path:
    project, index = scenario
    out = tmp_path_factory.mktemp("html-out") / "report.html"
    code, _, err = run_cli("scan", project, "--index", index, "--format", "html", "-o", out)
    assert code == 1, err
    return out


# -- reading the page back -----------------------------------------------------------------------
@dataclass
class Side:
    label: str = ""
    title: str = ""
    rows: list[tuple[int, set[str], str]] = field(default_factory=list)  # line, classes, text
    missing: str = ""

    def highlighted(self) -> list[int]:
        return [n for n, cls, _ in self.rows if "hl" in cls]

    def text(self, line: int) -> str:
        return next(t for n, _, t in self.rows if n == line)


@dataclass
class Section:
    classes: set[str]
    ident: str
    text: list[str] = field(default_factory=list)
    sides: list[Side] = field(default_factory=list)


class Page(HTMLParser):
    """The finding sections of a report, with both sides' rows (line number, classes, text)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.tags: list[str] = []
        self.stack: list[set[str]] = []
        self.row: list[Any] | None = None
        self.cell = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        cls = set((a.get("class") or "").split())
        self.tags.append(tag)
        self.stack.append(cls)
        if tag == "section" and "finding" in cls:
            self.sections.append(Section(cls, a.get("id") or ""))
        elif "side" in cls:
            self.sections[-1].sides.append(Side())
        elif "ln" in cls:
            self.row = [0, cls, ""]
        if cls & {"no", "tx", "side-l", "missing"} or (
            tag == "span" and "mono" in cls and "side-h" in self.stack[-2]
        ):
            self.cell = next(iter(cls & {"no", "tx", "side-l", "missing"}), "title")

    def handle_endtag(self, tag: str) -> None:
        cls = self.stack.pop() if self.stack else set()
        self.tags.pop()
        if "ln" in cls and self.row is not None:
            self.sections[-1].sides[-1].rows.append((int(self.row[0]), self.row[1], self.row[2]))
            self.row = None
        self.cell = ""

    def handle_data(self, data: str) -> None:
        if self.sections:
            self.sections[-1].text.append(data)
        side = self.sections[-1].sides[-1] if self.sections and self.sections[-1].sides else None
        if self.cell == "no" and self.row is not None:
            self.row[0] = data
        elif self.cell == "tx" and self.row is not None:
            self.row[2] += data
        elif self.cell == "side-l" and side:
            side.label = data
        elif self.cell == "title" and side:
            side.title += data
        elif self.cell == "missing" and side:
            side.missing += data


def finding(page: Page, path: str) -> Section:
    return next(s for s in page.sections if path in "".join(s.text[:12]))


# -- tests ---------------------------------------------------------------------------------------
def test_each_finding_shows_both_sides_with_the_copied_lines_highlighted(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    page = Page(html)
    assert len(page.sections) == 4
    for s in page.sections:
        assert [(side.label, bool(side.rows)) for side in s.sides] == [("Scanned", True), ("Origin", True)]
    gpl = finding(page, "src/app/core.py")
    scanned, origin = gpl.sides
    assert scanned.title == "src/app/core.py" and origin.title == "gpl-lib:intervals.py"
    assert scanned.highlighted() == list(range(11, 27))
    assert origin.highlighted() == list(range(4, 20))
    assert scanned.text(11) == "def merge_intervals(intervals):"
    assert origin.text(4) == "def merge_intervals(intervals):"
    assert "return math.pi * radius ** 2" in scanned.text(8)  # context above the chunk, dimmed
    assert "ctx" in next(cls for n, cls, _ in scanned.rows if n == 8)
    text = " ".join(" ".join(gpl.text).split())
    assert "License GPL-3.0-only" in text
    assert (
        "CG-LIC-001 GPL-3.0-only code copied into this MIT project: strong copyleft into permissive" in text
    )
    assert "Distributing this project would require releasing all of it under GPL-3.0-only" in text
    assert "lines 11–26 ↔ 4–19" in text and "identical" in text
    # a renamed copy: the origin keeps its own names
    lgpl = finding(page, "src/app/text.py")
    assert lgpl.sides[1].text(1) == "def levenshtein(source, target):"
    assert lgpl.sides[0].highlighted() == list(range(4, 18))
    assert "lvl-warning" in lgpl.classes
    assert "lvl-none" in finding(page, "src/app/batches.py").classes
    # summary, notice conflicts, skipped files
    assert '<div class="num">1</div><div class="lbl">error</div>' in html
    assert "Conflicting license notices" in html and "src/app/vendored.py:1-1" in html
    assert "Skipped files (1)" in html


def test_the_page_is_self_contained_and_code_is_escaped(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    lower = html.lower()
    assert "<script" not in lower  # neither ours nor the code's
    assert "<link" not in lower and "src=" not in lower and "url(" not in lower and "@import" not in lower
    assert "&lt;/script&gt;&lt;script&gt;alert(&#x27;scanned&#x27;)&lt;/script&gt; &amp; friends" in html
    assert "&lt;b&gt;pages&lt;/b&gt;: &lt;/script&gt;&lt;script&gt;alert(&quot;origin&quot;)" in html
    page = Page(html)
    graph = finding(page, "src/app/graph.py")
    assert (
        graph.sides[0].text(12)
        == "    # Emits </script><script>alert('scanned')</script> & friends into pages."
    )
    assert (
        graph.sides[1]
        .text(1)
        .startswith('"""Graph helpers for <b>pages</b>: </script><script>alert("origin")')
    )


def test_without_the_index_only_the_scanned_side_is_shown(
    scenario: tuple[Path, Path], tmp_path: Path
) -> None:
    project, index = scenario
    store = IndexStore.open(index)
    try:
        result = scan(store, project)
    finally:
        store.close()
    result.read_origin = None  # as after a scan with --no-index
    out = io.StringIO()
    HtmlReport().write(result, out, color=False)
    page = Page(out.getvalue())
    assert len(page.sections) == 4
    for s in page.sections:
        scanned, origin = s.sides
        assert scanned.highlighted() and not origin.rows
        assert origin.missing == "origin code not shown: the scan used no reference index"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1400,1000",
        report.resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.is_file(), "chromium wrote no screenshot"
    width, height, distinct_rows = read_png(png.read_bytes())
    assert (width, height) == (1400, 1000)
    # a rendered report, not a blank page: most scanlines differ (text, badges, highlighted code)
    assert distinct_rows > 300


def read_png(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct scanlines of a PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = len(raw) // height
    return width, height, len({raw[i * stride : (i + 1) * stride] for i in range(height)})


def test_suppressed_findings_are_listed_for_audit(
    scenario: tuple[Path, Path], tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    project, index = scenario
    out = tmp_path / "report.html"
    code, _, err = run_cli(
        "scan",
        with_allow_comments(project, tmp_path / "allowed"),
        "--index",
        index,
        "--format",
        "html",
        "-o",
        out,
    )
    assert code == 1, err
    html = out.read_text(encoding="utf-8")
    assert len(Page(html).sections) == 3
    assert "Suppressed findings (1)" in html
    assert "inline: relicensed to us by its author" in html and "src/app/text.py:5-18" in html
    assert "src/app/graph.py:4" in html and "allow without reason" in html


@pytest.fixture(scope="session")
def scenario(report_scenario: tuple[Path, Path]) -> tuple[Path, Path]:
    return report_scenario
