"""Turn per-repeat test accuracies and learning curves into honest, JSON-ready statistics.

One job: summarise arms and compare them with a baseline (PROTOCOL.md sections 5 and 7). Pure
numpy/scipy, no TensorFlow, no plotting, no file I/O. Every random quantity takes an explicit
integer ``seed``. Results are plain dicts of Python ``float``/``int``/``str``/``None`` (never numpy
scalars, never NaN) so they can go straight into ``json.dump``; where a statistic is undefined the
value is ``None`` and the docstring says when. The one exception is :func:`curve_band`, which returns
numpy arrays because it only feeds plots.

Two things shape the code below.

- **Nested runs.** The runs of a transfer arm are nested in source models (K sources x R runs each) and
  nearly all of their variance is between sources (ICC about 0.97), so the source model, not the run, is
  the unit of replication. Pass ``groups`` (the source index of each run) to :func:`describe` and
  :func:`compare_arms` and their intervals and the verdict's test work at the source level; without it,
  runs are treated as independent, exactly as before (same numbers for the same seed).
- **Scale.** A command can hold 20,000+ runs. A bootstrap never holds a resamples-by-runs matrix: a
  resample of n runs from a sample with D distinct values is one multinomial draw on its histogram
  (accuracies are counts out of n_test, so D <= n_test + 1), the mean of a resample is a dot product,
  A12 of two histograms is a cumulative sum, and BCa's jackknife needs one leave-one-out value per
  distinct value. Samples with many distinct values (e.g. a curve's area) are resampled by index in
  chunks of bounded size. Small problems (runs x resamples <= ``_EXACT_CELLS``) still go through
  ``scipy.stats.bootstrap`` so their numbers are bit-for-bit what they always were; above that, the
  histogram path's intervals differ from scipy's only by Monte Carlo error (tests/test_stats_nested.py
  bounds it).

Shapes: R = repeats of an arm, E = training epochs, N = number of runs, G (or K) = number of groups
(source models), D = number of distinct values of a sample, B = bootstrap resamples.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
from scipy import special
from scipy import stats as st

__all__ = [
    "describe",
    "nested_describe",
    "nested_compare",
    "nested_mean_ci",
    "cluster_se",
    "design_effect",
    "binomial_se",
    "holm",
    "compare_to_baseline",
    "compare_arms",
    "curve_band",
    "transfer_benefits",
    "variance_components",
    "rank_arms_per_group",
]

# Tolerance when comparing accuracies that are multiples of 1/500 with 0.95 * final accuracy:
# 0.95 * 0.8 is 0.7600000000000001 in floating point, which must still count as reached by 0.76.
_REACH_TOL = 1e-12

# Runs x resamples at or below which a bootstrap goes through scipy.stats.bootstrap exactly as before
# (at 9,999 resamples: up to 100 runs in all). scipy holds a (B, n) index matrix, a (B, n) copy of the data
# and an (n, n-1) jackknife matrix, so above this the histogram / chunked path takes over.
_EXACT_CELLS = 1_000_000
# Cells (resamples x categories or resamples x runs) per chunk of the scalable path: 16 MiB of float64.
_CHUNK_CELLS = 1 << 21
# A multinomial draw costs about this many index draws per category: with D distinct values among n runs,
# the histogram path is used when D * _MULTINOMIAL_COST < n, else runs are resampled by index in chunks.
_MULTINOMIAL_COST = 6

MWU_VERDICT = "Mann-Whitney U (tie-corrected, on correct counts)"
NESTED_VERDICT = "clustered Brunner-Munzel on A12 (source model as unit)"


# ----------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet():
    """Silence scipy inside a call whose output we check ourselves.

    scipy warns on degenerate input (constant samples, zero variance); every caller here
    detects that case explicitly and returns a fallback or None, so the warning is noise.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def _as_1d(values, name: str) -> np.ndarray:
    """Validate a non-empty, finite 1-D array (shape (n,)) and return it as float64."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one repeat")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _as_counts(values, name: str, n: int, n_test: int | None = None) -> np.ndarray:
    """Validate integer correct counts of shape (n,) matching the accuracies they belong to
    (and within 0..n_test when n_test is given)."""
    arr = _as_1d(values, name)
    if arr.shape != (n,):
        raise ValueError(f"{name} has {arr.size} entries but its accuracies have {n}")
    if not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must be integer correct counts, not accuracies")
    if n_test is not None and (arr.min() < 0 or arr.max() > n_test):
        raise ValueError(f"{name} must lie in 0..n_test={n_test}, got {arr.min():g}..{arr.max():g}")
    return arr.astype(np.int64)


def _as_groups(groups, n: int, name: str = "groups") -> np.ndarray:
    """Validate source labels of shape (n,), one per run (any sortable labels: ints or strings)."""
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"{name} has shape {g.shape} but there are {n} runs")
    return g


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _opt_float(x) -> float | None:
    """Python float, or None where the value is not finite (never leak NaN into JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _exact_mean(x: np.ndarray) -> float:
    """Mean of shape (n,), exactly the value for a constant sample (np.mean can be an ulp off,
    which would turn zero spread into 1e-33 and a ratio of two such crumbs into a bogus ICC)."""
    return float(x[0]) if np.ptp(x) == 0 else float(np.mean(x))


def _sum_sq(x: np.ndarray) -> float:
    """Sum of squared deviations from the mean of shape (n,), exactly 0 for a constant sample."""
    return 0.0 if np.ptp(x) == 0 else float(np.sum((x - x.mean()) ** 2))


def _t_interval(point: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    """point -+ t_{(1+confidence)/2, df} x se."""
    half = float(st.t.ppf((1 + confidence) / 2, df)) * se
    return point - half, point + half


def _welch_df(var_a: float, df_a: float, var_b: float, df_b: float) -> float:
    """Welch-Satterthwaite degrees of freedom of var_a + var_b, each part with its own df (> 0 when its
    variance is > 0); at least one variance must be positive."""
    den = (var_a**2 / df_a if var_a > 0 else 0.0) + (var_b**2 / df_b if var_b > 0 else 0.0)
    return (var_a + var_b) ** 2 / den


# ----------------------------------------------------------------------------- the exact (scipy) bootstrap


def _scipy_ci(
    samples: tuple[np.ndarray, ...],
    statistic: Callable,
    *,
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
    method: str = "BCa",
) -> tuple[float | None, float | None]:
    """scipy.stats.bootstrap over independent 1-D samples (shapes (n,), (m,)), BCa falling back to the
    percentile interval of the same resamples when BCa is not finite or inverted. The caller has already
    handled samples of one run and all-constant samples (see :func:`_bootstrap_ci`)."""
    common = dict(vectorized=True, paired=False, confidence_level=confidence)
    with _quiet():
        res = st.bootstrap(
            samples, statistic, n_resamples=n_resamples, method=method, rng=rng, **common
        )
        low, high = res.confidence_interval
        if method != "percentile" and not (np.isfinite(low) and np.isfinite(high) and low <= high):
            res = st.bootstrap(
                samples, statistic, n_resamples=0, method="percentile", bootstrap_result=res, rng=rng, **common
            )
            low, high = res.confidence_interval
    return _opt_float(low), _opt_float(high)


def _mean_stat(x, axis=-1):
    return np.mean(x, axis=axis)


def _diff_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _a12_stat(a, b, axis=-1):
    """Vargha-Delaney A12 of a over b along ``axis``, via rank sums (ties get mid-ranks).

    A12 = (R_a - n(n+1)/2) / (n m) = U_a / (n m) = P(a > b) + 0.5 P(a = b). Rank-based, so
    memory is O(n + m) per resample instead of O(n m) for the pairwise comparison.
    """
    a = np.moveaxis(np.asarray(a, dtype=float), axis, -1)
    b = np.moveaxis(np.asarray(b, dtype=float), axis, -1)
    n, m = a.shape[-1], b.shape[-1]
    ranks = st.rankdata(np.concatenate([a, b], axis=-1), axis=-1)
    u_a = ranks[..., :n].sum(axis=-1) - n * (n + 1) / 2.0
    return u_a / (n * m)


def _exact_path(n_runs: int, n_resamples: int) -> bool:
    """Whether a bootstrap over n_runs runs in all is small enough for scipy.stats.bootstrap as before."""
    return n_runs * n_resamples <= _EXACT_CELLS


# ----------------------------------------------------------------------------- the scalable bootstrap
#
# A bootstrap resample of a sample of n runs with distinct values v (D,) and counts c (D,) is a histogram
# h ~ Multinomial(n, c / n): the statistics used here (mean, A12) depend on a resample only through its
# histogram, so the (B, n) index matrix is never needed. Chunks of at most _CHUNK_CELLS cells bound memory.


def _support(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (D,) of x (n,), sorted, and how many runs hold each (D,) int64."""
    values, counts = np.unique(x, return_counts=True)
    return values, counts.astype(np.int64)


def _chunks(n_resamples: int, width: int) -> Iterator[tuple[int, int]]:
    """(start, size) of consecutive chunks of resamples, each at most _CHUNK_CELLS / width resamples."""
    step = max(1, _CHUNK_CELLS // max(1, width))
    for start in range(0, n_resamples, step):
        yield start, min(step, n_resamples - start)


def _multinomial(counts: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """size bootstrap resamples of the histogram counts (D,) -> (size, D) int64: each row sums to n."""
    n = int(counts.sum())
    return rng.multinomial(n, counts / n, size=size)


def _resampled_means(x: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means (B,) of B bootstrap resamples of x (n,), without a (B, n) matrix.

    Few distinct values (accuracies, epoch counts): multinomial draws on the histogram, O(B x D).
    Many (e.g. areas under curves): index draws in chunks of (b, n) with b x n <= _CHUNK_CELLS, O(B x n)
    time but bounded memory.
    """
    values, counts = _support(x)
    n = x.size
    out = np.empty(n_resamples)
    if values.size * _MULTINOMIAL_COST < n:
        for start, size in _chunks(n_resamples, values.size):
            out[start : start + size] = _multinomial(counts, size, rng) @ values / n
    else:
        for start, size in _chunks(n_resamples, n):
            out[start : start + size] = x[rng.integers(0, n, (size, n))].mean(axis=1)
    return out


def _mean_jackknife(x: np.ndarray) -> tuple[float, float]:
    """BCa acceleration terms (num, den) of the mean of x (n,): scipy's num = sum U^3 / n^3 and
    den = sum U^2 / n^2 over the jackknife values U_i = (n - 1)(mean of leave-one-out means - mean without
    run i). For the mean, U_i = x_i - mean exactly, so no (n, n-1) jackknife matrix is needed."""
    n = x.size
    u = x - x.mean()
    return float(np.sum(u**3)) / n**3, float(np.sum(u**2)) / n**2


def _interval_from(
    theta_b: np.ndarray, point: float, confidence: float, accel: float | None
) -> tuple[float | None, float | None]:
    """CI from bootstrap statistics theta_b (B,): BCa when ``accel`` is given (scipy's formulas: z0 from
    the share of resamples below the point, ties counting half), falling back to the percentile interval
    when BCa is not finite or inverted; the percentile interval when accel is None."""
    alpha = (1.0 - confidence) / 2.0
    if accel is not None:
        tol = 1e-12 * max(1.0, abs(point))  # a resample equal to the point up to rounding is a tie
        below = np.count_nonzero(theta_b < point - tol) + np.count_nonzero(theta_b <= point + tol)
        with _quiet():
            z0 = special.ndtri(below / (2.0 * theta_b.size))
            z = special.ndtri(alpha)
            a1 = special.ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
            a2 = special.ndtr(z0 + (z0 - z) / (1 - accel * (z0 - z)))
        if np.isfinite(a1) and np.isfinite(a2):
            low, high = np.quantile(theta_b, [a1, a2])
            if low <= high:
                return _opt_float(low), _opt_float(high)
    low, high = np.quantile(theta_b, [alpha, 1.0 - alpha])
    return _opt_float(low), _opt_float(high)


def _mean_ci_scalable(x: np.ndarray, *, rng: np.random.Generator, confidence: float, n_resamples: int):
    """BCa CI of the mean of x (n,) from histogram / chunked resamples (see :func:`_resampled_means`)."""
    num, den = _mean_jackknife(x)
    accel = num / (6.0 * den**1.5)
    return _interval_from(_resampled_means(x, n_resamples, rng), float(x.mean()), confidence, accel)


def _bootstrap_ci(
    samples: tuple[np.ndarray, ...],
    statistic: Callable,
    point: float,
    *,
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
    method: str = "BCa",
) -> tuple[float | None, float | None]:
    """Bootstrap CI of ``statistic`` over independent 1-D samples, robust to degenerate data.

    - some sample has fewer than 2 runs: no CI, (None, None);
    - every sample constant: the statistic cannot vary, so the CI is (point, point) exactly
      (scipy's BCa would return NaN, or a low a few ulps above high);
    - BCa not finite or inverted: fall back to the percentile interval of the same resamples.
    Only for small problems (see ``_EXACT_CELLS``); callers send larger ones to the scalable path.
    """
    if any(s.size < 2 for s in samples):
        return None, None
    if all(np.ptp(s) == 0 for s in samples):
        return point, point
    return _scipy_ci(samples, statistic, rng=rng, confidence=confidence, n_resamples=n_resamples, method=method)


def _mean_ci(values: np.ndarray, *, seed: int, confidence: float, n_resamples: int) -> dict:
    """{mean, ci_low, ci_high} of one sample of shape (n,): BCa bootstrap CI of the mean.

    n x n_resamples <= _EXACT_CELLS: scipy.stats.bootstrap, bit-for-bit as before; otherwise the
    histogram / chunked path (the same interval up to Monte Carlo error, memory O(chunk))."""
    mean = _exact_mean(values)
    if values.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None}
    if np.ptp(values) == 0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean}
    rng = np.random.default_rng(seed)
    if _exact_path(values.size, n_resamples):
        low, high = _bootstrap_ci(
            (values,), _mean_stat, mean, rng=rng, confidence=confidence, n_resamples=n_resamples
        )
    else:
        low, high = _mean_ci_scalable(values, rng=rng, confidence=confidence, n_resamples=n_resamples)
    return {"mean": mean, "ci_low": low, "ci_high": high}


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


# ----------------------------------------------------------------------------- one arm


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

    n_sources, icc, design_effect, n_effective: see :func:`_nested_keys` (groups None: None, None, 1.0, R;
    one source: 1, None, None, None; K > 1: K, the ANOVA ICC, 1 + (m - 1) ICC, R / design_effect).

    Undefined values are None, never NaN: with R=1, std, ci_low and ci_high are None (no spread
    can be estimated from one run). When all runs are identical the CI is (value, value), since
    every resample has the same mean. R=2 gives a (crude) bootstrap CI. R=0 raises ValueError.
    n_resamples=0 skips the interval (None, None).
    """
    _check_confidence(confidence)
    x = _as_1d(values, "values")
    g = None if groups is None else _as_groups(groups, x.size)
    nested = g is not None and np.unique(g).size > 1
    q1, median, q3 = (float(q) for q in np.percentile(x, [25, 50, 75]))
    if not n_resamples:
        summary = {"mean": _exact_mean(x), "ci_low": None, "ci_high": None}
    elif nested:
        summary = nested_mean_ci(x, g, seed=seed, confidence=confidence, n_resamples=n_resamples)
    else:
        summary = _mean_ci(x, seed=seed, confidence=confidence, n_resamples=n_resamples)
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
        **_nested_keys(x, g),
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


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni step-down adjusted p-values, shape (k,) -> list of length k.

    The i-th smallest of the m non-None p-values becomes max_{j<=i} min(1, (m-j+1) p_(j)):
    monotone in the raw p-values, capped at 1, returned in input order. None entries (tests
    that could not be run) are skipped, do not count towards m, and stay None.
    """
    present = [(i, float(p)) for i, p in enumerate(pvalues) if p is not None]
    for i, p in present:
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(f"p-value at position {i} is not in [0, 1]: {p}")
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(present, key=lambda ip: ip[1])):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


