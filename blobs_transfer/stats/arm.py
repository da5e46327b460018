"""One arm on its own: the summary of its test accuracies, and the CI of a mean at the unit of replication.

`describe` summarises an arm (mean, spread, the CI of the mean, and for runs nested in source models the
design effect); the CI of one sample's mean is `mean_ci` for independent runs (BCa) and `nested_mean_ci` for
runs nested in source models (a two-stage t interval), also used for each benefit of transfer
(`curves.transfer_benefits`). Both resample through the one core (`resample`), at any size. Shapes: R (or n)
runs of the arm, K sources, D distinct values, B resamples.
"""

from __future__ import annotations

import math

import numpy as np

from blobs_transfer.stats.bootstrap import interval_from, mean_jackknife
from blobs_transfer.stats.common import (
    as_1d,
    as_groups,
    check_confidence,
    exact_mean,
    t_interval,
)
from blobs_transfer.stats.nested import nested_keys
from blobs_transfer.stats.resample import Sample, Stream, mean_of, resample


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

    - ``groups`` None or a single source: BCa bootstrap of the runs as independent (:func:`mean_ci`: the
      resampling core with scipy's BCa formulas; histogram resamples, memory independent of R).
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
        "iqm": summary["mean"] if constant else iqm(x),
        "min": float(x.min()),
        "max": float(x.max()),
        "ci_low": summary["ci_low"],
        "ci_high": summary["ci_high"],
        **nested_keys(x, g),
    }


def nested_describe(values, groups, *, seed: int, confidence: float = 0.95, n_resamples: int = 9999) -> dict:
    """:func:`describe` with ``groups`` required (kept for callers written before describe took groups)."""
    return describe(values, seed=seed, groups=groups, confidence=confidence, n_resamples=n_resamples)


def iqm(x: np.ndarray) -> float:
    """Interquartile mean of x (n,): scipy.stats.trim_mean(x, 0.25) to the bit (the same partition, the same
    slice, the same np.mean), without importing scipy.stats."""
    cut = int(0.25 * x.size)
    return float(np.mean(np.partition(x, (cut, x.size - cut - 1))[cut : x.size - cut]))


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


def mean_ci(values: np.ndarray, *, seed: int, confidence: float, n_resamples: int) -> dict:
    """{mean, ci_low, ci_high} of one sample of independent runs, shape (n,): BCa bootstrap CI of the mean.

    The resampling core (multinomial draws on the histogram, or index draws in bounded chunks) with scipy's BCa
    formulas and the closed-form jackknife of the mean: scipy.stats.bootstrap's interval up to Monte Carlo error
    (tested), memory O(chunk)."""
    mean = exact_mean(values)
    if values.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None}
    if np.ptp(values) == 0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean}
    grid, index = np.unique(values, return_inverse=True)
    theta = resample(mean_of(grid), n_resamples, Stream(Sample(index, grid.size), np.random.default_rng(seed)))
    num, den = mean_jackknife(values)
    low, high = interval_from(theta, float(values.mean()), confidence, num / (6.0 * den**1.5))
    return {"mean": mean, "ci_low": low, "ci_high": high}


def nested_mean_ci(values, groups, *, seed: int, confidence: float = 0.95, n_resamples: int = 9999) -> dict:
    """{mean, ci_low, ci_high, se}: the mean of all runs, values and groups shape (n,), and its CI at the
    source-model level.

    se is the SD of the means of B two-stage resamples (sources with replacement, then runs within each)
    times sqrt(K/(K-1)); the interval is mean -+ t_{K-1} se.

    Why not the percentile interval of the same resamples: with few sources it covers too rarely (91-92%
    at K = 5 in the simulation of tests/stats/test_nested.py), for two reasons the t interval fixes. A
    bootstrap of K clusters has variance (K-1)/K of the clusters' own (the sqrt(K/(K-1)) factor, as in
    Davison & Hinkley 1997, section 3.8), and the spread is estimated from K source means, so its
    uncertainty calls for Student's t with K - 1 degrees of freedom, as in the textbook t interval on
    cluster means, which this reproduces when the ICC is near 1. Resampling runs within sources as well
    counts the within-source variance a second time (about sigma_w^2 / R): slightly conservative at
    moderate ICC, negligible at the study's ICC of about 0.97.

    The point estimate is the plain mean of all runs (the expected accuracy of a run; with the study's
    equal runs per source it equals the mean of the source means, and the two-stage resamples redraw
    unequal sizes with their sources, so the SE is that of this ratio estimator). K = 1: no interval
    (None, None, se None); every run equal: (mean, mean), se 0. n_resamples < 2: no interval.
    """
    check_confidence(confidence)
    x = as_1d(values, "values")
    g = as_groups(groups, x.size)
    mean = exact_mean(x)
    k = np.unique(g).size
    if k < 2 or n_resamples < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "se": None}
    if np.ptp(x) == 0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "se": 0.0}
    grid, index = np.unique(x, return_inverse=True)
    means = resample(mean_of(grid), n_resamples, Stream(Sample(index, grid.size, g), np.random.default_rng(seed)))
    se = float(np.std(means, ddof=1) * math.sqrt(k / (k - 1)))
    if se == 0.0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "se": 0.0}
    low, high = t_interval(mean, se, k - 1, confidence)
    return {"mean": mean, "ci_low": low, "ci_high": high, "se": se}
