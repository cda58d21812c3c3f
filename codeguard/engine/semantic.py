"""Semantic matching: copies rewritten with the same meaning, which fingerprints cannot see.

For every chunk of the scanned tree that no fingerprint finding covers, candidates are the
reference chunks nearest to its embedding in the index's FAISS vectors (top-k) plus the reference
chunks fingerprints aligned with it without reaching a finding. Every such pair is decided by the
same verdict classifier as fingerprint pairs (codeguard.verdict): the token evidence of both
channels inside the two chunks, its rarity, the embedding cosine, its margin over the best other
candidate and the encoder's pair-head probability are its features. Meaning alone cannot tell a
rewrite from an independent implementation of the same task (on same-task benchmarks the pair
head calls most independent solutions copies), so the classifier, trained with same-task
negatives, weighs it against the rest; pairs at or above the scan's --min-probability (or
--semantic-threshold) become findings of match type ``semantic`` with the calibrated P(copy).
Boilerplate chunks (imports, includes, package lines) are never a query nor a candidate.

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

from codeguard.engine.analyze import Analyzed, query_side, ref_boilerplate, ref_side
from codeguard.engine.own import OwnCopies
from codeguard.fingerprint.align import align
from codeguard.fingerprint.winnow import K_RAW, channel_fingerprints, chunk_spans, family_seed, fingerprint
from codeguard.index.store import IndexStore, RefFile, SourceRow
from codeguard.index.vectors import ChunkTexts, EmbeddingModelMismatch, VectorIndex, open_vectors
from codeguard.ml.card import ModelUnavailable, default_model_dir
from codeguard.ml.head import fingerprint_evidence
from codeguard.model import Chunk, Finding, Fragment, Provenance, finding_fingerprint
from codeguard.parsing.languages import LANGUAGES
from codeguard.verdict.classifier import Verdict
from codeguard.verdict.features import PairEvidence, Side, summarize

# Nearest reference chunks fetched per scanned chunk.
TOP_K = 5
# A pair only the semantic layer proposes (no fingerprint finding covers it) is reported from
# this P(copy) on, unless --semantic-threshold says otherwise: same meaning is not proof of
# copying. On the planted train split no copy was found by this layer alone, while its findings
# at P 0.5-0.9 fell on independent code (SOCO, POJ-104 same-task solutions, codec tables).
SEMANTIC_MIN_PROBABILITY = 0.9
# Scanned chunks smaller than this (normalized tokens) are left to fingerprints: short functions
# (getters, one-line wrappers) resemble too many others for a meaning-level verdict.
MIN_SEMANTIC_TOKENS = 50
# Candidates whose cosine similarity is below this are not worth the head's time.
MIN_COSINE = 0.3
# Other origins listed per finding.
ALSO_IN_MAX = 5
# Chunks (scanned or reference) with at least this share of boilerplate tokens (imports,
# includes, package lines) are never a semantic query or candidate.
MAX_BOILERPLATE_SHARE = 0.5
# Chunks of one file embedded as queries, the outermost first: no single file (a generated
# table of thousands of functions) takes more than a bounded share of a scan.
MAX_QUERIES_PER_FILE = 500


@dataclass
class Semantic:
    """A loaded model with the index vectors it matches against."""

    encoder: Any  # codeguard.ml.encoder.Encoder
    vectors: VectorIndex
    model_dir: Path
    threshold: float | None  # None: the scan's --min-probability
    cache: Any = None  # codeguard.ml.cache.EmbeddingCache
    stats: dict[str, Any] = field(default_factory=dict)


def load_semantic(
    store: IndexStore, model: Path | None, threshold: float | None = None, use_cache: bool = True
) -> tuple[Semantic | None, str]:
    """The semantic layer for ``store``, or None and the reason it is off.

    Raises :class:`ModelUnavailable` (exit 4) when the index holds embeddings but the model that
    would read them is missing, broken or another one.
    """
    from codeguard.index.shards import ShardedStore
    from codeguard.ml.encoder import Encoder

    t0 = time.perf_counter()
    vectors = store.open_vectors() if isinstance(store, ShardedStore) else open_vectors(store)
    if vectors is None:
        return None, "off: the index holds no embeddings (run `codeguard index embed` to add them)"
    model_dir = model or default_model_dir()
    if model_dir is None:
        raise ModelUnavailable(
            f"the index was embedded with model {vectors.model_id}, but no model is installed; pass "
            "--model DIR (the model directory it was built with) or scan with --no-ml"
        )
    encoder = Encoder.load(model_dir, lazy=True)  # the ONNX session only if a chunk must be embedded
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
        threshold=threshold,
        cache=cache,
    )
    sem.stats = {
        "model": encoder.card.model_id,
        "threshold": None if threshold is None else round(threshold, 4),
        "decision": "verdict classifier (calibrated P(copy))",
        "vectors": len(vectors),
        "method": vectors.method,
        "seconds_load": round(time.perf_counter() - t0, 3),
    }
    if vectors.rebuilt:
        sem.stats["note"] = f"the vector file was {vectors.rebuilt}: rebuilt from the index for this scan"
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
    verdict: Verdict,
    min_probability: float,
    collect: list[tuple[Any, ...]] | None = None,
    own: OwnCopies | None = None,
) -> list[Finding]:
    """Findings for chunks no fingerprint finding covers (``covered``: line ranges per path);
    ``own``: indexed copies that are the scanned files themselves, never a candidate.

    ``near_misses`` maps (path, start_tok, end_tok) of a scanned chunk to (file id, start_tok,
    end_tok) of reference chunks fingerprints aligned with it below the reporting thresholds.
    """
    t0 = time.perf_counter()
    common = store.common_among({int(h) for a in analyzed for h in a.hashes.tolist()})
    queries: list[_Query] = []
    for a in analyzed:
        mine = [
            c
            for c in a.parsed.chunks
            if c.end_tok - c.start_tok >= MIN_SEMANTIC_TOKENS
            and not any(s <= c.end_line and c.start_line <= e for s, e in covered.get(a.relpath, ()))
            and not _mostly_common(a, c, common)
            and _boilerplate_share(query_side(a.parsed, c.start_tok, c.end_tok)) < MAX_BOILERPLATE_SHARE
        ]
        if len(mine) > MAX_QUERIES_PER_FILE:
            keep = set(sorted(range(len(mine)), key=lambda i: (mine[i].depth, i))[:MAX_QUERIES_PER_FILE])
            mine = [c for i, c in enumerate(mine) if i in keep]
        queries.extend(_Query(a, c) for c in mine)
    threshold = max(min_probability, SEMANTIC_MIN_PROBABILITY) if sem.threshold is None else sem.threshold
    sem.stats |= {
        "chunks_considered": len(queries),
        "threshold": round(threshold, 4),
        "threshold_from": (
            "--semantic-threshold"
            if sem.threshold is not None
            else "--min-probability"
            if min_probability >= SEMANTIC_MIN_PROBABILITY
            else "semantic default (same meaning alone needs P >= 0.9)"
        ),
    }
    if not queries:
        sem.stats |= {"seconds": round(time.perf_counter() - t0, 3)}
        return []
    texts_of: dict[str, ChunkTexts] = {}
    texts = []
    for q in queries:
        if q.analyzed.relpath not in texts_of:
            texts_of[q.analyzed.relpath] = ChunkTexts(q.analyzed.source)
        texts.append(texts_of[q.analyzed.relpath].text(q.chunk.start_line, q.chunk.end_line))
    texts_of.clear()
    if sem.cache is not None:
        qvecs = sem.cache.embed(texts, sem.encoder.embed)
        sem.stats |= {"cache_hits": sem.cache.hits, "embedded": sem.cache.misses}
        if sem.cache.error:
            sem.stats["cache_error"] = sem.cache.error
    else:
        qvecs = sem.encoder.embed(texts)
        sem.stats |= {"embedded": len(texts)}
    if sem.encoder.seconds_open is not None:
        sem.stats["seconds_encoder_open"] = round(sem.encoder.seconds_open, 3)
    t_embed = time.perf_counter()
    own = own or OwnCopies()
    # One more neighbour where a file's own indexed copy will take a place (and is dropped).
    cosines, ids = sem.vectors.search(qvecs, TOP_K + (1 if own.file_ids else 0))

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
    pairs = [
        (qi, cid)
        for qi, cid in pairs
        if cid in rows and rows[cid][1] not in own.files_of(queries[qi].analyzed.relpath)
    ]
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
    q_mat = qvecs[[qi for qi, _ in pairs]]
    r_mat = np.stack([ref_vecs[cid] for _, cid in pairs])
    head = sem.encoder.pair_probability(q_mat, r_mat, extra)
    cos = np.einsum("ij,ij->i", q_mat.astype(np.float64), r_mat.astype(np.float64))
    # The decision is the verdict's, as for fingerprint pairs: token evidence of both channels
    # inside the two chunks, rarity, and the embedding's cosine with its margin over the best
    # other candidate (a copy has one clear origin; a common task has many close neighbours).
    evidence = _pair_evidences(store, ref_cache, queries, rows, pairs, cos, head)
    drop = [
        n
        for n, (_, cid) in enumerate(pairs)
        if _boilerplate_share(ref_side_of(store, ref_cache, rows[cid])) >= MAX_BOILERPLATE_SHARE
    ]
    summaries = [summarize(ev) for ev in evidence]
    probs = verdict.probability(np.stack([x for x, _ in summaries]))
    probs[drop] = 0.0
    hits: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for n, ((qi, cid), p) in enumerate(zip(pairs, probs.tolist())):
        if collect is not None:
            q = queries[qi]
            collect.append((q.analyzed.relpath, q.chunk, rows[cid], summaries[n][0], float(p)))
        if p >= threshold:
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
        license_from=ref.license_from,
        license_note=ref.license_note,
        vendored=ref.package if ref.vendored else "",
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
        channel="semantic",
    )


def _fingerprint(q: _Query, origin: Provenance) -> str:
    """Content identity, as for fingerprint findings (engine/scan.py)."""
    tokens = q.analyzed.parsed.tokens[q.chunk.start_tok : q.chunk.end_tok].astype("<u4").tobytes()
    return finding_fingerprint(q.analyzed.relpath, origin.source, origin.path, origin.chunk_name, tokens)


def _boilerplate_share(side: Side) -> float:
    n = side.end_tok - side.start_tok
    return float(side.boilerplate[side.start_tok : side.end_tok].sum()) / n if n > 0 else 1.0


def ref_side_of(store: IndexStore, cache: dict[int, RefFile], row: tuple[Any, ...]) -> Side:
    return ref_side(_ref_file(store, cache, row[1]), row[4], row[5])


def _ref_channels(ref: RefFile) -> tuple[np.ndarray, np.ndarray]:
    """Both channels' fingerprints of a reference file, concatenated: (hashes, positions)."""
    spec = LANGUAGES.get(ref.language)
    seed = family_seed(spec.fingerprint_family if spec else "generic")
    h, p, rh, rp = channel_fingerprints(
        ref.tokens, ref.raw_tokens, ref_boilerplate(ref), seed, chunk_spans(ref.chunks)
    )
    return np.concatenate([h, rh]), np.concatenate([p, rp])


