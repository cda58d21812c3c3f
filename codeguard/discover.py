"""Discover the files of a tree and decide which ones can be scanned, with reasons for the rest.

Honours ``.gitignore`` files (nested, with git's semantics through pathspec) and
``.codeguardignore``. Symlinked directories are not followed (no loops); symlinked files are
read when they resolve. Binary, over-size, minified and undecodable files are skipped with a
reason that reports list.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from codeguard.errors import UsageError
from codeguard.model import Skip
from codeguard.parsing.languages import LanguageSpec, language_for_path

DEFAULT_MAX_BYTES = 2_000_000
CODEGUARD_IGNORE = ".codeguardignore"
IGNORE_FILES = (".gitignore", CODEGUARD_IGNORE)
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", ".codeguard"})
# Minified or generated: files above this size whose lines are this long on average.
_MINIFIED_MIN_BYTES = 20_000
_MINIFIED_AVG_LINE = 300
_MINIFIED_MAX_LINE = 10_000


@dataclass(frozen=True)
class Candidate:
    """A file that has a grammar and may be scanned."""

    relpath: str
    path: Path
    language: str
    data: bytes | None = None  # content already in memory (a staged blob), else read from path


def iter_tree(
    root: Path, max_bytes: int = DEFAULT_MAX_BYTES, exclude: tuple[str, ...] = (), all_files: bool = False
) -> Iterator[Candidate | Skip]:
    """Candidates and skips of a directory tree, in a stable (sorted) order.

    ``exclude`` holds extra gitignore-style patterns relative to ``root``. With ``all_files``
    files without a grammar are candidates too (language ""), for license detection.
    """
    specs = [("", _exclude_spec(exclude))] if exclude else []
    yield from _walk(root, root, specs, max_bytes, all_files)


def _exclude_spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    for p in patterns:
        try:
            pathspec.GitIgnoreSpec.from_lines([p])
        except (re.error, ValueError) as exc:
            raise UsageError(f"Invalid --exclude pattern {p!r} ({exc}); use gitignore syntax.") from None
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _ignore_spec(lines: Iterable[str]) -> pathspec.GitIgnoreSpec:
    """A spec from an ignore file; malformed lines match nothing, as in git."""
    lines = list(lines)
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (re.error, ValueError):
        pass
    valid = []
    for line in lines:
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except (re.error, ValueError):
            continue
        valid.append(line)
    return pathspec.GitIgnoreSpec.from_lines(valid)


def _load_specs(directory: Path, rel: str) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    specs = []
    for name in IGNORE_FILES:
        f = directory / name
        if f.is_file():
            try:
                lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            specs.append((rel, _ignore_spec(lines)))
    return specs


def _ignored(specs: list[tuple[str, pathspec.GitIgnoreSpec]], rel: str, is_dir: bool) -> bool:
    ignored = False
    for base, spec in specs:
        sub = rel[len(base) + 1 :] if base else rel
        if is_dir:
            sub += "/"
        result = spec.check_file(sub)
        if result.include is not None:
            ignored = bool(result.include)
    return ignored


def path_filter(exclude: tuple[str, ...], ignore_files: dict[str, list[str]]) -> Callable[[str], bool]:
    """For the paths of a commit (no tree on disk): whether a path is left out by ``exclude`` or
    by the ignore files given as {directory: lines}, as ``iter_tree`` would leave it out (an
    ignored directory hides everything below it)."""
    specs = [("", _exclude_spec(exclude))] if exclude else []
    for d in sorted(ignore_files, key=lambda d: (d.count("/") + (d != ""), d)):
        specs.append((d, _ignore_spec(ignore_files[d])))

    def left_out(rel: str) -> bool:
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            applicable = [(b, sp) for b, sp in specs if not b or prefix.startswith(b + "/")]
            if _ignored(applicable, prefix, i < len(parts)):
                return True
        return False

    return left_out


def _walk(
    root: Path,
    directory: Path,
    specs: list[tuple[str, pathspec.GitIgnoreSpec]],
    max_bytes: int,
    all_files: bool = False,
) -> Iterator[Candidate | Skip]:
    rel_dir = directory.relative_to(root).as_posix() if directory != root else ""
    specs = specs + _load_specs(directory, rel_dir)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        yield Skip(rel_dir or ".", f"unreadable directory: {exc.strerror or exc}")
        return
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError as exc:
            yield Skip(rel, f"unreadable: {exc.strerror or exc}")
            continue
        if is_dir:
            if entry.name in ALWAYS_SKIPPED_DIRS or _ignored(specs, rel, True):
                continue
            yield from _walk(root, Path(entry.path), specs, max_bytes, all_files)
            continue
        if _ignored(specs, rel, False):
            continue
        spec = language_for_path(entry.name)
        if is_link:
            try:
                target = Path(entry.path).resolve(strict=True)
            except (OSError, RuntimeError) as exc:
                if spec is not None:
                    yield Skip(rel, f"broken or looping symlink: {getattr(exc, 'strerror', None) or exc}")
                continue
            # Any name: code below a linked directory is left out, and the report says so.
            if target.is_dir():
                yield Skip(rel, "symlink to a directory (not followed)")
                continue
        if spec is None and not all_files:
            continue
        yield from check_size(rel, Path(entry.path), spec, max_bytes)


def check_size(rel: str, path: Path, spec: LanguageSpec | None, max_bytes: int) -> Iterator[Candidate | Skip]:
    """A candidate, or a skip when the file cannot be stat'ed, is not a regular file or is
    over the size limit."""
    try:
        st = path.stat()
    except OSError as exc:
        yield Skip(rel, f"unreadable: {exc.strerror or exc}")
        return
    # Reading a named pipe blocks forever and a device (a link to /dev/zero) never ends.
    if not stat.S_ISREG(st.st_mode):
        yield Skip(rel, "not a regular file (a pipe, socket or device)")
        return
    size = st.st_size
    if size > max_bytes:
        yield Skip(rel, f"larger than the {max_bytes:,}-byte limit ({size:,} bytes)")
        return
    yield Candidate(rel, path, spec.name if spec else "")


def prepare_source(raw: bytes) -> tuple[bytes | None, str]:
    """UTF-8 bytes ready to parse, or None and the reason to skip; a note when transcoded."""
    if not raw.strip():
        return None, "empty file"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16").encode("utf-8"), "decoded from UTF-16"
        except UnicodeDecodeError:
            return None, "undecodable UTF-16 text"
    if b"\x00" in raw[:8192]:
        return None, "binary file"
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    note = ""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        if best is None:
            return None, "undecodable text (not UTF-8, no known encoding fits)"
        raw = str(best).encode("utf-8")
        note = f"decoded from {best.encoding}"
    if len(raw) >= _MINIFIED_MIN_BYTES:
        n_lines = raw.count(b"\n") + 1
        longest = max(len(line) for line in raw.split(b"\n"))
        if len(raw) / n_lines > _MINIFIED_AVG_LINE or longest > _MINIFIED_MAX_LINE:
            return None, f"minified or generated (longest line {longest:,} bytes)"
    return raw, note
