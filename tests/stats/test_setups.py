"""Which score to trust across setups: each piece against a hand computation or scipy, and the verdicts on
constructed setups where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

from blobs_transfer.stats import setups


def test_dead_units_counts_the_units_that_never_fire():
    features = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0], [0.0, 0.5, 0.0, 0.0]])
    assert setups.dead_units(features) == 2
    assert setups.dead_units(np.ones((3, 2))) == 0


def test_reliability_is_the_mean_pairwise_rho_stepped_up_by_spearman_brown():
    rng = np.random.default_rng(3)
    truth = rng.normal(size=12)
    correct = np.rint(300 + 20 * truth[:, None] + 15 * rng.normal(size=(12, 3)))
    pairs = [spearmanr(correct[:, i], correct[:, j]).statistic for i, j in ((0, 1), (0, 2), (1, 2))]
    r = np.mean(pairs)
    assert setups.reliability(correct) == pytest.approx(3 * r / (1 + 2 * r), abs=1e-12)
    # two runs that rank the sources alike: reliability 1; a missing run leaves its source out of that pair only
    same = np.array([[1, 1], [5, 6], [3, 4], [9, 9]], dtype=float)
    assert setups.reliability(same) == pytest.approx(1.0)
    gap = correct.copy()
    gap[0, 2] = np.nan
    pairs = [
        spearmanr(correct[:, 0], correct[:, 1]).statistic,
        spearmanr(correct[1:, 0], correct[1:, 2]).statistic,
        spearmanr(correct[1:, 1], correct[1:, 2]).statistic,
    ]
    r = np.mean(pairs)
    assert setups.reliability(gap) == pytest.approx(3 * r / (1 + 2 * r), abs=1e-12)
    assert setups.reliability(np.full((5, 2), 7.0)) is None


def test_ceiling_is_the_root_of_the_reliability_and_never_imaginary():
    assert setups.ceiling(0.81) == pytest.approx(0.9)
    assert setups.ceiling(-0.2) == 0.0
    assert setups.ceiling(None) is None


def _partial_by_residuals(x, y, z):
    """Partial Spearman the long way: ranks of x and y regressed on the ranks of z, residuals correlated."""
    rx, ry, rz = (rankdata(v) for v in (x, y, z))
    design = np.column_stack([np.ones_like(rz), rz])
    ex = rx - design @ np.linalg.lstsq(design, rx, rcond=None)[0]
    ey = ry - design @ np.linalg.lstsq(design, ry, rcond=None)[0]
    return float(np.corrcoef(ex, ey)[0, 1])


def test_partial_rho_equals_the_correlation_of_rank_residuals():
    rng = np.random.default_rng(5)
    z = rng.integers(0, 3, size=30).astype(float)  # dead units: few values, many ties
    y = -0.5 * z + rng.normal(size=30)
    x = y + z * 0.3 + rng.normal(size=30)
    assert setups.partial_rho(x, y, z) == pytest.approx(_partial_by_residuals(x, y, z), abs=1e-12)
    assert setups.partial_rho(x, y, z) != pytest.approx(spearmanr(x, y).statistic, abs=1e-3)
    # a constant control removes nothing; a constant score has no rho
    assert setups.partial_rho(x, y, np.zeros(30)) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert setups.partial_rho(np.ones(30), y, z) is None


def test_wins_ranks_and_beats_split_ties():
    rho = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.3]])
    np.testing.assert_array_equal(setups.win_shares(rho), [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(setups.ranks(rho), [[1.5, 1.5, 3.0], [3.0, 1.0, 2.0]])
    np.testing.assert_array_equal(setups.beats(rho, 2), [[1.0, 1.0, 0.5], [0.0, 1.0, 0.5]])


def test_holm_steps_down_and_keeps_order():
    np.testing.assert_allclose(setups.holm(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(setups.holm(np.array([0.5, 0.001])), [0.5, 0.002])
    assert setups.holm(np.array([0.6, 0.7])).max() == 1.0


NAMES = ("good", "probe", "twin", "bad", "noisy")


def _constructed(n_setups=20, seed=0):
    """Setups where `good` always beats the probe by 0.3, `twin` equals it, `bad` trails it by 0.4 and `noisy`
    straddles it."""
    rng = np.random.default_rng(seed)
    probe = rng.uniform(0.2, 0.5, size=n_setups)
    noisy = probe + rng.uniform(-0.2, 0.2, size=n_setups)
    return np.column_stack([probe + 0.3, probe, probe, probe - 0.4, noisy])


def test_across_setups_finds_the_constructed_answers():
    rows = setups.across_setups(
        {"arm a": _constructed(), "arm b": _constructed(seed=1)}, NAMES, reference="probe", seed=0
    )
    by = {(r["arm"], r["score"]): r for r in rows}
    good = by[(setups.ALL_ARMS, "good")]
    assert good["win_rate"] == 1.0 and good["win_rate_ci"] == [1.0, 1.0]
    assert good["beats_reference"] == 1.0 and good["mean_rank"] == 1.0
    assert good["rho_diff"] == pytest.approx(0.3) and good["verdict"] == "better"
    assert by[(setups.ALL_ARMS, "twin")]["verdict"] == "as good as"
    assert by[(setups.ALL_ARMS, "twin")]["beats_reference"] == 0.5
    assert by[(setups.ALL_ARMS, "bad")]["verdict"] == "worse"
    assert by[("arm a", "probe")]["verdict"] is None and by[("arm a", "probe")]["p_diff"] is None
    # every tested row is Holm-adjusted over all of them: 4 scores x (2 arms + all arms)
    tested = [r for r in rows if r["p_diff"] is not None]
    assert len(tested) == 12
    np.testing.assert_allclose([r["p_diff_holm"] for r in tested], setups.holm(np.array([r["p_diff"] for r in tested])))
    assert setups.best_score(rows) == "good"


def test_across_setups_resamples_setups_seeded_by_name():
    rho = {"arm a": _constructed(n_setups=12)}
    one = setups.across_setups(rho, NAMES, reference="probe", seed=0)
    assert one == setups.across_setups(rho, NAMES, reference="probe", seed=0)
    other = setups.across_setups(rho, NAMES, reference="probe", seed=1)
    noisy = [r for r in one if r["score"] == "noisy" and r["arm"] == "arm a"][0]
    assert noisy["mean_rho_ci"] != [r for r in other if r["score"] == "noisy" and r["arm"] == "arm a"][0]["mean_rho_ci"]
    # the CI of a mean over 12 setups: near the normal approximation's half-width
    values = rho["arm a"][:, 4]
    half = 1.96 * values.std() / np.sqrt(12)
    low, high = noisy["mean_rho_ci"]
    assert noisy["mean_rho"] == pytest.approx(values.mean())
    assert (high - low) / 2 == pytest.approx(half, rel=0.25)


def test_a_score_without_rho_counts_as_knowing_nothing():
    rho = _constructed(n_setups=6)
    rho[:, 3] = np.nan
    rows = setups.across_setups({"arm": rho}, NAMES, reference="probe", seed=0)
    bad = [r for r in rows if r["score"] == "bad" and r["arm"] == "arm"][0]
    assert bad["mean_rho"] == 0.0 and bad["win_rate"] == 0.0


def test_equivalence_rests_on_the_stated_margin():
    rho = {"arm": _constructed()}
    noisy = {
        m: [r for r in setups.across_setups(rho, NAMES, reference="probe", seed=0, margin=m) if r["score"] == "noisy"][
            0
        ]
        for m in (0.005, 0.5)
    }
    assert noisy[0.5]["verdict"] == "as good as" and noisy[0.5]["p_equivalent"] < 0.01
    assert noisy[0.005]["verdict"] == "inconclusive" and noisy[0.005]["p_equivalent"] > 0.2


def test_partial_rho_is_undefined_when_the_control_orders_the_score_exactly():
    x = np.arange(10.0)
    assert setups.partial_rho(x, np.sin(x), 2 * x) is None


def test_equivalence_tests_both_sides_of_the_margin():
    rng = np.random.default_rng(2)
    probe = rng.uniform(0.2, 0.5, size=20)
    up = probe + rng.uniform(0.05, 0.15, size=20)  # a mean gain near 0.1: just inside a margin of 0.11
    rho = {"arm": np.column_stack([up, probe])}
    row = setups.across_setups(rho, ("up", "probe"), reference="probe", seed=0, margin=0.11)[0]
    assert 0.01 < row["p_equivalent"] < 0.5 and row["verdict"] == "better"
