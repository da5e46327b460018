"""Tests that kill mutants of blobs_transfer.render.findings which tests/render/test_findings.py lets through
(benchmarks/mutation.sh; the mutants each test kills are named in it). Every finding is a sentence a user reads, so
the tests pin whole sentences, each built from its hand-made inputs by the rule its docstring states."""

from blobs_transfer.render import findings
from blobs_transfer.sweep.grid import sweep_from_dict
from tests.helpers import summary

EXPLAIN = "That probability is the Vargha-Delaney A12, 0.5 when neither arm is ahead"
MEANS = "Mean test accuracy: standalone 0.797, transfer fixed=0 0.780, transfer fixed=1 0.758, transfer fixed=2 0.756."
CLAUSES = (  # the verdicts of tests.helpers.summary(): fixed=1 and fixed=2 worse, fixed=0 no evidence
    "transfer fixed=1 and transfer fixed=2 are worse than standalone (a run of each beats a run of standalone with "
    "probability 0.38 and 0.23); transfer fixed=0 is not distinguishable from standalone (a run of it beats a run of "
    "standalone with probability 0.45)."
)
END = f"{EXPLAIN}; each cell's verdict tests it with the source model as the unit."


# --- finding: the unit of the verdicts ------------------------------------------------------------------------


def test_finding_of_two_source_models_is_across_them_in_full():
    """Two source models are already "across source models" (K > 1), tested with the source model as the unit:
    never "runs independent", which would overstate what two nested samples show."""
    # finding mutants: k > 1 -> k > 2; the unit "tested with the source model as the unit" misspelt
    assert findings.finding(summary(k=2)) == (
        f"Across 2 source models, {CLAUSES} {EXPLAIN} (verdicts Holm-adjusted at alpha 0.05, tested with the source "
        f"model as the unit). {MEANS}"
    )


def test_finding_of_one_source_model_in_full():
    """One source model: the verdicts hold for that model only, and the sentence says another can rank the arms
    differently."""
    # finding mutant: the unit "conditional on that one source model: ..." misspelt
    assert findings.finding(summary(k=1)) == (
        f"With one source model (seed 7), {CLAUSES} {EXPLAIN} (verdicts Holm-adjusted at alpha 0.05, conditional on "
        f"that one source model: another can rank the arms differently). {MEANS}"
    )


# --- kinds_of: every arm's kind, from whatever parts a summary has ---------------------------------------------


def test_kinds_of_names_an_arm_only_compared_as_an_arm_of_no_kind():
    """An arm that appears in the comparisons but not among the arms gets the neutral kind "arm": never missing,
    never None, never a guessed kind."""
    # kinds_of mutants: summary.get("comparisons", []) -> get(None, ...), "XXcomparisonsXX", "COMPARISONS";
    # setdefault(arm, "arm") -> None, no default, "XXarmXX", "ARM"
    s = {
        "run": {"baseline": "standalone"},
        "arms": [{"arm": "standalone", "kind": "baseline"}, {"arm": "c", "kind": "control"}],
        "comparisons": [{"arm": "c"}, {"arm": "old"}],
    }
    assert findings.kinds_of(s) == {"standalone": "baseline", "c": "control", "old": "arm"}


def test_kinds_of_reads_a_summary_with_parts_missing():
    """kinds_of takes a partial summary (no run, no arms or no comparisons) and gives the kinds of what is there."""
    # kinds_of mutants: summary.get("run", {}) -> get("run", None), get("run"); summary.get("arms", []) -> None,
    # no default; summary.get("comparisons", []) -> None, no default
    assert findings.kinds_of({"arms": [{"arm": "a", "kind": "transfer"}], "comparisons": [{"arm": "b"}]}) == {
        "a": "transfer",
        "b": "arm",
    }
    assert findings.kinds_of({"run": {"baseline": "s"}, "comparisons": [{"arm": "b"}]}) == {"b": "arm", "s": "baseline"}
    assert findings.kinds_of({"run": {"baseline": "s"}, "arms": [{"arm": "a"}]}) == {"a": "arm", "s": "baseline"}


# --- which arms start from a source model, and from how many -----------------------------------------------------


def with_kinds(s, kinds):
    """The summary with its arms' kinds set: kinds[i] for transfer fixed=i."""
    for a in s["arms"][1:]:
        a["kind"] = kinds[int(a["arm"][-1])]
    return s


