"""Per-package licenses in trees of many packages, notice pointers, bad metadata and the upstream
origin: real trees (package.json, dist-info METADATA/RECORD, real LICENSE texts) through the
real CLI and a real index."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from conftest import LEVENSHTEIN, MERGE_INTERVALS, SIMILARITY, TOPO_SORT

from codeguard.licenses.packages import (
    attribute,
    combine_license_files,
    find_packages,
    substitute,
    vendored_at,
)

LICENSES = Path(__file__).parent / "data" / "licenses"  # copied from pip's vendored packages
MIT = (LICENSES / "tomli.LICENSE").read_text()
BSD2 = (LICENSES / "pygments.LICENSE").read_text()
GPL3 = (LICENSES / "GPL-3.0.txt").read_text()
MIT_HEADER = (
    "# Copyright (c) 2021 Some Author\n#\n"
    + "".join(f"# {line}\n" if line else "#\n" for line in MIT.split("\n\n", 1)[1].splitlines())
    + "\n"
)

RUN_LENGTH = '''\
def run_length_encode(text):
    """Encode runs of repeated characters as (char, count) pairs."""
    if not text:
        return []
    pairs = []
    current, count = text[0], 1
    for ch in text[1:]:
        if ch == current:
            count += 1
        else:
            pairs.append((current, count))
            current, count = ch, 1
    pairs.append((current, count))
    return pairs
'''

CHUNKED = '''\
def chunked(items, size):
    """Split a sequence into lists of at most ``size`` items, keeping the order."""
    if size <= 0:
        raise ValueError("size must be positive")
    out = []
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            out.append(batch)
            batch = []
    if batch:
        out.append(batch)
    return out
'''

JS_DEBOUNCE = """\
function debounce(fn, wait) {
  let timer = null;
  let lastArgs = null;
  return function debounced(...args) {
    lastArgs = args;
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = null;
      fn.apply(this, lastArgs);
      lastArgs = null;
    }, wait);
  };
}
module.exports = debounce;
"""

JS_FLATTEN = """\
function flattenDeep(input, depth = Infinity) {
  const out = [];
  const stack = input.map((value) => [value, depth]);
  while (stack.length > 0) {
    const [value, left] = stack.pop();
    if (Array.isArray(value) && left > 0) {
      for (let i = value.length - 1; i >= 0; i -= 1) {
        stack.push([value[i], left - 1]);
      }
    } else {
      out.unshift(value);
    }
  }
  return out;
}
module.exports = flattenDeep;
"""


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _pkg_json(name: str, license: str | None, version: str = "1.0.0") -> str:
    data: dict[str, Any] = {"name": name, "version": version}
    if license is not None:
        data["license"] = license
    return json.dumps(data)


def _origins(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["chunk"]["name"]: f["origin"] for f in report["findings"]}


def _project(root: Path, files: dict[str, str]) -> Path:
    """A project holding the copied functions inside files of its own (an identical file would
    be one whole-file finding instead of one finding per function)."""
    return _write(root, {"LICENSE": MIT, **{k: "import os\n\n\n" + v for k, v in files.items()}})


def _node_modules(root: Path) -> Path:
    """An installed node_modules folder: five packages, each with its own metadata."""
    return _write(
        root,
        {
            "debounce/package.json": _pkg_json("debounce", "MIT", "2.0.1"),
            "debounce/LICENSE": MIT,
            "debounce/index.js": JS_DEBOUNCE,
            "flatten-gpl/package.json": _pkg_json("flatten-gpl", "GPL-3.0-only"),
            "flatten-gpl/COPYING": GPL3,
            "flatten-gpl/lib/flatten.js": JS_FLATTEN,
            # a bare {"type": ...} package.json marks a folder, not a package
            "flatten-gpl/lib/package.json": '{"type": "commonjs"}',
        },
    )


def test_node_modules_tree_gets_each_package_license(
    tmp_path: Path, add_json: Any, scan_json: Any, run_cli: Any
) -> None:
    tree = _node_modules(tmp_path / "node_modules")
    index = tmp_path / "index"
    summary = add_json(tree, index, "--no-ml")
    assert summary["license"] is None  # the folder itself has no license: its packages do
    project = _project(tmp_path / "proj", {"src/debounce.js": JS_DEBOUNCE, "src/flat.js": JS_FLATTEN})
    _, report, _ = scan_json(project, index)
    origins = {f["path"]: f["origin"] for f in report["findings"]}
    assert origins["src/debounce.js"]["license"] == "MIT"
    assert origins["src/debounce.js"]["license_from"] == "package debounce: debounce/package.json license"
    assert origins["src/flat.js"]["license"] == "GPL-3.0-only"
    assert origins["src/flat.js"]["license_from"].startswith("package flatten-gpl: ")
    levels = {f["path"]: f["level"] for f in report["findings"]}
    assert levels["src/flat.js"] == "error"

    code, out, _ = run_cli("licenses", tree)
    assert code == 0
    table = out.split("package(s):", 1)[1]
    rows = [line.split() for line in table.splitlines()[2:4]]
    assert rows == [
        ["debounce", "debounce", "2.0.1", "MIT", "debounce/package.json", "license"],
        ["flatten-gpl", "flatten-gpl", "1.0.0", "GPL-3.0-only", "flatten-gpl/package.json", "license"],
    ]


def test_site_packages_dist_info_metadata_decides_and_vendored_trees_are_packages(
    tmp_path: Path, run_cli: Any
) -> None:
    sp = _write(
        tmp_path / "site-packages",
        {
            "algos-1.2.dist-info/METADATA": (
                "Metadata-Version: 2.4\nName: algos\nVersion: 1.2\nLicense-Expression: Apache-2.0\n"
                "License-File: LICENSE\n\nLong description.\n"
            ),
            "algos-1.2.dist-info/RECORD": "algos/__init__.py,,\nalgos/text.py,,\nrle.py,,\n",
            "algos-1.2.dist-info/licenses/LICENSE": (LICENSES / "packaging.LICENSE.APACHE").read_text(),
            "algos/__init__.py": "",
            "algos/text.py": LEVENSHTEIN,
            "rle.py": RUN_LENGTH,
            "oldbsd-0.1.dist-info/METADATA": (
                "Metadata-Version: 2.1\nName: oldbsd\nVersion: 0.1\nLicense: BSD\n"
                "Classifier: License :: OSI Approved :: BSD License\n"
            ),
            "oldbsd-0.1.dist-info/RECORD": "oldbsd/__init__.py,,\n",
            "oldbsd-0.1.dist-info/LICENSE": BSD2,
            "oldbsd/__init__.py": SIMILARITY,
            "host/_vendor/tomli/LICENSE": MIT,
            "host/_vendor/tomli/_parser.py": CHUNKED,
        },
    )
    code, out, _ = run_cli("licenses", sp, "--json")
    assert code == 0
    table = {p["name"]: p for p in json.loads(out)["packages"]}
    assert table["algos"]["license"] == "Apache-2.0"
    assert table["algos"]["license_from"] == "algos-1.2.dist-info/METADATA License-Expression"
    # "BSD" names a family: the license file says which BSD, and that is no problem
    assert (table["oldbsd"]["license"], table["oldbsd"]["problems"]) == ("BSD-2-Clause", [])
    assert table["tomli"]["license"] == "MIT" and table["tomli"]["vendored"] is True
    assert not table["algos"]["vendored"]
    pk = find_packages([p.relative_to(sp).as_posix() for p in sp.rglob("*") if p.is_file()], _reader(sp))
    assert pk.of("algos/text.py").name == "algos" and pk.of("rle.py").name == "algos"
    assert pk.of("host/_vendor/tomli/_parser.py").name == "tomli"


def _reader(root: Path) -> Any:
    return lambda rel: (root / rel).read_bytes()


def _pointer_packages(root: Path) -> Path:
    """Packages whose headers point at their license files, as pygments, packaging and distlib do."""
    return _write(
        root,
        {
            "pygments/LICENSE": BSD2,
            "pygments/lexer.py": (
                '"""\n    pygments.lexer\n    ~~~~~~~~~~~~~~\n\n    Base lexer classes.\n\n'
                "    :copyright: Copyright 2006-present by the Pygments team, see AUTHORS.\n"
                '    :license: BSD, see LICENSE for details.\n"""\n\n' + LEVENSHTEIN
            ),
            # a real full notice of another license counts for its own file
            "pygments/mitfile.py": MIT_HEADER + TOPO_SORT,
            "packaging/LICENSE": (LICENSES / "packaging.LICENSE").read_text(),
            "packaging/LICENSE.APACHE": (LICENSES / "packaging.LICENSE.APACHE").read_text(),
            "packaging/LICENSE.BSD": (LICENSES / "packaging.LICENSE.BSD").read_text(),
            "packaging/version.py": (
                "# This file is dual licensed under the terms of the Apache License, Version\n"
                "# 2.0, and the BSD License. See the LICENSE file in the root of this repository\n"
                "# for complete details.\n\n" + MERGE_INTERVALS
            ),
            "distlib/LICENSE.txt": MIT,
            "distlib/util.py": (
                "#\n# Copyright (C) 2012-2023 The Python Software Foundation.\n"
                "# See LICENSE.txt and CONTRIBUTORS.txt.\n#\n" + RUN_LENGTH
            ),
        },
    )


