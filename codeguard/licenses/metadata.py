"""Licenses declared in package metadata: pyproject.toml, package.json, setup.cfg, Cargo.toml,
pom.xml. Values that are not SPDX expressions (``"BSD License"``, a Maven license name) go
through the text detector; what cannot be decided is left out, never guessed."""

from __future__ import annotations

import configparser
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
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


def _pyproject(raw: bytes) -> list[tuple[str, str]]:
    data = tomllib.loads(raw.decode("utf-8"))
    project = data.get("project", {})
    out: list[tuple[str, str]] = []
    lic = project.get("license")
    if isinstance(lic, str):
        out.append(("project.license", lic))
    elif isinstance(lic, dict) and isinstance(lic.get("text"), str) and len(lic["text"]) < 200:
        out.append(("project.license.text", lic["text"]))
    poetry = data.get("tool", {}).get("poetry", {})
    if isinstance(poetry.get("license"), str):
        out.append(("tool.poetry.license", poetry["license"]))
    for c in project.get("classifiers", []) or []:
        if isinstance(c, str) and c.startswith("License ::"):
            name = c.split("::")[-1].strip()
            spdx = CLASSIFIERS.get(name)
            if spdx:
                out.append(("project.classifiers", spdx))
    return out


def _package_json(raw: bytes) -> list[tuple[str, str]]:
    data = json.loads(raw.decode("utf-8"))
    lic = data.get("license") if isinstance(data, dict) else None
    if isinstance(lic, dict):
        lic = lic.get("type")
    if isinstance(lic, str):
        return [("license", lic)]
    many = data.get("licenses") if isinstance(data, dict) else None
    if isinstance(many, list):
        types = [str(m["type"]) for m in many if isinstance(m, dict) and isinstance(m.get("type"), str)]
        if types:
            return [("licenses", " OR ".join(types))]
    return []


def _setup_cfg(raw: bytes) -> list[tuple[str, str]]:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(raw.decode("utf-8"))
    value = cp.get("metadata", "license", fallback="")
    return [("metadata.license", value)] if value else []


def _cargo(raw: bytes) -> list[tuple[str, str]]:
    data = tomllib.loads(raw.decode("utf-8"))
    value = data.get("package", {}).get("license")
    return [("package.license", value)] if isinstance(value, str) else []


def _pom(raw: bytes) -> list[tuple[str, str]]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(raw)
    names = [
        e.text.strip()
        for e in root.iter()
        if e.tag.endswith("}name") or e.tag == "name"
        if e.text and _parent_is_license(root, e)
    ]
    return [("licenses.license.name", " OR ".join(names))] if names else []


def _parent_is_license(root: Any, elem: Any) -> bool:
    for parent in root.iter():
        if elem in list(parent):
            return str(parent.tag).endswith("license")
    return False


PARSERS: dict[str, Callable[[bytes], list[tuple[str, str]]]] = {
    "pyproject.toml": _pyproject,
    "package.json": _package_json,
    "setup.cfg": _setup_cfg,
    "Cargo.toml": _cargo,
    "pom.xml": _pom,
}


def declared_in(name: str, raw: bytes) -> list[Declared]:
    """Licenses a metadata file (by its name, e.g. ``Cargo.toml``) declares; none when malformed."""
    try:
        fields = PARSERS[name](raw)
    except Exception:  # noqa: BLE001 - a malformed manifest declares nothing
        return []
    return [Declared(name, f, v, to_spdx(v)) for f, v in fields]


def declared_licenses(root: Path) -> list[Declared]:
    """Licenses declared by the metadata files at the top of ``root``."""
    out: list[Declared] = []
    for name in PARSERS:
        path = root / name
        if path.is_file():
            out.extend(declared_in(name, path.read_bytes()))
    return out
