"""Which arm is best, and how sure are we: the probability that each arm has the highest mean. Pure numpy.

The uncertainty is that of `stats.nested_mean_ci`: the source model is the unit of replication. One
resample draws K source models with replacement, then each drawn source's runs with replacement, and takes
each arm's mean over the runs drawn (the ratio estimator, as `nested_mean_ci`'s point estimate); an arm
without source models (the standalone arm) gets a plain bootstrap of its runs. P(best) of an arm is the
share of resamples in which its mean is the highest, ties (within 1e-12) split evenly, so the arms' P(best)
sum to 1.

Arms that start from the same source models (the same `pool`, e.g. the same source problem) draw the same
sources in each resample: their runs are paired through their source model, as in the study's design, so a
small difference that holds for every source model is not drowned by the large spread between source
models (ICC about 0.97; PROTOCOL.md section 7). Arms in different pools are resampled independently.

Shapes: N_a = runs of arm a; K = source models of a pool; B = resamples.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np

__all__ = ["best_arm", "p_best"]

# Means closer than this tie: 0.8 as the mean of 4 runs and of 3 differs in the last bit of a float
_TIE_TOL = 1e-12
_CHUNK_CELLS = 1 << 21  # resamples x runs drawn per chunk: bounds the memory whatever the number of runs


class _Arm:
    """One arm's runs sorted by source: values (N,), each source's start (S,) and size (S,), and for each of its
    pool's K source labels the arm's own source (K,), -1 where it has no run from that source. An arm without
    sources is a pool of its own with one source holding every run: drawing it is a plain bootstrap."""

    def __init__(self, values: np.ndarray, groups: np.ndarray | None, pool_labels: np.ndarray | None):
        if groups is None:
            self.values, self.sizes, self.position = values, np.array([values.size]), np.array([0])
        else:
            labels, source = np.unique(groups, return_inverse=True)
            source = source.reshape(-1)
            self.values = values[np.argsort(source, kind="stable")]
            self.sizes = np.bincount(source, minlength=labels.size)
            self.position = np.full(pool_labels.size, -1)
            self.position[np.searchsorted(pool_labels, labels)] = np.arange(labels.size)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])

    def resampled_means(self, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B,) means of B two-stage resamples; chosen (B, K): the pool's sources drawn (label positions).
        Each drawn source's runs are drawn with replacement, as many as it holds; NaN where none of the
        arm's sources was drawn."""
        source = self.position[chosen]  # (B, K)
        n_c = np.where(source >= 0, self.sizes[np.maximum(source, 0)], 0)  # runs to draw from each drawn source
        n_max = int(self.sizes.max())
        within = np.floor(rng.random((*source.shape, n_max)) * n_c[..., None]).astype(np.int64)
        within = np.clip(within, 0, np.maximum(n_c - 1, 0)[..., None])
        drawn = self.values[self.starts[np.maximum(source, 0)][..., None] + within]
        keep = np.arange(n_max) < n_c[..., None]  # slots past a source's size are padding
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(keep, drawn, 0.0).sum(axis=(1, 2)) / n_c.sum(axis=1)


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
    it cannot be best in that resample.
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
    pool_labels = {p: np.unique(np.concatenate([np.asarray(groups[a]).reshape(-1) for a in pool_of if pool_of[a] == p]))
                   for p in dict.fromkeys(pool_of.values())}
    arms = {a: _Arm(values[a], None if a not in pool_of else np.asarray(groups[a]).reshape(-1),
                    pool_labels.get(pool_of.get(a))) for a in names}
    rng = np.random.default_rng(seed)
    wins = np.zeros(len(names))
    width = max(arm.values.size + len(arm.sizes) for arm in arms.values())
    size = max(1, _CHUNK_CELLS // width)
    for start in range(0, n_resamples, size):
        b = min(size, n_resamples - start)
        chosen = {p: rng.integers(0, labels.size, size=(b, labels.size)) for p, labels in pool_labels.items()}
        means = np.empty((b, len(names)))
        for j, a in enumerate(names):
            c = chosen[pool_of[a]] if a in pool_of else np.zeros((b, 1), dtype=np.int64)
            means[:, j] = arms[a].resampled_means(c, rng)
        top = np.nanmax(np.where(np.isnan(means), -np.inf, means), axis=1, keepdims=True)
        is_top = means >= top - _TIE_TOL
        wins += (is_top / is_top.sum(axis=1, keepdims=True)).sum(axis=0)
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