def test_notice_pointers_resolve_to_the_package_license_file(
    tmp_path: Path, add_json: Any, scan_json: Any
) -> None:
    tree = _pointer_packages(tmp_path / "vendored")
    index = tmp_path / "index"
    add_json(tree, index, "--no-ml")
    project = _project(
        tmp_path / "proj",
        {"a.py": LEVENSHTEIN, "b.py": MERGE_INTERVALS, "c.py": RUN_LENGTH, "d.py": TOPO_SORT},
    )
    _, report, _ = scan_json(project, index)
    origins = _origins(report)
    assert origins["levenshtein"]["license"] == "BSD-2-Clause"  # not BSD-3-Clause
    assert origins["levenshtein"]["license_from"] == "header pointer to package pygments: LICENSE"
    assert origins["merge_intervals"]["license"] == "BSD-2-Clause OR Apache-2.0"
    assert origins["run_length_encode"]["license"] == "MIT"  # not an unknown license reference
    assert origins["topo_sort"]["license"] == "MIT"  # its own full notice, in a BSD package
    assert origins["topo_sort"]["license_from"] == "header notice"


def test_notice_pointer_resolves_to_the_given_license(tmp_path: Path, add_json: Any, scan_json: Any) -> None:
    tree = _write(
        tmp_path / "pygments",
        {
            "lexer.py": (
                '"""\n    :copyright: Copyright 2006 by the Pygments team.\n'
                '    :license: BSD, see LICENSE for details.\n"""\n\n' + LEVENSHTEIN
            )
        },
    )
    index = tmp_path / "index"
    add_json(tree, index, "--no-ml", "--license", "BSD-2-Clause")
    _, report, _ = scan_json(_project(tmp_path / "proj", {"a.py": LEVENSHTEIN}), index)
    assert _origins(report)["levenshtein"]["license"] == "BSD-2-Clause"