# ----------------------------------------------------------------------------- arm vs baseline


def _welch_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Welch t-test p-value; None if a sample has one run or both have zero variance."""
    if a.size < 2 or b.size < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return None
    with _quiet():
        return _opt_float(st.ttest_ind(a, b, equal_var=False).pvalue)


def _mwu_p(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Two-sided tie-corrected asymptotic Mann-Whitney p on correct counts; 1.0 if all tied."""
    if np.ptp(np.concatenate([a_correct, b_correct])) == 0:
        return 1.0
    with _quiet():
        res = st.mannwhitneyu(
            a_correct, b_correct, alternative="two-sided", method="asymptotic", use_continuity=True
        )
    return float(res.pvalue)


def _hedges_g(a: np.ndarray, b: np.ndarray) -> float | None:
    """Hedges' g = J (mean_a - mean_b) / pooled SD, J = 1 - 3/(4(n+m)-9); None if undefined."""
    n, m = a.size, b.size
    if n + m < 4:
        return None
    ss = _sum_sq(a) + _sum_sq(b)
    pooled_sd = math.sqrt(ss / (n + m - 2))
    if pooled_sd == 0.0:
        return None
    j = 1.0 - 3.0 / (4.0 * (n + m) - 9.0)
    return float(j * (_exact_mean(a) - _exact_mean(b)) / pooled_sd)


