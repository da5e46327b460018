"""The comparison's building blocks on hand-made inputs: A12 from histograms, when counts and accuracies can
share one resample, and the nested comparison when they cannot."""

import numpy as np
import pytest

from blobs_transfer import stats
from blobs_transfer.stats.effects import a12_of_histograms, same_partition

pytestmark = pytest.mark.filterwarnings("error")


def test_a12_of_histograms_hand_computed():
    # grid [1, 2, 3]: a = {1, 2, 3}, b = {1, 2, 3}: 3 wins + 3 ties of 9 pairs -> 0.5; a = {3, 3}, b = {1, 2}: 1.0;
    # a = {1, 1}, b = {1, 2}: (0 + 0.5 + 0 + 0.5) / 4 = 0.25 (the cases of test_stats.py, as histograms)
    ha = np.array([[1.0, 1, 1], [0, 0, 2], [2, 0, 0]])
    hb = np.array([[1.0, 1, 1], [1, 1, 0], [1, 1, 0]])
    np.testing.assert_allclose(a12_of_histograms(ha, hb), [0.5, 1.0, 0.25])


def test_same_partition():
    counts = np.array([400, 410, 400])
    assert same_partition((counts / 500, counts))
    assert not same_partition((np.array([0.8, 0.82, 0.8001]), counts))  # one count, two accuracies
    assert not same_partition((np.array([0.8, 0.8, 0.8]), counts))  # two counts, one accuracy
    assert same_partition((np.array([0.8]), np.array([400])), (np.array([0.82]), np.array([410])))


def test_nested_comparison_of_accuracies_that_are_not_counts():
    # accuracies off count / n_test by noise: the difference and A12 are resampled on their own grids, each
    # from its own named stream; the intervals still bracket the point and match the shared ones closely
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(6), 5)
    arm, base = rng.integers(390, 420, 30), rng.integers(380, 420, 40)
    noisy = arm / 500 + rng.normal(0, 1e-4, 30)
    apart = stats.compare_to_baseline(noisy, base / 500, arm, base, seed=2, groups=groups, n_resamples=999)
    shared = stats.compare_to_baseline(arm / 500, base / 500, arm, base, seed=2, groups=groups, n_resamples=999)
    assert apart["diff_ci_low"] < apart["diff_mean"] < apart["diff_ci_high"]
    assert apart["a12_ci_low"] < apart["a12"] < apart["a12_ci_high"] and apart["a12"] == shared["a12"]
    for key in ("diff_ci_low", "diff_ci_high", "a12_ci_low", "a12_ci_high"):
        assert apart[key] == pytest.approx(shared[key], abs=0.01), key
    assert apart == stats.compare_to_baseline(noisy, base / 500, arm, base, seed=2, groups=groups, n_resamples=999)
