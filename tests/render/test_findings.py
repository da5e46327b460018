"""Findings in words (blobs_transfer.render.findings): the sentences for hand-made summaries of a run and of a
sweep, and for a real sweep without comparisons."""

from blobs_transfer.render import findings, report
from blobs_transfer.rundir import sweep_dir
from blobs_transfer.sweep.grid import load_sweep, sweep_from_dict
from tests.helpers import SWEEP as SMALL
from tests.helpers import summary, write


def test_finding_across_source_models_in_words_and_numbers():
    text = report.finding(summary())
    assert text.startswith("Across 100 source models, transfer fixed=1 and transfer fixed=2 are worse than "
                           "standalone (P = 0.38 and 0.23); transfer fixed=0 is not distinguishable from standalone "
                           "(P = 0.45).")
    assert "source model as the unit" in text
    assert "standalone 0.797, transfer fixed=0 0.780, transfer fixed=1 0.758, transfer fixed=2 0.756" in text


def test_finding_of_one_source_model_says_it_is_conditional():
    text = report.finding(summary(k=1, a12=(0.10, 0.62, 0.50), verdicts=("worse", "better", "no evidence")))
    assert text.startswith("With one source model (seed 7), transfer fixed=1 is better than standalone (P = 0.62); "
                           "transfer fixed=0 is worse than standalone (P = 0.10); transfer fixed=2 is not "
                           "distinguishable from standalone (P = 0.50).")
    assert "conditional on that one source model" in text


def test_sweep_finding_without_comparisons_is_one_line(small_sweep):

    grid = load_sweep(small_sweep / "sweep.toml")
    _, _, summaries = sweep_dir.cell_rows(grid, small_sweep)
    alone = [{"cell": s["cell"], "summary": {**s["summary"], "comparisons": []}} for s in summaries]
    assert findings.sweep_finding(grid, alone) == ("4 cells over target.n_train, target.similarity_t; no arm was "
                                                 "compared with standalone.")


def test_sweep_finding_counts_verdicts_and_reads_each_axis(tmp_path):
    """Hand-made verdicts on a 2 x 2 grid: counts per arm, the axis values where most cells agree, the best cell."""

    grid = load_sweep(write(tmp_path, SMALL.format(epochs=2)))
    verdicts = {  # (n_train, similarity_t): (verdict of arm a, of arm b), a12 of arm a
        (20, 0.0): (("better", "better"), 0.9), (20, 1.0): (("worse", "worse"), 0.2),
        (100, 0.0): (("better", "no evidence"), 0.7), (100, 1.0): (("worse", "no evidence"), 0.3)}
    summaries = []
    for cell in grid.cells():
        (va, vb), a12 = verdicts[tuple(v for _, v in cell.values)]
        rows = [{"arm": "a", "verdict": va, "a12": a12, "diff_mean": a12 - 0.5},
                {"arm": "b", "verdict": vb, "a12": 0.5, "diff_mean": 0.0}]
        summaries.append({"cell": cell, "summary": {"run": {"baseline": "standalone", "source_repeats": 2},
                                                    "comparisons": rows}})
    assert findings.sweep_finding(grid, summaries) == (
        "Across 4 cells (target.n_train x target.similarity_t, 2 source models each), a / b beat standalone in 2 / 1 "
        "cells and lose in 2 / 1. Transfer is mostly better at target.similarity_t = 0.0 and mostly worse at 1.0 "
        "(in most of the cells with that value, over all arms). The highest P is 0.90 (a at target.n_train=20, "
        "target.similarity_t=0.0, difference of means +0.400). P is the probability that a run of the arm beats a "
        "run of standalone (A12); each cell's verdict tests it with the source model as the unit.")


# --- hand-made summaries whose sentences are known ------------------------------------------------------


def test_numbers_and_lists_in_words():
    assert [findings.fmt(v) for v in (None, 0.12345, 3, "x")] == ["n/a", "0.123", "3", "x"]
    assert findings.fmt(0.5, 2) == "0.50"
    assert [findings.join_words(w) for w in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a and b", "a, b and c"]


def test_finding_without_comparisons_is_the_means_of_the_arms_that_ran():
    s = summary()
    s["comparisons"] = []
    s["arms"][2]["n"] = 0  # every run of transfer fixed=1 diverged: no mean to give
    assert findings.finding(s) == ("Mean test accuracy: standalone 0.797, transfer fixed=0 0.780, "
                                   "transfer fixed=2 0.756.")


def test_finding_without_source_models_treats_runs_as_independent():
    s = summary()
    s["run"]["source_model"] = None
    assert findings.finding(s) == (
        "Transfer fixed=1 and transfer fixed=2 are worse than standalone (P = 0.38 and 0.23); transfer fixed=0 is "
        "not distinguishable from standalone (P = 0.45). P is the probability that a run of the arm beats a run of "
        "standalone (A12; verdicts Holm-adjusted at alpha 0.05, runs independent). Mean test accuracy: standalone "
        "0.797, transfer fixed=0 0.780, transfer fixed=1 0.758, transfer fixed=2 0.756.")


def test_finding_of_one_source_model_without_a_recorded_seed():
    s = summary(k=1, verdicts=("better", "better", "better"))
    s["run"]["source_model"]["seeds"] = []
    assert findings.finding(s).startswith(
        "With one source model (seed unknown), transfer fixed=0, transfer fixed=1 and transfer fixed=2 are better "
        "than standalone (P = 0.45, 0.38 and 0.23). P is")


def cells_of(grid, verdicts, k):
    """Hand-made cell summaries: verdicts[i] = [(arm, verdict, a12, diff_mean), ...] for cell i."""
    return [{"cell": cell, "summary": {"run": {"baseline": "standalone", "source_repeats": k},
                                       "comparisons": [{"arm": a, "verdict": v, "a12": p, "diff_mean": d}
                                                       for a, v, p, d in verdicts[cell.index]]}}
            for cell in grid.cells()]


def test_sweep_finding_of_one_arm_from_one_source_model():
    grid = sweep_from_dict({"sweep": {"target.n_train": [20, 100]}})
    summaries = cells_of(grid, [[("a", "better", 0.7, 0.05)], [("a", "no evidence", 0.55, 0.01)]], k=1)
    assert findings.sweep_finding(grid, summaries) == (
        "Across 2 cells (target.n_train, one source model each, so conditional on it), a beats standalone in 1 "
        "cells and loses in 0. Transfer is mostly better at target.n_train = 20 (in most of the cells with that "
        "value, over all arms). The highest P is 0.70 (a at target.n_train=20, difference of means +0.050). P is "
        "the probability that a run of the arm beats a run of standalone (A12); each cell's verdict tests it with "
        "the source model as the unit.")


def test_sweep_finding_says_nothing_of_an_axis_where_no_value_has_a_majority():
    grid = sweep_from_dict({"sweep": {"target.n_train": [20, 100]}})
    split = [[("a", "better", 0.8, 0.1), ("b", "worse", 0.2, -0.1)], [("a", "worse", 0.3, -0.05),
                                                                      ("b", "better", 0.6, 0.02)]]
    text = findings.sweep_finding(grid, cells_of(grid, split, k=5))
    assert "Transfer is" not in text
    assert text.startswith("Across 2 cells (target.n_train, 5 source models each), a / b beat standalone in 1 / 1 "
                           "cells and lose in 1 / 1. The highest P is 0.80 (a at target.n_train=20, difference of "
                           "means +0.100).")
