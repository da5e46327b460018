"""The package's numpy and scipy.special forms of what it used to take from scipy.stats, against scipy.stats itself.

The package never imports scipy.stats (tests/test_imports.py); these tests may, as the reference. Each form is
written operation for operation as scipy 1.17 computes it, so the p-values and t intervals of the committed
results keep their digits: equal to scipy's within 1e-12 relative (in practice to the bit) on varied inputs,
ties and the smallest samples included.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from blobs_transfer.stats.arm import iqm
from blobs_transfer.stats.common import normal_sf, t_interval, t_quantile, t_sf
from blobs_transfer.stats.effects import a12_of_samples, mwu_p, welch_p

REL = 1e-12


def samples(seed: int, count: int):
    """(a, b) pairs of correct counts: sizes 1-40, heavy ties (few distinct values) to none, shifted or not."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n, m = rng.integers(1, 41, size=2)
        spread = int(rng.choice([2, 5, 40, 500]))
        a = rng.integers(0, spread, n) + int(rng.integers(0, 3))
        b = rng.integers(0, spread, m)
        yield a.astype(np.int64), b.astype(np.int64)


def test_t_and_normal_functions_are_scipy_stats():
    rng = np.random.default_rng(0)
    q = np.concatenate([[0.5, 0.975, 0.995, 0.025, 1e-9], rng.random(200)])
    df = np.concatenate([[1, 2, 3, 9, 29, 1e6], rng.uniform(1, 300, 200)])
    x = np.concatenate([[0.0, 1e-8, 2.0, 40.0], rng.normal(0, 5, 200)])
    for d in df:
        assert np.allclose(t_quantile(q, d), st.t.ppf(q, d), rtol=REL, atol=0)
        assert np.allclose(t_sf(x, d), st.t.sf(x, d), rtol=REL, atol=0)
    assert np.allclose(normal_sf(x), st.norm.sf(x), rtol=REL, atol=0)
    low, high = t_interval(0.8, 0.01, 4.3, 0.95)
    assert high - 0.8 == pytest.approx(st.t.ppf(0.975, 4.3) * 0.01, rel=REL)
    assert 0.8 - low == pytest.approx(st.t.ppf(0.975, 4.3) * 0.01, rel=REL)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy, on a constant sample
def test_welch_p_is_ttest_ind_unequal_var():
    checked = 0
    for a, b in samples(1, 300):
        x, y = a / 500, b / 500
        mine = welch_p(x, y)
        if x.size < 2 or y.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
            assert mine is None
            continue
        ref = st.ttest_ind(x, y, equal_var=False).pvalue
        assert mine == pytest.approx(ref, rel=REL, abs=0), (x, y)
        checked += 1
    assert checked > 200
    # one constant sample (its variance 0) and the smallest samples
    assert welch_p(np.array([0.5, 0.5, 0.5]), np.array([0.4, 0.6])) == pytest.approx(
        st.ttest_ind([0.5, 0.5, 0.5], [0.4, 0.6], equal_var=False).pvalue, rel=REL
    )
    assert welch_p(np.array([0.1, 0.3]), np.array([0.2, 0.9])) == pytest.approx(
        st.ttest_ind([0.1, 0.3], [0.2, 0.9], equal_var=False).pvalue, rel=REL
    )


def test_mwu_p_is_mannwhitneyu_asymptotic_tie_and_continuity_corrected():
    """The verdict's test, as compare calls it: two-sided, method="asymptotic" (never exact, even for small
    samples without ties, where scipy's "auto" would go exact), tie-corrected, with continuity correction."""
    checked = 0
    for a, b in samples(2, 400):
        mine = mwu_p(a, b)
        if np.ptp(np.concatenate([a, b])) == 0:
            assert mine == 1.0
            continue
        ref = st.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True).pvalue
        assert mine == pytest.approx(ref, rel=REL, abs=0), (a, b)
        checked += 1
    assert checked > 300
    # small samples without ties: asymptotic, not scipy's exact (which "auto" would choose here)
    a, b = np.array([1, 5, 9]), np.array([2, 3, 4, 6])
    asymptotic = st.mannwhitneyu(a, b, method="asymptotic").pvalue
    assert mwu_p(a, b) == pytest.approx(asymptotic, rel=REL)
    assert mwu_p(a, b) != pytest.approx(st.mannwhitneyu(a, b, method="exact").pvalue, rel=1e-3)
    # float inputs (per-source mean counts, as the clustered test's fallback sends) with ties
    means, base = np.array([400.5, 401.0, 401.0, 399.25]), np.array([401.0, 380.0, 420.0, 399.25, 401.0])
    assert mwu_p(means, base) == pytest.approx(st.mannwhitneyu(means, base, method="asymptotic").pvalue, rel=REL)
    # complete separation: p clipped to 1 on neither side, the smallest p this design gives
    far = st.mannwhitneyu(np.arange(30), np.arange(100, 130), method="asymptotic").pvalue
    assert mwu_p(np.arange(30), np.arange(100, 130)) == pytest.approx(far, rel=REL)


def test_a12_of_samples_is_u_over_n_m():
    for a, b in samples(3, 200):
        u1 = st.mannwhitneyu(a, b, method="asymptotic").statistic
        assert a12_of_samples(a, b) == u1 / (a.size * b.size)  # half-integer sums: exact


def test_iqm_is_trim_mean_to_the_bit():
    rng = np.random.default_rng(4)
    for n in range(1, 60):
        x = rng.choice([rng.normal(0.8, 0.1, n), rng.integers(300, 450, n) / 500.0, np.round(rng.random(n), 1)])
        assert iqm(x) == st.trim_mean(x, 0.25)
