"""Statistics at the source-model level: hand-built answers, and a simulation that holds the nested verdict
to its false-positive rate and the nested CI to its coverage where the pooled method fails."""

import math

import numpy as np
import pytest

from blobs_transfer import stats

N_TEST = 500


def test_cluster_se_is_the_spread_of_source_means():
    # two sources of two runs each: source means 0.7 and 0.9, so se = sd(0.7, 0.9) / sqrt(2) = 0.1
    values = np.array([0.69, 0.71, 0.89, 0.91])
    groups = np.array([0, 0, 1, 1])
    assert stats.cluster_se(values, groups) == pytest.approx(0.1)
    assert stats.cluster_se(values, np.zeros(4)) is None  # one source: no between-source spread to see


def test_design_effect_and_effective_n():
    groups = np.repeat(np.arange(10), 5)  # 10 sources x 5 runs
    assert stats.design_effect(groups, 0.5) == pytest.approx(1 + 4 * 0.5)
    assert stats.design_effect(groups, None) is None
    # constant within each source: ICC 1, so 50 runs are worth exactly the 10 sources
    values = np.repeat(np.linspace(0.6, 0.9, 10), 5)
    d = stats.nested_describe(values, groups, seed=0, n_resamples=500)
    assert d["icc"] == pytest.approx(1.0) and d["design_effect"] == pytest.approx(5.0)
    assert d["n_effective"] == pytest.approx(10.0) and d["n_sources"] == 10
    assert d["ci_low"] < d["mean"] < d["ci_high"]


def test_nested_ci_is_wider_than_pooled_when_sources_differ():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(8), 10)
    values = np.round((0.8 + 0.05 * rng.normal(size=8))[groups] * N_TEST) / N_TEST
    nested = stats.nested_describe(values, groups, seed=0, n_resamples=1000)
    pooled = stats.describe(values, seed=0, n_resamples=1000)
    assert nested["ci_high"] - nested["ci_low"] > 2 * (pooled["ci_high"] - pooled["ci_low"])


def test_compare_arms_uses_the_nested_path_only_for_several_sources():
    rng = np.random.default_rng(2)
    base = rng.integers(380, 420, 40)
    nested = np.repeat(rng.integers(380, 420, 6), 5)
    single = rng.integers(380, 420, 30)
    correct = {"standalone": base, "nested": nested, "single": single}
    accuracies = {k: v / N_TEST for k, v in correct.items()}
    rows = stats.compare_arms(accuracies, correct, "standalone", seed=0, n_resamples=999, n_test=N_TEST,
                              groups={"nested": np.repeat(np.arange(6), 5), "single": np.zeros(30, int)})
    by = {r["arm"]: r for r in rows}
    assert by["nested"]["verdict_test"] == stats.NESTED_VERDICT and by["nested"]["n_sources"] == 6
    assert by["nested"]["verdict_p"] == by["nested"]["welch_p"]
    assert by["single"]["verdict_test"] == stats.MWU_VERDICT and by["single"]["n_sources"] == 1
    assert [r["verdict_p_holm"] for r in rows] == stats.holm([r["verdict_p"] for r in rows])


def _study(rng, k, r, icc, m=50):
    """One simulated study with no true difference: an arm of k sources x r runs with the given ICC, and an
    independent baseline of m runs with the same total variance, both as counts of 500 test rows."""
    between = rng.normal(0, math.sqrt(icc), k)
    arm = 0.8 + 0.05 * (np.repeat(between, r) + rng.normal(0, math.sqrt(1 - icc), k * r))
    base = 0.8 + 0.05 * rng.normal(0, 1, m)
    to_counts = lambda v: np.clip(np.round(v * N_TEST), 0, N_TEST).astype(int)
    return to_counts(arm), to_counts(base), np.repeat(np.arange(k), r)


SETTINGS = [(icc, k) for icc in (0.5, 0.97) for k in (5, 10, 30)]
STUDIES = 1000  # coverage's binomial SD is then 0.7%, so 93-97% is a +-2.9 SD window for a calibrated CI
POOLED_STUDIES = 400


@pytest.mark.slow
@pytest.mark.parametrize("icc, k", SETTINGS)
def test_nested_verdict_and_ci_hold_where_pooled_fails(icc, k):
    """No true difference: the nested verdict's false-positive rate is at most 0.07 and its 95% CI of the
    difference covers 0 in 93-97% of 1000 studies; the pooled method (runs as independent, 400 studies)
    fails at ICC 0.97."""
    rng = np.random.default_rng(1000 * k + int(icc * 100))
    nested_fp = nested_cover = pooled_fp = pooled_cover = 0
    for i in range(STUDIES):
        arm, base, groups = _study(rng, k, 10, icc)
        n = stats.nested_compare(arm / N_TEST, base / N_TEST, arm, base, groups, seed=i, n_test=N_TEST,
                                 n_resamples=1000, a12_ci=False)
        nested_fp += n["welch_p"] < 0.05
        nested_cover += n["diff_ci_low"] <= 0 <= n["diff_ci_high"]
        if icc == 0.97 and i < POOLED_STUDIES:  # the pooled method: what the tool did before, runs as independent
            p = stats.compare_to_baseline(arm / N_TEST, base / N_TEST, arm, base, seed=i, n_resamples=499)
            pooled_fp += p["mwu_p"] < 0.05
            pooled_cover += p["diff_ci_low"] <= 0 <= p["diff_ci_high"]
    assert nested_fp / STUDIES <= 0.07, nested_fp / STUDIES
    assert 0.93 <= nested_cover / STUDIES <= 0.97, nested_cover / STUDIES
    if icc == 0.97:  # the pooled method misses both criteria by a wide margin (its SE ignores the ICC)
        assert pooled_fp / POOLED_STUDIES > 0.12, pooled_fp / POOLED_STUDIES
        assert pooled_cover / POOLED_STUDIES < 0.90, pooled_cover / POOLED_STUDIES
