"""Rebuild a run's statistics, tables, figures and report.html from its saved files, without TensorFlow.

`compare` calls `build_report` at the end of every run; `blobs-transfer report RUN_DIR` calls it again on a
finished run and reproduces `summary.json` exactly (every resampling is seeded from the run's root seed).
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

import numpy as np

from . import plots, stats
from .arms import derive_seed
from .config import Config, load_config
from .results import (
    read_curve, read_scores, require_complete_run, save_figure, write_json, atomic_write_text,
)

BOOTSTRAP_STREAM = 2
FIGURES = ("boxplot.png", "forest.png", "curves.png")


def tutorial_label(arm: str) -> str:
    """'transfer fixed=1' -> 'Transfer (fixed=1)', the tutorial's way of printing its arms; others unchanged."""
    if arm == "standalone":
        return "Standalone"
    match = re.fullmatch(r"transfer (fixed=\d+)", arm)
    return f"Transfer ({match.group(1)})" if match else arm


def summarise(cfg: Config, scores: list[dict[str, Any]], curves: dict[str, np.ndarray]) -> dict[str, Any]:
    """The run's statistics as a JSON-ready dict; scores/curves rows are in the same (scores.csv) order."""
    seed = derive_seed(cfg.study.seed, BOOTSTRAP_STREAM)
    names = [a.name for a in cfg.arms]
    ok = {n: [i for i, s in enumerate(scores) if s["arm"] == n and not s["diverged"]] for n in names}
    n_test = cfg.problems.n_samples - cfg.problems.n_train
    accuracy = {n: np.array([scores[i]["test_correct"] for i in ok[n]], float) / n_test for n in names}
    correct = {n: np.array([scores[i]["test_correct"] for i in ok[n]], int) for n in names}
    arms_out = []
    for k, name in enumerate(names):
        row: dict[str, Any] = {"arm": name, "n_diverged": sum(s["arm"] == name and s["diverged"] for s in scores)}
        if len(accuracy[name]):
            d = stats.describe(accuracy[name], seed=seed + k)
            d["std"] = d.pop("sd")
            row.update(d)
            row["binomial_se"] = stats.binomial_se(d["mean"], n_test)
        else:
            row["n"] = 0
        arms_out.append(row)
    usable = {n: accuracy[n] for n in names if len(accuracy[n])}
    comparisons = []
    if cfg.study.baseline in usable and len(usable) > 1:
        comparisons = stats.compare_arms(
            usable, {n: correct[n] for n in usable}, cfg.study.baseline, seed=seed
        )
    benefits = {}
    for k, name in enumerate(names):
        rows = ok[name]
        if rows and np.isfinite(curves["test_accuracy"][rows]).all():
            benefits[name] = stats.transfer_benefits(curves["test_accuracy"][rows], seed=seed + 100 + k)
    # the SE of one accuracy is quoted at the baseline's mean (0.8 if it has no finished runs)
    base = next((a for a in arms_out if a["arm"] == cfg.study.baseline and a["n"]), None)
    typical = round(base["mean"], 2) if base else 0.8
    summary: dict[str, Any] = {
        "run": {
            "target_problem": cfg.study.target_problem,
            "source_problem": cfg.study.source_problem,
            "repeats": cfg.study.repeats,
            "source_repeats": cfg.study.source_repeats,
            "epochs": cfg.training.epochs,
            "engine": cfg.study.engine,
            "seed": cfg.study.seed,
            "bootstrap_seed": seed,
            "n_test": n_test,
            "baseline": cfg.study.baseline,
            "typical_accuracy": typical,
            "binomial_se": stats.binomial_se(typical, n_test),
        },
        "arms": arms_out,
        "comparisons": comparisons,
        "benefits": benefits,
    }
    if cfg.study.source_repeats > 1:
        summary["sources"] = _source_analysis(cfg, scores, accuracy, ok)
    return summary


def _source_analysis(cfg, scores, accuracy, ok) -> dict[str, Any]:
    """Between-source vs within-source variance per source arm, and which arm ranks best per source."""
    groups = {n: np.array([scores[i]["source_index"] for i in ok[n]]) for n in ok}
    source_arms = [a.name for a in cfg.arms if a.uses_source and len(accuracy[a.name])]
    return {
        "variance": {n: stats.variance_components(accuracy[n], groups[n]) for n in source_arms},
        "ranking": stats.rank_arms_per_group({n: accuracy[n] for n in source_arms}, {n: groups[n] for n in source_arms}),
    }


# --- text tables -------------------------------------------------------------------------------


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _e(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2e}"


def _p(v: float | None) -> str:
    if v is None:
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def tutorial_lines(summary: dict[str, Any]) -> list[str]:
    """'Standalone 0.787 (0.101)' per arm, as the tutorial prints them."""
    return [
        f"{tutorial_label(a['arm'])} {_f(a.get('mean'))} ({_f(a.get('std'))})" if a["n"] else f"{tutorial_label(a['arm'])} no runs finished"
        for a in summary["arms"]
    ]


