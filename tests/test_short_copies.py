"""Short copies: a 5-line function copied verbatim or renamed is found, although it holds fewer
tokens than the run winnowing guarantees to fingerprint (the reference keeps a fingerprint of
every short chunk of its own, and one run covering most of both chunks is evidence enough).
Real stdlib files as the corpus, a real index, the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import stdlib_sample_index

ORIGIN = '''"""Plural forms."""

import re

_token_pattern = re.compile(r"(\\d+|n)")


def _error(value):
    if value:
        return ValueError('Unexpected token in plural form: %s' % value)
    else:
        return ValueError('Unexpected end of plural form')


def _tokens(text):
    for match in _token_pattern.finditer(text):
        yield match.group(0)
'''

VERBATIM = '''"""Settings of the sync tool."""

import os


def _error(value):
    if value:
        return ValueError('Unexpected token in plural form: %s' % value)
    else:
        return ValueError('Unexpected end of plural form')


def settings_path(home):
    return os.path.join(home, ".sync", "settings.toml")
'''

RENAMED = VERBATIM.replace("_error(value)", "v_66db98(v_f20696)").replace("if value", "if v_f20696")
RENAMED = RENAMED.replace("% value", "% v_f20696")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, add_json: Any) -> Path:
    return stdlib_sample_index(tmp_path_factory, add_json, "short", {"plural.py": ORIGIN})


@pytest.mark.parametrize(("text", "match_type"), [(VERBATIM, "exact"), (RENAMED, "renamed")])
def test_a_five_line_function_copied_is_one_finding_naming_its_origin(
    text: str, match_type: str, index: Path, tmp_path: Path, scan_json: Any
) -> None:
    (tmp_path / "sync.py").write_text(text, encoding="utf-8")
    _, report, _ = scan_json(tmp_path, index, "--no-ml", "--no-baseline")
    found = [
        (f["start_line"], f["end_line"], f["origin"]["path"], f["match_type"]) for f in report["findings"]
    ]
    assert found == [(6, 10, "plural.py", match_type)]
    origin = report["findings"][0]["origin"]
    assert (origin["start_line"], origin["end_line"]) == (8, 12)


def test_a_short_function_of_other_code_is_no_finding(index: Path, tmp_path: Path, scan_json: Any) -> None:
    other = VERBATIM.replace("ValueError('Unexpected token in plural form: %s' % value)", "value * 2")
    other = other.replace("return ValueError('Unexpected end of plural form')", "raise KeyError(value)")
    (tmp_path / "sync.py").write_text(other, encoding="utf-8")
    _, report, _ = scan_json(tmp_path, index, "--no-ml", "--no-baseline")
    assert report["findings"] == []
