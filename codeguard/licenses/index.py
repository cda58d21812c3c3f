"""The license rule index: ScanCode's rules as NumPy arrays, built once and cached on disk.

Layout (one folder of ``.npy`` files plus ``meta.json``, memory-mapped when loaded):

- ``tokens``/``roff``: every rule's word ids, concatenated, and the offset of each rule.
- ``rhash``: a 64-bit polynomial hash of every rule's whole token sequence. Exact matching looks
  a rule up by the hash of its first ``K`` words (``anchor_*``; shorter rules by their whole
  hash, ``short_*``) and confirms it with the rolling hash of the query span of its length.
- ``kg_u``/``kg_off``/``kg_rid``/``kg_pos``: for every distinct ``K``-word gram of the rules,
  each (rule, position) where it occurs (CSR layout). Approximate matching uses it to find
  candidate rules and to seed their alignment with the query.
- ``idf``: how rare each word is among rules (log inverse document frequency), and
  ``rweight``, each rule's total: approximate matches are held to their rule's minimum
  coverage both by words and by this information weight.
- per-rule attributes (kind, minimum coverage, relevance, required-phrase spans) and, in
  ``meta.json``, the vocabulary, rule identifiers and expressions, and the license table.

Hashes are pure functions of the word ids (``P[i+1] = P[i] * BASE + t[i]`` modulo 2**64); the
word ids are the rank of the word in the sorted vocabulary, so the index is identical wherever
it is built from the same ``licensedcode-data`` version. The cache folder is written to a
temporary sibling and renamed into place, so a crash or a concurrent build never leaves a
half-written index.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codeguard.errors import IndexUnavailable
from codeguard.licenses import ruledb
from codeguard.licenses.tokenize import rule_words

FORMAT_VERSION = 4
# Gram length for anchors and candidate search: long enough that a gram is specific (few rules
# share most 6-word grams), short enough that a notice with a changed word every 10 words
# still shares grams with its rule.
K = 6
BASE = np.uint64(0x9E3779B97F4A7C15)

KINDS = ("text", "notice", "reference", "tag", "intro", "clue", "false_positive")
KIND_CODE = {k: i for i, k in enumerate(KINDS)}
FALSE_POSITIVE = KIND_CODE["false_positive"]

_ARRAYS = (
    "tokens", "roff", "rlen", "rhash", "kind", "mincov", "relevance", "continuous", "expr",
    "req_rid", "req_start", "req_end", "anchor_hash", "anchor_rid", "short_hash", "short_rid",
    "kg_u", "kg_off", "kg_rid", "kg_pos", "nkg", "idf", "rweight",
)  # fmt: skip


def _inverse(b: int) -> int:
    """Multiplicative inverse of an odd ``b`` modulo 2**64 (Newton iteration)."""
    inv = b
    for _ in range(6):
        inv = (inv * (2 - b * inv)) % (1 << 64)
    return inv


INV_BASE = np.uint64(_inverse(int(BASE)))
_POW_LOCK = threading.Lock()
_POW: dict[str, np.ndarray] = {"pw": np.ones(1, dtype=np.uint64), "ipw": np.ones(1, dtype=np.uint64)}


def powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``BASE**i`` and ``BASE**-i`` for ``i`` in ``0..n`` (mod 2**64), grown on demand."""
    pw, ipw = _POW["pw"], _POW["ipw"]
    if len(pw) > n:
        return pw, ipw
    with _POW_LOCK:
        size = max(n + 1, 2 * len(_POW["pw"]), 1 << 16)
        pw = np.empty(size, dtype=np.uint64)
        ipw = np.empty(size, dtype=np.uint64)
        pw[0] = ipw[0] = 1
        with np.errstate(over="ignore"):
            np.cumprod(np.full(size - 1, BASE, dtype=np.uint64), out=pw[1:])
            np.cumprod(np.full(size - 1, INV_BASE, dtype=np.uint64), out=ipw[1:])
        _POW["pw"], _POW["ipw"] = pw, ipw
    return pw, ipw


def prefix_hashes(tokens: np.ndarray) -> np.ndarray:
    """``P`` with ``P[0] = 0`` and ``P[i+1] = P[i] * BASE + tokens[i]`` (mod 2**64), in O(n).

    ``P[i] = BASE**(i-1) * sum_{j<i} tokens[j] * BASE**-j``: one cumulative sum instead of a
    Python loop, using the inverse of the (odd) base.
    """
    n = len(tokens)
    out = np.zeros(n + 1, dtype=np.uint64)
    if n == 0:
        return out
    pw, ipw = powers(n)
    with np.errstate(over="ignore"):
        acc = np.cumsum(np.asarray(tokens, dtype=np.uint64) * ipw[:n], dtype=np.uint64)
        out[1:] = acc * pw[:n]
    return out


