"""Rank agreement between a transferability score and the source models' realised means: known answers, the
resampling through the one core, and a score that knows nothing."""

import numpy as np
import pytest
from scipy.stats import spearmanr, weightedtau

from blobs_transfer.stats import rank_agreement
from blobs_transfer.stats.nested import source_means
from blobs_transfer.stats.resample import Sample, Stream, resample


def nested(seed=0, k=30, runs=3, spread=0.05, noise=0.01):
    """K source models of quality q, `runs` runs each around 0.8 + spread q: (q (K,), accuracy (N,), groups (N,))."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=k)
    groups = np.repeat(np.arange(k), runs)
    return q, np.round(0.8 + spread * q[groups] + noise * rng.normal(size=k * runs), 3), groups


def test_ranks_are_scipys_rankdata():
    from scipy.stats import rankdata

    x = np.round(np.random.default_rng(0).normal(size=(5, 9)))
    assert rank_agreement._ranks(x) == pytest.approx(rankdata(x, axis=1), abs=0)
    assert rank_agreement._ranks(x[0]) == pytest.approx(rankdata(x[0]), abs=0)


def test_spearman_rows_is_scipys_with_ties():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, (6, 12)).astype(float)
    y = rng.normal(size=(6, 12))
    expect = [spearmanr(a, b).statistic for a, b in zip(x, y)]
    assert rank_agreement.spearman_rows(x, y) == pytest.approx(expect, rel=1e-12)
    assert np.isnan(
        rank_agreement.spearman_rows(np.ones((1, 5)), y[:1, :5])[0]
    )  # a constant score has no rank correlation


@pytest.mark.parametrize("k, ties", [(10, False), (40, True), (6, True)])
def test_weighted_tau_rows_is_scipys_weightedtau(k, ties):
    rng = np.random.default_rng(k)
    x, y = rng.normal(size=(20, k)), rng.normal(size=(20, k))
    if ties:  # ties in x, in y, and whole pairs repeated (a source drawn twice)
        x, y = np.round(x), np.round(2 * y)
        x[:, 1], y[:, 1] = x[:, 0], y[:, 0]
    expect = [weightedtau(a, b).statistic for a, b in zip(x, y)]
    assert rank_agreement.weighted_tau_rows(x, y, block=7) == pytest.approx(expect, rel=1e-12, abs=1e-14)
    assert rank_agreement.weighted_tau(x[0], y[0]) == pytest.approx(expect[0], rel=1e-15)
    assert np.isnan(rank_agreement.weighted_tau_rows(np.ones((1, 5)), y[:1, :5])[0])


def test_top_pick_hits_by_hand():
    y = np.array([[0.1, 0.9, 0.5, 0.3, 0.2, 0.4, 0.6, 0.7, 0.8, 0.0]])
    assert (
        rank_agreement.top_pick_hits(np.array([[0, 5, 0, 0, 0, 0, 0, 0, 0, 0.0]]), y)[0] == 1.0
    )  # picks the best of 10
    assert (
        rank_agreement.top_pick_hits(np.array([[0, 0, 0, 0, 0, 0, 0, 0, 5, 0.0]]), y)[0] == 0.0
    )  # the second best is not top 10%
    assert (
        rank_agreement.top_pick_hits(np.array([[0, 5, 0, 0, 0, 0, 0, 0, 5, 0.0]]), y)[0] == 0.5
    )  # a tie at the top splits
    assert rank_agreement.top_pick_hits(np.array([[0, 0, 0, 0, 0, 0, 0, 0, 5, 0.0]]), y, share=0.2)[0] == 1.0


def test_a_score_that_is_the_truth_and_one_that_is_its_opposite():
    q, acc, groups = nested(2)
    labels, means = source_means(acc, groups)
    out = rank_agreement.agreement(
        {"truth": means, "opposite": -means}, labels, acc, groups, seed=0, arm="a", n_resamples=200
    )
    truth, opposite = out["truth"], out["opposite"]
    assert truth["rho"] == pytest.approx(1.0) and truth["tau"] == pytest.approx(1.0)
    assert truth["rho_ci"][0] > 0.9 and truth["top_pick_rank"] == 1.0 and truth["top_pick_in_top"] == 1.0
    assert opposite["rho"] == pytest.approx(-1.0) and opposite["top_pick_rank"] == 30.0
    assert opposite["top_pick_in_top"] == 0.0 and opposite["top_pick_rate"] < 0.05
    assert truth["n_sources"] == 30


def test_point_estimates_are_scipys_and_the_cis_cover_them():
    q, acc, groups = nested(3)
    labels, means = source_means(acc, groups)
    score = q + np.random.default_rng(4).normal(size=q.size)  # informative, noisy
    row = rank_agreement.agreement({"s": score}, labels, acc, groups, seed=5, arm="a", n_resamples=300)["s"]
    assert row["rho"] == pytest.approx(spearmanr(score, means).statistic, rel=1e-12)
    assert row["tau"] == pytest.approx(weightedtau(score, means).statistic, rel=1e-12)
    assert row["rho_ci"][0] < row["rho"] < row["rho_ci"][1] and row["tau_ci"][0] < row["tau"] < row["tau_ci"][1]
    assert 0.1 < row["rho_ci"][1] - row["rho_ci"][0] < 0.9  # 30 sources leave a wide but finite interval


def test_the_difference_to_a_reference_score_is_paired():
    q, acc, groups = nested(9)
    labels, means = source_means(acc, groups)
    rng = np.random.default_rng(10)
    scores = {"good": q + 0.3 * rng.normal(size=q.size), "poor": q + 3 * rng.normal(size=q.size)}
    scores["good again"] = scores["good"] * 2 + 1  # the same ranking
    out = rank_agreement.agreement(scores, labels, acc, groups, seed=1, arm="a", n_resamples=300, reference="good")
    assert out["poor"]["rho_diff"] == pytest.approx(out["poor"]["rho"] - out["good"]["rho"], abs=1e-12)
    assert out["good again"]["rho_diff"] == 0.0 and out["good again"]["rho_diff_ci"] == [0.0, 0.0]
    low, high = out["poor"]["rho_diff_ci"]
    assert low < out["poor"]["rho_diff"] < high < 0  # paired: far narrower than the two rho intervals
    assert high - low < (out["poor"]["rho_ci"][1] - out["poor"]["rho_ci"][0]) + (
        out["good"]["rho_ci"][1] - out["good"]["rho_ci"][0]
    )
    assert (
        "rho_diff" not in rank_agreement.agreement(scores, labels, acc, groups, seed=1, arm="a", n_resamples=50)["poor"]
    )


def test_the_resamples_are_named_by_arm_and_repeat_exactly():
    q, acc, groups = nested(6)
    labels, _ = source_means(acc, groups)
    a = rank_agreement.agreement({"q": q}, labels, acc, groups, seed=7, arm="transfer fixed=0", n_resamples=100)
    assert a == rank_agreement.agreement({"q": q}, labels, acc, groups, seed=7, arm="transfer fixed=0", n_resamples=100)
    assert a != rank_agreement.agreement({"q": q}, labels, acc, groups, seed=7, arm="transfer fixed=1", n_resamples=100)
    # the scores share their resamples: adding a score leaves another's numbers as they were
    both = rank_agreement.agreement(
        {"q": q, "noise": np.arange(q.size)}, labels, acc, groups, seed=7, arm="transfer fixed=0", n_resamples=100
    )
    assert both["q"] == a["q"]


def test_each_resample_holds_k_drawn_sources_with_their_drawn_runs():
    """With one run per source each drawn source's mean is its run: the expanded draw is K sources of the
    sample, as often as stage 1 drew them."""
    k = 12
    acc = np.linspace(0.5, 0.9, k)
    groups = np.arange(k)
    onehot = np.eye(k)
    seen = []

    def statistic(draw):
        src, means = rank_agreement._expanded(draw, onehot, acc, np.ones(k))
        seen.append((src, means))
        return np.zeros(src.shape[0])

    sample = Sample(np.arange(k), k, groups)
    resample(statistic, 50, Stream(sample, np.random.default_rng(8)))
    src, means = seen[0]
    assert src.shape == (50, k) and np.all(np.diff(src, axis=1) >= 0)
    drawn = np.take_along_axis(means, src, axis=1)
    assert drawn == pytest.approx(acc[src])
    assert len({tuple(r) for r in src}) > 40  # the resamples differ


def test_too_few_sources_or_a_source_without_a_score_is_refused():
    acc, groups = np.array([0.7, 0.8, 0.9, 0.6]), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="at least 3"):
        rank_agreement.agreement({"s": np.array([1.0, 2.0])}, np.array([0, 1]), acc, groups, seed=0, arm="a")
    acc, groups = np.array([0.7, 0.8, 0.9]), np.array([0, 1, 5])
    with pytest.raises(ValueError, match="each with a score"):
        rank_agreement.agreement({"s": np.array([1.0, 2.0, 3.0])}, np.array([0, 1, 2]), acc, groups, seed=0, arm="a")


def tied_sources():
    """Six source models, three runs each out of 500 test rows; sources 0 and 1 both got 1219 of 1500 right (410,
    399, 410 and 406, 406, 407), which float averaging makes two different means. A score (K,) that ties them too."""
    correct = np.array([[410, 399, 410], [406, 406, 407], [380, 390, 385], [420, 421, 419], [300, 310, 305], [402] * 3])
    groups = np.repeat(np.arange(6), 3)
    score = np.array([1.0, 1.0, 0.2, 3.0, -1.0, 0.5])
    return score, correct.reshape(-1) / 500, groups


def test_equal_realised_means_tie_in_the_point_estimates_and_match_scipy():
    """With n_test the means are exact fractions: sources 0 and 1 tie, and rho and tau are scipy's on the exact
    means (1219/1500 twice). Averaged as floats they do not tie and rho is another number."""
    score, acc, groups = tied_sources()
    exact = np.array([1219, 1219, 1155, 1260, 915, 1206]) / 1500
    row = rank_agreement.agreement(
        {"s": score}, np.arange(6), acc, groups, seed=0, arm="a", n_resamples=50, n_test=500
    )["s"]
    assert row["rho"] == pytest.approx(spearmanr(score, exact).statistic, abs=1e-15)
    assert row["tau"] == pytest.approx(weightedtau(score, exact).statistic, abs=1e-15)
    floats = source_means(acc, groups)[1]
    assert floats[0] != floats[1]  # the rounding that the exact means remove
    assert spearmanr(score, floats).statistic != pytest.approx(row["rho"], abs=1e-3)


def test_equal_realised_means_tie_in_every_resample():
    """A resample that draws both tied sources with all their runs once gives them the same double."""
    _, acc, groups = tied_sources()
    onehot = np.eye(6)[groups]
    counts = np.rint(acc * 500)

    class Whole:  # a resample that draws every run once
        def hist(self):
            return np.ones((1, groups.size))

    _, exact = rank_agreement._expanded(Whole(), onehot, counts, np.full(6, 3.0), 500)
    assert exact[0, 0] == exact[0, 1] == 1219 / 1500
    with pytest.raises(ValueError, match="whole counts"):
        rank_agreement.agreement({"s": np.arange(6.0)}, np.arange(6), acc + 1e-4, groups, seed=0, arm="a", n_test=500)


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_tau_is_scipys_to_the_last_bit(ties):
    """The point estimate is scipy's algorithm step for step (no scipy.stats on the commands' path): equal bits,
    with ties in either variable or both."""
    rng = np.random.default_rng(11 + ties)
    for _ in range(200):
        k = int(rng.integers(2, 40))
        x = rng.integers(0, 4, k).astype(float) if ties else rng.normal(size=k)
        y = rng.integers(0, 3, k).astype(float) if ties else rng.normal(size=k)
        expect = weightedtau(x, y).statistic
        got = rank_agreement.weighted_tau(x, y)
        assert got == expect or (np.isnan(got) and np.isnan(expect))


def assert_drawn_statistics_are_the_row_functions(x, means, src, block):
    """drawn_statistics of scores x (S, K) and realised means (b, K) over drawn sources src (b, K), an undrawn
    source's mean NaN, equal spearman_rows, weighted_tau_rows and top_pick_hits on the expanded rows exactly."""
    means = means.copy()
    drawn = np.zeros(means.shape, dtype=bool)
    drawn[np.arange(means.shape[0])[:, None], src] = True
    means[~drawn] = np.nan
    got = rank_agreement.drawn_statistics(x, means, src, block=block)
    y = np.take_along_axis(means, src, axis=1)
    for j in range(x.shape[0]):
        xs = x[j][src]
        np.testing.assert_array_equal(got[:, j, 0], rank_agreement.spearman_rows(xs, y))
        np.testing.assert_array_equal(got[:, j, 1], rank_agreement.weighted_tau_rows(xs, y))
        np.testing.assert_array_equal(got[:, j, 2], rank_agreement.top_pick_hits(xs, y))


