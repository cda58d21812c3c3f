"""Git access: source arguments, blobs at a revision and HEAD of a work tree (through
gitpython, for `index add`), and the files of a change (staged content, a diff range) through
plain git subprocesses: importing gitpython alone took longer than the pre-commit scan's git
commands (0.06-0.09 s against about 0.02 s for the seven of them, measured here)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from codeguard.discover import display_name
from codeguard.errors import SourceError, UsageError

_URL_RE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
# git's remote helpers (`transport::address`; `ext::` and `ext://` run any command) are
# never cloned: a source argument must not be a way to execute code.
_HELPER_RE = re.compile(r"^([a-z0-9][a-z0-9+.-]*)?::|^ext://", re.IGNORECASE)
_SCHEMES = frozenset({"http", "https", "ssh", "git", "file", "git+ssh", "ssh+git"})
_SYMLINK_MODE = 0o120000


@dataclass(frozen=True)
class SourceArg:
    """A reference source as given on the command line."""

    location: str
    revision: str | None
    is_url: bool


def parse_source_arg(arg: str) -> SourceArg:
    """Split ``PATH_OR_URL[@REV]``; a path that exists as given never has a revision.

    URLs of git's remote helpers (``ext::``...) and unknown schemes are a usage error."""
    if Path(arg).exists():
        return SourceArg(arg, None, False)
    scheme = arg.split("://", 1)[0].lower() if "://" in arg else None
    if _HELPER_RE.match(arg) or (scheme is not None and _URL_RE.match(arg) and scheme not in _SCHEMES):
        raise UsageError(
            f"Refusing the git URL {arg!r}: only {', '.join(sorted(_SCHEMES))} URLs (or user@host:path) "
            "are cloned; git's remote helpers such as ext:: can run arbitrary commands."
        )
    if "@" in arg:
        left, rev = arg.rsplit("@", 1)
        if rev and (Path(left).exists() or _URL_RE.match(left)):
            return SourceArg(left, rev, not Path(left).exists())
    if _URL_RE.match(arg):
        return SourceArg(arg, None, True)
    raise SourceError(f"No such file, directory or git URL: {arg}")


def head_commit(path: Path) -> str | None:
    """The HEAD commit of the work tree containing ``path``; None outside git, in a repository
    without commits, or where git ignores ``path`` (an install tree inside a tool's checkout)."""
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
        top = Path(repo.working_tree_dir or "").resolve()
        rel = Path(path).resolve().relative_to(top).as_posix()
        if rel != "." and repo.ignored(rel + "/"):
            return None
        return repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError, ValueError):
        return None


@dataclass(frozen=True)
class GitBlob:
    path: str
    size: int
    is_symlink: bool
    blob: object

    def read(self) -> bytes:
        return self.blob.data_stream.read()  # type: ignore[attr-defined,no-any-return]


@contextmanager
def git_tree(location: str, revision: str | None, is_url: bool) -> Iterator[tuple[str, Iterator[GitBlob]]]:
    """(commit sha, blobs) of a repository at a revision; URLs are cloned to a temp dir."""
    import git

    tmp: str | None = None
    try:
        if is_url:
            tmp = tempfile.mkdtemp(prefix="codeguard-clone-")
            try:
                repo = git.Repo.clone_from(location, tmp, bare=True)
            except git.GitCommandError as exc:
                raise SourceError(f"Cannot clone {location}: {_git_msg(exc)}") from None
            except (git.exc.UnsafeProtocolError, git.exc.UnsafeOptionError) as exc:
                raise UsageError(f"Refusing to clone {location}: {exc}") from None
        else:
            try:
                repo = git.Repo(location)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError):
                raise SourceError(
                    f"{location} is not a git repository, so a revision cannot be read from it."
                ) from None
        rev = revision or "HEAD"
        try:
            commit = repo.commit(rev)
            # Some SHAs (the null SHA) resolve without a lookup; reading the tree proves it exists.
            _ = commit.tree
        except (git.BadName, git.BadObject, ValueError, git.GitCommandError):
            raise SourceError(f"Unknown revision {rev!r} in {location}.") from None
        yield commit.hexsha, _blobs(commit)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _blobs(commit: object) -> Iterator[GitBlob]:
    import git

    for item in commit.tree.traverse():  # type: ignore[attr-defined]
        if isinstance(item, git.Blob):
            # git stores names as bytes; those that are not UTF-8 reach us as lone surrogates
            yield GitBlob(display_name(str(item.path)), item.size, item.mode == _SYMLINK_MODE, item)


