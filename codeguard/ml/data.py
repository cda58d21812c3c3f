"""Training data for ``codeguard train``: labelled pairs, clusters of clones, synthetic copies.

Sources (``--data KIND:PATH``):

- ``pairs:FILE`` (or a bare ``*.jsonl``): ``{"a": code, "b": code, "label": 0|1, "language"?: name}``;
- ``clusters:FILE``: ``{"cluster": id, "code": code, "language"?: name}``, members of one cluster
  are positives for the contrastive objective;
- ``poj104:DIR``: ``../shared/data/poj104`` train split, programs of one problem form a cluster;
- ``bcb:DIR``: ``../shared/data/bigclonebench-codexglue`` ``train_sampled.txt`` pairs;
- ``synthetic:DIR``: functions of the source files under DIR, each paired with a mutated copy
  (identifiers renamed through tree-sitter tokens, reformatted, independent statements swapped,
  statements inserted or deleted) and with an unrelated function as a negative.

Each pair also carries the cheap evidence the pair head takes at scan time (fingerprint
containment and Jaccard over the same normalized token stream the matcher uses).
"""

from __future__ import annotations

import builtins
import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codeguard.errors import UsageError
from codeguard.ml import DATA_KINDS  # noqa: E402
from codeguard.ml.head import fingerprint_evidence

# Synthetic positives per function; one unrelated negative goes with each.
MUTATIONS_PER_FUNCTION = 1
MIN_FUNCTION_LINES = 4
MAX_FUNCTION_CHARS = 6000


@dataclass
class Pair:
    """Two code fragments and whether one is a copy (any clone type) of the other."""

    a: str
    b: str
    label: int
    language: str = ""
    # Positives with the same group are clones of each other (a BigCloneBench functionality, a
    # POJ-104 problem): the contrastive loss must not use one as the other's negative.
    group: str = ""
    source: str = ""  # the data kind it came from (batches are drawn evenly across sources)


@dataclass
class Cluster:
    """Fragments that are all clones of each other (same problem, same origin)."""

    members: list[str]
    language: str = ""
    source: str = ""
    group: str = ""  # as Pair.group: labelled pairs of the same problem share it


@dataclass
class TrainingData:
    """Labelled pairs (head and contrastive positives) plus clusters (contrastive positives)."""

    pairs: list[Pair] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)

    def extend(self, other: TrainingData) -> None:
        self.pairs.extend(other.pairs)
        self.clusters.extend(other.clusters)

    def summary(self) -> dict[str, int]:
        return {
            "pairs": len(self.pairs),
            "positives": sum(p.label for p in self.pairs),
            "clusters": len(self.clusters),
            "cluster_members": sum(len(c.members) for c in self.clusters),
        }


def parse_data_specs(specs: Iterable[str]) -> list[tuple[str, Path, int]]:
    """(kind, path, limit) of every ``KIND:PATH[:N]`` spec; all problems are reported in one error.

    ``N`` caps the pairs (or clusters, or functions for ``synthetic``) taken from that source.
    """
    out, problems = [], []
    for spec in specs:
        kind, _, path = spec.partition(":")
        if not path and spec.endswith(".jsonl"):
            kind, path = "pairs", spec
        limit = 0
        head, sep, tail = path.rpartition(":")
        if sep and tail.isdigit() and head:
            path, limit = head, int(tail)
        if kind not in DATA_KINDS or not path:
            problems.append(
                f"--data {spec!r}: expected KIND:PATH[:N] with KIND one of {', '.join(DATA_KINDS)}"
            )
        elif not Path(path).exists():
            problems.append(f"--data {spec!r}: {path} does not exist")
        out.append((kind, Path(path), limit))
    if problems:
        raise UsageError("; ".join(problems))
    return out


def describe_data_spec(spec: str) -> str:
    """``KIND:NAME[:N]`` for a ``KIND:PATH[:N]`` spec: the source by name and version, not its path.

    The running interpreter's standard library is ``cpython-stdlib@3.11.7``, a tree with a
    package.json ``NAME@VERSION``, a git work tree ``NAME@COMMIT``; any other file or directory
    is named by itself with the SHA-256 of the files read (``poj104@sha256:1a2b3c4d5e6f``).
    """
    ((kind, path, limit),) = parse_data_specs([spec])
    return f"{kind}:{describe_source(path)}" + (f":{limit}" if limit else "")


