"""Standard clone-detection metrics: MAP@R (CodeXGLUE POJ-104), binary P/R/F1, ROC AUC.

Pure NumPy. Ties matter for set-overlap scorers (most unrelated programs share no fingerprint
and score exactly 0), so the ranking metrics take an explicit tie policy instead of inheriting
whatever order a sort happens to leave: ``random`` (a seeded permutation, the unbiased
estimate), ``worst`` (irrelevant first) and ``best`` (relevant first) bound it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

TIES = ("random", "worst", "best")


def average_precision_at_r(
    sims: np.ndarray,
    relevant: np.ndarray,
    r: np.ndarray,
    ties: str = "random",
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """AP@R of each row: rank columns by score, average the precision at every relevant hit in
    the top ``r[i]`` ranks, divide by ``r[i]`` (the CodeXGLUE POJ-104 evaluator's formula).

    ``sims`` (B, N) scores, ``relevant`` (B, N) bool; excluded columns (the query itself) must
    already be set to ``-inf``. ``tiebreak`` (N,) ranks columns among equal scores for ``random``.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, not {ties!r}")
    b, n = sims.shape
    rel = relevant.astype(np.int8)
    if ties == "random":
        second = np.broadcast_to(np.arange(n) if tiebreak is None else tiebreak, (b, n))
    elif ties == "worst":
        second = rel
    else:
        second = -rel
    order = np.lexsort((second, -sims), axis=-1)
    rmax = int(r.max()) if len(r) else 0
    if rmax == 0:
        return np.zeros(b)
    hits = np.take_along_axis(rel, order[:, :rmax], axis=1).astype(np.float64)
    hits[np.arange(rmax)[None, :] >= r[:, None]] = 0.0
    precision = np.cumsum(hits, axis=1) / np.arange(1, rmax + 1)[None, :]
    ap: np.ndarray = (precision * hits).sum(axis=1) / np.maximum(r, 1)
    return ap


def map_at_r(
    similarity: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    labels: Sequence[object],
    ties: str = "random",
    seed: int = 0,
    block: int = 512,
) -> float:
    """MAP@R over all items: each item queries all others; R = number of other items with its
    label (499 on POJ-104). ``similarity`` is an (N, N) matrix or a function from query row
    indices to their (B, N) rows, so that 12k x 12k never has to sit in memory at once.
    Items whose label occurs once (R = 0) are skipped, as they have nothing to retrieve."""
    aps = ap_at_r_all(similarity, labels, ties, seed, block)
    valid = ~np.isnan(aps)
    return float(aps[valid].mean()) if valid.any() else 0.0


def ap_at_r_all(
    similarity: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    labels: Sequence[object],
    ties: str = "random",
    seed: int = 0,
    block: int = 512,
) -> np.ndarray:
    """AP@R of every item as a query (NaN where R = 0); ``map_at_r`` is their mean."""
    lab = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)[1]
    n = len(lab)
    counts = np.bincount(lab)
    r_all = counts[lab] - 1
    tiebreak = np.random.default_rng(seed).permutation(n)
    out = np.full(n, np.nan)
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        rows = rows[r_all[rows] > 0]
        if len(rows) == 0:
            continue
        sims = similarity(rows) if callable(similarity) else np.asarray(similarity)[rows]
        sims = np.array(sims, dtype=np.float64)
        sims[np.arange(len(rows)), rows] = -np.inf
        relevant = lab[rows][:, None] == lab[None, :]
        relevant[np.arange(len(rows)), rows] = False
        out[rows] = average_precision_at_r(sims, relevant, r_all[rows], ties, tiebreak)
    return out


@dataclass(frozen=True)
class PRF:
    """Binary precision/recall/F1 of the positive class, with the confusion counts."""

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: getattr(self, k) for k in ("precision", "recall", "f1", "tp", "fp", "fn", "tn")}


def prf(predicted: np.ndarray, labels: np.ndarray) -> PRF:
    """Precision, recall and F1 of label 1 (CodeXGLUE BigCloneBench evaluator semantics);
    0 where a denominator is 0."""
    p = np.asarray(predicted).astype(bool)
    y = np.asarray(labels).astype(bool)
    tp = int((p & y).sum())
    fp = int((p & ~y).sum())
    fn = int((~p & y).sum())
    tn = int((~p & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1, tp, fp, fn, tn)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The threshold t maximizing F1 of ``score >= t`` and that F1. Among equal F1 the highest
    t wins (fewest positives). Only observed scores are candidates, so ties are never split."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if len(s) == 0 or not y.any():
        return float("inf"), 0.0
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    k = np.arange(1, len(s) + 1)
    last = np.r_[s[1:] != s[:-1], True]  # cut only after the last item of a run of equal scores
    tp, k, vals = tp[last], k[last], s[last]
    f1 = 2 * tp / (k + y.sum())
    i = int(np.argmax(f1))  # first maximum = highest threshold
    return float(vals[i]), float(f1[i])


def roc_auc(scores: np.ndarray, labels: np.ndarray | Sequence[int]) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied scores counted one half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = ends - (counts - 1) / 2.0  # 1-based mean rank of each distinct score
    ranks = avg_rank[inv]
    return float((ranks[y].sum() - npos * (npos + 1) / 2.0) / (npos * nneg))


def reweighted_prf(
    scores: np.ndarray, labels: np.ndarray | Sequence[int], threshold: float, prior: float
) -> dict[str, float]:
    """P/R/F1 at the natural positive rate ``prior`` from a class-balanced sample:
    P = TPR·π / (TPR·π + FPR·(1−π)), R = TPR."""
    y = np.asarray(labels).astype(bool)
    pred = np.asarray(scores) >= threshold
    tpr = float(pred[y].mean()) if y.any() else 0.0
    fpr = float(pred[~y].mean()) if (~y).any() else 0.0
    denom = tpr * prior + fpr * (1 - prior)
    precision = tpr * prior / denom if denom else 0.0
    f1 = 2 * precision * tpr / (precision + tpr) if precision + tpr else 0.0
    return {"precision": precision, "recall": tpr, "f1": f1, "tpr": tpr, "fpr": fpr, "prior": prior}
