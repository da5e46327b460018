"""Tests that kill mutants of blobs_transfer.stats.compare which the other stats tests let through
(benchmarks/mutation.sh; the mutants each test kills are named in it). Expected values come from the documented
rule each function follows, rebuilt here from the public building blocks (named streams, `resample`, pairwise
A12), or by hand."""

import math

import numpy as np
import pytest

from blobs_transfer.seeds import statistic_rng, statistic_seed
from blobs_transfer.stats.bootstrap import interval_from
from blobs_transfer.stats.common import grid_of, t_interval, welch_df
from blobs_transfer.stats.compare import (
    _cis_from_core,
    _parts,
    clustered_brunner_munzel,
    compare_arms,
    compare_independent,
    compare_nested,
    compare_to_baseline,
    holm,
    nested_compare,
)
from blobs_transfer.stats.effects import a12_of_histograms, hedges_g
from blobs_transfer.stats.nested import nested_keys
from blobs_transfer.stats.resample import Sample, Stream, resample

# nested arm: 3 sources x 4 runs (counts of 10), independent baseline of 5 runs
ARM_C = np.array([6, 7, 7, 8, 5, 6, 9, 7, 8, 8, 6, 9])
GROUPS = np.repeat([0, 1, 2], 4)
BASE_C = np.array([5, 7, 6, 4, 8])
SMALL_C, SMALL_G = np.array([6, 8, 5, 7]), np.array([0, 0, 1, 1])  # 2 sources x 2 runs


def pairwise_a12(a, b):
    """A12 by its definition: P(a > b) + P(a = b) / 2 over all pairs."""
    a, b = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


def test_holm_rejects_p_values_above_one_and_names_them():
    """holm mutants: the range check 0 <= p <= 1 -> <= 2, and the message dropped."""
    with pytest.raises(ValueError, match=r"position 1 is not in \[0, 1\]: 1.5"):
        holm([0.1, 1.5])


def test_compare_to_baseline_names_the_bad_input():
    """compare_to_baseline mutants that change or drop the names given to the validators, or n_test."""
    a, b = np.array([0.5, 0.6]), np.array([0.4, 0.7])
    with pytest.raises(ValueError, match="^arm must be 1-D"):
        compare_to_baseline(np.ones((2, 2)), b, [1, 2], [1, 2], seed=0)
    with pytest.raises(ValueError, match="^baseline must be 1-D"):
        compare_to_baseline(a, np.ones((2, 2)), [1, 2], [1, 2], seed=0)
    with pytest.raises(ValueError, match="^arm_correct has 3 entries"):
        compare_to_baseline(a, b, [1, 2, 3], [1, 2], seed=0)
    with pytest.raises(ValueError, match="^baseline_correct has 3 entries"):
        compare_to_baseline(a, b, [1, 2], [1, 2, 3], seed=0)
    with pytest.raises(ValueError, match=r"^arm_correct must lie in 0..n_test=5"):
        compare_to_baseline(a, b, [1, 6], [1, 2], seed=0, n_test=5)
    with pytest.raises(ValueError, match=r"^baseline_correct must lie in 0..n_test=5"):
        compare_to_baseline(a, b, [1, 2], [1, 6], seed=0, n_test=5)


