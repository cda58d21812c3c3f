"""Git access through gitpython: source arguments, blobs at a revision, HEAD of a work tree."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from codeguard.errors import SourceError

_URL_RE = re.compile(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
_SYMLINK_MODE = 0o120000


@dataclass(frozen=True)
class SourceArg:
    """A reference source as given on the command line."""

    location: str
    revision: str | None
    is_url: bool


def parse_source_arg(arg: str) -> SourceArg:
    """Split ``PATH_OR_URL[@REV]``; a path that exists as given never has a revision."""
    if Path(arg).exists():
        return SourceArg(arg, None, False)
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
            yield GitBlob(str(item.path), item.size, item.mode == _SYMLINK_MODE, item)


def _git_msg(exc: Exception) -> str:
    """git's own complaint ("fatal: ..." lines) from a failed command, on one line."""
    text = str(getattr(exc, "stderr", "") or exc).strip()
    text = text.removeprefix("stderr:").strip().strip("'").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return " ".join(" ".join(fatal or lines).split())[:300]
