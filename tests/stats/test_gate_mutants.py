"""Tests that kill mutants of blobs_transfer.stats.gate which the other stats tests let through
(benchmarks/mutation.sh; the mutant each test kills is named in it). Small hand-built arms and baselines only:
no study, no files."""

import math

import numpy as np
import pytest

from blobs_transfer.seeds import statistic_rng, statistic_seed
from blobs_transfer.stats import gate
from blobs_transfer.stats.resample import Sample, Stream, mean_of, resample

ROW_FIELDS = ("arm", "statistic", "baseline", "value", "tolerance", "ok", "finding", "note")


def rows(*tuples):
    """Expected rows of `gate.check`, each given as a tuple in ROW_FIELDS order (finding and note default None)."""
    return [dict(zip(ROW_FIELDS, t + (None,) * (len(ROW_FIELDS) - len(t)), strict=True)) for t in tuples]


# ----------------------------------------------------------------------------- one band


def test_a_band_states_its_rule_and_mentions_the_floor_only_when_raised():
    # _band mutants: the floor clause never / always added, raw < floor -> "XXXX" appended otherwise
    # SE 0.01: 4 x sqrt(2) x 0.01 = 0.05657, above a floor of 2 rows of 500 (0.004): the band is the rule's
    assert gate._band(0.8, 0.01, 0.004, "2 test rows", "bootstrap of 10 runs") == {
        "value": 0.8,
        "se": 0.01,
        "tolerance": 0.0566,
        "why": "4 x sqrt(2) x SE, SE = 0.0100 by bootstrap of 10 runs: 0.0566",
    }
    # SE 0.0005: 4 x sqrt(2) x 0.0005 = 0.00283, below the floor: raised to it, and the reason says so
    assert gate._band(0.8, 0.0005, 0.004, "2 test rows", "bootstrap of 10 runs") == {
        "value": 0.8,
        "se": 0.0005,
        "tolerance": 0.004,
        "why": "4 x sqrt(2) x SE, SE = 0.0005 by bootstrap of 10 runs: 0.0028; raised to the floor of 2 test rows "
        "(0.0040)",
    }


def test_a_band_exactly_at_its_floor_was_not_raised():
    # _band mutant: raw < floor -> raw <= floor (the reason would claim a raise that changed nothing)
    floor = 4.0 * math.sqrt(2.0) * 0.001  # the rule's width for SE 0.001, computed as the band computes it
    assert "raised" not in gate._band(0.8, 0.001, floor, "2 test rows", "u")["why"]


def test_a_band_records_its_se_to_six_decimals():
    # _band mutant: round(se, 6) -> round(se, 7) (the SE as the baseline file records it)
    assert gate._band(0.8, 0.012345678, 0.004, "2 test rows", "u")["se"] == 0.012346


def test_the_unit_names_how_the_arm_was_resampled():
    # _unit mutants: n_groups 1 -> 2 when there are no groups; "> 1" -> "or True", ">= 1", "> 2"
    assert gate._unit(10, None) == "bootstrap of 10 runs"
    assert gate._unit(10, np.zeros(10)) == "bootstrap of 10 runs"  # one source: its runs are the units
    assert gate._unit(10, np.repeat([0, 1], 5)) == "two-stage bootstrap over 2 source models"


# ----------------------------------------------------------------------------- the SEs


def test_bootstrap_se_of_two_constant_sources_is_two_stage():
    # bootstrap_se mutants: len(np.unique(groups)) < 2 -> "<= 2", "< 3" (two sources resampled as 10 runs)
    # sources at 0.70 and 0.90, 5 runs each: a resample's mean is the mean of 2 drawn sources, 0.7, 0.8 or 0.9
    # with probabilities 1/4, 1/2, 1/4: SD sqrt(0.01 / 2) = 0.0707; as 10 independent runs it would be 0.0316
    values, groups = np.repeat([0.70, 0.90], 5), np.repeat([0, 1], 5)
    se = gate.bootstrap_se(values, groups, seed=0, n_resamples=4000)
    assert se["mean"] == pytest.approx(math.sqrt(0.01 / 2), rel=0.05)


