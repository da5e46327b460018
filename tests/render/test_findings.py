"""Findings in words (blobs_transfer.render.findings): the sentences for hand-made summaries of a run and of a
sweep, each arm named with its kind (a control is never transfer: the transfusion case), and for a real sweep
without comparisons; and every arm kind that `stats.summary.arm_kind` gives the committed configs' arms."""

import pytest

from blobs_transfer.config import Arm, Config
from blobs_transfer.render import findings, report
from blobs_transfer.rundir import sweep_dir
from blobs_transfer.stats.summary import arm_kind
from blobs_transfer.sweep.grid import load_sweep, sweep_from_dict
from tests.helpers import SWEEP as SMALL
from tests.helpers import summary, write

EXPLAIN = "That probability is the Vargha-Delaney A12, 0.5 when neither arm is ahead"


def test_finding_across_source_models_in_words_and_numbers():
    text = report.finding(summary())
    assert text.startswith(
        "Across 100 source models, transfer fixed=1 and transfer fixed=2 are worse than "
        "standalone (a run of each beats a run of standalone with probability 0.38 and 0.23); "
        "transfer fixed=0 is not distinguishable from standalone (a run of it beats a run of "
        "standalone with probability 0.45)."
    )
    assert "source model as the unit" in text
    assert "standalone 0.797, transfer fixed=0 0.780, transfer fixed=1 0.758, transfer fixed=2 0.756" in text


def test_finding_of_one_source_model_says_it_is_conditional():
    text = report.finding(summary(k=1, a12=(0.10, 0.62, 0.50), verdicts=("worse", "better", "no evidence")))
    assert text.startswith(
        "With one source model (seed 7), transfer fixed=1 is better than standalone (a run of it "
        "beats a run of standalone with probability 0.62); transfer fixed=0 is worse than "
        "standalone (a run of it beats a run of standalone with probability 0.10); transfer "
        "fixed=2 is not distinguishable from standalone (a run of it beats a run of standalone "
        "with probability 0.50)."
    )
    assert "conditional on that one source model" in text


def test_finding_names_a_control_as_a_control():
    s = summary(verdicts=("better", "worse", "worse"))
    s["arms"][1]["arm"] = s["comparisons"][0]["arm"] = "weight stats fixed=0"
    s["arms"][1]["kind"] = "control"
    text = findings.finding(s)
    assert text.startswith("Across 100 source models, weight stats fixed=0 (control) is better than standalone")
    assert "transfer fixed=1 and transfer fixed=2 are worse than standalone" in text


def test_a_control_from_no_source_model_is_said_to_be_tested_with_runs_as_independent():
    """Across K > 1 source models, an arm that starts from none (Yosinski's random1) still gets Mann-Whitney U on
    runs as independent (stats.compare): the sentence says so for it, not that the source model is its unit."""
    from blobs_transfer.stats.compare import MWU_VERDICT, NESTED_VERDICT

    s = summary(verdicts=("better", "worse", "worse"))
    s["arms"][1]["arm"] = s["comparisons"][0]["arm"] = "random1"
    s["arms"][1]["kind"] = "control"
    for c in s["comparisons"]:
        c["verdict_test"] = MWU_VERDICT if c["arm"] == "random1" else NESTED_VERDICT
    assert (
        "(verdicts Holm-adjusted at alpha 0.05, tested with the source model as the unit, and random1 (control), "
        "which starts from no source model, with the run as the unit (Mann-Whitney U, runs as independent))"
    ) in findings.finding(s)
    for c in s["comparisons"]:
        c["verdict_test"] = NESTED_VERDICT
    assert "(verdicts Holm-adjusted at alpha 0.05, tested with the source model as the unit)" in findings.finding(s)


def test_a_summary_without_kinds_names_arms_without_a_kind():
    """A summary written before kinds were recorded: the arms by name only, never guessed from the name."""
    s = summary(verdicts=("better", "worse", "worse"))
    for a in s["arms"]:
        del a["kind"]
    assert findings.kinds_of(s) == {
        "standalone": "baseline",
        "transfer fixed=0": "arm",
        "transfer fixed=1": "arm",
        "transfer fixed=2": "arm",
    }
    assert "(control)" not in findings.finding(s)