def _same_partition(*pairs: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether accuracies and correct counts (pairs of shape (n,)) determine each other (acc = count / n_test):
    then one resampled histogram on the counts serves both the difference of means and A12."""
    acc = np.concatenate([p[0] for p in pairs])
    cnt = np.concatenate([p[1] for p in pairs]).astype(float)
    n_pairs = np.unique(np.stack([acc, cnt], axis=1), axis=0).shape[0]
    return n_pairs == np.unique(acc).size == np.unique(cnt).size


def _grid(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct values (D,) of a (n,) and b (m,) together, and each sample's grid positions."""
    grid, index = np.unique(np.concatenate([a, b]), return_inverse=True)
    index = index.reshape(-1)
    return grid, index[: a.size], index[a.size :]


def _resample_on_grid(index: np.ndarray, n_grid: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """size bootstrap resamples of a sample given by its grid positions (n,) -> histograms (size, D)."""
    h = np.bincount(index, minlength=n_grid)
    cols = np.flatnonzero(h)
    out = np.zeros((size, n_grid))
    out[:, cols] = _multinomial(h[cols], size, rng)
    return out


def _independent_cis_scalable(a, b, a_correct, b_correct, diff, a12, *, diff_rng, a12_rng, confidence, n_resamples):
    """(diff_low, diff_high, a12_low, a12_high) for independent samples from histogram resamples.

    The difference of means gets BCa (acceleration from the closed-form jackknife of each mean), A12 the
    percentile interval, as on the exact path. When accuracies and counts determine each other (the usual
    case, accuracy = count / n_test) both statistics come from the same resampled count histograms
    (``diff_rng``); otherwise each has its own resamples (``diff_rng``, ``a12_rng``).
    """
    n, m = a.size, b.size
    num_a, den_a = _mean_jackknife(a)
    num_b, den_b = _mean_jackknife(b)
    accel = (num_a - num_b) / (6.0 * (den_a + den_b) ** 1.5)  # b enters the difference with a minus sign
    theta_diff = np.empty(n_resamples)
    theta_a12 = np.empty(n_resamples)
    grid, ia, ib = _grid(a_correct.astype(float), b_correct.astype(float))
    shared = _same_partition((a, a_correct), (b, b_correct))
    if shared:
        acc_of = np.empty(grid.size)
        acc_of[ia], acc_of[ib] = a, b
    else:
        theta_diff = _resampled_means(a, n_resamples, diff_rng) - _resampled_means(b, n_resamples, diff_rng)
    for start, size in _chunks(n_resamples, grid.size):
        rng = diff_rng if shared else a12_rng
        ha = _resample_on_grid(ia, grid.size, size, rng)
        hb = _resample_on_grid(ib, grid.size, size, rng)
        theta_a12[start : start + size] = np.sum(ha * (np.cumsum(hb, axis=1) - 0.5 * hb), axis=1) / (n * m)
        if shared:
            theta_diff[start : start + size] = ha @ acc_of / n - hb @ acc_of / m
    diff_low, diff_high = _interval_from(theta_diff, diff, confidence, accel)
    a12_low, a12_high = _interval_from(theta_a12, a12, confidence, None)
    return diff_low, diff_high, a12_low, a12_high


def _compare_independent(a, b, a_correct, b_correct, *, seed, confidence, n_resamples) -> dict:
    """compare_to_baseline for runs treated as independent; see its docstring."""
    diff_rng, a12_rng = np.random.default_rng(seed).spawn(2)
    diff = _exact_mean(a) - _exact_mean(b)
    a12 = float(_a12_stat(a_correct, b_correct))
    if a.size < 2 or b.size < 2:
        diff_low = diff_high = a12_low = a12_high = None
    elif _exact_path(a.size + b.size, n_resamples):
        diff_low, diff_high = _bootstrap_ci(
            (a, b), _diff_of_means, diff, rng=diff_rng, confidence=confidence, n_resamples=n_resamples
        )
        a12_low, a12_high = _bootstrap_ci(
            (a_correct.astype(float), b_correct.astype(float)),
            _a12_stat,
            a12,
            rng=a12_rng,
            confidence=confidence,
            n_resamples=n_resamples,
            method="percentile",
        )
    else:
        diff_low, diff_high, a12_low, a12_high = _independent_cis_scalable(
            a, b, a_correct, b_correct, diff, a12,
            diff_rng=diff_rng, a12_rng=a12_rng, confidence=confidence, n_resamples=n_resamples,
        )
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            diff_low = diff_high = diff
        if np.ptp(a_correct) == 0 and np.ptp(b_correct) == 0:
            a12_low = a12_high = a12
    return {
        "diff_mean": diff,
        "diff_ci_low": diff_low,
        "diff_ci_high": diff_high,
        "a12": a12,
        "a12_ci_low": a12_low,
        "a12_ci_high": a12_high,
        "cliffs_delta": 2.0 * a12 - 1.0,
        "hedges_g": _hedges_g(a, b),
        "welch_p": _welch_p(a, b),
        "mwu_p": _mwu_p(a_correct, b_correct),
        "n_arm": int(a.size),
        "n_baseline": int(b.size),
    }


def _clustered_brunner_munzel(a_correct: np.ndarray, groups: np.ndarray, b_correct: np.ndarray) -> dict:
    """Test of A12 = 1/2 for an arm of runs nested in K sources, a_correct and groups (N,), against
    independent baseline runs b_correct (m,). Returns {a12, se, df, p}.

    Brunner & Munzel's (2000) test with the arm's variance made cluster-robust (Obuchowski 1997, the
    clustered-data AUC; Datta & Satten 2005 for rank sums): with placements P_i = (#b < a_i + #b = a_i / 2) / m
    of arm run i and Q_j = (#a > b_j + #a = b_j / 2) / N of baseline run j, A12 = mean P = mean Q and

        Var(A12) ~ K/(K-1) sum_c (sum_{i in c} (P_i - A12))^2 / N^2  +  sum_j (Q_j - A12)^2 / (m (m-1)),

    the first term summing each source's placements before squaring (a source, not a run, is the unit).
    t = (A12 - 1/2) / se against Student's t with Welch-Satterthwaite df from K - 1 and m - 1. With one run
    per source it is exactly the Brunner-Munzel test (scipy.stats.brunnermunzel, t distribution).

    se = 0 (complete separation, or all runs tied): no spread to test against, so p comes from the
    tie-corrected Mann-Whitney U on the K per-source mean counts against the baseline's runs (sources as
    units), which still grows with K and m; 1.0 when A12 is exactly 1/2.
    """
    n, m = a_correct.size, b_correct.size
    grid, ia, ib = _grid(a_correct.astype(float), b_correct.astype(float))
    ha = np.bincount(ia, minlength=grid.size).astype(float)
    hb = np.bincount(ib, minlength=grid.size).astype(float)
    below_b = np.cumsum(hb) - 0.5 * hb  # #b < v + #b = v / 2
    above_a = n - np.cumsum(ha) + 0.5 * ha  # #a > v + #a = v / 2
    placement_a = below_b[ia] / m
    placement_b = above_a[ib] / n
    a12 = float(ha @ below_b) / (n * m)
    _, source = np.unique(groups, return_inverse=True)
    totals = np.bincount(source.reshape(-1), weights=placement_a - a12)
    k = totals.size
    var_a = k / (k - 1) * float(np.sum(totals**2)) / n**2
    var_b = float(np.sum((placement_b - a12) ** 2)) / (m * (m - 1)) if m > 1 else 0.0
    se = math.sqrt(var_a + var_b)
    if se > 1e-12:
        df = _welch_df(var_a, k - 1, var_b, max(m - 1, 1))
        t = (a12 - 0.5) / se
        return {"a12": a12, "se": se, "df": df, "p": float(2.0 * st.t.sf(abs(t), df))}
    if a12 == 0.5:
        return {"a12": a12, "se": 0.0, "df": None, "p": 1.0}
    means = _source_means(a_correct.astype(float), groups)
    return {"a12": a12, "se": 0.0, "df": None, "p": _mwu_p(means, b_correct.astype(float))}


def _compare_nested(a, b, a_correct, b_correct, groups, *, seed, confidence, n_resamples, a12_ci=True) -> dict:
    """compare_to_baseline for an arm nested in K > 1 sources; see its docstring."""
    n, m = a.size, b.size
    k = int(np.unique(groups).size)
    diff = _exact_mean(a) - _exact_mean(b)
    test = _clustered_brunner_munzel(a_correct, groups, b_correct)
    a12 = test["a12"]
    rng = np.random.default_rng(seed)
    shared = _same_partition((a, a_correct), (b, b_correct))
    # the difference's resamples: on the count grid when counts and accuracies determine each other
    # (accuracy of each grid value in acc_of), otherwise on the accuracies' own grid
    grid, ia, ib = _grid(a_correct.astype(float), b_correct.astype(float)) if shared else _grid(a, b)
    acc_of = np.empty(grid.size)
    acc_of[ia], acc_of[ib] = a, b
    sources = _Sources(ia, groups, grid.size)
    if not shared and a12_ci:  # A12 on its own count grid, with its own two-stage resamples
        cgrid, cia, cib = _grid(a_correct.astype(float), b_correct.astype(float))
        csources = _Sources(cia, groups, cgrid.size)
    else:
        cgrid, cia, cib, csources = grid, ia, ib, sources
    hb_c = np.bincount(cib, minlength=cgrid.size).astype(float)
    ha_c = np.bincount(cia, minlength=cgrid.size).astype(float)
    below_b = np.cumsum(hb_c) - 0.5 * hb_c  # baseline fixed: A12(arm*, b) = hist* @ below_b / (N* m)
    above_a = n - np.cumsum(ha_c) + 0.5 * ha_c  # arm fixed: A12(a, base*) = hist_b* @ above_a / (N m)

    arm_means, base_means = np.empty(n_resamples), np.empty(n_resamples)
    a12_arm, a12_base = np.empty(n_resamples), np.empty(n_resamples)
    for start, size in _chunks(n_resamples, max(sources.width, grid.size)):
        sl = slice(start, start + size)
        arm_hist, totals = sources.resample(size, rng)
        base_hist = _resample_on_grid(ib, grid.size, size, rng)
        arm_means[sl] = arm_hist @ acc_of / totals
        base_means[sl] = base_hist @ acc_of / m
        if a12_ci and shared:
            a12_arm[sl] = arm_hist @ below_b / (totals * m)
            a12_base[sl] = base_hist @ above_a / (n * m)
    if a12_ci and not shared:
        crng = np.random.default_rng([seed, 1])
        for start, size in _chunks(n_resamples, max(csources.width, cgrid.size)):
            sl = slice(start, start + size)
            arm_hist, totals = csources.resample(size, crng)
            a12_arm[sl] = arm_hist @ below_b / (totals * m)
            a12_base[sl] = _resample_on_grid(cib, cgrid.size, size, crng) @ above_a / (n * m)

    def t_ci(point, arm_part, base_part, arm_fixed=False, base_fixed=False):
        # bootstrap variances of the two parts, each scaled by units/(units-1) (a bootstrap of u units has
        # (u-1)/u of their variance), and Welch-Satterthwaite df from K - 1 and m - 1 (see nested_mean_ci);
        # a part that cannot vary (a constant sample) is exactly 0, not the rounding noise of its resamples
        var_a = 0.0 if arm_fixed else float(np.var(arm_part, ddof=1)) * k / (k - 1)
        var_b = 0.0 if base_fixed or m < 2 else float(np.var(base_part, ddof=1)) * m / (m - 1)
        if var_a + var_b <= 0.0:
            return point, point
        df = _welch_df(var_a, k - 1, var_b, max(m - 1, 1))
        return _t_interval(point, math.sqrt(var_a + var_b), df, confidence)

    if n_resamples < 2:
        diff_low = diff_high = a12_low = a12_high = None
    else:
        diff_low, diff_high = t_ci(diff, arm_means, base_means, np.ptp(a) == 0, np.ptp(b) == 0)
        if a12_ci:
            a12_low, a12_high = t_ci(a12, a12_arm, a12_base)
            a12_low, a12_high = max(0.0, a12_low), min(1.0, a12_high)
        else:
            a12_low = a12_high = None
    source_means = _source_means(a, groups)
    return {
        "diff_mean": diff,
        "diff_ci_low": _opt_float(diff_low),
        "diff_ci_high": _opt_float(diff_high),
        "a12": a12,
        "a12_ci_low": _opt_float(a12_low),
        "a12_ci_high": _opt_float(a12_high),
        "cliffs_delta": 2.0 * a12 - 1.0,
        "hedges_g": _hedges_g(a, b),
        "welch_p": _welch_p(source_means, b),
        "mwu_p": _mwu_p(a_correct, b_correct),
        "n_arm": int(n),
        "n_baseline": int(m),
        "verdict_p": test["p"],
    }


def compare_to_baseline(
    arm,
    baseline,
    arm_correct,
    baseline_correct,
    *,
    seed: int,
    groups=None,
    n_test: int | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> dict:
    """Compare one arm with the baseline; arm (n,), baseline (m,) accuracies, *_correct the counts,
    groups None or the source index of each arm run (n,). The baseline's runs are independent.

    Keys: diff_mean, diff_ci_low, diff_ci_high, a12, a12_ci_low, a12_ci_high, cliffs_delta,
    hedges_g, welch_p, mwu_p, n_arm, n_baseline, n_sources, icc, design_effect, n_effective,
    verdict_test, verdict_p.

    Independent runs (groups None, or one source):

    - diff: mean(arm) - mean(baseline), BCa bootstrap CI resampling the two samples
      independently (percentile fallback when BCa degenerates; (d, d) when both are constant).
    - a12: Vargha-Delaney A12 = U/(n m) = P(arm > baseline) + 0.5 P(tie), the probability that a
      run of the arm beats a run of the baseline; computed on the integer correct counts so ties
      are exact. Its CI is a *percentile* bootstrap (A12 is bounded and discrete; BCa's
      acceleration is unstable there). cliffs_delta = 2 a12 - 1.
    - hedges_g: small-sample corrected standardised difference; None if n+m<4 or pooled SD is 0.
    - welch_p: Welch t-test on accuracies; None if a sample has one run or both have zero
      variance (the t statistic is 0/0 or +-inf/0 there, not evidence).
    - mwu_p: two-sided asymptotic Mann-Whitney U with tie and continuity correction on the
      correct counts (accuracies tie heavily on a 500-row test set); 1.0 if every count is equal.
      It is the verdict's test: verdict_test = MWU_VERDICT, verdict_p = mwu_p.
    - (n + m) x n_resamples <= 1,000,000: scipy.stats.bootstrap, the same numbers as ever for a seed;
      above, histogram resamples (same intervals up to Monte Carlo error, memory independent of n).

    Arm nested in K > 1 sources (the source model is the unit; ICC near 1 makes K x R runs worth about K):

    - diff CI: diff -+ t_df x se; se^2 = (K/(K-1)) Var*(two-stage bootstrap means of the arm: sources with
      replacement, then runs within each) + (m/(m-1)) Var*(plain bootstrap means of the baseline), df by
      Welch-Satterthwaite from K - 1 and m - 1. The t quantile, not the resamples' percentiles, because a
      spread estimated from K source means is itself uncertain (see :func:`nested_mean_ci`).
    - a12: as above on all runs; its CI is the same construction: A12 -+ t_df x se with the arm's part of
      the variance from A12(two-stage arm resample, baseline) and the baseline's from A12(arm, baseline
      resample), clipped to [0, 1] (the percentile interval of joint resamples covers too rarely at K = 5).
    - verdict_p: the clustered Brunner-Munzel test of A12 = 1/2 (:func:`_clustered_brunner_munzel`),
      verdict_test = NESTED_VERDICT. Why this test: it is about A12 itself, so its p and the verdict's
      direction (A12 vs 1/2) cannot disagree; it is rank-based, so the standalone arm's few collapsed runs
      do not dominate it (why the independent verdict uses Mann-Whitney too); and its variance treats a
      source model as one observation. Welch's t on per-source means tests means instead, is pulled by the
      collapsed runs, and can call an arm significantly better while A12 < 1/2.
    - welch_p: Welch's t on the K per-source means against the baseline's runs (valid at the source
      level; a second opinion about means). mwu_p: the pooled Mann-Whitney on all K x R runs as if
      independent, kept as a descriptive number only: it is anti-conservative for nested runs (tests/
      test_stats_nested.py shows its false-positive rate) and no verdict uses it.
    - hedges_g: on all runs (descriptive).

    CIs are None when a sample has a single run. ``seed`` drives numpy default_rng (split into independent
    streams for the two bootstraps on the independent path).
    """
    _check_confidence(confidence)
    a = _as_1d(arm, "arm")
    b = _as_1d(baseline, "baseline")
    a_correct = _as_counts(arm_correct, "arm_correct", a.size, n_test)
    b_correct = _as_counts(baseline_correct, "baseline_correct", b.size, n_test)
    g = None if groups is None else _as_groups(groups, a.size)
    if g is not None and np.unique(g).size > 1:
        result = _compare_nested(
            a, b, a_correct, b_correct, g, seed=seed, confidence=confidence, n_resamples=n_resamples
        )
        verdict_p = result.pop("verdict_p")
        return {**result, **_nested_keys(a, g), "verdict_test": NESTED_VERDICT, "verdict_p": verdict_p}
    result = _compare_independent(
        a, b, a_correct, b_correct, seed=seed, confidence=confidence, n_resamples=n_resamples
    )
    return {**result, **_nested_keys(a, g), "verdict_test": MWU_VERDICT, "verdict_p": result["mwu_p"]}


def nested_compare(
    arm,
    baseline,
    arm_correct,
    baseline_correct,
    groups,
    *,
    seed: int,
    n_test: int | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    a12_ci: bool = True,
) -> dict:
    """:func:`compare_to_baseline` with ``groups`` required; a12_ci=False skips A12's interval (None, None)
    for simulations that need only the difference and the verdict's p (ignored for a single source)."""
    _check_confidence(confidence)
    a = _as_1d(arm, "arm")
    g = _as_groups(groups, a.size)
    if np.unique(g).size < 2 or a12_ci:
        return compare_to_baseline(arm, baseline, arm_correct, baseline_correct, seed=seed, groups=g,
                                   n_test=n_test, confidence=confidence, n_resamples=n_resamples)
    b = _as_1d(baseline, "baseline")
    a_correct = _as_counts(arm_correct, "arm_correct", a.size, n_test)
    b_correct = _as_counts(baseline_correct, "baseline_correct", b.size, n_test)
    result = _compare_nested(a, b, a_correct, b_correct, g, seed=seed, confidence=confidence,
                             n_resamples=n_resamples, a12_ci=False)
    verdict_p = result.pop("verdict_p")
    return {**result, **_nested_keys(a, g), "verdict_test": NESTED_VERDICT, "verdict_p": verdict_p}


def _arm_seed(seed: int, arm: str) -> int:
    """Seed for one arm's comparison, derived from (seed, arm name).

    Keyed by name rather than position so an arm's CIs do not change when other arms are
    added, removed or reordered.
    """
    entropy = [int(seed), zlib.crc32(arm.encode("utf-8"))]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def compare_arms(
    accuracies: Mapping[str, np.ndarray],
    correct: Mapping[str, np.ndarray],
    baseline: str,
    *,
    seed: int,
    groups: Mapping[str, np.ndarray] | None = None,
    n_test: int | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> list[dict]:
    """Compare every arm (in dict order) with ``baseline``; each value has shape (R_arm,).

    One row per non-baseline arm: {"arm", "baseline", **compare_to_baseline(...), "welch_p_holm",
    "mwu_p_holm", "verdict_p_holm", "verdict"}. Holm adjusts across the arms compared, separately
    for Welch, Mann-Whitney and the verdict's own p-values. Each arm uses its own seed derived from
    (seed, arm name) by numpy SeedSequence.

    groups: per arm, the source index of each run (shape (R_arm,)); arms missing from it (e.g. the
    standalone baseline) are independent runs. An arm whose runs come from K > 1 source models is
    compared at the source level (two-stage bootstrap CIs, clustered Brunner-Munzel test: see
    :func:`compare_to_baseline`); every other arm exactly as before, with verdict_p = mwu_p. Every
    row names its test (verdict_test) and carries its p (verdict_p) and Holm-adjusted p
    (verdict_p_holm). n_test, if given, bounds the correct counts (0..n_test).

    Verdict: "better" if verdict_p_holm < alpha and a12 > 0.5, "worse" if verdict_p_holm < alpha
    and a12 < 0.5, else "no evidence". A rank test drives it because the standalone arm has a few
    collapsed runs: means, SDs and t-tests are dominated by those outliers, whereas P(arm beats
    baseline) is what a user choosing an arm cares about and is robust to them. For a nested arm
    the rank test is the clustered one: Mann-Whitney on K x R runs would count nested runs as
    independent and call noise significant (tests/test_stats_nested.py).
    """
    if baseline not in accuracies:
        raise ValueError(f"baseline arm {baseline!r} not in accuracies (arms: {list(accuracies)})")
    missing = [name for name in accuracies if name not in correct]
    if missing:
        raise ValueError(f"correct counts missing for arms {missing}")
    groups = groups or {}
    rows = []
    for name, values in accuracies.items():
        if name == baseline:
            continue
        result = compare_to_baseline(
            values,
            accuracies[baseline],
            correct[name],
            correct[baseline],
            seed=_arm_seed(seed, name),
            groups=groups.get(name),
            n_test=n_test,
            confidence=confidence,
            n_resamples=n_resamples,
        )
        rows.append({"arm": name, "baseline": baseline, **result})
    for key in ("welch_p", "mwu_p", "verdict_p"):
        for row, adjusted in zip(rows, holm([row[key] for row in rows])):
            row[f"{key}_holm"] = adjusted
    for row in rows:
        p = row["verdict_p_holm"]
        if p is not None and p < alpha and row["a12"] > 0.5:
            row["verdict"] = "better"
        elif p is not None and p < alpha and row["a12"] < 0.5:
            row["verdict"] = "worse"
        else:
            row["verdict"] = "no evidence"
    return rows


# ----------------------------------------------------------------------------- learning curves


def _as_curves(curves, name: str) -> np.ndarray:
    """Validate finite curves of shape (R, C) with R >= 1 and C >= 1."""
    arr = np.asarray(curves, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (repeats, epochs) with both >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def curve_band(curves, confidence: float = 0.95) -> dict:
    """Per-epoch mean and t-based CI of the mean for curves (R, E) -> arrays of shape (E,).

    low/high = mean -+ t_{(1+confidence)/2, R-1} * sd / sqrt(R). With R=1 there is no spread,
    so low = high = mean. Returns numpy arrays (not JSON): it only feeds the learning-curve plot.
    """
    _check_confidence(confidence)
    c = _as_curves(curves, "curves")
    repeats = c.shape[0]
    mean = c.mean(axis=0)
    if repeats == 1:
        return {"mean": mean, "low": mean.copy(), "high": mean.copy()}
    half = st.t.ppf((1.0 + confidence) / 2.0, repeats - 1) * c.std(axis=0, ddof=1) / math.sqrt(repeats)
    return {"mean": mean, "low": mean - half, "high": mean + half}


def transfer_benefits(curves, *, seed: int, confidence: float = 0.95, n_resamples: int = 2000) -> dict:
    """Torrey & Shavlik's benefits of transfer from test-accuracy curves of shape (R, E+1).

    Column 0 is the accuracy before any target training, column e the accuracy after epoch e.
    Per repeat: "start" = column 0 (higher start); "epochs_to_95" = first epoch e >= 0 whose
    accuracy is >= 0.95 * that repeat's final accuracy (higher slope = fewer epochs);
    "auc" = mean over columns 0..E (normalised area, accuracy units); "asymptote" = last column.
    Each becomes {mean, ci_low, ci_high} with a BCa bootstrap CI of the mean across repeats
    (None with R=1; (v, v) when all repeats agree), each from ``seed``. With R x n_resamples <=
    1,000,000 (scipy path) the four use the same resampled repeats; above, each is resampled on its
    own histogram (start, asymptote and epochs_to_95 have few distinct values) or, for auc, by index
    in bounded chunks, so R = 20,000 repeats need no (n_resamples, R) matrix.
    """
    _check_confidence(confidence)
    c = _as_curves(curves, "curves")
    if np.any(c < 0):
        raise ValueError("curves must be accuracies (>= 0)")
    final = c[:, -1]
    reached = c >= 0.95 * final[:, None] - _REACH_TOL  # the last column always qualifies
    per_repeat = {
        "start": c[:, 0],
        "epochs_to_95": np.argmax(reached, axis=1).astype(float),
        "auc": c.mean(axis=1),
        "asymptote": final,
    }
    return {
        name: _mean_ci(values, seed=seed, confidence=confidence, n_resamples=n_resamples)
        for name, values in per_repeat.items()
    }


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
