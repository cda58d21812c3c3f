"""Per-package licenses in a tree that holds many packages (node_modules, site-packages, vendor/,
third_party/, Go modules, Cargo registries, Maven trees, monorepos).

The nearest package root above a file decides its license: the root's metadata (package.json,
``*.dist-info/METADATA``, pyproject.toml, setup.cfg, Cargo.toml, go.mod, pom.xml, composer.json,
``*.gemspec``), then its license files. A file's own header then refines it (``attribute``): a
notice that only points at the license file ("BSD, see LICENSE") or names a family resolves to
the package's license of that family; a full notice of another license counts for that file.
Malformed, unknown or contradicting declarations are recorded as problems, never resolved
silently. Works over relative paths and a reader, so a directory and a git tree are alike.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeguard.licenses.metadata import CORE_METADATA, Declared, Metadata, parser_for, read_metadata
from codeguard.licenses.project import LICENSE_FILE_RE, MAX_LICENSE_FILE_BYTES, join_expressions, read_head

# Folders that hold copies of other projects (a package below one is a vendored copy).
VENDOR_DIRS = frozenset(
    {"_vendor", "vendor", "vendored", "_vendored", "third_party", "thirdparty", "third-party"}
    | {"extern", "_extern"}
)
# node_modules holds copies only inside another package (a tree that *is* a node_modules folder
# holds the packages themselves).
NODE_MODULES = "node_modules"
# Metadata fields by authority: an SPDX declaration, then free text, then classifiers.
_FREE_TEXT_FIELDS = frozenset(
    {"License", "metadata.license", "project.license.text", "licenses.license.name"}
)
_CLASSIFIER_FIELDS = frozenset({"Classifier", "project.classifiers", "metadata.classifiers"})
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+:-]*")
_OPERATORS = frozenset({"AND", "OR", "WITH"})
UNKNOWN_REFERENCE = "LicenseRef-scancode-unknown-license-reference"
# A declared value that names only a family ("BSD", "GPL"): the license files say which member.
_FAMILY_ONLY_RE = re.compile(
    r"^(?:the\s+)?(bsd|gpl|lgpl|agpl|mpl|apache|mit|psf|python)(?:[- ]?(?:style|like))?(?:\s+licen[cs]e)?$",
    re.IGNORECASE,
)
# License-like names that are code or data, not license files (``license.js``, ``licenses.json``).
_NOT_LICENSE_EXT = frozenset(
    {".js", ".mjs", ".cjs", ".ts", ".py", ".go", ".rs", ".java", ".c", ".h", ".rb", ".php", ".json"}
    | {".map", ".sh"}
)
# A folder with more license-like files than this is data (a license database), not a package.
MAX_LICENSE_FILES = 8


@dataclass
class Package:
    """One package root of a tree and its license, with where the answer came from."""

    root: str  # relative path of the package's folder ("" for the tree's top)
    name: str | None = None
    version: str | None = None
    license: str | None = None
    license_from: str = ""  # "package.json license", "LICENSE", "--license", ...
    metadata_file: str | None = None
    license_files: dict[str, str | None] = field(default_factory=dict)  # relpath -> detected
    problems: list[str] = field(default_factory=list)
    vendored: bool = False
    family_hint: str = ""  # metadata named only a family ("BSD")

    @property
    def note(self) -> str:
        return "; ".join(self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root or ".",
            "name": self.name,
            "version": self.version,
            "license": self.license,
            "license_from": self.license_from,
            "metadata_file": self.metadata_file,
            "license_files": self.license_files,
            "problems": self.problems,
            "vendored": self.vendored,
        }


@dataclass(frozen=True)
class Attribution:
    """A file's license, where it came from, and any problem to show with it."""

    license: str | None
    license_from: str
    note: str = ""


def family(spdx_id: str) -> str:
    """A license id's family: ``BSD-3-Clause`` -> ``bsd``, ``GPL-2.0-only`` -> ``gpl``."""
    key = spdx_id.removeprefix("LicenseRef-scancode-").lower()
    if key.startswith(("psf", "python")):
        return "python"
    return re.split(r"[-\d.]", key, maxsplit=1)[0] or key


def license_ids(expression: str | None) -> list[str]:
    """The license ids of an expression (exception ids after WITH left out)."""
    out: list[str] = []
    prev = ""
    for tok in _ID_RE.findall(expression or ""):
        if tok not in _OPERATORS and prev != "WITH":
            out.append(tok)
        prev = tok
    return out


def families(expression: str | None) -> set[str]:
    return {family(i) for i in license_ids(expression) if i != UNKNOWN_REFERENCE}