def test_sweep_finding_without_comparisons_is_one_line(small_sweep):
    grid = load_sweep(small_sweep / "sweep.toml")
    _, _, summaries = sweep_dir.cell_rows(grid, small_sweep)
    alone = [{"cell": s["cell"], "summary": {**s["summary"], "comparisons": []}} for s in summaries]
    assert findings.sweep_finding(grid, alone) == (
        "4 cells over target training rows, shift t away from the source; no arm was compared with standalone."
    )


def cells_of(grid, verdicts, k, kinds=None):
    """Hand-made cell summaries: verdicts[i] = [(arm, verdict, a12, diff_mean), ...] for cell i; kinds: arm ->
    kind (default transfer)."""
    kinds = kinds or {}
    return [
        {
            "cell": cell,
            "summary": {
                "run": {"baseline": "standalone", "source_repeats": k},
                "arms": [
                    {"arm": "standalone", "kind": "baseline"},
                    *({"arm": a, "kind": kinds.get(a, "transfer")} for a, *_ in verdicts[cell.index]),
                ],
                "comparisons": [
                    {"arm": a, "verdict": v, "a12": p, "diff_mean": d} for a, v, p, d in verdicts[cell.index]
                ],
            },
        }
        for cell in grid.cells()
    ]


def test_sweep_finding_counts_verdicts_and_reads_each_axis(tmp_path):
    """Hand-made verdicts on a 2 x 2 grid: counts per arm, the axis values where most cells agree, the best cell."""
    grid = load_sweep(write(tmp_path, SMALL.format(epochs=2)))
    verdicts = {  # (n_train, similarity_t): (verdict of arm a, of arm b), a12 of arm a
        (20, 0.0): (("better", "better"), 0.9),
        (20, 1.0): (("worse", "worse"), 0.2),
        (100, 0.0): (("better", "no evidence"), 0.7),
        (100, 1.0): (("worse", "no evidence"), 0.3),
    }
    rows = []
    for cell in grid.cells():
        (va, vb), a12 = verdicts[tuple(v for _, v in cell.values)]
        rows.append([("a", va, a12, a12 - 0.5), ("b", vb, 0.5, 0.0)])
    assert findings.sweep_finding(grid, cells_of(grid, rows, k=2)) == (
        "Across 4 cells (target training rows x shift t away from the source, 2 source models each), a / b beat "
        "standalone in 2 / 1 cells and lose in 2 / 1. Transfer (a and b) is mostly better at shift t away from "
        "the source = 0.0 and mostly worse at 1.0 (in most of their cells with that value). The highest chance that a "
        "run of a transfer arm beats a run of standalone is 0.90 (a at target training rows = 20, shift t away "
        f"from the source = 0.0, difference of means +0.400). {EXPLAIN}; each cell's verdict tests it with the source "
        "model as the unit."
    )


def test_sweep_finding_reads_transfer_and_the_control_apart():
    """The transfusion case: transfer fixed=0 better at 10 rows in both cells, the weight-statistics control worse
    in both. Over all arms the cells at 10 rows would split 2-2 (or, with two controls, read "worse"); the finding
    says each kind for itself and never calls the control transfer."""
    grid = sweep_from_dict({"sweep": {"target.n_train": [10, 500], "target.similarity_t": [0.0, 1.0]}})
    control = "weight stats fixed=0"
    cells = {
        (10, 0.0): (("better", 0.85, 0.116), ("worse", 0.30, -0.064)),
        (10, 1.0): (("better", 0.60, 0.05), ("worse", 0.35, -0.03)),
        (500, 0.0): (("no evidence", 0.52, 0.01), ("no evidence", 0.50, 0.0)),
        (500, 1.0): (("worse", 0.40, -0.02), ("no evidence", 0.48, -0.01)),
    }
    rows = []
    for cell in grid.cells():
        (tv, tp, td), (cv, cp, cd) = cells[tuple(v for _, v in cell.values)]
        rows.append([("transfer fixed=0", tv, tp, td), (control, cv, cp, cd)])
    text = findings.sweep_finding(grid, cells_of(grid, rows, k=20, kinds={control: "control"}))
    assert text == (
        "Across 4 cells (target training rows x shift t away from the source, 20 source models each), transfer "
        "fixed=0 / weight stats fixed=0 (control) beat standalone in 2 / 0 cells and lose in 1 / 2. Transfer "
        "(transfer fixed=0) is mostly better at target training rows = 10 (in most of its cells with that value). "
        "The control weight stats fixed=0 is mostly worse at target training rows = 10 (in most of its cells with "
        "that value). The highest chance that a run of a transfer arm beats a run of standalone is 0.85 (transfer "
        "fixed=0 at target training rows = 10, shift t away from the source = 0.0, difference of means +0.116). The "
        "highest chance that a run of a control beats a run of standalone is 0.50 (weight stats fixed=0 at target "
        "training rows = 500, shift t away from the source = 0.0, difference of means +0.000). "
        f"{EXPLAIN}; each cell's verdict tests it with the source model as the unit."
    )
    assert "Transfer is mostly worse" not in text


