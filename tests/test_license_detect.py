"""License detection on real-looking files: full texts, header notices, SPDX tags, no license.

These use the real rule index built from the installed ``licensedcode-data`` (built once into
the user cache on first use, from the rule set shipped in the package, then memory-mapped).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codeguard.licenses.detect import (
    MAX_SCAN_CHARS,
    LicenseMatch,
    category_of,
    detect_licenses,
    is_truncated,
    scancode_to_spdx,
)
from codeguard.licenses.index import prefix_hashes, span_hashes
from codeguard.licenses.spdx import UnknownLicenseError
from codeguard.licenses.tokenize import query_words, rule_words

MIT_LICENSE = """\
MIT License

Copyright (c) 2021 Jane Example

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

APACHE_JAVA = """\
/*
 * Copyright 2019 Example Corp.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *      http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */
package com.example.widgets;

import java.util.List;

public final class WidgetRegistry {
    private final List<String> names;

    public WidgetRegistry(List<String> names) {
        this.names = names;
    }
}
"""

# The GNU notice with the program's own name instead of "this program": an edited copy.
GPL2_PLUS_PY = """\
#!/usr/bin/env python3
# quuxify - rename files in bulk
# Copyright (C) 2003 Some Hacker
#
# Quuxify is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.

import os


def main():
    for name in os.listdir("."):
        print(name)
"""

BSD3_C = """\
/*
 * Copyright (c) 2008, Acme Widgets Ltd
 * All rights reserved.
 *
 * Redistribution and use in source and binary forms, with or without
 * modification, are permitted provided that the following conditions are met:
 *     * Redistributions of source code must retain the above copyright
 *       notice, this list of conditions and the following disclaimer.
 *     * Redistributions in binary form must reproduce the above copyright
 *       notice, this list of conditions and the following disclaimer in the
 *       documentation and/or other materials provided with the distribution.
 *     * Neither the name of Acme Widgets Ltd nor the names of its contributors
 *       may be used to endorse or promote products derived from this software
 *       without specific prior written permission.
 *
 * THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
 * AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
 * IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
 * ARE DISCLAIMED. IN NO EVENT SHALL ACME WIDGETS LTD BE LIABLE FOR ANY DIRECT,
 * INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
 * (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
 * LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND
 * ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
 * (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
 * SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
 */

#include <stdio.h>

/* Prints its arguments, one per line. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        puts(argv[i]);
    return 0;
}
"""

NO_LICENSE_PY = '''\
"""Small helpers for parsing configuration values."""

from __future__ import annotations


def parse_bool(value: str) -> bool:
    """True for yes/true/on/1, False otherwise."""
    return value.strip().lower() in {"yes", "true", "on", "1"}


def parse_list(value: str) -> list[str]:
    # commas separate items; blanks around them are dropped
    return [item.strip() for item in value.split(",") if item.strip()]
'''


def keys(matches: list[LicenseMatch]) -> list[str]:
    return [m.key for m in matches]


def test_mit_license_file() -> None:
    matches = detect_licenses(MIT_LICENSE)
    # the "MIT License" title is a reference of its own (as in ScanCode), then the full text
    assert set(keys(matches)) == {"mit"}
    text = [m for m in matches if m.kind == "text"]
    assert len(text) == 1
    assert (text[0].start_line, text[0].end_line) == (5, 21)
    assert text[0].spdx == "MIT"
    assert text[0].score == 1.0
    assert text[0].rule.endswith((".LICENSE", ".RULE"))


@pytest.mark.parametrize(
    ("line", "spdx"),
    [
        # Debian copyright files (tar, gmp): ScanCode's rules know "GPL-3+" and the Bison
        # exception, not the pair on one line; the exception must not be lost
        ("License: GPL-3+ with Bison exception", "GPL-3.0-or-later WITH Bison-exception-2.2"),
        # a GPLv3 section-7 exception cannot modify GPL-2.0: the GCC exception is the 2.0 one
        ("License: GPL-2+ with GCC exception", "GPL-2.0-or-later WITH GCC-exception-2.0"),
        ("License: GPL-3+ with GCC exception", "GPL-3.0-or-later WITH GCC-exception-3.1"),
        ("License: GPL-2 with Font exception", "GPL-2.0-only WITH Font-exception-2.0"),
        # an exception no database names stays the license alone
        ("License: LGPL-2.1+ with Frobnitz exception", "LGPL-2.1-or-later"),
    ],
)
def test_license_named_with_its_exception_on_one_line(line: str, spdx: str) -> None:
    assert [m.spdx for m in detect_licenses(f"Files: *\nCopyright: 2020 A\n{line}\n")] == [spdx]