def test_bootstrap_se_is_the_sample_sd_of_the_resampled_means():
    # bootstrap_se mutants: np.std(draws, ddof=1) -> ddof=0, ddof=2 (the SE of a bootstrap is the SD of its
    # replicates with ddof=1; with 40 replicates the other divisors differ by over 1%)
    values, groups = np.array([0.70, 0.72, 0.71, 0.80, 0.84, 0.90, 0.88, 0.90, 0.86]), np.repeat([0, 1, 2], 3)
    grid, index = np.unique(values, return_inverse=True)
    means = resample(mean_of(grid), 40, Stream(Sample(index, grid.size, groups), np.random.default_rng(5)))
    se = gate.bootstrap_se(values, groups, seed=5, n_resamples=40)
    assert se["mean"] == pytest.approx(np.std(means, ddof=1), rel=1e-9)


def test_float32_accuracies_get_the_bands_of_the_same_numbers_in_float64():
    """Keras reports accuracies as float32: the gate reads them as the float64 numbers they are, so a baseline
    does not depend on which precision its accuracies arrived in."""
    # bootstrap_se mutants: np.asarray(values, float) -> dtype None / dropped; make_baseline mutants: the same
    v32 = (np.random.default_rng(2).integers(380, 420, 30) / 500).astype(np.float32)
    v64 = v32.astype(float)
    assert gate.bootstrap_se(v32, None, seed=0) == gate.bootstrap_se(v64, None, seed=0)

    def baseline(values):
        arms = [{"arm": "a", "n_diverged": 0, "accuracy": values, "groups": None}]
        return gate.make_baseline(arms, n_test=500, run={}, source="x", seed=0)["arms"]

    assert baseline(v32) == baseline(v64)


def test_finding_se_of_two_constant_sources_is_two_stage():
    # finding_se mutant: len(np.unique(groups)) > 1 -> "> 2" (two sources resampled as 10 independent runs)
    # against a constant baseline arm: the difference is the mean of 2 drawn sources - 0.8, SD sqrt(0.01 / 2);
    # A12 is the share of drawn sources above 0.8, 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4: SD sqrt(1/8)
    arm, groups = np.repeat([0.70, 0.90], 5), np.repeat([0, 1], 5)
    se = gate.finding_se(arm, groups, np.full(10, 0.80), seed=0, n_resamples=4000)
    assert se["diff_mean"] == pytest.approx(math.sqrt(0.01 / 2), rel=0.05)
    assert se["a12"] == pytest.approx(math.sqrt(1 / 8), rel=0.05)


def test_finding_se_counts_a_tie_with_the_baseline_arm_as_half():
    # finding_se mutants: below = cumsum(hb) - 0.5 hb -> + 0.5 hb, - 1.5 hb (a tie counted 1.5 or -0.5 times)
    # arm: 30 runs at 0.80; baseline arm: 30 runs, 10 each at 0.70, 0.80, 0.90. In a resample with shares q7, q8
    # of the baseline at 0.70 and 0.80, A12 = q7 + q8 / 2; the shares are multinomial(30, 1/3 each) / 30, so
    # Var = (2/9 + 2/9 / 4 - 1/9) / 30 = 1 / 180 (with a tie counted 1.5 or -0.5 times: 3.5 / 270)
    base = np.repeat([0.70, 0.80, 0.90], 10)
    se = gate.finding_se(np.full(30, 0.80), None, base, seed=0, n_resamples=4000)
    assert se["a12"] == pytest.approx(math.sqrt(1 / 180), rel=0.06)
    # and the difference of means is the baseline arm's mean's SD: sqrt((0.01 + 0 + 0.01) / 3 / 30)
    assert se["diff_mean"] == pytest.approx(math.sqrt(0.02 / 3 / 30), rel=0.06)


