"""Per-package licenses and upstream-first origins on real trees of this machine.

Part 1, licenses: a tree of many packages is indexed as ONE source through the real CLI
(``python -m codeguard index add``); each file's effective license is read back from the index
(its own, else the source's). A package is right when every file of it that has no full
license notice of its own (no header, or a header that only points at the license file or
names a family) gets the package's true license. Trees:

- pip's ``_vendor`` (the issue's 18 vendored packages; truth read by hand from each LICENSE);
- a copy of 36 small distributions of this venv's site-packages (``*.dist-info`` + code);
  truth: the authors' declaration (``License-Expression`` / ``License``), read and checked
  against the license files by hand (table below);
- ``/usr/lib/node_modules`` (npm, corepack and npm's bundled dependencies); truth: each
  package.json ``license`` field (checked: @npmcli/redact's LICENSE is an MIT text while its
  package.json says ISC -- a real contradiction, counted right only when it is flagged).

Part 2, origins: pip's ``_vendor`` scanned against the upstream packages found on this machine,
each indexed as its own corpus named after the project, plus two corpora that bundle copies
(setuptools with its ``_vendor``, Debian's pip 23 with its ``_vendor``): the share of findings of
a vendored package with an upstream corpus whose origin names that upstream.

Run it with the code to measure first on the path; before/after = the same script with
``PYTHONPATH=/work/main`` (the code before) and ``PYTHONPATH=.`` (this branch)::

    PYTHONPATH=. python bench/vendored_licenses.py [--skip-node] [--skip-origins]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from license_expression import Licensing

SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
VENDOR = SITE / "pip" / "_vendor"
DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
NODE = Path("/usr/lib/node_modules")

# pip/_vendor: read from each package's LICENSE file(s).
VENDOR_TRUTH = {
    "cachecontrol": "Apache-2.0",
    "certifi": "MPL-2.0",
    "distlib": "PSF-2.0",  # LICENSE.txt is the Python license stack (PSF, BeOpen, CNRI, CWI)
    "distro": "Apache-2.0",
    "idna": "BSD-3-Clause",
    "msgpack": "Apache-2.0",
    "packaging": "Apache-2.0 OR BSD-2-Clause",  # LICENSE.BSD is two-clause
    "pkg_resources": "MIT",
    "platformdirs": "MIT",
    "pygments": "BSD-2-Clause",
    "pyproject_hooks": "MIT",
    "requests": "Apache-2.0",
    "resolvelib": "ISC",
    "rich": "MIT",
    "tomli": "MIT",
    "tomli_w": "MIT",
    "truststore": "MIT",
    "urllib3": "MIT",
}
# The Python license stack is named several ways; all mean the PSF terms of the file.
PYTHON_ALIASES = {"PSF-2.0", "Python-2.0", "Python-2.0 AND LicenseRef-scancode-python-cwi"}

# site-packages distributions: declared license, checked against the files (dist-info name prefix).
SITE_TRUTH = {
    "annotated_types": "MIT",
    "attrs": "MIT",
    "boolean_py": "BSD-2-Clause",
    "cfgv": "MIT",
    "click": "BSD-3-Clause",
    "distlib": "PSF-2.0",
    "filelock": "MIT",
    "gitdb": "BSD-3-Clause",  # "License: BSD License"; LICENSE is three-clause
    "gitpython": "BSD-3-Clause",
    "h11": "MIT",
    "identify": "MIT",
    "idna": "BSD-3-Clause",
    "iniconfig": "MIT",
    "jinja2": "BSD-3-Clause",  # classifier "BSD License" only; LICENSE.txt is three-clause
    "jsonschema": "MIT",
    "license_expression": "Apache-2.0",
    "markdown_it_py": "MIT",
    "markupsafe": "BSD-3-Clause",
    "mdurl": "MIT",
    "mypy_extensions": "MIT",
    "nodeenv": "BSD-3-Clause",  # "License: BSD"; LICENSE is three-clause
    "packaging": "Apache-2.0 OR BSD-2-Clause",
    "pathspec": "MPL-2.0",
    "platformdirs": "MIT",
    "pluggy": "MIT",
    "pre_commit": "MIT",
    "pygments": "BSD-2-Clause",
    "pyyaml": "MIT",
    "referencing": "MIT",
    "rich": "MIT",
    "shellingham": "ISC",
    "smmap": "BSD-3-Clause",
    "sortedcontainers": "Apache-2.0",
    "tqdm": "MPL-2.0 AND MIT",
    "truststore": "MIT",
    "typing_extensions": "PSF-2.0",
}
# Upstream corpora for part 2 (name -> folder) and the corpora that bundle copies.
UPSTREAMS = {
    **{
        n: SITE / n
        for n in ("distlib", "idna", "packaging", "platformdirs", "pygments", "rich", "truststore")
    },
    "distro": DIST_PACKAGES / "distro",
}
BUNDLERS = {"setuptools": SITE / "setuptools", "pip-23": DIST_PACKAGES / "pip"}
# A header that only points at the license file (codeguard.licenses.project.POINTER_RE; the
# code before it had none).
_POINTER = re.compile(
    r"(?<![/\w])(?:LICEN[CS]E|COPYING)(?:\.[A-Za-z]+)?\b(?![-/])|\b(?i:licen[cs]e\s+file)\b"
)
_LICENSING = Licensing()


def cli(*args: str | Path) -> dict[str, Any]:
    """Run the real CLI (the codeguard on PYTHONPATH) and parse its JSON output."""
    import codeguard

    # From the folder above the imported package: ``-m`` puts the working directory first on
    # the path, which would run the checkout the script sits in instead of PYTHONPATH's.
    home = Path(codeguard.__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "codeguard", *map(str, args)], capture_output=True, text=True, cwd=home
    )
    if out.returncode not in (0, 1):
        raise SystemExit(
            f"codeguard {' '.join(map(str, args))} failed ({out.returncode}): {out.stderr[-2000:]}"
        )
    return json.loads(out.stdout)


def same(found: str | None, truth: str) -> bool:
    if not found:
        return False
    if truth == "PSF-2.0" and found.strip("()") in PYTHON_ALIASES:
        return True
    try:
        return bool(_LICENSING.is_equivalent(found, truth))
    except Exception:  # noqa: BLE001 - an unparsable expression is not the truth
        return False


def own_notice(source: bytes) -> bool:
    """Whether a file carries a license statement of its own: any header notice that does not
    point at the package's license file ("BSD, see LICENSE" is judged, a full MIT notice is not)."""
    from codeguard.licenses.project import header_license

    found = header_license(source)
    if found is None:
        return False
    lines = source.decode("utf-8", "replace").splitlines()[found.start_line - 1 : found.end_line + 1]
    return not any(_POINTER.search(x) for x in lines)