def _pieces(
    a: Analyzed, chunk: Chunk, ref: RefFile, r_start: int, r_end: int, r_fps: tuple[np.ndarray, np.ndarray]
) -> tuple[list[tuple[int, int, int, int]], list[int]]:
    """Equal normalized runs inside both chunks (seeded by fingerprints of either channel) and the
    hashes of the seeds inside them."""
    qh = np.concatenate([a.hashes, a.raw_hashes])
    qp = np.concatenate([a.positions, a.raw_positions])
    m = (qp >= chunk.start_tok) & (qp < chunk.end_tok)
    rh, rp = r_fps
    mr = (rp >= r_start) & (rp < r_end)
    at: dict[int, list[int]] = defaultdict(list)
    for h, p in zip(rh[mr].tolist(), rp[mr].tolist()):
        at[h].append(p)
    seeds = [(qpos, rpos, h) for h, qpos in zip(qh[m].tolist(), qp[m].tolist()) for rpos in at.get(h, ())]
    if not seeds:
        return [], []
    qs_a = np.array([s[0] for s in seeds])
    rs_a = np.array([s[1] for s in seeds])
    pieces: list[tuple[int, int, int, int]] = []
    for qs, qe, rs, _ in align(a.parsed.tokens, ref.tokens, qs_a, rs_a, k=K_RAW):
        d = rs - qs
        lo = max(qs, chunk.start_tok, r_start - d)
        hi = min(qe, chunk.end_tok, r_end - d)
        if hi > lo:
            pieces.append((lo, hi, lo + d, hi + d))
    hashes = [
        h
        for qpos, rpos, h in seeds
        if any(lo <= qpos < hi and rpos - qpos == rs - lo for lo, hi, rs, _ in pieces)
    ]
    return pieces, hashes


