"""Scorers: what a benchmark asks of a clone detector.

A scorer is prepared once with the programs of a benchmark, then answers two questions: how
similar are these pairs (``score``), and how similar is each query to each candidate
(``similarity``, a dense block that a retrieval metric ranks). Scorers may offer *variants*
(e.g. Jaccard vs containment) that the harness chooses among on a validation split, never on
the test split. Three implementations: winnowed fingerprints (the scan path), any embedding
model with ``embed(texts) -> unit vectors`` (the semantic layer), and a combination of scorers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from codeguard.evaluate.data import Item, Pair
from codeguard.evaluate.metrics import best_threshold


@runtime_checkable
class Scorer(Protocol):
    """A pair/retrieval scorer over items prepared beforehand (ids are the items' ids)."""

    name: str
    variants: tuple[str, ...]  # selectable on validation data; the first one is the default
    retrieval_variants: tuple[str, ...]  # the variants ``similarity`` supports
    variant: str

    def prepare(self, items: Sequence[Item]) -> None:
        """Compute whatever the scorer needs per item; items already prepared are skipped."""

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Similarity of each pair (higher = more likely a clone), float64."""

    def similarity(self, query_ids: Sequence[str], candidate_ids: Sequence[str]) -> np.ndarray:
        """Dense (len(query_ids), len(candidate_ids)) similarity block."""


def rank(
    scorer: Scorer, query_ids: Sequence[str], candidate_ids: Sequence[str], top: int = 10
) -> list[list[str]]:
    """The ``top`` candidates of each query, most similar first (a query never ranks itself)."""
    sims = scorer.similarity(query_ids, candidate_ids)
    cand = np.asarray(candidate_ids, dtype=object)
    out = []
    for q, row in zip(query_ids, sims):
        row = np.where(cand == q, -np.inf, row)
        order = np.argsort(-row, kind="stable")[:top]
        out.append([str(cand[i]) for i in order])
    return out


# --- fingerprints ---------------------------------------------------------------------------

SET_MEASURES = ("jaccard", "containment", "cosine")
# Work per block of queries in the sparse product, in expanded postings (bounds memory).
_BLOCK_BUDGET = 24_000_000


class FingerprintScorer:
    """Per program, the set of winnowed k-gram fingerprints of its normalized tokens.

    Variants: ``jaccard`` |A∩B|/|A∪B|, ``containment`` |A∩B|/min(|A|,|B|), ``cosine``
    |A∩B|/√(|A||B|), each optionally ``+idf`` (fingerprints weighted by log(N/df) over the
    prepared items, so boilerplate counts less), and ``aligned`` (pairs only): the share of
    tokens covered by exact fragments that ``align`` grows from shared fingerprints, max over
    both sides (as a scan finding's score). All-pairs similarity is a sparse product done with
    NumPy: posting lists per fingerprint, expanded per block of queries and counted with
    ``bincount``.
    """

    name = "fingerprint"
    retrieval_variants = tuple(SET_MEASURES) + tuple(f"{m}+idf" for m in SET_MEASURES)
    variants = retrieval_variants + ("aligned",)

    def __init__(self, k: int | None = None, w: int | None = None, variant: str = "jaccard") -> None:
        from codeguard.fingerprint.winnow import K, W

        self.k = K if k is None else k
        self.w = W if w is None else w
        if variant not in self.variants:
            raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(self.variants)}")
        self.variant = variant
        self._row: dict[str, int] = {}
        self._tokens: list[np.ndarray] = []
        self._hashes: list[np.ndarray] = []  # winnowed hashes in position order
        self._positions: list[np.ndarray] = []
        self.failures: dict[str, str] = {}  # id -> why it could not be parsed (scored as empty)
        self._built = False

    # preparation -----------------------------------------------------------------------------

    def prepare(self, items: Sequence[Item]) -> None:
        """Parse and fingerprint every new item; a file that fails to parse is recorded and empty."""
        from codeguard.fingerprint.winnow import family_seed, fingerprint
        from codeguard.parsing.chunker import parse_file
        from codeguard.parsing.languages import LANGUAGES

        for item_id, code, language in items:
            if item_id in self._row:
                continue
            try:
                tokens = parse_file(code.encode("utf-8", errors="replace"), language).tokens
                seed = family_seed(LANGUAGES[language].fingerprint_family)
                hashes, positions = fingerprint(tokens, seed, self.k, self.w)
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop a benchmark
                self.failures[item_id] = f"{type(exc).__name__}: {exc}"
                tokens = np.zeros(0, dtype=np.uint32)
                hashes, positions = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            self._row[item_id] = len(self._tokens)
            self._tokens.append(tokens)
            self._hashes.append(hashes)
            self._positions.append(positions)
            self._built = False

    def _build(self) -> None:
        """Column ids for distinct hashes, doc -> columns and column -> docs (CSR), weights."""
        n = len(self._hashes)
        lens = np.array([len(h) for h in self._hashes], dtype=np.int64)
        all_h = np.concatenate(self._hashes) if n else np.zeros(0, dtype=np.int64)
        doc = np.repeat(np.arange(n), lens)
        uniq, col = np.unique(all_h, return_inverse=True)
        pairs = np.unique(doc * len(uniq) + col) if len(uniq) else np.zeros(0, dtype=np.int64)
        d_doc, d_col = (pairs // max(1, len(uniq))), (pairs % max(1, len(uniq)))
        self._doc_ptr = np.r_[0, np.cumsum(np.bincount(d_doc, minlength=n))]
        self._doc_cols = d_col  # sorted by (doc, col)
        order = np.argsort(d_col, kind="stable")
        self._post_docs = d_doc[order]
        df = np.bincount(d_col, minlength=len(uniq))
        self._post_ptr = np.r_[0, np.cumsum(df)]
        self._df = df
        self._idf = np.log((n + 1) / (df + 0.5))
        self._n_docs = n
        self._built = True

    # scoring -----------------------------------------------------------------------------------

    def _weights(self) -> np.ndarray:
        return self._idf if self.variant.endswith("+idf") else np.ones(len(self._df))

    def _sizes(self, w: np.ndarray) -> np.ndarray:
        sizes: np.ndarray = np.add.reduceat(np.r_[w[self._doc_cols], 0.0], self._doc_ptr[:-1])
        out: np.ndarray = sizes * (np.diff(self._doc_ptr) > 0)  # reduceat repeats a value for empty rows
        return out

    def _intersections(self, rows: np.ndarray, w: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield (row slice, weighted |A∩B| against every prepared item) block by block."""
        n = self._n_docs
        df = self._df
        cost = np.add.reduceat(np.r_[df[self._doc_cols], 0], self._doc_ptr[:-1]) * (
            np.diff(self._doc_ptr) > 0
        )
        start = 0
        while start < len(rows):
            stop, acc = start, 0
            while stop < len(rows) and (
                stop == start
                or (acc + cost[rows[stop]] <= _BLOCK_BUDGET and (stop - start + 1) * n <= _BLOCK_BUDGET)
            ):
                acc += int(cost[rows[stop]])
                stop += 1
            block = rows[start:stop]
            counts = self._doc_ptr[block + 1] - self._doc_ptr[block]
            qlocal = np.repeat(np.arange(len(block)), counts)
            cols = np.concatenate([self._doc_cols[self._doc_ptr[r] : self._doc_ptr[r + 1]] for r in block])
            plen = df[cols]
            total = int(plen.sum())
            offs = np.arange(total) - np.repeat(np.cumsum(plen) - plen, plen)
            docs = self._post_docs[np.repeat(self._post_ptr[cols], plen) + offs]
            bins = np.repeat(qlocal, plen) * n + docs
            inter = np.bincount(bins, weights=np.repeat(w[cols], plen), minlength=len(block) * n)
            yield slice(start, stop), inter.reshape(len(block), n)
            start = stop

    def _normalize(self, inter: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        measure = self.variant.split("+")[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            if measure == "jaccard":
                out = inter / (a + b - inter)
            elif measure == "containment":
                out = inter / np.minimum(a, b)
            else:
                out = inter / np.sqrt(a * b)
        result: np.ndarray = np.nan_to_num(out, nan=0.0, posinf=0.0)
        return result

    def similarity(self, query_ids: Sequence[str], candidate_ids: Sequence[str]) -> np.ndarray:
        """Set similarity of every query to every candidate (the current set variant)."""
        if self.variant not in self.retrieval_variants:
            raise ValueError(f"variant {self.variant!r} scores pairs only")
        if not self._built:
            self._build()
        rows = np.array([self._row[q] for q in query_ids], dtype=np.int64)
        cols = np.array([self._row[c] for c in candidate_ids], dtype=np.int64)
        w = self._weights()
        sizes = self._sizes(w)
        out = np.zeros((len(rows), len(cols)))
        for sl, inter in self._intersections(rows, w):
            out[sl] = self._normalize(inter[:, cols], sizes[rows[sl]][:, None], sizes[cols][None, :])
        return out

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Similarity of each pair under the current variant."""
        if not self._built:
            self._build()
        if self.variant == "aligned":
            return np.array([self._aligned(a, b) for a, b in pairs], dtype=np.float64)
        w = self._weights()
        sizes = self._sizes(w)
        ra = np.array([self._row[a] for a, _ in pairs], dtype=np.int64)
        rb = np.array([self._row[b] for _, b in pairs], dtype=np.int64)
        inter = np.empty(len(pairs))
        for i, (x, y) in enumerate(zip(ra.tolist(), rb.tolist())):
            cx = self._doc_cols[self._doc_ptr[x] : self._doc_ptr[x + 1]]
            cy = self._doc_cols[self._doc_ptr[y] : self._doc_ptr[y + 1]]
            inter[i] = w[np.intersect1d(cx, cy, assume_unique=True)].sum()
        return self._normalize(inter, sizes[ra], sizes[rb])

    def _aligned(self, a: str, b: str) -> float:
        """Max over both sides of the share of tokens inside exact aligned fragments."""
        from codeguard.fingerprint.align import align

        x, y = self._row[a], self._row[b]
        hx, hy = self._hashes[x], self._hashes[y]
        shared = np.intersect1d(hx, hy)
        if len(shared) == 0:
            return 0.0
        qpos, rpos = [], []
        for h in shared.tolist():
            qp = self._positions[x][hx == h]
            rp = self._positions[y][hy == h]
            qpos.append(np.repeat(qp, len(rp)))
            rpos.append(np.tile(rp, len(qp)))
        q, r = self._tokens[x], self._tokens[y]
        spans = align(q, r, np.concatenate(qpos), np.concatenate(rpos), self.k)
        mq = sum(e - s for s, e, _, _ in spans)
        mr = sum(e - s for _, _, s, e in spans)
        return max(mq / max(1, len(q)), mr / max(1, len(r)))


# --- embeddings -----------------------------------------------------------------------------


class Embedder(Protocol):
    """What the semantic layer provides: texts to unit vectors (n, d)."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class EmbeddingScorer:
    """Cosine similarity of embeddings from any ``Embedder`` (e.g. the ONNX model)."""

    variants: tuple[str, ...] = ("cosine",)
    retrieval_variants: tuple[str, ...] = ("cosine",)

    def __init__(self, embedder: Embedder, name: str = "embedding", batch_size: int = 64) -> None:
        self.embedder = embedder
        self.name = name
        self.batch_size = batch_size
        self.variant = "cosine"
        self._row: dict[str, int] = {}
        self._vecs: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def prepare(self, items: Sequence[Item]) -> None:
        """Embed every new item's code, in batches."""
        new = [(i, code) for i, code, _ in items if i not in self._row]
        for start in range(0, len(new), self.batch_size):
            batch = new[start : start + self.batch_size]
            vecs = np.asarray(self.embedder.embed([code for _, code in batch]), dtype=np.float32)
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs = (vecs / np.where(norms == 0, 1, norms)).astype(np.float32)  # cosine needs unit vectors
            for (item_id, _), v in zip(batch, vecs):
                self._row[item_id] = len(self._vecs)
                self._vecs.append(v)
        if new:
            self._matrix = None

    def _m(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = np.stack(self._vecs) if self._vecs else np.zeros((0, 1), dtype=np.float32)
        return self._matrix

    def similarity(self, query_ids: Sequence[str], candidate_ids: Sequence[str]) -> np.ndarray:
        m = self._m()
        q = m[[self._row[i] for i in query_ids]]
        c = m[[self._row[i] for i in candidate_ids]]
        sims: np.ndarray = (q @ c.T).astype(np.float64)
        return sims

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        m = self._m()
        a = m[[self._row[x] for x, _ in pairs]]
        b = m[[self._row[y] for _, y in pairs]]
        dots: np.ndarray = np.einsum("ij,ij->i", a, b).astype(np.float64)
        return dots


class ModelScorer(EmbeddingScorer):
    """The scan-time encoder (:class:`codeguard.ml.encoder.Encoder`) as a scorer.

    Variants: ``cosine`` of the embeddings (also the retrieval score) and, for pairs, ``head``:
    the model's pair head P(clone) on the embeddings plus the fingerprint evidence it was trained
    with (containment, Jaccard). An untrained head scores every pair alike, so validation keeps
    ``cosine`` for it.
    """

    variants: tuple[str, ...] = ("cosine", "head")
    retrieval_variants: tuple[str, ...] = ("cosine",)

    def __init__(self, encoder: Any, name: str = "model", batch_size: int = 4096) -> None:
        super().__init__(encoder, name=name, batch_size=batch_size)
        self.encoder = encoder
        self._hashes: dict[str, np.ndarray] = {}

    def prepare(self, items: Sequence[Item]) -> None:
        from codeguard.ml.data import fingerprints_of

        for item_id, code, language in items:
            if item_id not in self._hashes:
                self._hashes[item_id] = fingerprints_of(code, language)
        super().prepare(items)

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        if self.variant == "cosine":
            return super().score(pairs)
        from codeguard.ml.head import fingerprint_evidence

        m = self._m()
        a = m[[self._row[x] for x, _ in pairs]]
        b = m[[self._row[y] for _, y in pairs]]
        extra = np.stack([fingerprint_evidence(self._hashes[x], self._hashes[y]) for x, y in pairs])
        probs: np.ndarray = np.asarray(self.encoder.pair_probability(a, b, extra), dtype=np.float64)
        return probs


# --- combinations ---------------------------------------------------------------------------


class CombinedScorer:
    """Several scorers as one: ``max`` of their scores, or a ``weighted`` mean whose weights
    ``fit`` picks on validation pairs (grid over the simplex, best F1).

    With ``grid=steps`` the weight vectors of the simplex grid are offered as variants
    (``"w=0.3,0.7"``), so a harness that chooses variants on validation data chooses the weights
    the same way (F1 on validation pairs, MAP@R on a validation split). Sub-scores of the last
    pair list are cached, so trying every weight costs one scoring per sub-scorer.
    """

    def __init__(
        self,
        scorers: Sequence[Scorer],
        mode: str = "max",
        weights: Sequence[float] | None = None,
        grid: int = 0,
    ) -> None:
        if mode not in ("max", "weighted"):
            raise ValueError("mode must be 'max' or 'weighted'")
        self.scorers = list(scorers)
        self.mode = mode
        self.weights = np.asarray(weights if weights is not None else [1 / len(scorers)] * len(scorers))
        self.name = "combined(" + ",".join(s.name for s in self.scorers) + f";{mode})"
        self._cache: tuple[tuple[Pair, ...], list[np.ndarray]] | None = None
        if grid:
            self.mode = "weighted"
            names = tuple(_weight_name(g) for g in _simplex(len(self.scorers), grid))
            self.variants = self.retrieval_variants = names
            self._variant = names[0]
            self.variant = names[0]
        else:
            self.variants = (mode,)
            self.retrieval_variants = (mode,)
            self._variant = mode

    @property
    def variant(self) -> str:
        return self._variant

    @variant.setter
    def variant(self, value: str) -> None:
        if value.startswith("w="):
            self.weights = np.array([float(x) for x in value[2:].split(",")])
            self.mode = "weighted"
        elif value in ("max", "weighted"):
            self.mode = value
        else:
            raise ValueError(f"unknown variant {value!r}")
        self._variant = value

    def prepare(self, items: Sequence[Item]) -> None:
        self._cache = None
        for s in self.scorers:
            s.prepare(items)

    def _combine(self, parts: list[np.ndarray]) -> np.ndarray:
        stack = np.stack(parts)
        out: np.ndarray = (
            stack.max(axis=0) if self.mode == "max" else np.tensordot(self.weights, stack, axes=1)
        )
        return out

    def _parts(self, pairs: Sequence[Pair]) -> list[np.ndarray]:
        key = tuple(pairs)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, [s.score(pairs) for s in self.scorers])
        return self._cache[1]

    def score(self, pairs: Sequence[Pair]) -> np.ndarray:
        return self._combine(self._parts(pairs))

    def similarity(self, query_ids: Sequence[str], candidate_ids: Sequence[str]) -> np.ndarray:
        return self._combine([s.similarity(query_ids, candidate_ids) for s in self.scorers])

    def fit(self, pairs: Sequence[Pair], labels: Sequence[int], steps: int = 10) -> float:
        """Choose weights (and switch to ``weighted``) maximizing F1 on validation pairs."""
        parts = np.stack(self._parts(pairs))
        y = np.asarray(labels)
        grid = _simplex(len(self.scorers), steps)
        f1s = [best_threshold(np.tensordot(g, parts, axes=1), y)[1] for g in grid]
        self.weights = grid[int(np.argmax(f1s))]
        self.mode = "weighted"
        self._variant = _weight_name(self.weights) if self.variants[0].startswith("w=") else "weighted"
        return float(max(f1s))


def _weight_name(weights: np.ndarray) -> str:
    return "w=" + ",".join(f"{w:g}" for w in np.round(weights, 6))


def _simplex(n: int, steps: int) -> np.ndarray:
    """All weight vectors of ``n`` non-negative multiples of 1/steps summing to 1."""
    return np.array(list(_compositions(n, steps)), dtype=np.float64) / steps


def _compositions(n: int, total: int) -> Iterator[tuple[int, ...]]:
    if n == 1:
        yield (total,)
        return
    for i in range(total + 1):
        for rest in _compositions(n - 1, total - i):
            yield (i, *rest)


SCORERS: dict[str, Callable[[], Scorer]] = {"fingerprint": FingerprintScorer}
MODEL_SCORERS = ("model", "combined")
# The fingerprint variant inside ``combined`` (the best one on POJ-104 and BigCloneBench validation).
COMBINED_FINGERPRINT_VARIANT = "jaccard+idf"


def model_scorers(model_dir: str, threads: int = 0) -> dict[str, Callable[[], Scorer]]:
    """Factories for ``model`` (cosine of the ONNX encoder's embeddings) and ``combined``
    (fingerprints + model, weights chosen on validation data); the model is loaded once here.

    Imports only the scan-time encoder (onnxruntime, tokenizers), never torch.
    """
    from codeguard.ml.encoder import Encoder

    encoder = Encoder.load(model_dir, threads=threads)

    def model() -> Scorer:
        # One large embed() call per prepare block: the encoder sorts by length within a call.
        return ModelScorer(encoder)

    def combined() -> Scorer:
        fp = FingerprintScorer(variant=COMBINED_FINGERPRINT_VARIANT)
        return CombinedScorer([fp, model()], mode="weighted", grid=10)

    return {"model": model, "combined": combined}
