"""Tests for blobs_transfer.stats on small hand-built arrays whose answers are worked out in comments."""

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats as st

from blobs_transfer import stats
from tests.helpers import assert_json_clean

# Any warning raised while running the module (e.g. scipy's degenerate-data warnings) fails the test.
pytestmark = pytest.mark.filterwarnings("error")

FAST = 999  # bootstrap resamples in tests: plenty for bracketing checks, keeps the file fast
N_TEST = 500


def compare_counts(arm_correct, baseline_correct, **kwargs):
    """compare_to_baseline on correct counts, with accuracies = counts / 500 as in the study."""
    arm_correct, baseline_correct = np.asarray(arm_correct), np.asarray(baseline_correct)
    return stats.compare_to_baseline(
        arm_correct / N_TEST,
        baseline_correct / N_TEST,
        arm_correct,
        baseline_correct,
        seed=kwargs.pop("seed", 0),
        n_resamples=kwargs.pop("n_resamples", FAST),
        **kwargs,
    )


# ----------------------------------------------------------------------------- describe


def test_describe_hand_computed():
    # [0.8, 0.8, 0.9, 1.0]: mean 3.5/4 = 0.875; deviations -.075, -.075, .025, .125,
    # squares .005625 + .005625 + .000625 + .015625 = .0275, sd = sqrt(.0275/3);
    # median (0.8+0.9)/2 = 0.85; linear quartiles: q1 at position 0.75 -> 0.8,
    # q3 at position 2.25 -> 0.9 + 0.25*0.1 = 0.925, iqr 0.125;
    # iqm drops one value per end: mean(0.8, 0.9) = 0.85.
    d = stats.describe([0.8, 0.8, 0.9, 1.0], seed=1, n_resamples=FAST)
    expected = dict(mean=0.875, std=math.sqrt(0.0275 / 3), median=0.85, q1=0.8, q3=0.925, iqr=0.125, iqm=0.85)
    for key, value in expected.items():
        assert d[key] == pytest.approx(value, abs=1e-12), key
    assert (d["n"], d["min"], d["max"]) == (4, 0.8, 1.0)
    assert d["min"] <= d["ci_low"] < d["mean"] < d["ci_high"] <= d["max"]
    assert list(d) == [
        "n",
        "mean",
        "std",
        "median",
        "q1",
        "q3",
        "iqr",
        "iqm",
        "min",
        "max",
        "ci_low",
        "ci_high",
        "n_sources",
        "icc",
        "design_effect",
        "n_effective",
    ]
    # runs given as independent (no groups): design effect 1, every run counts
    assert (d["n_sources"], d["icc"], d["design_effect"], d["n_effective"]) == (None, None, 1.0, 4.0)
    assert_json_clean(d)


def test_describe_bootstrap_is_reproducible_and_seed_dependent():
    test_accuracy = np.random.default_rng(7).integers(380, 440, size=30) / N_TEST
    first = stats.describe(test_accuracy, seed=3, n_resamples=FAST)
    assert stats.describe(test_accuracy, seed=3, n_resamples=FAST) == first
    other = stats.describe(test_accuracy, seed=4, n_resamples=FAST)
    assert (other["ci_low"], other["ci_high"]) != (first["ci_low"], first["ci_high"])
    assert first["ci_low"] < first["mean"] < first["ci_high"]


def test_describe_wider_confidence_gives_wider_ci():
    test_accuracy = np.random.default_rng(8).integers(380, 440, size=30) / N_TEST
    ci95 = stats.describe(test_accuracy, seed=0, n_resamples=FAST)
    ci50 = stats.describe(test_accuracy, seed=0, confidence=0.5, n_resamples=FAST)
    assert ci95["ci_low"] < ci50["ci_low"] < ci50["ci_high"] < ci95["ci_high"]


@pytest.mark.parametrize("bad", [[], [[0.8, 0.9]], [0.8, float("nan")]])
def test_describe_rejects_empty_nonflat_or_nan(bad):
    with pytest.raises(ValueError):
        stats.describe(bad, seed=0)


def test_describe_single_repeat_has_no_spread():
    d = stats.describe([0.82], seed=0, n_resamples=FAST)
    assert (d["n"], d["mean"], d["median"], d["iqr"], d["iqm"]) == (1, 0.82, 0.82, 0.0, 0.82)
    assert d["std"] is None and d["ci_low"] is None and d["ci_high"] is None
    assert_json_clean(d)