def arm_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["arm", "n", "mean", "95% CI of mean", "std", "median", "IQR", "IQM", "min", "max", "diverged"]
    rows = []
    for a in summary["arms"]:
        if not a["n"]:
            rows.append([a["arm"], "0", *["n/a"] * 8, str(a["n_diverged"])])
            continue
        rows.append([
            a["arm"], str(a["n"]), _f(a["mean"]), f"[{_f(a['ci_low'])}, {_f(a['ci_high'])}]", _f(a["std"]),
            _f(a["median"]), _f(a["iqr"]), _f(a["iqm"]), _f(a["min"]), _f(a["max"]), str(a["n_diverged"]),
        ])
    return header, rows


def comparison_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["arm", "diff of means [95% CI]", "P(arm > base) [95% CI]", "Cliff's d", "Hedges' g",
              "Welch p (Holm)", "MWU p (Holm)", "verdict"]
    rows = [[
        c["arm"],
        f"{c['diff_mean']:+.3f} [{_f(c['diff_ci_low'])}, {_f(c['diff_ci_high'])}]",
        f"{_f(c['a12'], 2)} [{_f(c['a12_ci_low'], 2)}, {_f(c['a12_ci_high'], 2)}]",
        _f(c["cliffs_delta"], 2),
        _f(c["hedges_g"], 2),
        _p(c["welch_p_holm"]),
        _p(c["mwu_p_holm"]),
        c["verdict"],
    ] for c in summary["comparisons"]]
    return header, rows


def benefits_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["arm", "start (epoch 0)", "epochs to 95% of final", "area under curve", "asymptote (final)"]

    def cell(d, digits=3):
        return f"{_f(d['mean'], digits)} [{_f(d['ci_low'], digits)}, {_f(d['ci_high'], digits)}]"

    rows = [[arm, cell(b["start"]), cell(b["epochs_to_95"], 1), cell(b["auc"]), cell(b["asymptote"])]
            for arm, b in summary["benefits"].items()]
    return header, rows


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """An aligned plain-text table for the terminal."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                      *("| " + " | ".join(r) + " |" for r in rows)])


def se_note(summary: dict[str, Any]) -> str:
    run = summary["run"]
    return (f"One accuracy on {run['n_test']} test rows has a binomial standard error of about "
            f"{run['binomial_se']:.3f} near {run['typical_accuracy']:.2f}, so differences smaller than that between "
            "single runs are noise.")


def terminal_report(summary: dict[str, Any]) -> str:
    parts = ["\n".join(tutorial_lines(summary)), "", format_table(*arm_table(summary)), "", se_note(summary)]
    if summary["comparisons"]:
        parts += ["", f"Each arm against the baseline ({summary['run']['baseline']}):", format_table(*comparison_table(summary))]
    if "sources" in summary:
        parts += ["", "Across source models:", format_table(*sources_table(summary)), NESTING_NOTE, best_arm_line(summary)]
    return "\n".join(parts)


def markdown_report(summary: dict[str, Any]) -> str:
    run = summary["run"]
    parts = [
        "# Comparison on Problem {target_problem}".format(**run),
        "",
        f"{run['repeats']} repeats per arm, {run['epochs']} epochs, engine `{run['engine']}`, root seed {run['seed']}"
        + (f", {run['source_repeats']} source models" if run["source_repeats"] > 1 else "") + ".",
        "",
        "```",
        *tutorial_lines(summary),
        "```",
        "",
        "## Per arm (test accuracy)",
        "",
        markdown_table(*arm_table(summary)),
        "",
        se_note(summary),
    ]
    if summary["comparisons"]:
        parts += ["", f"## Against the baseline ({run['baseline']})", "",
                  markdown_table(*comparison_table(summary)), "",
                  "P(arm > base) is the Vargha-Delaney A12; p-values are Holm-adjusted across arms; the verdict "
                  "uses the tie-corrected Mann-Whitney U test on correct counts at alpha 0.05."]
    if summary["benefits"]:
        parts += ["", "## Benefits of transfer (Torrey and Shavlik)", "", markdown_table(*benefits_table(summary))]
    if "sources" in summary:
        parts += ["", "## Across source models", "", markdown_table(*sources_table(summary)), "", NESTING_NOTE, "",
                  best_arm_line(summary)]
    parts += ["", "## Figures", "", *(f"![{f}]({f})" for f in FIGURES), ""]
    return "\n".join(parts)


def sources_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Between- vs within-source variance per transfer arm (only when several source models were trained)."""
    header = ["arm", "sources", "between-source var", "within-source var", "ICC", "effective n"]
    rows = []
    for arm, v in summary["sources"]["variance"].items():
        n = v["n_groups"] * v["n_per_group"]
        # design effect of clustered runs: n / (1 + (m - 1) ICC) runs' worth of independent information
        n_eff = n / (1 + (v["n_per_group"] - 1) * v["icc"]) if v["icc"] is not None else None
        rows.append([arm, str(v["n_groups"]), _e(v["between_var"]), _e(v["within_var"]), _f(v["icc"], 2), _f(n_eff, 1)])
    return header, rows


