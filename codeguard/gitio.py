"""Git access through gitpython: source arguments, blobs at a revision, HEAD of a work tree."""

from __future__ import annotations

import functools
import re
import shutil
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


@functools.lru_cache(maxsize=8)
def _repo(path: Path) -> object:
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(f"{path} is not inside a git repository (needed for --staged / --diff).") from None
    # Paths with spaces or non-ASCII characters appear unquoted in diffs.
    repo.git.set_persistent_git_options(c="core.quotePath=false")
    return repo


def repo_root(path: Path) -> Path:
    """The top of the git work tree containing ``path``."""
    repo = _repo(path)
    top = repo.working_tree_dir  # type: ignore[attr-defined]
    if top is None:
        raise SourceError(f"{path} is in a bare repository: --staged and --diff need a work tree.")
    return Path(top)


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
    import git

    repo = _repo(path)
    g = repo.git  # type: ignore[attr-defined]
    has_head = repo.head.is_valid()  # type: ignore[attr-defined]
    base = "HEAD" if has_head else _EMPTY_TREE
    try:
        names = g.diff("--cached", "--name-only", "--diff-filter=ACMR", "-z", base).split("\0")
        unmerged = set(g.diff("--cached", "--name-only", "--diff-filter=U", "-z").split("\0")) - {""}
        patch = g.diff("--cached", "-U0", "--diff-filter=ACMR", "--no-color", "--no-ext-diff", base)
    except git.GitCommandError as exc:
        raise SourceError(f"Cannot read the staged changes: {_git_msg(exc)}") from None
    hunks = _split_patch(patch)
    files: list[ChangedFile] = []
    left_out = [(p, "unmerged (merge in progress): resolve and stage it first") for p in sorted(unmerged)]
    for name in sorted(n for n in names if n and n not in unmerged):
        try:
            data = g.show(f":{name}", stdout_as_string=False, strip_newline_in_stdout=False)
        except git.GitCommandError as exc:
            left_out.append((name, f"unreadable from the index: {_git_msg(exc)}"))
            continue
        lines = _changed_lines(hunks.get(name, "")) if has_head else None
        files.append(ChangedFile(display_name(name), data, lines))
    return files, [(display_name(p), why) for p, why in left_out]


_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def tracked_paths(path: Path, rev: str | None = None) -> frozenset[str]:
    """The files the next commit holds (``rev`` None: the git index) or that ``rev``'s tree
    holds, relative to the repository root (names escaped as reports show them)."""
    import git

    repo = _repo(path)
    g = repo.git  # type: ignore[attr-defined]
    try:
        out = g.ls_files("-z") if rev is None else g.ls_tree("-r", "--name-only", "-z", rev)
    except git.GitCommandError as exc:
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
    import git

    repo = _repo(path)
    g = repo.git  # type: ignore[attr-defined]
    base, head = split_range(spec)
    for rev in (base, head):
        try:
            repo.commit(rev)  # type: ignore[attr-defined]
        except (git.BadName, ValueError, git.GitCommandError):
            raise SourceError(f"Unknown revision {rev!r} in the diff range {spec!r}.") from None
    try:
        if "..." in spec:
            base = g.merge_base(base, head).strip()
        names = g.diff("--name-only", "--diff-filter=ACMR", "-z", base, head).split("\0")
        patch = g.diff("-U0", "--diff-filter=ACMR", "--no-color", "--no-ext-diff", base, head)
    except git.GitCommandError as exc:
        raise SourceError(f"Cannot diff {spec!r}: {_git_msg(exc)}") from None
    hunks = _split_patch(patch)
    files = []
    for name in sorted(n for n in names if n):
        data = g.show(f"{head}:{name}", stdout_as_string=False, strip_newline_in_stdout=False)
        files.append(ChangedFile(display_name(name), data, _changed_lines(hunks.get(name, ""))))
    return files, []


def hooks_dir(path: Path) -> Path:
    """The hooks directory of the repository at ``path`` (honours core.hooksPath)."""
    repo = _repo(path)
    try:
        configured = repo.git.config("--get", "core.hooksPath")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - unset
        configured = ""
    if configured:
        p = Path(configured)
        return p if p.is_absolute() else repo_root(path) / p
    return Path(repo.git_dir) / "hooks"  # type: ignore[attr-defined]


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