def test_nested_compare_names_the_bad_input():
    """nested_compare's own validation (it has no other test): names, n_test, the groups' shape."""
    a, b, g = np.array([0.5, 0.6, 0.7]), np.array([0.4, 0.7]), [0, 1, 1]
    kw = dict(seed=0, a12_ci=False, n_resamples=5)
    with pytest.raises(ValueError, match="^arm must be 1-D"):
        nested_compare(np.ones((3, 1)), b, [1, 2, 3], [1, 2], g, **kw)
    with pytest.raises(ValueError, match="^baseline must be 1-D"):
        nested_compare(a, np.ones((2, 2)), [1, 2, 3], [1, 2], g, **kw)
    with pytest.raises(ValueError, match="^arm_correct has 2 entries"):
        nested_compare(a, b, [1, 2], [1, 2], g, **kw)
    with pytest.raises(ValueError, match="^baseline_correct has 3 entries"):
        nested_compare(a, b, [1, 2, 3], [1, 2, 3], g, **kw)
    with pytest.raises(ValueError, match=r"^arm_correct must lie in 0..n_test=5"):
        nested_compare(a, b, [1, 2, 6], [1, 2], g, n_test=5, **kw)
    with pytest.raises(ValueError, match=r"^baseline_correct must lie in 0..n_test=5"):
        nested_compare(a, b, [1, 2, 3], [1, 6], g, n_test=5, **kw)
    with pytest.raises(ValueError, match="^groups has shape"):
        nested_compare(a, b, [1, 2, 3], [1, 2], [0, 1], **kw)
    # n_test reaches compare_to_baseline too (a12_ci=True)
    with pytest.raises(ValueError, match=r"^arm_correct must lie in 0..n_test=5"):
        nested_compare(a, b, [1, 2, 6], [1, 2], g, seed=0, n_test=5, n_resamples=5)
    with pytest.raises(ValueError, match="^confidence must be in"):
        nested_compare(a, b, [1, 2, 3], [1, 2], g, confidence=1.0, **kw)


def test_nested_compare_is_compare_to_baseline_with_a12_ci():
    """nested_compare mutants on the a12_ci=True path (its default): every argument reaches compare_to_baseline,
    and the defaults (confidence 0.95, 9999 resamples) are compare_to_baseline's."""
    acc, base = ARM_C / 10, BASE_C / 10
    args = (acc, base, ARM_C, BASE_C)
    got = nested_compare(*args, GROUPS, seed=4, n_test=10, confidence=0.8, n_resamples=50)
    assert got == compare_to_baseline(*args, seed=4, groups=GROUPS, n_test=10, confidence=0.8, n_resamples=50)
    assert got["a12_ci_low"] is not None and got["verdict_test"].startswith("clustered")
    # the defaults, on 2 sources x 2 runs against 3 (9999 resamples of so few runs are quick)
    small = (SMALL_C / 10, BASE_C[:3] / 10, SMALL_C, BASE_C[:3])
    assert nested_compare(*small, SMALL_G, seed=4) == compare_to_baseline(
        *small, seed=4, groups=SMALL_G, confidence=0.95, n_resamples=9999
    )


def test_nested_compare_without_a12_ci_drops_only_a12_s_interval():
    """nested_compare mutants on the a12_ci=False path: the same row as with a12_ci=True (the difference's
    resamples are the same draws) except A12's interval (None, None); K = 2 sources is nested (not < 2)."""
    acc, base = ARM_C / 10, BASE_C / 10
    for groups in (GROUPS, np.repeat([0, 1], 6)):
        kw = dict(seed=4, n_test=10, confidence=0.8, n_resamples=50)
        full = nested_compare(acc, base, ARM_C, BASE_C, groups, **kw)
        lean = nested_compare(acc, base, ARM_C, BASE_C, groups, a12_ci=False, **kw)
        assert lean == {**full, "a12_ci_low": None, "a12_ci_high": None}
        assert full["a12_ci_low"] is not None and list(lean) == list(full)
        assert lean["verdict_p"] == clustered_brunner_munzel(ARM_C, groups, BASE_C)["p"]
        assert lean["n_sources"] == nested_keys(acc, groups)["n_sources"] == np.unique(groups).size
    # one source: a12_ci is ignored, the runs are compared as independent
    one = nested_compare(acc, base, ARM_C, BASE_C, np.zeros(12), seed=4, a12_ci=False, n_resamples=50)
    assert one == compare_to_baseline(acc, base, ARM_C, BASE_C, seed=4, groups=np.zeros(12), n_resamples=50)
    assert one["a12_ci_low"] is not None


