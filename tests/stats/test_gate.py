"""The regression gate's findings (blobs_transfer.stats.gate): each arm's difference of means and P(arm beats the
baseline arm) against the baseline arm, with bands from the resampling core, and the verdict's rule, on hand-built
arrays and summaries whose answers are known.

- the SEs: sources of constant runs against a constant baseline have a difference of means and a P whose
  bootstrap SEs are those of a mean of K source values and of a proportion of K sources;
- the issue's case: two arms shifted in opposite directions, each by less than its own band, pass every arm's
  own check and fail the difference of means and P;
- verdicts: better <-> worse fails; to or from "no evidence" passes, reported as changed;
- a baseline written before findings checks only the arms.
"""

import math

import numpy as np
import pytest

from blobs_transfer.stats import compare_arms, gate

N_TEST = 500


def test_finding_se_of_constant_sources_against_a_constant_baseline():
    # 8 sources of 5 identical runs each, at 0.70 or 0.90; the baseline arm is 0.80 in every run, so it adds
    # nothing: diff = mean of the 8 source values - 0.80, A12 = the share of sources above 0.80
    source_values = np.array([0.70, 0.90, 0.90, 0.70, 0.90, 0.90, 0.70, 0.90])
    arm, groups = np.repeat(source_values, 5), np.repeat(np.arange(8), 5)
    se = gate.finding_se(arm, groups, np.full(40, 0.80), seed=1, n_resamples=20000)
    p = 5 / 8
    assert se["diff_mean"] == pytest.approx(math.sqrt(np.var(source_values) / 8), rel=0.03)
    assert se["a12"] == pytest.approx(math.sqrt(p * (1 - p) / 8), rel=0.03)
    # the same runs taken as 40 independent runs: a SE sqrt(5) times too small, which is why groups matter
    assert gate.finding_se(arm, None, np.full(40, 0.80), seed=1)["a12"] < se["a12"] / 2


def test_finding_se_is_seeded():
    rng = np.random.default_rng(3)
    arm, base, groups = (
        rng.integers(380, 420, 30) / N_TEST,
        rng.integers(385, 425, 40) / N_TEST,
        np.repeat(np.arange(6), 5),
    )
    assert gate.finding_se(arm, groups, base, seed=4) == gate.finding_se(arm, groups, base, seed=4)
    assert gate.finding_se(arm, groups, base, seed=4) != gate.finding_se(arm, groups, base, seed=5)


def study(shift_arm=0, shift_base=0, seed=0):
    """A hand-made two-arm study: a transfer arm of 40 sources x 2 runs and 80 standalone runs, as correct
    counts, each arm shifted by a number of test rows."""
    rng = np.random.default_rng(seed)
    sources = rng.normal(405, 8, 40).round()
    arm = np.clip(np.repeat(sources, 2) + rng.integers(-1, 2, 80) + shift_arm, 0, N_TEST).astype(int)
    base = np.clip(rng.normal(410, 6, 80).round() + shift_base, 0, N_TEST).astype(int)
    return {"standalone": base, "transfer": arm}, {"transfer": np.repeat(np.arange(40), 2)}


def summary_of(correct, groups):
    """The parts of a run's summary that `gate.check` reads: each arm's statistics and the comparisons."""
    arms = [
        {
            "arm": name,
            "n": int(c.size),
            "n_diverged": 0,
            **{k: float(v) for k, v in gate.statistics_of(c / N_TEST).items()},
        }
        for name, c in correct.items()
    ]
    comparisons = compare_arms(
        {k: v / N_TEST for k, v in correct.items()},
        correct,
        "standalone",
        seed=0,
        groups=groups,
        n_test=N_TEST,
        n_resamples=200,
    )
    return {"arms": arms, "comparisons": comparisons}


def baseline_of(correct, groups):
    arms = [
        {"arm": name, "n_diverged": 0, "accuracy": c / N_TEST, "groups": groups.get(name)}
        for name, c in correct.items()
    ]
    comparisons = summary_of(correct, groups)["comparisons"]
    return gate.make_baseline(arms, n_test=N_TEST, run={}, source="hand-made", seed=0, comparisons=comparisons)


