"""Learning curves: per-epoch bands for the curve figure and Torrey & Shavlik's benefits of transfer.

The bands of runs nested in K > 1 source models use the cluster-robust SE of the resampling core's design
(`resample.cluster_variance`, as `nested.cluster_se` does), the benefits' CIs the CI of a mean (`arm`).
Shapes: R runs, E epochs (curves have E + 1 columns when column 0 is the accuracy before training).
"""

from __future__ import annotations

import math

import numpy as np

from blobs_transfer.stats.arm import mean_ci, nested_mean_ci
from blobs_transfer.stats.common import as_groups, check_confidence, t_quantile
from blobs_transfer.stats.resample import cluster_variance

# Tolerance when comparing accuracies that are multiples of 1/500 with 0.95 * final accuracy:
# 0.95 * 0.8 is 0.7600000000000001 in floating point, which must still count as reached by 0.76.
_REACH_TOL = 1e-12


def _as_curves(curves, name: str) -> np.ndarray:
    """Validate finite curves of shape (R, C) with R >= 1 and C >= 1."""
    arr = np.asarray(curves, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (repeats, epochs) with both >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def curve_band(curves, confidence: float = 0.95, *, groups=None) -> dict:
    """Per-epoch mean and CI of the mean for curves (R, E) -> arrays of shape (E,); groups None or (R,).

    - groups None or one source: low/high = mean -+ t_{(1+confidence)/2, R-1} * sd / sqrt(R), the runs as
      independent (with one source model the band is conditional on it). R=1: low = high = mean.
    - groups with K > 1 sources: mean -+ t_{K-1} x the cluster-robust SE of each epoch's mean
      (:func:`nested.cluster_se`; for K sources of R runs each, the textbook t interval on the K source means). Runs
      of one source share its starting weights, so with ICC near 1 the pooled band would be sqrt(R) too narrow.

    Also returns "n_sources" (K, or None without groups). Returns numpy arrays (not JSON): it only feeds the
    learning-curve plot.
    """
    check_confidence(confidence)
    c = _as_curves(curves, "curves")
    repeats = c.shape[0]
    mean = c.mean(axis=0)
    g = None if groups is None else as_groups(groups, repeats)
    k = None if g is None else int(np.unique(g).size)
    if k is not None and k > 1:
        half = t_quantile((1.0 + confidence) / 2.0, k - 1) * np.sqrt(cluster_variance(c, g))
        return {"mean": mean, "low": mean - half, "high": mean + half, "n_sources": k}
    if repeats == 1:
        return {"mean": mean, "low": mean.copy(), "high": mean.copy(), "n_sources": k}
    half = t_quantile((1.0 + confidence) / 2.0, repeats - 1) * c.std(axis=0, ddof=1) / math.sqrt(repeats)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n_sources": k}


BENEFITS = ("start", "epochs_to_95", "auc", "asymptote")


def benefit_values(curves) -> dict[str, np.ndarray]:
    """Torrey & Shavlik's benefits of each run, from test-accuracy curves (R, E+1) -> four arrays (R,).

    Column 0 is the accuracy before any target training, column e the accuracy after epoch e.
    "start" = column 0 (higher start); "epochs_to_95" = first epoch e >= 0 whose accuracy is >= 0.95 * that
    run's final accuracy (higher slope = fewer epochs); "auc" = mean over columns 0..E (normalised area,
    accuracy units); "asymptote" = last column.
    """
    c = _as_curves(curves, "curves")
    if np.any(c < 0):
        raise ValueError("curves must be accuracies (>= 0)")
    final = c[:, -1]
    reached = c >= 0.95 * final[:, None] - _REACH_TOL  # the last column always qualifies
    return {
        "start": c[:, 0],
        "epochs_to_95": np.argmax(reached, axis=1).astype(float),
        "auc": c.mean(axis=1),
        "asymptote": final,
    }


def transfer_benefits(curves, *, seed: int, groups=None, confidence: float = 0.95, n_resamples: int = 2000) -> dict:
    """Torrey & Shavlik's benefits of transfer (:func:`benefit_values`) from curves (R, E+1), each as
    {mean, ci_low, ci_high}, the mean over runs with a CI from ``seed``; groups None or (R,) source indices.

    - groups None or one source: a BCa bootstrap CI of the mean across runs as independent (None with R=1;
      (v, v) when all runs agree; :func:`arm.mean_ci`). Each is resampled on its own histogram (start, asymptote
      and epochs_to_95 have few distinct values) or, for auc, by index in bounded chunks, so R = 20,000 runs
      need no (n_resamples, R) matrix. With one source model the interval is conditional on it.
    - groups with K > 1 sources: mean -+ t_{K-1} x two-stage bootstrap SE (:func:`nested_mean_ci`), the source
      model as the unit, as for the arm's mean. Why: the start is the same for every run of one source model
      and the rest nearly so (ICC about 0.97), so the runs-as-independent interval shrinks with R and is
      several times too narrow.
    """
    check_confidence(confidence)
    per_run = benefit_values(curves)
    g = None if groups is None else as_groups(groups, per_run["start"].size)
    if g is not None and np.unique(g).size > 1:
        out = {}
        for name, values in per_run.items():
            ci = nested_mean_ci(values, g, seed=seed, confidence=confidence, n_resamples=n_resamples)
            out[name] = {"mean": ci["mean"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"]}
        return out
    return {
        name: mean_ci(values, seed=seed, confidence=confidence, n_resamples=n_resamples)
        for name, values in per_run.items()
    }