def test_source_arms_words_name_the_kinds_of_the_arms_that_start_from_a_source():
    """Transfer arms, controls, or both; the baseline (no source model, n_sources None) is never among them, and
    neither is an arm without runs from a source (n_sources 0)."""
    # source_arms_words mutants: kinds None or of None; found None; kinds.get(arm) of the wrong key; the
    # n_sources filter reading the wrong key; == {"control"} -> !=, misspelt; "controls", "transfer arms and
    # controls", "transfer arms" misspelt; "control" in found -> and False, or True, not in, misspelt
    assert findings.source_arms_words(summary()) == "transfer arms"
    assert findings.source_arms_words(with_kinds(summary(), ["control"] * 3)) == "controls"
    assert findings.source_arms_words(with_kinds(summary(), ["transfer", "control", "transfer"])) == (
        "transfer arms and controls"
    )
    s = with_kinds(summary(), ["transfer", "control", "control"])
    s["arms"][1]["n_sources"] = 0  # the one transfer arm has no runs from a source model
    assert findings.source_arms_words(s) == "controls"


def test_sources_phrase_of_many_source_models():
    """K > 1 source models: how many, and that the runs are nested in them."""
    # sources_phrase mutants: who None or of None; source["count"] misspelt (both places); count > 1 -> > 2 (two
    # models would be called one)
    assert findings.sources_phrase(summary(k=100)) == "transfer arms: 100 source models (runs nested in them)"
    controls = with_kinds(summary(k=2), ["control"] * 3)
    assert findings.sources_phrase(controls) == "controls: 2 source models (runs nested in them)"


def test_sources_phrase_of_one_source_model_gives_its_path_and_seed():
    """One source model: the sentence says the arms are conditional on it, where it was loaded from and its seed."""
    # sources_phrase mutants: count > 1 -> >= 1 (one model would be called many); the seed read as None,
    # `seeds and [None]`, of the wrong key, or seeds[1]; the seed test `is not None` -> and False; the path read
    # as None, `path and ...`, of the wrong key
    assert findings.sources_phrase(summary(k=1)) == (
        "transfer arms conditional on ONE source model (results/source/problem1.keras, seed 7)"
    )
    s = summary(k=1)
    s["run"]["source_model"]["seeds"] = [0]  # seed 0 is a seed, not a missing one
    assert findings.sources_phrase(s) == (
        "transfer arms conditional on ONE source model (results/source/problem1.keras, seed 0)"
    )


def test_sources_phrase_of_a_source_model_trained_in_the_run_without_a_seed():
    """No saved path: the model was trained in the run; no recorded seed: 'seed unknown'."""
    # sources_phrase mutants: "trained in the run" misspelt; `path or ...` -> `path and ...`; the seed test
    # `is not None` -> or True, is None; "unknown" misspelt
    s = summary(k=1)
    s["run"]["source_model"].update(path=None, seeds=[])
    assert findings.sources_phrase(s) == (
        "transfer arms conditional on ONE source model (trained in the run, seed unknown)"
    )


def test_sources_phrase_is_empty_without_a_source_model():
    """A run without a source model says nothing about source models (and does not fail)."""
    # sources_phrase mutants: summary["run"] misspelt; `not source` -> `source`; "" -> "XXXX"
    s = summary()
    s["run"]["source_model"] = None
    assert findings.sources_phrase(s) == ""
    del s["run"]["source_model"]
    assert findings.sources_phrase(s) == ""


# --- counts_phrase: the real number of runs per arm --------------------------------------------------------------


def arms(*rows):
    """A summary holding only its arms: (name, n runs, n_sources)."""
    return {"arms": [{"arm": a, "n": n, "n_sources": k} for a, n, k in rows]}


def test_counts_phrase_of_one_run_and_of_arms_alone_and_together():
    """'1 run' in the singular, 'runs' otherwise; 'each' only after arms said together; an arm without source
    models (n_sources None or 0) gets no source clause."""
    # counts_phrase mutants: the plural test n != 1 -> and False, or True, == 1, != 2; "s" misspelt; "" -> "XXXX";
    # the "each" test len(arms) > 1 -> and False, or True, >= 1; " each" misspelt; "" -> "XXXX";
    # n_sources `or 0` -> `and 0`, `or 1`; the group key None; "; " misspelt
    assert findings.counts_phrase(arms(("standalone", 1, None), ("x", 2, 0), ("y", 2, 0), ("z", 2, 0))) == (
        "standalone: 1 run; x, y and z: 2 runs each"
    )


