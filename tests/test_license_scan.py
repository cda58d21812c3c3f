"""The license policy end to end: origin licenses recorded at index time, the project's license,
verdicts on findings, notice conflicts inside the project, `codeguard licenses`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import LEVENSHTEIN, TOPO_SORT, write_corpus

GPL_NOTICE = (
    "# This program is free software: you can redistribute it and/or modify\n"
    "# it under the terms of the GNU General Public License as published by\n"
    "# the Free Software Foundation, either version 3 of the License, or\n"
    "# (at your option) any later version.\n"
)
MIT_TEXT = (Path(__file__).resolve().parents[1] / "examples" / "demo-project" / "LICENSE").read_text()


def _project(root: Path, license_text: str | None = MIT_TEXT) -> Path:
    root.mkdir(parents=True)
    if license_text:
        (root / "LICENSE").write_text(license_text)
    (root / "app.py").write_text("import os\n\n\n" + LEVENSHTEIN + "\n\ndef main():\n    return 0\n")
    (root / "graphs.py").write_text(TOPO_SORT)
    return root


def _levels(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {f["chunk"]["name"]: (f["level"], f["policy"]["rule_id"]) for f in report["findings"]}


def test_gpl_origin_in_mit_project_is_an_error(tmp_path: Path, add_json: Any, run_cli: Any) -> None:
    corpus = write_corpus(tmp_path / "gplcorpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "GPL-3.0-only")
    project = _project(tmp_path / "proj")
    code, out, _ = run_cli("scan", project, "--index", index, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["project"]["license"] == "MIT"
    assert _levels(report)["levenshtein"] == ("error", "CG-LIC-001")
    f = report["findings"][0]
    assert (
        f["policy"]["reason"]
        == "GPL-3.0-only code copied into this MIT project: strong copyleft into permissive"
    )
    # the text report carries the verdict too
    code, out, _ = run_cli("scan", project, "--index", index)
    assert "error CG-LIC-001 GPL-3.0-only code copied into this MIT project" in out


def test_origin_license_detected_from_its_license_file_and_file_notice_overrides(
    tmp_path: Path, add_json: Any, scan_json: Any, run_cli: Any
) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    (corpus.root / "LICENSE").write_text(MIT_TEXT)
    (corpus.root / "graph.py").write_text(GPL_NOTICE + "\n\n" + TOPO_SORT)
    index = tmp_path / "index"
    add_json(corpus.root, index)
    _, out, _ = run_cli("index", "list", "--index", index, "--json")
    assert json.loads(out)["sources"][0]["license"] == "MIT"
    _, report, _ = scan_json(
        _project(tmp_path / "proj", license_text=None), index, "--project-license", "Apache-2.0"
    )
    origins = {f["chunk"]["name"]: f["origin"]["license"] for f in report["findings"]}
    assert origins == {"levenshtein": "MIT", "topo_sort": "GPL-3.0-or-later"}
    assert _levels(report) == {"levenshtein": ("note", "CG-LIC-008"), "topo_sort": ("error", "CG-LIC-001")}


def test_attribution_already_given_is_not_reported_as_owed(
    tmp_path: Path, add_json: Any, scan_json: Any
) -> None:
    corpus = write_corpus(tmp_path / "algos")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "BSD-3-Clause")
    project = _project(tmp_path / "proj")
    _, report, _ = scan_json(project, index)
    assert _levels(report)["levenshtein"] == ("note", "CG-LIC-008")
    (project / "THIRD-PARTY-NOTICES.txt").write_text(
        "This product includes code from algos (BSD-3-Clause).\n"
    )
    _, report, _ = scan_json(project, index)
    assert _levels(report)["levenshtein"] == ("none", "CG-LIC-008")
    assert "attribution found in THIRD-PARTY-NOTICES.txt" in report["findings"][0]["policy"]["reason"]


def test_vendored_gpl_file_in_mit_project_without_any_corpus(tmp_path: Path, run_cli: Any) -> None:
    project = _project(tmp_path / "proj")
    (project / "vendored.py").write_text(
        "# SPDX-License-Identifier: GPL-3.0-or-later\n\ndef f():\n    return 1\n"
    )
    (project / "ok.py").write_text("# SPDX-License-Identifier: MIT\n\nx = 1\n")
    code, out, err = run_cli("scan", project, "--no-index", "--format", "json")
    assert code == 1, err
    report = json.loads(out)
    assert [
        (f["path"], f["license"], f["level"], f["policy"]["rule_id"]) for f in report["license_findings"]
    ] == [("vendored.py", "GPL-3.0-or-later", "error", "CG-LIC-001")]
    assert report["findings"] == []


def test_custom_policy_file_and_malformed_policy(tmp_path: Path, add_json: Any, run_cli: Any) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "LicenseRef-acme-internal")
    project = _project(tmp_path / "proj")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "rules:\n  - id: ACME-1\n    level: error\n    message: 'internal code in {project}'\n"
        "    when: {origin_license: ['LicenseRef-acme-*']}\n"
    )
    code, out, _ = run_cli("scan", project, "--index", index, "--format", "json", "--policy", policy)
    assert code == 1
    assert _levels(json.loads(out))["levenshtein"] == ("error", "ACME-1")
    policy.write_text("rules:\n  - id: ACME-1\n    level: fatal\n    when: {}\n")
    code, _, err = run_cli("scan", project, "--index", index, "--policy", policy)
    assert code == 2
    assert f"{policy}:3: level 'fatal' is not one of" in err and "Traceback" not in err


def test_unknown_spdx_id_is_a_clear_error(tmp_path: Path, run_cli: Any) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    code, _, err = run_cli("index", "add", corpus.root, "--index", tmp_path / "index", "--license", "GPL3")
    assert code == 2
    assert "'GPL3' is not a valid SPDX expression" in err
    project = _project(tmp_path / "proj")
    code, _, err = run_cli("scan", project, "--no-index", "--project-license", "MIT OR (")
    assert code == 2 and "Traceback" not in err


def test_licenses_command_lists_files_and_project(tmp_path: Path, run_cli: Any) -> None:
    project = _project(tmp_path / "proj")
    (project / "vendored.py").write_text(GPL_NOTICE + "\nx = 1\n")
    code, out, _ = run_cli("licenses", project, "--json")
    assert code == 0
    rep = json.loads(out)
    assert rep["project"]["license"] == "MIT"
    by_path = {(f["path"], f["license"]) for f in rep["files"]}
    assert ("vendored.py", "GPL-3.0-or-later") in by_path
    assert any(p == "LICENSE" and lic == "MIT" for p, lic in by_path)


def test_licenses_command_leaves_out_codeguards_own_files(
    tmp_path: Path, add_json: Any, run_cli: Any
) -> None:
    """A baseline records the licenses of accepted findings' origins; it, .codeguardignore and
    .codeguard/ are codeguard's records, not license declarations of the project."""
    corpus = write_corpus(tmp_path / "gplcorpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "GPL-3.0-only", "--no-ml")
    project = _project(tmp_path / "proj")
    (project / "vendored.py").write_text(GPL_NOTICE + "\nx = 1\n")
    code, _, err = run_cli("baseline", "create", project, "--index", index)
    assert code == 0, err
    baseline = (project / ".codeguard-baseline.json").read_text()
    assert '"license": "GPL-3.0-only"' in baseline
    (project / ".codeguardignore").write_text(
        "# vendored code: SPDX-License-Identifier: GPL-2.0-only\nbuild/\n"
    )
    (project / ".codeguard").mkdir()
    (project / ".codeguard" / "notes.py").write_text(GPL_NOTICE)
    (project / "ci").mkdir()
    (project / "ci" / "accepted.json").write_text(baseline)

    def listed() -> dict[str, str]:
        code, out, err = run_cli("licenses", project, "--json")
        assert code == 0, err
        rep = json.loads(out)
        assert rep["project"]["license"] == "MIT"
        return {f["path"]: f["license"] for f in rep["files"]}

    # the baseline's content is detected under a name codeguard does not know...
    found = listed()
    assert {k: v for k, v in found.items() if k != "ci/accepted.json"} == {
        "LICENSE": "MIT",
        "vendored.py": "GPL-3.0-or-later",
    }
    # (the licenses of the accepted origins and license notices it records)
    assert "GPL-3.0-only" in found["ci/accepted.json"]
    # ...and left out once the configuration names it as the baseline
    (project / ".codeguard.toml").write_text('baseline = "ci/accepted.json"\n')
    assert listed() == {"LICENSE": "MIT", "vendored.py": "GPL-3.0-or-later"}


# Real headers: libstdc++ (GCC runtime library exception), a Bison 3.8 output (Bison exception),
# OpenJDK (Classpath exception).
LIBSTDCXX_HEADER = """\
// Core algorithmic facilities -*- C++ -*-

// Copyright (C) 2001-2022 Free Software Foundation, Inc.
//
// This file is part of the GNU ISO C++ Library.  This library is free
// software; you can redistribute it and/or modify it under the
// terms of the GNU General Public License as published by the
// Free Software Foundation; either version 3, or (at your option)
// any later version.

// This library is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.

// Under Section 7 of GPL version 3, you are granted additional
// permissions described in the GCC Runtime Library Exception, version
// 3.1, as published by the Free Software Foundation.

// You should have received a copy of the GNU General Public License and
// a copy of the GCC Runtime Library Exception along with this program;
// see the files COPYING3 and COPYING.RUNTIME respectively.  If not, see
// <http://www.gnu.org/licenses/>.

"""
BISON_OUTPUT_HEADER = """\
/* A Bison parser, made by GNU Bison 3.8.2.  */

/* Bison implementation for Yacc-like parsers in C

   Copyright (C) 1984, 1989-1990, 2000-2015, 2018-2021 Free Software Foundation,
   Inc.

   This program is free software: you can redistribute it and/or modify
   it under the terms of the GNU General Public License as published by
   the Free Software Foundation, either version 3 of the License, or
   (at your option) any later version.

   This program is distributed in the hope that it will be useful,
   but WITHOUT ANY WARRANTY; without even the implied warranty of
   MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
   GNU General Public License for more details.

   You should have received a copy of the GNU General Public License
   along with this program.  If not, see <https://www.gnu.org/licenses/>.  */

/* As a special exception, you may create a larger work that contains
   part or all of the Bison parser skeleton and distribute that work
   under terms of your choice, so long as that work isn't itself a
   parser generator using the skeleton or a modified version thereof
   as a parser skeleton.  Alternatively, if you modify or redistribute
   the parser skeleton itself, you may (at your option) remove this
   special exception, which will cause the skeleton and the resulting
   Bison output files to be licensed under the GNU General Public
   License without this special exception.

   This special exception was added by the Free Software Foundation in
   version 2.2 of Bison.  */

"""
OPENJDK_HEADER = """\
/*
 * Copyright (c) 1997, 2023, Oracle and/or its affiliates. All rights reserved.
 * DO NOT ALTER OR REMOVE COPYRIGHT NOTICES OR THIS FILE HEADER.
 *
 * This code is free software; you can redistribute it and/or modify it
 * under the terms of the GNU General Public License version 2 only, as
 * published by the Free Software Foundation.  Oracle designates this
 * particular file as subject to the "Classpath" exception as provided
 * by Oracle in the LICENSE file that accompanied this code.
 *
 * This code is distributed in the hope that it will be useful, but WITHOUT
 * ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or
 * FITNESS FOR A PARTICULAR PURPOSE.  See the GNU General Public License
 * version 2 for more details (a copy is included in the LICENSE file that
 * accompanied this code).
 *
 * You should have received a copy of the GNU General Public License version
 * 2 along with this work; if not, write to the Free Software Foundation,
 * Inc., 51 Franklin St, Fifth Floor, Boston, MA 02110-1301 USA.
 *
 * Please contact Oracle, 500 Oracle Parkway, Redwood Shores, CA 94065 USA
 * or visit www.oracle.com if you need additional information or have any
 * questions.
 */
"""


def test_vendored_files_under_exceptions_are_judged_by_what_the_exception_grants(
    tmp_path: Path, run_cli: Any
) -> None:
    project = _project(tmp_path / "proj")
    (project / "algobase.h").write_text(LIBSTDCXX_HEADER + "\nint min_of(int a, int b);\n")
    (project / "parse.tab.c").write_text(BISON_OUTPUT_HEADER + "\nint yyparse (void);\n")
    (project / "Ranges.java").write_text(OPENJDK_HEADER + "\npackage app;\n\nclass Ranges {}\n")
    (project / "odd.c").write_text(
        "// SPDX-License-Identifier: GPL-2.0-only WITH LicenseRef-acme-linking-exception\nint y;\n"
    )
    code, out, err = run_cli("scan", project, "--no-index", "--format", "json")
    assert code == 1, err
    found = {
        f["path"]: (f["license"], f["level"], f["policy"]["reason"])
        for f in json.loads(out)["license_findings"]
    }
    # the Bison exception covers the skeleton in a generated parser: no conflict
    assert set(found) == {"algobase.h", "Ranges.java", "odd.c"}
    assert found["algobase.h"][:2] == ("GPL-3.0-or-later WITH GCC-exception-3.1", "error")
    assert (
        "the GCC runtime library exception covers the compiled runtime, not copied source"
        in found["algobase.h"][2]
    )
    assert found["Ranges.java"][:2] == ("GPL-2.0-only WITH Classpath-exception-2.0", "error")
    assert "the Classpath exception covers linking, not copied source" in found["Ranges.java"][2]
    # an exception no table knows: judged by GPL-2.0-only, and the reason says so
    assert found["odd.c"][1] == "error" and "unknown license exception" in found["odd.c"][2]
    assert "judged as GPL-2.0-only alone" in found["odd.c"][2]
    code, out, _ = run_cli("licenses", project)
    assert code == 0 and "parse.tab.c:1-32  GPL-3.0-or-later WITH Bison-exception-2.2" in out