def test_sweep_finding_says_a_control_from_no_source_model_is_tested_with_runs_as_independent():
    from blobs_transfer.stats.compare import MWU_VERDICT, NESTED_VERDICT

    grid = sweep_from_dict({"sweep": {"target.n_train": [10, 500]}})
    rows = [[("transfer fixed=0", "better", 0.8, 0.1), ("random1", "worse", 0.3, -0.1)] for _ in grid.cells()]
    cells = cells_of(grid, rows, k=20, kinds={"random1": "control"})
    for cell in cells:
        for c in cell["summary"]["comparisons"]:
            c["verdict_test"] = MWU_VERDICT if c["arm"] == "random1" else NESTED_VERDICT
    assert findings.sweep_finding(grid, cells).endswith(
        "each cell's verdict tests it with the source model as the unit, and random1 (control), which starts from "
        "no source model, with the run as the unit (Mann-Whitney U, runs as independent)."
    )


def test_sweep_finding_names_only_the_arms_without_a_source_model_of_the_cells_with_several():
    """A sweep over study.source_repeats = [1, 2]: in the cells of one source model every verdict is Mann-Whitney
    (the transfer arm too); in those of two only the two controls that start from none are. The clause names the
    controls, in the plural, and never the transfer arm."""
    from blobs_transfer.stats.compare import MWU_VERDICT, NESTED_VERDICT

    grid = sweep_from_dict({"sweep": {"study.source_repeats": [1, 2], "target.n_train": [20, 100]}})
    arms = [("a", "better", 0.7, 0.05), ("random1", "worse", 0.3, -0.1), ("random2", "worse", 0.3, -0.1)]
    cells = cells_over_source_models(grid, [arms] * 4)
    for cell in cells:
        one = cell["summary"]["run"]["source_repeats"] == 1
        for c in cell["summary"]["comparisons"]:
            c["verdict_test"] = MWU_VERDICT if one or c["arm"].startswith("random") else NESTED_VERDICT
    assert findings.sweep_finding(grid, cells).endswith(
        "conditional on that model, and random1 and random2, which start from no source model, with the run as the "
        "unit (Mann-Whitney U, runs as independent)."
    )


