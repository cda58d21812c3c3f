"""Semantic matching: copies rewritten with the same meaning, which fingerprints cannot see.

For every chunk of the scanned tree that no fingerprint finding covers, candidates are the
reference chunks nearest to its embedding in the index's FAISS vectors (top-k) plus the reference
chunks fingerprints aligned with it without reaching the reporting thresholds. The model's pair
head decides each (chunk, candidate) pair from both embeddings and the fingerprint evidence;
pairs at or above the scan threshold become findings of match type ``semantic`` that carry the
probability. The scan threshold is the model's own (chosen for F1 on validation pairs when it was
trained), raised to at least MIN_SCAN_PROBABILITY: on the shared development corpus the model's
0.61 also reported 9 of 20 independently written files (re-implementations of stdlib tasks)
against the stdlib; meaning alone cannot tell a rewrite from an independent implementation, so
by default only the model's most confident verdicts are shown.

The model is loaded through ONNX Runtime (never torch); embeddings of scanned chunks are cached
by content hash (:mod:`codeguard.ml.cache`), so a rescan embeds only what changed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codeguard.engine.analyze import Analyzed
from codeguard.fingerprint.winnow import family_seed, fingerprint
from codeguard.index.store import IndexStore, RefFile, SourceRow
from codeguard.index.vectors import EmbeddingModelMismatch, VectorIndex, chunk_text, open_vectors
from codeguard.ml.card import ModelUnavailable, default_model_dir
from codeguard.ml.head import fingerprint_evidence
from codeguard.model import Chunk, Finding, Fragment, Provenance, finding_fingerprint
from codeguard.parsing.languages import LANGUAGES

# Nearest reference chunks fetched per scanned chunk.
TOP_K = 5
# Scanned chunks smaller than this (normalized tokens) are left to fingerprints: short functions
# (getters, one-line wrappers) resemble too many others for a meaning-level verdict.
MIN_SEMANTIC_TOKENS = 50
# Candidates whose cosine similarity is below this are not worth the head's time.
MIN_COSINE = 0.3
# Other origins listed per finding.
ALSO_IN_MAX = 5
# The least P(copy) a scan reports unless --semantic-threshold says otherwise (see above).
MIN_SCAN_PROBABILITY = 0.9


@dataclass
class Semantic:
    """A loaded model with the index vectors it matches against."""

    encoder: Any  # codeguard.ml.encoder.Encoder
    vectors: VectorIndex
    model_dir: Path
    threshold: float
    cache: Any = None  # codeguard.ml.cache.EmbeddingCache
    stats: dict[str, Any] = field(default_factory=dict)


def load_semantic(
    store: IndexStore, model: Path | None, threshold: float | None = None, use_cache: bool = True
) -> tuple[Semantic | None, str]:
    """The semantic layer for ``store``, or None and the reason it is off.

    Raises :class:`ModelUnavailable` (exit 4) when the index holds embeddings but the model that
    would read them is missing, broken or another one.
    """
    from codeguard.ml.encoder import Encoder

    t0 = time.perf_counter()
    vectors = open_vectors(store)
    if vectors is None:
        return None, "off: the index holds no embeddings (run `codeguard index embed` to add them)"
    model_dir = model or default_model_dir()
    if model_dir is None:
        raise ModelUnavailable(
            f"the index was embedded with model {vectors.model_id}, but no model is installed; pass "
            "--model DIR (the model directory it was built with) or scan with --no-ml"
        )
    encoder = Encoder.load(model_dir)
    if encoder.card.model_id != vectors.model_id or encoder.dim != vectors.dim:
        raise EmbeddingModelMismatch(
            f"the index was embedded with model {vectors.model_id} ({vectors.dim} dimensions), but "
            f"{model_dir} is model {encoder.card.model_id} ({encoder.dim} dimensions); scan with --model "
            f"pointing at the model the index was built with, re-embed the index with `codeguard index "
            f"embed --model {model_dir}`, or scan with --no-ml"
        )
    cache = None
    if use_cache:
        from codeguard.ml.cache import EmbeddingCache

        cache = EmbeddingCache(encoder.card.model_id, encoder.dim)
    sem = Semantic(
        encoder=encoder,
        vectors=vectors,
        model_dir=Path(model_dir),
        threshold=max(encoder.card.threshold, MIN_SCAN_PROBABILITY) if threshold is None else threshold,
        cache=cache,
    )
    sem.stats = {
        "model": encoder.card.model_id,
        "threshold": round(sem.threshold, 4),
        "model_threshold": round(encoder.card.threshold, 4),
        "vectors": len(vectors),
        "method": vectors.method,
        "seconds_load": round(time.perf_counter() - t0, 3),
    }
    return sem, "on"


@dataclass
class _Query:
    analyzed: Analyzed
    chunk: Chunk


def semantic_findings(
    sem: Semantic,
    store: IndexStore,
    analyzed: list[Analyzed],
    covered: dict[str, list[tuple[int, int]]],
    near_misses: dict[tuple[str, int, int], set[tuple[int, int, int]]],
    sources: dict[int, SourceRow],
    ref_cache: dict[int, RefFile],
) -> list[Finding]:
    """Findings for chunks no fingerprint finding covers (``covered``: line ranges per path).

    ``near_misses`` maps (path, start_tok, end_tok) of a scanned chunk to (file id, start_tok,
    end_tok) of reference chunks fingerprints aligned with it below the reporting thresholds.
    """
    t0 = time.perf_counter()
    common = store.common_among({int(h) for a in analyzed for h in a.hashes.tolist()})
    queries = [
        _Query(a, c)
        for a in analyzed
        for c in a.parsed.chunks
        if c.end_tok - c.start_tok >= MIN_SEMANTIC_TOKENS
        and not any(s <= c.end_line and c.start_line <= e for s, e in covered.get(a.relpath, ()))
        and not _mostly_common(a, c, common)
    ]
    sem.stats |= {"chunks_considered": len(queries)}
    if not queries:
        sem.stats |= {"seconds": round(time.perf_counter() - t0, 3)}
        return []
    texts = [chunk_text(q.analyzed.source, q.chunk.start_line, q.chunk.end_line) for q in queries]
    if sem.cache is not None:
        qvecs = sem.cache.embed(texts, sem.encoder.embed)
        sem.stats |= {"cache_hits": sem.cache.hits, "embedded": sem.cache.misses}
        if sem.cache.error:
            sem.stats["cache_error"] = sem.cache.error
    else:
        qvecs = sem.encoder.embed(texts)
        sem.stats |= {"embedded": len(texts)}
    t_embed = time.perf_counter()
    cosines, ids = sem.vectors.search(qvecs, TOP_K)

    # Candidate pairs: FAISS neighbours above MIN_COSINE, plus fingerprint near misses.
    pairs: list[tuple[int, int]] = []  # (query index, reference chunk id)
    for qi in range(len(queries)):
        for cos, cid in zip(cosines[qi].tolist(), ids[qi].tolist()):
            if cid >= 0 and cos >= MIN_COSINE:
                pairs.append((qi, int(cid)))
    rows = store.chunk_rows({cid for _, cid in pairs})
    by_span = {(r[1], r[4], r[5]): cid for cid, r in rows.items()}
    for qi, q in enumerate(queries):
        for span in near_misses.get((q.analyzed.relpath, q.chunk.start_tok, q.chunk.end_tok), ()):
            cid = by_span.get(span)
            if cid is None:
                found = store.embedded_chunk_at(*span)
                if found is None:
                    continue
                cid, row = found
                rows[cid] = row
                by_span[span] = cid
            pairs.append((qi, cid))
    pairs = sorted(set(pairs))
    pairs = [(qi, cid) for qi, cid in pairs if cid in rows]
    if not pairs:
        sem.stats |= {"pairs_scored": 0, "seconds": round(time.perf_counter() - t0, 3)}
        return []
    cand_ids = sorted({cid for _, cid in pairs})
    ref_vecs = dict(zip(cand_ids, sem.vectors.vectors(cand_ids)))
    q_fps: dict[int, np.ndarray] = {}
    r_fps: dict[int, np.ndarray] = {}
    extra = np.zeros((len(pairs), 2), dtype=np.float32)
    for n, (qi, cid) in enumerate(pairs):
        if qi not in q_fps:
            q = queries[qi]
            q_fps[qi] = _chunk_fingerprints(q.analyzed.parsed.tokens, q.chunk, q.analyzed.language)
        if cid not in r_fps:
            row = rows[cid]
            ref = _ref_file(store, ref_cache, row[1])
            r_fps[cid] = _chunk_fingerprints(ref.tokens, _row_chunk(row), ref.language)
        extra[n] = fingerprint_evidence(q_fps[qi], r_fps[cid])
    probs = sem.encoder.pair_probability(
        qvecs[[qi for qi, _ in pairs]], np.stack([ref_vecs[cid] for _, cid in pairs]), extra
    )
    hits: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for (qi, cid), p in zip(pairs, probs.tolist()):
        if p >= sem.threshold:
            hits[qi].append((p, cid))
    # Strongest first; a chunk overlapping a stronger semantic finding of the same file is dropped
    # (a class and its method both resembling the same origin make one finding, not two).
    ranked = sorted(hits.items(), key=lambda kv: -max(p for p, _ in kv[1]))
    kept: dict[str, list[tuple[int, int]]] = defaultdict(list)
    findings: list[Finding] = []
    for qi, cands in ranked:
        q = queries[qi]
        lines = (q.chunk.start_line, q.chunk.end_line)
        if any(s <= lines[1] and lines[0] <= e for s, e in kept[q.analyzed.relpath]):
            continue
        kept[q.analyzed.relpath].append(lines)
        cands.sort(key=lambda pc: (-pc[0], pc[1]))
        findings.append(_finding(store, ref_cache, sources, q, rows, cands))
    sem.stats |= {
        "pairs_scored": len(pairs),
        "findings": len(findings),
        "seconds_embed": round(t_embed - t0, 3),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return findings


def _mostly_common(a: Analyzed, c: Chunk, common: set[int]) -> bool:
    """Whether most of a chunk's fingerprints are ignored ones: boilerplate is never reported,
    by fingerprints or by meaning."""
    if not common:
        return False
    inside = (a.positions >= c.start_tok) & (a.positions < c.end_tok)
    hashes = a.hashes[inside].tolist()
    return bool(hashes) and sum(int(h) in common for h in hashes) >= 0.5 * len(hashes)


def _row_chunk(row: tuple[Any, ...]) -> Chunk:
    _, _, kind, name, start_tok, end_tok, start_line, end_line = row
    return Chunk(
        kind=kind,
        name=name,
        start_tok=start_tok,
        end_tok=end_tok,
        start_line=start_line,
        end_line=end_line,
        depth=0,
    )


def _ref_file(store: IndexStore, cache: dict[int, RefFile], file_id: int) -> RefFile:
    ref = cache.get(file_id)
    if ref is None:
        ref = cache[file_id] = store.load_file(file_id)
    return ref


def _chunk_fingerprints(tokens: np.ndarray, chunk: Chunk, language: str) -> np.ndarray:
    spec = LANGUAGES.get(language)
    seed = family_seed(spec.fingerprint_family if spec else "generic")
    hashes, _ = fingerprint(tokens[chunk.start_tok : chunk.end_tok], seed)
    return hashes


def _provenance(
    store: IndexStore, ref_cache: dict[int, RefFile], sources: dict[int, SourceRow], row: tuple[Any, ...]
) -> Provenance:
    ref = _ref_file(store, ref_cache, row[1])
    source = sources[ref.source_id]
    return Provenance(
        source=source.name,
        path=ref.path,
        start_line=row[6],
        end_line=row[7],
        commit=source.commit_sha,
        license=ref.license or source.license,
        chunk_kind=row[2],
        chunk_name=row[3],
        origin=source.location,
    )


def _finding(
    store: IndexStore,
    ref_cache: dict[int, RefFile],
    sources: dict[int, SourceRow],
    q: _Query,
    rows: dict[int, tuple[Any, ...]],
    cands: list[tuple[float, int]],
) -> Finding:
    p, cid = cands[0]
    row = rows[cid]
    origin = _provenance(store, ref_cache, sources, row)
    c = q.chunk
    n_tokens = c.end_tok - c.start_tok
    return Finding(
        path=q.analyzed.relpath,
        start_line=c.start_line,
        end_line=c.end_line,
        chunk_kind=c.kind,
        chunk_name=c.name,
        match_type="semantic",
        score=float(p),
        coverage=0.0,
        origin_coverage=0.0,
        longest=0,
        # The whole chunk corresponds to the whole origin chunk; no token run is shared.
        fragments=(Fragment(c.start_line, c.end_line, row[6], row[7], n_tokens, False),),
        origin=origin,
        also_in=tuple(_provenance(store, ref_cache, sources, rows[o]) for _, o in cands[1 : 1 + ALSO_IN_MAX]),
        fingerprint=_fingerprint(q, origin),
        probability=float(p),
    )


def _fingerprint(q: _Query, origin: Provenance) -> str:
    """Content identity, as for fingerprint findings (engine/scan.py)."""
    tokens = q.analyzed.parsed.tokens[q.chunk.start_tok : q.chunk.end_tok].astype("<u4").tobytes()
    return finding_fingerprint(q.analyzed.relpath, origin.source, origin.path, origin.chunk_name, tokens)