def substitute(expression: str, package: str) -> str | None:
    """``expression`` with each id replaced by the package license's ids of its family (an
    unknown reference by the whole package license); ids of other families stay (a notice that
    names the package's license and another one: "the theme is MIT; BSD, see LICENSE"). None
    when no id has a counterpart."""
    if expression == UNKNOWN_REFERENCE:
        return package
    ids = license_ids(package)
    resolved = False

    def repl(m: re.Match[str]) -> str:
        nonlocal resolved
        tok = m.group(0)
        if tok in _OPERATORS:
            return tok
        if tok == UNKNOWN_REFERENCE:
            resolved = True
            return package if len(ids) == 1 else f"({package})"
        same = list(dict.fromkeys(i for i in ids if family(i) == family(tok)))
        if not same:
            return tok
        resolved = True
        return same[0] if len(same) == 1 else "(" + " AND ".join(same) + ")"

    def keep_exceptions(m: re.Match[str]) -> str:
        return m.group(0) if m.string[max(0, m.start() - 5) : m.start()] == "WITH " else repl(m)

    out = _ID_RE.sub(keep_exceptions, expression)
    if out.startswith("(") and len(license_ids(expression)) == 1 and " " not in expression:
        out = out[1:-1]  # one id became several: no operator around them needs the parentheses
    return out if resolved else None


def combine_license_files(found: dict[str, str | None]) -> str | None:
    """One package's license from its license files: a dual-license statement ("Apache-2.0 OR
    BSD, see LICENSE.APACHE and LICENSE.BSD") takes the exact ids of the files it points at."""
    exprs = list(dict.fromkeys(e for e in found.values() if e))
    choices = [e for e in exprs if " OR " in e]
    if len(choices) == 1:
        others = [e for e in exprs if e != choices[0]]
        rest = join_expressions(others)
        if rest and all(families(o) <= families(choices[0]) for o in others):
            return substitute(choices[0], rest) or join_expressions(exprs)
    return join_expressions(exprs)


def _declared_license(meta: Metadata, pkg: Package) -> str | None:
    """The most authoritative decided declaration of a metadata file; undecidable ones are
    recorded as problems of the package."""
    tiers: list[list[Declared]] = [[], [], []]
    for d in meta.declared:
        rank = 2 if d.field in _CLASSIFIER_FIELDS else 1 if d.field in _FREE_TEXT_FIELDS else 0
        tiers[rank].append(d)
        only_family = _FAMILY_ONLY_RE.match(d.value.strip())
        if d.expression is None and only_family:
            pkg.family_hint = only_family.group(1).lower()
            pkg.license_from = f"{meta.file} {d.field}"
        elif d.expression is None and d.value.strip().upper() not in ("UNKNOWN", "NONE", ""):
            pkg.problems.append(f"{meta.file} {d.field} {d.value!r} is not a license codeguard knows")
    for tier in tiers:
        decided = join_expressions([d.expression for d in tier if d.expression])
        if decided:
            fields = sorted({d.field for d in tier if d.expression})
            pkg.license_from = f"{meta.file} {', '.join(fields)}"
            return decided
    return None


def _decide(pkg: Package, meta: Metadata | None, given: str | None) -> None:
    from_files = combine_license_files(pkg.license_files)
    files = ", ".join(sorted(posixpath.basename(p) for p, e in pkg.license_files.items() if e))
    if given:
        pkg.license, pkg.license_from = given, "--license"
        return
    declared = None
    if meta is not None:
        if meta.problem:
            pkg.problems.append(meta.problem)
        declared = _declared_license(meta, pkg)
    if declared and from_files and not (families(declared) & families(from_files)):
        # Both are claims of the package's authors; which one is meant cannot be told here, so
        # both are honoured and the contradiction is shown wherever the license is.
        pkg.problems.append(f"metadata says {declared}, {files} says {from_files}")
        pkg.license = join_expressions([declared, from_files])
        pkg.license_from = f"{pkg.license_from} + {files}"
    elif declared:
        pkg.license = declared
    elif from_files:
        hint = pkg.family_hint
        if hint and hint not in families(from_files):
            pkg.problems.append(f"metadata says {hint.upper()}, {files} says {from_files}")
        pkg.license_from = f"{pkg.license_from} + {files}" if hint else files
        pkg.license = from_files