NESTING_NOTE = ("Runs of a transfer arm are nested in source models. The tests in the comparison table treat them as "
                "independent, so read them with the ICC: when it is high, the evidence is worth about the effective n "
                "of independent runs, close to the number of source models.")


def best_arm_line(summary: dict[str, Any]) -> str:
    ranking = summary["sources"]["ranking"]
    best: dict[str, int] = {}
    for r in ranking:
        best[r["best_arm"]] = best.get(r["best_arm"], 0) + 1
    return "Best arm per source model: " + ", ".join(f"{arm} in {n} of {len(ranking)}" for arm, n in best.items()) + "."


# --- figures and html --------------------------------------------------------------------------


def draw_figures(cfg: Config, summary: dict[str, Any], scores, curves, run_dir: Path) -> None:
    names = [a["arm"] for a in summary["arms"] if a["n"]]
    values = [np.array([s["test_accuracy"] for s in scores if s["arm"] == n and not s["diverged"]]) for n in names]
    title = f"Test accuracy on Problem {cfg.study.target_problem}, {cfg.study.repeats} repeats per arm" + (
        f" (x {cfg.study.source_repeats} source models for transfer arms)" if cfg.study.source_repeats > 1 else "")
    save_figure(plots.boxplot_figure(names, values, title, seed=cfg.study.seed), run_dir / "boxplot.png")
    save_figure(plots.forest_figure(summary["comparisons"], cfg.study.baseline), run_dir / "forest.png")
    acc_bands, loss_bands = {}, {}
    for n in names:
        rows = [i for i, s in enumerate(scores) if s["arm"] == n and not s["diverged"]]
        acc_bands[n] = stats.curve_band(curves["test_accuracy"][rows])
        loss_bands[n] = stats.curve_band(curves["test_loss"][rows])
    save_figure(plots.curves_figure(acc_bands, loss_bands, "Learning curves on the test split: mean of the repeats "
                                    "with 95% CI band"), run_dir / "curves.png")


def html_report(summary: dict[str, Any], run_dir: Path) -> str:
    """A self-contained page: the tables as HTML, the figures embedded as base64 PNG."""
    def table(header, rows):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    run = summary["run"]
    parts = [f"<h1>blobs-transfer: comparison on Problem {run['target_problem']}</h1>",
             f"<p>{run['repeats']} repeats per arm, {run['epochs']} epochs, engine {html.escape(run['engine'])}, root seed {run['seed']}.</p>",
             "<pre>" + html.escape("\n".join(tutorial_lines(summary))) + "</pre>",
             "<h2>Per arm (test accuracy)</h2>", table(*arm_table(summary)), f"<p>{html.escape(se_note(summary))}</p>"]
    if summary["comparisons"]:
        parts += [f"<h2>Against the baseline ({html.escape(run['baseline'])})</h2>", table(*comparison_table(summary)),
                  "<p>P(arm &gt; base) is the Vargha-Delaney A12; p-values are Holm-adjusted; the verdict uses the "
                  "tie-corrected Mann-Whitney U test on correct counts at alpha 0.05.</p>"]
    if summary["benefits"]:
        parts += ["<h2>Benefits of transfer</h2>", table(*benefits_table(summary))]
    if "sources" in summary:
        parts += ["<h2>Across source models</h2>", table(*sources_table(summary)),
                  f"<p>{html.escape(NESTING_NOTE)}</p><p>{html.escape(best_arm_line(summary))}</p>"]
    for name in FIGURES:
        path = run_dir / name
        if path.exists():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(f'<h2>{html.escape(name)}</h2><img alt="{name}" src="data:image/png;base64,{data}">')
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>blobs-transfer report</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def load_run(run_dir: Path, *, require_complete: bool = True) -> tuple[Config, list[dict[str, Any]], dict[str, np.ndarray]]:
    """A run's config, scores and test curves; `compare` reads its own run before marking it complete."""
    run_dir = require_complete_run(run_dir) if require_complete else Path(run_dir)
    cfg = load_config(run_dir / "config.toml")
    scores = read_scores(run_dir / "scores.csv")
    curves = {k: read_curve(run_dir / "curves", k) for k in ("test_accuracy", "test_loss")}
    return cfg, scores, curves


def build_report(run_dir: Path, *, require_complete: bool = True) -> dict[str, Any]:
    """Recompute summary.json/.md, the figures and report.html of a run directory; returns the summary."""
    run_dir = Path(run_dir)
    cfg, scores, curves = load_run(run_dir, require_complete=require_complete)
    summary = summarise(cfg, scores, curves)
    write_json(run_dir / "summary.json", summary)
    atomic_write_text(run_dir / "summary.md", markdown_report(summary))
    draw_figures(cfg, summary, scores, curves, run_dir)
    atomic_write_text(run_dir / "report.html", html_report(summary, run_dir))
    return summary