def test_counts_phrase_of_runs_that_do_not_divide_among_the_source_models():
    """5 runs from 2 source models cannot be 'k from each': the sentence says 'from 2 source models'."""
    # counts_phrase mutants: k > 1 and n % k == 0 -> `or`, n / k, != 0, == 1; elif k > 1 -> > 2; n_sources
    # read from the wrong key; runs += -> = (the run count lost)
    assert findings.counts_phrase(arms(("a", 5, 2), ("b", 6, 2))) == (
        "a: 5 runs from 2 source models; b: 6 runs, 3 from each of 2 source models"
    )


def test_counts_phrase_of_runs_from_one_source_model():
    """One source model: 'all from one source model', never '3 from each of 1 source models'; the baseline (no
    source model) gets no source clause, and arms with other counts are said apart."""
    # counts_phrase mutants: k > 1 -> k >= 1 (both branches); elif k == 1 -> != 1, == 2; runs += -> =;
    # the clause misspelt; n // k -> n / k; the "each" test len(arms) > 1 -> > 2 (two arms together)
    assert findings.counts_phrase(arms(("standalone", 3, None), ("a", 3, 1), ("b", 3, 1), ("c", 4, 4))) == (
        "standalone: 3 runs; a and b: 3 runs each, all from one source model; c: 4 runs, 1 from each of 4 source models"
    )


# --- best_arm_line ----------------------------------------------------------------------------------------------


def test_best_arm_line_counts_the_source_models_where_each_arm_is_best():
    """Per arm, in order of first appearance, how many of the K source models it is best on."""
    # best_arm_line mutants: every key misspelt; the count started at 1, counted from None, stepped by 2 or -1;
    # ", " and "." misspelt; the lead misspelt or in another case
    s = {"sources": {"ranking": [{"best_arm": a} for a in ("b", "a", "b", "b", "c")]}}
    assert findings.best_arm_line(s) == "Best arm per source model: b in 3 of 5, a in 1 of 5, c in 1 of 5."


# --- sweep_finding: arms of every kind, said per kind -------------------------------------------------------------


def cells(grid, verdicts, kinds, k=3):
    """Hand-made cell summaries of a sweep: verdicts[cell values] = [(arm, verdict, a12, diff_mean), ...];
    kinds: arm -> kind, an arm left out is written without a kind (a summary from before kinds were recorded)."""
    out = []
    for cell in grid.cells():
        rows = verdicts[tuple(v for _, v in cell.values)]
        out.append(
            {
                "cell": cell,
                "summary": {
                    "run": {"baseline": "standalone", "source_repeats": k},
                    "arms": [
                        {"arm": "standalone", "kind": "baseline"},
                        *({"arm": a} | ({"kind": kinds[a]} if a in kinds else {}) for a, *_ in rows),
                    ],
                    "comparisons": [{"arm": a, "verdict": v, "a12": p, "diff_mean": d} for a, v, p, d in rows],
                },
            }
        )
    return out


def test_sweep_finding_of_one_arm_without_a_kind_reads_both_axes():
    """An arm of a summary without kinds is named as it is, capitalised at the start of its sentence, never called
    transfer; its best cell is 'an arm's'. Better in 3 of 4 cells, the majority at 20 rows (2 of 2) and at t = 0.0
    (2 of 2), no majority at 100 rows or t = 1.0 (1 better, 1 worse): one pattern per axis, joined by '; '."""
    # _patterns mutants: the kind "arm" misspelt (its sentence lost); _subject mutants: the one-arm test
    # `len(arms) == 1` -> and False, != 1; names[0].upper() -> lower(), names[1]; names[1:] -> names[2:];
    # _highest mutants: the kind "arm" and its words "an arm" misspelt; _axis_pattern mutant: "; " misspelt
    grid = sweep_from_dict({"sweep": {"target.n_train": [20, 100], "target.similarity_t": [0.0, 1.0]}})
    a = "transfer fixed=0"
    verdicts = {
        (20, 0.0): [(a, "better", 0.9, 0.1)],
        (20, 1.0): [(a, "better", 0.7, 0.05)],
        (100, 0.0): [(a, "better", 0.6, 0.02)],
        (100, 1.0): [(a, "worse", 0.3, -0.04)],
    }
    assert findings.sweep_finding(grid, cells(grid, verdicts, kinds={})) == (
        "Across 4 cells (target training rows x shift t away from the source, 3 source models each), transfer "
        "fixed=0 beats standalone in 3 cells and loses in 1. Transfer fixed=0 is mostly better at target training "
        "rows = 20; mostly better at shift t away from the source = 0.0 (in most of its cells with that value). The "
        "highest chance that a run of an arm beats a run of standalone is 0.90 (transfer fixed=0 at target training "
        f"rows = 20, shift t away from the source = 0.0, difference of means +0.100). {END}"
    )


