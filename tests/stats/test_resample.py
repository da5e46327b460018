"""The resampling core (blobs_transfer.stats.resample) on tiny hand-made samples whose answers are known.

- the structure of a two-stage resample: whole sources drawn K times, each drawn source's runs resampled;
  balanced and unbalanced sources, a pool shared by two samples;
- known bootstrap distributions (two constant sources, two runs) and zero-width intervals;
- chunking never changes the numbers (one generator or two, every drawing strategy);
- the statistic as a parameter: the gate's mean, median and SD from histograms equal them on the drawn runs;
- seeds by name: reordering arms changes no arm's gate SE, P(best) or comparison;
- the nested CIs that fitted in one chunk keep the numbers they had before the core (pinned).
"""

import math

import numpy as np
import pytest

from blobs_transfer import stats
from blobs_transfer.stats import gate, ranking
from blobs_transfer.stats.resample import (
    Draw,
    Sample,
    Stream,
    cluster_variance,
    mean_of,
    resample,
)

pytestmark = pytest.mark.filterwarnings("error")


def layout(values):
    """(grid (D,), index (n,)) of a sample: its sorted distinct values and each run's position among them."""
    grid, index = np.unique(np.asarray(values, dtype=float), return_inverse=True)
    return grid, index.reshape(-1)


def hists(sample, n_resamples, seed, **kwargs):
    """(B, D) histograms of n_resamples resamples of `sample`, and their totals (B,)."""
    out = resample(
        lambda d: np.column_stack([d.hist(), d.totals]),
        n_resamples,
        Stream(sample, np.random.default_rng(seed)),
        **kwargs,
    )
    return out[:, :-1], out[:, -1]


# ----------------------------------------------------------------------------- the two stages