def describe_source(path: Path) -> str:
    """A data source by name and version (see :func:`describe_data_spec`)."""
    import platform
    import sysconfig

    path = Path(path).resolve()
    if path == Path(sysconfig.get_paths()["stdlib"]).resolve():
        return f"cpython-stdlib@{platform.python_version()}"
    manifest = path / "package.json"
    if manifest.is_file():
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            return f"{meta['name']}@{meta['version']}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if (path / ".git").exists():
        import subprocess

        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
        )
        if head.returncode == 0:
            return f"{path.name}@{head.stdout.strip()}"
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        digest.update(f.relative_to(path.parent).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return f"{path.name}@sha256:{digest.hexdigest()[:12]}"


def load_data(specs: list[str] | tuple[str, ...], limit: int = 0, seed: int = 0) -> TrainingData:
    """Load every ``KIND:PATH[:N]`` spec; ``N`` (else ``limit``) caps what is taken from each."""
    data = TrainingData()
    for spec, (kind, p, own_limit) in zip(specs, parse_data_specs(specs)):
        limit = own_limit or limit
        rng = random.Random(f"{seed}:{spec}")
        if kind == "pairs":
            part = TrainingData(pairs=_cap(load_pairs_jsonl(p), limit, rng))
        elif kind == "clusters":
            part = TrainingData(clusters=_cap(load_clusters_jsonl(p), limit, rng))
        elif kind == "poj104":
            part = load_poj104(p, rng=rng, n_pairs=limit or 2000)
        elif kind == "bcb":
            part = load_bcb(p, limit=limit, rng=rng)
        else:
            functions = list(functions_from_tree(p))
            part = TrainingData(pairs=synthetic_pairs(_cap(functions, limit, rng), rng))
        for pair in part.pairs:
            pair.source = pair.source or kind
        for cluster in part.clusters:
            cluster.source = cluster.source or kind
        data.extend(part)
    return data


def _cap(items: list, limit: int, rng: random.Random) -> list:  # type: ignore[type-arg]
    if limit and len(items) > limit:
        return rng.sample(items, limit)
    return items


def _read_jsonl(path: Path) -> Iterator[dict]:  # type: ignore[type-arg]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{path}:{n}: not JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise UsageError(f"{path}:{n}: expected a JSON object")
                yield row


def load_pairs_jsonl(path: Path) -> list[Pair]:
    """Pairs from a JSONL file of ``{"a", "b", "label"[, "language"]}`` objects."""
    out = []
    for n, row in enumerate(_read_jsonl(path), 1):
        a, b, label = row.get("a"), row.get("b"), row.get("label")
        if not isinstance(a, str) or not isinstance(b, str) or label not in (0, 1):
            raise UsageError(f"{path}: record {n} needs string 'a' and 'b' and 'label' 0 or 1")
        out.append(Pair(a, b, int(label), str(row.get("language", ""))))
    return out


def load_clusters_jsonl(path: Path) -> list[Cluster]:
    """Clusters from a JSONL file of ``{"cluster", "code"[, "language"]}`` objects."""
    groups: dict[str, Cluster] = {}
    for n, row in enumerate(_read_jsonl(path), 1):
        code = row.get("code")
        if not isinstance(code, str) or "cluster" not in row:
            raise UsageError(f"{path}: record {n} needs 'cluster' and string 'code'")
        groups.setdefault(str(row["cluster"]), Cluster([], str(row.get("language", "")))).members.append(code)
    return [c for c in groups.values() if len(c.members) >= 2]


def load_poj104(
    root: Path,
    split: str = "train",
    rng: random.Random | None = None,
    n_pairs: int = 2000,
    per_problem: int = 100,
) -> TrainingData:
    """POJ-104: one cluster per problem (``per_problem`` programs) and balanced sampled pairs."""
    rng = rng or random.Random(0)
    by_label: dict[str, list[str]] = {}
    for row in _read_jsonl(Path(root) / f"{split}.jsonl.gz"):
        by_label.setdefault(str(row["label"]), []).append(str(row["code"]))
    labels = sorted(by_label)
    clusters = [
        Cluster(rng.sample(by_label[k], min(per_problem, len(by_label[k]))), "cpp", group=f"poj:{k}")
        for k in labels
    ]
    pairs = []
    for i in range(n_pairs):
        c = clusters[rng.randrange(len(clusters))]
        a = rng.choice(c.members)
        if i % 2 == 0:
            b = rng.choice([m for m in c.members if m is not a])
            pairs.append(Pair(a, b, 1, "cpp", c.group))
        else:
            other = rng.choice([o for o in clusters if o is not c])
            pairs.append(Pair(a, rng.choice(other.members), 0, "cpp"))
    return TrainingData(pairs=pairs, clusters=clusters)


def load_bcb(
    root: Path, split: str = "train", limit: int = 0, rng: random.Random | None = None
) -> TrainingData:
    """BigCloneBench (CodeXGLUE): labelled Java function pairs of ``{split}_sampled.txt``."""
    rng = rng or random.Random(0)
    root = Path(root)
    funcs = {str(r["idx"]): str(r["func"]) for r in _read_jsonl(root / "data.jsonl.gz")}
    lines = (root / f"{split}_sampled.txt").read_text(encoding="utf-8").split("\n")
    rows = sorted({tuple(line.split("\t")) for line in lines if line.count("\t") == 2})
    rows = _cap(rows, limit, rng)
    # Functions joined by positive pairs share a functionality: one contrastive group each.
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, lab in rows:
        if lab == "1":
            parent[find(a)] = find(b)
    return TrainingData(
        pairs=[
            Pair(funcs[a], funcs[b], int(lab), "java", f"bcb:{find(a)}" if lab == "1" else "")
            for a, b, lab in rows
        ]
    )


# ---- synthetic clones from real code ---------------------------------------------------------


def functions_from_tree(root: Path, min_lines: int = MIN_FUNCTION_LINES) -> Iterator[tuple[str, str]]:
    """(code, language) of every top-level function or method under ``root`` (a file or a tree)."""
    from codeguard.parsing.chunker import parse_file
    from codeguard.parsing.languages import language_for_path

    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        spec = language_for_path(path.name)
        if spec is None:
            continue
        source = path.read_bytes()
        try:
            parsed = parse_file(source, spec.name)
        except Exception:  # noqa: BLE001 - an unparsable file is skipped, the rest goes on
            continue
        lines = source.decode("utf-8", errors="replace").split("\n")
        for c in parsed.chunks:
            if c.kind in ("function", "method") and c.end_line - c.start_line + 1 >= min_lines:
                text = _dedent("\n".join(lines[c.start_line - 1 : c.end_line]))
                if len(text) <= MAX_FUNCTION_CHARS:
                    yield text, spec.name


def _dedent(text: str) -> str:
    lines = text.split("\n")
    indents = [len(x) - len(x.lstrip(" ")) for x in lines[1:] if x.strip()]
    first = len(lines[0]) - len(lines[0].lstrip(" "))
    cut = min([first, *indents]) if indents else first
    return "\n".join(x[cut:] for x in lines)


def synthetic_pairs(functions: list[tuple[str, str]], rng: random.Random) -> list[Pair]:
    """A mutated copy (positive) and an unrelated function (negative) for each function."""
    out: list[Pair] = []
    if len(functions) < 2:
        return out
    for i, (code, language) in enumerate(functions):
        for _ in range(MUTATIONS_PER_FUNCTION):
            out.append(Pair(code, mutate(code, language, rng), 1, language, f"synthetic:{i}"))
        j = rng.randrange(len(functions) - 1)
        other = functions[j + (j >= i)]
        out.append(
            Pair(code, mutate(other[0], other[1], rng) if rng.random() < 0.5 else other[0], 0, language)
        )
    return out


def mutate(code: str, language: str, rng: random.Random) -> str:
    """A copy as a plagiarist makes it: some of rename, reformat, reorder, insert, delete."""
    steps = [rename_identifiers, reorder_statements, insert_statement, delete_statement, reformat]
    chosen = [s for s in steps if rng.random() < 0.5] or [rng.choice(steps)]
    mutated = code
    for step in chosen:
        mutated = step(mutated, language, rng)
    if language == "python":
        try:  # textual edits can break Python's block structure; keep the copy parseable
            compile(mutated, "<mutated>", "exec")
        except (SyntaxError, ValueError):
            return rename_identifiers(code, language, rng)
    return mutated


_PY_BUILTINS = frozenset(dir(builtins)) | {"self", "cls", "super", "this"}
_C_LIKE_KEEP = frozenset(
    "main printf scanf puts gets strlen strcpy strcmp malloc calloc free memset sizeof cin cout endl std "
    "System String Math Integer Long Double Object List ArrayList Map HashMap Exception this super "
    "console document window require module exports Array JSON Promise".split()
)
_NAME_POOL = (
    "value item tmp acc node result data buf count idx elem cur key val res obj arr num total entry".split()
)


def rename_identifiers(code: str, language: str, rng: random.Random) -> str:
    """Rename local-looking identifiers consistently, found as tree-sitter identifier tokens."""
    from codeguard.parsing.chunker import parse_file
    from codeguard.parsing.languages import ID_TOKEN, stable_token_id

    source = code.encode("utf-8")
    try:
        parsed = parse_file(source, language)
    except Exception:  # noqa: BLE001 - unknown language: leave the code as it is
        return code
    ident = stable_token_id(ID_TOKEN)
    keep = _PY_BUILTINS if language == "python" else _C_LIKE_KEEP
    spans = [
        (int(s), int(e))
        for t, s, e in zip(parsed.tokens, parsed.starts, parsed.ends)
        if t == ident and not source[max(0, int(s) - 1) : int(s)] == b"."
    ]
    names = sorted({source[s:e].decode("utf-8", "replace") for s, e in spans} - keep)
    if not names:
        return code
    victims = set(rng.sample(names, max(1, int(len(names) * rng.uniform(0.5, 1.0)))))
    existing = set(re.findall(r"[A-Za-z_]\w*", code))
    mapping: dict[str, str] = {}
    for name in sorted(victims):
        new = f"{rng.choice(_NAME_POOL)}{rng.randrange(100)}"
        while new in existing or new in mapping.values():
            new = f"{rng.choice(_NAME_POOL)}{rng.randrange(1000)}"
        mapping[name] = new
    out, pos = [], 0
    for s, e in spans:
        name = source[s:e].decode("utf-8", "replace")
        if name in mapping:
            out += [source[pos:s], mapping[name].encode()]
            pos = e
    out.append(source[pos:])
    return b"".join(out).decode("utf-8", "replace")


_SIMPLE_PY = re.compile(r"^(\s*)([A-Za-z_]\w*)\s*(?:[+\-*/%|&]?=)(?!=)(.*)$")
_SIMPLE_C = re.compile(
    r"^(\s*)(?:[A-Za-z_][\w<>\[\]]*\s+)?\**([A-Za-z_]\w*)\s*(?:[+\-*/%|&]?=)(?!=)(.*;)\s*$"
)


def _simple_statement(line: str, language: str) -> re.Match[str] | None:
    return (_SIMPLE_PY if language == "python" else _SIMPLE_C).match(line)


def _names(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", text))


def reorder_statements(code: str, language: str, rng: random.Random) -> str:
    """Swap two adjacent independent assignments (neither reads what the other writes)."""
    lines = code.split("\n")
    spots = []
    for i in range(len(lines) - 1):
        m1, m2 = _simple_statement(lines[i], language), _simple_statement(lines[i + 1], language)
        if m1 and m2 and m1.group(1) == m2.group(1) and m1.group(2) != m2.group(2):
            if m1.group(2) not in _names(m2.group(3)) and m2.group(2) not in _names(m1.group(3)):
                spots.append(i)
    if spots:
        i = rng.choice(spots)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines)


def insert_statement(code: str, language: str, rng: random.Random) -> str:
    """Insert a harmless statement before a random simple statement of the body."""
    lines = code.split("\n")
    spots = [i for i in range(1, len(lines)) if _simple_statement(lines[i], language)]
    if not spots:
        return code
    i = rng.choice(spots)
    indent = _simple_statement(lines[i], language).group(1)  # type: ignore[union-attr]
    name = f"{rng.choice(_NAME_POOL)}_{rng.randrange(100)}"
    stmt = f"{name} = {rng.randrange(10)}" if language == "python" else f"int {name} = {rng.randrange(10)};"
    if language in ("javascript", "typescript"):
        stmt = f"let {name} = {rng.randrange(10)};"
    lines.insert(i, indent + stmt)
    return "\n".join(lines)


def delete_statement(code: str, language: str, rng: random.Random) -> str:
    """Delete one simple statement that is not the only statement of its block."""
    lines = code.split("\n")
    spots = []
    for i in range(1, len(lines) - 1):
        m = _simple_statement(lines[i], language)
        if m and any(lines[j].startswith(m.group(1)) and lines[j].strip() for j in (i - 1, i + 1) if j != i):
            if language != "python" or lines[i + 1].startswith(m.group(1)) and lines[i + 1].strip():
                spots.append(i)
    if spots:
        del lines[rng.choice(spots)]
    return "\n".join(lines)


def reformat(code: str, language: str, rng: random.Random) -> str:
    """Change layout only: indentation width, blank lines, whole-line comments, C brace style."""
    comment = "#" if language == "python" else "//"
    lines = [x for x in code.split("\n") if not x.strip().startswith(comment)] or code.split("\n")
    width = rng.choice([2, 8] if language == "python" else [2, 3, 8])
    out = []
    for line in lines:
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        if indent % 4 == 0:  # continuation lines keep their alignment
            line = " " * (indent // 4 * width) + body
        if language != "python" and body.endswith("{") and body != "{" and rng.random() < 0.5:
            out += [line[:-1].rstrip(), line[: len(line) - len(body)] + "{"]
        else:
            out.append(line)
        if language != "python" and body and rng.random() < 0.1:
            out.append("")
    return "\n".join(out)


# ---- cheap evidence ---------------------------------------------------------------------------

_LEX = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\S")


def _tokens(code: str, language: str) -> np.ndarray:
    from codeguard.parsing.chunker import parse_file
    from codeguard.parsing.languages import LANGUAGES, stable_token_id

    if language in LANGUAGES:
        try:
            return parse_file(code.encode("utf-8"), language).tokens
        except Exception:  # noqa: BLE001 - fall back to the lexical stream below
            pass
    # Unknown language: a crude lexer with the same abstraction (identifiers and literals hidden).
    toks = [
        "$ID" if t[0].isalpha() or t[0] == "_" else "$LIT" if t[0] in "\"'0123456789" else t
        for t in _LEX.findall(code)
    ]
    return np.array([stable_token_id(t) for t in toks], dtype=np.uint32)


def evidence(
    a: str, b: str, language: str, cache: dict[tuple[str, str], np.ndarray] | None = None
) -> np.ndarray:
    """The head's extra features for a pair: fingerprint containment and Jaccard.

    ``cache`` memoizes fingerprints by (text, language): datasets reuse the same functions in
    many pairs (BigCloneBench: 9,134 functions in 90,102 training pairs).
    """
    cache = {} if cache is None else cache
    return fingerprint_evidence(fingerprints_of(a, language, cache), fingerprints_of(b, language, cache))


def fingerprints_of(
    code: str, language: str, cache: dict[tuple[str, str], np.ndarray] | None = None
) -> np.ndarray:
    """Winnowed fingerprints of a code fragment, as the matcher computes them (memoized in ``cache``)."""
    if cache is None:
        cache = {}
    from codeguard.fingerprint.winnow import family_seed, fingerprint
    from codeguard.parsing.languages import LANGUAGES

    key = (code, language)
    if key not in cache:
        family = LANGUAGES[language].fingerprint_family if language in LANGUAGES else "generic"
        cache[key], _ = fingerprint(_tokens(code, language), family_seed(family))
    return cache[key]
