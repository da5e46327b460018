"""The one resampling core: bootstrap resamples of runs nested in source models, the statistic a parameter.

Every statistic of the package that resamples runs calls `resample` (as rliable's
`get_interval_estimates(scores, func, reps)` does): the CIs of an arm's mean, of a comparison and of the
benefits of transfer, P(best), and the regression gate's standard errors. Only the statistic differs. The
closed form of the same design, the cluster-robust variance of a mean (`cluster_variance`), serves the
cluster SE and the learning-curve bands.

A `Sample` is N runs, each at a position on a grid of D values (``index`` (N,); e.g. the sample's distinct
values), and each either nested in a source model (``groups`` (N,) labels) or independent (None). One
resample of nested runs draws K sources with replacement (stage 1), then from each drawn source as many
runs with replacement as it holds (stage 2); of independent runs it draws N runs with replacement (the
plain bootstrap: each run is its own unit). A statistic sees a chunk of b resamples as a `Draw`: the runs
drawn in each (``totals`` (b,)), any per-grid-point column summed over the drawn runs (``sums``), and the
histogram on the grid (``hist`` (b, D)); never a (B, N) matrix of values.

How a stage is drawn is chosen by cost. A resample of n runs with D distinct values is one multinomial draw
on its histogram (accuracies are counts out of n_test, so D is small however large n is); a multinomial
costs about MULTINOMIAL_COST index draws per category, so with many distinct values the runs are drawn by
index instead. A drawn source's t_c resamples pooled together are one Multinomial(t_c n_c, h_c / n_c) draw.

Chunks bound memory (at most CHUNK_CELLS cells at a time) and never change the numbers: stage 1 of every
resample is drawn before stage 2 of any (when both come from one generator, stage 2 starts where the whole
of stage 1 ends in it), and each generator's draws run on in order from chunk to chunk. With one chunk this
is the order the package has always drawn in, so an interval that fitted in one chunk keeps its numbers.

Shapes: N runs, K sources, D grid points, B resamples, b resamples in a chunk.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

# Cells (resamples x runs, or resamples x grid points) per chunk: 16 MiB of float64.
CHUNK_CELLS = 1 << 21
# A multinomial draw costs about this many index draws per category: a stage is drawn on histograms when its
# categories x MULTINOMIAL_COST < its runs, else by index. (Measured nearer 10-16 for short rows; kept at the
# package's long-standing 6 because the choice decides the draws, and so the committed numbers.)
MULTINOMIAL_COST = 6


def chunks(n_resamples: int, width: int, chunk_cells: int = CHUNK_CELLS) -> Iterator[tuple[int, int]]:
    """(start, size) of consecutive chunks of resamples, each at most chunk_cells / width resamples."""
    step = max(1, chunk_cells // max(1, width))
    for start in range(0, n_resamples, step):
        yield start, min(step, n_resamples - start)


def cluster_variance(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Cluster-robust variance of the mean of all runs, per column of values (N,) or (N, E) -> () or (E,);
    groups (N,) with K > 1 sources.

    K/(K-1) sum_c (n_c/N)^2 (mean_c - mean)^2: for balanced sources the variance of the K source means over K,
    which is what the two-stage bootstrap's variance of the mean estimates when runs agree within sources.
    """
    x = np.asarray(values, dtype=float)
    n = x.shape[0]
    _, source = np.unique(groups, return_inverse=True)
    source = source.reshape(-1)
    sizes = np.bincount(source).astype(float)
    k = sizes.size
    if x.ndim == 1:
        means = np.bincount(source, weights=x) / sizes
        return np.asarray(k / (k - 1) * np.sum((sizes / n) ** 2 * (means - x.mean()) ** 2))
    means = np.stack([np.bincount(source, weights=col, minlength=k) for col in x.T], axis=1) / sizes[:, None]
    return k / (k - 1) * np.sum((sizes[:, None] / n) ** 2 * (means - x.mean(axis=0)) ** 2, axis=0)


