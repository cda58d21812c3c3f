"""Reading ScanCode's license database as packaged on PyPI (``licensedcode-data``).

The package holds ``licensedcode/data/licenses/*.LICENSE`` (one per license key: YAML front
matter with ``key``, ``spdx_license_key``, ``category``... then the full text) and
``licensedcode/data/rules/*.RULE`` (YAML front matter with ``license_expression`` and flags,
then a text snippet: a notice, a reference, a tag, a full text or a false positive). This module
only reads them into plain values; tokenizing and indexing happen in ``index.py``.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from codeguard.errors import IndexUnavailable

DATA_DISTRIBUTION = "licensedcode-data"

try:  # libyaml parses the ~37k front matters about 10x faster than the pure-Python loader
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class LicenseInfo:
    """One ScanCode license key and what policies need about it."""

    key: str
    spdx: str  # SPDX id, or LicenseRef-scancode-<key> where SPDX has none
    other_spdx: tuple[str, ...]
    category: str
    is_exception: bool
    is_deprecated: bool
    short_name: str
    name: str = ""
    is_generic: bool = False  # a placeholder (unknown, proprietary, other-permissive...)


@dataclass(frozen=True)
class RuleSpec:
    """One matchable text: a ``.RULE`` file or the full text of a ``.LICENSE`` file."""

    identifier: str
    expression: str  # ScanCode license expression; "" for false-positive rules
    kind: str  # "text" | "notice" | "reference" | "tag" | "intro" | "clue" | "false_positive"
    text: str
    minimum_coverage: int  # 0 when the rule does not set one
    relevance: int
    is_continuous: bool


def data_dir() -> Path:
    """The ``licensedcode/data`` folder of the installed ``licensedcode-data`` package."""
    try:
        dist = importlib.metadata.distribution(DATA_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise IndexUnavailable(
            f"the license database package {DATA_DISTRIBUTION!r} is not installed; "
            f"run `pip install {DATA_DISTRIBUTION}`"
        ) from exc
    path = Path(str(dist.locate_file("licensedcode/data")))
    if not (path / "rules").is_dir() or not (path / "licenses").is_dir():
        raise IndexUnavailable(f"{path} has no rules/ or licenses/ folder; reinstall {DATA_DISTRIBUTION}")
    return path


def data_version() -> str:
    """The installed ``licensedcode-data`` version (keys the index cache)."""
    try:
        return importlib.metadata.version(DATA_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        data_dir()  # raises the helpful error
        raise


def _split_front_matter(raw: str) -> tuple[dict[str, object], str]:
    """YAML front matter between the first two ``---`` lines, and the text after it."""
    if not raw.startswith("---"):
        return {}, raw
    end = raw.find("\n---", 3)
    if end < 0:
        return {}, raw
    meta = yaml.load(raw[3:end], Loader=_Loader) or {}
    body_start = raw.find("\n", end + 4)
    body = raw[body_start + 1 :] if body_start >= 0 else ""
    return (meta if isinstance(meta, dict) else {}), body


def _flag(meta: dict[str, object], name: str) -> bool:
    value = meta.get(name)
    return value is True or value == "yes"


def _int(meta: dict[str, object], name: str, default: int) -> int:
    value = meta.get(name)
    try:
        return int(value) if value is not None else default  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return default


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def iter_licenses(root: Path | None = None) -> Iterator[tuple[LicenseInfo, RuleSpec | None]]:
    """Every license of the database, with a rule for its full text (None when it has none)."""
    root = root or data_dir()
    for path in sorted((root / "licenses").glob("*.LICENSE")):
        meta, body = _split_front_matter(_read(path))
        key = str(meta.get("key") or path.stem)
        spdx = str(meta.get("spdx_license_key") or f"LicenseRef-scancode-{key}")
        others = meta.get("other_spdx_license_keys") or []
        info = LicenseInfo(
            key=key,
            spdx=spdx,
            other_spdx=tuple(str(o) for o in others) if isinstance(others, list) else (),
            category=str(meta.get("category") or "Unstated License"),
            is_exception=_flag(meta, "is_exception"),
            is_deprecated=_flag(meta, "is_deprecated"),
            short_name=str(meta.get("short_name") or key),
            name=str(meta.get("name") or ""),
            is_generic=_flag(meta, "is_unknown") or _flag(meta, "is_generic"),
        )
        rule = None
        # Deprecated and unknown/generic licenses are never matched by their own text (as in
        # ScanCode): their texts are placeholders or duplicates of a replacement.
        if body.strip() and not info.is_deprecated and not info.is_generic:
            rule = RuleSpec(
                identifier=f"{key}.LICENSE",
                expression=key,
                kind="text",
                text=body,
                minimum_coverage=_int(meta, "minimum_coverage", 0),
                relevance=100,
                is_continuous=False,
            )
        yield info, rule


# A license's name is a reference to it when it has at least this many words: "IBM Public
# License", "IPL 1.0", "IETF Trust License"; two-word names ("ISC License") have rules already.
NAME_MIN_WORDS = 3
NAME_RULE = ".name-"  # in the identifier of every name rule ("ibmpl-1.0.name-1")
# Only the names of licenses proper: "Google Analytics Terms of Service" in a page's script
# names a service, not the page's license.
NAME_CATEGORIES = frozenset({"Permissive", "Copyleft", "Copyleft Limited", "Public Domain"})
_NAME_WORD = re.compile(r"[^_\W]+")


def name_rules(info: LicenseInfo) -> list[RuleSpec]:
    """References by a license's name and short name (none for generic or deprecated keys).

    The database's rules name many licenses only in the words of their notices; a text that
    names the license plainly ("distributed under the IBM Public License 1.0") is a reference
    all the same. A name matches whole and contiguous, or not at all."""
    if info.is_deprecated or info.is_generic or info.category not in NAME_CATEGORIES:
        return []
    names = dict.fromkeys(
        n for n in (info.name, info.short_name) if len(_NAME_WORD.findall(n)) >= NAME_MIN_WORDS
    )
    return [
        RuleSpec(f"{info.key}{NAME_RULE}{i}", info.key, "reference", name, 100, 100, True)
        for i, name in enumerate(names, 1)
    ]


_KINDS = (
    ("is_false_positive", "false_positive"),
    ("is_license_text", "text"),
    ("is_license_notice", "notice"),
    ("is_license_tag", "tag"),
    ("is_license_reference", "reference"),
    ("is_license_intro", "intro"),
    ("is_license_clue", "clue"),
)


def iter_rules(root: Path | None = None) -> Iterator[RuleSpec]:
    """Every active, non-deprecated ``.RULE`` of the database."""
    root = root or data_dir()
    for path in sorted((root / "rules").glob("*.RULE")):
        meta, body = _split_front_matter(_read(path))
        if _flag(meta, "is_deprecated") or not body.strip():
            continue
        kind = next((k for flag, k in _KINDS if _flag(meta, flag)), "reference")
        expression = str(meta.get("license_expression") or "")
        if not expression and kind != "false_positive":
            continue
        yield RuleSpec(
            identifier=path.name,
            expression=expression,
            kind=kind,
            text=body,
            minimum_coverage=_int(meta, "minimum_coverage", 0),
            relevance=_int(meta, "relevance", 100),
            is_continuous=_flag(meta, "is_continuous"),
        )