def test_the_baseline_holds_each_finding_with_its_band():
    correct, groups = study()
    baseline = baseline_of(correct, groups)
    finding = baseline["findings"]["transfer"]
    comparison = summary_of(correct, groups)["comparisons"][0]
    assert finding["against"] == "standalone" and finding["verdict"] == comparison["verdict"]
    for key in gate.FINDINGS:
        band = finding[key]
        assert band["value"] == comparison[key]
        assert band["tolerance"] == round(
            max(gate.Z_BAND * math.sqrt(2) * band["se"], 0.004 if key == "diff_mean" else 0.01), 4
        )
        assert "two-stage bootstrap over 40 source models and a bootstrap of the 80 standalone runs" in band["why"]
    assert "findings" in baseline["about"] and "no evidence" in baseline["about"]


def test_opposite_shifts_inside_each_arms_band_fail_the_findings():
    """The issue's case: each arm moves by less than its own band, in opposite directions; every arm's own
    check passes, and the difference of means and P do not."""
    correct, groups = study()
    baseline = baseline_of(correct, groups)
    rows_of = lambda shifted: {(r["arm"], r["statistic"]): r for r in gate.check(summary_of(*shifted), baseline)}  # noqa: E731
    assert all(r["ok"] for r in rows_of(study()).values())  # the baseline's own run
    # each arm shifted by 90% of the narrower of its mean and median bands, in test rows (a shift leaves the std)
    arm_rows, base_rows = (
        int(0.9 * N_TEST * min(baseline["arms"][a][s]["tolerance"] for s in ("mean", "median")))
        for a in ("transfer", "standalone")
    )
    rows = rows_of(study(shift_arm=arm_rows, shift_base=-base_rows))
    assert arm_rows > 0 and base_rows > 0
    moved = [key for key, r in rows.items() if key[1] in gate.STATISTICS and not r["ok"]]
    assert moved == []  # inside every arm's own band
    assert not rows[("transfer", "mean - standalone")]["ok"] and not rows[("transfer", "P(> standalone)")]["ok"]
    assert rows[("transfer", "P(> standalone)")]["finding"] == "a12"


def verdict_rows(was, now):
    baseline = {
        "arms": {},
        "findings": {
            "t": {"against": "s", "verdict": was, **{k: {"value": 0.5, "tolerance": 0.1} for k in gate.FINDINGS}}
        },
    }
    summary = {"arms": [], "comparisons": [{"arm": "t", "baseline": "s", "diff_mean": 0.5, "a12": 0.5, "verdict": now}]}
    return gate.check(summary, baseline)


@pytest.mark.parametrize(
    "was, now, ok, note",
    [
        ("worse", "worse", True, None),
        ("worse", "better", False, None),
        ("better", "worse", False, None),
        ("worse", "no evidence", True, "worse -> no evidence"),
        ("no evidence", "better", True, "no evidence -> better"),
    ],
)
def test_a_verdict_fails_only_when_it_flips_between_better_and_worse(was, now, ok, note):
    rows = verdict_rows(was, now)
    assert [r["statistic"] for r in rows] == ["mean - s", "P(> s)", "verdict"]
    verdict = rows[-1]
    assert (verdict["ok"], verdict["note"]) == (ok, note)
    assert gate.changed(rows) == ([verdict] if note else [])


def test_a_missing_comparison_fails_and_an_old_baseline_checks_only_the_arms():
    baseline = {"arms": {}, "findings": {"t": {"against": "s"}}}
    missing = gate.check({"arms": [], "comparisons": []}, baseline)
    assert [(r["statistic"], r["ok"]) for r in missing] == [("against s", False)]
    assert gate.check({"arms": [], "comparisons": [{"arm": "t", "baseline": "s"}]}, {"arms": {}}) == []