def test_nested_compare_a12_ci_false_default_settings():
    """nested_compare mutant: its defaults confidence 0.95 and 9999 resamples on the a12_ci=False path too."""
    small = (SMALL_C / 10, BASE_C[:3] / 10, SMALL_C, BASE_C[:3])
    lean = nested_compare(*small, SMALL_G, seed=1, a12_ci=False)
    full = compare_to_baseline(*small, seed=1, groups=SMALL_G, confidence=0.95, n_resamples=9999)
    assert lean == {**full, "a12_ci_low": None, "a12_ci_high": None}


# runs with many distinct values: intervals from different resamples (9999 vs 10000, another stream) differ
RICH_A = np.array([412, 431, 398, 445, 420, 407, 439, 426, 401, 417, 433, 409])
RICH_B = np.array([405, 399, 421, 388, 413, 396, 427, 402, 392, 410, 385, 418])


def test_compare_to_baseline_defaults_and_two_sources():
    """compare_to_baseline mutants: default n_resamples 9999 (-> 10000); two sources are nested (> 1, not > 2)."""
    a, b = RICH_A, RICH_B
    got = compare_to_baseline(a / 500, b / 500, a, b, seed=3)
    assert got == {
        **compare_independent(a / 500, b / 500, a, b, seed=3, confidence=0.95, n_resamples=9999),
        **nested_keys(a / 500, None),
        "verdict_test": got["verdict_test"],
        "verdict_p": got["mwu_p"],
    }
    assert got != {**got, **compare_independent(a / 500, b / 500, a, b, seed=3, confidence=0.95, n_resamples=10000)}
    a, b = np.array([6, 7, 9, 5]), np.array([5, 7, 4, 6])
    two = compare_to_baseline(a / 10, b / 10, a, b, seed=3, groups=[0, 0, 1, 1], n_resamples=20)
    assert two["verdict_test"].startswith("clustered") and two["n_sources"] == 2


def test_compare_arms_passes_its_settings_and_names_the_seed():
    """compare_arms mutants: seed statistic_seed(seed, "compare", arm), n_test, confidence and n_resamples reach
    compare_to_baseline; correct counts missing for an arm raise, naming it."""
    acc = {"base": np.array([0.5, 0.7, 0.6]), "x": np.array([0.6, 0.9, 0.8])}
    cor = {k: np.round(v * 10).astype(int) for k, v in acc.items()}
    rows = compare_arms(acc, cor, "base", seed=7, n_test=10, confidence=0.8, n_resamples=30)
    expected = compare_to_baseline(
        acc["x"],
        acc["base"],
        cor["x"],
        cor["base"],
        seed=statistic_seed(7, "compare", "x"),
        confidence=0.8,
        n_resamples=30,
    )
    assert {k: rows[0][k] for k in expected} == expected
    with pytest.raises(ValueError, match="must lie in 0..n_test=8"):
        compare_arms(acc, cor, "base", seed=7, n_test=8, n_resamples=30)
    with pytest.raises(ValueError, match=r"correct counts missing for arms \['x'\]"):
        compare_arms(acc, {"base": cor["base"]}, "base", seed=7)


def test_compare_arms_default_resamples():
    """compare_arms mutant: default n_resamples 9999 (-> 10000)."""
    acc = {"base": RICH_B / 500, "x": RICH_A / 500}
    cor = {"base": RICH_B, "x": RICH_A}
    row = compare_arms(acc, cor, "base", seed=7)[0]
    expected = compare_to_baseline(
        acc["x"], acc["base"], cor["x"], cor["base"], seed=statistic_seed(7, "compare", "x"), n_resamples=9999
    )
    assert {k: row[k] for k in expected} == expected


