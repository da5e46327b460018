"""Which transferability score to trust, in words and figures: the study across a sweep's setups.

Pure: `api.setups.study`'s block and the per-setup rows in, sentences, report sections and matplotlib figures
out. Every sentence is generated from those numbers: which score to trust (the highest win rate over all
transfer arms), where it loses, how far the best is from the noise ceiling, what the scores add beyond the dead
units, and each score against the logistic probe with an equivalence margin and Holm's adjustment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from blobs_transfer.render import report
from blobs_transfer.render.findings import fmt, join_words
from blobs_transfer.render.plots import arm_colour, new_figure
from blobs_transfer.render.transferability import LABELS
from blobs_transfer.stats.setups import ALL_ARMS, win_shares

HEATMAP = "setups_rho.png"
WIN_RATES = "setups_win_rates.png"
CEILING = "setups_ceiling.png"
VERDICT_ORDER = ("better", "as good as", "inconclusive", "worse")


def label(score: str) -> str:
    return LABELS.get(score, score)


SHORT = {"similarity_t": "t", "n_train": "n", "cluster_std": "sd"}


def short_key(key: str) -> str:
    """A setup's key in a figure's labels or a table's header: 'target.similarity_t' -> 't', 'target.n_train' ->
    'n', 'source.cluster_std' -> 'source sd' (a key of the source problem says so)."""
    table, _, name = key.rpartition(".")
    return ("source " if table == "source" else "") + SHORT.get(name, name)


def setup_name(keys: Sequence[str], values: dict[str, Any]) -> str:
    return ", ".join(f"{short_key(k)} {fmt(values[k], 2) if isinstance(values[k], float) else values[k]}" for k in keys)


def _all(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows over every transfer arm, by win rate (highest first; ties by mean rank)."""
    rows = [r for r in block["win_rates"] if r["arm"] == ALL_ARMS]
    return sorted(rows, key=lambda r: (-r["win_rate"], r["mean_rank"], r["score"]))


def title(result: dict[str, Any], block: dict[str, Any]) -> str:
    return (
        f"Which transferability score to trust: {block['n_setups']} setups ({', '.join(result['keys'])}), "
        f"{result['n_sources']} source models each"
    )


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def _share_ci(row: dict[str, Any], key: str) -> str:
    low, high = row[f"{key}_ci"]
    return f"{_pct(row[key])} [{_pct(low)}, {_pct(high)}]"


def trust_sentence(block: dict[str, Any]) -> str:
    """Which score to trust: the best win rate over every transfer arm, the runner-up, and whether the setups
    tell the two apart."""
    ranked = _all(block)
    best, second = ranked[0], ranked[1]
    n_arms = len({r["arm"] for r in block["win_rates"]}) - 1
    clear = best["win_rate_ci"][0] > second["win_rate"]
    told = "its CI clears the runner-up's rate" if clear else "its CI holds the runner-up's rate: not a clear winner"
    verb = "Trust" if clear else "The best bet is"
    return (
        f"{verb} {label(best['score'])}: over {block['n_setups']} setups and their {n_arms} transfer arms it ranks "
        f"the source models best (the highest Spearman rho) in {_share_ci(best, 'win_rate')} of them, more often "
        f"than any other score (next: {label(second['score'])}, {_share_ci(second, 'win_rate')}); {told}. Its mean "
        f"rank is {fmt(best['mean_rank'], 1)} of {len(ranked)}, and it beats the "
        f"{label(block['reference'])} in {_pct(best['beats_reference'])} of the setups (95% CIs over resampled "
        "setups)."
    )


def loses_sentence(keys: Sequence[str], cells: Sequence[dict[str, Any]], block: dict[str, Any]) -> str:
    """Where the trusted score loses: the key value where its win rate is lowest, and who wins there."""
    best = block["best"]
    scores = [r["score"] for r in _all(block)]
    arms = list(cells[0]["agreement"])
    # per cell: each score's win share (`stats.setups.win_shares`, a rho of None counting 0), its arms averaged
    shares = np.array(
        [
            win_shares(np.array([[cell["agreement"][a][s]["rho"] or 0.0 for s in scores] for a in arms])).mean(axis=0)
            for cell in cells
        ]
    )
    b = scores.index(best)
    lost = int(np.sum(shares[:, b] == 0))
    worst = None
    for key in keys:
        for value in sorted({c["values"][key] for c in cells}):
            where = np.array([c["values"][key] == value for c in cells])
            rate = float(shares[where, b].mean())
            if worst is None or rate < worst[0]:
                worst = (rate, key, value, where)
    rate, key, value, where = worst
    winner = scores[int(np.argmax(shares[where].mean(axis=0)))]
    there = (
        f"there {label(winner)} wins most often ({_pct(float(shares[where].mean(axis=0).max()))})"
        if winner != best
        else "yet it still wins there more often than any other score"
    )
    return (
        f"Where it loses: it is not the best in any arm of {lost} of the {len(cells)} setups. It does worst with "
        f"{short_key(key)} = {fmt(value, 2) if isinstance(value, float) else value}, where it is the best in "
        f"{_pct(rate)} of the setups' arms; {there}."
    )