def test_bad_metadata_is_recorded_and_shown_never_resolved_silently(
    tmp_path: Path, add_json: Any, scan_json: Any, run_cli: Any
) -> None:
    tree = _write(
        tmp_path / "node_modules",
        {
            "contra/package.json": _pkg_json("contra", "MIT"),
            "contra/LICENSE": GPL3,
            "contra/lev.py": LEVENSHTEIN,
            "broken/package.json": '{"name": "broken", "license": "MIT",,}',
            "broken/LICENSE": BSD2,
            "broken/merge.py": MERGE_INTERVALS,
            "weird/package.json": _pkg_json("weird", "Frobnicate-License-9"),
            "weird/topo.py": TOPO_SORT,
        },
    )
    code, out, err = run_cli("licenses", tree, "--json")
    assert code == 0, err
    table = {p["root"]: p for p in json.loads(out)["packages"]}
    assert table["contra"]["problems"] == ["metadata says MIT, LICENSE says GPL-3.0-only"]
    assert table["contra"]["license"] == "MIT AND GPL-3.0-only"  # both claims are honoured
    assert table["broken"]["problems"][0].startswith("package.json is malformed (JSONDecodeError")
    assert table["broken"]["license"] == "BSD-2-Clause"  # the license file still says something
    assert table["weird"]["problems"] == [
        "weird/package.json license 'Frobnicate-License-9' is not a license codeguard knows"
    ]
    assert table["weird"]["license"] is None
    code, out, _ = run_cli("licenses", tree)
    assert "problem in contra: metadata says MIT, LICENSE says GPL-3.0-only" in out

    index = tmp_path / "index"
    add_json(tree, index, "--no-ml")
    project = _project(tmp_path / "proj", {"a.py": LEVENSHTEIN, "b.py": MERGE_INTERVALS, "c.py": TOPO_SORT})
    _, report, _ = scan_json(project, index)
    origins = _origins(report)
    assert origins["levenshtein"]["license_note"] == "metadata says MIT, LICENSE says GPL-3.0-only"
    assert origins["merge_intervals"]["license_note"].startswith("package.json is malformed")
    assert origins["topo_sort"]["license"] is None
    assert "Frobnicate-License-9" in origins["topo_sort"]["license_note"]
    _, text, _ = run_cli("scan", project, "--index", index)
    assert "license MIT AND GPL-3.0-only (metadata says MIT, LICENSE says GPL-3.0-only)" in text
    # A whole-file copy carries the same provenance.
    whole = _write(tmp_path / "whole", {"LICENSE": MIT, "lev.py": LEVENSHTEIN})
    _, report, _ = scan_json(whole, index)
    [finding] = report["findings"]
    assert finding["chunk"]["name"] == "identical file"
    assert finding["origin"]["license"] == "MIT AND GPL-3.0-only"
    assert finding["origin"]["license_note"] == "metadata says MIT, LICENSE says GPL-3.0-only"


