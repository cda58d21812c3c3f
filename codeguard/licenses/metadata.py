"""Licenses declared in package metadata: pyproject.toml, package.json, setup.cfg, Cargo.toml,
pom.xml, composer.json, *.gemspec, go.mod (a name, no license) and the core metadata of
installed Python packages (``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO``). Values that are
not SPDX expressions (``"BSD License"``, a Maven license name) go through the text detector;
what cannot be decided is left out, never guessed."""

from __future__ import annotations

import configparser
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Trove classifiers -> SPDX (the common ones; others go through the detector).
CLASSIFIERS = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "Apache Software License": "Apache-2.0",
    "BSD License": "",  # ambiguous: BSD-2/3-Clause; left to LICENSE files
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "zlib/libpng License": "Zlib",
}


@dataclass(frozen=True)
class Declared:
    """A license declared in a metadata file."""

    file: str
    field: str
    value: str
    expression: str | None  # SPDX, None when undecidable


def to_spdx(value: str) -> str | None:
    """An SPDX expression for a declared value, or None when it cannot be decided."""
    from codeguard.licenses.policy import normalize_expression, validate_expression

    value = value.strip()
    if not value or value.upper() in (
        "UNKNOWN",
        "NONE",
        "NOASSERTION",
        "UNLICENSED",
        "SEE LICENSE IN LICENSE",
    ):
        return None
    candidate = value.replace(" / ", " OR ").replace("/", " OR ")  # Cargo's old "MIT/Apache-2.0"
    try:
        if not validate_expression(candidate):
            return normalize_expression(candidate)
    except Exception:  # noqa: BLE001 - fall through to the text detector
        pass
    try:
        from codeguard.licenses.detect import detect_licenses
    except ImportError:
        return None
    found = [m.spdx for m in detect_licenses(value) if m.spdx]
    return " AND ".join(dict.fromkeys(found)) or None


# What a parser reads from a metadata file: (field, declared value) pairs, the package name and
# version (None where the file has none).
Fields = list[tuple[str, str]]
Parsed = tuple[Fields, "str | None", "str | None"]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _classifier_licenses(classifiers: Any, field_name: str) -> Fields:
    out: Fields = []
    for c in classifiers or []:
        if isinstance(c, str) and c.startswith("License ::"):
            spdx = CLASSIFIERS.get(c.split("::")[-1].strip())
            if spdx:
                out.append((field_name, spdx))
    return out


def _pyproject(raw: bytes) -> Parsed:
    data = tomllib.loads(raw.decode("utf-8"))
    project = data.get("project", {})
    out: Fields = []
    lic = project.get("license")
    if isinstance(lic, str):
        out.append(("project.license", lic))
    elif isinstance(lic, dict) and isinstance(lic.get("text"), str) and len(lic["text"]) < 200:
        out.append(("project.license.text", lic["text"]))
    poetry = data.get("tool", {}).get("poetry", {})
    if isinstance(poetry.get("license"), str):
        out.append(("tool.poetry.license", poetry["license"]))
    out.extend(_classifier_licenses(project.get("classifiers"), "project.classifiers"))
    name = _str(project.get("name")) or _str(poetry.get("name"))
    return out, name, _str(project.get("version")) or _str(poetry.get("version"))


