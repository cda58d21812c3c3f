"""Loaders for the shared clone benchmarks, read in place (never copied into the repository).

Location: ``$CODEGUARD_DATA``, else ``../shared/data`` next to the repository root, else
``/work/shared/data``. Formats and splits are those described in each dataset's README.
"""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codeguard.errors import CodeguardError, ExitCode

DATA_ENV = "CODEGUARD_DATA"
REPO_ROOT = Path(__file__).resolve().parents[2]
FALLBACK = Path("/work/shared/data")

Item = tuple[str, str, str]  # (id, code, language)
Pair = tuple[str, str]


class DatasetUnavailable(CodeguardError):
    """A benchmark dataset is missing or unreadable."""

    exit_code = ExitCode.UNAVAILABLE


def data_dir() -> Path:
    """The directory holding the shared datasets (poj104/, bigclonebench-codexglue/, ...)."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    default = REPO_ROOT.parent / "shared" / "data"
    return default if default.is_dir() else FALLBACK


def dataset_path(name: str, root: Path | None = None) -> Path:
    """``root/name``, or a DatasetUnavailable error that says how to point at the data."""
    base = root or data_dir()
    path = base / name
    if not path.is_dir():
        raise DatasetUnavailable(
            f"dataset {name!r} not found under {base}; set ${DATA_ENV} to the directory that holds it"
        )
    return path


# --- POJ-104 -----------------------------------------------------------------------------


@dataclass
class Labelled:
    """Programs with a class label each (same label = clone)."""

    items: list[Item]
    labels: list[str]


def _jsonl_gz(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _per_label(rows: list[tuple[str, Item]], limit: int | None) -> Labelled:
    """Keep at most ``limit`` items spread evenly over the labels (a label's first ones)."""
    labels = sorted({lab for lab, _ in rows}, key=lambda s: (len(s), s))
    if limit is not None:
        per = max(2, limit // max(1, len(labels)))
        allowed = set(labels[: max(1, limit // per)])
        seen: dict[str, int] = {}
        kept = []
        for lab, item in rows:
            if lab in allowed and seen.get(lab, 0) < per:
                seen[lab] = seen.get(lab, 0) + 1
                kept.append((lab, item))
        rows = kept
    return Labelled(items=[it for _, it in rows], labels=[lab for lab, _ in rows])


def load_poj104(split: str = "test", limit: int | None = None, root: Path | None = None) -> Labelled:
    """POJ-104 ``train``/``valid``/``test`` programs (C/C++) with their problem labels."""
    path = dataset_path("poj104", root) / f"{split}.jsonl.gz"
    if not path.is_file():
        raise DatasetUnavailable(f"{path} not found (splits: train, valid, test)")
    rows = [(r["label"], (f"poj{r['index']}", r["code"], "cpp")) for r in _jsonl_gz(path)]
    return _per_label(rows, limit)


# --- BigCloneBench (CodeXGLUE form) --------------------------------------------------------


@dataclass
class PairSet:
    """Labelled pairs of item ids (1 = clone)."""

    pairs: list[Pair]
    labels: list[int]


def load_bcb_pairs(name: str, limit: int | None = None, root: Path | None = None) -> PairSet:
    """A CodeXGLUE pair list ``idx1<TAB>idx2<TAB>label`` (e.g. ``test_head2000``)."""
    path = dataset_path("bigclonebench-codexglue", root) / f"{name}.txt"
    if not path.is_file():
        raise DatasetUnavailable(f"{path} not found")
    pairs, labels = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) != 3:
                continue
            pairs.append((parts[0], parts[1]))
            labels.append(1 if parts[2] == "1" else 0)
            if limit is not None and len(pairs) >= limit:
                break
    return PairSet(pairs, labels)


def load_bcb_functions(ids: set[str] | None = None, root: Path | None = None) -> list[Item]:
    """The BigCloneBench Java functions (``data.jsonl.gz``), only ``ids`` when given."""
    path = dataset_path("bigclonebench-codexglue", root) / "data.jsonl.gz"
    items = []
    for r in _jsonl_gz(path):
        idx = str(r["idx"])
        if ids is None or idx in ids:
            items.append((idx, r["func"], "java"))
    return items


# --- GCJ (DeepSim / FA-AST googlejam4) --------------------------------------------------------


def load_gcj(limit: int | None = None, root: Path | None = None) -> Labelled:
    """The googlejam4 Java programs, labelled by problem folder (read from the zip in place).
    Ids are ``<problem>/<file name>``."""
    path = dataset_path("gcj-deepsim", root) / "googlejam4_src.zip"
    rows = []
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            parts = name.split("/")
            if len(parts) != 3 or not parts[2].endswith(".java"):
                continue
            code = zf.read(name).decode("utf-8", errors="replace")
            rows.append((parts[1], (f"{parts[1]}/{parts[2]}", code, "java")))
    rows.sort(key=lambda r: (int(r[0]), r[1][0]))
    return _per_label(rows, limit)


def load_gcj_valid_pairs(root: Path | None = None) -> PairSet:
    """FA-AST's 500 validation pairs (``validsmall``), ids as in ``load_gcj``."""
    path = dataset_path("gcj-deepsim", root) / "fa-ast_validsmall_pairs.txt"
    pairs, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        a, b = (p.replace("\\", "/").split("/", 1)[1] for p in parts[:2])
        pairs.append((a, b))
        labels.append(1 if parts[2] == "1" else 0)
    return PairSet(pairs, labels)


# --- SOCO (FIRE 2014 training collection) -------------------------------------------------------

SOCO_LANGUAGES = {"c": ("c", ".c"), "java": ("java", ".java")}


@dataclass
class Collection:
    """Files of one language and the unordered pairs judged as reuse."""

    items: list[Item]
    positives: set[frozenset[str]]


def load_soco(language: str, limit: int | None = None, root: Path | None = None) -> Collection:
    """SOCO 2014 training files of ``language`` (``c`` or ``java``) and their reuse qrels."""
    base = dataset_path("soco-fire2014-train", root)
    parser_lang, ext = SOCO_LANGUAGES[language]
    files = sorted((base / language).glob(f"*{ext}"))
    if limit is not None:
        files = files[:limit]
    items = [(f.name, f.read_bytes().decode("utf-8", errors="replace"), parser_lang) for f in files]
    names = {f.name for f in files}
    positives = set()
    for line in (base / f"SOCO14-{language}.qrel").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in names and parts[1] in names and parts[0] != parts[1]:
            positives.add(frozenset(parts))
    return Collection(items, positives)