def indexed_licenses(tree: Path, work: Path, *extra: str) -> dict[str, tuple[str | None, bool]]:
    """relpath -> (effective license, has its own notice) of every file indexed from ``tree``."""
    index = work / f"index-{tree.name}"
    shutil.rmtree(index, ignore_errors=True)
    cli("index", "add", tree, "--index", index, "--no-ml", "--json", *extra)
    with sqlite3.connect(index / "index.db") as conn:
        rows = conn.execute(
            "SELECT f.path, COALESCE(f.license, s.license) FROM files f JOIN sources s ON s.id = f.source_id"
        ).fetchall()
    return {p: (lic, own_notice((tree / p).read_bytes())) for p, lic in rows}


# Files whose header names a second license next to the pointer, read by hand.
FILE_TRUTH = {
    "pygments/styles/solarized.py": "MIT AND BSD-2-Clause",  # "Solarized (licensed under MIT)"
    "pygments/lexers/robotframework.py": "Apache-2.0 AND BSD-2-Clause",  # Nokia's Apache notice
}


def judge(
    files: dict[str, tuple[str | None, bool]], package_of: dict[str, str], truth: dict[str, str]
) -> tuple[int, int, list[str]]:
    """(right packages, packages, lines about the wrong ones)."""
    found: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for path, (lic, own) in files.items():
        pkg = package_of.get(path)
        if pkg is not None and not own:
            found[pkg].append((path, lic))
    wrong = []
    judged = [p for p in truth if found.get(p)]
    for pkg in judged:
        bad = [(path, lic) for path, lic in found[pkg] if not same(lic, FILE_TRUTH.get(path, truth[pkg]))]
        if bad:
            licenses = [lic for _, lic in bad]
            common = max(set(licenses), key=licenses.count)
            example = next(path for path, lic in bad if lic == common)
            wrong.append(
                f"    {pkg}: {len(bad)}/{len(found[pkg])} files {common!r} (e.g. {example}), "
                f"truth {truth[pkg]!r}"
            )
    return len(judged) - len(wrong), len(judged), wrong


def vendor_part(work: Path) -> tuple[int, int, list[str]]:
    files = indexed_licenses(VENDOR, work)
    package_of = {p: p.split("/", 1)[0] for p in files if "/" in p}
    return judge(files, package_of, VENDOR_TRUTH)