def test_describe_two_repeats_gives_finite_ci():
    # sd of [0.8, 0.9] = sqrt(2 * 0.05^2 / 1) = 0.05 * sqrt(2)
    d = stats.describe([0.8, 0.9], seed=0, n_resamples=FAST)
    assert d["std"] == pytest.approx(0.05 * math.sqrt(2))
    assert 0.8 <= d["ci_low"] <= d["mean"] <= d["ci_high"] <= 0.9
    assert_json_clean(d)


@pytest.mark.parametrize("value, repeats", [(0.8, 30), (0.1, 3)])  # np.mean([0.1] * 3) is 0.1 + 1 ulp
def test_describe_identical_repeats_ci_is_the_value(value, repeats):
    d = stats.describe([value] * repeats, seed=0, n_resamples=FAST)
    assert (d["mean"], d["std"], d["iqm"], d["ci_low"], d["ci_high"]) == (value, 0.0, value, value, value)
    assert_json_clean(d)


def test_binomial_se():
    # sqrt(0.8 * 0.2 / 500) = sqrt(0.00032) = 0.017889  (the "about 0.018" of the protocol)
    assert stats.binomial_se(0.8, 500) == pytest.approx(0.0178885438, abs=1e-9)
    assert stats.binomial_se(1.0, 500) == 0.0
    with pytest.raises(ValueError):
        stats.binomial_se(0.8, 0)


# ----------------------------------------------------------------------------- holm


@pytest.mark.parametrize(
    "raw, adjusted",
    [
        # sorted .01*3 = .03, .03*2 = .06, .04*1 = .04 -> running max .06
        ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),
        # None skipped, m = 2: .01*2 = .02, .04*1 = .04
        ([None, 0.01, 0.04], [None, 0.02, 0.04]),
        # .5*2 = 1.0 (cap), .6 -> running max 1.0
        ([0.6, 0.5], [1.0, 1.0]),
        ([], []),
        ([None], [None]),
    ],
)
def test_holm_hand_computed(raw, adjusted):
    assert stats.holm(raw) == pytest.approx(adjusted)


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.floats(0.0, 1.0), max_size=8))
def test_holm_is_monotone_and_conservative(raw):
    adjusted = stats.holm(raw)
    order = np.argsort(raw, kind="stable")
    assert all(adjusted[i] <= adjusted[j] for i, j in zip(order, order[1:]))
    assert all(p <= q <= 1.0 for p, q in zip(raw, adjusted))


def test_holm_rejects_invalid_pvalues():
    with pytest.raises(ValueError):
        stats.holm([0.1, float("nan")])


# ----------------------------------------------------------------------------- compare_to_baseline


@pytest.mark.parametrize(
    "arm, baseline, a12",
    [
        # 9 pairs: 3 wins (2>1, 3>1, 3>2) + 3 ties -> (3 + 1.5) / 9
        ([1, 2, 3], [1, 2, 3], 0.5),
        ([4, 5], [1, 2], 1.0),
        ([1, 2], [4, 5], 0.0),
        # pairs (1,1) tie, (1,2) loss, twice -> (0 + 0.5 * 2) / 4
        ([1, 1], [1, 2], 0.25),
    ],
)
def test_a12_and_cliffs_delta_hand_computed(arm, baseline, a12):
    result = compare_counts(arm, baseline)
    assert result["a12"] == pytest.approx(a12)
    assert result["cliffs_delta"] == pytest.approx(2 * a12 - 1)
    assert result["a12_ci_low"] <= result["a12"] <= result["a12_ci_high"]


@settings(max_examples=40, deadline=None)
@given(
    hs.lists(hs.integers(395, 405), min_size=1, max_size=7),
    hs.lists(hs.integers(395, 405), min_size=1, max_size=7),
)
def test_a12_is_pairwise_win_probability(arm, baseline):
    wins = sum((x > y) + 0.5 * (x == y) for x in arm for y in baseline)
    result = compare_counts(arm, baseline, n_resamples=9)
    assert result["a12"] == pytest.approx(wins / (len(arm) * len(baseline)))
    assert_json_clean(result)