def _json_object(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the top level is not an object")
    return data


def _package_json(raw: bytes) -> Parsed:
    data = _json_object(raw)
    name, version = _str(data.get("name")), _str(data.get("version"))
    lic = data.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if isinstance(lic, str):
        return [("license", lic)], name, version
    many = data.get("licenses")
    if isinstance(many, list):
        types = [str(m["type"]) for m in many if isinstance(m, dict) and isinstance(m.get("type"), str)]
        types += [m for m in many if isinstance(m, str)]
        if types:
            return [("licenses", " OR ".join(types))], name, version
    return [], name, version


def _composer_json(raw: bytes) -> Parsed:
    data = _json_object(raw)
    lic = data.get("license")
    values = [lic] if isinstance(lic, str) else [v for v in lic or [] if isinstance(v, str)]
    fields = [("license", " OR ".join(values))] if values else []  # a list is a choice (composer docs)
    return fields, _str(data.get("name")), _str(data.get("version"))


def _setup_cfg(raw: bytes) -> Parsed:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(raw.decode("utf-8"))
    value = cp.get("metadata", "license", fallback="")
    fields = [("metadata.license", value)] if value else []
    classifiers = cp.get("metadata", "classifiers", fallback="").splitlines()
    fields += _classifier_licenses([c.strip() for c in classifiers], "metadata.classifiers")
    name = cp.get("metadata", "name", fallback="") or None
    return fields, name, cp.get("metadata", "version", fallback="") or None


def _cargo(raw: bytes) -> Parsed:
    data = tomllib.loads(raw.decode("utf-8"))
    package = data.get("package", {})
    value = package.get("license")
    fields = [("package.license", value)] if isinstance(value, str) else []
    return fields, _str(package.get("name")), _str(package.get("version"))


def _pom(raw: bytes) -> Parsed:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(raw)
    names = [
        e.text.strip()
        for e in root.iter()
        if e.tag.endswith("}name") or e.tag == "name"
        if e.text and _parent_is_license(root, e)
    ]
    fields = [("licenses.license.name", " OR ".join(names))] if names else []

    def child(tag: str) -> str | None:
        for e in list(root):
            if str(e.tag).split("}")[-1] == tag and e.text and e.text.strip():
                return e.text.strip()
        return None

    return fields, child("artifactId"), child("version")


def _core_metadata(raw: bytes) -> Parsed:
    """``METADATA`` / ``PKG-INFO`` (an email-style header block): ``License-Expression`` (PEP
    639), ``License`` (free text, sometimes a whole license) and license classifiers."""
    from email.parser import BytesHeaderParser

    msg = BytesHeaderParser().parsebytes(raw)
    if not msg.keys():
        raise ValueError("no metadata fields")
    fields: Fields = []
    expression = msg.get("License-Expression")
    if expression:
        fields.append(("License-Expression", str(expression)))
    lic = str(msg.get("License") or "")
    if lic.strip() and len(lic) < 200:  # a long value is a pasted license text: the files decide
        fields.append(("License", " ".join(lic.split())))
    fields += _classifier_licenses([str(c) for c in msg.get_all("Classifier") or []], "Classifier")
    return fields, _str(msg.get("Name")), _str(msg.get("Version"))


_GEM_LICENSE_RE = re.compile(r"""\.licenses?\s*=\s*(\[[^\]]*\]|["'][^"']*["'])""")
_GEM_FIELD_RE = re.compile(r"""\.(name|version)\s*=\s*["']([^"']+)["']""")


def _gemspec(raw: bytes) -> Parsed:
    text = raw.decode("utf-8")
    found = _GEM_LICENSE_RE.search(text)
    values = re.findall(r"""["']([^"']+)["']""", found.group(1)) if found else []
    fields = [("licenses", " OR ".join(values))] if values else []
    meta = dict(_GEM_FIELD_RE.findall(text))
    return fields, meta.get("name"), meta.get("version")


def _go_mod(raw: bytes) -> Parsed:
    found = re.search(r"^module\s+(\S+)", raw.decode("utf-8"), re.MULTILINE)
    if found is None:
        raise ValueError("no module line")
    return [], found.group(1).strip('"'), None  # Go declares no license: the LICENSE file does


def _parent_is_license(root: Any, elem: Any) -> bool:
    for parent in root.iter():
        if elem in list(parent):
            return str(parent.tag).endswith("license")
    return False


PARSERS: dict[str, Callable[[bytes], Parsed]] = {
    "pyproject.toml": _pyproject,
    "package.json": _package_json,
    "setup.cfg": _setup_cfg,
    "Cargo.toml": _cargo,
    "pom.xml": _pom,
    "composer.json": _composer_json,
    "go.mod": _go_mod,
}
# Core metadata of an installed Python distribution, by the folder it sits in.
CORE_METADATA = {".dist-info": "METADATA", ".egg-info": "PKG-INFO"}


def parser_for(relpath: str) -> Callable[[bytes], Parsed] | None:
    """The metadata parser for a file (by its path: ``METADATA`` only inside a ``.dist-info``)."""
    parent, _, name = relpath.rpartition("/")
    if name in PARSERS:
        return PARSERS[name]
    if name.endswith(".gemspec"):
        return _gemspec
    if any(parent.endswith(suffix) and name == meta for suffix, meta in CORE_METADATA.items()):
        return _core_metadata
    return None


@dataclass(frozen=True)
class Metadata:
    """What one metadata file says: name, version, declared licenses, or why it could not be read."""

    file: str
    name: str | None = None
    version: str | None = None
    declared: list[Declared] = field(default_factory=list)
    problem: str | None = None


def read_metadata(relpath: str, raw: bytes) -> Metadata:
    """Parse a metadata file; a malformed one is recorded with its problem, never raised."""
    parser = parser_for(relpath)
    name = relpath.rpartition("/")[2]
    if parser is None:
        return Metadata(relpath, problem=f"{name} is not a metadata file codeguard reads")
    try:
        fields, pkg, version = parser(raw)
    except Exception as exc:  # noqa: BLE001 - any parse error of a user's file is a recorded problem
        return Metadata(relpath, problem=f"{name} is malformed ({type(exc).__name__}: {exc})"[:300])
    return Metadata(relpath, pkg, version, [Declared(name, f, v, to_spdx(v)) for f, v in fields])


def declared_in(name: str, raw: bytes) -> list[Declared]:
    """Licenses a metadata file (by its name, e.g. ``Cargo.toml``) declares; none when malformed."""
    return read_metadata(name, raw).declared


def declared_licenses(root: Path) -> list[Declared]:
    """Licenses declared by the metadata files at the top of ``root``."""
    out: list[Declared] = []
    for name in PARSERS:
        path = root / name
        if path.is_file():
            out.extend(declared_in(name, path.read_bytes()))
    return out