def ceiling_sentence(cells: Sequence[dict[str, Any]], block: dict[str, Any]) -> str:
    """How far the trusted score is from a perfect score's rho, the noise ceiling of each setup."""
    best = block["best"]
    rho, ceil, dead = [], [], []
    for cell in cells:
        for arm, extra in cell["setups"].items():
            if extra["ceiling"] is not None:
                rho.append(np.nan_to_num(cell["agreement"][arm][best]["rho"] or 0.0))
                ceil.append(extra["ceiling"])
            if extra.get("dead_units_rho") is not None:
                dead.append(extra["dead_units_rho"])
    rho, ceil = np.array(rho), np.array(ceil)
    return (
        f"How far from a perfect score: {label(best)}'s mean rho over the setups' arms is {fmt(float(rho.mean()), 2)}, "
        f"against a mean noise ceiling of {fmt(float(ceil.mean()), 2)} (the rho that the source models' true means "
        f"would reach, from the runs' reliability; {fmt(float(ceil.min()), 2)} to {fmt(float(ceil.max()), 2)} "
        f"across setups): {fmt(float((ceil - rho).mean()), 2)} below it on average, reaching "
        f"{_pct(float(rho.sum() / ceil.sum()))} of it. The number of dead units alone reaches a mean rho of "
        f"{fmt(float(np.mean(dead)), 2) if dead else 'n/a'}."
    )


def beyond_sentence(cells: Sequence[dict[str, Any]], block: dict[str, Any]) -> str:
    """What the trusted score knows beyond the dead units: its mean rho and partial rho."""
    best = block["best"]
    pairs = [
        (cell["agreement"][arm][best]["rho"], extra["partial_rho"][best])
        for cell in cells
        for arm, extra in cell["setups"].items()
        if cell["agreement"][arm][best]["rho"] is not None and extra["partial_rho"][best] is not None
    ]
    rho, partial = np.array(pairs).T
    return (
        f"Beyond the dead units: controlling for them, {label(best)}'s mean rho goes from "
        f"{fmt(float(rho.mean()), 2)} to {fmt(float(partial.mean()), 2)} (the partial rho per setup is in "
        "setups.csv, for every score)."
    )


def probe_sentence(block: dict[str, Any]) -> str:
    """Every score against the reference across setups, grouped by verdict."""
    reference = label(block["reference"])
    rows = [r for r in _all(block) if r["verdict"] is not None]
    groups = {v: [label(r["score"]) for r in rows if r["verdict"] == v] for v in VERDICT_ORDER}
    m = sum(1 for r in block["win_rates"] if r["verdict"] is not None)
    parts = [f"{v}: {join_words(names)}" for v, names in groups.items() if names]
    return (
        f"Against the {reference}, by mean rho over the setups and every transfer arm (equivalence within "
        f"+-{fmt(block['margin'], 2)}; p-values Holm-adjusted over all {m} comparisons of the win-rate tables, "
        "each score in each arm and over all arms): " + "; ".join(parts) + "."
    )


def reason(block: dict[str, Any]) -> str:
    """Why `rank-sources` ranks by the study's best score: its win rate across the committed study's setups, the
    next two scores', and whether the setups tell it from the runner-up."""
    ranked = _all(block)
    best = ranked[0]
    clear = best["win_rate_ci"][0] > ranked[1]["win_rate"]
    others = ", ".join(f"{label(r['score'])} {_pct(r['win_rate'])}" for r in ranked[1:3])
    return (
        f"{label(best['score'])} ranked the source models best (the highest Spearman rho) more often than any other "
        f"score in the committed study of {block['n_setups']} setups (results/transferability, "
        f"configs/transferability.toml): in {_share_ci(best, 'win_rate')} of them over the transfer arms, against "
        f"{others}; "
        + (
            "a clear winner."
            if clear
            else "not a clear winner, so the next scores would often pick the same source models."
        )
    )


def findings(keys: Sequence[str], cells: Sequence[dict[str, Any]], block: dict[str, Any]) -> list[str]:
    """The sentences that answer which score to trust, in order."""
    return [
        trust_sentence(block),
        loses_sentence(keys, cells, block),
        ceiling_sentence(cells, block),
        beyond_sentence(cells, block),
        probe_sentence(block),
    ]


