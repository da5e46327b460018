"""Reports lead with what was found: the generated finding, then the figures under titles in words, then the
tables, in the terminal, Markdown and HTML alike (one list of sections). Hand-built summaries, no training."""

import html
import os
import re
import subprocess
import sys
import threading

import pytest

from blobs_transfer.render import report


def summary(k=100, a12=(0.45, 0.38, 0.23), verdicts=("no evidence", "worse", "worse")):
    """A summary.json as `analysis.summarise` writes it, for three transfer arms from k source models."""
    arms = ["standalone", "transfer fixed=0", "transfer fixed=1", "transfer fixed=2"]
    means = [0.797, 0.780, 0.758, 0.756]
    source = {"count": k, "path": None if k > 1 else "results/source/problem1.keras", "seeds": list(range(7, 7 + k))}
    benefit = {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}
    out = {
        "run": {"target_problem": 2, "target": "Problem 2", "source_problem": 1, "source": "Problem 1",
                "repeats": 3, "source_repeats": k, "epochs": 100, "engine": "numba", "seed": 0, "n_test": 500,
                "baseline": "standalone", "typical_accuracy": 0.8, "binomial_se": 0.0179, "source_model": source},
        "arms": [{"arm": a, "n": 300, "n_diverged": 0, "mean": m, "std": 0.08, "median": 0.82, "q1": 0.8, "q3": 0.83,
                  "iqr": 0.03, "iqm": 0.82, "min": 0.4, "max": 0.84, "ci_low": m - 0.01, "ci_high": m + 0.01,
                  "n_sources": None if a == "standalone" else k, "icc": None, "design_effect": 1.0,
                  "n_effective": 300.0 if a == "standalone" else float(k)} for a, m in zip(arms, means)],
        "comparisons": [{"arm": a, "baseline": "standalone", "diff_mean": m - 0.797, "diff_ci_low": -0.05,
                         "diff_ci_high": 0.01, "a12": p, "a12_ci_low": p - 0.07, "a12_ci_high": p + 0.07,
                         "hedges_g": -0.3, "n_sources": k, "design_effect": 3.0, "verdict_test": "clustered",
                         "verdict_p_holm": 0.001, "verdict": v}
                        for a, m, p, v in zip(arms[1:], means[1:], a12, verdicts)],
        "benefits": {a: dict.fromkeys(("start", "epochs_to_95", "auc", "asymptote"), benefit) for a in arms},
    }
    if k > 1:
        out["sources"] = {
            "variance": {a: {"n_groups": k, "n_per_group": 3.0, "between_var": 0.005, "within_var": 0.0002,
                             "total_var": 0.0052, "icc": 0.96} for a in arms[1:]},
            "ranking": [{"group": g, "best_arm": arms[1 + g % 3], "means": {}} for g in range(k)],
        }
    return out


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


@pytest.mark.parametrize("k", [1, 100])
def test_sections_lead_with_the_finding_then_figures_then_tables(k):
    blocks = report.sections(summary(k=k))
    kinds = [b.kind for b in blocks]
    assert blocks[0].title == "What this run found" and blocks[0].body == report.finding(summary(k=k))
    figures = [i for i, kind in enumerate(kinds) if kind == "figure"]
    tables = [i for i, kind in enumerate(kinds) if kind in ("table", "lines")]
    assert [blocks[i].body for i in figures] == ["boxplot.png", "forest.png", "curves.png"]
    assert max(figures) < min(tables)
    for i in figures:  # titles in words, never a file name
        assert not blocks[i].title.endswith(".png") and not blocks[i].terminal
    level = "over 100 source models" if k > 1 else "conditional on one source model"
    assert any(b.title and b.title.startswith("Benefits of transfer") and level in b.title for b in blocks)


def test_terminal_markdown_and_html_follow_the_same_order():
    blocks = report.sections(summary())
    text = report.terminal(blocks)
    assert text.startswith("What this run found:\nAcross 100 source models") and ".png" not in text
    md = report.markdown(blocks, "t")
    assert md.index("## What this run found") < md.index("![Every run's test accuracy, per arm](boxplot.png)") \
        < md.index("![Learning curves on the target problem](curves.png)") < md.index("| arm |")
    page = report.html(blocks, "t", {"boxplot.png": b"png1", "forest.png": b"png2"})  # curves.png not drawn
    assert page.index('<p class="finding">Across 100') < page.index("<img") < page.index("<table")
    alts = [html.unescape(a) for a in re.findall(r'<img alt="([^"]+)"', page)]
    assert alts == [report.FIGURES["boxplot.png"], report.FIGURES["forest.png"]]
    assert report.FIGURES["curves.png"] not in page  # no title over a figure that is not there


def test_long_tables_fold_under_their_title():
    rows = [[str(i), "x"] for i in range(25)]
    blocks = [report.Section("Per cell", "table", (["cell", "v"], rows), folded=True)]
    page = report.html(blocks, "t", {})
    assert page.count("<details>") == 1 and "<summary><h2>Per cell (25 rows)</h2></summary>" in page
    assert page.index("<summary>") < page.index("<table") < page.index("</details>")
    md = report.markdown(blocks, "t")
    assert "<details><summary>Per cell (25 rows)</summary>" in md and md.count("| 24 | x |") == 1
    assert "Per cell:" in report.terminal(blocks)  # the terminal shows the table itself


def test_sources_table_uses_each_arms_effective_n():
    header, rows = report.sources_table(summary(k=100))
    assert [r[-1] for r in rows] == ["100.0"] * 3


def test_a_list_of_figures_is_still_drawn_each_under_a_title():
    blocks = [report.Section("Figures", "figures", ["forest.png", "other.png"], terminal=False)]
    page = report.html(blocks, "t", {"forest.png": b"1", "other.png": b"2"})
    assert [html.unescape(a) for a in re.findall(r'<img alt="([^"]+)"', page)] == [report.FIGURES["forest.png"],
                                                                                   "other.png"]
    assert "![other.png](other.png)" in report.markdown(blocks, "t") and report.terminal(blocks) == ""


PARALLEL_FIGURES = """
import sys
from pathlib import Path
from matplotlib.figure import Figure
from blobs_transfer.rundir.files import save_figure, save_figures

def figure(k):
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot(range(10), [v ** k for v in range(10)])
    return fig

out = Path(sys.argv[1])
used = save_figures({out / f"par{k}.png": figure(k) for k in range(3)}, workers=2)
for k in range(3):
    save_figure(figure(k), out / f"seq{k}.png")
print(used)
"""


def test_figures_drawn_in_parallel_are_the_figures_drawn_one_by_one(tmp_path):
    """save_figures forks children to draw on every core: the files are byte for byte save_figure's. Run in a
    fresh interpreter, because in this test process TensorFlow may be loaded and then save_figures rightly
    draws one by one, which would compare that path with itself."""
    done = subprocess.run([sys.executable, "-c", PARALLEL_FIGURES, str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"]  # two processes drew: the parallel path was taken
    for k in range(3):
        assert (tmp_path / f"par{k}.png").read_bytes() == (tmp_path / f"seq{k}.png").read_bytes()
    assert not list(tmp_path.glob(".*tmp*"))


def test_figures_are_drawn_in_one_process_where_a_fork_is_unsafe(monkeypatch):
    from blobs_transfer.rundir.files import figure_workers

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert figure_workers(3) == 3 and figure_workers(9) == 4
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # another thread: no fork
    assert figure_workers(3) == 1
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setitem(sys.modules, "tensorflow", object())  # TensorFlow's pools: no fork
    assert figure_workers(3) == 1
