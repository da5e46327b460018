"""Realised means that tie when they are equal: each source model's mean accuracy from exact integer counts.

A run's test accuracy is a count out of n_test (410 of 500). Averaging the accuracies as floats rounds each one
and then their sum, so two source models with the same total count (410 + 399 + 410 = 406 + 406 + 407 = 1219 of
1500) can come out as different floats, and a rank correlation then orders what is a tie. Here the counts are
summed as integers and divided once: the mean is the double nearest the fraction correct / total, and two equal
fractions give the same double (IEEE division rounds correctly). Two different fractions with totals below 2^26
differ by at least 1 / total^2, far more than a double's spacing near them, so they never merge.

The same holds in a resample: a resample's weight of each run is a whole number of draws, so its weighted sums of
counts are integers too (exact in float64 below 2^53) and are divided once.

Shapes: N runs, K source models, b resamples.
"""

from __future__ import annotations

import numpy as np


def realised_means(correct: np.ndarray, n_test: np.ndarray | int, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels (K,) sorted, means (K,)): each group's total correct over its total test rows, one division.
    correct (N,) integer counts, n_test (N,) or one int (the test rows of each run), groups (N,)."""
    correct = _counts(correct, "correct")
    total = _counts(np.broadcast_to(n_test, correct.shape), "n_test")
    labels, source = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)
    if source.size != correct.size:
        raise ValueError(f"{source.size} groups for {correct.size} runs")
    sums = np.zeros(labels.size, dtype=np.int64)
    totals = np.zeros(labels.size, dtype=np.int64)
    np.add.at(sums, source.reshape(-1), correct)
    np.add.at(totals, source.reshape(-1), total)
    return labels, sums / totals


def resampled_means(weights: np.ndarray, onehot: np.ndarray, correct: np.ndarray, n_test: np.ndarray | int):
    """(b, K): each source's mean over a resample's drawn runs, weights (b, N) the whole number of times each run
    was drawn, onehot (N, K) the runs' sources: (weights @ (onehot * correct)) / (weights @ (onehot * n_test)),
    both integers held exactly in float64 (NaN where a source has no drawn run). correct (N,), n_test (N,) or an
    int."""
    correct = _counts(correct, "correct")
    total = _counts(np.broadcast_to(n_test, correct.shape), "n_test")
    w = np.asarray(weights, dtype=np.float64)
    if np.any(w != np.rint(w)) or np.any(w < 0):
        raise ValueError("resample weights must be whole numbers of draws")
    onehot = np.asarray(onehot, dtype=np.float64)
    sums = w @ (onehot * correct[:, None])
    totals = w @ (onehot * total[:, None])
    if max(float(np.max(sums, initial=0.0)), float(np.max(totals, initial=0.0))) >= 2.0**53:
        raise ValueError("counts too large to be held exactly in float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / totals


def whole_counts(accuracy: np.ndarray, n_test: int) -> np.ndarray:
    """Accuracies (N,) that are counts out of n_test, as those counts (N,) int64 (each within 1e-6 of a whole
    number of rows, else ValueError: they are not counts out of n_test)."""
    scaled = np.asarray(accuracy, dtype=np.float64).reshape(-1) * n_test
    counts = np.rint(scaled)
    if scaled.size and np.max(np.abs(scaled - counts)) > 1e-6:
        raise ValueError(f"accuracies are not whole counts out of n_test = {n_test}")
    return counts.astype(np.int64)


def _counts(values, name: str) -> np.ndarray:
    """values (N,) as int64, checked to be whole and non-negative."""
    arr = np.asarray(values).reshape(-1)
    as_int = arr.astype(np.int64)
    if np.any(as_int != arr) or np.any(as_int < 0):
        raise ValueError(f"{name} must be non-negative whole counts")
    return as_int
