"""The CI of one sample's mean at its unit of replication: BCa for independent runs, a t interval for nested ones.

Used for an arm's accuracy (`arm.describe`) and for each benefit of transfer (`curves.transfer_benefits`).
Both resample through the one core (`resample`); the independent case goes through scipy for small problems
(`bootstrap.exact_path`). Shapes: n runs, K sources, D distinct values, B resamples.
"""

from __future__ import annotations

import math

import numpy as np

from blobs_transfer.stats.bootstrap import (
    bootstrap_ci,
    exact_path,
    interval_from,
    mean_jackknife,
    mean_stat,
)
from blobs_transfer.stats.common import (
    as_1d,
    as_groups,
    check_confidence,
    exact_mean,
    t_interval,
)
from blobs_transfer.stats.resample import Sample, Stream, mean_of, resample


def mean_ci(values: np.ndarray, *, seed: int, confidence: float, n_resamples: int) -> dict:
    """{mean, ci_low, ci_high} of one sample of independent runs, shape (n,): BCa bootstrap CI of the mean.

    n x n_resamples <= EXACT_CELLS: scipy.stats.bootstrap, bit-for-bit as before; otherwise the resampling
    core (multinomial draws on the histogram, or index draws in bounded chunks) with scipy's BCa formulas and
    the closed-form jackknife of the mean: the same interval up to Monte Carlo error, memory O(chunk)."""
    mean = exact_mean(values)
    if values.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None}
    if np.ptp(values) == 0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean}
    rng = np.random.default_rng(seed)
    if exact_path(values.size, n_resamples):
        low, high = bootstrap_ci((values,), mean_stat, mean, rng=rng, confidence=confidence, n_resamples=n_resamples)
    else:
        grid, index = np.unique(values, return_inverse=True)
        theta = resample(mean_of(grid), n_resamples, Stream(Sample(index, grid.size), rng))
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