def test_sweep_finding_of_two_arms_without_a_kind_and_of_two_controls():
    """Two arms of no kind are 'the arms a and b', two controls 'the controls (c and d)': each group in the plural,
    said apart. Both groups are worse at 100 rows in all their cells (better at 20 for the arms)."""
    # _subject mutants: the controls' one-arm test `len(arms) == 1` -> or True; the arms' -> or True, == 2, != 1
    grid = sweep_from_dict({"sweep": {"target.n_train": [20, 100]}})
    verdicts = {
        (20,): [("a", "better", 0.8, 0.1), ("b", "better", 0.7, 0.05), ("c", "no evidence", 0.5, 0.0)],
        (100,): [("a", "worse", 0.3, -0.1), ("b", "worse", 0.2, -0.2), ("c", "worse", 0.4, -0.01)],
    }
    for rows in verdicts.values():
        rows.append(("d", "worse", 0.1, -0.3))
    assert findings.sweep_finding(grid, cells(grid, verdicts, kinds={"c": "control", "d": "control"})) == (
        "Across 2 cells (target training rows, 3 source models each), a / b / c (control) / d (control) beat "
        "standalone in 1 / 1 / 0 / 0 cells and lose in 1 / 1 / 1 / 2. The controls (c and d) are mostly worse at "
        "target training rows = 100 (in most of their cells with that value). The arms a and b are mostly better at "
        "target training rows = 20 and mostly worse at 100 (in most of their cells with that value). The highest "
        "chance that a run of a control beats a run of standalone is 0.50 (c at target training rows = 20, "
        "difference of means +0.000). The highest chance that a run of an arm beats a run of standalone is 0.80 (a "
        f"at target training rows = 20, difference of means +0.100). {END}"
    )


def test_compared_arms_of_a_sweep_of_one_cell():
    """The compared arms are the first cell's, in its order; a sweep of one cell has only that cell."""
    # compared_arms mutant: summaries[0] -> summaries[1]
    one = [{"summary": {"comparisons": [{"arm": "b"}, {"arm": "a"}]}}]
    assert findings.compared_arms(one) == ["b", "a"]


def test_sweep_finding_without_comparisons_names_every_axis():
    """No arm compared in any cell: one line, the cells and every swept axis in words, comma-separated (the fast
    form of the small-sweep test that mutation.sh deselects)."""
    # sweep_finding mutants: axes = None; ", " misspelt
    grid = sweep_from_dict({"sweep": {"target.n_train": [20, 100], "target.similarity_t": [0.0, 1.0]}})
    alone = cells(grid, {cell: [] for cell in ((20, 0.0), (20, 1.0), (100, 0.0), (100, 1.0))}, kinds={})
    assert findings.sweep_finding(grid, alone) == (
        "4 cells over target training rows, shift t away from the source; no arm was compared with standalone."
    )


def test_sweep_finding_of_a_sweep_of_one_cell():
    """A sweep of one cell reads its baseline from that cell, and says "1 cell" in the singular."""
    # sweep_finding mutant: summaries[0]["summary"]["run"] -> summaries[1] (no second cell)
    grid = sweep_from_dict({"sweep": {"target.n_train": [20]}})
    text = findings.sweep_finding(grid, cells(grid, {(20,): []}, kinds={}))
    assert text == "1 cell over target training rows; no arm was compared with standalone."


def test_sweep_kinds_keep_the_first_kind_a_cell_records():
    """A sweep whose cells mix summaries with and without kinds (a cell written before kinds were recorded): an
    arm keeps the kind the first recording cell gives it, and a later cell without one does not erase it."""
    # sweep_kinds mutant: kinds.get(arm, "arm") == "arm" -> kinds.get(None, "arm") (every later cell overwrites)
    with_kind = {"summary": {"arms": [{"arm": "c", "kind": "control"}]}}
    without = {"summary": {"arms": [{"arm": "c"}]}}
    assert findings.sweep_kinds([without, with_kind, without]) == {"c": "control"}
    assert findings.sweep_kinds([with_kind, {"summary": {"arms": [{"arm": "c", "kind": "transfer"}]}}]) == {
        "c": "control"
    }
