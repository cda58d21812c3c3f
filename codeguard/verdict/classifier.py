"""The decision: a logistic regression over the pair features, calibrated by isotonic
regression on pairs held back from its fit, stored as JSON (never pickle).

Its output is a calibrated P(copy): among pairs it gives 0.9, about nine in ten were copies on
the held-back data of its training (the card in the file says which data and how well).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from codeguard.errors import CodeguardError, ExitCode
from codeguard.verdict.features import FEATURES

FORMAT = "codeguard-verdict"
FORMAT_VERSION = 1
# The shipped classifier, made by `make verdict` (bench/verdict_train.py).
DEFAULT_FILE = "verdict.json"


class VerdictUnavailable(CodeguardError):
    """The classifier file is missing, damaged or made for other features."""

    exit_code = ExitCode.UNAVAILABLE


@dataclass(frozen=True)
class Verdict:
    """A loaded classifier."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    cal_x: np.ndarray  # isotonic calibration: raw probability -> calibrated, piecewise linear
    cal_y: np.ndarray
    card: dict[str, Any] = field(default_factory=dict)

    def raw_probability(self, x: np.ndarray) -> np.ndarray:
        """The logistic regression's own probability for rows of features."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return out

    def probability(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(copy) for rows of features (``FEATURES`` order)."""
        p = self.raw_probability(x)
        if len(self.cal_x) == 0:
            return p
        out: np.ndarray = np.interp(p, self.cal_x, self.cal_y)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "calibration": {"x": self.cal_x.tolist(), "y": self.cal_y.tolist()},
            "card": self.card,
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n", encoding="utf-8")


def from_json(data: dict[str, Any], where: str = "classifier") -> Verdict:
    """A classifier from its JSON form; errors say what is wrong."""
    try:
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise VerdictUnavailable(
                f"{where} is not a codeguard verdict classifier of format version {FORMAT_VERSION}."
            )
        feats = tuple(data["features"])
        if feats != FEATURES:
            raise VerdictUnavailable(
                f"{where} was trained on other features ({len(feats)}; this codeguard computes "
                f"{len(FEATURES)}): retrain it with `make verdict`."
            )
        n = len(FEATURES)
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
        if any(a.shape != (n,) for a in arrays) or not all(np.isfinite(a).all() for a in arrays):
            raise VerdictUnavailable(f"{where} is damaged (weights of the wrong shape or not finite).")
        cal = data.get("calibration") or {}
        cal_x = np.asarray(cal.get("x", []), dtype=np.float64)
        cal_y = np.asarray(cal.get("y", []), dtype=np.float64)
        if cal_x.shape != cal_y.shape or (len(cal_x) and np.any(np.diff(cal_x) < 0)):
            raise VerdictUnavailable(f"{where} has a damaged calibration table.")
        return Verdict(
            features=feats,
            mean=arrays[0],
            scale=np.where(arrays[1] > 0, arrays[1], 1.0),
            weights=arrays[2],
            bias=float(data["bias"]),
            cal_x=cal_x,
            cal_y=cal_y,
            card=dict(data.get("card") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VerdictUnavailable(f"{where} is damaged ({exc!r}).") from None


def load(path: Path | None = None) -> Verdict:
    """The classifier at ``path``, or the shipped one."""
    if path is not None:
        try:
            return from_json(json.loads(Path(path).read_text(encoding="utf-8")), str(path))
        except OSError as exc:
            raise VerdictUnavailable(f"Cannot read the verdict classifier {path}: {exc.strerror}.") from None
        except ValueError:
            raise VerdictUnavailable(f"{path} is not valid JSON.") from None
    return _default()


@cache
def _default() -> Verdict:
    text = resources.files("codeguard.verdict").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
    return from_json(json.loads(text), f"the shipped classifier ({DEFAULT_FILE})")