def test_finding_se_of_the_difference_is_over_two_named_streams():
    """The SE of the difference of means is the sample SD of (arm mean - baseline arm mean) over resamples in
    which the arm is drawn from default_rng(seed) and the baseline arm from the stream statistic_rng(seed,
    "baseline"): the streams are part of what a committed baseline's bands are, so they may not change."""
    # finding_se mutants: "-" -> "+" between the two means; statistic_rng(seed, "baseline") -> no name,
    # "BASELINE"; np.std(draws, ddof=1) -> ddof=0, ddof=2
    arm = np.array([0.70, 0.72, 0.71, 0.80, 0.84, 0.90, 0.88, 0.90, 0.86])
    groups, base = np.repeat([0, 1, 2], 3), np.array([0.78, 0.80, 0.80, 0.81, 0.83, 0.79, 0.82])
    grid, index = np.unique(np.concatenate([arm, base]), return_inverse=True)
    arm_means = resample(
        mean_of(grid), 40, Stream(Sample(index[: arm.size], grid.size, groups), np.random.default_rng(7))
    )
    base_means = resample(mean_of(grid), 40, Stream(Sample(index[arm.size :], grid.size), statistic_rng(7, "baseline")))
    se = gate.finding_se(arm, groups, base, seed=7, n_resamples=40)
    assert se["diff_mean"] == pytest.approx(np.std(arm_means - base_means, ddof=1), rel=1e-9)


# ----------------------------------------------------------------------------- the baseline


def baseline_arms():
    return [
        {"arm": "standalone", "n_diverged": 0, "accuracy": np.array([0.79, 0.80, 0.80, 0.81, 0.82, 0.78])},
        {
            "arm": "transfer",
            "n_diverged": 1,
            "accuracy": np.array([0.70, 0.72, 0.71, 0.90, 0.91, 0.89]),
            "groups": np.repeat([0, 1], 3),
        },
        {"arm": "pair", "n_diverged": 0, "accuracy": np.array([0.80, 0.82]), "groups": None},
        {"arm": "constant", "n_diverged": 0, "accuracy": np.full(5, 0.80), "groups": None},
        {"arm": "single", "n_diverged": 0, "accuracy": np.array([0.80]), "groups": None},
    ]


def test_the_baseline_bands_follow_the_stated_rule_from_each_arms_named_seed():
    """Each arm's band: the statistic, its bootstrap SE from statistic_seed(seed, "gate", arm) (two-stage for
    an arm of two sources), and 4 x sqrt(2) x SE or the floor of 2 test rows, whichever is wider."""
    # make_baseline mutants: floor = FLOOR_ROWS / n_test -> *; the seed's names ("gate", arm) dropped or
    # changed; len(np.unique(groups)) > 1 -> "> 2"; values.size >= 2 -> "> 2", ">= 3"; the floor's reason
    # and the unit -> None, _unit(None, ...), _unit(n, None), "groups if nested and False"
    baseline = gate.make_baseline(baseline_arms(), n_test=500, run={}, source="x", seed=3)["arms"]
    points = {"mean": np.mean, "median": np.median, "std": lambda v: np.std(v, ddof=1)}
    for arm in baseline_arms()[:4]:
        name, values = arm["arm"], arm["accuracy"]
        entry = baseline[name]
        assert (entry["n"], entry["n_diverged"]) == (values.size, arm["n_diverged"])
        se = gate.bootstrap_se(values, arm.get("groups"), seed=statistic_seed(3, "gate", name))
        unit = "two-stage bootstrap over 2 source models" if name == "transfer" else f"bootstrap of {values.size} runs"
        for stat in gate.STATISTICS:
            band = entry[stat]
            assert band["value"] == float(points[stat](values))
            assert band["se"] == round(se[stat], 6)
            assert band["tolerance"] == round(max(2 / 500, 4 * math.sqrt(2) * se[stat]), 4)
            assert band["why"].startswith(f"4 x sqrt(2) x SE, SE = {se[stat]:.4f} by {unit}: ")
    # the two-source arm's SE is the two-stage one, not that of 6 independent runs (0.10 between the sources)
    assert baseline["transfer"]["mean"]["se"] > 0.05
    # a constant arm has SE 0: each band is the floor, and says so
    assert baseline["constant"]["mean"] == {
        "value": 0.8,
        "se": 0.0,
        "tolerance": 0.004,
        "why": "4 x sqrt(2) x SE, SE = 0.0000 by bootstrap of 5 runs: 0.0000; raised to the floor of 2 test rows "
        "(0.0040)",
    }
    # one run has no spread to resample: counts only
    assert baseline["single"] == {"n": 1, "n_diverged": 0}


