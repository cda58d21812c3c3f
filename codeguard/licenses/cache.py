"""Per-user caches of license results that every scan would otherwise compute again.

- What license files (LICENSE, COPYING, NOTICE...) state, by the SHA-256 of their text: every
  scan decides the project's license from its license files, and detecting it in an unchanged
  LICENSE file is the same work each time (loading the rule index and matching took 0.15-0.2 s
  of a 0.8 s pre-commit scan here).
- What the header of a scanned file declares (``project.header_license``), by the SHA-256 of
  the header: most files of a project share one, and detecting it loads the rule index.
- The policy's parse of the license expressions it judges (``policy.parse_expression``): the
  few expressions of a project and its indexed origins, parsed against license-expression's
  SPDX table, which costs tens of milliseconds to load and build in every process.

Each is one small JSON file next to the license rule index (``$CODEGUARD_CACHE_DIR/licenses``,
else the user cache directory), valid for the code that made its entries: the installed
licensedcode-data and license-expression versions and the size and modification time of the
files of ``codeguard.licenses`` (the detector's modules, the index format among them, the
shipped rule set, the policy). Other code (an upgrade, an edited module) starts an empty cache.
A cache is an accelerator only: a missing, unreadable or corrupt file is ignored and rewritten,
a file that cannot be written leaves results as they were (uncached).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from codeguard.config import cache_dir as default_cache_dir

CACHE_FILE = "license-files.json"
FORMAT = 1
# License file texts remembered (the oldest stored go first): a developer's projects.
MAX_ENTRIES = 256


@functools.cache
def detector_stamp() -> str:
    """Identity of the code whose results the caches hold (computed once per process)."""
    # The modules' stamps cover the rule index's format and parameters (index.py) without
    # importing the index; the versions are read from the installed dist-info folders' names,
    # as importing importlib.metadata alone cost 0.03 s here.
    parts = _versions(("licensedcode_data", "license_expression"))
    here = os.path.dirname(os.path.abspath(__file__))
    with os.scandir(here) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.endswith((".py", ".xz")):
                st = entry.stat()
                parts.append(f"{entry.name} {st.st_size} {st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _versions(names: tuple[str, ...]) -> list[str]:
    """``name version`` of each distribution (normalized name, as in its ``.dist-info``
    folder), from the first ``sys.path`` entry that holds it, as importlib.metadata finds it."""
    import sys

    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for item in listing:
            if item.endswith(".dist-info") and "-" in item:
                name, version = item[: -len(".dist-info")].split("-", 1)
                name = name.lower().replace("-", "_").replace(".", "_")
                if name in names and name not in found:
                    found[name] = version
        if len(found) == len(names):
            break
    return [f"{n} {found.get(n, 'none')}" for n in names]


class StampedCache:
    """A JSON file of key -> value for one code stamp, the oldest entries dropped past a limit."""

    def __init__(
        self, name: str, path: Path | None = None, stamp: str | None = None, max_entries: int | None = None
    ) -> None:
        self.path = path or default_cache_dir() / "licenses" / name
        self.stamp = stamp if stamp is not None else detector_stamp()
        self.max_entries = MAX_ENTRIES if max_entries is None else max_entries
        self._dirty = False
        self.hits = self.misses = 0
        self._entries: dict[str, object] | None = None

    def get(self, key: str) -> object | None:
        """The value stored under ``key`` (None if there is none)."""
        return self._load().get(key)

    def put(self, key: str, value: object, write: bool = True) -> None:
        """Store ``value`` under ``key`` (the newest entry last) and write the file, or with
        ``write`` False leave that to ``flush`` (many stores in one scan, one write)."""
        entries = self._load()
        entries.pop(key, None)
        entries[key] = value  # JSON objects keep their order: the oldest come first
        self._dirty = True
        if write:
            self.flush()

    def flush(self) -> None:
        """Write the file if an entry was stored since it was last written."""
        if not self._dirty:
            return
        self._dirty = False
        entries = self._load()
        while len(entries) > self.max_entries:
            entries.pop(next(iter(entries)))
        payload = {"format": FORMAT, "detector": self.stamp, "entries": entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(payload, fh)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only cache directory: results stay right, only uncached

    def _load(self) -> dict[str, object]:
        if self._entries is None:
            self._entries = {}
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return self._entries  # none yet, or corrupt: rebuilt by the next store
            if isinstance(data, dict) and data.get("format") == FORMAT and data.get("detector") == self.stamp:
                entries = data.get("entries")
                if isinstance(entries, dict):
                    self._entries = dict(entries)
        return self._entries


class LicenseFileCache(StampedCache):
    """Text of a license file -> the SPDX expressions detected in it (in order, unique)."""

    def __init__(self, path: Path | None = None, stamp: str | None = None) -> None:
        super().__init__(CACHE_FILE, path, stamp)

    def expressions(self, text: str, detect: Callable[[str], list[str]]) -> list[str]:
        """The expressions of ``text``: cached, or ``detect(text)`` stored for next time."""
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        entry = self.get(key)
        found = entry.get("spdx") if isinstance(entry, dict) else None
        if isinstance(found, list) and all(isinstance(e, str) for e in found):
            self.hits += 1  # a hit writes nothing: a scan of an unchanged project only reads
            return list(found)
        self.misses += 1
        exprs = detect(text)
        self.put(key, {"spdx": list(exprs)})
        return list(exprs)