def rates_table(block: dict[str, Any], arm: str = ALL_ARMS) -> tuple[list[str], list[list[str]]]:
    """Per score for one arm (or all): win rate, beating the reference, mean rank, mean rho, the difference to the
    reference's, and the verdict."""
    reference = label(block["reference"])
    header = [
        "score",
        "win rate [95% CI]",
        f"beats the {reference} [95% CI]",
        "mean rank [95% CI]",
        "mean rho [95% CI]",
        f"rho minus the {reference}'s [95% CI]",
        "p (Holm)",
        "verdict",
    ]
    mine = sorted(
        (r for r in block["win_rates"] if r["arm"] == arm), key=lambda r: (-r["win_rate"], r["mean_rank"], r["score"])
    )

    def ci(r, key, digits, signed=False):
        low, high = r[f"{key}_ci"]
        sign = "+" if signed and r[key] >= 0 else ""
        return f"{sign}{fmt(r[key], digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"

    body = [
        [
            label(r["score"]),
            _share_ci(r, "win_rate"),
            _share_ci(r, "beats_reference"),
            ci(r, "mean_rank", 1),
            ci(r, "mean_rho", 2),
            ci(r, "rho_diff", 2, signed=True),
            "" if r.get("p_diff_holm") is None else f"{r['p_diff_holm']:.3g}",
            r["verdict"] or "(reference)",
        ]
        for r in mine
    ]
    return header, body


