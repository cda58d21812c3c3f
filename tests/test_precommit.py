"""The hook where people commit: the real pre-commit tool running this repository's
.pre-commit-hooks.yaml (from a snapshot of the working tree, as `pre-commit try-repo` would), and
the plain git hook from `codeguard hook install`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVENSHTEIN, TOPO_SORT, git, init_repo, write_corpus

ROOT = Path(__file__).resolve().parents[1]
MIT = (ROOT / "examples" / "demo-project" / "LICENSE").read_text()
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """This checkout's working tree as a git repository at one commit (what `pre-commit try-repo`
    makes of it, but made once), and one PRE_COMMIT_HOME: pre-commit builds the hook's
    environment once per (repository, rev), not once per run."""
    snap = init_repo(tmp_path_factory.mktemp("hook-repo") / "codeguard")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src, dst = ROOT / rel, snap / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():  # codeguard/_rules -> ../rules
            os.symlink(os.readlink(src), dst)
        elif src.is_file():
            shutil.copy2(src, dst)
    git(snap, "add", "-A")
    git(snap, "commit", "-qm", "snapshot")
    rev = git(snap, "rev-parse", "HEAD").strip()
    return snap, rev, tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def project(tmp_path: Path, add_json: Any, hook_repo: tuple[Path, str, Path]) -> tuple[Path, dict[str, str]]:
    corpus = write_corpus(tmp_path / "gplcorpus")
    index = tmp_path / "index"
    add_json(corpus.root, index, "--license", "GPL-3.0-only")
    root = init_repo(tmp_path / "project")
    (root / "LICENSE").write_text(MIT)
    repo, rev, home = hook_repo
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {repo}\n  rev: {rev}\n  hooks:\n  - id: codeguard\n"
    )
    git(root, "add", ".")
    git(root, "commit", "-qm", "initial")
    env = dict(os.environ, CODEGUARD_INDEX=str(index), PRE_COMMIT_HOME=str(home))
    return root, env


def pre_commit(root: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit run` of this repository's codeguard hook (.pre-commit-hooks.yaml)."""
    return subprocess.run(
        [PRE_COMMIT, "run", "codeguard", *extra],  # type: ignore[list-item]
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.skipif(
    PRE_COMMIT is None, reason="the pre-commit tool is not installed (pip install -e '.[dev]')"
)
def test_manifest_is_valid_for_pre_commit() -> None:
    subprocess.run([PRE_COMMIT, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")], check=True)  # type: ignore[list-item]


@pytest.mark.skipif(
    PRE_COMMIT is None, reason="the pre-commit tool is not installed (pip install -e '.[dev]')"
)
def test_pre_commit_blocks_a_copied_gpl_function_and_passes_a_clean_commit(
    project: tuple[Path, dict[str, str]],
) -> None:
    root, env = project
    (root / "dist.py").write_text("import os\n\n\n" + LEVENSHTEIN)
    (root / "notes.md").write_text("not code\n")
    git(root, "add", ".")
    run = pre_commit(root, env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        "dist.py:4-" in run.stdout
        and "error CG-LIC-001 GPL-3.0-only code copied into this MIT project" in run.stdout
    )
    git(root, "rm", "-q", "--cached", "dist.py")
    (root / "clean.py").write_text("def clean():\n    return 42\n")
    git(root, "add", "clean.py")
    run = pre_commit(root, env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Passed" in run.stdout


@pytest.mark.skipif(
    PRE_COMMIT is None, reason="the pre-commit tool is not installed (pip install -e '.[dev]')"
)
def test_pre_commit_all_files_checks_committed_files_and_honours_the_baseline(
    project: tuple[Path, dict[str, str]], run_cli: Any
) -> None:
    root, env = project
    (root / "pkg").mkdir()
    (root / "pkg" / "dist.py").write_text("import os\n\n\n" + LEVENSHTEIN)
    (root / "pkg" / "clean.py").write_text("def clean():\n    return 42\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "a GPL copy committed without the hook")

    def try_repo(*extra: str) -> subprocess.CompletedProcess[str]:
        return pre_commit(root, env, *extra)

    # nothing staged: a commit would check nothing, --all-files checks every file
    assert try_repo().returncode == 0
    run = try_repo("--all-files")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "pkg/dist.py:4-" in run.stdout and "CG-LIC-001" in run.stdout
    assert "codeguard baseline create" in run.stdout  # the next step
    # a staged edit elsewhere in the file does not hide the old copy from --all-files
    (root / "pkg" / "dist.py").write_text("import os\nimport sys\n\n\n" + LEVENSHTEIN)
    git(root, "add", "pkg/dist.py")
    assert try_repo("--all-files").returncode == 1
    # accepted in the default baseline: --all-files and the commit pass
    code, out, err = run_cli("baseline", "create", root, "--index", env["CODEGUARD_INDEX"])
    assert code == 0, err
    run = try_repo("--all-files")
    assert run.returncode == 0 and "Passed" in run.stdout, run.stdout + run.stderr
    assert try_repo().returncode == 0
    # --files passes named work-tree files: an unstaged new copy is found
    (root / "pkg" / "graph.py").write_text(TOPO_SORT)
    run = try_repo("--files", "pkg/graph.py")
    assert run.returncode == 1 and "pkg/graph.py:1-" in run.stdout


@pytest.mark.skipif(
    PRE_COMMIT is None, reason="the pre-commit tool is not installed (pip install -e '.[dev]')"
)
def test_pre_commit_passes_a_git_mv_of_an_accepted_file(
    project: tuple[Path, dict[str, str]], run_cli: Any
) -> None:
    """pre-commit passes the renamed file's new name: the accepted copy in it moved since
    accepted (its old path is gone), so the commit passes; a copy of it elsewhere is new."""
    root, env = project
    (root / "pkg").mkdir()
    (root / "pkg" / "dist.py").write_text("import os\n\n\n" + LEVENSHTEIN)
    assert run_cli("baseline", "create", root, "--index", env["CODEGUARD_INDEX"])[0] == 0
    git(root, "add", ".")
    git(root, "commit", "-qm", "an accepted GPL copy")
    (root / "vendor").mkdir()
    git(root, "mv", "pkg/dist.py", "vendor/dist.py")
    run = pre_commit(root, env)
    assert run.returncode == 0 and "Passed" in run.stdout, run.stdout + run.stderr
    run = pre_commit(root, env, "--all-files")
    assert run.returncode == 0, run.stdout + run.stderr
    shutil.copy(root / "vendor" / "dist.py", root / "pkg" / "copy.py")
    git(root, "add", "pkg/copy.py")
    run = pre_commit(root, env)
    assert run.returncode == 1 and "pkg/copy.py:4-" in run.stdout, run.stdout + run.stderr


@pytest.mark.skipif(
    PRE_COMMIT is None, reason="the pre-commit tool is not installed (pip install -e '.[dev]')"
)
def test_pre_commit_and_git_hook_accept_a_vendored_notice_and_an_edited_accepted_copy(
    project: tuple[Path, dict[str, str]], run_cli: Any
) -> None:
    """Issue 14, items 4 and 5 through the real pre-commit and the plain git hook: a vendored GPL
    file (its own notice and its copy) accepted in the baseline passes; an edit of one operator in
    the accepted copy passes as changed since accepted; an inline allow accepts the notice."""
    root, env = project
    vendored = root / "vendor" / "distance.py"
    vendored.parent.mkdir()
    vendored.write_text("# SPDX-License-Identifier: GPL-3.0-only\nimport os\n\n\n" + LEVENSHTEIN)
    git(root, "add", ".")
    git(root, "commit", "-qm", "vendored")
    run = pre_commit(root, env, "--all-files")
    assert run.returncode == 1 and "vendor/distance.py:1-1 license notice GPL-3.0-only" in run.stdout
    code, out, err = run_cli("baseline", "create", root, "--index", env["CODEGUARD_INDEX"])
    assert code == 0 and "2 finding(s) accepted (1 license notice(s))" in out, err
    git(root, "add", ".codeguard-baseline.json")
    run = pre_commit(root, env, "--all-files")
    assert run.returncode == 0 and "Passed" in run.stdout, run.stdout + run.stderr
    git(root, "commit", "-qm", "baseline")
    vendored.write_text(vendored.read_text().replace("delete = previous[j] + 1", "delete = previous[j] - 1"))
    git(root, "add", "vendor/distance.py")
    run = pre_commit(root, env, "--verbose")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 accepted finding(s) changed since accepted" in run.stdout
    assert run_cli("hook", "install", root)[0] == 0
    commit = subprocess.run(
        ["git", "commit", "-qm", "edit"], cwd=root, env={**env, **_identity()}, capture_output=True, text=True
    )
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert "1 accepted finding(s) changed since accepted" in commit.stdout + commit.stderr
    # without the baseline, an allow comment with a reason accepts the notice (not the copy)
    (root / ".codeguard-baseline.json").unlink()
    vendored.write_text('# codeguard: allow * reason="vendored, LEGAL-9"\n' + vendored.read_text())
    git(root, "add", "-A")
    run = pre_commit(root, env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "license notice" not in run.stdout and "vendor/distance.py:" in run.stdout


# An OpenJDK source file: its header puts it under GPL-2.0-only WITH Classpath-exception-2.0.
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
 */
"""
OPENJDK_METHOD = """\
    static int binarySearchRange(long[] a, int fromIndex, int toIndex, long key) {
        if (fromIndex > toIndex) {
            throw new IllegalArgumentException("fromIndex(" + fromIndex + ") > toIndex(" + toIndex + ")");
        }
        int low = fromIndex;
        int high = toIndex - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            long midVal = a[mid];
            if (midVal < key) {
                low = mid + 1;
            } else if (midVal > key) {
                high = mid - 1;
            } else {
                return mid;
            }
        }
        return -(low + 1);
    }
"""


@pytest.mark.skipif(
    PRE_COMMIT is None, reason="the pre-commit tool is not installed (pip install -e '.[dev]')"
)
def test_pre_commit_blocks_openjdk_source_despite_the_classpath_exception(
    project: tuple[Path, dict[str, str]], add_json: Any, tmp_path: Path
) -> None:
    """The Classpath exception lets code link to the JDK; a copy of its source is GPL-2.0-only code."""
    root, env = project
    jdk = write_corpus(
        tmp_path / "jdk",
        {
            "src/java.base/share/classes/java/util/Ranges.java": OPENJDK_HEADER
            + "\npackage java.util;\n\nclass Ranges {\n"
            + OPENJDK_METHOD
            + "}\n"
        },
    )
    add_json(jdk.root, tmp_path / "jdk-index", "--name", "openjdk")
    (root / "Search.java").write_text("package app;\n\nfinal class Search {\n" + OPENJDK_METHOD + "}\n")
    git(root, "add", "Search.java")
    run = pre_commit(root, {**env, "CODEGUARD_INDEX": str(tmp_path / "jdk-index")})
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        "error CG-LIC-001 GPL-2.0-only WITH Classpath-exception-2.0 code copied into this MIT project"
        in run.stdout
    )
    assert "the Classpath exception covers linking, not copied source" in run.stdout


def test_plain_git_hook_blocks_the_commit(project: tuple[Path, dict[str, str]], run_cli: Any) -> None:
    root, env = project
    code, out, err = run_cli("hook", "install", root)
    assert code == 0, err
    hook = root / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK)
    (root / "dist.py").write_text(LEVENSHTEIN)
    git(root, "add", ".")
    commit = subprocess.run(
        ["git", "commit", "-qm", "copy"], cwd=root, env={**env, **_identity()}, capture_output=True, text=True
    )
    assert commit.returncode != 0
    assert "CG-LIC-001" in commit.stdout + commit.stderr
    git(root, "rm", "-q", "--cached", "dist.py")
    (root / "clean.py").write_text("def clean():\n    return 42\n")
    git(root, "add", "clean.py")
    commit = subprocess.run(
        ["git", "commit", "-qm", "clean"],
        cwd=root,
        env={**env, **_identity()},
        capture_output=True,
        text=True,
    )
    assert commit.returncode == 0, commit.stdout + commit.stderr
    # a foreign hook is not overwritten without --force
    hook.write_text("#!/bin/sh\nexit 0\n")
    code, _, err = run_cli("hook", "install", root)
    assert code == 2 and "--force" in err


def _identity() -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }


def test_hook_install_outside_git_says_what_to_do(tmp_path: Path, run_cli: Any) -> None:
    """`codeguard hook install` outside a git repository is a usage error about the hook (not
    about --staged / --diff, which the user did not give)."""
    code, out, err = run_cli("hook", "install", tmp_path)
    assert code == 2 and out == ""
    assert f"codeguard hook install: {tmp_path} is not inside a git repository" in err
    assert "`git init`" in err and "--staged" not in err and "Traceback" not in err
