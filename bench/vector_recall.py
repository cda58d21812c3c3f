#!/usr/bin/env python3
"""Exact vs HNSW nearest-neighbour search over chunk embeddings: the switch point of the vector index.

codeguard.index.vectors searches exactly (FAISS ``IndexFlatIP``) up to HNSW_THRESHOLD vectors
(50,000) and with HNSW (M=32, efConstruction 80, efSearch 128) above. This script measures both
on the code path codeguard uses (``vectors.build_index``, ``VectorIndex.search``, vectors
round-tripped through the float16 storage), for N random-but-clustered unit vectors of dimension
384 (MiniLM's), clustered like embeddings of code (see ``Space``): clustering is what makes ANN
hard, uniform random vectors in 384 dimensions are nearly orthogonal and every method looks
perfect.

Queries are database vectors perturbed with a little noise (a lightly edited copy of an
indexed chunk: the case a scan looks for) and new members of indexed families (code that
resembles indexed code). For each N and method: build time, serialized size
(the vectors.faiss file), load time (opened memory-mapped, as a scan opens it), single-query
latency (median over --single queries), the per-query time of a batch of --batch queries (how a
scan queries: all chunks of a project at once), and recall@10 against exact search of the same
float16 vectors.

Usage:  python bench/vector_recall.py [--sizes 10000,100000] [--dim 384] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import BENCH_DIR, machine_info, markdown_table, write_json  # noqa: E402

from codeguard.index import vectors  # noqa: E402


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _noise(rng: np.random.Generator, n: int, dim: int, norm: float) -> np.ndarray:
    return rng.standard_normal((n, dim)).astype(np.float32) * (norm / np.sqrt(dim))


class Space:
    """Hierarchical clusters on the sphere, like embeddings of code: one direction shared by
    everything (sentence encoders are anisotropic), N/1000 topics, N/20 families of similar
    functions per topic (families of a topic have cosine ~0.5), members of a family cosine ~0.6."""

    def __init__(self, n: int, dim: int, rng: np.random.Generator):
        self.dim, self.rng = dim, rng
        self.common = _unit(rng.standard_normal((1, dim)).astype(np.float32))
        topics = _unit(rng.standard_normal((max(1, n // 1000), dim)).astype(np.float32))
        n_fam = max(1, n // 20)
        self.families = _unit(topics[rng.integers(0, len(topics), n_fam)] + _noise(rng, n_fam, dim, 1.0))

    def member(self, centres: np.ndarray) -> np.ndarray:
        x = centres + _noise(self.rng, len(centres), self.dim, 0.8)
        return _unit(x + 0.6 * self.common)

    def sample(self, n: int) -> np.ndarray:
        return self.member(self.families[self.rng.integers(0, len(self.families), n)])


def queries_for(space: Space, db: np.ndarray, n: int) -> np.ndarray:
    """Half edited copies of indexed vectors, half new members of indexed families."""
    rng = space.rng
    half = n // 2
    edited = _unit(db[rng.integers(0, len(db), half)] + _noise(rng, half, db.shape[1], 0.3))
    return np.vstack([edited, space.sample(n - half)])


def recall_at(k: int, got: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(g[:k].tolist()) & set(t[:k].tolist())) for g, t in zip(got, truth)]
    return sum(hits) / (k * len(truth))


def measure(db: np.ndarray, queries: np.ndarray, method: str, single: int, k: int) -> dict:
    ids = np.arange(len(db), dtype=np.int64) + 1
    t0 = time.perf_counter()
    index = vectors.build_index(db, ids, method)
    build = time.perf_counter() - t0
    # Written and opened as an index does: the vector file, memory-mapped at scan time.
    path = BENCH_DIR / "tmp" / f"vectors-{method}-{len(db)}.faiss"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"generation": 0, "model": "bench", "dim": db.shape[1], "method": method, "count": len(db)}
    vectors._write_cache(path, header, index)
    t0 = time.perf_counter()
    loaded, why = vectors._load_cache(path, header, mmap=True)
    if loaded is None:
        raise SystemExit(f"the vector file {path} is {why}")
    vectors._tune(loaded, method)
    load = time.perf_counter() - t0
    size = path.stat().st_size
    path.unlink()
    # searched as codeguard searches (VectorIndex.search: small batches on one thread)
    vi = vectors.VectorIndex(None, loaded, "bench", db.shape[1], method, 0)  # type: ignore[arg-type]
    # single queries, as a pre-commit scan of one small change issues them
    lat = []
    for q in queries[:single]:
        t0 = time.perf_counter()
        vi.search(q[None, :], k)
        lat.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    _, got = vi.search(queries, k)
    batch = time.perf_counter() - t0
    return {
        "method": method,
        "build_s": build,
        "size_mb": size / 1e6,
        "load_s": load,
        "single_ms": statistics.median(lat) * 1e3,
        "batch_ms_per_query": batch / len(queries) * 1e3,
        "ids": got,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated N")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000, help="batch size (and recall sample)")
    ap.add_argument("--single", type=int, default=200, help="single queries timed")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="FAISS OpenMP threads (0: default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "vector_recall.json")
    args = ap.parse_args()

    import faiss

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    rows, results = [], []
    for n in (int(s) for s in args.sizes.split(",")):
        space = Space(n, args.dim, rng)
        raw = space.sample(n)
        # exactly what the index holds: float16 in SQLite, re-normalized float32 in FAISS
        db = vectors.decode_vectors(vectors.encode_vectors(raw), args.dim)
        queries = queries_for(space, db, args.queries)
        exact = measure(db, queries, "exact", args.single, args.k)
        hnsw = measure(db, queries, "hnsw", args.single, args.k)
        truth = exact.pop("ids")
        for r in (exact, hnsw):
            got = truth if r is exact else r.pop("ids")
            r["recall@10"] = recall_at(args.k, got, truth)
            r["recall@1"] = recall_at(1, got, truth)
            r["n"] = n
            results.append(r)
            rows.append(
                [
                    f"{n:,}",
                    r["method"],
                    f"{r['build_s']:.2f}",
                    f"{r['size_mb']:.0f}",
                    f"{r['load_s']:.3f}",
                    f"{r['single_ms']:.2f}",
                    f"{r['batch_ms_per_query']:.3f}",
                    f"{r['recall@10']:.4f}",
                    f"{r['recall@1']:.4f}",
                ]
            )
        print(f"N={n:,} done", file=sys.stderr)
    print(
        f"\ndim {args.dim}, {args.queries} queries (half edited copies of indexed vectors, half near "
        f"indexed families), k={args.k}, FAISS {faiss.__version__}, {faiss.omp_get_max_threads()} thread(s)\n"
    )
    print(
        markdown_table(
            [
                "N",
                "method",
                "build s",
                "file MB",
                "load s",
                "1 query ms (median)",
                "batch ms/query",
                "recall@10 vs exact",
                "recall@1 vs exact",
            ],
            rows,
        )
    )
    write_json(
        args.out,
        {"machine": machine_info(), "args": {k: str(v) for k, v in vars(args).items()}, "results": results},
    )


if __name__ == "__main__":
    main()
