"""One arm: the summary of its test accuracies, with a CI of the mean at the right unit of replication.

Shapes: R runs of the arm.
"""

from __future__ import annotations

import math

import numpy as np

from blobs_transfer.stats.common import (
    as_1d,
    as_groups,
    check_confidence,
    exact_mean,
    st,
)
from blobs_transfer.stats.means import mean_ci, nested_mean_ci
from blobs_transfer.stats.nested import nested_keys


def describe(
    values,
    *,
    seed: int,
    groups=None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> dict:
    """Summarise the test accuracies of one arm, values shape (R,), groups None or shape (R,).

    Keys: n, mean, std, median, q1, q3, iqr, iqm, min, max, ci_low, ci_high, n_sources, icc,
    design_effect, n_effective. std uses ddof=1; quartiles use numpy's linear interpolation; iqm is
    the mean of the middle 50% (scipy.stats.trim_mean(values, 0.25)), robust to the few collapsed
    runs an arm can have. All of these describe the runs as they are.

    ci_low/ci_high, the CI of the mean (``seed`` -> numpy default_rng):

    - ``groups`` None or a single source: BCa bootstrap of the runs as independent, bit-for-bit the
      numbers this function always gave for R x n_resamples <= 1,000,000 (scipy.stats.bootstrap), the
      same interval up to Monte Carlo error above that (histogram bootstrap, memory independent of R).
      With one source the interval is conditional on that source model: it says nothing about another.
    - ``groups`` with K > 1 sources (the source index of each run): the mean -+ t_{K-1} x two-stage
      bootstrap SE (:func:`nested_mean_ci`), because nested runs are not independent: with ICC 0.97
      an arm of K x R runs carries about K observations, and the plain bootstrap's interval would be
      several times too narrow. The point estimate stays the plain mean of all runs.

    n_sources, icc, design_effect, n_effective: see :func:`nested.nested_keys` (groups None: None, None, 1.0, R;
    one source: 1, None, None, None; K > 1: K, the ANOVA ICC, 1 + (m - 1) ICC, R / design_effect).

    Undefined values are None, never NaN: with R=1, std, ci_low and ci_high are None (no spread
    can be estimated from one run). When all runs are identical the CI is (value, value), since
    every resample has the same mean. R=2 gives a (crude) bootstrap CI. R=0 raises ValueError.
    n_resamples=0 skips the interval (None, None).
    """
    check_confidence(confidence)
    x = as_1d(values, "values")
    g = None if groups is None else as_groups(groups, x.size)
    nested = g is not None and np.unique(g).size > 1
    q1, median, q3 = (float(q) for q in np.percentile(x, [25, 50, 75]))
    if not n_resamples:
        summary = {"mean": exact_mean(x), "ci_low": None, "ci_high": None}
    elif nested:
        summary = nested_mean_ci(x, g, seed=seed, confidence=confidence, n_resamples=n_resamples)
    else:
        summary = mean_ci(x, seed=seed, confidence=confidence, n_resamples=n_resamples)
    constant = np.ptp(x) == 0  # report exact 0 / the value, not an ulp of rounding noise
    return {
        "n": int(x.size),
        "mean": summary["mean"],
        "std": None if x.size == 1 else 0.0 if constant else float(np.std(x, ddof=1)),
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "iqm": summary["mean"] if constant else float(st.trim_mean(x, 0.25)),
        "min": float(x.min()),
        "max": float(x.max()),
        "ci_low": summary["ci_low"],
        "ci_high": summary["ci_high"],
        **nested_keys(x, g),
    }


def nested_describe(values, groups, *, seed: int, confidence: float = 0.95, n_resamples: int = 9999) -> dict:
    """:func:`describe` with ``groups`` required (kept for callers written before describe took groups)."""
    return describe(values, seed=seed, groups=groups, confidence=confidence, n_resamples=n_resamples)


def binomial_se(p: float, n_test: int) -> float:
    """Binomial standard error sqrt(p(1-p)/n_test) of one accuracy p on n_test rows.

    This is the noise of a single run's test accuracy from the finite test set alone
    (about 0.018 at p=0.8, n_test=500), to print beside the table.
    """
    if n_test <= 0:
        raise ValueError(f"n_test must be positive, got {n_test}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a proportion in [0, 1], got {p}")
    return float(math.sqrt(p * (1.0 - p) / n_test))
