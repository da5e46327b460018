"""Which source model will transfer, in words and a figure: the transferability section of a run's report.

Pure: the summary's "transferability" block (`stats.rank_agreement` per transfer arm and score) in, report
sections and sentences out; `scores_figure` draws each score against the realised mean from arrays. Every
sentence here is generated from those numbers. Sections are plain (title, kind, body, terminal) tuples that
`report.sections` turns into its `Section`s (report imports this module, not the other way round). Also
`ranking_table`, what `rank-sources` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from blobs_transfer.render.findings import fmt
from blobs_transfer.render.plots import arm_colour, new_figure
from blobs_transfer.stats.transferability import SCORES

FIGURE = "transferability.png"
# the plain scores a skeptic asks for (the rest are the literature's)
BASELINES = ("source_accuracy", "probe_accuracy", "knn_accuracy", "probe_log_loss")
LABELS = {
    "leep": "LEEP",
    "nce": "NCE",
    "logme": "LogME",
    "h_score": "H-score (shrunk)",
    "source_accuracy": "source accuracy",
    "probe_accuracy": "logistic probe",
    "h_score_plain": "H-score (plain)",
    "transrate": "TransRate",
    "gbc": "GBC",
    "nleep": "N-LEEP",
    "knn_accuracy": "k-NN accuracy",
    "probe_log_loss": "probe log-loss",
}
NOTE = (
    "Source accuracy: the source model's accuracy on the target problem before any training on it (not on its own "
    "problem). rho: Spearman's rank correlation between a score and the source models' realised mean test accuracy; "
    "tau: the weighted Kendall tau, which weighs the top-ranked sources most; CIs from two-stage resamples over "
    "source models, then runs. Top pick: the source the score ranks first, its rank by realised mean (1 = best), "
    "whether it is in the best {share:.0%}, and how often that holds over the resamples. Scores are computed on "
    "the target's training split before any target training."
)


def _ci(row: dict[str, Any], key: str) -> str:
    low, high = row[f"{key}_ci"]
    sign = "+" if key.endswith("diff") and row[key] is not None and row[key] >= 0 else ""
    return f"{sign}{fmt(row[key], 2)} [{fmt(low, 2)}, {fmt(high, 2)}]"


def table(block: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per transfer arm and score (with the paired difference to the reference score where there is one)."""
    share = f"top pick in best {block['top_share']:.0%}"
    reference = block.get("reference")
    diff = [f"rho minus {LABELS.get(reference, reference)}'s [95% CI]"] if reference else []
    header = [
        "arm",
        "score",
        "rho [95% CI]",
        *diff,
        "weighted tau [95% CI]",
        "top pick's rank",
        share,
        "rate over resamples",
    ]
    rows = []
    for arm, by_score in block["arms"].items():
        for score, row in by_score.items():
            paired = [_ci(row, "rho_diff") if score != reference else ""] if reference else []
            rows.append(
                [
                    arm,
                    LABELS.get(score, score),
                    _ci(row, "rho"),
                    *paired,
                    _ci(row, "tau"),
                    fmt(row["top_pick_rank"], 1),
                    fmt(row["top_pick_in_top"], 2),
                    fmt(row["top_pick_rate"], 2),
                ]
            )
    return header, rows


def _best(by_score: Mapping[str, dict[str, Any]], names: Sequence[str]) -> str | None:
    ranked = [s for s in names if s in by_score and by_score[s]["rho"] is not None]
    return max(ranked, key=lambda s: by_score[s]["rho"]) if ranked else None


def _versus(row: dict[str, Any], reference: str) -> str:
    """'its rho minus the logistic probe's: +0.03 [-0.10, 0.15], an interval that holds 0'."""
    low, high = row["rho_diff_ci"]
    where = (
        "above 0"
        if low is not None and low > 0
        else "below 0"
        if high is not None and high < 0
        else "an interval that holds 0"
    )
    return f"its rho minus the {LABELS.get(reference, reference)}'s: {_ci(row, 'rho_diff')}, {where}"


