"""Learning curves: per-epoch bands for the curve figure and Torrey & Shavlik's benefits of transfer.

Shapes: R runs, E epochs (curves have E + 1 columns when column 0 is the accuracy before training).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

from ._common import _check_confidence
from .bootstrap import _mean_ci

# Tolerance when comparing accuracies that are multiples of 1/500 with 0.95 * final accuracy:
# 0.95 * 0.8 is 0.7600000000000001 in floating point, which must still count as reached by 0.76.
_REACH_TOL = 1e-12

# ----------------------------------------------------------------------------- learning curves


def _as_curves(curves, name: str) -> np.ndarray:
    """Validate finite curves of shape (R, C) with R >= 1 and C >= 1."""
    arr = np.asarray(curves, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (repeats, epochs) with both >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def curve_band(curves, confidence: float = 0.95) -> dict:
    """Per-epoch mean and t-based CI of the mean for curves (R, E) -> arrays of shape (E,).

    low/high = mean -+ t_{(1+confidence)/2, R-1} * sd / sqrt(R). With R=1 there is no spread,
    so low = high = mean. Returns numpy arrays (not JSON): it only feeds the learning-curve plot.
    """
    _check_confidence(confidence)
    c = _as_curves(curves, "curves")
    repeats = c.shape[0]
    mean = c.mean(axis=0)
    if repeats == 1:
        return {"mean": mean, "low": mean.copy(), "high": mean.copy()}
    half = st.t.ppf((1.0 + confidence) / 2.0, repeats - 1) * c.std(axis=0, ddof=1) / math.sqrt(repeats)
    return {"mean": mean, "low": mean - half, "high": mean + half}


def transfer_benefits(curves, *, seed: int, confidence: float = 0.95, n_resamples: int = 2000) -> dict:
    """Torrey & Shavlik's benefits of transfer from test-accuracy curves of shape (R, E+1).

    Column 0 is the accuracy before any target training, column e the accuracy after epoch e.
    Per repeat: "start" = column 0 (higher start); "epochs_to_95" = first epoch e >= 0 whose
    accuracy is >= 0.95 * that repeat's final accuracy (higher slope = fewer epochs);
    "auc" = mean over columns 0..E (normalised area, accuracy units); "asymptote" = last column.
    Each becomes {mean, ci_low, ci_high} with a BCa bootstrap CI of the mean across repeats
    (None with R=1; (v, v) when all repeats agree), each from ``seed``. With R x n_resamples <=
    1,000,000 (scipy path) the four use the same resampled repeats; above, each is resampled on its
    own histogram (start, asymptote and epochs_to_95 have few distinct values) or, for auc, by index
    in bounded chunks, so R = 20,000 repeats need no (n_resamples, R) matrix.
    """
    _check_confidence(confidence)
    c = _as_curves(curves, "curves")
    if np.any(c < 0):
        raise ValueError("curves must be accuracies (>= 0)")
    final = c[:, -1]
    reached = c >= 0.95 * final[:, None] - _REACH_TOL  # the last column always qualifies
    per_repeat = {
        "start": c[:, 0],
        "epochs_to_95": np.argmax(reached, axis=1).astype(float),
        "auc": c.mean(axis=1),
        "asymptote": final,
    }
    return {
        name: _mean_ci(values, seed=seed, confidence=confidence, n_resamples=n_resamples)
        for name, values in per_repeat.items()
    }