def test_the_baseline_records_what_it_was_made_from():
    # make_baseline mutants: the keys "source_run", "run", "study", "z_band", "floor_rows", "floor_p" renamed;
    # the study written never, always (None), or only when None; "about" from paragraphs 3 and 3
    arms = baseline_arms()[:1]
    study = {"study.repeats": 6, "training.epochs": 20}
    baseline = gate.make_baseline(arms, n_test=500, run={"target": "t"}, source="run-1", seed=0, study=study)
    assert set(baseline) == {
        "about",
        "source_run",
        "run",
        "study",
        "z_band",
        "floor_rows",
        "floor_p",
        "arms",
        "findings",
    }
    assert (baseline["source_run"], baseline["run"], baseline["study"]) == ("run-1", {"target": "t"}, study)
    assert (baseline["z_band"], baseline["floor_rows"], baseline["floor_p"]) == (4.0, 2, 0.01)
    # the "about" text is the module's two paragraphs on why the bands are what they are, each once
    about = baseline["about"]
    assert about.startswith("Why the bands are what they are. With the same seed")
    assert about.count("The findings are guarded too") == 1
    # a baseline made without its study has no "study" (study_differences then compares the legacy "run")
    assert "study" not in gate.make_baseline(arms, n_test=500, run={}, source="x", seed=0)


def test_the_findings_bands_follow_the_stated_rule_from_each_arms_named_seed():
    """Each finding's band: its SE from finding_se with statistic_seed(seed, "gate finding", arm), the arm's
    groups kept; floors of 2 test rows for the difference and P = 0.01 for A12; the comparison's verdict and
    Holm p carried over."""
    # make_findings mutants: groups -> None; seed -> None, statistic_seed(None, ...), names dropped or changed;
    # _unit(None, ...); the floors' reasons -> None, "XXPXX", "p"; "verdict_p_holm" renamed; make_baseline
    # mutant: make_findings(..., seed=None)
    arms = baseline_arms()[:2] + [
        {"arm": "u", "n_diverged": 0, "accuracy": np.full(4, 0.80)},
        {"arm": "c", "n_diverged": 0, "accuracy": np.full(4, 0.80)},
    ]
    comparisons = [
        {"arm": "transfer", "baseline": "standalone", "diff_mean": 0.005, "a12": 0.5, "verdict": "no evidence"},
        {"arm": "u", "baseline": "c", "diff_mean": 0.0, "a12": 0.5, "verdict": "no evidence"},
    ]
    comparisons[0]["verdict_p_holm"], comparisons[1]["verdict_p_holm"] = 0.6, 1.0
    findings = gate.make_baseline(arms, n_test=500, run={}, source="x", seed=3, comparisons=comparisons)["findings"]
    transfer, standalone = arms[1]["accuracy"], arms[0]["accuracy"]
    se = gate.finding_se(transfer, arms[1]["groups"], standalone, seed=statistic_seed(3, "gate finding", "transfer"))
    found = findings["transfer"]
    assert (found["against"], found["verdict"], found["verdict_p_holm"]) == ("standalone", "no evidence", 0.6)
    for key, floor in (("diff_mean", 2 / 500), ("a12", 0.01)):
        assert found[key]["value"] == comparisons[0][key]
        assert found[key]["se"] == round(se[key], 6)
        assert found[key]["tolerance"] == round(max(floor, 4 * math.sqrt(2) * se[key]), 4)
        assert (
            "by two-stage bootstrap over 2 source models and a bootstrap of the 6 standalone runs" in found[key]["why"]
        )
    # constant arms: SE 0, each band raised to its floor, named
    unit = "bootstrap of 4 runs and a bootstrap of the 4 c runs"
    assert findings["u"]["diff_mean"]["why"] == (
        f"4 x sqrt(2) x SE, SE = 0.0000 by {unit}: 0.0000; raised to the floor of 2 test rows (0.0040)"
    )
    assert (
        findings["u"]["a12"]["why"]
        == f"4 x sqrt(2) x SE, SE = 0.0000 by {unit}: 0.0000; raised to the floor of P (0.0100)"
    )
    assert (findings["u"]["diff_mean"]["tolerance"], findings["u"]["a12"]["tolerance"]) == (0.004, 0.01)


