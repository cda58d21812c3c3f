"""A scanned file's own indexed copy is never its origin.

Teams index their own repository (a monorepo as a corpus, to find copies between its projects)
and scan the same tree. Every file then has one perfect match, itself, which hides the copies
it really holds. An indexed file is the scanned file itself when

- its source was indexed from a directory (or local git repository) that holds the scanned
  file, at the same path below it: found without any setting; or
- its source is named as this tree's own corpus (``scan --own-corpus NAME``, config key
  ``own-corpus``; for an index built from another checkout of the same repository) and holds
  the file at the same path relative to the repository root.

Such files are set aside before every path of matching (whole-file identity, fingerprints,
the semantic layer); the scanned file is still matched against every other indexed file,
other copies of itself included.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from codeguard.errors import UsageError
from codeguard.index.store import IndexStore, SourceRow


class _Scanned(Protocol):
    @property
    def relpath(self) -> str: ...

    @property
    def path(self) -> Path: ...


@dataclass
class OwnCopies:
    """Per scanned path (relative to the report base), the indexed copies that are the file."""

    file_ids: dict[str, frozenset[int]] = field(default_factory=dict)
    whole_ids: dict[str, frozenset[int]] = field(default_factory=dict)

    def files_of(self, relpath: str) -> frozenset[int]:
        return self.file_ids.get(relpath, frozenset())

    def wholes_of(self, relpath: str) -> frozenset[int]:
        return self.whole_ids.get(relpath, frozenset())

    @property
    def n_files(self) -> int:
        """Scanned files that have an own indexed copy."""
        return len(set(self.file_ids) | set(self.whole_ids))


def _local_root(source: SourceRow) -> Path | None:
    """The directory a source was indexed from, when it is one on this machine."""
    if source.kind not in ("dir", "git") or not source.location:
        return None
    root = Path(source.location)
    return root if root.is_absolute() and root.is_dir() else None


def own_copies(
    store: IndexStore,
    scanned: Iterable[_Scanned],
    sources: dict[int, SourceRow],
    own_corpora: Iterable[str] = (),
) -> OwnCopies:
    """The indexed copies of the ``scanned`` files that are those files themselves."""
    named = set(own_corpora)
    unknown = named - {s.name for s in sources.values()}
    if unknown:
        known = ", ".join(sorted(s.name for s in sources.values())) or "none"
        missing = ", ".join(sorted(unknown))
        raise UsageError(f"--own-corpus: the index has no corpus {missing} (it has: {known}).")
    roots = {sid: os.path.realpath(r) for sid, s in sources.items() if (r := _local_root(s)) is not None}
    wanted: dict[str, set[tuple[int, str]]] = {}
    for item in scanned:
        pairs = wanted.setdefault(item.relpath, set())
        pairs.update((sid, item.relpath) for sid, s in sources.items() if s.name in named)
        if roots:
            real = os.path.realpath(item.path)
            for sid, root in roots.items():
                if real.startswith(root + os.sep):
                    pairs.add((sid, Path(os.path.relpath(real, root)).as_posix()))
    files, wholes = store.locate(p for pairs in wanted.values() for p in pairs)
    out = OwnCopies()
    for relpath, pairs in wanted.items():
        f = frozenset(files[p] for p in pairs if p in files)
        w = frozenset(wholes[p] for p in pairs if p in wholes)
        if f:
            out.file_ids[relpath] = f
        if w:
            out.whole_ids[relpath] = w
    return out