def test_compare_arms_verdict_thresholds_are_strict():
    """compare_arms mutants: default alpha 0.05; "better"/"worse" need p < alpha strictly and a12 > / < 0.5
    strictly; a worse arm without evidence is "no evidence"."""
    base = np.arange(10, 20)
    cor = {"b": base, "up": base + 6, "down": base - 6, "tie": base.copy(), "bit": base - 1}  # "bit": p far above 0.05
    acc = {k: v / 30 for k, v in cor.items()}
    rows = {r["arm"]: r for r in compare_arms(acc, cor, "b", seed=0, n_resamples=20)}
    assert rows["up"]["verdict"] == "better" and rows["down"]["verdict"] == "worse"
    assert rows["bit"]["a12"] < 0.5 and 0.05 < rows["bit"]["verdict_p_holm"] < 1.0
    assert rows["bit"]["verdict"] == "no evidence" and rows["tie"]["verdict"] == "no evidence"
    # at alpha equal to the adjusted p itself the verdict is withheld (p < alpha, not <=)
    for arm in ("up", "down"):
        alpha = rows[arm]["verdict_p_holm"]
        again = {r["arm"]: r for r in compare_arms(acc, cor, "b", seed=0, n_resamples=20, alpha=alpha)}
        assert again[arm]["verdict_p_holm"] == alpha and again[arm]["verdict"] == "no evidence"
    # A12 exactly 1/2 is neither better nor worse, whatever alpha (here every p < 2)
    tie = {r["arm"]: r for r in compare_arms(acc, cor, "b", seed=0, n_resamples=20, alpha=2.0)}["tie"]
    assert tie["a12"] == 0.5 and tie["verdict"] == "no evidence"
    # default alpha 0.05: the "bit" arm's p is between 0.05 and 1
    assert rows["bit"]["verdict"] == "no evidence"


def core_reference(a, b, ac, bc, seed, confidence, n_resamples):
    """`_cis_from_core`'s rule from the building blocks: BCa on the difference with scipy's jackknife acceleration
    of a difference of two means, the percentile interval on A12; streams "arm"/"baseline" on the count grid, and
    "arm accuracy"/"baseline accuracy" on the accuracies' grid when counts do not determine the accuracies."""
    n, m = a.size, b.size
    ua, ub = a - a.mean(), b - b.mean()
    accel = (np.sum(ua**3) / n**3 - np.sum(ub**3) / m**3) / (6.0 * (np.sum(ua**2) / n**2 + np.sum(ub**2) / m**2) ** 1.5)
    grid, (ia, ib) = grid_of(ac.astype(float), bc.astype(float))
    arm = Stream(Sample(ia, grid.size), statistic_rng(seed, "arm"))
    base = Stream(Sample(ib, grid.size), statistic_rng(seed, "baseline"))
    agrid, (aa, ab) = grid_of(a, b)
    theta_diff = resample(
        lambda da, db: da.hist() @ agrid / n - db.hist() @ agrid / m,
        n_resamples,
        Stream(Sample(aa, agrid.size), statistic_rng(seed, "arm accuracy")),
        Stream(Sample(ab, agrid.size), statistic_rng(seed, "baseline accuracy")),
    )
    theta_a12 = resample(lambda da, db: a12_of_histograms(da.hist(), db.hist()), n_resamples, arm, base)
    diff = float(np.mean(a) - np.mean(b))
    return interval_from(theta_diff, diff, confidence, accel) + interval_from(theta_a12, 0.0, confidence, None)


@pytest.mark.parametrize("noisy", ["arm", "baseline", "between"])
def test_cis_from_core_when_counts_do_not_determine_accuracies(noisy):
    """_cis_from_core mutants: the acceleration's formula, every stream's seed and name, and same_partition
    looking at both samples (one count with two accuracies in the arm, in the baseline, or between the two)."""
    ac, bc = np.array([6, 7, 9, 5, 8, 6]), np.array([5, 7, 4, 6, 6, 3, 8])
    a, b = ac / 10, bc / 10
    if noisy == "arm":
        a = a + np.array([0, 0, 0, 0, 0, 0.003])
    elif noisy == "baseline":
        b = b + np.array([0, 0, 0, 0.004, 0, 0, 0])
    else:
        b = b + 0.002  # each sample consistent on its own, the two disagree on counts 6, 7, 8
    diff = float(np.mean(a) - np.mean(b))
    got = _cis_from_core(a, b, ac, bc, diff, pairwise_a12(ac, bc), seed=11, confidence=0.9, n_resamples=300)
    expected = core_reference(a, b, ac, bc, 11, 0.9, 300)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert expected[0] < diff < expected[1]


