"""Which arm is best, and how sure are we: the probability that each arm has the highest mean.

The uncertainty is that of `arm.nested_mean_ci`: the source model is the unit of replication. One resample
draws K source models with replacement, then each drawn source's runs with replacement, and takes each arm's
mean over the runs drawn (the ratio estimator, as `nested_mean_ci`'s point estimate); an arm without source
models (the standalone arm) gets a plain bootstrap of its runs. Both come from the resampling core. P(best)
of an arm is the share of resamples in which its mean is the highest, ties (within 1e-12) split evenly, so
the arms' P(best) sum to 1.

Arms that start from the same source models (the same `pool`, e.g. the same source problem) draw the same
sources in each resample: their runs are paired through their source model, as in the study's design, so a
small difference that holds for every source model is not drowned by the large spread between source models
(ICC about 0.97). Arms in different pools are resampled independently. Every stream is seeded by name from
the root seed: a pool's sources by (pool), an arm's runs by (arm), so an arm's draws do not depend on the
order of the arms.

Shapes: N_a = runs of arm a; K = source models of a pool; B = resamples.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np

from blobs_transfer.seeds import statistic_rng
from blobs_transfer.stats.resample import Sample, Stream, mean_of, resample

__all__ = ["best_arm", "p_best"]

# Means closer than this tie: 0.8 as the mean of 4 runs and of 3 differs in the last bit of a float
_TIE_TOL = 1e-12


def p_best(
    accuracies: Mapping[str, np.ndarray],
    groups: Mapping[str, np.ndarray | None],
    *,
    seed: int,
    pools: Mapping[str, Hashable] | None = None,
    n_resamples: int = 2000,
) -> dict[str, float]:
    """P(best) of every arm (dict order), from `n_resamples` two-stage resamples.

    accuracies[a]: (N_a,) the arm's run accuracies; groups[a]: (N_a,) their source labels, or None (or
    missing) for an arm whose runs are independent. pools[a]: arms with equal pool keys share their source
    models (same labels, same models); default: every arm with groups in one pool. A resample in which an
    arm drew none of its sources (its labels are a subset of the pool's) gives it no mean there (NaN), and
    it cannot be best in that resample. seed: the study's root seed; a pool's sources are drawn from
    `statistic_seed(seed, "best arm", "sources", str(pool))`, an arm's runs from
    `statistic_seed(seed, "best arm", arm)`.
    """
    names = list(accuracies)
    if not names:
        raise ValueError("p_best needs at least one arm")
    values = {a: np.asarray(accuracies[a], dtype=float).reshape(-1) for a in names}
    for a in names:
        if values[a].size == 0:
            raise ValueError(f"arm {a!r} has no runs")
        g = groups.get(a)
        if g is not None and np.asarray(g).shape != values[a].shape:
            raise ValueError(f"groups of {a!r} have shape {np.asarray(g).shape}, accuracies {values[a].shape}")
    pool_of = {a: (pools or {}).get(a, None) for a in names if groups.get(a) is not None}
    pool_labels = {
        p: np.unique(np.concatenate([np.asarray(groups[a]).reshape(-1) for a in pool_of if pool_of[a] == p]))
        for p in dict.fromkeys(pool_of.values())
    }
    means = np.empty((n_resamples, len(names)))
    for j, a in enumerate(names):
        grid, index = np.unique(values[a], return_inverse=True)
        if a in pool_of:
            pool = pool_of[a]
            sample = Sample(index, grid.size, np.asarray(groups[a]).reshape(-1), pool=pool_labels[pool])
            sources = statistic_rng(seed, "best arm", "sources", str(pool))  # the same draws for every arm of the pool
        else:
            sample, sources = Sample(index, grid.size), None
        means[:, j] = resample(mean_of(grid), n_resamples, Stream(sample, statistic_rng(seed, "best arm", a), sources))
    top = np.max(np.where(np.isnan(means), -np.inf, means), axis=1, keepdims=True)
    is_top = means >= top - _TIE_TOL
    wins = (is_top / is_top.sum(axis=1, keepdims=True)).sum(axis=0)
    return {a: float(w / n_resamples) for a, w in zip(names, wins)}


def best_arm(
    accuracies: Mapping[str, np.ndarray],
    groups: Mapping[str, np.ndarray | None],
    *,
    seed: int,
    pools: Mapping[str, Hashable] | None = None,
    n_resamples: int = 2000,
) -> dict:
    """{"best_arm", "mean", "p_best", "p_best_by_arm"}: the arm with the highest mean of all its runs (the first
    in dict order among equal means), that mean, and its probability of being the best (`p_best`, whose
    arguments these are), with every arm's."""
    probabilities = p_best(accuracies, groups, seed=seed, pools=pools, n_resamples=n_resamples)
    means = {a: float(np.mean(np.asarray(v, dtype=float))) for a, v in accuracies.items()}
    best = max(means, key=means.__getitem__)  # max keeps the first of equal means
    return {"best_arm": best, "mean": means[best], "p_best": probabilities[best], "p_best_by_arm": probabilities}
