"""P(best) of each arm from the two-stage bootstrap over source models, on hand-built arrays with known answers.

Hand-computed cases (the bootstrap's exact distribution, against which the Monte Carlo answer is checked to
within 4 of its standard errors, sqrt(p (1 - p) / B)):
- plain bootstrap of A = [0.5, 0.9] (independent runs): its resampled mean is 0.5, 0.7 or 0.9 with
  probabilities 1/4, 1/2, 1/4. Against a constant B = 0.6, P(A best) = 3/4 and P(B best) = 1/4.
- two-stage: A's two sources hold runs [0.5, 0.5] and [0.9, 0.9]; drawing 2 sources with replacement gives
  the same three means with the same probabilities, so against B = 0.6 again P(A best) = 3/4, and against
  B = 0.7 the tie at 0.7 is split: P(A best) = 1/4 + 1/2 * 1/2 = 1/2.
"""

import numpy as np
import pytest

from blobs_transfer.stats.ranking import best_arm, p_best

B = 20000


def within_mc(p, expected, n=B):
    return abs(p - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-12


def test_plain_bootstrap_known_answer():
    p = p_best({"A": [0.5, 0.9], "B": [0.6]}, {}, seed=0, n_resamples=B)
    assert within_mc(p["A"], 0.75) and within_mc(p["B"], 0.25)
    assert p["A"] + p["B"] == pytest.approx(1.0)


@pytest.mark.parametrize("other,expected", [(0.6, 0.75), (0.7, 0.5)])
def test_two_stage_known_answer(other, expected):
    groups = {"A": np.array([0, 0, 1, 1])}
    p = p_best({"A": [0.5, 0.5, 0.9, 0.9], "B": [other]}, groups, seed=1, n_resamples=B)
    assert within_mc(p["A"], expected) and p["A"] + p["B"] == pytest.approx(1.0)


def test_sources_are_the_unit_not_runs():
    """Two sources x 50 runs: had the 100 runs been resampled as independent, A's mean would stay within about
    0.04 of 0.7 and never fall below B's 0.6; drawing sources, it is 0.5 a quarter of the time."""
    a = np.repeat([0.5, 0.9], 50) + np.tile(np.linspace(-0.01, 0.01, 50), 2)
    p = p_best({"A": a, "B": [0.6]}, {"A": np.repeat([0, 1], 50)}, seed=2, n_resamples=B)
    assert within_mc(p["B"], 0.25)


def test_one_arm_clearly_best():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(20), 5)
    arms = {
        "standalone": rng.normal(0.6, 0.05, 100),
        "good": np.repeat(rng.normal(0.85, 0.03, 20), 5),
        "bad": np.repeat(rng.normal(0.5, 0.03, 20), 5),
    }
    out = best_arm(arms, {"good": groups, "bad": groups}, seed=4)
    assert out["best_arm"] == "good" and out["p_best"] == 1.0
    assert out["p_best_by_arm"] == {"standalone": 0.0, "good": 1.0, "bad": 0.0}
    assert out["mean"] == pytest.approx(np.mean(arms["good"]))


def test_identical_arms_share_it_evenly():
    x = np.random.default_rng(5).normal(0.7, 0.05, 100)
    p = p_best({"a": x, "b": x.copy()}, {}, seed=6, n_resamples=B)
    assert within_mc(p["a"], 0.5) and within_mc(p["b"], 0.5)
    constant = p_best({"a": [0.8] * 4, "b": [0.8] * 3, "c": [0.7]}, {}, seed=6, n_resamples=100)
    assert constant == {"a": 0.5, "b": 0.5, "c": 0.0}  # every resample ties: split exactly


def test_arms_from_the_same_sources_are_paired():
    """B beats A by 2 test rows on every one of 10 source models whose means spread by 0.1: drawing the same
    sources for both (their shared pool), B is always best; drawn independently it would be near a coin flip."""
    source_means = np.random.default_rng(7).normal(0.7, 0.1, 10)
    groups = np.repeat(np.arange(10), 4)
    a = np.repeat(source_means, 4)
    arms, g = {"A": a, "B": a + 0.004}, {"A": groups, "B": groups}
    assert p_best(arms, g, seed=8) == {"A": 0.0, "B": 1.0}
    apart = p_best(arms, g, seed=8, pools={"A": 1, "B": 2}, n_resamples=B)
    assert 0.4 < apart["B"] < 0.7


def test_an_arm_missing_a_source_and_seeds():
    """An arm whose runs lack one of the pool's sources has no mean in resamples that drew only that source;
    same seed, same answer; a different seed, a different draw."""
    arms = {"A": [0.6, 0.6, 0.8], "B": [0.7, 0.7]}
    groups = {"A": np.array([0, 0, 1]), "B": np.array([0, 1])}
    first = p_best(arms, groups, seed=9, n_resamples=2000)
    assert first == p_best(arms, groups, seed=9, n_resamples=2000)
    assert first != p_best(arms, groups, seed=10, n_resamples=2000)
    assert sum(first.values()) == pytest.approx(1.0)
    partial = p_best(
        {"A": [0.9, 0.9], "B": [0.5, 0.5]}, {"A": np.array([0, 0]), "B": np.array([1, 1])}, seed=11, n_resamples=B
    )
    # A has a mean only when source 0 is drawn (3/4 of the resamples), and then it is best; else B is
    assert within_mc(partial["A"], 0.75)


def test_bad_input():
    with pytest.raises(ValueError, match="no runs"):
        p_best({"A": []}, {}, seed=0)
    with pytest.raises(ValueError, match="groups of 'A'"):
        p_best({"A": [0.1, 0.2]}, {"A": np.array([0])}, seed=0)