def _pair_evidences(
    store: IndexStore,
    ref_cache: dict[int, RefFile],
    queries: list[_Query],
    rows: dict[int, tuple[Any, ...]],
    pairs: list[tuple[int, int]],
    cos: np.ndarray,
    head: np.ndarray,
) -> list[PairEvidence]:
    fps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    built: list[tuple[PairEvidence, list[int]]] = []
    best_other: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for n, (qi, cid) in enumerate(pairs):
        best_other[qi].append((float(cos[n]), rows[cid][1]))
    for n, (qi, cid) in enumerate(pairs):
        q, row = queries[qi], rows[cid]
        ref = _ref_file(store, ref_cache, row[1])
        if ref.id not in fps:
            fps[ref.id] = _ref_channels(ref)
        pieces, hashes = _pieces(q.analyzed, q.chunk, ref, row[4], row[5], fps[ref.id])
        others = [c for c, fid in best_other[qi] if fid != ref.id]
        ev = PairEvidence(
            query=query_side(q.analyzed.parsed, q.chunk.start_tok, q.chunk.end_tok),
            origin=ref_side(ref, row[4], row[5]),
            pieces=pieces,
            cosine=float(cos[n]),
            cosine_margin=float(cos[n]) - max(others, default=0.0),
            model_probability=float(head[n]),
        )
        built.append((ev, hashes))
    # Rarity of the shared fingerprints, as for fingerprint pairs: families holding each one.
    postings: dict[int, set[int]] = defaultdict(set)
    for h, file_id, _ in store.lookup({h for _, hs in built for h in hs}):
        postings[h].add(file_id)
    families = store.families({f for fs in postings.values() for f in fs})
    df = {h: len({families.get(f, str(f)) for f in fs}) for h, fs in postings.items()}
    for ev, hs in built:
        ev.seed_df = [df.get(h, 1) for h in hs]
    return [ev for ev, _ in built]
