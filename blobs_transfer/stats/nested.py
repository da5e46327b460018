"""Runs nested in source models, in closed form: cluster SE, design effect, variance components, best arm per source.

The source model is the unit of replication: a transfer arm's K x R runs share K starting points, and with an
intra-class correlation (ICC) about 0.97 they carry about K independent observations. These are the numbers
that say so, without resampling (the resampled intervals are in `arm` and `compare`).
Shapes: N runs, K sources.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from blobs_transfer.stats.common import (
    as_1d,
    as_groups,
    exact_mean,
    sum_sq,
)
from blobs_transfer.stats.resample import cluster_variance


def source_means(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels (K,) sorted, means (K,)): the mean of each source model's runs (its realised mean, where values
    are accuracies); values, groups (N,). The one place the study averages runs per source."""
    labels, source = np.unique(np.asarray(groups).reshape(-1), return_inverse=True)
    sums = np.bincount(source, weights=np.asarray(values, dtype=float).reshape(-1), minlength=labels.size)
    return labels, sums / np.bincount(source, minlength=labels.size)


def cluster_se(values, groups) -> float | None:
    """Cluster-robust standard error of the mean of all runs; values, groups shape (n,).

    Var = K/(K-1) * sum_c (n_c/N)^2 (mean_c - mean)^2: for balanced clusters the variance of the K cluster
    means over K. None with a single cluster (the between-source spread cannot be estimated).
    """
    x = as_1d(values, "values")
    g = as_groups(groups, x.size)
    if np.unique(g).size < 2:
        return None
    return float(math.sqrt(cluster_variance(x, g)))


def design_effect(groups, icc: float | None) -> float | None:
    """Kish's design effect of the mean of all runs: 1 + (m - 1) ICC, groups shape (n,).

    m is the size-weighted mean number of runs per source, sum_c n_c^2 / N, which is R for K sources of R
    runs each; with unequal sources it is the m that makes Var(mean) = (sigma^2 / N) (1 + (m - 1) ICC) exact
    under the one-way random-effects model (the plain mean size would understate it). n / design_effect is
    the number of independent runs the arm is worth.

    Why the formula and not the empirical ratio cluster_se^2 / (s^2 / n): the ratio of two noisy variances
    from K cluster means can fall below 1 or swing widely with few sources, whereas the formula is bounded in
    [1, m] and uses the same ICC that is reported next to it.
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


def nested_keys(x: np.ndarray, groups: np.ndarray | None) -> dict:
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
    x = as_1d(values, "values")
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
    group_means = np.array([exact_mean(m) for m in members])
    ss_within = sum(sum_sq(m) for m in members)
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
        x = as_1d(values, f"accuracies of {name!r}")
        g = np.asarray(groups_by_arm[name])
        if g.shape != x.shape:
            raise ValueError(f"groups of {name!r} have shape {g.shape}, accuracies {x.shape}")
        per_arm[name] = (x, g)
    all_groups = sorted({_py(v) for _, g in per_arm.values() for v in np.unique(g)})
    rows = []
    for group in all_groups:
        means = {name: exact_mean(x[g == group]) for name, (x, g) in per_arm.items() if np.any(g == group)}
        best = max(means, key=means.__getitem__)  # max keeps the first of equal means
        rows.append({"group": group, "best_arm": best, "means": means})
    return rows