def test_hedges_welch_mwu_hand_computed():
    # arm [.80, .82, .84] mean .82, baseline [.78, .80, .82] mean .80; each SS = 2 * .02^2 = .0008,
    # pooled var = .0016 / 4 = .0004, pooled SD .02, d = 1; J = 1 - 3/(4*6 - 9) = 0.8 -> g = 0.8.
    # Welch: t = .02 / sqrt(.0004/3 + .0004/3) = sqrt(3/2), df = 4 (equal n, equal var).
    # MWU on counts [400, 410, 420] vs [390, 400, 410]: U = 1.5 + 2.5 + 3 = 7, a12 = 7/9;
    # ties {400: 2, 410: 2}: var U = nm/12 * (N+1 - sum(t^3 - t)/(N(N-1))) = 9/12 * (7 - 12/30) = 4.95,
    # z = (7 - 4.5 - 0.5 continuity) / sqrt(4.95).
    result = compare_counts([400, 410, 420], [390, 400, 410])
    assert result["diff_mean"] == pytest.approx(0.02)
    assert result["hedges_g"] == pytest.approx(0.8)
    assert result["welch_p"] == pytest.approx(2 * st.t.sf(math.sqrt(1.5), 4))
    assert result["mwu_p"] == pytest.approx(2 * st.norm.sf(2 / math.sqrt(4.95)))
    assert result["a12"] == pytest.approx(7 / 9)
    assert (result["n_arm"], result["n_baseline"]) == (3, 3)
    assert result["diff_ci_low"] <= result["diff_mean"] <= result["diff_ci_high"]
    assert_json_clean(result)


def test_compare_identical_constant_samples_is_all_null():
    result = compare_counts([400] * 5, [400] * 5)
    assert (result["diff_mean"], result["diff_ci_low"], result["diff_ci_high"]) == (0.0, 0.0, 0.0)
    assert (result["a12"], result["a12_ci_low"], result["a12_ci_high"]) == (0.5, 0.5, 0.5)
    assert result["hedges_g"] is None and result["welch_p"] is None
    assert result["mwu_p"] == 1.0
    assert_json_clean(result)


def test_compare_constant_but_different_samples():
    # every arm run beats every baseline run; no variance, so no t-test and no g
    result = compare_counts([450] * 6, [400] * 6)
    diff = (result["diff_mean"], result["diff_ci_low"], result["diff_ci_high"])
    assert diff == pytest.approx((0.1, 0.1, 0.1))
    assert (result["a12"], result["a12_ci_low"], result["a12_ci_high"]) == (1.0, 1.0, 1.0)
    assert result["welch_p"] is None and result["hedges_g"] is None
    assert result["mwu_p"] < 0.01
    assert_json_clean(result)


def test_compare_single_repeat_arm_has_no_ci_or_welch():
    result = compare_counts([420], [400, 405, 410])
    assert result["diff_ci_low"] is None and result["a12_ci_high"] is None and result["welch_p"] is None
    assert result["a12"] == 1.0
    assert_json_clean(result)


def test_compare_rejects_accuracies_passed_as_counts():
    with pytest.raises(ValueError, match="integer"):
        stats.compare_to_baseline([0.8, 0.9], [0.7, 0.8], [0.8, 0.9], [0.7, 0.8], seed=0)


# ----------------------------------------------------------------------------- compare_arms


def study_counts():
    """Four arms of 10 repeats: one clearly better, one clearly worse, one equal to the baseline."""
    baseline = np.arange(400, 410)
    return {
        "standalone": baseline,
        "transfer fixed=0": baseline + 20,
        "transfer fixed=1": baseline - 20,
        "transfer fixed=2": baseline.copy(),
    }


def test_compare_arms_verdicts_and_holm():
    correct = study_counts()
    accuracies = {arm: counts / N_TEST for arm, counts in correct.items()}
    rows = stats.compare_arms(accuracies, correct, "standalone", seed=5, n_resamples=FAST)
    assert [row["arm"] for row in rows] == ["transfer fixed=0", "transfer fixed=1", "transfer fixed=2"]
    assert [row["verdict"] for row in rows] == ["better", "worse", "no evidence"]
    assert [row["a12"] for row in rows] == [1.0, 0.0, 0.5]
    for key in ("welch_p", "mwu_p"):
        assert [row[f"{key}_holm"] for row in rows] == stats.holm([row[key] for row in rows])
    assert all(row["baseline"] == "standalone" for row in rows)
    assert list(rows[0])[:2] == ["arm", "baseline"]
    assert list(rows[0])[-4:] == ["welch_p_holm", "mwu_p_holm", "verdict_p_holm", "verdict"]
    assert all(row["verdict_test"] == stats.MWU_VERDICT and row["verdict_p"] == row["mwu_p"] for row in rows)
    assert_json_clean(rows)