def test_upstream_is_named_before_a_vendored_copy(tmp_path: Path, add_json: Any, scan_json: Any) -> None:
    # Index order and corpus names both favour the vendored copy: setuptools < tomli.
    setuptools = _write(
        tmp_path / "setuptools",
        {
            "pyproject.toml": '[project]\nname = "setuptools"\nlicense = "MIT"\n',
            "setuptools/_vendor/tomli/LICENSE": MIT,
            "setuptools/_vendor/tomli/_parser.py": CHUNKED,
        },
    )
    tomli = _write(
        tmp_path / "tomli",
        {
            "pyproject.toml": '[project]\nname = "tomli"\nlicense = "MIT"\n',
            "src/tomli/_parser.py": CHUNKED,
        },
    )
    only_vendored = _write(
        tmp_path / "pip", {"pip/_vendor/rle/LICENSE": BSD2, "pip/_vendor/rle/core.py": RUN_LENGTH}
    )
    index = tmp_path / "index"
    for tree in (setuptools, tomli, only_vendored):
        add_json(tree, index, "--no-ml")
    _, report, _ = scan_json(_project(tmp_path / "proj", {"p.py": CHUNKED, "r.py": RUN_LENGTH}), index)
    origins = _origins(report)
    assert (origins["chunked"]["source"], origins["chunked"]["vendored"]) == ("tomli", "")
    chunked = next(f for f in report["findings"] if f["chunk"]["name"] == "chunked")
    assert [(p["source"], p["vendored"]) for p in chunked["also_in"]] == [
        ("setuptools", "setuptools/_vendor/tomli")
    ]
    assert origins["run_length_encode"]["vendored"] == "pip/_vendor/rle"
    assert origins["run_length_encode"]["license"] == "BSD-2-Clause"


def test_index_records_where_each_file_license_came_from(tmp_path: Path, add_json: Any) -> None:
    tree = _pointer_packages(tmp_path / "vendored")
    index = tmp_path / "index"
    add_json(tree, index, "--no-ml")
    with sqlite3.connect(index / "index.db") as conn:
        rows = dict(
            (path, (lic, frm, pkg))
            for path, lic, frm, pkg in conn.execute("SELECT path, license, license_from, package FROM files")
        )
    assert rows["pygments/lexer.py"] == (
        "BSD-2-Clause",
        "header pointer to package pygments: LICENSE",
        "pygments",
    )
    assert rows["distlib/util.py"][0] == "MIT"


def test_substitute_and_combine() -> None:
    assert (
        substitute("BSD-3-Clause OR Apache-2.0", "Apache-2.0 AND BSD-2-Clause")
        == "BSD-2-Clause OR Apache-2.0"
    )
    assert substitute("LicenseRef-scancode-unknown-license-reference", "MIT") == "MIT"
    assert substitute("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-or-later") == (
        "GPL-2.0-or-later WITH Classpath-exception-2.0"
    )
    assert substitute("MIT", "BSD-2-Clause") is None  # no MIT in the package: not resolved
    # pygments' solarized style: "(licensed under MIT) ... :license: BSD, see LICENSE"
    assert substitute("MIT AND BSD-3-Clause", "BSD-2-Clause") == "MIT AND BSD-2-Clause"
    found = {
        "LICENSE": "BSD-3-Clause OR Apache-2.0",
        "LICENSE.APACHE": "Apache-2.0",
        "LICENSE.BSD": "BSD-2-Clause",
    }
    assert combine_license_files(found) == "BSD-2-Clause OR Apache-2.0"
    assert combine_license_files({"LICENSE": "MIT", "NOTICE": "Apache-2.0"}) == "MIT AND Apache-2.0"


def test_node_modules_inside_a_package_is_vendored_and_a_pointer_mismatch_is_noted() -> None:
    files = {
        "package.json": _pkg_json("app", "MIT").encode(),
        "node_modules/dep/package.json": _pkg_json("dep", "ISC").encode(),
        "lib/LICENSE": BSD2.encode(),
    }
    pk = find_packages(list(files), files.get)
    assert pk.of("node_modules/dep/index.js").vendored
    assert not pk.of("src/x.js").vendored and pk.of("src/x.js").name == "app"
    # an MIT-licensed package whose file says "GPL, see COPYING": kept, with the disagreement
    att = attribute({"license": "GPL-3.0-only", "kind": "reference", "pointer": True}, pk.of("src/x.js"))
    assert (att.license, att.note) == ("GPL-3.0-only", "the header says GPL-3.0-only, package . says MIT")


def test_a_vendoring_folder_without_license_files_is_still_a_vendored_copy() -> None:
    # Debian's pip keeps _vendor/rich/ without its LICENSE: the files are still a copy of rich.
    files = {"LICENSE.txt": MIT.encode(), "_vendor/vendor.txt": b"rich==13.0\n"}
    pk = find_packages(list(files), files.get)
    top = pk.of("_vendor/rich/console.py")
    assert top.root == "" and vendored_at("_vendor/rich/console.py", top) == "_vendor/rich"
    assert vendored_at("cli/main.py", top) == ""