@pytest.mark.parametrize("ties", [False, True])
def test_drawn_statistics_are_the_row_functions_to_the_last_bit(ties):
    """The resamples' statistics from the drawn sources' counts equal the row functions on the expanded rows
    exactly (the CIs must not move a digit), undrawn sources' NaN means included."""
    rng = np.random.default_rng(3 + ties)
    for _ in range(6):
        k, b = int(rng.integers(3, 30)), 40
        x = rng.integers(0, 5, size=(3, k)).astype(float) if ties else rng.normal(size=(3, k))
        means = rng.integers(0, 4, size=(b, k)) / 4.0 if ties else rng.normal(size=(b, k))
        src = np.sort(rng.integers(0, k, size=(b, k)), axis=1)
        assert_drawn_statistics_are_the_row_functions(x, means, src, block=7)


def test_drawn_statistics_at_the_gates_size_are_the_row_functions_to_the_last_bit():
    """At the gate's size (200 sources, 12 scores) and over blocks of rows, realised means as fractions that
    tie and a score with ties: still the row functions' numbers exactly."""
    rng = np.random.default_rng(29)
    k, b = 200, 24
    x = rng.normal(size=(12, k))
    x[3] = rng.integers(0, 40, k) / 40.0  # a score like an accuracy: many ties
    means = rng.integers(400, 450, size=(b, k)) / 500.0
    src = np.sort(rng.integers(0, k, size=(b, k)), axis=1)
    assert_drawn_statistics_are_the_row_functions(x, means, src, block=10)