def test_numbers_and_lists_in_words():
    assert [findings.fmt(v) for v in (None, 0.12345, 3, "x")] == ["n/a", "0.123", "3", "x"]
    assert findings.fmt(0.5, 2) == "0.50"
    assert [findings.join_words(w) for w in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a and b", "a, b and c"]
    assert findings.axis_words("target.n_train") == "target training rows"
    assert findings.short_axis("target.similarity_t") == "shift t away from the source"
    assert findings.axis_words("target.some_key") == "target some key"


def test_finding_without_comparisons_is_the_means_of_the_arms_that_ran():
    s = summary()
    s["comparisons"] = []
    s["arms"][2]["n"] = 0  # every run of transfer fixed=1 diverged: no mean to give
    assert findings.finding(s) == (
        "Mean test accuracy: standalone 0.797, transfer fixed=0 0.780, transfer fixed=2 0.756."
    )


def test_finding_without_source_models_treats_runs_as_independent():
    s = summary()
    s["run"]["source_model"] = None
    assert findings.finding(s) == (
        "Transfer fixed=1 and transfer fixed=2 are worse than standalone (a run of each beats a run of standalone "
        "with probability 0.38 and 0.23); transfer fixed=0 is not distinguishable from standalone (a run of it beats "
        f"a run of standalone with probability 0.45). {EXPLAIN} (verdicts Holm-adjusted at alpha 0.05, runs "
        "independent). Mean test accuracy: standalone 0.797, transfer fixed=0 0.780, transfer fixed=1 0.758, "
        "transfer fixed=2 0.756."
    )


def test_finding_of_one_source_model_without_a_recorded_seed():
    s = summary(k=1, verdicts=("better", "better", "better"))
    s["run"]["source_model"]["seeds"] = []
    assert findings.finding(s).startswith(
        "With one source model (seed unknown), transfer fixed=0, transfer fixed=1 and transfer fixed=2 are better "
        "than standalone (a run of each beats a run of standalone with probability 0.45, 0.38 and 0.23). That"
    )


def test_sweep_finding_of_one_arm_from_one_source_model():
    """One source model per cell: stats.compare tests an arm of one source's runs as independent runs (Mann-Whitney
    U, the run as the unit), so the verdicts are conditional on that model, never "with the source model as the
    unit". One win is "in 1 cell"."""
    grid = sweep_from_dict({"sweep": {"target.n_train": [20, 100]}})
    summaries = cells_of(grid, [[("a", "better", 0.7, 0.05)], [("a", "no evidence", 0.55, 0.01)]], k=1)
    assert findings.sweep_finding(grid, summaries) == (
        "Across 2 cells (target training rows, one source model each, so conditional on it), a beats standalone in "
        "1 cell and loses in 0. Transfer (a) is mostly better at target training rows = 20 (in most of its cells "
        "with that value). The highest chance that a run of a transfer arm beats a run of standalone is 0.70 (a at "
        f"target training rows = 20, difference of means +0.050). {EXPLAIN}; each cell's verdict tests it with the "
        "run as the unit (Mann-Whitney U, runs as independent), conditional on the cell's one source model."
    )


def cells_over_source_models(grid, rows):
    """cells_of with each cell's number of source models its value of study.source_repeats, as a sweep over that
    key records it in each cell's summary."""
    out = cells_of(grid, rows, k=None)
    for item in out:
        item["summary"]["run"]["source_repeats"] = dict(item["cell"].values)["study.source_repeats"]
    return out


def test_sweep_finding_over_the_number_of_source_models_says_which_cells_have_one():
    """A sweep over study.source_repeats = [1, 5]: the cells differ in their number of source models, so the
    finding gives the range and says the cells with one are conditional on it and tested with the run as the unit
    (never "one source model each" from the first cell, nor "the source model as the unit" for every cell)."""
    grid = sweep_from_dict({"sweep": {"study.source_repeats": [1, 5], "target.n_train": [20, 100]}})
    rows = [[("a", "better", 0.7, 0.05)], [("a", "no evidence", 0.55, 0.01)]] * 2
    assert findings.sweep_finding(grid, cells_over_source_models(grid, rows)) == (
        "Across 4 cells (source models x target training rows, 1 to 5 source models per cell; the 2 cells with one "
        "are conditional on it), a beats standalone in 2 cells and loses in 0. Transfer (a) is mostly better at "
        "target training rows = 20 (in most of its cells with that value). The highest chance that a run of a "
        "transfer arm beats a run of standalone is 0.70 (a at source models = 1, target training rows = 20, "
        f"difference of means +0.050). {EXPLAIN}; each cell's verdict tests it with the source model as the unit, "
        "or, in the 2 cells with one source model, with the run as the unit (Mann-Whitney U, runs as independent), "
        "conditional on that model."
    )


def test_sweep_finding_over_the_number_of_source_models_with_one_cell_of_one():
    """study.source_repeats = [1, 3, 5] over one axis: one cell has one source model, said in the singular."""
    grid = sweep_from_dict({"sweep": {"study.source_repeats": [1, 3, 5]}})
    rows = [[("a", "worse", 0.3, -0.05)], [("a", "no evidence", 0.45, -0.01)], [("a", "no evidence", 0.5, 0.0)]]
    text = findings.sweep_finding(grid, cells_over_source_models(grid, rows))
    assert text.startswith(
        "Across 3 cells (source models, 1 to 5 source models per cell; the cell with one is conditional on it), a "
        "beats standalone in 0 cells and loses in 1. "
    )
    assert text.endswith(
        f"{EXPLAIN}; each cell's verdict tests it with the source model as the unit, or, in the cell with one source "
        "model, with the run as the unit (Mann-Whitney U, runs as independent), conditional on that model."
    )


def test_sweep_finding_over_several_source_models_each():
    """study.source_repeats = [2, 5]: every cell has several source models, so every verdict has the source model as
    its unit; the finding gives the range, never the first cell's 2 for all."""
    grid = sweep_from_dict({"sweep": {"study.source_repeats": [2, 5]}})
    rows = [[("a", "better", 0.7, 0.05)], [("a", "better", 0.8, 0.06)]]
    text = findings.sweep_finding(grid, cells_over_source_models(grid, rows))
    assert text.startswith("Across 2 cells (source models, 2 to 5 source models per cell), a beats standalone in 2 ")
    assert text.endswith(f"{EXPLAIN}; each cell's verdict tests it with the source model as the unit.")


def test_sweep_finding_of_one_cell_is_in_the_singular():
    """A sweep of one cell: "1 cell", with or without comparisons; one win is "in 1 cell"."""
    grid = sweep_from_dict({"sweep": {"target.n_train": [20]}})
    one = cells_of(grid, [[("a", "better", 0.7, 0.05)]], k=3)
    assert findings.sweep_finding(grid, one).startswith(
        "Across 1 cell (target training rows, 3 source models each), a beats standalone in 1 cell and loses in 0. "
    )
    alone = cells_of(grid, [[]], k=3)
    assert findings.sweep_finding(grid, alone) == (
        "1 cell over target training rows; no arm was compared with standalone."
    )


def test_sweep_finding_says_nothing_of_an_axis_where_no_value_has_a_majority():
    grid = sweep_from_dict({"sweep": {"target.n_train": [20, 100]}})
    split = [
        [("a", "better", 0.8, 0.1), ("b", "worse", 0.2, -0.1)],
        [("a", "worse", 0.3, -0.05), ("b", "better", 0.6, 0.02)],
    ]
    text = findings.sweep_finding(grid, cells_of(grid, split, k=5))
    assert "mostly" not in text
    assert text.startswith(
        "Across 2 cells (target training rows, 5 source models each), a / b beat standalone in "
        "1 / 1 cells and lose in 1 / 1. The highest chance that a run of a transfer arm beats a "
        "run of standalone is 0.80 (a at target training rows = 20, difference of means +0.100)."
    )


KINDS = {  # every arm of the committed configs, by kind
    "baseline": ["standalone"],
    "transfer": ["transfer fixed=0", "transfer fixed=2", "A1B", "A2B+", "new output fixed=2", "add hidden layer"],
    "control": ["weight stats fixed=0", "B1B", "B2B+", "random1", "random2"],
}


@pytest.mark.parametrize("kind, name", [(k, n) for k, names in KINDS.items() for n in names])
def test_arm_kinds_of_the_committed_arms(kind, name):
    arms = {
        "standalone": Arm("standalone"),
        "transfer fixed=0": Arm("transfer fixed=0", "source"),
        "transfer fixed=2": Arm("transfer fixed=2", "source", fixed=2),
        "A1B": Arm("A1B", "source", copy=1, fixed=1),
        "A2B+": Arm("A2B+", "source", copy=2),
        "new output fixed=2": Arm("new output fixed=2", "source", copy=2, fixed=2),
        "add hidden layer": Arm("add hidden layer", "source", copy=2, fixed=2, add_hidden=1),
        "weight stats fixed=0": Arm("weight stats fixed=0", "source", init="weight_stats"),
        "B1B": Arm("B1B", "source", copy=1, fixed=1, source_problem=2),
        "B2B+": Arm("B2B+", "source", copy=2, source_problem=2),
        "random1": Arm("random1", fixed=1),
        "random2": Arm("random2", fixed=2),
    }
    cfg = Config(arms=tuple(arms.values()))
    assert arm_kind(cfg, arms[name]) == kind