def arm_finding(arm: str, by_score: Mapping[str, dict[str, Any]], reference: str | None = None) -> str:
    """One sentence per arm: the best-ranking score with its rho and CI, set against the plain baselines (with
    `reference`, by the paired difference to that score's rho)."""
    best = _best(by_score, list(by_score))
    if best is None:
        return f"For {arm} no score has a defined rank correlation."
    row = by_score[best]
    text = f"For {arm} the best-ranking score is {LABELS.get(best, best)} (rho {_ci(row, 'rho')})"
    paired = reference is not None and reference in by_score
    if best in BASELINES:
        others = _best(by_score, [s for s in by_score if s not in BASELINES])
        if others is not None:
            other = by_score[others]
            text += (
                f", a plain baseline: the best literature score, {LABELS.get(others, others)}, has rho "
                f"{_ci(other, 'rho')}"
            )
            if paired and best == reference and other.get("rho_diff") is not None:
                text += f" ({_versus(other, reference)})"
    elif paired and row.get("rho_diff") is not None:
        text += f"; {_versus(row, reference)}"
    else:
        base = _best(by_score, list(BASELINES))
        if base is not None:
            b = by_score[base]
            overlap = row["rho_ci"][0] is not None and b["rho_ci"][1] is not None and row["rho_ci"][0] <= b["rho_ci"][1]
            text += f"; the best plain baseline, {LABELS.get(base, base)}, has rho {_ci(b, 'rho')}" + (
                " (the intervals overlap)" if overlap else " (below its interval)"
            )
    return text + "."


def sections(summary: dict[str, Any]) -> list[tuple[str | None, str, Any, bool]]:
    """The report's transferability sections as (title, kind, body, terminal), or none for a run without them."""
    block = summary.get("transferability")
    if not block:
        return []
    title = (
        f"Which source model will transfer: {len(block['scores'])} scores against {block['n_sources']} source models"
    )
    findings = " ".join(arm_finding(arm, by_score, block.get("reference")) for arm, by_score in block["arms"].items())
    return [
        (title, "text", findings, True),
        ("Each score against the realised mean, one point per source model", "figure", FIGURE, False),
        (None, "table", table(block), True),
        (None, "text", NOTE.format(share=block["top_share"]), True),
    ]


# what each score is, where a figure draws it (source accuracy is not the source model's accuracy on its own problem)
AXIS_LABELS = {
    "source_accuracy": "source accuracy: the source model's accuracy\non the target, before training",
    "probe_accuracy": "logistic probe: accuracy of a logistic\nregression on the source's features",
}
COLUMNS = 4  # panels per row of the scores figure
Y_LABEL = "realised mean: the source model's mean test accuracy after transfer (its runs of the arm)"


def scores_figure(scores: Mapping[str, np.ndarray], means: Mapping[str, np.ndarray], block: dict[str, Any]):
    """One panel per score (titled with its name, x labelled where the name needs saying what it is): the score
    (K,) against each source's realised mean (K,), one colour per transfer arm (the arm colours of every
    figure), each arm's Spearman's rho in the panel's legend. One y label and one y range for the figure (the y
    quantity is the same in every panel). One panel per score and arm (36) cost three times as much to draw."""
    from matplotlib.ticker import MaxNLocator

    names, arms = list(scores), list(means)
    columns = min(COLUMNS, len(names))
    rows = -(-len(names) // columns)
    width, height = 3.0 * columns + 0.6, 2.6 * rows + 0.6
    fig = new_figure(figsize=(width, height))
    # A fixed layout in inches, not constrained layout (which measures every tick label several times over).
    # Margins: the y label and ticks at the left, the figure's title and the first panel title at the top;
    # between rows each panel's x label and the next one's title.
    left, right, top, bottom, row_gap, column_gap = 0.9, 0.15, 0.9, 0.5, 0.85, 0.3
    panel_w = (width - left - right - (columns - 1) * column_gap) / columns
    panel_h = (height - top - bottom - (rows - 1) * row_gap) / rows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=column_gap / panel_w,
        hspace=row_gap / panel_h,
    )
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True).reshape(-1)
    for ax, score in zip(axes, names):
        x = np.asarray(scores[score], float)
        for j, arm in enumerate(arms):
            row = block["arms"].get(arm, {}).get(score)
            label = f"{arm}: rho {fmt(row['rho'], 2)}" if row else arm
            ax.scatter(x, np.asarray(means[arm], float), s=8, alpha=0.55, color=arm_colour(j + 1), label=label)
        # placed, not found: a title or legend matplotlib places itself is measured against everything first
        ax.set_title(LABELS.get(score, score), fontsize=9, y=1.0, pad=4)
        ax.legend(loc="lower right", fontsize=6, handletextpad=0.2, borderpad=0.3, labelspacing=0.2)
        # each tick costs a millisecond to make: at most 5 per axis, and y ticks only where their labels are
        ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_visible(ax.get_subplotspec().is_first_col())
        ax.tick_params(labelsize=7)
        ax.set_xlabel(AXIS_LABELS.get(score, ""), fontsize=8)  # the title names the rest
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.supylabel(Y_LABEL, fontsize=9, x=0.2 / width)
    fig.suptitle(
        y=1 - 0.15 / height,
        va="top",
        t="Transferability scores (on the target's training split, before training) against each source model's "
        "realised mean test accuracy,\nper transfer arm (rho: Spearman's rank correlation)",
        fontsize=10,
    )
    return fig