def test_cis_from_core_on_the_shared_grid():
    """_cis_from_core mutants on the shared count grid: the acceleration and the streams "arm"/"baseline"."""
    ac, bc = np.array([6, 7, 9, 5, 8, 6]), np.array([5, 7, 4, 6, 6, 3, 8])
    a, b = ac / 10, bc / 10
    diff = float(np.mean(a) - np.mean(b))
    got = _cis_from_core(a, b, ac, bc, diff, pairwise_a12(ac, bc), seed=11, confidence=0.9, n_resamples=300)
    n, m = a.size, b.size
    ua, ub = a - a.mean(), b - b.mean()
    accel = (np.sum(ua**3) / n**3 - np.sum(ub**3) / m**3) / (6.0 * (np.sum(ua**2) / n**2 + np.sum(ub**2) / m**2) ** 1.5)
    grid, (ia, ib) = grid_of(ac.astype(float), bc.astype(float))
    arm = Stream(Sample(ia, grid.size), statistic_rng(11, "arm"))
    base = Stream(Sample(ib, grid.size), statistic_rng(11, "baseline"))
    theta = resample(
        lambda da, db: np.stack(
            [da.hist() @ (grid / 10) / n - db.hist() @ (grid / 10) / m, a12_of_histograms(da.hist(), db.hist())], 1
        ),
        300,
        arm,
        base,
    )
    expected = interval_from(theta[:, 0], diff, 0.9, accel) + interval_from(theta[:, 1], 0.0, 0.9, None)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# resamples for the tests of compare_independent: any number reaches the core now (there is no scipy path)
CORE_RESAMPLES = 2_001


@pytest.mark.parametrize("runs", [2, 5, 40])
def test_compare_independent_takes_its_intervals_from_the_core_at_every_size(runs):
    """compare_independent mutants: the seed reaching the core, and no second bootstrap for small problems (2
    runs each, where scipy.stats.bootstrap used to run, up to sizes where the core always did)."""
    ac, bc = np.resize(RICH_A, runs), np.resize(RICH_B, runs)
    got = compare_independent(ac / 500, bc / 500, ac, bc, seed=2, confidence=0.95, n_resamples=CORE_RESAMPLES)
    diff, a12 = got["diff_mean"], got["a12"]
    assert a12 == pairwise_a12(ac, bc)
    expected = _cis_from_core(
        ac / 500, bc / 500, ac, bc, diff, a12, seed=2, confidence=0.95, n_resamples=CORE_RESAMPLES
    )
    assert (got["diff_ci_low"], got["diff_ci_high"], got["a12_ci_low"], got["a12_ci_high"]) == expected


@pytest.mark.parametrize("constant", ["arm", "baseline"])
def test_compare_independent_collapses_an_interval_only_when_both_samples_are_constant(constant):
    """compare_independent mutants on the core path: an interval is (point, point) only when both samples are
    constant (and, or; == 0 not != 0 or == 1; a spread of exactly 1 is a spread). One constant sample of one run
    and a varying one of three still get intervals from the core (a sample of one run has none: "or", not "and")."""
    varying = np.array([0, 1, 0, 1, 1])  # n_test = 1: accuracies are the counts, their spread exactly 1
    fixed = np.ones(5, dtype=int)
    ac, bc = (fixed, varying) if constant == "arm" else (varying, fixed)
    got = compare_independent(ac / 1, bc / 1, ac, bc, seed=2, confidence=0.95, n_resamples=CORE_RESAMPLES)
    assert got["diff_ci_low"] < got["diff_ci_high"] and got["a12_ci_low"] < got["a12_ci_high"]
    single = compare_independent(
        np.array([1.0]),
        np.array([0.0, 1.0, 1.0]),
        np.array([1]),
        np.array([0, 1, 1]),
        seed=2,
        confidence=0.95,
        n_resamples=CORE_RESAMPLES,
    )
    assert single["diff_ci_low"] is None and single["a12_ci_low"] is None


