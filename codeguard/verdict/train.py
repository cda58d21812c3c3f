"""Training the decision: logistic regression on one part of the labelled pairs, Platt
calibration on the other part (split by group, so pairs of one planted unit never straddle it).

scikit-learn is needed here only (the `dev` extra); the result is plain JSON for
:mod:`codeguard.verdict.classifier`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from codeguard.verdict.classifier import Verdict
from codeguard.verdict.features import FEATURES, SIGNS


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


def _signed_logistic(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (classes balanced, as scikit-learn's
    ``class_weight="balanced"``) whose weights keep the signs of :data:`SIGNS`: L-BFGS-B with
    bounds, the bias free."""
    from scipy.optimize import minimize

    n, d = x.shape
    pos = max(1, int(y.sum()))
    neg = max(1, n - pos)
    sample_w = np.where(y == 1, n / (2.0 * pos), n / (2.0 * neg))
    signs = [SIGNS.get(f, 0) for f in FEATURES]
    bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs]
    bounds.append((None, None))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        # log(1 + exp(-y'z)) with y' in {-1, 1}, stably.
        ys = 2.0 * y - 1.0
        m = -ys * z
        nll = np.logaddexp(0.0, m)
        g = -ys / (1.0 + np.exp(-m))  # d nll / dz
        value = c * float((sample_w * nll).sum()) + 0.5 * float(w @ w)
        grad_w = c * (x.T @ (sample_w * g)) + w
        grad_b = c * float((sample_w * g).sum())
        return value, np.append(grad_w, grad_b)

    res = minimize(
        loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 5000}
    )
    return np.asarray(res.x[:d], dtype=np.float64), float(res.x[d])


def fit(
    x: np.ndarray,
    y: np.ndarray,
    groups: list[str],
    c: float = 1.0,
    calibration_share: float = 0.3,
    card: dict[str, Any] | None = None,
) -> Verdict:
    """Fit the classifier and its calibration; the card records what was measured."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    held = np.array([_held_back(g, calibration_share) for g in groups])
    if held.all() or (~held).all() or len(set(y[~held].tolist())) < 2:
        raise ValueError("too few labelled pairs of both kinds to fit and calibrate the classifier")
    mean = x[~held].mean(axis=0)
    scale = x[~held].std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    weights, bias = _signed_logistic((x[~held] - mean) / scale, y[~held], c)
    model = Verdict(
        features=FEATURES,
        mean=mean,
        scale=scale,
        weights=weights,
        bias=bias,
        cal_x=np.zeros(0),
        cal_y=np.zeros(0),
    )
    # Calibration: Platt scaling of the classifier's logit on the held-back pairs (two parameters;
    # isotonic regression on the few hundred held-back copies made a staircase of plateaus), kept
    # as a dense monotone curve so the classifier file stays a lookup table.
    raw = np.clip(model.raw_probability(x[held]), 1e-12, 1 - 1e-12)
    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(np.log(raw / (1 - raw)).reshape(-1, 1), y[held])
    grid = np.linspace(-30.0, 30.0, 601)
    cal_x = 1.0 / (1.0 + np.exp(-grid))
    cal_y = 1.0 / (1.0 + np.exp(-(platt.coef_[0, 0] * grid + platt.intercept_[0])))
    # Finite data never proves P = 0 or 1: the ends stay one pseudo-pair away from certainty.
    floor = 1.0 / (int(held.sum()) + 2)
    cal_y = np.clip(cal_y, floor, 1.0 - floor)
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