@pytest.mark.parametrize("sizes", [(4, 4, 4), (3, 12, 8)])  # balanced (the study's design) and unbalanced
def test_two_stage_draws_whole_sources(sizes):
    # run j of source c holds the value 100 c + j, so a resample's histogram says which runs of which source it
    # drew: source c is drawn t_c times (sum t_c = K) and each draw brings exactly n_c of its runs
    groups = np.repeat(np.arange(len(sizes)), sizes)
    values = 100 * groups + np.concatenate([np.arange(n) for n in sizes])
    grid, index = layout(values)
    sample = Sample(index, grid.size, groups)
    assert sample.two_stage and not sample.use_histograms  # all runs distinct: drawn by index
    h, totals = hists(sample, 500, seed=1)
    per_source = np.stack([h[:, grid // 100 == c].sum(axis=1) for c in range(len(sizes))], axis=1)
    times = per_source / np.array(sizes)
    assert np.array_equal(times, np.round(times)) and np.all(times.sum(axis=1) == len(sizes))
    assert np.array_equal(totals, h.sum(axis=1))
    # each source is drawn once per resample on average; unbalanced resamples vary in size around N
    assert times.mean(axis=0) == pytest.approx([1.0] * len(sizes), abs=0.15)
    assert (np.ptp(totals) > 0) == (len(set(sizes)) > 1)


def test_runs_are_resampled_within_each_drawn_source():
    # one source of runs [0, 1] and one of [10, 11]: drawn twice, a source brings 4 of its runs, any mix
    groups = np.array([0, 0, 1, 1])
    grid, index = layout([0, 1, 10, 11])
    h, _ = hists(Sample(index, grid.size, groups), 4000, seed=2)
    from_first = h[:, :2].sum(axis=1)
    assert set(np.unique(from_first)) == {0.0, 2.0, 4.0}
    twice = h[from_first == 4, :2]  # four runs drawn from source 0: the count of 1s is Binomial(4, 1/2)
    assert twice[:, 1].mean() == pytest.approx(2.0, abs=0.15)
    assert set(np.unique(twice[:, 1])) == {0.0, 1.0, 2.0, 3.0, 4.0}


def test_histogram_strategy_draws_the_same_structure():
    # many runs per source with few distinct values: stage 2 is one multinomial per drawn source
    groups = np.repeat([0, 1, 2], 60)
    values = np.repeat([0.0, 10.0, 20.0], 60) + np.tile([0.0, 1.0], 90)
    grid, index = layout(values)
    sample = Sample(index, grid.size, groups)
    assert sample.use_histograms
    h, totals = hists(sample, 500, seed=3)
    per_source = h.reshape(500, 3, 2).sum(axis=2) / 60
    assert np.array_equal(per_source, np.round(per_source)) and np.all(per_source.sum(axis=1) == 3)
    assert np.all(totals == 180)


def test_a_pool_draws_the_same_sources_for_every_sample():
    # two samples on the pool's sources 0..3; the second lacks source 3, and adds no runs when it is drawn
    pool = np.arange(4)
    a_groups, b_groups = np.repeat(pool, 2), np.repeat([0, 1, 2], 2)
    ga, ia = layout(a_groups)
    gb, ib = layout(b_groups)
    a = Sample(ia, ga.size, a_groups, pool=pool)
    b = Sample(ib, gb.size, b_groups, pool=pool)

    def counts(d):
        return d.hist()

    ha = resample(counts, 300, Stream(a, np.random.default_rng(1), np.random.default_rng(9)))
    hb = resample(counts, 300, Stream(b, np.random.default_rng(2), np.random.default_rng(9)))
    assert np.array_equal(ha[:, :3], hb)  # same sources drawn, each bringing its two runs
    assert np.array_equal(hb.sum(axis=1), 8 - ha[:, 3])


# ----------------------------------------------------------------------------- known answers


def test_plain_bootstrap_of_two_runs():
    # a resample of [0, 1] has mean 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4
    grid, index = layout([0.0, 1.0])
    means = resample(mean_of(grid), 20000, Stream(Sample(index, grid.size), np.random.default_rng(0)))
    shares = [np.mean(means == v) for v in (0.0, 0.5, 1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=4 * math.sqrt(0.25 / 20000))


def test_two_constant_sources_give_the_three_means():
    # sources of constant runs 0.7 and 0.9: drawing 2 sources gives 0.7, 0.8, 0.9 w.p. 1/4, 1/2, 1/4
    values, groups = np.repeat([0.7, 0.9], 5), np.repeat([0, 1], 5)
    grid, index = layout(values)
    means = resample(mean_of(grid), 20000, Stream(Sample(index, grid.size, groups), np.random.default_rng(1)))
    shares = [np.mean(np.isclose(means, v)) for v in (0.7, 0.8, 0.9)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=4 * math.sqrt(0.25 / 20000))


@pytest.mark.parametrize("groups", [None, [0] * 6, [0, 0, 1, 1, 2, 2]])
def test_all_equal_values_give_a_zero_width_interval(groups):
    # one source model (or none, or three) of equal runs: every resample has the same mean
    grid, index = layout([0.8] * 6)
    sample = Sample(index, grid.size, None if groups is None else np.array(groups))
    means = resample(mean_of(grid), 200, Stream(sample, np.random.default_rng(0)))
    assert np.ptp(means) == 0 and means[0] == pytest.approx(0.8)
    d = stats.describe([0.8] * 6, seed=0, groups=groups)
    assert d["ci_low"] == d["ci_high"] == 0.8


def test_cluster_variance_per_column_is_the_one_column_answer():
    rng = np.random.default_rng(4)
    values, groups = rng.uniform(0, 1, (9, 3)), np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    by_column = [float(cluster_variance(values[:, e], groups)) for e in range(3)]
    np.testing.assert_allclose(cluster_variance(values, groups), by_column, rtol=1e-12)
    # balanced sources: the variance of the K source means over K
    balanced = np.array([0.69, 0.71, 0.89, 0.91])
    assert float(cluster_variance(balanced, [0, 0, 1, 1])) == pytest.approx(np.var([0.7, 0.9], ddof=1) / 2)


# ----------------------------------------------------------------------------- chunks


CHUNK_CASES = {
    "plain, histograms": (np.repeat([0.7, 0.8, 0.9], 40), None),
    "plain, by index": (np.arange(30) / 30, None),
    "two-stage, balanced": (np.arange(24) % 7 / 10, np.repeat(np.arange(6), 4)),
    "two-stage, unbalanced": (np.arange(23) % 5 / 10, np.array([0] * 3 + [1] * 12 + [2] * 8)),
    "two-stage, histograms": (np.tile([0.1, 0.2], 120) + np.repeat([0, 1, 2, 3], 60), np.repeat(np.arange(4), 60)),
}


@pytest.mark.parametrize("case", CHUNK_CASES)
def test_chunking_gives_the_same_numbers(case):
    values, groups = CHUNK_CASES[case]
    grid, index = layout(values)
    sample = Sample(index, grid.size, groups)

    def run(chunk_cells):
        return resample(lambda d: d.hist(), 301, Stream(sample, np.random.default_rng(5)), chunk_cells=chunk_cells)

    whole = run(1 << 30)
    for cells in (1, 7 * max(sample.width, grid.size), 100 * max(sample.width, grid.size)):
        assert np.array_equal(run(cells), whole), cells


def test_chunking_two_streams_gives_the_same_numbers():
    # an arm in two stages and a baseline drawn in lockstep, each from its own generator
    ga, ia = layout(np.arange(20) % 6)
    gb, ib = layout(np.arange(15) % 4)
    arm, base = Sample(ia, ga.size, np.repeat(np.arange(5), 4)), Sample(ib, gb.size)

    def run(cells):
        return resample(
            lambda da, db: np.stack([da.sums(ga) / da.totals, db.sums(gb) / db.totals], axis=1),
            97,
            Stream(arm, np.random.default_rng(1)),
            Stream(base, np.random.default_rng(2)),
            chunk_cells=cells,
        )

    assert np.array_equal(run(1), run(1 << 30))


def test_draw_forms_agree():
    # sums(column) is hist() @ column whichever way the resamples were drawn
    rng = np.random.default_rng(6)
    column = rng.normal(size=5)
    by_index = Draw(np.full(3, 4), 5, runs=rng.integers(0, 4, (3, 4)), index=np.array([0, 2, 2, 4]))
    by_counts = Draw(np.full(3, 4), 5, counts=rng.multinomial(4, [0.5, 0.5], size=3), cols=np.array([1, 3]))
    for draw in (by_index, by_counts):
        np.testing.assert_allclose(draw.sums(column), draw.hist() @ column, rtol=1e-12)
        assert np.array_equal(draw.hist().sum(axis=1), draw.totals)


# ----------------------------------------------------------------------------- statistics as a parameter


@pytest.mark.parametrize("n", [7, 8])  # odd and even: the median is one order statistic or the mean of two
def test_gate_statistics_from_histograms_are_those_of_the_runs(n):
    rng = np.random.default_rng(n)
    values = rng.integers(380, 420, n) / 500
    grid, index = layout(values)
    runs = rng.integers(0, n, (50, n))
    draw = Draw(np.full(50, n), grid.size, runs=runs, index=index)
    got = gate._statistics_of_draws(grid)(draw)
    direct = gate.statistics_of(values[runs])
    for i, name in enumerate(gate.STATISTICS):
        np.testing.assert_allclose(got[:, i], direct[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_gate_statistics_of_resamples_of_different_sizes():
    # two-stage resamples of unequal sources differ in size: grid [1, 2, 3], resamples {1, 2, 3}, {1, 1, 3, 3}
    # and {2, 2, 2, 3}: means 2, 2, 2.25; medians 2, (1 + 3) / 2 = 2, 2; SDs 1, sqrt(4/3), 1/2
    hist = np.array([[1.0, 1, 1], [2, 0, 2], [0, 3, 1]])
    got = gate._statistics_of_draws(np.array([1.0, 2, 3]))(Draw(np.array([3, 4, 4]), 3, hist=hist))
    np.testing.assert_allclose(got, [[2, 2, 1], [2, 2, math.sqrt(4 / 3)], [2.25, 2, 0.5]], rtol=1e-12)


def test_gate_se_of_constant_sources_is_the_spread_of_source_means():
    # two-stage SE of the mean of sources of constant runs: sd of the resampled means of 4 sources
    values, groups = np.repeat([0.70, 0.76, 0.80, 0.86], 5), np.repeat(np.arange(4), 5)
    se = gate.bootstrap_se(values, groups, seed=0, n_resamples=20000)
    expected = math.sqrt(np.var([0.70, 0.76, 0.80, 0.86]) / 4)  # bootstrap of 4 means: population var / 4
    assert se["mean"] == pytest.approx(expected, rel=0.03)
    assert gate.bootstrap_se(values, None, seed=0)["mean"] < se["mean"] / 2  # runs as independent: too small


# ----------------------------------------------------------------------------- seeds by name


def gate_arms(order):
    rng = np.random.default_rng(8)
    arms = {
        "standalone": {"accuracy": rng.integers(380, 420, 30) / 500, "groups": None},
        "transfer fixed=0": {"accuracy": rng.integers(390, 430, 30) / 500, "groups": np.repeat(np.arange(6), 5)},
        "transfer fixed=1": {"accuracy": rng.integers(385, 425, 30) / 500, "groups": np.repeat(np.arange(6), 5)},
    }
    return [{"arm": name, "n_diverged": 0, **arms[name]} for name in order]


def test_reordering_arms_changes_no_gate_band():
    names = ["standalone", "transfer fixed=0", "transfer fixed=1"]
    first = gate.make_baseline(gate_arms(names), n_test=500, run={}, source="x", seed=0)["arms"]
    other = gate.make_baseline(gate_arms(names[::-1]), n_test=500, run={}, source="x", seed=0)["arms"]
    alone = gate.make_baseline(gate_arms(names[1:2]), n_test=500, run={}, source="x", seed=0)["arms"]
    assert first == other and alone["transfer fixed=0"] == first["transfer fixed=0"]
    assert first["transfer fixed=0"]["mean"]["se"] != first["transfer fixed=1"]["mean"]["se"]


def test_reordering_arms_changes_no_p_best_or_comparison():
    rng = np.random.default_rng(9)
    groups = np.repeat(np.arange(5), 4)
    correct = {
        "standalone": rng.integers(380, 420, 20),
        "a": rng.integers(385, 425, 20),
        "b": rng.integers(380, 430, 20),
    }
    accuracies = {k: v / 500 for k, v in correct.items()}
    g = {"a": groups, "b": groups}
    forward = ranking.p_best(accuracies, g, seed=3, n_resamples=500)
    backward = ranking.p_best(dict(reversed(list(accuracies.items()))), g, seed=3, n_resamples=500)
    assert forward == backward
    rows = stats.compare_arms(accuracies, correct, "standalone", seed=3, groups=g, n_resamples=499)
    swapped = stats.compare_arms(
        {k: accuracies[k] for k in ("standalone", "b", "a")}, correct, "standalone", seed=3, groups=g, n_resamples=499
    )
    by_arm = {r["arm"]: r for r in swapped}
    for row in rows:
        assert (row["diff_ci_low"], row["a12_ci_high"]) == (
            by_arm[row["arm"]]["diff_ci_low"],
            by_arm[row["arm"]]["a12_ci_high"],
        )


# ----------------------------------------------------------------------------- the numbers stay


def pinned_cases():
    rng = np.random.default_rng(42)
    g1 = np.repeat(np.arange(10), 5)
    v1 = np.round((0.8 + 0.04 * np.repeat(rng.normal(size=10), 5) + 0.01 * rng.normal(size=50)) * 500) / 500
    g2 = np.array([0] * 3 + [1] * 12 + [2] * 8)
    v2 = np.round((0.8 + 0.02 * rng.normal(size=23)) * 500) / 500
    g3 = np.repeat(np.arange(4), 60)
    v3 = (400 + np.repeat([0, 5, 10, 15], 60) + rng.integers(0, 3, 240)) / 500
    return [(v1, g1, 0.011986915814664621), (v2, g2, 0.004741701683526155), (v3, g3, 0.006391834120432784)]


def test_nested_cis_in_one_chunk_keep_their_numbers():
    """The two-stage SEs of the code before the resampling core (balanced and unbalanced sources by index, and
    sources on histograms), from the same seed: the core draws in the same order when one chunk holds them."""
    for values, groups, se in pinned_cases():
        assert stats.nested_mean_ci(values, groups, seed=7)["se"] == pytest.approx(se, rel=1e-12)
    # and the runs-as-independent path above scipy's size (histograms, and index draws of many distinct values)
    d = stats.describe(np.random.default_rng(1).integers(380, 440, 300) / 500, seed=3)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((0.8166279510044787, 0.82456), rel=1e-12)
    d = stats.describe(np.random.default_rng(2).normal(0.8, 0.03, 300), seed=3)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((0.7949689198190875, 0.8018058647461817), rel=1e-12)