def best_table(keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Per setup and arm: the score with the highest rho, that rho, and the ceiling."""
    header = [*map(short_key, keys), "arm", "best score", "its rho [95% CI]", "ceiling"]
    best: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        at = (*(r[k] for k in keys), r["arm"])
        if r["rho"] is not None and (at not in best or r["rho"] > best[at]["rho"]):
            best[at] = r
    body = [
        [
            *(fmt(r[k], 2) if isinstance(r[k], float) else str(r[k]) for k in keys),
            r["arm"],
            label(r["score"]),
            f"{fmt(r['rho'], 2)} [{fmt(r['rho_ci_low'], 2)}, {fmt(r['rho_ci_high'], 2)}]",
            fmt(r["ceiling"], 2),
        ]
        for r in best.values()
    ]
    return header, body


NOTE = (
    "A setup is one cell of the sweep (one target, one source problem, one label budget) and one transfer arm. "
    "Win rate: the share of setups where a score's Spearman rho with the realised means is the highest (ties "
    "split). The CIs resample setups with replacement; the setups share their source models by source problem, so "
    "they are not fully independent, and these CIs are if anything too narrow. Ceiling: the square root of the "
    "realised means' reliability (their runs' Spearman-Brown stepped-up agreement), the rho a perfect score could "
    "expect. Every number is in setups.csv and win_rates.csv beside this page."
)


def sections(keys: Sequence[str], rows: Sequence[dict[str, Any]], block: dict[str, Any], figures: Sequence[str]):
    """The report's sections: the findings, the win rates (all arms, then each arm, folded), the figures, and
    the best score of each setup (folded)."""
    out = [report.Section(None, "text", f) for f in block["findings"]]
    out.append(report.Section("Win rates over every transfer arm", "table", rates_table(block)))
    out.append(report.Section(None, "text", NOTE))
    for arm in sorted({r["arm"] for r in block["win_rates"]} - {ALL_ARMS}):
        out.append(report.Section(f"Win rates, {arm}", "table", rates_table(block, arm), folded=True))
    titles = {
        HEATMAP: "Each score's rho in each setup",
        WIN_RATES: "Win rates and beating the probe, with their CIs",
        CEILING: "Each score's rho against the setup's ceiling",
    }
    out += [report.Section(titles.get(name, name), "figure", name, terminal=False) for name in figures]
    out.append(report.Section("The best score of each setup", "table", best_table(keys, rows), folded=True))
    return out


def _matrix(keys, rows, arm, scores):
    """(M, S) rho of each score in each setup for one arm, and the setups' names, in the rows' order."""
    setups: list[tuple] = []
    values: dict[tuple, dict[str, float]] = {}
    for r in rows:
        if r["arm"] != arm:
            continue
        at = tuple(r[k] for k in keys)
        if at not in values:
            setups.append(at)
            values[at] = {}
        values[at][r["score"]] = np.nan if r["rho"] is None else r["rho"]
    m = np.array([[values[at].get(s, np.nan) for at in setups] for s in scores])
    return m, [setup_name(keys, dict(zip(keys, at))) for at in setups]


def heatmap_figure(keys, rows, block):
    """Score x setup heatmap of rho, one panel per transfer arm, on one shared symmetric colour scale."""
    scores = [r["score"] for r in _all(block)]
    arms = sorted({r["arm"] for r in rows})
    mats = [_matrix(keys, rows, arm, scores) for arm in arms]
    v = max(float(np.nanmax(np.abs(m))) for m, _ in mats)
    n_setups = mats[0][0].shape[1]
    fig = new_figure(figsize=(2.5 + 0.32 * n_setups, 3.2 * len(arms) + 1.2), layout="constrained")
    axes = fig.subplots(len(arms), 1, squeeze=False)[:, 0]
    for ax, arm, (m, names) in zip(axes, arms, mats):
        image = ax.imshow(m, cmap="RdBu", vmin=-v, vmax=v, aspect="auto")
        ax.set_yticks(range(len(scores)), [label(s) for s in scores], fontsize=7)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
        ax.set_title(arm, fontsize=9)
    fig.colorbar(image, ax=list(axes), shrink=0.6, label="Spearman rho with the realised means")
    fig.suptitle("Each score's rho in each setup (scores by win rate, best first)", fontsize=10)
    return fig


def win_rates_figure(block):
    """Per score: win rate and rate of beating the probe, each arm and all arms, with 95% CIs."""
    scores = [r["score"] for r in _all(block)][::-1]
    arms = sorted({r["arm"] for r in block["win_rates"]} - {ALL_ARMS}) + [ALL_ARMS]
    by = {(r["arm"], r["score"]): r for r in block["win_rates"]}
    fig = new_figure(figsize=(10, 0.4 * len(scores) + 1.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, xlabel in (
        (axes[0], "win_rate", "win rate: share of setups where its rho is the highest"),
        (axes[1], "beats_reference", f"share of setups where it beats the {label(block['reference'])}"),
    ):
        for j, arm in enumerate(arms):
            y = np.arange(len(scores)) + (j - (len(arms) - 1) / 2) * 0.18
            x = np.array([by[(arm, s)][key] for s in scores])
            ci = np.array([by[(arm, s)][f"{key}_ci"] for s in scores], dtype=float)
            colour = "black" if arm == ALL_ARMS else arm_colour(j + 1)
            ax.errorbar(x, y, xerr=[x - ci[:, 0], ci[:, 1] - x], fmt="o", ms=3, color=colour, label=arm, lw=1)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_xlim(-0.02, 1.02)
        ax.tick_params(labelsize=7)
    axes[0].set_yticks(range(len(scores)), [label(s) for s in scores])
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Win rates with 95% CIs over resampled setups", fontsize=10)
    return fig


def ceiling_figure(rows, block):
    """One panel per score: its rho in each setup and arm against the setup's ceiling (the line rho = ceiling)."""
    scores = [r["score"] for r in _all(block)]
    arms = sorted({r["arm"] for r in rows})
    cols = 4
    n_rows = -(-len(scores) // cols)
    low = min((r["ceiling"] for r in rows if r["ceiling"] is not None), default=0.0) - 0.02
    fig = new_figure(figsize=(2.6 * cols, 2.3 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, cols, squeeze=False, sharex=True, sharey=True)
    for i, score in enumerate(scores):
        ax = axes[i // cols][i % cols]
        for j, arm in enumerate(arms):
            mine = [r for r in rows if r["score"] == score and r["arm"] == arm]
            x = [r["ceiling"] for r in mine if r["rho"] is not None and r["ceiling"] is not None]
            y = [r["rho"] for r in mine if r["rho"] is not None and r["ceiling"] is not None]
            ax.scatter(x, y, s=8, alpha=0.7, color=arm_colour(j + 1), label=arm)
        ax.plot([low, 1], [low, 1], color="gray", lw=0.8)
        ax.axhline(0, color="lightgray", lw=0.6)
        ax.set_title(label(score), fontsize=8)
        ax.tick_params(labelsize=7)
    for k in range(len(scores), n_rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    axes[0][0].legend(fontsize=6)
    axes[0][0].set_xlim(low, 1.005)
    fig.supxlabel("the setup's ceiling: the rho a perfect score could expect (the line: rho = ceiling)", fontsize=9)
    fig.supylabel("the score's Spearman rho", fontsize=9)
    fig.suptitle("Each score's rho against the noise ceiling of its setup", fontsize=10)
    return fig


def figures(keys: Sequence[str], rows: Sequence[dict[str, Any]], block: dict[str, Any]) -> dict[str, Any]:
    return {
        HEATMAP: heatmap_figure(keys, rows, block),
        WIN_RATES: win_rates_figure(block),
        CEILING: ceiling_figure(rows, block),
    }