def site_part(work: Path) -> tuple[int, int, list[str]]:
    tree = work / "site-packages"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()
    tops: dict[str, str] = {}
    for dist in sorted(SITE.glob("*.dist-info")):
        key = dist.name.split("-", 1)[0].lower()
        if key not in SITE_TRUTH:
            continue
        shutil.copytree(dist, tree / dist.name)
        for line in (dist / "RECORD").read_text().splitlines():
            top = line.split(",", 1)[0].split("/", 1)[0]
            if top.endswith(".dist-info") or top in ("..", "__pycache__") or not top:
                continue
            tops[top] = key
    for top in tops:
        src = SITE / top
        if src.is_dir():
            shutil.copytree(src, tree / top, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        elif src.is_file():
            shutil.copy2(src, tree / top)
    files = indexed_licenses(tree, work)
    package_of = {p: tops[p.split("/", 1)[0]] for p in files if p.split("/", 1)[0] in tops}
    return judge(files, package_of, SITE_TRUTH)


def node_part(work: Path) -> tuple[int, int, list[str]]:
    truth: dict[str, str] = {}
    roots: list[str] = []
    for pj in NODE.rglob("package.json"):
        try:
            data = json.loads(pj.read_text())
        except ValueError:
            continue
        if not isinstance(data, dict) or not data.get("name"):
            continue
        declared = data.get("license") or [
            m.get("type") for m in data.get("licenses") or [] if isinstance(m, dict)
        ]
        if declared:
            rel = pj.parent.relative_to(NODE).as_posix()
            truth[rel] = declared if isinstance(declared, str) else " OR ".join(declared)
            truth[rel] = truth[rel].replace("Apache 2.0", "Apache-2.0")  # qrcode-terminal's name
            roots.append(rel)
    # @npmcli/redact: package.json says ISC, its LICENSE is an MIT text; right only when both show.
    redact = "npm/node_modules/@npmcli/redact"
    if redact in truth:
        truth[redact] = "ISC AND MIT"
    # Packages inside packages that no package.json names, read by hand: node-gyp's gyp is a
    # Python project (pyproject.toml: BSD-3-Clause, LICENSE three-clause); two folders carry an
    # MIT LICENSE for code adapted from Node.js.
    for rel, lic in {
        "npm/node_modules/node-gyp/gyp": "BSD-3-Clause",
        "npm/node_modules/node-gyp/gyp/pylib/packaging": "Apache-2.0 OR BSD-2-Clause",  # vendored
        "npm/node_modules/@npmcli/fs/lib/cp": "MIT",
        "npm/node_modules/undici/lib/web/fetch": "MIT",
    }.items():
        if (NODE / rel).is_dir():
            truth[rel] = lic
            roots.append(rel)
    files = indexed_licenses(NODE, work, "--include-skipped-dirs")
    roots.sort(key=len, reverse=True)
    package_of = {}
    for path in files:
        pkg = next((r for r in roots if path.startswith(r + "/")), None)
        if pkg is not None:
            package_of[path] = pkg
    return judge(files, package_of, truth)


def origins_part(work: Path) -> dict[str, Any]:
    index = work / "index-origins"
    shutil.rmtree(index, ignore_errors=True)
    for name, path in {**BUNDLERS, **UPSTREAMS}.items():
        if path.is_dir():
            cli("index", "add", path, "--index", index, "--name", name, "--no-ml", "--json")
    t0 = time.perf_counter()
    report = cli("scan", VENDOR, "--index", index, "--format", "json", "--fail-on", "none", "--no-ml")
    seconds = time.perf_counter() - t0
    total = upstream = vendored_named = upstream_only_also = same = same_upstream = 0
    for f in report["findings"]:
        pkg = f["path"].split("/", 1)[0]
        if pkg not in UPSTREAMS or not UPSTREAMS[pkg].is_dir():
            continue
        total += 1
        # Whether the upstream release on this machine holds the copied lines verbatim at the
        # same path: where it does not (another version), a bundled copy that does is the right
        # origin ("an identical file preferred over a similar one").
        held = _upstream_holds(pkg, f)
        same += held
        if f["origin"]["source"] == pkg:
            upstream += 1
            same_upstream += held
        else:
            vendored_named += "_vendor/" in f["origin"]["path"]
            upstream_only_also += any(p["source"] == pkg for p in f.get("also_in", []))
    return {
        "findings": total,
        "upstream_named": upstream,
        "vendored_copy_named": vendored_named,
        "upstream_only_in_also_in": upstream_only_also,
        "upstream_holds_the_lines": same,
        "upstream_named_where_it_holds_the_lines": same_upstream,
        "scan_seconds": round(seconds, 1),
    }


def _upstream_holds(pkg: str, f: dict[str, Any]) -> bool:
    up = UPSTREAMS[pkg] / f["path"].split("/", 1)[1]
    if not up.is_file():
        return False
    lines = (VENDOR / f["path"]).read_text(errors="replace").splitlines()[f["start_line"] - 1 : f["end_line"]]
    region = "\n".join(lines).strip()
    return bool(region) and region in up.read_text(errors="replace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-node", action="store_true", help="leave out /usr/lib/node_modules")
    ap.add_argument("--skip-origins", action="store_true", help="leave out part 2")
    args = ap.parse_args()
    import codeguard

    print(f"codeguard from {Path(codeguard.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="cg-vendored-") as tmp:
        work = Path(tmp)
        parts = [("pip/_vendor", vendor_part), ("site-packages (36 dists)", site_part)]
        if not args.skip_node and NODE.is_dir():
            parts.append(("/usr/lib/node_modules", node_part))
        print(f"{'tree':<28} {'right':>6} {'of':>4} {'seconds':>8}")
        for label, part in parts:
            t0 = time.perf_counter()
            right, total, wrong = part(work)
            print(f"{label:<28} {right:>6} {total:>4} {time.perf_counter() - t0:>8.1f}")
            for line in wrong:
                print(line)
        if not args.skip_origins:
            print("origins of pip/_vendor findings (packages with an upstream corpus):")
            print("  " + json.dumps(origins_part(work), sort_keys=True))


if __name__ == "__main__":
    main()