def span_hashes(prefix: np.ndarray, starts: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
    """Hashes of ``tokens[s : s + l]`` from the prefix hashes (vectorised over ``starts``)."""
    pw, _ = powers(int(np.max(lengths)) if np.size(lengths) else 0)
    with np.errstate(over="ignore"):
        out: np.ndarray = prefix[starts + lengths] - prefix[starts] * pw[lengths]
    return out


@dataclass
class LicenseIndex:
    """The loaded index: arrays (memory-mapped) plus the string tables of ``meta.json``."""

    arrays: dict[str, np.ndarray]
    vocab: dict[str, int]
    identifiers: list[str]
    expressions: list[str]
    licenses: dict[str, dict[str, object]]
    data_version: str
    path: Path | None = None
    _np: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def n_rules(self) -> int:
        return len(self.identifiers)


def _build_arrays() -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Read the database and compute every array (7-12 s on 2 cores, most of it YAML and tokenizing)."""
    licenses: dict[str, dict[str, object]] = {}
    specs: list[ruledb.RuleSpec] = []
    for info, rule in ruledb.iter_licenses():
        licenses[info.key] = {
            "spdx": info.spdx,
            "other_spdx": list(info.other_spdx),
            "category": info.category,
            "is_exception": info.is_exception,
            "is_deprecated": info.is_deprecated,
            "short_name": info.short_name,
        }
        if rule is not None:
            specs.append(rule)
    specs.extend(ruledb.iter_rules())

    kept: list[ruledb.RuleSpec] = []
    words_by_rule: list[list[str]] = []
    spans_by_rule: list[list[tuple[int, int]]] = []
    for spec in specs:
        words, spans = rule_words(spec.text)
        if words:
            kept.append(spec)
            words_by_rule.append(words)
            spans_by_rule.append(spans)

    vocab_list = sorted({w for words in words_by_rule for w in words})
    vocab = {w: i + 1 for i, w in enumerate(vocab_list)}  # 0 never matches: unknown/consumed
    n = len(kept)
    rlen = np.array([len(w) for w in words_by_rule], dtype=np.int64)
    roff = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(rlen, out=roff[1:])
    tokens = np.fromiter(
        (vocab[w] for words in words_by_rule for w in words), dtype=np.int32, count=int(roff[-1])
    )

    prefix = prefix_hashes(tokens)
    # hash of rule r = P[end] - P[start] * BASE**len over the concatenation
    rhash = span_hashes(prefix, roff[:-1], rlen)

    long_rules = np.nonzero(rlen >= K)[0]
    anchor = span_hashes(prefix, roff[long_rules], K)
    aorder = np.argsort(anchor, kind="stable")
    short_rules = np.nonzero(rlen < K)[0]
    sorder = np.argsort(rhash[short_rules], kind="stable")

    # every K-gram of every rule with its position, grouped by hash (CSR)
    starts = np.arange(max(len(tokens) - K + 1, 0), dtype=np.int64)
    rule_of = np.searchsorted(roff, starts, side="right") - 1
    inside = starts + K <= roff[rule_of + 1]
    starts, rule_of = starts[inside], rule_of[inside]
    grams = span_hashes(prefix, starts, K)
    gorder = np.lexsort((starts, rule_of, grams))
    grams, starts, rule_of = grams[gorder], starts[gorder], rule_of[gorder]
    kg_u, first = np.unique(grams, return_index=True)
    kg_off = np.append(first, len(grams)).astype(np.int64)
    kg_rid = rule_of.astype(np.int32)
    kg_pos = (starts - roff[rule_of]).astype(np.int32)
    distinct = np.ones(len(grams), dtype=np.bool_)
    distinct[1:] = (grams[1:] != grams[:-1]) | (rule_of[1:] != rule_of[:-1])
    nkg = np.bincount(rule_of[distinct], minlength=n).astype(np.int32)  # distinct grams per rule

    # inverse document frequency of each word over the rules: how much a word tells which
    # rule this is ("gplv3" a lot, "the" nothing)
    df = np.zeros(len(vocab) + 1, dtype=np.int64)
    for words in words_by_rule:
        df[[vocab[w] for w in set(words)]] += 1
    idf = np.log((n + 1) / (df + 1)).astype(np.float32)
    rweight = np.add.reduceat(idf[tokens], roff[:-1]).astype(np.float32)

    expr_list = sorted({s.expression for s in kept})
    expr_code = {e: i for i, e in enumerate(expr_list)}
    req = [(r, a, b) for r, spans in enumerate(spans_by_rule) for a, b in spans]
    req_arr = np.array(req, dtype=np.int32).reshape(-1, 3)

    arrays: dict[str, np.ndarray] = {
        "tokens": tokens,
        "roff": roff,
        "rlen": rlen.astype(np.int32),
        "rhash": rhash,
        "kind": np.array([KIND_CODE[s.kind] for s in kept], dtype=np.int8),
        "mincov": np.array([s.minimum_coverage for s in kept], dtype=np.int16),
        "relevance": np.array([s.relevance for s in kept], dtype=np.int16),
        "continuous": np.array([s.is_continuous for s in kept], dtype=np.bool_),
        "expr": np.array([expr_code[s.expression] for s in kept], dtype=np.int32),
        "req_rid": req_arr[:, 0].copy(),
        "req_start": req_arr[:, 1].copy(),
        "req_end": req_arr[:, 2].copy(),
        "anchor_hash": anchor[aorder],
        "anchor_rid": long_rules[aorder].astype(np.int32),
        "short_hash": rhash[short_rules][sorder],
        "short_rid": short_rules[sorder].astype(np.int32),
        "kg_u": kg_u,
        "kg_off": kg_off,
        "kg_rid": kg_rid,
        "kg_pos": kg_pos,
        "idf": idf,
        "rweight": rweight,
        "nkg": nkg,
    }
    meta: dict[str, object] = {
        "format": FORMAT_VERSION,
        "k": K,
        "data_version": ruledb.data_version(),
        "vocab": vocab_list,
        "identifiers": [s.identifier for s in kept],
        "expressions": expr_list,
        "licenses": licenses,
    }
    return arrays, meta


def default_cache_dir() -> Path:
    """``$CODEGUARD_CACHE_DIR`` or the per-user cache directory (platformdirs)."""
    env = os.environ.get("CODEGUARD_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("codeguard"))


def index_path(cache_dir: Path | None = None) -> Path:
    """Where the index of the installed database version lives."""
    root = cache_dir or default_cache_dir()
    return root / "licenses" / f"index-{ruledb.data_version()}-f{FORMAT_VERSION}-k{K}"


def build_index(path: Path) -> None:
    """Build the index into ``path`` atomically (a concurrent builder's result is kept)."""
    arrays, meta = _build_arrays()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".tmp-", dir=path.parent))
    try:
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.rename(tmp, path)
        except OSError:
            if not (path / "meta.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _derive(arrays: dict[str, np.ndarray], vocab_size: int) -> None:
    """Lookup helpers computed at load (milliseconds): run lengths of the sorted hash tables
    and which words can start a rule, so exact matching hashes only plausible positions."""
    tokens, roff = arrays["tokens"], arrays["roff"]
    for table in ("short", "anchor"):
        hashes = arrays[f"{table}_hash"]
        runs = np.zeros(len(hashes) + 1, dtype=np.int64)
        _, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        runs[first] = counts
        arrays[f"{table}_runs"] = runs
        starts = np.zeros(vocab_size + 1, dtype=np.bool_)
        starts[np.asarray(tokens[roff[arrays[f"{table}_rid"]]])] = True
        arrays[f"{table}_starts"] = starts


def load_index(path: Path) -> LicenseIndex:
    """Load a built index (arrays memory-mapped); raise IndexUnavailable if it is unusable."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION or meta.get("k") != K:
            raise IndexUnavailable(f"license index {path} has another format; delete it to rebuild")
        arrays = {n: np.load(path / f"{n}.npy", mmap_mode="r", allow_pickle=False) for n in _ARRAYS}
        return _index_from(arrays, meta, path)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise IndexUnavailable(f"license index {path} is unreadable ({exc}); delete it to rebuild") from exc


def _index_from(arrays: dict[str, np.ndarray], meta: dict[str, object], path: Path | None) -> LicenseIndex:
    # small, hot arrays are faster in memory than behind a memory map
    for name in (
        "rlen", "rhash", "kind", "mincov", "relevance", "continuous", "expr", "nkg", "roff",
        "anchor_hash", "anchor_rid", "short_hash", "short_rid", "idf", "rweight",
    ):  # fmt: skip
        arrays[name] = np.asarray(arrays[name]).copy()
    vocab_list = list(meta["vocab"])  # type: ignore[call-overload]
    _derive(arrays, len(vocab_list))
    return LicenseIndex(
        arrays=arrays,
        vocab={w: i + 1 for i, w in enumerate(vocab_list)},
        identifiers=list(meta["identifiers"]),  # type: ignore[call-overload]
        expressions=list(meta["expressions"]),  # type: ignore[call-overload]
        licenses=dict(meta["licenses"]),  # type: ignore[call-overload]
        data_version=str(meta["data_version"]),
        path=path,
    )


_LOCK = threading.Lock()
_CACHED: dict[Path, LicenseIndex] = {}


def get_index(cache_dir: Path | None = None) -> LicenseIndex:
    """The index for the installed database: loaded once per process, built on first use.

    A cache folder that cannot be written means an index built in memory for this process
    (slower start, same results); a corrupt cached index is set aside and rebuilt once.
    """
    path = index_path(cache_dir)
    idx = _CACHED.get(path)
    if idx is not None:
        return idx
    with _LOCK:
        idx = _CACHED.get(path)
        if idx is None:
            idx = _load_or_build(path)
            _CACHED[path] = idx
    return idx


def _load_or_build(path: Path) -> LicenseIndex:
    try:
        cached = (path / "meta.json").is_file()
    except OSError:  # an unreadable cache folder
        cached = False
    if cached:
        try:
            return load_index(path)
        except IndexUnavailable:
            aside = path.with_name(f"{path.name}.broken-{os.getpid()}")
            try:
                os.rename(path, aside)
            except OSError:
                pass
            shutil.rmtree(aside, ignore_errors=True)
    try:
        build_index(path)
    except OSError:
        arrays, meta = _build_arrays()
        return _index_from(arrays, meta, None)
    return load_index(path)
