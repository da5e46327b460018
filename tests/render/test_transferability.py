"""The report's transferability section (blobs_transfer.render.transferability): sentences generated from the
numbers, the table, the figure, and the hook in the report that puts them in every rendering."""

import copy

import numpy as np

from blobs_transfer.render import report, transferability
from blobs_transfer.stats.transferability import SCORES
from tests import helpers


def row(rho, low, high, rank=1.0):
    return {
        "rho": rho,
        "rho_ci": [low, high],
        "tau": rho,
        "tau_ci": [low, high],
        "top_pick_rank": rank,
        "top_pick_in_top": 1.0 if rank <= 1 else 0.0,
        "top_pick_rate": 0.5,
        "n_sources": 10,
    }


def block():
    arm = {
        "leep": row(0.1, -0.2, 0.4),
        "nce": row(None, None, None),
        "logme": row(0.62, 0.41, 0.78),
        "h_score": row(0.5, 0.3, 0.7),
        "source_accuracy": row(0.2, -0.1, 0.45, 3.0),
        "probe_accuracy": row(0.35, 0.12, 0.55, 2.0),
        "h_score_plain": row(0.45, 0.25, 0.65),
        "transrate": row(0.3, 0.1, 0.5),
        "gbc": row(0.25, 0.0, 0.5),
        "nleep": row(0.15, -0.1, 0.4),
        "knn_accuracy": row(0.3, 0.1, 0.5, 4.0),
        "probe_log_loss": row(0.33, 0.1, 0.55, 5.0),
    }
    assert list(arm) == list(SCORES)
    other = {**copy.deepcopy(arm), "probe_accuracy": row(0.9, 0.8, 0.95)}
    return {
        "n_sources": 10,
        "scores": list(SCORES),
        "arms": {"transfer fixed=0": arm, "transfer fixed=2": other},
        "n_resamples": 1000,
        "top_share": 0.1,
    }


def test_the_finding_names_the_best_score_and_sets_it_against_the_best_baseline():
    b = block()
    assert transferability.arm_finding("transfer fixed=0", b["arms"]["transfer fixed=0"]) == (
        "For transfer fixed=0 the best-ranking score is LogME (rho 0.62 [0.41, 0.78]); the best plain baseline, "
        "logistic probe, has rho 0.35 [0.12, 0.55] (the intervals overlap)."
    )
    assert transferability.arm_finding("transfer fixed=2", b["arms"]["transfer fixed=2"]) == (
        "For transfer fixed=2 the best-ranking score is logistic probe (rho 0.90 [0.80, 0.95]), a plain baseline: "
        "the best literature score, LogME, has rho 0.62 [0.41, 0.78]."
    )
    apart = {**b["arms"]["transfer fixed=0"], "logme": row(0.8, 0.6, 0.9)}
    assert "(below its interval)" in transferability.arm_finding("a", apart)
    none = {s: row(None, None, None) for s in SCORES}
    assert transferability.arm_finding("a", none) == "For a no score has a defined rank correlation."


def test_with_a_reference_the_finding_gives_the_paired_difference():
    arm = block()["arms"]["transfer fixed=0"]
    for _name, r in arm.items():
        r["rho_diff"], r["rho_diff_ci"] = (None, [None, None]) if r["rho"] is None else (r["rho"] - 0.35, [-0.1, 0.2])
    arm["logme"]["rho_diff_ci"] = [0.05, 0.45]
    assert transferability.arm_finding("a", arm, "probe_accuracy") == (
        "For a the best-ranking score is LogME (rho 0.62 [0.41, 0.78]); its rho minus the logistic probe's: "
        "+0.27 [0.05, 0.45], above 0."
    )
    arm["probe_accuracy"]["rho"] = 0.9
    assert transferability.arm_finding("a", arm, "probe_accuracy").endswith(
        "a plain baseline: the best literature score, LogME, has rho 0.62 [0.41, 0.78] (its rho minus the logistic "
        "probe's: +0.27 [0.05, 0.45], above 0)."
    )
    header, rows = transferability.table({**block(), "arms": {"a": arm}, "reference": "probe_accuracy"})
    assert header[3] == "rho minus logistic probe's [95% CI]"
    assert rows[2][3] == "+0.27 [0.05, 0.45]" and rows[5][3] == ""


def test_the_table_has_a_row_per_arm_and_score():
    header, rows = transferability.table(block())
    assert header[0:2] == ["arm", "score"] and "top pick in best 10%" in header
    assert len(rows) == 2 * len(SCORES)
    assert rows[2] == ["transfer fixed=0", "LogME", "0.62 [0.41, 0.78]", "0.62 [0.41, 0.78]", "1.0", "1.00", "0.50"]
    assert rows[1][2] == "n/a [n/a, n/a]"


def test_the_report_says_it_in_every_rendering_and_only_with_the_numbers():
    summary = helpers.summary()
    plain = report.sections(summary)
    assert not any(s.title and s.title.startswith("Which source model") for s in plain)
    summary["transferability"] = block()
    blocks = report.sections(summary)
    titles = [s.title for s in blocks]
    assert "Which source model will transfer: 12 scores against 10 source models" in titles
    text = report.terminal(blocks)
    assert "For transfer fixed=2 the best-ranking score is logistic probe" in text and "transfer fixed=0  LogME" in text
    assert (
        "![Each score against the realised mean, one point per source model](transferability.png)"
        in report.markdown(blocks, "t")
    )


def test_the_figure_has_a_panel_per_score_with_a_colour_per_arm():
    k = 10
    rng = np.random.default_rng(0)
    fig = transferability.scores_figure(
        {s: rng.normal(size=k) for s in SCORES},
        {"transfer fixed=0": rng.normal(size=k), "transfer fixed=2": rng.normal(size=k)},
        block(),
    )
    shown = [ax for ax in fig.get_axes() if ax.get_visible()]
    assert len(shown) == len(SCORES)
    ax = shown[2]
    assert ax.get_title() == "LogME" and [len(c.get_offsets()) for c in ax.collections] == [k, k]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "transfer fixed=0: rho 0.62"
    colours = [tuple(c.get_facecolor()[0][:3]) for c in ax.collections]
    assert colours[0] != colours[1]


def test_the_docs_quote_the_committed_results():
    """docs/predictions.md's transferability paragraph and tables are the committed results' (regenerate the
    results, then these quotes)."""
    import json

    docs = (helpers.ROOT / "docs" / "predictions.md").read_text()
    summary = json.loads((helpers.ROOT / "results" / "headline" / "summary.json").read_text())
    b = summary["transferability"]
    assert " ".join(transferability.arm_finding(a, r, b["reference"]) for a, r in b["arms"].items()) in docs
    assert report.markdown_table(*transferability.table(b)) in docs
    targets = json.loads((helpers.ROOT / "results" / "targets" / "transferability.json").read_text())
    assert report.markdown_table(*transferability.targets_table(targets)) in docs