def parts_reference(a, b, ac, bc, groups, seed, n_resamples, acc_of_count=lambda c: c / 10):
    """`_parts`'s rule (shared count grid): the arm resampled in two stages from default_rng(seed), the baseline
    from stream "baseline"; columns mean(arm*), mean(base*), A12(arm*, b), A12(a, base*) with A12 pairwise."""
    n, m = a.size, b.size
    grid, (ia, ib) = grid_of(ac.astype(float), bc.astype(float))
    beats = (grid[:, None] > grid[None, :]) + 0.5 * (grid[:, None] == grid[None, :])  # arm value u over base v
    ha, hb = np.bincount(ia, minlength=grid.size), np.bincount(ib, minlength=grid.size)
    acc_of = acc_of_count(grid)

    def stat(da, db):
        h_arm, h_base = da.hist(), db.hist()
        return np.stack(
            [
                h_arm @ acc_of / h_arm.sum(1),
                h_base @ acc_of / m,
                h_arm @ beats @ hb / (h_arm.sum(1) * m),
                ha @ beats @ h_base.T / (n * m),
            ],
            axis=1,
        )

    arm = Stream(Sample(ia, grid.size, groups), np.random.default_rng(seed))
    base = Stream(Sample(ib, grid.size), statistic_rng(seed, "baseline"))
    return resample(stat, n_resamples, arm, base)


def test_parts_on_the_shared_grid():
    """_parts mutants: the placements (cumsum -+ half the ties), each column's divisor, the groups reaching the
    arm's two-stage draw, and the baseline's stream name."""
    got = _parts(ARM_C / 10, BASE_C / 10, ARM_C, BASE_C, GROUPS, seed=9, n_resamples=40, a12_ci=True)
    expected = parts_reference(ARM_C / 10, BASE_C / 10, ARM_C, BASE_C, GROUPS, 9, 40)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_parts_share_the_count_grid_even_when_accuracy_falls_with_count():
    """_parts mutant: when counts and accuracies determine each other the count grid serves both statistics, in
    the counts' order (here accuracy = 1 - count / 10 runs the other way, so the accuracies' own grid would
    reverse the A12 placements)."""
    a, b = 1 - ARM_C / 10, 1 - BASE_C / 10
    got = _parts(a, b, ARM_C, BASE_C, GROUPS, seed=9, n_resamples=40, a12_ci=True)
    expected = parts_reference(a, b, ARM_C, BASE_C, GROUPS, 9, 40, acc_of_count=lambda c: 1 - c / 10)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_parts_when_counts_do_not_determine_accuracies():
    """_parts mutants off the shared grid: same_partition over both samples (the arm and baseline disagree on
    the accuracy of count 7), the accuracies' own grid for the means, A12 from streams "a12 arm"/"a12 baseline"."""
    a, b = ARM_C / 10, BASE_C / 10 + 0.001
    got = _parts(a, b, ARM_C, BASE_C, GROUPS, seed=9, n_resamples=40, a12_ci=True)
    n, m = a.size, b.size
    agrid, (ia, ib) = grid_of(a, b)
    means = resample(
        lambda da, db: np.stack([da.hist() @ agrid / da.hist().sum(1), db.hist() @ agrid / m], 1),
        40,
        Stream(Sample(ia, agrid.size, GROUPS), np.random.default_rng(9)),
        Stream(Sample(ib, agrid.size), statistic_rng(9, "baseline")),
    )
    cgrid, (cia, cib) = grid_of(ARM_C.astype(float), BASE_C.astype(float))
    beats = (cgrid[:, None] > cgrid[None, :]) + 0.5 * (cgrid[:, None] == cgrid[None, :])
    ha, hb = np.bincount(cia, minlength=cgrid.size), np.bincount(cib, minlength=cgrid.size)
    a12s = resample(
        lambda da, db: np.stack(
            [da.hist() @ beats @ hb / (da.hist().sum(1) * m), ha @ beats @ db.hist().T / (n * m)], 1
        ),
        40,
        Stream(Sample(cia, cgrid.size, GROUPS), statistic_rng(9, "a12 arm")),
        Stream(Sample(cib, cgrid.size), statistic_rng(9, "a12 baseline")),
    )
    np.testing.assert_allclose(got, np.concatenate([means, a12s], axis=1), rtol=1e-12)