# ----------------------------------------------------------------------------- the check


def test_finding_label_names_each_finding():
    # finding_label mutants: the "verdict" key or its label renamed
    assert [gate.finding_label(k, "standalone") for k in ("diff_mean", "a12", "verdict")] == [
        "mean - standalone",
        "P(> standalone)",
        "verdict",
    ]


def test_check_gives_every_row_in_full_and_in_order():
    """Every field of every row, which the terminal table, JUnit and Markdown renderers read: a missing arm,
    the exact counts, each statistic within its band (0.804 against 0.80 +- 0.004 passes, float rounding
    allowed for), a missing comparison, the findings and a verdict that moved to "no evidence"."""
    # check mutants: every argument of the missing-arm, count, statistic, missing-comparison and verdict rows
    # (None, renamed, dropped); count tolerance 0 -> 1, None; `stat in entry` -> `not in`; continue -> break
    # after a missing arm or comparison; _within mutants: want, got, tol -> None; _row mutants: keys renamed
    baseline = {
        "arms": {
            "gone": {"n": 5, "n_diverged": 0},
            "a": {
                "n": 10,
                "n_diverged": 0,
                "mean": {"value": 0.80, "tolerance": 0.004},
                "median": {"value": 0.81, "tolerance": 0.004},
                "std": {"value": 0.02, "tolerance": 0.01},
            },
            "single": {"n": 1, "n_diverged": 0},
        },
        "findings": {
            "b": {"against": "s"},
            "a": {
                "against": "s",
                "diff_mean": {"value": 0.02, "tolerance": 0.004},
                "a12": {"value": 0.7, "tolerance": 0.05},
                "verdict": "better",
            },
        },
    }
    summary = {
        "arms": [
            {"arm": "a", "n": 10, "n_diverged": 1, "mean": 0.804, "median": 0.80, "std": 0.02},
            {"arm": "single", "n": 1, "n_diverged": 0, "mean": 0.8},
        ],
        "comparisons": [{"arm": "a", "baseline": "s", "diff_mean": 0.03, "a12": 0.7, "verdict": "no evidence"}],
    }
    assert gate.check(summary, baseline) == rows(
        ("gone", "present", "yes", "missing", None, False),
        ("a", "n", 10, 10, 0, True),
        ("a", "n_diverged", 0, 1, 0, False),
        ("a", "mean", 0.80, 0.804, 0.004, True),
        ("a", "median", 0.81, 0.80, 0.004, False),
        ("a", "std", 0.02, 0.02, 0.01, True),
        ("single", "n", 1, 1, 0, True),
        ("single", "n_diverged", 0, 0, 0, True),
        ("b", "against s", "compared", "missing", None, False, "present"),
        ("a", "mean - s", 0.02, 0.03, 0.004, False, "diff_mean"),
        ("a", "P(> s)", 0.7, 0.7, 0.05, True, "a12"),
        ("a", "verdict", "better", "no evidence", None, True, "verdict", "better -> no evidence"),
    )


def test_a_value_on_the_edge_of_its_band_passes():
    # _within mutants: abs(got - want) <= tol + 1e-12 -> "<", tol - 1e-12
    assert gate._within("a", "mean", {"value": 0.5, "tolerance": 0.25}, 0.75)["ok"]  # exactly 0.25 away
    assert gate._within("a", "mean", {"value": 0.0, "tolerance": 0.25}, 0.25 + 1e-12)["ok"]  # the allowance included
    assert not gate._within("a", "mean", {"value": 0.0, "tolerance": 0.25}, 0.25 + 2e-12)["ok"]