def _license_text(key: str) -> str:
    """The full text of a license as ScanCode's database holds it (the installed package)."""
    from codeguard.licenses.ruledb import _split_front_matter, data_dir

    return _split_front_matter((data_dir() / "licenses" / f"{key}.LICENSE").read_text())[1]


@pytest.mark.parametrize("key", ["gpl-3.0", "lgpl-2.1", "gpl-2.0"])
@pytest.mark.parametrize("edit", ["section deleted", "typos"])
def test_edited_full_license_text_is_that_license_only(key: str, edit: str) -> None:
    """A full text with a section deleted or words misspelt is one match of that text: the
    deleted section does not split it, and no phrase of it ("GNU General Public License",
    next to an edit) is reported as a license of its own (a spurious GPL-1.0-or-later)."""
    text = _license_text(key)
    if edit == "typos":
        text = text.replace(" the ", " teh ", 40)
    else:  # 6% of the lines, a third of the way in
        lines = text.split("\n")
        text = "\n".join(lines[: len(lines) * 30 // 100] + lines[len(lines) * 36 // 100 :])
    matches = detect_licenses(text)
    assert keys(matches) == [key]
    assert matches[0].kind == "text" and matches[0].score > 0.9


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("This code is licensed under the IBM Public License 1.0.\n", "ibmpl-1.0"),
        ("Distributed under the terms of the IETF Trust License.\n", "ietf-trust"),
    ],
)
def test_license_named_by_its_database_name(text: str, key: str) -> None:
    """No rule says these names; the database's own name for the license does."""
    assert key in keys(detect_licenses(text))


def test_license_name_split_over_lines_names_nothing() -> None:
    """A copyright holder on one line and a field on the next are no license name."""
    text = "Files: doc/rfc5215.*\nCopyright: 2008, The IETF Trust\nLicense: RFC-special\n"
    assert "ietf-trust" not in keys(detect_licenses(text))


def test_apache_header_in_java_comment() -> None:
    matches = detect_licenses(APACHE_JAVA)
    assert keys(matches) == ["apache-2.0"]
    (m,) = matches
    assert m.spdx == "Apache-2.0"
    assert m.kind == "notice"
    assert (m.start_line, m.end_line) == (4, 14)


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_line_numbers_with_windows_and_old_mac_line_ends(newline: str) -> None:
    text = (APACHE_JAVA + "// SPDX-License-Identifier: MIT\n").replace("\n", newline)
    tag_line = APACHE_JAVA.count("\n") + 1
    matches = detect_licenses(text)
    assert [(m.key, m.start_line, m.end_line) for m in matches] == [
        ("apache-2.0", 4, 14),
        ("mit", tag_line, tag_line),
    ]


def test_gpl2_or_later_notice_with_program_name() -> None:
    matches = detect_licenses(GPL2_PLUS_PY)
    assert keys(matches) == ["gpl-2.0-plus"]
    assert matches[0].spdx == "GPL-2.0-or-later"
    assert matches[0].kind == "notice"
    assert 5 <= matches[0].start_line <= matches[0].end_line <= 8


def test_bsd3_notice_in_first_comment_with_own_names() -> None:
    matches = detect_licenses(BSD3_C)
    assert keys(matches) == ["bsd-new"]
    assert matches[0].spdx == "BSD-3-Clause"
    assert matches[0].end_line <= 27


def test_spdx_tag_with_or_expression() -> None:
    text = "// SPDX-License-Identifier: MIT OR Apache-2.0\nint x;\n"
    matches = detect_licenses(text)
    assert len(matches) == 1
    (m,) = matches
    assert m.kind == "tag"
    assert m.key == "mit OR apache-2.0"
    assert m.spdx == "MIT OR Apache-2.0"
    assert (m.start_line, m.end_line) == (1, 1)


@pytest.mark.parametrize(
    ("text", "spdx"),
    [
        # numpy's and packaging's core metadata (PEP 639): MIT and Zlib were lost, the OR split
        (
            "Metadata-Version: 2.4\nLicense-Expression: BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0\n",
            "BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0",
        ),
        ("Name: packaging\nLicense-Expression: Apache-2.0 OR BSD-2-Clause\n", "Apache-2.0 OR BSD-2-Clause"),
        ('{\n  "name": "x",\n  "license": "(MIT OR CC0-1.0)",\n}\n', "MIT OR CC0-1.0"),
        ('[package]\nlicense = "MIT OR Apache-2.0"\n', "MIT OR Apache-2.0"),
        ("Licence: GPL-2.0+ or MIT\n", "GPL-2.0-or-later OR MIT"),
        ("License: LGPL-2.1 or BSD-2-Clause\n", "LGPL-2.1-only OR BSD-2-Clause"),
    ],
)
def test_license_field_joining_ids_is_read_as_an_expression(text: str, spdx: str) -> None:
    """A metadata field that joins SPDX ids with operators is one expression, every id kept."""
    assert [m.spdx for m in detect_licenses(text)] == [spdx]


