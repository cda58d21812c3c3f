"""Comments and docstrings as evidence of a copy (codeguard.fingerprint.comments and the scan).

A short function under its docstring has fewer tokens than any idiom, and its copy keeps the
docstring word for word: that text is what makes the copy certain. Real stdlib files as the
corpus, a real index, the real CLI.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import STDLIB_SAMPLE, stdlib_sample_index

from codeguard.fingerprint.comments import MIN_CHARS, segments, shared
from codeguard.fingerprint.winnow import family_seed
from codeguard.parsing.chunker import parse_file

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SEED = family_seed("python")

ORIGIN = '''"""Names of distributions."""

import re


def to_filename(name):
    """Convert a project or version name to its filename-escaped form

    Any '-' characters are currently replaced with '_'.
    """
    return name.replace('-', '_')


def print_tb(tb, limit=None, file=None):
    """Print up to 'limit' stack trace entries from the traceback 'tb'.

    If 'limit' is omitted or None, all entries are printed.  If 'file'
    is omitted or None, the output goes to sys.stderr; otherwise
    'file' should be an open file or file-like object with a write()
    method.
    """
    print_list(extract_tb(tb, limit=limit), file=file)
'''

HOST = '''"""Settings of the sync tool."""

import os


def settings_path(home):
    return os.path.join(home, ".sync", "settings.toml")


{copy}
'''

# Two statements of code, byte for byte, under a docstring: below every code-only bar.
VERBATIM = '''def to_filename(name):
    """Convert a project or version name to its filename-escaped form

    Any '-' characters are currently replaced with '_'.
    """
    return name.replace('-', '_')'''

# Renamed, and the body rewritten: the docstring and the signature's shape are all that is left.
DOC_ONLY = '''def v_bf0a8a(v_313655, v_b8e16d=None, v_4f45ac=None):
    """Print up to 'limit' stack trace entries from the traceback 'tb'.

    If 'limit' is omitted or None, all entries are printed.  If 'file'
    is omitted or None, the output goes to sys.stderr; otherwise
    'file' should be an open file or file-like object with a write()
    method.
    """
    for v_1 in walk(v_313655):
        emit(v_1, v_4f45ac)'''

OTHER_DOC = VERBATIM.replace("Convert a project or version name", "Turn a release label")


def _segments(text: str) -> Any:
    source = text.encode()
    parsed = parse_file(source, "python")
    return segments(source, parsed.starts, parsed.ends, parsed.boilerplate, SEED), parsed


def test_segments_are_the_text_between_tokens_without_headers_imports_or_punctuation() -> None:
    text = (
        "# Copyright 2020 Somebody. Licensed under the terms of the MIT license.\n"
        "import os  # the operating system interface, for paths\n"
        "import re\n"
        "def f(x):\n"
        '    """Return the value of x doubled, as the spec says."""\n'
        "    return ((x * 2))  # short\n"
    )
    segs, parsed = _segments(text)
    assert len(segs.hashes) == 1  # the docstring only
    before = int(segs.before[0])
    assert text.encode()[parsed.starts[before] :].startswith(b"return")
    assert int(segs.chars[0]) == len(
        "".join('"""Return the value of x doubled, as the spec says."""'.split())
    )
    assert all(n >= MIN_CHARS for n in segs.chars.tolist())


def test_shared_counts_each_segment_as_often_as_both_sides_hold_it() -> None:
    doc = '    """Return the value of x doubled, as the spec says."""\n'
    one, _ = _segments(f"def f(x):\n{doc}    return x\n")
    two, _ = _segments(f"def f(x):\n{doc}    return x\ndef g(x):\n{doc}    return x\n")
    n = int(one.chars[0])
    assert shared(one, slice(0, 1), two, slice(0, 2)) == n
    assert shared(two, slice(0, 2), two, slice(0, 2)) == 2 * n
    assert shared(one, slice(0, 1), two, slice(0, 2), frozenset(one.hashes.tolist())) == 0
    # Layout does not matter; words do.
    moved, _ = _segments(f"def f(x):\n{doc.replace(' as', chr(10) + '    as')}    return x\n")
    assert np.array_equal(moved.hashes, one.hashes)
    other, _ = _segments(f"def f(x):\n{doc.replace('doubled', 'tripled')}    return x\n")
    assert shared(one, slice(0, 1), other, slice(0, 1)) == 0


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, add_json: Any) -> Path:
    return stdlib_sample_index(tmp_path_factory, add_json, "doc", {"names.py": ORIGIN})


def _found(tmp_path: Path, index: Path, copy: str, scan_json: Any) -> list[tuple[Any, ...]]:
    (tmp_path / "sync.py").write_text(HOST.format(copy=copy), encoding="utf-8")
    _, report, _ = scan_json(tmp_path, index, "--no-ml", "--no-baseline")
    return [
        (f["start_line"], f["origin"]["path"], f["origin"]["start_line"], f["match_type"])
        for f in report["findings"]
    ]


def test_a_two_line_function_copied_with_its_docstring_is_found(
    index: Path, tmp_path: Path, scan_json: Any
) -> None:
    assert _found(tmp_path, index, VERBATIM, scan_json) == [(10, "names.py", 6, "exact")]


def test_a_rewritten_body_under_a_copied_docstring_is_traced_to_it(
    index: Path, tmp_path: Path, scan_json: Any
) -> None:
    """No k-gram of code is shared: the docstring's own posting proposes the pair."""
    found = _found(tmp_path, index, DOC_ONLY, scan_json)
    assert [(line, path, origin) for line, path, origin, _ in found] == [(10, "names.py", 14)]


