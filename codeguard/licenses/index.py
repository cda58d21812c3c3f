"""The license rule index: ScanCode's rules as NumPy arrays, built once and cached on disk.

It is built from the rule set (``ruleset.py``: word ids and attributes of every rule), shipped
with the package for the pinned database version, so a first run derives the arrays in about
two seconds; for another installed database version the rules are read from it first (10-20 s,
said once on stderr).

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
it is built from the same ``licensedcode-data`` version (from the shipped rule set or the
database). The cache folder is written to a temporary sibling and renamed into place, so a
crash or a concurrent build never leaves a half-written index.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codeguard.config import cache_dir as default_cache_dir  # one place for every per-user cache
from codeguard.errors import IndexUnavailable
from codeguard.licenses import ruledb, ruleset
from codeguard.licenses.ruleset import KIND_CODE as KIND_CODE  # re-exported: match.py, detect.py
from codeguard.licenses.ruleset import KINDS as KINDS
from codeguard.licenses.ruleset import Ruleset

FORMAT_VERSION = 5
# Gram length for anchors and candidate search: long enough that a gram is specific (few rules
# share most 6-word grams), short enough that a notice with a changed word every 10 words
# still shares grams with its rule.
K = 6
BASE = np.uint64(0x9E3779B97F4A7C15)

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


def _build_arrays(rules: Ruleset) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Every array of the index from a rule set (NumPy only: about 2 s, ~260 MB at peak).

    The hashes are those of ``prefix_hashes``/``span_hashes``, computed without a prefix array
    over all 5.7M rule words (and the table of powers it needs): a rule's hash sums each word
    times ``BASE`` to the power of its distance from the rule's end, a gram's is K Horner steps.
    """
    base = rules.arrays
    tokens = np.ascontiguousarray(base["tokens"], dtype=np.int32)
    roff = np.asarray(base["roff"], dtype=np.int64)
    rlen = np.diff(roff)
    n = len(rlen)
    vocab_size = len(rules.meta["vocab"])  # type: ignore[arg-type]
    rule_of_token = np.repeat(np.arange(n, dtype=np.int32), rlen)

    pw, _ = powers(int(rlen.max()) if n else 0)
    with np.errstate(over="ignore"):
        from_end = roff[1:][rule_of_token] - 1 - np.arange(len(tokens), dtype=np.int64)
        terms = pw[from_end]
        del from_end
        terms *= tokens.astype(np.uint64)
        rhash = np.add.reduceat(terms, roff[:-1]) if n else np.zeros(0, dtype=np.uint64)
        del terms

    # every K-gram of every rule with its position: a gram starts anywhere but in the K-1
    # last words of its rule
    inside = np.ones(len(tokens), dtype=np.bool_)
    for j in range(1, K):
        inside[np.maximum(roff[1:] - j, roff[:-1])] = False
    starts = np.nonzero(inside)[0]
    del inside
    grams = tokens[starts].astype(np.uint64)
    with np.errstate(over="ignore"):
        for j in range(1, K):
            grams *= BASE
            grams += tokens[starts + j].astype(np.uint64)
    rule_of = rule_of_token[starts]

    long_rules = np.nonzero(rlen >= K)[0]
    anchor = grams[np.searchsorted(starts, roff[long_rules])]
    aorder = np.argsort(anchor, kind="stable")
    short_rules = np.nonzero(rlen < K)[0]
    sorder = np.argsort(rhash[short_rules], kind="stable")

    # grouped by hash (CSR), within one hash by rule then position: starts increase, so a
    # stable sort by hash keeps that order
    gorder = np.argsort(grams, kind="stable")
    grams = grams[gorder]
    kg_pos = (starts[gorder] - roff[rule_of[gorder]]).astype(np.int32)
    del starts
    kg_rid = rule_of[gorder]
    del rule_of, gorder
    new = np.ones(len(grams), dtype=np.bool_)
    new[1:] = grams[1:] != grams[:-1]
    first = np.nonzero(new)[0]
    kg_u = grams[first]
    del grams
    kg_off = np.append(first, len(kg_rid)).astype(np.int64)
    new[1:] |= kg_rid[1:] != kg_rid[:-1]
    nkg = np.bincount(kg_rid[new], minlength=n).astype(np.int32)  # distinct grams per rule
    del new

    # inverse document frequency of each word over the rules: how much a word tells which
    # rule this is ("gplv3" a lot, "the" nothing)
    pairs = rule_of_token.astype(np.int64) * (vocab_size + 1) + tokens
    del rule_of_token
    pairs.sort()
    distinct = np.ones(len(pairs), dtype=np.bool_)
    distinct[1:] = pairs[1:] != pairs[:-1]
    df = np.bincount(pairs[distinct] % (vocab_size + 1), minlength=vocab_size + 1).astype(np.int64)
    del pairs, distinct
    idf = np.log((n + 1) / (df + 1)).astype(np.float32)
    rweight = np.add.reduceat(idf[tokens], roff[:-1]).astype(np.float32)

    arrays: dict[str, np.ndarray] = {
        name: np.asarray(base[name])
        for name in ("kind", "mincov", "relevance", "continuous", "expr", "req_rid", "req_start", "req_end")
    }
    arrays.update(
        {
            "tokens": tokens,
            "roff": roff,
            "rlen": rlen.astype(np.int32),
            "rhash": rhash,
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
    )
    meta: dict[str, object] = {"format": FORMAT_VERSION, "k": K, **rules.meta}
    return arrays, meta


def index_path(cache_dir: Path | None = None) -> Path:
    """Where the index of the installed database version lives."""
    root = cache_dir or default_cache_dir()
    return root / "licenses" / f"index-{ruledb.data_version()}-f{FORMAT_VERSION}-k{K}"


def rules_for_build(packaged: Path | None = ruleset.PACKAGED) -> Ruleset:
    """The shipped rule set if it is of the installed database version, else the rules read
    from the database, after one line on stderr that says why this run takes a while."""
    installed = ruledb.data_version()
    shipped = ruleset.load(packaged) if packaged is not None else None
    if shipped is not None and shipped.data_version == installed:
        return shipped
    why = (
        f"codeguard ships it for licensedcode-data {shipped.data_version}"
        if shipped is not None
        else "this installation ships it for no version"
    )
    print(
        f"codeguard: building the license rule index from licensedcode-data {installed} ({why}): "
        "10-20 s, once per database version",
        file=sys.stderr,
        flush=True,
    )
    return ruleset.read_database()


def build_index(path: Path, rules: Ruleset | None = None) -> None:
    """Build the index into ``path`` atomically (a concurrent builder's result is kept)."""
    arrays, meta = _build_arrays(rules or rules_for_build())
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
    rules = rules_for_build()
    try:
        build_index(path, rules)
    except OSError:
        arrays, meta = _build_arrays(rules)
        return _index_from(arrays, meta, None)
    return load_index(path)
