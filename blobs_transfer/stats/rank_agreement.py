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

import functools
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
    return _pearson_of_ranks(_ranks(x), _ranks(y))


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


def _lexicographic_ranks(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each entry's rank (0 first) in decreasing lexicographic order by (x, y), rows (b, K): its hyperbolic
    weight is 1 / (rank + 1)."""
    order = np.lexsort((y, x), axis=-1)[:, ::-1]
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(x.shape[1]), order.shape), axis=-1)
    return rank


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
        ranks = _lexicographic_ranks(xs, ys), _lexicographic_ranks(ys, xs)
        out[start : start + block] = _tau_from_counts(c, free_x, free_y, *ranks)
    return out


def top_pick_hits(x: np.ndarray, y: np.ndarray, share: float = TOP_SHARE) -> np.ndarray:
    """Per row of x (scores), y (realised means) (b, K) -> (b,): the share of the row's top-scored entries (all
    tied at the top score) whose y is among the top ceil(share K) values of y (ties at that value count as in)."""
    k = x.shape[-1]
    cut = np.sort(y, axis=-1)[..., k - max(1, ceil(share * k))][..., None]
    top = x >= x.max(axis=-1, keepdims=True)
    return np.sum(top & (y >= cut), axis=-1) / np.sum(top, axis=-1)


def _pearson_of_ranks(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Spearman's rho from the average ranks rx, ry (..., K): Pearson's correlation of the ranks, NaN where a row
    is constant."""
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(rx * ry, axis=-1) / np.sqrt(np.sum(rx * rx, axis=-1) * np.sum(ry * ry, axis=-1))