def test_the_same_code_under_another_docstring_is_no_finding(
    index: Path, tmp_path: Path, scan_json: Any
) -> None:
    assert _found(tmp_path, index, OTHER_DOC, scan_json) == []


def test_a_docstring_many_references_share_is_common_ground(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, add_json: Any, scan_json: Any
) -> None:
    """The same generated docstring in several unrelated reference files proves no copy from
    one of them: with one reference holding it, the scanned function (same shape, renamed) is
    its copy; once five other files hold it too (under code of another shape, so they do not
    rival the pair's code), the docstring is common ground and the short code alone is no
    finding."""
    doc = '    """Handle one request. Generated from the service template: edit the body only."""\n'
    same_shape = "def handler(request, context):\n" + doc + "    value = load(request)\n    return value\n"

    def other_shape(i: int) -> str:
        return (
            f"class Service{i}:\n    def run(self, a, b, c, d):\n    {doc}"
            f"        for x in range(a * {i}):\n            print(x, b, c, d, sep='{i}')\n"
        )

    scanned = "def serve(req, ctx):\n" + doc + "    result = fetch(req)\n    return result\n"
    for n_others, expected in ((0, 1), (5, 0)):
        corpus = tmp_path_factory.mktemp(f"stub-corpus-{n_others}")
        (corpus / "service.py").write_text(same_shape, encoding="utf-8")
        for i in range(n_others):
            (corpus / f"other_{i}.py").write_text(other_shape(i), encoding="utf-8")
        for name in STDLIB_SAMPLE:
            shutil.copy(STDLIB / name, corpus / name)
        index = tmp_path_factory.mktemp(f"stub-index-{n_others}") / "index"
        add_json(corpus, index, "--name", "corpus", "--license", "MIT", "--no-ml")
        project = tmp_path / f"p{n_others}"
        project.mkdir()
        (project / "app.py").write_text(scanned, encoding="utf-8")
        _, report, _ = scan_json(project, index, "--no-ml", "--no-baseline")
        found = [f["origin"]["path"] for f in report["findings"]]
        assert found == ["service.py"] * expected, (n_others, report["findings"])