@pytest.mark.parametrize(
    "line", ["License: Apache License, Version 2.0", "License: MIT", "License: see LICENSE or COPYING"]
)
def test_license_field_of_prose_or_one_id_is_left_to_the_rules(line: str) -> None:
    assert all(m.rule != "spdx-license-identifier" for m in detect_licenses(line + "\n"))


def test_spdx_tag_in_comment_closers_and_legacy_ids() -> None:
    text = "/* SPDX-License-Identifier: GPL-2.0+ WITH Linux-syscall-note */\n"
    (m,) = detect_licenses(text)
    assert m.key == "gpl-2.0-plus WITH linux-syscall-exception-gpl"
    assert m.spdx == "GPL-2.0-or-later WITH Linux-syscall-note"
    (m,) = detect_licenses("# SPDX-License-Identifier: GPL-2.0-with-classpath-exception\n")
    assert m.key == "gpl-2.0 WITH classpath-exception-2.0"


@pytest.mark.parametrize(
    "tag",
    ["Apache2.0", "MIT OR", "((GPL-2.0", "MIT AND AND BSD", "Foo/Bar", "\u00e9\u00e8 OR \u2603"],
)
def test_misspelled_or_malformed_spdx_tag_never_crashes(tag: str) -> None:
    matches = detect_licenses(f"# SPDX-License-Identifier: {tag}\nprint('hi')\n")
    tags = [m for m in matches if m.kind == "tag"]
    assert len(tags) <= 1
    for m in tags:
        assert "unknown-spdx" in m.key or m.key  # always a usable key
        assert m.spdx


def test_unknown_spdx_id_is_reported_as_unknown() -> None:
    (m,) = detect_licenses("// SPDX-License-Identifier: Apache2.0\n")
    assert m.key == "unknown-spdx"
    assert m.spdx == "LicenseRef-scancode-unknown-spdx"


def test_file_without_license() -> None:
    assert detect_licenses(NO_LICENSE_PY) == []
    assert detect_licenses("") == []


def test_matches_are_ordered_by_position() -> None:
    text = BSD3_C + "\n" + APACHE_JAVA + "\n// SPDX-License-Identifier: MIT\n"
    matches = detect_licenses(text)
    assert keys(matches) == ["bsd-new", "apache-2.0", "mit"]
    starts = [m.start_line for m in matches]
    assert starts == sorted(starts)


def test_binary_and_odd_input_never_crash() -> None:
    assert detect_licenses("GPL\x00\x01\x02" * 1000) == []
    junk = "".join(chr(c) for c in range(0x20, 0x3000, 7)) * 20
    assert isinstance(detect_licenses(junk), list)
    assert isinstance(detect_licenses("\ud800 lone surrogate \udfff MIT"), list)