class Draw:
    """b resamples of one sample, in whichever form they were drawn.

    totals (b,): runs drawn in each resample. One of: hist (b, D) float, how often each grid point was drawn;
    counts (b, C) int on grid columns cols (C,) (a multinomial on the sample's own histogram); runs (b, n) the
    runs drawn by index, whose grid positions are index (n,).
    """

    def __init__(self, totals, n_grid: int, *, hist=None, counts=None, cols=None, runs=None, index=None):
        self.totals, self.n_grid = totals, n_grid
        self._hist, self._counts, self._cols, self._runs, self._index = hist, counts, cols, runs, index

    def sums(self, column: np.ndarray) -> np.ndarray:
        """column (D,) summed over each resample's runs -> (b,): the numerator of any mean-like statistic."""
        if self._runs is not None:
            return column[self._index][self._runs].sum(axis=1)
        if self._counts is not None:
            return self._counts @ column[self._cols]
        return self._hist @ column

    def hist(self) -> np.ndarray:
        """(b, D) float: how often each grid point was drawn in each resample."""
        if self._hist is None:
            size = self.totals.size
            if self._counts is not None:
                self._hist = np.zeros((size, self.n_grid))
                self._hist[:, self._cols] = self._counts
            else:
                flat = self._index[self._runs]
                flat += np.arange(size)[:, None] * self.n_grid
                self._hist = np.bincount(flat.reshape(-1), minlength=size * self.n_grid).reshape(size, self.n_grid)
                self._hist = self._hist.astype(float)
        return self._hist