def test_compare_arms_seed_follows_the_arm_not_its_position():
    correct = study_counts()
    accuracies = {arm: counts / N_TEST for arm, counts in correct.items()}
    full = stats.compare_arms(accuracies, correct, "standalone", seed=5, n_resamples=FAST)
    subset = {arm: accuracies[arm] for arm in ("standalone", "transfer fixed=2")}
    alone = stats.compare_arms(subset, correct, "standalone", seed=5, n_resamples=FAST)
    assert alone[0]["diff_ci_low"] == full[2]["diff_ci_low"]
    assert alone[0]["diff_ci_high"] == full[2]["diff_ci_high"]
    # distinct arms get distinct streams: the same data under two names gives different CIs
    renamed = {"standalone": accuracies["standalone"], "copy": accuracies["transfer fixed=2"]}
    renamed_correct = {**correct, "copy": correct["transfer fixed=2"]}
    other = stats.compare_arms(renamed, renamed_correct, "standalone", seed=5, n_resamples=FAST)
    ci = (other[0]["diff_ci_low"], other[0]["diff_ci_high"])
    assert ci != (full[2]["diff_ci_low"], full[2]["diff_ci_high"])


def test_compare_arms_unknown_baseline_is_named():
    correct = study_counts()
    with pytest.raises(ValueError, match="no such arm"):
        stats.compare_arms({k: v / N_TEST for k, v in correct.items()}, correct, "no such arm", seed=0)


# ----------------------------------------------------------------------------- curves


def test_curve_band_hand_computed():
    # columns [.5, .7] and [.7, .9]: mean .6 / .8, sd sqrt(.02) each, se = sqrt(.02/2) = 0.1,
    # t_{0.975, df=1} = 12.7062047 -> half width 1.27062047
    band = stats.curve_band([[0.5, 0.7], [0.7, 0.9]])
    assert band["mean"].shape == band["low"].shape == band["high"].shape == (2,)
    np.testing.assert_allclose(band["mean"], [0.6, 0.8])
    np.testing.assert_allclose(band["high"] - band["mean"], [1.27062047, 1.27062047], rtol=1e-7)
    np.testing.assert_allclose(band["mean"] - band["low"], band["high"] - band["mean"])


def test_curve_band_single_repeat_is_a_line():
    band = stats.curve_band([[0.5, 0.6, 0.7]])
    for key in ("low", "high"):
        np.testing.assert_array_equal(band[key], [0.5, 0.6, 0.7])


def test_transfer_benefits_hand_computed():
    # repeat A: final .80, 95% = .76 -> first column >= .76 is epoch 2 (.78); auc = 2.58/4 = .645
    # repeat B: final .80, reaches exactly .76 at epoch 1 (0.95*0.8 rounds above .76 in floats);
    #           auc = 2.75/4 = .6875
    curves = [[0.30, 0.70, 0.78, 0.80], [0.40, 0.76, 0.79, 0.80]]
    benefits = stats.transfer_benefits(curves, seed=0, n_resamples=FAST)
    assert list(benefits) == ["start", "epochs_to_95", "auc", "asymptote"]
    assert benefits["start"]["mean"] == pytest.approx(0.35)
    assert benefits["epochs_to_95"]["mean"] == pytest.approx(1.5)
    assert benefits["auc"]["mean"] == pytest.approx((0.645 + 0.6875) / 2)
    assert benefits["asymptote"] == {"mean": 0.8, "ci_low": 0.8, "ci_high": 0.8}
    for summary in benefits.values():
        assert set(summary) == {"mean", "ci_low", "ci_high"}
        assert summary["ci_low"] <= summary["mean"] <= summary["ci_high"]
    assert_json_clean(benefits)


