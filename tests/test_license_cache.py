"""The per-user cache of what license files state (codeguard.licenses.cache): the project's
license is detected once per LICENSE text, a changed file is detected again, and a corrupt or
unwritable cache never changes a result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeguard.licenses.cache import CACHE_FILE, LicenseFileCache
from codeguard.licenses.project import directory_license

DATA = Path(__file__).resolve().parent / "data" / "licenses"
MIT = (Path(__file__).resolve().parents[1] / "examples" / "demo-project" / "LICENSE").read_text()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "LICENSE").write_text(MIT)
    (root / "main.py").write_text("def main():\n    return 0\n")
    return root


def test_a_license_file_is_detected_once_then_read_from_the_cache(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "cache" / CACHE_FILE
    first = LicenseFileCache(path)
    assert directory_license(project, first).expression == "MIT"
    assert (first.hits, first.misses) == (0, 1)
    again = LicenseFileCache(path)  # another process: reads the file
    tree = directory_license(project, again)
    assert (again.hits, again.misses) == (1, 0)
    assert tree.expression == "MIT"
    assert tree.evidence == [{"file": "LICENSE", "kind": "license-file", "license": "MIT"}]
    # What the cache says is what a hit returns (so it is really read, not detected again).
    data = json.loads(path.read_text())
    [key] = data["entries"]
    data["entries"][key]["spdx"] = ["0BSD"]
    path.write_text(json.dumps(data))
    assert directory_license(project, LicenseFileCache(path)).expression == "0BSD"


def test_a_changed_license_file_changes_the_result(project: Path, tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    assert directory_license(project, LicenseFileCache(path)).expression == "MIT"
    (project / "LICENSE").write_text((DATA / "GPL-3.0.txt").read_text())
    changed = LicenseFileCache(path)
    assert directory_license(project, changed).expression == "GPL-3.0-only"
    assert (changed.hits, changed.misses) == (0, 1)
    (project / "LICENSE").write_text(MIT)  # back: the first text is still cached
    back = LicenseFileCache(path)
    assert directory_license(project, back).expression == "MIT"
    assert (back.hits, back.misses) == (1, 0)
    assert len(json.loads(path.read_text())["entries"]) == 2


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffnot json{",
        b"[1, 2]",
        b'{"format": 1, "detector": "%s", "entries": []}',
        b'{"format": 1, "detector": "%s", "entries": {"KEY": {"spdx": "MIT OR GPL"}}}',
        b'{"format": 1, "detector": "%s", "entries": {"KEY": {"spdx": [1]}}}',
    ],
)
def test_a_corrupt_cache_is_ignored_and_rewritten(project: Path, tmp_path: Path, content: bytes) -> None:
    import hashlib

    path = tmp_path / CACHE_FILE
    probe = LicenseFileCache(path)
    key = hashlib.sha256(MIT.encode()).hexdigest()
    path.write_bytes(content.replace(b"%s", probe.stamp.encode()).replace(b"KEY", key.encode()))
    cache = LicenseFileCache(path)
    assert directory_license(project, cache).expression == "MIT"
    assert cache.misses == 1
    data = json.loads(path.read_text())
    assert data["detector"] == probe.stamp
    assert data["entries"] == {key: {"spdx": ["MIT"]}}


def test_another_detector_does_not_read_the_results_of_this_one(project: Path, tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    directory_license(project, LicenseFileCache(path, stamp="old detector"))
    newer = LicenseFileCache(path, stamp="new detector")
    assert directory_license(project, newer).expression == "MIT"
    assert (newer.hits, newer.misses) == (0, 1)
    assert json.loads(path.read_text())["detector"] == "new detector"


def test_an_unwritable_cache_leaves_the_result_as_it_was(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would be")
    for _ in range(2):
        cache = LicenseFileCache(blocker / "licenses" / CACHE_FILE)
        assert directory_license(project, cache).expression == "MIT"
        assert cache.misses == 1


def test_the_cache_lives_in_the_cache_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEGUARD_CACHE_DIR", str(tmp_path))
    assert LicenseFileCache().path == tmp_path / "licenses" / CACHE_FILE


def test_the_oldest_texts_are_dropped_beyond_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeguard.licenses import cache as cache_module

    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 2)
    path = tmp_path / CACHE_FILE
    calls: list[str] = []

    def detect(text: str) -> list[str]:
        calls.append(text)
        return [text.upper()]

    for text in ["a", "b", "a", "c", "b", "a"]:
        assert LicenseFileCache(path, stamp="s").expressions(text, detect) == [text.upper()]
    # "c" pushed out "a" (the oldest stored); "b" was still there; "a" is detected again.
    assert calls == ["a", "b", "c", "a"]
    assert list(json.loads(path.read_text())["entries"]) != []


# -- headers of scanned files ---------------------------------------------------------------------
HEADERS = [
    b"# SPDX-License-Identifier: Apache-2.0\nimport os\n",
    b"# Copyright (c) 2026 Ada\n# Licensed under the MIT License. See LICENSE in the project root.\nx = 1\n",
    b"/* This program is free software: you can redistribute it and/or modify it under the terms of\n"
    b" * the GNU General Public License as published by the Free Software Foundation, either\n"
    b" * version 3 of the License, or (at your option) any later version. */\nint x;\n",
    b"# Copyright (c) 2026 Ada, all rights reserved by nobody in particular\nx = 1\n",  # a hint, no license
]


def test_a_header_is_detected_once_then_read_from_the_cache(tmp_path: Path) -> None:
    from codeguard.licenses.cache import StampedCache
    from codeguard.licenses.project import header_license

    path = tmp_path / "headers.json"
    plain = [header_license(h) for h in HEADERS]
    assert [f.expression if f else None for f in plain] == ["Apache-2.0", "MIT", "GPL-3.0-or-later", None]
    first = StampedCache("headers.json", path=path)
    assert [header_license(h, first) for h in HEADERS] == plain
    assert (first.hits, first.misses) == (0, len(HEADERS)) and not path.exists()  # stores wait for flush
    first.flush()
    again = StampedCache("headers.json", path=path)
    assert [header_license(h, again) for h in HEADERS] == plain
    assert (again.hits, again.misses) == (len(HEADERS), 0)
    assert header_license(b"x = 1\n", again) is None and again.hits + again.misses == len(HEADERS)  # no hint
    # A hit is what the cache says (it is read, not detected again).
    data = json.loads(path.read_text())
    key = next(k for k, v in data["entries"].items() if v.get("expression") == "MIT")
    data["entries"][key]["expression"] = "0BSD"
    path.write_text(json.dumps(data))
    hit = header_license(HEADERS[1], StampedCache("headers.json", path=path))
    assert hit is not None and hit.expression == "0BSD"


@pytest.mark.parametrize(
    "entry", [{"expression": "MIT"}, {"none": "yes"}, [1], {"expression": 1, "start_line": 1}, "MIT"]
)
def test_a_damaged_header_entry_is_detected_again(tmp_path: Path, entry: object) -> None:
    from codeguard.licenses.cache import StampedCache
    from codeguard.licenses.project import header_license

    path = tmp_path / "headers.json"
    first = StampedCache("headers.json", path=path)
    header_license(HEADERS[1], first)
    first.flush()
    data = json.loads(path.read_text())
    [key] = data["entries"]
    data["entries"][key] = entry
    path.write_text(json.dumps(data))
    cache = StampedCache("headers.json", path=path)
    assert header_license(HEADERS[1], cache) == header_license(HEADERS[1])
    assert (cache.hits, cache.misses) == (0, 1)
    cache.flush()
    assert json.loads(path.read_text())["entries"][key]["expression"] == "MIT"