@dataclass
class Packages:
    """The package roots of one tree; ``of`` finds the package a file belongs to."""

    roots: dict[str, Package]
    # Roots that a distribution's metadata names (site-packages: ``idna/`` of ``idna-3.20.dist-info``).
    aliases: dict[str, str] = field(default_factory=dict)

    def of(self, relpath: str) -> Package:
        """The nearest package root above a file (the file itself for a one-module
        distribution such as ``six.py``)."""
        if relpath in self.aliases:
            return self.roots[self.aliases[relpath]]
        d = posixpath.dirname(relpath)
        while True:
            if d in self.aliases:
                return self.roots[self.aliases[d]]
            if d in self.roots or not d:
                return self.roots[d]
            d = posixpath.dirname(d)

    def table(self) -> list[Package]:
        """The packages that hold something: every root but an empty top."""
        return [p for r, p in sorted(self.roots.items()) if r or p.license or p.metadata_file or p.name]


def _is_license_file(name: str) -> bool:
    return bool(LICENSE_FILE_RE.match(name)) and posixpath.splitext(name)[1].lower() not in _NOT_LICENSE_EXT


def is_package_file(relpath: str) -> bool:
    """Whether ``find_packages`` needs a file: metadata, license files, a distribution's file list."""
    parent, _, name = relpath.rpartition("/")
    if parser_for(relpath) is not None or _is_license_file(name):
        return True
    return parent.endswith(tuple(CORE_METADATA)) and name in ("RECORD", "top_level.txt")


def _dist_dir(relpath: str) -> str | None:
    """The ``.dist-info`` / ``.egg-info`` folder a path is inside, if any."""
    parts = relpath.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.endswith(tuple(CORE_METADATA)):
            return "/".join(parts[: i + 1])
    return None


def find_packages(
    paths: Iterable[str],
    read: Callable[[str], bytes | None],
    given: str | None = None,
    detect: Callable[[str], str | None] | None = None,
) -> Packages:
    """The package roots among ``paths`` (relative, '/'-separated) with their licenses;
    ``read`` returns a file's bytes (None when unreadable); ``given`` is the top's license given
    by the user; ``detect`` names the license of a license file's text (default: the detector)."""
    detect = detect or _detect_text
    metas: dict[str, Metadata] = {}
    license_files: dict[str, dict[str, str | None]] = {}
    lists: dict[str, list[str]] = {}
    candidates: dict[str, list[str]] = {}
    for rel in sorted(set(paths)):
        parent, _, name = rel.rpartition("/")
        dist = _dist_dir(rel)
        root = dist or parent
        if parser_for(rel) is not None and (dist is None or parent == dist):
            raw = read(rel)
            meta = read_metadata(rel, raw) if raw is not None and root not in metas else None
            # A bare {"type": "module"} package.json inside a package marks a folder, not a package.
            if meta is not None and (meta.name or meta.declared or meta.problem or dist):
                metas[root] = meta
        elif dist is not None and parent == dist and name in ("RECORD", "top_level.txt"):
            raw = read(rel)
            if raw is not None:
                lists.setdefault(dist, []).append(raw.decode("utf-8", "replace"))
        elif _is_license_file(name):
            candidates.setdefault(root, []).append(rel)
    for root, rels in candidates.items():
        if len(rels) > MAX_LICENSE_FILES:
            continue
        for rel in rels:
            raw = read(rel)
            if raw is not None:
                text = raw[:MAX_LICENSE_FILE_BYTES].decode("utf-8", "replace")
                license_files.setdefault(root, {})[rel] = detect(text)
    roots: dict[str, Package] = {}
    for root in sorted({"", *metas, *license_files}):
        meta = metas.get(root)
        pkg = Package(root=root, license_files=license_files.get(root, {}))
        if meta is not None:
            pkg.name, pkg.version, pkg.metadata_file = meta.name, meta.version, meta.file
        if pkg.name is None and root and not root.endswith(tuple(CORE_METADATA)):
            pkg.name = posixpath.basename(root)
        _decide(pkg, meta, given if root == "" else None)
        roots[root] = pkg
    aliases = _distribution_aliases(roots, lists)
    for root, pkg in roots.items():
        pkg.vendored = _is_vendored(root, roots)
    for alias, root in aliases.items():
        roots[root].vendored = roots[root].vendored or _is_vendored(alias, roots)
    packages = Packages(roots, aliases)
    for root in sorted(roots, key=len):  # outer packages first: they may inherit in turn
        pkg = roots[root]
        if root and pkg.license is None and not pkg.vendored and not pkg.problems:
            # A package folder that declares nothing (a template, a workspace member without a
            # license field) is under the license of the package around it; a vendored one is not.
            outer = packages.of(root)
            if outer.license:
                pkg.license = outer.license
                pkg.license_from = f"inherited from package {outer.root or '.'}: {outer.license_from}"
    return packages


