"""Tests that kill mutants of blobs_transfer.stats.resample which the other stats tests let through
(benchmarks/mutation.sh; the mutant each test kills is named in it)."""

import warnings

import numpy as np

from blobs_transfer.stats.resample import Draw, Sample, Stream, chunks, mean_of, resample

GRID2 = np.array([0.0, 1.0])


def sizes_seen(sample, n_resamples, chunk_cells):
    seen = []

    def statistic(draw):
        seen.append(draw.totals.size)
        return draw.totals

    resample(statistic, n_resamples, Stream(sample, np.random.default_rng(0)), chunk_cells=chunk_cells)
    return seen


def test_chunks_hold_chunk_cells_over_width_resamples_and_at_least_one():
    # chunks mutants: max(1, width) -> max(2, width), and max(1, cells // width) -> max(2, ...)
    assert list(chunks(5, 1, 2)) == [(0, 2), (2, 2), (4, 1)]
    assert list(chunks(3, 4, 2)) == [(0, 1), (1, 1), (2, 1)]


def test_resample_chunks_by_chunk_cells_over_the_width_of_the_sample():
    # resample mutant: chunks(n, width, chunk_cells) -> chunks(n, width) (the default cells, one chunk)
    # _plain mutant: width = cols.size if use_histograms -> width = n (20 runs, not 2 grid columns)
    on_histograms = Sample(np.repeat([0, 1], 10), 2)  # 2 distinct values x 6 < 20 runs
    assert sizes_seen(on_histograms, 5, chunk_cells=4) == [2, 2, 1]
    # _plain mutants: width = n by index -> cols.size; and the strict "<" of the cost rule -> "<="
    by_index = Sample(np.repeat([0, 1], 6), 2)  # 2 distinct values x 6 == 12 runs: drawn by index
    assert sizes_seen(by_index, 5, chunk_cells=24) == [2, 2, 1]


def test_a_stage_is_drawn_on_histograms_only_when_strictly_cheaper():
    # __init__ mutant: width.sum() * MULTINOMIAL_COST < k * max size -> "<=" (two sources of 6 equal runs: 12 == 12)
    assert not Sample(np.repeat([0, 1], 6), 2, groups=np.repeat([0, 1], 6)).use_histograms
    assert not Sample(np.repeat([0, 1], 6), 2).use_histograms  # _plain: 2 x 6 == 12 runs


def test_two_chunks_draw_the_numbers_of_one():
    # resample mutant: len(plan) > 1 -> len(plan) > 2 (two chunks would draw stage 1 and 2 interleaved)
    sample = Sample(np.arange(8) % 4, 4, groups=np.repeat([0, 1], 4))
    grid = np.array([0.0, 1.0, 2.0, 4.0])
    one = resample(mean_of(grid), 4, Stream(sample, np.random.default_rng(3)))
    width = max(sample.width, sample.n_grid)
    two = resample(mean_of(grid), 4, Stream(sample, np.random.default_rng(3)), chunk_cells=2 * width)
    assert len(list(chunks(4, width, 2 * width))) == 2
    assert one.tolist() == two.tolist()


def test_no_resamples_is_an_empty_array():
    # resample mutants: np.empty(0) if out is None -> `and False` (None), np.empty(None), np.empty(1)
    out = resample(mean_of(GRID2), 0, Stream(Sample(np.array([0, 1]), 2), np.random.default_rng(0)))
    assert isinstance(out, np.ndarray) and out.shape == (0,)


def test_a_column_of_grid_positions_is_read_as_the_runs():
    # __init__ mutant: np.asarray(index).reshape(-1) -> reshape(None) (a (N, 1) column would stay 2-D)
    assert Sample(np.array([[0], [1], [1]]), 2).index.shape == (3,)


def test_runs_sorted_by_source_keep_their_order_within_a_source():
    # __init__ mutants: argsort(source, kind="stable") -> kind=None / no kind (quicksort reorders ties past
    # 16 elements, and the runs' order within a source decides which run each draw picks)
    index = np.arange(200)
    groups = np.arange(200) % 2
    sample = Sample(index, 200, groups=groups)
    assert not sample.use_histograms
    assert sample.by_source.tolist() == list(range(0, 200, 2)) + list(range(1, 200, 2))


def test_padded_histogram_columns_repeat_the_sources_last_value():
    # __init__ mutants: col[starts + width - 1] -> col[starts - width - 1], col[starts + width - 2]
    index = np.concatenate([np.repeat([0, 1, 2], 10), np.full(30, 3)])
    sample = Sample(index, 4, groups=np.repeat([0, 1], 30))
    assert sample.use_histograms
    assert sample.cols.tolist() == [[0, 1, 2], [3, 3, 3]]
    assert sample.probs.tolist() == [[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]]


def test_a_pooled_sample_on_histograms_draws_the_pools_sources():
    # __init__ mutant: pooled = pool is not None -> None; draw mutants on the pooled branch: own = None,
    # flat = None, "+ own" -> "- own", "* self.k" -> "/ self.k"
    # and bincount(flat, minlength=size * k) -> no minlength (at this seed the last resample draws no source 1)
    # source 0 holds seven runs at 0, source 1 seven at 1; the pool has a third source this sample lacks
    sample = Sample(np.repeat([0, 1], 7), 2, groups=np.repeat([0, 1], 7), pool=np.array([0, 1, 2]))
    assert sample.use_histograms
    means = resample(mean_of(GRID2), 8, Stream(sample, np.random.default_rng(1), sources=np.random.default_rng(15)))
    chosen = np.random.default_rng(15).integers(0, 3, size=(8, 3))
    n0, n1 = (chosen == 0).sum(axis=1), (chosen == 1).sum(axis=1)
    assert n1[-1] == 0 and np.any(n0 + n1 == 0)
    with np.errstate(invalid="ignore"):
        expected = n1 / (n0 + n1)
    np.testing.assert_array_equal(means, expected)


def test_the_mean_of_a_resample_without_runs_is_nan_without_a_warning():
    # mean_of mutants: errstate(invalid="ignore", ...) -> invalid=None, or the invalid clause dropped
    draw = Draw(np.array([0, 2]), 2, hist=np.array([[0.0, 0.0], [1.0, 1.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        means = mean_of(GRID2)(draw)
    assert np.isnan(means[0]) and means[1] == 0.5