def nested_reference(a, b, ac, bc, groups, seed, confidence, n_resamples):
    """compare_nested's intervals by its rule: point -+ t_df se, se^2 = K/(K-1) var*(arm part) + m/(m-1)
    var*(baseline part), df Welch-Satterthwaite from K - 1 and m - 1; A12's clipped to [0, 1]."""
    k, m = np.unique(groups).size, b.size
    parts = _parts(a, b, ac, bc, groups, seed=seed, n_resamples=n_resamples, a12_ci=True)
    out = []
    for point, arm_part, base_part in (
        (float(np.mean(a) - np.mean(b)), parts[:, 0], parts[:, 1]),
        (pairwise_a12(ac, bc), parts[:, 2], parts[:, 3]),
    ):
        var_a = np.var(arm_part, ddof=1) * k / (k - 1)
        var_b = np.var(base_part, ddof=1) * m / (m - 1)
        df = (var_a + var_b) ** 2 / (var_a**2 / (k - 1) + var_b**2 / (m - 1))
        out.append(t_interval(point, math.sqrt(var_a + var_b), df, confidence))
    (dl, dh), (al, ah) = out
    return dl, dh, max(0.0, al), min(1.0, ah)


@pytest.mark.parametrize("m", [2, 5])
def test_compare_nested_t_intervals_by_hand(m):
    """compare_nested mutants in t_ci: the columns each interval uses, the K/(K-1) and m/(m-1) factors, ddof=1,
    the df's K - 1 and m - 1 (m = 2: neither dropped to 0 nor raised to 2), the fixed-part defaults, groups
    reaching _parts; and every key of the row."""
    bc = BASE_C[:m]
    got = compare_nested(ARM_C / 10, bc / 10, ARM_C, bc, GROUPS, seed=3, confidence=0.9, n_resamples=60)
    expected = nested_reference(ARM_C / 10, bc / 10, ARM_C, bc, GROUPS, 3, 0.9, 60)
    np.testing.assert_allclose(
        [got["diff_ci_low"], got["diff_ci_high"], got["a12_ci_low"], got["a12_ci_high"]], expected, rtol=1e-9
    )
    a12 = pairwise_a12(ARM_C, bc)
    assert got["a12"] == pytest.approx(a12, abs=1e-15) and got["cliffs_delta"] == pytest.approx(2 * a12 - 1)
    assert got["hedges_g"] == hedges_g(ARM_C / 10, bc / 10)
    assert (got["n_arm"], got["n_baseline"]) == (12, m)
    assert got["verdict_p"] == clustered_brunner_munzel(ARM_C, GROUPS, bc)["p"]


def test_compare_nested_when_the_baseline_dominates_the_spread():
    """compare_nested mutant: the interval collapses only when var_a + var_b <= 0 (not var_a - var_b): an arm of
    identical sources against a spread baseline still has an interval."""
    ac = np.array([6, 7, 6, 7, 6, 7])
    bc = np.array([1, 9, 2, 8, 5])
    got = compare_nested(ac / 10, bc / 10, ac, bc, np.repeat([0, 1, 2], 2), seed=3, confidence=0.9, n_resamples=60)
    assert got["diff_ci_low"] < got["diff_mean"] < got["diff_ci_high"]


def test_compare_nested_clips_a12_to_one():
    """compare_nested mutant: A12's upper end clipped at 1 (min(1.0, ...), not 2.0)."""
    ac = np.array([9, 9, 10, 3, 10, 10])
    bc = np.array([4, 5, 6])
    got = compare_nested(ac / 10, bc / 10, ac, bc, np.repeat([0, 1, 2], 2), seed=3, confidence=0.99, n_resamples=60)
    assert got["a12_ci_high"] == 1.0