def _distribution_aliases(roots: dict[str, Package], lists: dict[str, list[str]]) -> dict[str, str]:
    """Top-level folders and modules of installed distributions -> their ``.dist-info`` root,
    from RECORD (or top_level.txt)."""
    aliases: dict[str, str] = {}
    for dist, texts in lists.items():
        base = posixpath.dirname(dist)
        tops: set[str] = set()
        for text in texts:
            for line in text.splitlines():
                first = line.split(",", 1)[0].strip().strip('"').split("/", 1)[0]
                if first and first not in ("..", "__pycache__") and not first.endswith(tuple(CORE_METADATA)):
                    tops.add(first)
        for top in tops:
            alias = posixpath.join(base, top) if base else top
            if dist in roots:
                aliases.setdefault(alias, dist)
    return aliases


def vendored_at(relpath: str, pkg: Package) -> str:
    """The folder of the vendored copy a file is in ("" when it is not in one): its package's
    root when that package is vendored, else a vendoring folder between the package root and the
    file (a ``_vendor/rich/`` that lost its LICENSE file is still a copy)."""
    if pkg.vendored:
        return pkg.root
    inner = relpath[len(pkg.root) + 1 :] if pkg.root else relpath
    parts = inner.split("/")[:-1]
    for i, part in enumerate(parts):
        if part in VENDOR_DIRS:
            prefix = [pkg.root] if pkg.root else []
            return "/".join(prefix + parts[: i + 2])
    return ""


def _is_vendored(root: str, roots: dict[str, Package]) -> bool:
    parts = root.split("/") if root else []
    for i, part in enumerate(parts):
        if part in VENDOR_DIRS:
            return True
        if part == NODE_MODULES:
            above = ["/".join(parts[:j]) for j in range(i)]
            top = roots.get("")
            if any(a in roots for a in above if a) or (top and (top.metadata_file or top.license_files)):
                return True
    return False


def _detect_text(text: str) -> str | None:
    from codeguard.licenses.detect import detect_licenses

    return join_expressions(list(dict.fromkeys(m.spdx for m in detect_licenses(text) if m.spdx)))


def attribute(notice: dict[str, Any] | None, pkg: Package) -> Attribution:
    """A file's license from its header notice (``header_notice``) and its package.

    No notice: the package's. An SPDX tag or a full notice: the file's own. A notice that points
    at the license file or names only a family: the package license of that family (a pointer
    whose family the package does not have is kept, with the disagreement as a note)."""
    where = pkg.root or "."
    if notice is None:
        where_from = f"package {where}: {pkg.license_from}" if pkg.license else ""
        return Attribution(pkg.license, where_from, pkg.note)
    expr = str(notice["license"])
    if notice.get("kind") == "tag":
        return Attribution(expr, "SPDX-License-Identifier")
    if not (notice.get("pointer") or notice.get("kind") == "reference") or not pkg.license:
        return Attribution(expr, "header notice")
    resolved = substitute(expr, pkg.license)
    if resolved is None and not notice.get("pointer"):
        return Attribution(expr, "header notice")  # names another license: the file's own
    if resolved is None:
        note = f"the header says {expr}, package {where} says {pkg.license}"
        return Attribution(expr, "header notice", "; ".join(filter(None, [note, pkg.note])))
    return Attribution(resolved, f"header pointer to package {where}: {pkg.license_from}", pkg.note)


def package_paths(root: Path, skip_dirs: Iterable[str] = ()) -> list[str]:
    """Relative paths of the files under ``root`` that ``find_packages`` reads (folders named in
    ``skip_dirs`` are not walked)."""
    skip = frozenset(skip_dirs)
    out: list[str] = []
    for d, dirs, files in os.walk(root, onerror=lambda _exc: None):
        dirs[:] = sorted(x for x in dirs if x not in skip)
        rel_dir = os.path.relpath(d, root).replace(os.sep, "/")
        for name in files:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if is_package_file(rel):
                out.append(rel)
    return out


def directory_reader(root: Path) -> Callable[[str], bytes | None]:
    """A reader of files below ``root`` for ``find_packages`` (None when unreadable)."""

    def read(rel: str) -> bytes | None:
        try:
            return read_head(root / rel)
        except OSError:
            return None

    return read


def project_key(name: str) -> str:
    """A project name compared loosely: ``Foo_Bar-1.2`` and ``foo-bar`` are one project."""
    return re.sub(r"[-_.]+", "-", re.sub(r"[-_.]v?\d[\w.]*$", "", name)).lower().removeprefix("@")


def names_project(package_name: str | None, package: str | None, corpus: str) -> bool:
    """Whether a corpus is the project a file's package names (tomli in a corpus named tomli);
    true when the file has no package name at all."""
    name = package_name or (package or "").rsplit("/", 1)[-1]
    return not name or project_key(name.rsplit("/", 1)[-1]) == project_key(corpus)
