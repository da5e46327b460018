"""How well a transferability score orders source models by what they really gave: rank agreement with CIs.

For one transfer arm, the truth is each source model's realised mean test accuracy over its runs, and a score
(`stats.transferability`) is one number per source model. `agreement` gives, per score:

- ``rho``: Spearman's rank correlation between score and realised mean;
- ``tau``: the weighted Kendall tau (`scipy.stats.weightedtau`, hyperbolic weights, rank by both orders),
  which weighs agreement among the top-ranked source models most, as a user picking one source cares (in the
  resamples the same statistic, vectorised: `weighted_tau_rows`);
- a CI of each from the two-stage resampling over source models (the one core, `resample`): stage 1 draws K
  source models with replacement, stage 2 each drawn source's runs with replacement, and the statistic is
  recomputed on the drawn sources, a source drawn m times counting m times (with the mean of its pooled
  drawn runs: the histogram of a resample does not tell its copies apart);
- with a ``reference`` score (the logistic probe, in a run's summary), ``rho_diff``: the score's rho minus the
  reference's, with a paired CI from the same resamples;
- ``top_pick_in_top``: whether the source the score ranks first is truly among the best `top_share` (10%) of
  the sources by realised mean (ties in the score split evenly), ``top_pick_rank`` that source's rank by
  realised mean (1 = best), and ``top_pick_rate``: how often this holds over the resamples.

Percentile intervals; a statistic that is undefined in a resample (a constant score) is left out of its
interval, and one undefined everywhere is None. The resampling is seeded by name: `statistic_seed(root,
"transferability", arm)`, one stream per arm shared by every score, so the scores are compared on the very
same resamples.

Shapes: N runs of the arm, K source models, S scores, B resamples, b resamples in a chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil
from typing import Any

import numpy as np

from blobs_transfer.seeds import statistic_rng
from blobs_transfer.stats.common import opt_float
from blobs_transfer.stats.exact_means import realised_means, resampled_means, whole_counts
from blobs_transfer.stats.nested import source_means
from blobs_transfer.stats.resample import Draw, Sample, Stream, resample

TOP_SHARE = 0.1


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1 = smallest) along the last axis of x (K,) or (b, K), ties sharing their mean rank (as
    scipy's rankdata, vectorised over rows)."""
    x = np.asarray(x, dtype=float)
    rows = np.atleast_2d(x)
    b, k = rows.shape
    order = np.argsort(rows, axis=1, kind="stable")
    s = np.take_along_axis(rows, order, axis=1)
    start = np.ones((b, k), dtype=bool)
    start[:, 1:] = s[:, 1:] != s[:, :-1]
    tie = np.cumsum(start.reshape(-1)) - 1  # a run of equal values in a row, numbered across rows
    position = np.tile(np.arange(1.0, k + 1.0), b)
    mean = np.bincount(tie, weights=position) / np.bincount(tie)
    ranks = np.empty((b, k))
    np.put_along_axis(ranks, order, mean[tie].reshape(b, k), axis=1)
    return ranks.reshape(x.shape)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of x, y (b, K) -> (b,), NaN where a row is constant."""
    rx, ry = _ranks(x), _ranks(y)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(rx * ry, axis=-1) / np.sqrt(np.sum(rx * rx, axis=-1) * np.sum(ry * ry, axis=-1))


def weighted_tau(x: np.ndarray, y: np.ndarray) -> float:
    """scipy.stats.weightedtau(x, y) (K,) -> NaN where undefined."""
    from scipy.stats import weightedtau

    with np.errstate(invalid="ignore", divide="ignore"):
        return float(weightedtau(x, y).statistic)


def _hyperbolic_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 / (r + 1) for each entry's rank r (0 first) in decreasing lexicographic order by (x, y), rows (b, K)."""
    order = np.lexsort((y, x), axis=-1)[:, ::-1]
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(x.shape[1]), order.shape), axis=-1)
    return 1.0 / (rank + 1.0)


