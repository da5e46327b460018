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
    """scipy.stats.weightedtau(x, y).statistic (hyperbolic weigher, rank=True, additive) of x, y (K,), NaN where
    undefined: scipy's algorithm (Vigna 2015: ties counted in one pass, discordances by a merge sort) step for
    step, so the same floating-point sums and the same last bit (tested), without importing scipy.stats on the
    commands' path. The mean of the two orders' taus."""
    x, y = np.asarray(x, dtype=float).reshape(-1), np.asarray(y, dtype=float).reshape(-1)
    if x.size == 0:
        return float("nan")
    return float((_ranked_tau(x, y) + _ranked_tau(y, x)) / 2)


def _ranked_tau(x: np.ndarray, y: np.ndarray) -> float:
    """One order of scipy's weighted tau: each entry weighted 1 / (1 + r), r its rank (0 first) in decreasing
    lexicographic order by (x, y)."""
    n = x.size
    perm = [int(i) for i in np.lexsort((y, x))]
    rank = [0] * n
    for r, i in enumerate(reversed(perm)):
        rank[i] = r
    xs, ys = x.tolist(), y.tolist()

    def weight(i: int) -> float:
        return 1.0 / (1 + rank[i])

    def ties(same) -> tuple[float, int]:
        """The additive weight of tied pairs of consecutive runs where `same(a, b)`, and the last run's start."""
        first, total, run = 0, 0.0, weight(perm[0])
        for i in range(1, n):
            if not same(perm[first], perm[i]):
                total += run * (i - first - 1)
                first, run = i, 0.0
            run += weight(perm[i])
        return total + run * (n - first - 1), first

    t, _ = ties(lambda a, b: xs[a] == xs[b] and ys[a] == ys[b])
    u, first = ties(lambda a, b: xs[a] == xs[b])
    if first == 0:
        return float("nan")
    exchanges = 0.0
    temp = [0] * n

    def weigh(offset: int, length: int) -> float:
        nonlocal exchanges
        if length == 1:
            return weight(perm[offset])
        left = length // 2
        middle = offset + left
        residual = weigh(offset, left)
        total = weigh(middle, length - left) + residual
        if ys[perm[middle - 1]] < ys[perm[middle]]:
            return total
        i = j = k = 0
        while j < left and k < length - left:
            if ys[perm[offset + j]] <= ys[perm[middle + k]]:
                temp[i] = perm[offset + j]
                residual -= weight(temp[i])
                j += 1
            else:
                temp[i] = perm[middle + k]
                exchanges += weight(temp[i]) * (left - j) + residual
                k += 1
            i += 1
        perm[offset + i : offset + i + left - j] = perm[offset + j : offset + left]
        perm[offset : offset + i] = temp[0:i]
        return total

    weigh(0, n)
    v, first = ties(lambda a, b: ys[a] == ys[b])
    if first == 0:
        return float("nan")
    s = 0.0
    for i in range(n):
        s += weight(perm[i])
    tot = s * (n - 1)
    tau = ((tot - (v + u - t)) - 2.0 * exchanges) / np.sqrt(tot - u) / np.sqrt(tot - v)
    return min(1.0, max(-1.0, float(tau)))


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