def test_huge_input_is_truncated_not_rejected() -> None:
    filler = "x = 1\n" * (MAX_SCAN_CHARS // 6 + 10)
    text = APACHE_JAVA + filler + MIT_LICENSE
    assert is_truncated(text)
    assert keys(detect_licenses(text)) == ["apache-2.0"]  # the MIT text lies past the limit


def test_scancode_to_spdx_and_categories() -> None:
    assert scancode_to_spdx("gpl-2.0-plus") == "GPL-2.0-or-later"
    assert scancode_to_spdx("mit OR (apache-2.0 AND bsd-new)") == "MIT OR (Apache-2.0 AND BSD-3-Clause)"
    assert (
        scancode_to_spdx("gpl-2.0 WITH classpath-exception-2.0")
        == "GPL-2.0-only WITH Classpath-exception-2.0"
    )
    assert scancode_to_spdx("proprietary-license") == "LicenseRef-scancode-proprietary-license"
    assert category_of("mit") == "Permissive"
    assert category_of("MIT") == "Permissive"
    assert category_of("GPL-3.0-or-later") == "Copyleft"
    assert category_of("lgpl-2.1") == "Copyleft Limited"
    assert category_of("LicenseRef-scancode-proprietary-license") == "Commercial"
    assert category_of("public-domain") == "Public Domain"
    with pytest.raises(UnknownLicenseError):
        category_of("Not-A-License-1.0")


def test_tokenizer_drops_comment_markers_and_markup() -> None:
    words, lines = query_words("# Licensed under the MIT license\n// see <a href='x'>COPYING</a>\n")
    assert words == ["licensed", "under", "the", "mit", "license", "see", "x", "copying"]
    assert lines.tolist() == [1, 1, 1, 1, 1, 2, 2, 2]
    words, spans = rule_words("Licensed under {{the GPL}} version {{2 or later}}")
    assert words == ["licensed", "under", "the", "gpl", "version", "2", "or", "later"]
    assert spans == [(2, 4), (5, 8)]


def test_rolling_hash_equals_direct_polynomial_hash() -> None:
    rng = np.random.default_rng(7)
    tokens = rng.integers(1, 30_000, size=500)
    prefix = prefix_hashes(tokens)
    for start, length in [(0, 1), (3, 6), (100, 250), (499, 1)]:
        h = 0
        for t in tokens[start : start + length]:
            h = (h * 0x9E3779B97F4A7C15 + int(t)) % (1 << 64)
        assert int(span_hashes(prefix, np.array([start]), length)[0]) == h


REPO = Path(__file__).resolve().parents[1]
BUILDING = "building the license rule index"
# Peak RSS of a first run (measured here: 355 MB from the shipped rule set, ~400 MB reading the
# database; before the rule set was shipped: 1.0 GB).
MAX_FIRST_RUN_RSS_MB = 600


# The child reports its own peak from /proc: ru_maxrss (getrusage, wait4) would include the RSS
# of the big pytest process it was forked from, which Linux carries over an exec.
_PEAK_PRELUDE = """
import atexit, os
def _peak():
    with open("/proc/self/status") as fh:
        kb = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(kb)
atexit.register(_peak)
"""
needs_proc = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak RSS is read from /proc")


def _run_measured(code: str, args: list[str], env: dict[str, str], tmp: Path) -> tuple[int, str, str, float]:
    """Run ``python -c code args``: exit code, stdout, stderr and its peak RSS in MB."""
    peak = tmp / "peak-kb"
    env = env | {"PEAK_FILE": str(peak)}
    cmd = [sys.executable, "-c", _PEAK_PRELUDE + code, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    return out.returncode, out.stdout, out.stderr, int(peak.read_text()) / 1024


_CLI = "import runpy, sys; sys.argv[0] = 'codeguard'; runpy.run_module('codeguard', run_name='__main__')"


def _fresh_home_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEGUARD_")}
    env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONPATH": str(REPO)})
    return env


@needs_proc
def test_first_run_on_a_fresh_machine_is_quiet_fast_and_small(tmp_path: Path) -> None:
    """An empty home directory: the index comes from the shipped rule set, in the user cache,
    without the database build (no notice) and far below the 1 GB it took."""
    home = tmp_path / "home"
    home.mkdir()
    cmd = ["licenses", "examples/demo-project", "--json"]
    code, out, err, rss = _run_measured(_CLI, cmd, _fresh_home_env(home), tmp_path)
    assert code == 0, err
    assert json.loads(out)["project"]["license"] == "MIT"
    assert BUILDING not in err
    built = list((home / ".cache" / "codeguard" / "licenses").glob("index-*/meta.json"))
    assert len(built) == 1, "the index is cached in the user cache directory"
    assert rss < MAX_FIRST_RUN_RSS_MB, f"first run peaked at {rss:.0f} MB"
    # the second run loads the cached index
    code, out, err, rss_again = _run_measured(_CLI, cmd, _fresh_home_env(home), tmp_path)
    assert code == 0 and BUILDING not in err
    assert rss_again < rss


_FROM_DATABASE = """
import json, sys
from pathlib import Path
from codeguard.licenses import index, ruleset
rules = index.rules_for_build(packaged=None)
shipped = ruleset.load()
assert shipped is not None, "no shipped rule set"
same = rules.meta == shipped.meta and all(
    rules.arrays[n].dtype == shipped.arrays[n].dtype and (rules.arrays[n] == shipped.arrays[n]).all()
    for n in ruleset.BASE_ARRAYS
)
index.build_index(Path(sys.argv[1]), rules)
print(json.dumps({"same": bool(same), "same_bytes": rules.to_bytes() == ruleset.PACKAGED.read_bytes()}))
"""


@needs_proc
def test_rule_set_read_from_the_database_is_the_shipped_one(tmp_path: Path) -> None:
    """Without a shipped rule set the database is read, after one line on stderr that says why;
    the result is the shipped file byte for byte (``make license-rules`` reproduces it: if this
    fails after a change of the tokenizer or of the licensedcode-data pin, run it)."""
    code, out, err, rss = _run_measured(
        _FROM_DATABASE, [str(tmp_path / "index")], _fresh_home_env(tmp_path), tmp_path
    )
    assert code == 0, err
    assert json.loads(out) == {"same": True, "same_bytes": True}, "codeguard/licenses/ruleset.xz is stale"
    assert err.count(BUILDING) == 1 and "once per database version" in err
    assert (tmp_path / "index" / "meta.json").is_file()
    assert rss < MAX_FIRST_RUN_RSS_MB, f"reading the database peaked at {rss:.0f} MB"