def weighted_tau_rows(x: np.ndarray, y: np.ndarray, block: int = 64) -> np.ndarray:
    """scipy.stats.weightedtau(x_r, y_r) (defaults: hyperbolic weigher, rank=True, the mean of the taus ranked by
    (x, y) and by (y, x)) of each row pair of x, y (b, K) -> (b,), vectorised (the same numbers, tested; scipy's
    takes half a millisecond a call). NaN where a row is constant.

    A pair weighs w_i + w_j, so with c_i = sum_j sgn(x_i - x_j) sgn(y_i - y_j) and t_i the entries equal to x_i
    (u_i to y_i), tau = sum w c / sqrt(sum w (K - t) sum w (K - u)) (tau-b's form: ties count as in scipy). Rows
    in blocks: memory b_block x K x K."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], block):
        xs, ys = x[start : start + block], y[start : start + block]
        # the signs as comparisons counted, not as a float product summed: the same integers, 2.4x faster
        gx, lx = xs[:, :, None] > xs[:, None, :], xs[:, :, None] < xs[:, None, :]
        gy, ly = ys[:, :, None] > ys[:, None, :], ys[:, :, None] < ys[:, None, :]
        c = (
            np.count_nonzero(gx & gy, axis=2)
            + np.count_nonzero(lx & ly, axis=2)
            - np.count_nonzero(gx & ly, axis=2)
            - np.count_nonzero(lx & gy, axis=2)
        ).astype(float)
        free_x, free_y = np.count_nonzero(gx | lx, axis=2), np.count_nonzero(gy | ly, axis=2)
        taus = []
        for w in (_hyperbolic_weights(xs, ys), _hyperbolic_weights(ys, xs)):
            with np.errstate(invalid="ignore", divide="ignore"):
                taus.append(np.sum(w * c, axis=1) / np.sqrt(np.sum(w * free_x, axis=1) * np.sum(w * free_y, axis=1)))
        out[start : start + block] = (taus[0] + taus[1]) / 2.0
    return out


def top_pick_hits(x: np.ndarray, y: np.ndarray, share: float = TOP_SHARE) -> np.ndarray:
    """Per row of x (scores), y (realised means) (b, K) -> (b,): the share of the row's top-scored entries (all
    tied at the top score) whose y is among the top ceil(share K) values of y (ties at that value count as in)."""
    k = x.shape[-1]
    cut = np.sort(y, axis=-1)[..., k - max(1, ceil(share * k))][..., None]
    top = x >= x.max(axis=-1, keepdims=True)
    return np.sum(top & (y >= cut), axis=-1) / np.sum(top, axis=-1)


def _expanded(draw: Draw, onehot: np.ndarray, accuracy: np.ndarray, sizes: np.ndarray, n_test: int | None = None):
    """A chunk's drawn sources, each as often as drawn: (src (b, K) source positions, means (b, K_sources) of
    each source's pooled drawn runs). onehot (N, K) the runs' sources, accuracy (N,) (whole counts of correct
    rows where n_test is given: the means are then exact fractions, `exact_means`), sizes (K,) runs per source."""
    hist = draw.hist()  # (b, N): how often each run was drawn
    counts = hist @ onehot
    if n_test is None:
        sums = hist @ (onehot * accuracy[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
    else:
        means = resampled_means(hist, onehot, accuracy, n_test)
    times = np.rint(counts / sizes).astype(np.int64)  # a drawn source brings all its runs' worth of draws
    b, k = times.shape
    src = np.repeat(np.tile(np.arange(k), b), times.reshape(-1)).reshape(b, k)
    return src, means


def agreement(
    scores: Mapping[str, np.ndarray],
    labels: np.ndarray,
    accuracy: np.ndarray,
    groups: np.ndarray,
    *,
    seed: int,
    arm: str,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    top_share: float = TOP_SHARE,
    reference: str | None = None,
    n_test: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Per score (dict order): rho, tau, their CIs, and the top pick's rank, hit and hit rate (see the module);
    with `reference` (a score's name) also ``rho_diff``, rho minus the reference score's rho, and its CI from the
    same resamples (paired: both scores ranked the same drawn sources).

    scores[s]: (K_all,) one value per source label in `labels` (K_all,); accuracy, groups (N,): the arm's
    finished runs and their source labels (every label in groups must be in labels). seed: the study's root
    seed; the resamples come from `statistic_rng(seed, "transferability", arm)`. n_test: the test rows of a run,
    where each accuracy is a count out of them: the realised means are then exact fractions, in the point
    estimates and in every resample, so that equal means tie (`exact_means`; averaged as floats, 1219 correct
    of 1500 in two ways gives two different means)."""
    labels = np.asarray(labels).reshape(-1)
    accuracy = np.asarray(accuracy, dtype=float).reshape(-1)
    groups = np.asarray(groups).reshape(-1)
    if n_test is None:
        present, means = source_means(accuracy, groups)
    else:
        accuracy = whole_counts(accuracy, n_test)
        present, means = realised_means(accuracy, n_test, groups)
    position = {int(label): i for i, label in enumerate(labels)}
    if present.size < 3 or any(int(g) not in position for g in present):
        raise ValueError("agreement needs runs from at least 3 source models, each with a score")
    where = np.array([position[int(g)] for g in present])
    names = list(scores)
    x = np.stack([np.asarray(scores[s], dtype=float).reshape(-1)[where] for s in names])  # (S, K)
    _, source = np.unique(groups, return_inverse=True)
    k = present.size
    onehot = np.zeros((groups.size, k))
    onehot[np.arange(groups.size), source.reshape(-1)] = 1.0
    sizes = onehot.sum(axis=0)

    def statistic(draw: Draw) -> np.ndarray:
        src, m = _expanded(draw, onehot, accuracy, sizes, n_test)
        y = np.take_along_axis(m, src, axis=1)
        out = np.empty((src.shape[0], 3 * len(names)))
        for j in range(len(names)):
            xs = x[j][src]
            out[:, 3 * j] = spearman_rows(xs, y)
            out[:, 3 * j + 1] = weighted_tau_rows(xs, y)
            out[:, 3 * j + 2] = top_pick_hits(xs, y, top_share)
        return out

    sample = Sample(np.arange(groups.size), groups.size, groups)
    draws = resample(statistic, n_resamples, Stream(sample, statistic_rng(seed, "transferability", arm)))
    tail = 50.0 * (1.0 - confidence)

    def interval(values: np.ndarray) -> list[float | None]:
        values = values[np.isfinite(values)]
        return [opt_float(v) for v in np.percentile(values, [tail, 100.0 - tail])] if values.size else [None, None]

    out = {}
    for j, name in enumerate(names):
        top = x[j] >= x[j].max()
        order = _ranks(-means)  # 1 = best realised mean
        row = {"rho": opt_float(spearman_rows(x[j], means)), "tau": opt_float(weighted_tau(x[j], means))}
        for key, col in (("rho", 3 * j), ("tau", 3 * j + 1)):
            row[f"{key}_ci"] = interval(draws[:, col])
        if reference is not None:
            r = names.index(reference)
            ref = spearman_rows(x[r], means)
            row["rho_diff"] = opt_float(spearman_rows(x[j], means) - ref)
            row["rho_diff_ci"] = interval(draws[:, 3 * j] - draws[:, 3 * r])
        row.update(
            top_pick_rank=float(np.mean(order[top])),
            top_pick_in_top=float(top_pick_hits(x[j], means, top_share)),
            top_pick_rate=opt_float(np.mean(draws[:, 3 * j + 2])),
            n_sources=int(k),
        )
        out[name] = row
    return out