def test_compare_nested_needs_two_resamples_for_intervals():
    """compare_nested mutants: intervals from n_resamples >= 2 (not > 2 or >= 3); below, None (not "")."""
    kw = dict(seed=3, confidence=0.9)
    two = compare_nested(ARM_C / 10, BASE_C / 10, ARM_C, BASE_C, GROUPS, n_resamples=2, **kw)
    assert two["diff_ci_low"] is not None and two["a12_ci_high"] is not None
    one = compare_nested(ARM_C / 10, BASE_C / 10, ARM_C, BASE_C, GROUPS, n_resamples=1, **kw)
    assert one["diff_ci_low"] is one["diff_ci_high"] is one["a12_ci_low"] is one["a12_ci_high"] is None


def test_clustered_brunner_munzel_returns_its_keys_by_hand():
    """clustered_brunner_munzel mutants: the keys a12, se, df, p; the baseline's variance only with m > 1 runs
    (m = 1: 0, neither divided by 0 nor 1.0), its df max(m - 1, 1) (m = 2: 1, not 2)."""
    # one baseline run b = 5; arm sources {4, 6} and {6, 7}: placements 0, 1, 1, 1; A12 = 3/4
    res = clustered_brunner_munzel(np.array([4, 6, 6, 7]), np.array([0, 0, 1, 1]), np.array([5]))
    # totals: (0 - 3/4) + (1 - 3/4) = -1/2 and 2 (1/4) = 1/2; var_a = 2 (1/4 + 1/4) / 16 = 1/16; var_b = 0
    assert set(res) == {"a12", "se", "df", "p"}
    assert res["a12"] == 0.75 and res["se"] == pytest.approx(0.25, rel=1e-12) and res["df"] == pytest.approx(1.0)
    # two baseline runs {3, 5} (m = 2: var_b counted, df max(2 - 1, 1) = 1)
    res = clustered_brunner_munzel(np.array([4, 6, 6, 7]), np.array([0, 0, 1, 1]), np.array([3, 5]))
    # arm placements 1/2, 1, 1, 1: A12 = 7/8; totals -1/4, 1/4: var_a = 2 (1/16 + 1/16) / 16 = 1/64
    q = np.array([4 / 4, 3 / 4])  # baseline placements: 4 of the arm's runs above 3, 3 above 5
    var_b = float(np.sum((q - 7 / 8) ** 2)) / (2 * 1)  # 1/64
    var_a = 1 / 64
    assert res["a12"] == 0.875 and res["se"] == pytest.approx(math.sqrt(var_a + var_b), rel=1e-12)
    assert res["df"] == pytest.approx(welch_df(var_a, 1, var_b, 1), rel=1e-12)


def test_clustered_brunner_munzel_without_spread():
    """clustered_brunner_munzel mutants on se = 0: A12 exactly 1/2 gives p = 1 (a12 == 0.5, not 1.5), se 0.0 and
    df None under their own keys; complete separation gives the per-source Mann-Whitney p."""
    # arm sources {0, 3}, {0, 3} against one baseline run 1: placements 0, 1 in each source, totals 0; A12 = 1/2
    tied = clustered_brunner_munzel(np.array([0, 3, 0, 3]), np.array([0, 0, 1, 1]), np.array([1]))
    assert tied == {"a12": 0.5, "se": 0.0, "df": None, "p": 1.0}
    # the per-source means 1.5, 1.5 against 1 would not give p = 1
    from blobs_transfer.stats.effects import mwu_p

    assert mwu_p(np.array([1.5, 1.5]), np.array([1.0])) < 1.0
    apart = clustered_brunner_munzel(np.array([5, 5, 6, 6]), np.array([0, 0, 1, 1]), np.array([1, 2]))
    assert apart == {"a12": 1.0, "se": 0.0, "df": None, "p": mwu_p(np.array([5.0, 6.0]), np.array([1.0, 2.0]))}