@pytest.mark.parametrize("k", [3, 5, 64, 65, 130])
def test_drawn_statistics_with_ties_everywhere_are_the_row_functions_to_the_last_bit(k):
    """Ties in the score and the mean at once (sources equal in both), a constant score, one tied at the top, -0.0
    beside 0.0 and infinite scores, every mean equal, a few sources drawn many times, and resamples of 1 to 3
    sources among K = 3 to 130 (bit sets of one to three words): still the row functions' numbers exactly."""
    rng = np.random.default_rng(40 + k)
    b = 36
    x = rng.integers(0, 3, size=(5, k)).astype(float)
    x[1] = 2.0  # constant: rho and tau undefined
    x[2, : (k + 1) // 2] = x[2].max() + 1.0  # half the sources tied at the top
    x[3] = rng.choice([-np.inf, -0.0, 0.0, 1.0, np.inf], size=k)
    means = rng.integers(0, 3, size=(b, k)) / 2.0
    means[:6] = 0.5  # every drawn mean equal
    src = np.sort(rng.integers(0, k, size=(b, k)), axis=1)
    src[6:18] = np.sort(rng.integers(0, min(k, 3), size=(12, k)), axis=1)  # one to three sources, many copies
    assert_drawn_statistics_are_the_row_functions(x, means, src, block=8)