def _pearson_of_ranks(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Spearman's rho from the average ranks rx, ry (..., K) (`spearman_rows` after its ranking)."""
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(rx * ry, axis=-1) / np.sqrt(np.sum(rx * rx, axis=-1) * np.sum(ry * ry, axis=-1))


def _tau_from_counts(c, free_x, free_y, rank_xy, rank_yx) -> np.ndarray:
    """`weighted_tau_rows`' last step, from its counts (..., K) and each entry's rank (0 first) in decreasing
    lexicographic order by (x, y) and by (y, x) (summed along the last axis, each row as `weighted_tau_rows`)."""
    taus = []
    for rank in (rank_xy, rank_yx):
        w = 1.0 / (rank + 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            taus.append(np.sum(w * c, axis=-1) / np.sqrt(np.sum(w * free_x, axis=-1) * np.sum(w * free_y, axis=-1)))
    return (taus[0] + taus[1]) / 2.0


def drawn_statistics(
    x: np.ndarray, means: np.ndarray, src: np.ndarray, share: float = TOP_SHARE, block: int = 16
) -> np.ndarray:
    """(b, S, 3): Spearman's rho, the weighted tau and the top-pick hit of each score x (S, K) against the
    resampled means (b, K) on each resample's drawn entries src (b, K) (source positions, nondecreasing in a
    row, each as often as drawn): `spearman_rows`, `weighted_tau_rows` and `top_pick_hits` of (x[s][src],
    take_along_axis(means, src, axis=1)), the same numbers to the last bit (tested), without a K x K table per
    score and resample.

    Every count of an entry (`weighted_tau_rows`' c, the entries tied with it, the entries before it in either
    lexicographic order, its average rank) is an integer sum over the K sources weighted by how often each was
    drawn. Those that compare the scores alone are running sums in each score's order; those that compare the
    drawn means too are matrix products of the drawn means' comparisons, shared by all scores, with each
    score's fixed comparisons (S, K, K): exact in float32 (below 2^24). Two tables of the drawn means per
    resample, the drawn sources below (G) and tied with (E) each source, carry every product (`_drawn_block`).
    Rows in blocks: memory block x K x K."""
    x = np.asarray(x, dtype=float)
    k = src.shape[1]
    # each score's comparisons of source u with source v, (S, u, v)
    less_x = (x[:, None, :] < x[:, :, None]).astype(np.float32)  # x_v < x_u
    sign_x = less_x - (x[:, None, :] > x[:, :, None])  # sgn(x_u - x_v)
    eq_x = (x[:, None, :] == x[:, :, None]).astype(np.float32)
    eq_before = eq_x * np.tri(k, k, -1, dtype=np.float32)  # and v earlier than u

    def per_u(*tables: np.ndarray) -> np.ndarray:
        """(u, v, S columns per table + 1): the tables side by side, each as (u, v, s), and a column of ones."""
        return np.ascontiguousarray(
            np.concatenate([t.transpose(1, 2, 0) for t in tables] + [np.ones((k, k, 1), np.float32)], axis=2)
        )

    # each score's order, and where each source's run of equal scores starts and ends in it (S, K)
    order = np.argsort(x, axis=1, kind="stable")
    ordered = np.take_along_axis(x, order, axis=1)
    lo, hi = np.empty((2,) + x.shape, dtype=np.int64)
    for j in range(x.shape[0]):
        lo[j, order[j]] = np.searchsorted(ordered[j], ordered[j], side="left")
        hi[j, order[j]] = np.searchsorted(ordered[j], ordered[j], side="right")
    fixed = {
        "below": per_u(sign_x, eq_x),  # times G: sum_v [y_v < y_u] n_v (sgn(x_u - x_v), [x_v = x_u], 1)
        "tied": per_u(sign_x, eq_before, less_x),  # times E: the same with [y_v = y_u]
        "order": order,
        "lo": lo,
        "hi": hi,
    }
    out = np.empty((src.shape[0], x.shape[0], 3))
    for start in range(0, src.shape[0], block):
        rows = slice(start, start + block)
        out[rows] = _drawn_block(x, np.asarray(means, dtype=float)[rows], src[rows], share, fixed)
    return out


def _drawn_block(x, means, src, share, fixed) -> np.ndarray:
    """`drawn_statistics` of one block of rows, with the scores' comparisons `fixed`.

    With n_v how often source v was drawn, G[u, v] = [y_v < y_u] n_v and E[u, v] = [y_v = y_u] n_v (an undrawn
    source's mean is NaN and its n_v is 0: it counts nowhere), each table's product with the fixed comparisons
    gives, for every source u, sum_v G sgn(x_u - x_v) and so on; sgn(y_u - y_v) n_v = 2 G + E - n_v. The sums
    of n_v over sources whose score is below or equal to x_u are running sums of n in the score's order."""
    b, k = src.shape
    n_scores = x.shape[0]
    cnt = np.zeros((b, k))
    np.add.at(cnt, (np.repeat(np.arange(b), k), src.reshape(-1)), 1.0)
    first = (np.cumsum(cnt, axis=1) - cnt).astype(np.int64)  # each source's first position in its row
    occurrence = np.arange(k)[None, :] - np.take_along_axis(first, src, axis=1)  # earlier copies of the same
    drawn = cnt.astype(np.float32)
    column = means.T[:, :, None]  # (u, b, 1)
    with np.errstate(invalid="ignore"):
        below = np.multiply(means < column, drawn, dtype=np.float32)  # G (u, b, v)
        tied = np.multiply(means == column, drawn, dtype=np.float32)  # E (u, b, v)
    at = (src, np.arange(b)[:, None])  # each drawn entry's source u and its row: (b, K) per column
    # (b, columns, K), C-ordered: every sum along K below then runs as `weighted_tau_rows`' does, to the bit
    g = np.ascontiguousarray(np.moveaxis((below @ fixed["below"])[at], 2, 1), dtype=np.float64)  # (b, 2 S + 1, K)
    e = np.ascontiguousarray(np.moveaxis((tied @ fixed["tied"])[at], 2, 1), dtype=np.float64)  # (b, 3 S + 1, K)
    # sum_v n_v [x_v < x_u] and sum_v n_v [x_v = x_u] at each drawn entry (b, S, K), from running sums
    running = np.zeros((b, n_scores, k + 1))
    np.cumsum(cnt[:, fixed["order"]], axis=2, out=running[:, :, 1:])
    rows, scores = np.arange(b)[:, None, None], np.arange(n_scores)[None, :, None]
    below_x = running[rows, scores, fixed["lo"][:, src].transpose(1, 0, 2)]
    x_ties = running[rows, scores, fixed["hi"][:, src].transpose(1, 0, 2)] - below_x
    sign_sum = 2.0 * below_x + x_ties - k  # sum_v n_v sgn(x_u - x_v): below less above
    s1, s2 = slice(n_scores, 2 * n_scores), slice(2 * n_scores, 3 * n_scores)
    y = np.take_along_axis(means, src, axis=1)
    out = np.empty((b, n_scores, 3))
    out[:, :, 0] = _pearson_of_ranks(below_x + (x_ties + 1.0) / 2.0, _ranks(y)[:, None, :])
    before = e[:, s1] + occurrence[:, None, :]  # entries with both values equal, earlier
    below_xy = below_x + g[:, s1]  # (x_v, y_v) < (x_u, y_u)
    below_yx = g[:, -1:] + e[:, s2]  # (y_v, x_v) < (y_u, x_u)
    out[:, :, 1] = _tau_from_counts(
        2.0 * g[:, :n_scores] + e[:, :n_scores] - sign_sum,
        k - x_ties,
        (k - e[:, -1:]),
        k - 1 - (below_xy + before),
        k - 1 - (below_yx + before),
    )
    cut = np.sort(y, axis=-1)[:, k - max(1, ceil(share * k))][:, None, None]
    xs = x[:, src].transpose(1, 0, 2)  # (b, S, K)
    top = xs >= xs.max(axis=-1, keepdims=True)
    out[:, :, 2] = np.sum(top & (y[:, None, :] >= cut), axis=-1) / np.sum(top, axis=-1)
    return out


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
        return drawn_statistics(x, m, src, top_share).reshape(src.shape[0], 3 * len(names))

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