def test_a_summary_without_comparisons_fails_the_findings_rather_than_crashing():
    # check mutants: summary.get("comparisons", []) -> get("comparisons", None), get("comparisons")
    baseline = {"arms": {}, "findings": {"t": {"against": "s"}}}
    assert gate.check({"arms": []}, baseline) == rows(("t", "against s", "compared", "missing", None, False, "present"))


# ----------------------------------------------------------------------------- the study a baseline guards


def test_study_settings_flattens_a_config_without_the_settings_the_bands_tolerate():
    # study_settings mutants: flat -> None; section == "arms" -> "!=", renamed; enumerate(None); update(None);
    # k not in NOT_THE_STUDY -> "in"
    config = {
        "training": {"epochs": 20, "batch_size": 32},
        "study": {"repeats": 6, "seed": 7, "engine": "numba", "score_sources": True},
        "arms": [{"name": "standalone", "fixed": 0}, {"name": "transfer", "weights": "source"}],
    }
    assert gate.study_settings(config) == {
        "training.epochs": 20,
        "training.batch_size": 32,
        "study.repeats": 6,
        "arms[0].name": "standalone",
        "arms[0].fixed": 0,
        "arms[1].name": "transfer",
        "arms[1].weights": "source",
    }


def test_study_differences_against_a_recorded_study():
    """Every key either side has, in key order, a side without it shown as UNSET (None is a value); the
    baseline recorded its whole study."""
    # study_differences mutants: "study" in baseline -> renamed, "not in"; the recorded branch -> None, complete
    # False; out -> None; set | set -> &, set(None); ours/theirs.get(key, UNSET) -> get(None, ...), get(key, None),
    # get(UNSET), get(key); a != b -> ==; append(None)
    baseline = {"study": {"a": 1, "b": 2, "c": None}, "run": {"repeats": 99}}
    settings = {"a": 1, "b": 3, "d": 4}
    differences, complete = gate.study_differences(baseline, settings, {"repeats": 1})
    assert differences == [("b", 3, 2), ("c", gate.UNSET, None), ("d", 4, gate.UNSET)]
    assert differences[1][1] is gate.UNSET and differences[2][2] is gate.UNSET
    assert complete is True
    assert gate.study_differences(baseline, {"a": 1, "b": 2, "c": None}, {}) == ([], True)


def test_study_differences_against_a_legacy_baseline_compares_its_run_table():
    """A baseline written before baselines recorded their study: only its run table's target, source, repeats,
    source_repeats and epochs are compared, under their config names, and the answer says it is incomplete;
    seed and engine may differ (the bands exist for them)."""
    # study_differences mutants: baseline.get("run", {}) -> get(None, ...), get("run", None), get({}),
    # get("run"), renamed, for theirs and ours; k in LEGACY_RUN_KEYS -> "not in"; ours -> None; run.get(k) ->
    # run.get(None); complete False -> None, True
    legacy = {"arms": {}, "run": {"target": "blobs-2", "source": "blobs-1", "repeats": 10, "epochs": 20, "seed": 0}}
    run = {"target": "blobs-2", "source": "blobs-1", "repeats": 12, "epochs": 20, "seed": 5, "engine": "numba"}
    settings = {"study.repeats": 12, "training.epochs": 100}  # what the legacy baseline never recorded
    differences, complete = gate.study_differences(legacy, settings, run)
    assert differences == [("study.repeats", 12, 10)]
    assert complete is False
    assert gate.study_differences(legacy, settings, {**run, "repeats": 10, "seed": 1}) == ([], False)
    # a legacy baseline without even a run table compares nothing, and still says it is incomplete
    differences, complete = gate.study_differences({"arms": {}}, settings, run)
    assert differences == [] and complete is False