class Sample:
    """N runs laid out for resampling: index (N,) each run's grid position (0..n_grid-1), groups (N,) each
    run's source label or None for independent runs.

    pool (K_pool,) sorted labels: samples that must draw the same source models in each resample (arms trained
    from the same sources, P(best)) share a pool; stage 1 then draws positions among the pool's labels, and a
    drawn source this sample has no run from adds no runs. Default: the sample's own labels.
    """

    def __init__(
        self, index: np.ndarray, n_grid: int, groups: np.ndarray | None = None, pool: np.ndarray | None = None
    ):
        self.index, self.n_grid, self.n = np.asarray(index).reshape(-1), int(n_grid), int(np.size(index))
        self.pooled = pool is not None
        if groups is None:
            self._plain()
            return
        labels, source = np.unique(groups, return_inverse=True)
        source = source.reshape(-1)
        self.k = labels.size
        self.sizes = np.bincount(source, minlength=self.k).astype(np.int64)
        pool = labels if pool is None else np.asarray(pool)
        self.k_pool = pool.size
        self.position = np.full(self.k_pool, -1)  # each pool label's source in this sample, -1 if none
        self.position[np.searchsorted(pool, labels)] = np.arange(self.k)
        self.two_stage = self.k_pool > 1
        if not self.two_stage:  # one source drawn once: a plain bootstrap of its runs
            self._plain()
            return
        pairs, counts = np.unique(source * self.n_grid + self.index, return_counts=True)
        src, col = pairs // self.n_grid, pairs % self.n_grid
        width = np.bincount(src, minlength=self.k)
        d_max = int(width.max())
        self.use_histograms = width.sum() * MULTINOMIAL_COST < self.k * int(self.sizes.max())
        if self.use_histograms:
            # cols (K, Dmax): grid positions of each source's distinct values; probs (K, Dmax): their shares within
            # the source, rows padded with probability 0 and the source's last column (a stray draw from float
            # rounding still lands on a value the source holds)
            starts = np.concatenate([[0], np.cumsum(width)[:-1]])
            slot = np.arange(pairs.size) - np.repeat(starts, width)
            self.cols = np.repeat(col[starts + width - 1][:, None], d_max, axis=1)
            self.probs = np.zeros((self.k, d_max))
            self.cols[src, slot] = col
            self.probs[src, slot] = counts / self.sizes[src]
            self.width = self.k_pool * d_max
        else:  # grid positions of the runs sorted by source (N,), and each source's first run (K,)
            self.by_source = self.index[np.argsort(source, kind="stable")]
            self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
            self.width = self.k_pool * int(self.sizes.max())
            self.balanced = bool(np.all(self.sizes == self.sizes[0]) and np.all(self.position >= 0))

    def _plain(self) -> None:
        self.two_stage = False
        support = np.bincount(self.index, minlength=self.n_grid)
        self.cols = np.flatnonzero(support)
        self.counts = support[self.cols].astype(np.int64)
        self.use_histograms = self.cols.size * MULTINOMIAL_COST < self.n
        self.width = self.cols.size if self.use_histograms else self.n

    # ------------------------------------------------------------------------- the two stages

    def choose(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Stage 1 of `size` resamples: (size, K) how often each source is drawn (a sample on histograms with
        its own sources: one multinomial per resample) or (size, K_pool) which pool labels are drawn."""
        if self.use_histograms and not self.pooled:
            return rng.multinomial(self.k, np.full(self.k, 1.0 / self.k), size=size)
        return rng.integers(0, self.k_pool, size=(size, self.k_pool))

    def draw(self, chosen: np.ndarray | None, size: int, rng: np.random.Generator) -> Draw:
        """Stage 2 (or the one stage of a plain bootstrap) of `size` resamples, given stage 1's `chosen`."""
        if not self.two_stage:
            if self.use_histograms:
                counts = rng.multinomial(self.n, self.counts / self.n, size=size)
                return Draw(np.full(size, self.n), self.n_grid, counts=counts, cols=self.cols)
            runs = rng.integers(0, self.n, (size, self.n))
            return Draw(np.full(size, self.n), self.n_grid, runs=runs, index=self.index)
        rows = np.arange(size)[:, None, None] * self.n_grid
        if self.use_histograms:
            if self.pooled:  # pool labels drawn -> how often each of this sample's sources is drawn
                own = self.position[chosen]
                flat = (np.arange(size)[:, None] * self.k + own)[own >= 0]
                chosen = np.bincount(flat, minlength=size * self.k).reshape(size, self.k)
            draws = rng.multinomial(chosen * self.sizes, self.probs)  # (size, K, Dmax)
            flat, weights, totals = (rows + self.cols[None]).reshape(-1), draws.reshape(-1), chosen @ self.sizes
        elif self.balanced:  # equal sources, each in the pool: no padding, and pool position = source
            n_max = int(self.sizes[0])
            flat = rng.integers(0, n_max, (size, self.k, n_max))
            flat += (chosen * n_max)[..., None]  # the runs' places in by_source
            flat = self.by_source[flat]
            flat += rows
            flat, weights, totals = flat.reshape(-1), None, np.full(size, self.k * n_max)
        else:
            own = self.position[chosen]  # (size, K_pool) this sample's source, -1 where it has none
            n_c = np.where(own >= 0, self.sizes[np.maximum(own, 0)], 0)
            n_max = int(self.sizes.max())
            within = np.floor(rng.random((size, self.k_pool, n_max)) * n_c[..., None]).astype(np.int64)
            within = np.minimum(within, np.maximum(n_c - 1, 0)[..., None])
            within += self.starts[np.maximum(own, 0)][..., None]
            keep = np.arange(n_max) < n_c[..., None]  # slots past a source's size are padding
            flat = (rows + self.by_source[within])[keep]
            weights, totals = None, n_c.sum(axis=1)
        hist = np.bincount(flat, weights=weights, minlength=size * self.n_grid).reshape(size, self.n_grid)
        return Draw(totals, self.n_grid, hist=hist.astype(float, copy=False))


class Stream(NamedTuple):
    """A sample with the generators it is drawn from: rng for its runs and, unless `sources` is given, its
    sources too (stage 1 of all resamples first); samples of one pool pass each a fresh generator of the pool's
    seed as `sources`, so they draw the same sources in every resample."""

    sample: Sample
    rng: np.random.Generator
    sources: np.random.Generator | None = None


def resample(
    statistic: Callable[..., np.ndarray], n_resamples: int, *streams: Stream, chunk_cells: int = CHUNK_CELLS
) -> np.ndarray:
    """statistic(*draws) over n_resamples joint resamples of the streams' samples (each from its own
    generators, so independent of one another) -> (B,) or (B, S), whatever one chunk's statistic returns
    ((b,) or (b, S)). Drawn in chunks of at most chunk_cells cells; the chunking never changes the numbers."""
    width = sum(max(s.sample.width, s.sample.n_grid) for s in streams)
    plan = list(chunks(n_resamples, width, chunk_cells))
    stage1 = []
    for s in streams:
        g = s.sources if s.sources is not None else s.rng
        if s.sources is None and s.sample.two_stage and len(plan) > 1:
            g = copy.deepcopy(s.rng)  # stage 1 from here; stage 2 starts where all of stage 1 ends in rng
            for _, size in plan:
                s.sample.choose(size, s.rng)
        stage1.append(g)
    out = None
    for start, size in plan:
        draws = [
            s.sample.draw(s.sample.choose(size, g) if s.sample.two_stage else None, size, s.rng)
            for s, g in zip(streams, stage1)
        ]
        value = np.asarray(statistic(*draws))
        if out is None:
            out = np.empty((n_resamples, *value.shape[1:]))
        out[start : start + size] = value
    return np.empty(0) if out is None else out


def mean_of(grid: np.ndarray) -> Callable[[Draw], np.ndarray]:
    """The statistic "mean of the drawn runs" for a sample on `grid` (D,): (b,), NaN where none was drawn."""

    def statistic(draw: Draw) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return draw.sums(grid) / draw.totals

    return statistic