def ranking_table(rows: Sequence[dict[str, Any]], names: Sequence[str], target: str):
    """rank-sources' output as (intro line, (header, body) of every model's scores, one line per score naming
    the model it ranks first)."""
    header = ["model", "seed", *(LABELS.get(s, s) for s in names)]
    body = [[r["file"], fmt(r["source_seed"]), *(fmt(r[s], 4) for s in names)] for r in rows]
    intro = f"Transferability of {len(rows)} source models to {target} (its training split, before any training):"
    picks = []
    for s in names:
        best = max(range(len(rows)), key=lambda i: rows[i][s])
        picks.append(f"{LABELS.get(s, s)} ranks first: {rows[best]['file']} ({fmt(rows[best][s], 4)})")
    return intro, (header, body), picks


def _names(by_score: Mapping[str, Any]) -> list[str]:
    """The scores of `SCORES` that a result holds, in that order (results written before issue 34 hold six)."""
    return [s for s in SCORES if s in by_score]


def sweep_tables(result: dict[str, Any]):
    """rank-sources' output for a sweep (`api.transferability.rank_sweep`'s result) as (intro line, (header, body)
    with one row per cell and transfer arm: its benefit and each score's rho over the cell's source models,
    lines on how each score's mean over the sources ranks the targets by their benefit)."""
    keys, cells = result["keys"], result["cells"]
    names = _names(cells[0]["scores"]) if cells else []
    header = [*keys, "arm", "benefit [95% CI]", *(f"rho {LABELS.get(s, s)}" for s in names)]
    body = []
    for cell in cells:
        for arm, rows in cell["agreement"].items():
            b = cell["benefit"].get(arm, {})
            body.append(
                [
                    *(fmt(cell["values"][k]) for k in keys),
                    arm,
                    f"{fmt(b.get('diff_mean'))} [{fmt(b.get('diff_ci_low'))}, {fmt(b.get('diff_ci_high'))}]",
                    *(fmt(rows[s]["rho"], 2) for s in names),
                ]
            )
    intro = (
        f"Transferability over {len(cells)} targets ({', '.join(keys)}), {result['n_sources']} source models "
        "each: per target and transfer arm, its benefit over the baseline and how each score ranks its sources:"
    )
    lines = [
        f"Across the {len(cells)} targets, Spearman rho between a score's mean over the source models and the "
        "benefit of transfer:"
    ]
    for arm, by_score in result["targets"].items():
        lines.append(f"  {arm}: " + ", ".join(f"{LABELS.get(s, s)} {fmt(by_score[s], 2)}" for s in _names(by_score)))
    return intro, (header, body), lines


def targets_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per transfer arm, each score's Spearman rho across a sweep's targets (`rank_sweep`'s "targets")."""
    names = _names(next(iter(result["targets"].values()), {}))
    header = ["arm", *(LABELS.get(s, s).replace(" (shrunk)", "") for s in names)]
    return header, [[arm, *(fmt(by_score[s], 2) for s in names)] for arm, by_score in result["targets"].items()]