def test_transfer_benefits_single_repeat_and_no_training():
    one = stats.transfer_benefits([[0.2, 0.5, 0.9]], seed=0)
    assert one["epochs_to_95"] == {"mean": 2.0, "ci_low": None, "ci_high": None}
    # a curve that starts at its final accuracy needs 0 epochs
    flat = stats.transfer_benefits([[0.9, 0.9], [0.8, 0.8]], seed=0, n_resamples=FAST)
    assert flat["epochs_to_95"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert_json_clean([one, flat])


# ----------------------------------------------------------------------------- source models


@pytest.mark.parametrize(
    "values, groups, between, within, icc",
    [
        # group means 0 and 1 with no spread inside: MSB = 3 * (.25 + .25) = 1.5, MSW = 0, n0 = 3
        # -> between = 1.5 / 3 = 0.5 (the variance of the two means), icc = 1
        ([0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], 0.5, 0.0, 1.0),
        # means 1 and 5, grand 3: MSB = 2 * (4 + 4) = 16; SSW = 4 -> MSW = 4/2 = 2; n0 = 2
        # -> between = (16 - 2) / 2 = 7, icc = 7 / 9
        ([0, 2, 4, 6], [0, 0, 1, 1], 7.0, 2.0, 7 / 9),
        # equal means: MSB = 0 < MSW = 2 -> between clipped to 0, icc 0
        ([0, 2, 0, 2], [0, 0, 1, 1], 0.0, 2.0, 0.0),
    ],
)
def test_variance_components_hand_computed(values, groups, between, within, icc):
    vc = stats.variance_components(values, groups)
    assert vc["n_groups"] == 2 and vc["n_per_group"] == len(values) / 2
    assert vc["between_var"] == pytest.approx(between)
    assert vc["within_var"] == pytest.approx(within)
    assert vc["total_var"] == pytest.approx(between + within)
    assert vc["icc"] == pytest.approx(icc)
    assert_json_clean(vc)


def test_variance_components_degenerate_designs():
    # one source model: sample variance of [1, 2, 3] is 1, nothing to attribute to sources
    single = stats.variance_components([1.0, 2.0, 3.0], [0, 0, 0])
    assert (single["between_var"], single["within_var"], single["icc"]) == (0.0, 1.0, None)
    # one run per source: components cannot be separated, total is the sample variance 1
    unreplicated = stats.variance_components([1.0, 2.0, 3.0], [0, 1, 2])
    assert unreplicated["within_var"] is None and unreplicated["total_var"] == pytest.approx(1.0)
    # all identical (0.1 * 3 / 3 is not exactly 0.1): no variance at all, icc undefined
    flat = stats.variance_components([0.1] * 6, [0, 0, 0, 1, 1, 1])
    assert (flat["between_var"], flat["within_var"], flat["total_var"], flat["icc"]) == (0.0, 0.0, 0.0, None)
    # constant within each source: all variance is between sources, exactly
    split = stats.variance_components([0.1] * 3 + [0.7] * 3, [0, 0, 0, 1, 1, 1])
    assert (split["within_var"], split["icc"]) == (0.0, 1.0)
    assert_json_clean([single, unreplicated, flat, split])


def test_rank_arms_per_group():
    # source 0: fixed=1 mean (.8+.9)/2 = .85 beats fixed=2 .8; source 1: fixed=1 .7 loses to fixed=2 .9
    accuracies = {
        "standalone": np.array([0.95, 0.95]),
        "transfer fixed=1": np.array([0.8, 0.9, 0.7, 0.7]),
        "transfer fixed=2": np.array([0.8, 0.9]),
    }
    groups = {"transfer fixed=1": np.array([0, 0, 1, 1]), "transfer fixed=2": np.array([0, 1])}
    rows = stats.rank_arms_per_group(accuracies, groups)
    assert [row["group"] for row in rows] == [0, 1]
    assert [row["best_arm"] for row in rows] == ["transfer fixed=1", "transfer fixed=2"]
    assert rows[0]["means"] == pytest.approx({"transfer fixed=1": 0.85, "transfer fixed=2": 0.8})
    assert "standalone" not in rows[1]["means"]
    assert_json_clean(rows)


# ----------------------------------------------------------------------------- module hygiene


def test_import_pulls_in_no_tensorflow_or_matplotlib():
    code = (
        "import blobs_transfer.stats, sys; assert 'tensorflow' not in sys.modules and 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