def _git_msg(exc: Exception) -> str:
    """git's own complaint ("fatal: ..." lines) from a failed command, on one line."""
    text = str(getattr(exc, "stderr", "") or exc).strip()
    text = text.removeprefix("stderr:").strip().strip("'").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return " ".join(" ".join(fatal or lines).split())[:300]


# -- the files of a change: staged content (pre-commit) and a diff range (CI) -----------------
@dataclass(frozen=True)
class ChangedFile:
    """A file of a change: its content on the new side and the lines that changed."""

    path: str  # relative to the repository root, posix
    data: bytes
    changed_lines: frozenset[int] | None  # None: the whole file is new


class _GitFailed(Exception):
    """A git command that exited non-zero (``stderr``: what git said)."""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def _git_env(discover: bool = False) -> dict[str, str]:
    """The environment of a git command: git's messages in English (they are parsed, as
    gitpython does); for finding the work tree, without GIT_DIR / GIT_WORK_TREE, which a hook
    inherits relative to the top of the work tree (they apply once commands run there)."""
    env = os.environ | {"LANGUAGE": "C", "LC_ALL": "C"}
    if discover:
        env.pop("GIT_DIR", None)
        env.pop("GIT_WORK_TREE", None)
    return env


def _git(cwd: Path, *args: str, stdin: bytes | None = None, discover: bool = False) -> bytes:
    """stdout of ``git ARGS`` run in ``cwd`` (paths in its output unquoted); raise _GitFailed."""
    try:
        run = subprocess.run(
            ["git", "-c", "core.quotePath=false", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=_git_env(discover),
        )
    except OSError as exc:  # no git executable, or cwd vanished
        raise _GitFailed(f"fatal: cannot run git: {exc}") from None
    if run.returncode != 0:
        raise _GitFailed(run.stderr.decode("utf-8", "replace"))
    return run.stdout


def _text(out: bytes) -> str:
    """git output as text: names that are not UTF-8 keep their bytes as lone surrogates
    (as os.fsdecode gives them, so they name the same file when passed back)."""
    return out.decode("utf-8", "surrogateescape")


@functools.lru_cache(maxsize=8)
def repo_root(path: Path) -> Path:
    """The top of the git work tree containing ``path`` (as spelled from ``path``: a symlinked
    directory above it is kept, as git reports the resolved one)."""
    start = Path(os.path.abspath(path))
    not_inside = f"{path} is not inside a git repository (needed for --staged / --diff)."
    if not start.exists():
        raise SourceError(not_inside)
    start = start if start.is_dir() else start.parent
    try:
        top = Path(_text(_git(start, "rev-parse", "--show-toplevel", discover=True)).rstrip("\n"))
    except _GitFailed as exc:
        if "must be run in a work tree" in exc.stderr:
            raise SourceError(
                f"{path} is in a bare repository: --staged and --diff need a work tree."
            ) from None
        if "not a git repository" in exc.stderr:
            raise SourceError(not_inside) from None
        raise SourceError(f"Cannot open the git repository of {path}: {_git_msg(exc)}") from None
    for d in (start, *start.parents):
        if d == top or d.resolve() == top:
            return d
    return top


def _is_commit(top: Path, rev: str) -> bool:
    """Whether ``rev`` names a commit (``HEAD``: whether the repository has one yet)."""
    try:
        _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    except _GitFailed:
        return False
    return True


def _blobs_at(top: Path, where: str, names: list[str]) -> dict[str, bytes]:
    """The content of ``names`` in the git index (``where`` "") or in a revision's tree, from
    one ``git cat-file --batch``; names it cannot give as a blob (a submodule, a name with a
    line break) are left out for ``git show``."""
    asked = [n for n in names if "\n" not in n]
    if not asked:
        return {}
    try:
        out = _git(
            top,
            "cat-file",
            "--batch",
            stdin="".join(f"{where}:{n}\n" for n in asked).encode("utf-8", "surrogateescape"),
        )
    except _GitFailed:
        return {}
    blobs: dict[str, bytes] = {}
    pos = 0
    for name in asked:
        eol = out.find(b"\n", pos)
        if eol < 0:
            break
        header = out[pos:eol].split()
        pos = eol + 1
        if len(header) == 3 and len(header[0]) in (40, 64) and header[2].isdigit():
            # "<sha> <type> <size>", then the content and a line break
            size = int(header[2])
            if header[1] == b"blob":
                blobs[name] = out[pos : pos + size]
            pos += size + 1
    return blobs


_HUNK_RE = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def _changed_lines(patch: str) -> frozenset[int]:
    lines: set[int] = set()
    for m in _HUNK_RE.finditer(patch):
        start, count = int(m.group(1)), int(m.group(2) or 1)
        lines.update(range(start, start + count))
    return frozenset(lines)


def _split_patch(patch: str) -> dict[str, str]:
    """Per-file parts of a unified diff made with --no-prefix -z-free output."""
    out: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in patch.splitlines(keepends=True):
        if line.startswith("diff --git "):
            if current is not None:
                out[current] = "".join(buf)
            current, buf = None, []
        elif line.startswith("+++ ") and current is None:
            name = line[4:].rstrip("\n").rstrip("\t")
            current = None if name == "/dev/null" else name.removeprefix("b/")
        buf.append(line)
    if current is not None:
        out[current] = "".join(buf)
    return out


def staged_files(path: Path) -> tuple[list[ChangedFile], list[tuple[str, str]]]:
    """Added, copied, modified and renamed files of the git index (the content to be committed,
    not the work tree), with their changed lines; and (path, reason) of files left out."""
    top = repo_root(path)
    has_head = _is_commit(top, "HEAD")
    base = "HEAD" if has_head else _EMPTY_TREE
    try:
        names = _text(_git(top, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z", base)).split(
            "\0"
        )
        unmerged = set(
            _text(_git(top, "diff", "--cached", "--name-only", "--diff-filter=U", "-z")).split("\0")
        )
        patch = _text(
            _git(top, "diff", "--cached", "-U0", "--diff-filter=ACMR", "--no-color", "--no-ext-diff", base)
        )
    except _GitFailed as exc:
        raise SourceError(f"Cannot read the staged changes: {_git_msg(exc)}") from None
    unmerged -= {""}
    hunks = _split_patch(patch)
    files: list[ChangedFile] = []
    left_out = [(p, "unmerged (merge in progress): resolve and stage it first") for p in sorted(unmerged)]
    wanted = sorted(n for n in names if n and n not in unmerged)
    blobs = _blobs_at(top, "", wanted)
    for name in wanted:
        data = blobs.get(name)
        if data is None:
            try:
                data = _git(top, "show", f":{name}")
            except _GitFailed as exc:
                left_out.append((name, f"unreadable from the index: {_git_msg(exc)}"))
                continue
        lines = _changed_lines(hunks.get(name, "")) if has_head else None
        files.append(ChangedFile(display_name(name), data, lines))
    return files, [(display_name(p), why) for p, why in left_out]


_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def tracked_paths(path: Path, rev: str | None = None) -> frozenset[str]:
    """The files the next commit holds (``rev`` None: the git index) or that ``rev``'s tree
    holds, relative to the repository root (names escaped as reports show them)."""
    top = repo_root(path)
    try:
        args = ("ls-files", "-z") if rev is None else ("ls-tree", "-r", "--name-only", "-z", rev)
        out = _text(_git(top, *args))
    except _GitFailed as exc:
        raise SourceError(f"Cannot list the files of {rev or 'the git index'}: {_git_msg(exc)}") from None
    return frozenset(display_name(n) for n in out.split("\0") if n)


def split_range(spec: str) -> tuple[str, str]:
    """(base, new side) of a diff range ``BASE...HEAD`` / ``BASE..HEAD`` / ``BASE``."""
    for sep in ("...", ".."):
        if sep in spec:
            base, head = spec.split(sep, 1)
            return base, head or "HEAD"
    return spec, "HEAD"


def diff_files(path: Path, spec: str) -> tuple[list[ChangedFile], list[tuple[str, str]]]:
    """Files changed by a range ``BASE...HEAD`` (since the merge base) or ``BASE..HEAD``, with
    their content on the HEAD side and the changed lines."""
    top = repo_root(path)
    base, head = split_range(spec)
    for rev in (base, head):
        if not _is_commit(top, rev):
            raise SourceError(f"Unknown revision {rev!r} in the diff range {spec!r}.")
    try:
        if "..." in spec:
            base = _text(_git(top, "merge-base", base, head)).strip()
        names = _text(_git(top, "diff", "--name-only", "--diff-filter=ACMR", "-z", base, head)).split("\0")
        patch = _text(
            _git(top, "diff", "-U0", "--diff-filter=ACMR", "--no-color", "--no-ext-diff", base, head)
        )
        hunks = _split_patch(patch)
        files = []
        wanted = sorted(n for n in names if n)
        blobs = _blobs_at(top, head, wanted)
        for name in wanted:
            data = blobs.get(name)
            if data is None:
                data = _git(top, "show", f"{head}:{name}")
            files.append(ChangedFile(display_name(name), data, _changed_lines(hunks.get(name, ""))))
    except _GitFailed as exc:
        raise SourceError(f"Cannot diff {spec!r}: {_git_msg(exc)}") from None
    return files, []


def hooks_dir(path: Path) -> Path:
    """The hooks directory of the repository at ``path`` (honours core.hooksPath)."""
    here = Path(os.path.abspath(path))
    try:
        if not here.is_dir():
            raise _GitFailed(f"fatal: no such directory: {path}")
        git_dir = _text(_git(here, "rev-parse", "--absolute-git-dir", discover=True)).rstrip("\n")
    except _GitFailed:
        raise SourceError(f"{path} is not inside a git repository.") from None
    try:
        configured = _text(_git(here, "config", "--get", "core.hooksPath", discover=True)).rstrip("\n")
    except _GitFailed:  # unset
        configured = ""
    if configured:
        p = Path(configured)
        return p if p.is_absolute() else repo_root(path) / p
    return Path(git_dir) / "hooks"


def named_files(
    root: Path, paths: list[Path], staged: tuple[list[ChangedFile], list[tuple[str, str]]]
) -> tuple[list[ChangedFile], list[tuple[str, str]]]:
    """The files a hook is told to check (pre-commit passes their names), each whole: from the
    git index when it has staged changes, else from the work tree. During a commit pre-commit
    names the staged files and has stashed their unstaged edits, so both agree; with
    ``pre-commit run --all-files`` (or ``--files``) it names files that have no staged change,
    and their work-tree content is what it checks. A named directory stands for its staged
    files, with their changed lines (as a scan of the whole index)."""
    top = root.resolve()
    by_path = {c.path: c for c in staged[0]}
    rels: list[str] = []
    raw_of: dict[str, str] = {}  # shown name -> the name on disk (not UTF-8: surrogates)
    dirs: list[str] = []
    left_out = list(staged[1])
    for p in paths:
        full = (Path.cwd() / p).resolve()
        try:
            raw = full.relative_to(top).as_posix()
        except ValueError:
            left_out.append((display_name(str(p)), "outside the git repository"))
            continue
        rel = display_name(raw)
        if full.is_dir():
            dirs.append("" if rel == "." else rel)
        elif rel not in rels:
            rels.append(rel)
            raw_of[rel] = raw
    files = [
        c for c in staged[0] if c.path not in rels and any(not d or c.path.startswith(d + "/") for d in dirs)
    ]
    for rel in rels:
        if rel in by_path:
            files.append(replace(by_path[rel], changed_lines=None))
            continue
        f = top / raw_of[rel]
        if not f.is_file():
            left_out.append((rel, "not a regular file in the work tree"))
            continue
        try:
            files.append(ChangedFile(rel, f.read_bytes(), None))
        except OSError as exc:
            left_out.append((rel, f"unreadable: {exc.strerror or exc}"))
    return files, left_out


def ignored_in(top: Path, path: Path) -> bool:
    """Whether the work tree at ``top`` ignores ``path`` (an output directory inside it)."""
    import subprocess

    try:
        rel = path.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        return False
    if rel == ".":
        return False
    try:
        run = subprocess.run(
            ["git", "-C", str(top), "check-ignore", "-q", rel + ("/" if path.is_dir() else "")],
            capture_output=True,
        )
    except OSError:  # no git: nothing is known to be ignored
        return False
    return run.returncode == 0