def _tau_from_counts(c, free_x, free_y, rank_xy, rank_yx) -> np.ndarray:
    """The weighted tau from its counts (..., K) (`weighted_tau_rows`' c, free_x, free_y) and each entry's rank
    (0 first) in decreasing lexicographic order by (x, y) and by (y, x): the mean of the two orders' taus, each
    entry weighted 1 / (rank + 1), summed along the last axis."""
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
    lexicographic order, its average rank by x and by y, whether it is a top pick and a hit) is an integer sum
    over the K sources weighted by how often each was drawn: `_count_kernel` counts them, exactly, and the
    floating-point steps of the row functions (`_pearson_of_ranks`, `_tau_from_counts`, the top pick's share)
    run on those counts as they run there, each row's sums in the same order. Rows in blocks: memory
    5 x block x S x K."""
    x = np.asarray(x, dtype=float)
    means = np.asarray(means, dtype=float)
    src = np.ascontiguousarray(src, dtype=np.int64)
    k = src.shape[1]
    # each score's order (stable, NaN last) and dense rank: equal scores share a rank (-0.0 and 0.0 too), and so
    # do all NaNs, last, as in a sort; a NaN's rank is the count of distinct numbers
    order = np.argsort(x, axis=1, kind="stable")
    rank = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[0]):
        rank[j] = np.unique(x[j], return_inverse=True)[1].reshape(-1)
    n_numbers = np.array([np.unique(row[~np.isnan(row)]).size for row in x], dtype=np.int64)
    cut = k - max(1, ceil(share * k))  # the top share by mean: the entries at or above the cut-th smallest
    count = _count_kernel()
    out = np.empty((src.shape[0], x.shape[0], 3))
    for start in range(0, src.shape[0], block):
        rows = slice(start, start + block)
        b = src[rows].shape[0]
        counts, per_y = np.empty((5, b, x.shape[0], k)), np.empty((2, b, 1, k))
        top = np.empty((2, b, x.shape[0]), dtype=np.int64)
        count(order, rank, n_numbers, np.ascontiguousarray(means[rows]), src[rows], cut, counts, per_y, top)
        # (b, S, K) and C-ordered as in the row functions: every sum along K runs as there, to the bit
        ranks_x, c, free_x, rank_xy, rank_yx = counts
        ranks_y, free_y = per_y
        out[rows, :, 0] = _pearson_of_ranks(ranks_x, ranks_y)
        out[rows, :, 1] = _tau_from_counts(c, free_x, free_y, rank_xy, rank_yx)
        out[rows, :, 2] = top[0] / top[1]
    return out


@functools.cache
def _count_kernel():
    """The counts of `drawn_statistics`, jitted on first use (Numba is imported only here: the package's imports
    stay light) and cached on disk beside this module.

    count(order, rank (S, K), n_numbers (S,), means (b, K), src (b, K), cut, counts (5, b, S, K), per_y
    (2, b, 1, K), top (2, b, S)): with n_v how often source v was drawn (an undrawn source's mean is NaN and its
    n_v 0: it counts nowhere), x and y a source's score and mean, for each drawn entry of source u and score:
    counts[0] its average rank by x (below_x + (x_ties + 1) / 2, with below_x = sum_v n_v [x_v < x_u] and
    x_ties = sum_v n_v [x_v = x_u] as in a sort: NaN last and equal to NaN), counts[1] c = sum_v n_v
    sgn(x_u - x_v) sgn(y_u - y_v) (a NaN compares false: its sgn is 0), counts[2] K - x_ties, counts[3] and
    counts[4] its rank (0 first) in decreasing lexicographic order by (x, y) and by (y, x), equal pairs in entry
    order; per_y[0] its average rank by y and per_y[1] K less the entries tied with it in y; per row and score,
    top[1] the entries at the top score (none where a drawn score is NaN: the maximum is NaN) and top[0] those of
    them whose mean is at or above the cut-th smallest entry's.

    Each resample puts its entries in the order of their means, so that the entries below a run of equal means
    are a bit set (K / 64 words). Each score visits the drawn sources in its order, a run of equal scores
    together, and sets their entries' bits: the entries below u in y with a lower score are a popcount of the
    bits already set, those tied with u in y a running sum per run of means (O(K^2 / 64) per resample and score,
    against K^2 for the comparisons), and counting again once u's run is in gives the ties in the score. All in
    integers: exact."""
    from numba import njit, uint64

    @njit(cache=True, nogil=True)
    def count(order, rank, n_numbers, means, src, cut, counts, per_y, top):  # pragma: no cover - compiled
        n_scores, k = rank.shape
        words = (k + 63) // 64
        # a popcount, written out (Numba has none; LLVM turns these lines into popcnt)
        one, two, four, shift = uint64(1), uint64(2), uint64(4), uint64(56)
        m1, m2 = uint64(0x5555555555555555), uint64(0x3333333333333333)
        m4, h01 = uint64(0x0F0F0F0F0F0F0F0F), uint64(0x0101010101010101)
        n, first, drawn, ys = np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k)
        # a drawn source's run of equal means (numbered by increasing mean), and a run's entries [lo, hi)
        run_of, lo, hi = np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64)
        # bit sets of the entries, in the order of the means: below each run, each source's, and those visited
        below, entries = np.zeros((k, words), np.uint64), np.zeros((k, words), np.uint64)
        bits = np.zeros(words, np.uint64)
        # per run of means: the entries below it and in it whose score is a number, and those in it visited
        valid_below, valid_in, visited = np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64)
        seq, seq_rank, seen = np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64)
        found, per = np.zeros((2, k), np.int64), np.zeros((5, k), np.int64)
        for r in range(src.shape[0]):
            n[:] = 0
            n_drawn = 0
            for i in range(k):
                u = src[r, i]
                if n[u] == 0:
                    first[u] = i
                    drawn[n_drawn] = u
                    n_drawn += 1
                n[u] += 1
            for j in range(n_drawn):
                ys[j] = means[r, drawn[j]]
            by_y = np.argsort(ys[:n_drawn])
            n_runs, slot = 0, 0
            for j in range(n_drawn):
                u = drawn[by_y[j]]
                if j == 0 or ys[by_y[j]] != ys[by_y[j - 1]]:
                    lo[n_runs] = slot
                    for w in range(words):
                        below[n_runs, w] = 0
                        if w < slot >> 6:
                            below[n_runs, w] = ~uint64(0)
                        elif w == slot >> 6:
                            below[n_runs, w] = (one << uint64(slot & 63)) - one
                    n_runs += 1
                run_of[u] = n_runs - 1
                entries[u, :] = 0
                for _ in range(n[u]):
                    entries[u, slot >> 6] |= one << uint64(slot & 63)
                    slot += 1
                hi[n_runs - 1] = slot
            for i in range(k):
                q = run_of[src[r, i]]
                per_y[0, r, 0, i] = (lo[q] + hi[q] + 1) / 2
                per_y[1, r, 0, i] = k - (hi[q] - lo[q])
            for s in range(n_scores):
                m = 0  # the drawn sources in the score's order
                for j in range(k):
                    seq[m], seq_rank[m] = order[s, j], rank[s, order[s, j]]
                    m += n[order[s, j]] > 0
                if seq_rank[m - 1] < n_numbers[s]:
                    for q in range(n_runs):
                        valid_below[q], valid_in[q] = lo[q], hi[q] - lo[q]
                else:
                    valid_in[:n_runs] = 0
                    for j in range(m):
                        if seq_rank[j] < n_numbers[s]:
                            valid_in[run_of[seq[j]]] += n[seq[j]]
                    valid_below[0] = 0
                    for q in range(1, n_runs):
                        valid_below[q] = valid_below[q - 1] + valid_in[q - 1]
                bits[:] = 0
                visited[:n_runs] = 0
                inside, a = 0, 0  # the entries below the run of scores at a
                while a < m:
                    z = a + 1
                    while z < m and seq_rank[z] == seq_rank[a]:
                        z += 1
                    weight = 0
                    for t in range(a, z):
                        weight += n[seq[t]]
                    if seq_rank[a] >= n_numbers[s]:  # NaN: every comparison false
                        for t in range(a, z):
                            v = seq[t]
                            per[1, v], per[3, v] = k - 2 * inside - weight, k - 1 - inside
                            per[4, v] = k - 1 - lo[run_of[v]]
                    elif z == a + 1:  # a score of its own (the usual case): no ties in x
                        v = seq[a]
                        q = run_of[v]
                        lt = 0  # below in y and in x
                        for w in range(words):
                            x = bits[w] & below[q, w]
                            x -= (x >> one) & m1
                            x = (x & m2) + ((x >> two) & m2)
                            lt += np.int64((((x + (x >> four)) & m4) * h01) >> shift)
                            bits[w] |= entries[v, w]
                        eq = visited[q]  # tied in y, below in x
                        visited[q] += n[v]
                        g = lt - (valid_below[q] - lt)  # sgn(x_u - x_v) summed below u in y
                        e = eq - (valid_in[q] - eq - n[v])  # and tied with u in y
                        per[1, v] = 2 * g + e - (2 * inside + weight - k)
                        per[3, v] = k - 1 - inside
                        per[4, v] = k - 1 - (lo[q] + eq)
                    else:
                        for t in range(a, z):
                            q = run_of[seq[t]]
                            lt = 0
                            for w in range(words):
                                x = bits[w] & below[q, w]
                                x -= (x >> one) & m1
                                x = (x & m2) + ((x >> two) & m2)
                                lt += np.int64((((x + (x >> four)) & m4) * h01) >> shift)
                            found[0, t], found[1, t] = lt, visited[q]
                        for t in range(a, z):
                            for w in range(words):
                                bits[w] |= entries[seq[t], w]
                            visited[run_of[seq[t]]] += n[seq[t]]
                        for t in range(a, z):  # in source order: a stable sort
                            v = seq[t]
                            q = run_of[v]
                            lt, eq = found[0, t], found[1, t]
                            lt_eq = -lt  # below in y, tied in x: counted again with the run in
                            for w in range(words):
                                x = bits[w] & below[q, w]
                                x -= (x >> one) & m1
                                x = (x & m2) + ((x >> two) & m2)
                                lt_eq += np.int64((((x + (x >> four)) & m4) * h01) >> shift)
                            eq_eq, before = visited[q] - eq, seen[q]  # tied in both; and earlier
                            seen[q] += n[v]
                            g = lt - (valid_below[q] - lt - lt_eq)
                            e = eq - (valid_in[q] - eq - eq_eq)
                            per[1, v] = 2 * g + e - (2 * inside + weight - k)
                            per[3, v] = k - 1 - (inside + lt_eq + before)
                            per[4, v] = k - 1 - (lo[q] + eq + before)
                        for t in range(a, z):
                            seen[run_of[seq[t]]] = 0
                    for t in range(a, z):
                        per[0, seq[t]], per[2, seq[t]] = 2 * inside + weight + 1, k - weight
                    inside += weight
                    a = z
                for i in range(k):
                    u = src[r, i]
                    counts[0, r, s, i] = per[0, u] / 2
                    counts[1, r, s, i] = per[1, u]
                    counts[2, r, s, i] = per[2, u]
                    counts[3, r, s, i] = per[3, u] - (i - first[u])  # less the earlier copies of u
                    counts[4, r, s, i] = per[4, u] - (i - first[u])
                top[0, r, s], top[1, r, s] = 0, 0
                if seq_rank[m - 1] < n_numbers[s]:  # the last run is the top score
                    for t in range(m - 1, -1, -1):
                        if seq_rank[t] != seq_rank[m - 1]:
                            break
                        top[1, r, s] += n[seq[t]]
                        top[0, r, s] += n[seq[t]] * (hi[run_of[seq[t]]] > cut)

    return count


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
