"""Training the decision: logistic regression on one part of the labelled pairs, isotonic
calibration on the other part (split by group, so pairs of one planted unit never straddle it).

scikit-learn is needed here only (the `dev` extra); the result is plain JSON for
:mod:`codeguard.verdict.classifier`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from codeguard.verdict.classifier import Verdict
from codeguard.verdict.features import FEATURES


def _held_back(group: str, share: float) -> bool:
    return int(hashlib.sha1(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by count."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.sum() / len(p) * abs(float(y[m].mean()) - float(p[m].mean()))
    return err


def fit(
    x: np.ndarray,
    y: np.ndarray,
    groups: list[str],
    c: float = 1.0,
    calibration_share: float = 0.3,
    card: dict[str, Any] | None = None,
) -> Verdict:
    """Fit the classifier and its calibration; the card records what was measured."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    held = np.array([_held_back(g, calibration_share) for g in groups])
    if held.all() or (~held).all() or len(set(y[~held].tolist())) < 2:
        raise ValueError("too few labelled pairs of both kinds to fit and calibrate the classifier")
    mean = x[~held].mean(axis=0)
    scale = x[~held].std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    lr.fit((x[~held] - mean) / scale, y[~held])
    model = Verdict(
        features=FEATURES,
        mean=mean,
        scale=scale,
        weights=lr.coef_[0].astype(np.float64),
        bias=float(lr.intercept_[0]),
        cal_x=np.zeros(0),
        cal_y=np.zeros(0),
    )
    raw = model.raw_probability(x[held])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(raw, y[held])
    cal_x = np.asarray(iso.X_thresholds_, dtype=np.float64)
    cal_y = np.asarray(iso.y_thresholds_, dtype=np.float64)
    model = Verdict(
        features=FEATURES,
        mean=mean,
        scale=scale,
        weights=model.weights,
        bias=model.bias,
        cal_x=cal_x,
        cal_y=cal_y,
    )
    p_held = model.probability(x[held])
    info = {
        "pairs": int(len(y)),
        "positives": int(y.sum()),
        "fit_pairs": int((~held).sum()),
        "calibration_pairs": int(held.sum()),
        "C": c,
        "calibration_ece": round(expected_calibration_error(p_held, y[held]), 4),
        "weights": {f: round(float(w), 4) for f, w in zip(FEATURES, model.weights)},
    }
    return Verdict(
        features=FEATURES,
        mean=mean,
        scale=scale,
        weights=model.weights,
        bias=model.bias,
        cal_x=cal_x,
        cal_y=cal_y,
        card={**(card or {}), "fit": info},
    )
