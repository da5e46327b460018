"""Every label true (issue 33): the heading over a run's own numbers says they are the run's, the tutorial's
published numbers stand beside them only where the run follows its protocol, counts are the real runs per arm,
and the figures say what they draw (one y label, source accuracy defined, Spearman's rho named, readable ticks)."""

import re

import numpy as np

from blobs_transfer.render import findings, plots, report, transferability
from blobs_transfer.stats.transferability import SCORES
from tests import helpers
from tests.helpers import summary


def test_the_published_numbers_are_the_protocol_docs():
    """report.PUBLISHED is docs/protocol.md's table of what the tutorial published, number for number."""
    doc = (helpers.ROOT / "docs" / "protocol.md").read_text()
    table = dict(
        (arm, (float(mean), float(sd)))
        for arm, mean, sd in re.findall(
            r"^\| ((?:standalone|transfer fixed=\d)) \| ([\d.]+) \| ([\d.]+) \|$", doc, re.M
        )
    )
    assert table == report.PUBLISHED


def test_no_heading_calls_the_runs_numbers_the_tutorials():
    s = summary(k=100)
    text = report.terminal(report.sections(s))
    assert "The tutorial's numbers" not in text
    this_run = text.index(report.THIS_RUN_TITLE)
    published = text.index(report.PUBLISHED_TITLE)
    assert this_run < published
    assert "Standalone 0.797 (0.080)" in text[this_run:published]
    assert "Standalone 0.787 (0.101)" in text[published:]
    assert "Transfer (fixed=1) 0.817 (0.005)" in text[published:]


def test_the_published_numbers_are_not_set_beside_another_protocol():
    s = summary(k=100)
    s["run"]["epochs"] = 3
    assert report.PUBLISHED_TITLE not in report.terminal(report.sections(s))
    s = summary(k=100)
    s["run"]["target"] = "Problem 2 (n_train=100)"
    assert report.PUBLISHED_TITLE not in report.terminal(report.sections(s))


def test_counts_are_runs_source_models_and_runs_per_source_model():
    s = summary(k=100)
    phrase = findings.counts_phrase(s)
    assert phrase == (
        "standalone: 300 runs; transfer fixed=0, transfer fixed=1 and transfer fixed=2: 300 runs each, "
        "3 from each of 100 source models"
    )
    assert "repeats per arm" not in report.run_line(s)
    assert report.run_line(s).startswith(phrase + "; 100 epochs")
    s["arms"][0]["n"] = 2
    for a in s["arms"][1:]:
        a["n"], a["n_sources"] = 8, 4
    assert findings.counts_phrase(s) == (
        "standalone: 2 runs; transfer fixed=0, transfer fixed=1 and transfer fixed=2: 8 runs each, "
        "2 from each of 4 source models"
    )


def test_the_boxplot_title_gives_the_real_counts():
    s = summary(k=4)
    for a in s["arms"]:
        a["n"] = 2 if a["arm"] == "standalone" else 8
    title = plots.boxplot_title(s)
    assert "repeats per arm" not in title
    assert "standalone: 2 runs" in title and "8 runs each, 2 from each of 4 source models" in title
    rng = np.random.default_rng(0)
    fig = plots.boxplot_figure([a["arm"] for a in s["arms"]], [rng.uniform(size=a["n"]) for a in s["arms"]], title)
    assert "2 from each of 4 source models" in fig.axes[0].get_title().replace("\n", " ")


def test_wrapped_titles_never_break_inside_a_parenthesis():
    title = "transfer fixed=0 after 100 epochs on Problem 2 (seed 1234567890)\ntest accuracy 0.800"
    lines = plots.wrap_title(title, 5.2).split("\n")
    assert "(seed 1234567890)" in lines
    assert all(line.count("(") == line.count(")") for line in lines)


def test_forest_ticks_are_few_enough_to_read():
    rows = [
        {
            "arm": f"transfer fixed={i}",
            "diff_mean": -0.01 * i,
            "diff_ci_low": -0.062,
            "diff_ci_high": 0.0075,
            "a12": 0.4,
            "a12_ci_low": 0.3,
            "a12_ci_high": 0.5,
            "verdict": "worse",
        }
        for i in range(3)
    ]
    fig = plots.forest_figure(rows, "standalone")
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    ticks = [t for t in fig.axes[0].get_xticks() if -0.062 <= t <= 0.0075]
    assert 2 <= len(ticks) <= 6


def test_a_log_axis_has_ticks_at_the_grids_values():
    grid = [10, 20, 50, 100, 200, 500]
    stat = {k: [0.0] * len(grid) for k in ("diff", "diff_lo", "diff_hi", "a12", "a12_lo", "a12_hi")}
    fig = plots.sweep_benefit_figure("target training rows", {"transfer fixed=0": {"": {"x": grid, **stat}}}, "s")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert list(ax.get_xticks()) == grid
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(x) for x in grid]


def test_the_transferability_figure_has_one_y_label_defines_source_accuracy_and_names_spearman():
    k = 10
    rng = np.random.default_rng(0)
    means = {"transfer fixed=0": rng.normal(size=k), "transfer fixed=2": 5 + rng.normal(size=k)}
    block = {"arms": {arm: {s: {"rho": 0.5} for s in SCORES} for arm in means}}
    fig = transferability.scores_figure({s: rng.normal(size=k) for s in SCORES}, means, block)
    axes = fig.get_axes()
    assert all(ax.get_ylabel() == "" for ax in axes)  # one label for the figure, not a score's name per row
    assert fig.get_supylabel() == transferability.Y_LABEL and "realised mean" in transferability.Y_LABEL
    assert "rho: Spearman's rank correlation" in fig.get_suptitle()
    shown = [ax for ax in axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == [transferability.LABELS[s] for s in SCORES]
    for ax in shown:  # each arm's rho, by name, in every panel
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == [f"{arm}: rho 0.50" for arm in means]
    source = [ax for ax in axes if ax.get_xlabel().startswith("source accuracy")]
    assert source and all("on the target, before training" in ax.get_xlabel().replace("\n", " ") for ax in source)
    assert len({ax.get_ylim() for ax in shown}) == 1  # one y range, though the arms' means differ
    assert "before any training on it" in transferability.NOTE


def test_t_says_which_way_it_runs():
    words = findings.axis_words("target.similarity_t")
    assert "larger t = less alike" in words and "0 = the source's own centres" in words
    assert "similar" not in findings.short_axis("target.similarity_t")
