"""Runs nested in source models: the two-stage bootstrap, cluster-robust SE, design effect, variance components.

The source model is the unit of replication (PROTOCOL.md section 7): with ICC about 0.97 an arm of K x R runs
carries about K independent observations. Shapes: N runs, K sources, D distinct values, B resamples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._common import (
    _as_1d,
    _as_groups,
    _check_confidence,
    _exact_mean,
    _sum_sq,
    _t_interval,
)
from .bootstrap import _MULTINOMIAL_COST, _chunks

# ----------------------------------------------------------------------------- source models (nested runs)
#
# Runs of a transfer arm are nested in source models. A two-stage (cluster) bootstrap resamples K source
# models with replacement, then each chosen source's runs with replacement. Drawing K sources with
# replacement is drawing how often each source is chosen, t ~ Multinomial(K, 1/K each); the t_c within-source
# resamples of source c pooled together are one Multinomial(t_c n_c, h_c / n_c) draw on its histogram h_c.
# So one two-stage resample costs K multinomial draws on the sources' own (short) histograms, O(sum_c D_c),
# rather than N index draws; with few runs per source (D_c close to n_c) index draws are cheaper and are used.


class _Sources:
    """Runs nested in K sources, resampled in two stages onto a common grid of D distinct values.

    index (N,): each run's position on the grid; groups (N,): its source label. Holds sizes (K,) runs per
    source and, for the histogram strategy, cols (K, Dmax) the grid positions of each source's distinct
    values and probs (K, Dmax) their shares within the source (rows padded with probability 0 and the
    source's last column, so a stray draw from float rounding still lands on a value the source holds);
    for the index strategy, the runs' grid positions sorted by source (N,) and each source's start (K,).
    """

    def __init__(self, index: np.ndarray, groups: np.ndarray, n_grid: int):
        _, source = np.unique(groups, return_inverse=True)
        source = source.reshape(-1)
        self.k = int(source.max()) + 1
        self.n_grid = n_grid
        self.sizes = np.bincount(source, minlength=self.k).astype(np.int64)
        pairs, counts = np.unique(source * n_grid + index, return_counts=True)
        src, col = pairs // n_grid, pairs % n_grid
        width = np.bincount(src, minlength=self.k)
        d_max = int(width.max())
        self.use_histograms = width.sum() * _MULTINOMIAL_COST < self.k * int(self.sizes.max())
        if self.use_histograms:
            starts = np.concatenate([[0], np.cumsum(width)[:-1]])
            slot = np.arange(pairs.size) - np.repeat(starts, width)
            self.cols = np.repeat(col[starts + width - 1][:, None], d_max, axis=1)
            self.probs = np.zeros((self.k, d_max))
            self.cols[src, slot] = col
            self.probs[src, slot] = counts / self.sizes[src]
            self.width = self.k * d_max
        else:
            self.by_source = index[np.argsort(source, kind="stable")]
            self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
            self.width = self.k * int(self.sizes.max())

    def resample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """size two-stage resamples -> histograms (size, D) on the grid (float) and runs in each (size,)."""
        rows = np.arange(size)[:, None, None] * self.n_grid
        if self.use_histograms:
            chosen = rng.multinomial(self.k, np.full(self.k, 1.0 / self.k), size=size)  # (size, K)
            draws = rng.multinomial(chosen * self.sizes, self.probs)  # (size, K, Dmax)
            flat, weights, totals = (rows + self.cols[None]).reshape(-1), draws.reshape(-1), chosen @ self.sizes
        else:
            chosen = rng.integers(0, self.k, size=(size, self.k))  # (size, K) sources drawn
            n_c = self.sizes[chosen]
            n_max = int(self.sizes.max())
            first = self.starts[chosen][..., None]
            if np.all(self.sizes == n_max):  # equal sources (the study's design): no padding
                flat = (rows + self.by_source[first + rng.integers(0, n_max, (size, self.k, n_max))]).reshape(-1)
            else:
                within = np.floor(rng.random((size, self.k, n_max)) * n_c[..., None]).astype(np.int64)
                within = np.minimum(within, n_c[..., None] - 1)
                keep = np.arange(n_max) < n_c[..., None]  # slots past a source's size are padding
                flat = (rows + self.by_source[first + within])[keep]
            weights, totals = None, n_c.sum(axis=1)
        hist = np.bincount(flat, weights=weights, minlength=size * self.n_grid).reshape(size, self.n_grid)
        return hist.astype(float, copy=False), totals


def _source_means(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Mean of each source's runs, shape (K,), sources in sorted label order."""
    _, source = np.unique(groups, return_inverse=True)
    source = source.reshape(-1)
    return np.bincount(source, weights=values) / np.bincount(source)


def cluster_se(values, groups) -> float | None:
    """Cluster-robust standard error of the mean of all runs; values, groups shape (n,).

    Var = K/(K-1) * sum_c (n_c/N)^2 (mean_c - mean)^2: for balanced clusters the variance of the K cluster
    means over K. None with a single cluster (the between-source spread cannot be estimated).
    """
    x = _as_1d(values, "values")
    g = _as_groups(groups, x.size)
    _, source = np.unique(g, return_inverse=True)
    source = source.reshape(-1)
    sizes = np.bincount(source)
    k = sizes.size
    if k < 2:
        return None
    means = np.bincount(source, weights=x) / sizes
    weights = sizes / sizes.sum()
    var = k / (k - 1) * np.sum(weights**2 * (means - x.mean()) ** 2)
    return float(math.sqrt(var))


def design_effect(groups, icc: float | None) -> float | None:
    """Kish's design effect of the mean of all runs: 1 + (m - 1) ICC, groups shape (n,).

    m is the size-weighted mean number of runs per source, sum_c n_c^2 / N, which is R for K sources of R
    runs each; with unequal sources it is the m that makes Var(mean) = (sigma^2 / N) (1 + (m - 1) ICC) exact
    under the one-way random-effects model (the plain mean size would understate it). n / design_effect is
    the number of independent runs the arm is worth.

    Why the formula and not the empirical ratio cluster_se^2 / (s^2 / n): the ratio of two noisy variances
    from K cluster means can fall below 1 or swing widely with few sources, whereas the formula is bounded in
    [1, m], uses the same ICC that is reported next to it, and is what the protocol quotes.
    1.0 when every source holds one run (nothing is shared); None when icc is None otherwise.
    """
    g = np.asarray(groups)
    _, counts = np.unique(g, return_counts=True)
    m = float(np.sum(counts.astype(float) ** 2) / g.size)
    if m == 1.0:
        return 1.0
    if icc is None:
        return None
    return float(1.0 + (m - 1.0) * icc)


def _nested_keys(x: np.ndarray, groups: np.ndarray | None) -> dict:
    """n_sources, icc, design_effect, n_effective of runs x (n,) with source labels groups (n,) or None.

    - groups None: the runs are independent by design: n_sources None, icc None, design_effect 1.0,
      n_effective n;
    - one source: n_sources 1; icc, design_effect and n_effective None (how much the mean would move with
      another source model cannot be estimated from one: every interval is conditional on that source);
    - K > 1 sources: icc from :func:`variance_components`, design_effect from :func:`design_effect`,
      n_effective = n / design_effect (None where the ICC is undefined, e.g. all runs equal).
    """
    if groups is None:
        return {"n_sources": None, "icc": None, "design_effect": 1.0, "n_effective": float(x.size)}
    vc = variance_components(x, groups)
    if vc["n_groups"] == 1:
        return {"n_sources": 1, "icc": None, "design_effect": None, "n_effective": None}
    deff = design_effect(groups, vc["icc"])
    return {
        "n_sources": vc["n_groups"],
        "icc": vc["icc"],
        "design_effect": deff,
        "n_effective": None if deff is None else float(x.size / deff),
    }


def nested_mean_ci(
    values, groups, *, seed: int, confidence: float = 0.95, n_resamples: int = 9999
) -> dict:
    """{mean, ci_low, ci_high, se}: the mean of all runs, values and groups shape (n,), and its CI at the
    source-model level.

    se is the SD of the means of B two-stage resamples (sources with replacement, then runs within each)
    times sqrt(K/(K-1)); the interval is mean -+ t_{K-1} se.

    Why not the percentile interval of the same resamples: with few sources it covers too rarely (91-92%
    at K = 5 in the simulation of tests/test_stats_nested.py), for two reasons the t interval fixes. A
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
    _check_confidence(confidence)
    x = _as_1d(values, "values")
    g = _as_groups(groups, x.size)
    mean = _exact_mean(x)
    k = np.unique(g).size
    if k < 2 or n_resamples < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "se": None}
    if np.ptp(x) == 0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "se": 0.0}
    grid, index = np.unique(x, return_inverse=True)
    sources = _Sources(index.reshape(-1), g, grid.size)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start, size in _chunks(n_resamples, max(sources.width, grid.size)):
        hist, totals = sources.resample(size, rng)
        means[start : start + size] = hist @ grid / totals
    se = float(np.std(means, ddof=1) * math.sqrt(k / (k - 1)))
    if se == 0.0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "se": 0.0}
    low, high = _t_interval(mean, se, k - 1, confidence)
    return {"mean": mean, "ci_low": low, "ci_high": high, "se": se}

# ----------------------------------------------------------------------------- source models


def variance_components(values, groups) -> dict:
    """One-way random-effects ANOVA of repeats nested in source models; values, groups shape (N,).

    Keys: n_groups, n_per_group (mean group size), between_var, within_var, total_var, icc.
    Method of moments: within_var = MSW, between_var = max(0, (MSB - MSW) / n0) with
    n0 = (N - sum n_i^2 / N) / (G - 1) (unbalanced groups allowed), total_var = between + within,
    icc = between / total (the share of run-to-run variance due to the source model).

    - one group: the between-source variance cannot be estimated; between_var is reported as 0.0
      and icc is None.
    - every group holds a single run: within_var, between_var and icc are None and total_var
      is the plain sample variance (the two components cannot be separated).
    - icc is None when total_var is 0.
    """
    x = _as_1d(values, "values")
    g = np.asarray(groups)
    if g.shape != x.shape:
        raise ValueError(f"groups shape {g.shape} does not match values shape {x.shape}")
    labels, index = np.unique(g, return_inverse=True)
    index = index.reshape(-1)
    n_total, n_groups = x.size, labels.size
    order = np.argsort(index, kind="stable")
    sizes = np.bincount(index, minlength=n_groups)
    members = np.split(x[order], np.cumsum(sizes)[:-1])
    sizes = sizes.astype(float)
    group_means = np.array([_exact_mean(m) for m in members])
    ss_within = sum(_sum_sq(m) for m in members)
    base = {"n_groups": int(n_groups), "n_per_group": float(n_total / n_groups)}

    if n_total == n_groups:
        total = float(np.var(x, ddof=1)) if n_total > 1 else None
        return {**base, "between_var": None, "within_var": None, "total_var": total, "icc": None}
    within = ss_within / (n_total - n_groups)
    if n_groups == 1:
        return {**base, "between_var": 0.0, "within_var": within, "total_var": within, "icc": None}
    spread = 0.0 if np.ptp(group_means) == 0 else np.sum(sizes * (group_means - x.mean()) ** 2)
    ms_between = float(spread) / (n_groups - 1)
    n0 = (n_total - np.sum(sizes**2) / n_total) / (n_groups - 1)
    between = max(0.0, float((ms_between - within) / n0))
    total = between + within
    return {
        **base,
        "between_var": between,
        "within_var": within,
        "total_var": total,
        "icc": between / total if total > 0 else None,
    }


def _py(value):
    """numpy scalar -> plain Python scalar, so group labels serialise to JSON."""
    return value.item() if isinstance(value, np.generic) else value


def rank_arms_per_group(
    accuracies_by_arm: Mapping[str, np.ndarray], groups_by_arm: Mapping[str, np.ndarray]
) -> list[dict]:
    """Best arm per source model; each arm's accuracies and groups have shape (R_arm,).

    Returns [{"group": g, "best_arm": name, "means": {arm: mean}}], groups in sorted order.
    Shows whether the ranking of arms flips between source models. An arm missing from
    ``groups_by_arm`` (e.g. standalone, which uses no source) or without runs in group g is
    left out of that group. Ties for best go to the arm listed first.
    """
    per_arm: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, values in accuracies_by_arm.items():
        if name not in groups_by_arm:
            continue
        x = _as_1d(values, f"accuracies of {name!r}")
        g = np.asarray(groups_by_arm[name])
        if g.shape != x.shape:
            raise ValueError(f"groups of {name!r} have shape {g.shape}, accuracies {x.shape}")
        per_arm[name] = (x, g)
    all_groups = sorted({_py(v) for _, g in per_arm.values() for v in g})
    rows = []
    for group in all_groups:
        means = {
            name: _exact_mean(x[g == group]) for name, (x, g) in per_arm.items() if np.any(g == group)
        }
        best = max(means, key=means.__getitem__)  # max keeps the first of equal means
        rows.append({"group": group, "best_arm": best, "means": means})
    return rows
