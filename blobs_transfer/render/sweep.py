"""A sweep's report: its sections, the per-cell tables and the figures over the swept axes, from cell summaries.

Pure: cell summaries (dicts, as the cells' summary.json hold them) in, report sections and matplotlib figures out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from blobs_transfer.render import findings, plots, report
from blobs_transfer.render.findings import axis_words, compared_arms, fmt, short_axis
from blobs_transfer.sweep.grid import Sweep


def heatmap_name(arm: str) -> str:
    return f"heatmap_{arm.replace(' ', '_').replace('=', '')}.png"


def figure_title(name: str, arms: list[str] = ()) -> str:
    """A sweep figure's title in words, from its file name."""
    stem = name.removesuffix(".png")
    if stem.startswith("benefit_"):
        return f"Each arm against the baseline, over {short_axis(stem.removeprefix('benefit_'))}"
    for arm in arms:
        if name == heatmap_name(arm):
            return f"{arm} against the baseline in every cell"
    if stem == "best_arm":
        return "The best arm of every cell, shaded by P(it is the best)"
    return stem.replace("_", " ")


def sweep_title(sweep: Sweep, n_cells: int, command: str | None) -> str:
    """'configs/sweep.toml (sweep): 30 cells over target training rows x similarity t to the source'."""
    axes = " x ".join(short_axis(k) for k in sweep.keys)
    return f"{report.config_label(command, 'sweep')}: {findings.cells_words(n_cells)} over {axes}"


def sweep_sections(sweep: Sweep, summaries, figure_names: list[str]) -> list[report.Section]:
    """The finding, then the figures (heatmaps first: they answer the question), then the per-cell table, folded
    when it is long."""
    keys = sweep.keys
    header = [
        *keys,
        "arm",
        "n",
        "sources",
        "diff of means [95% CI]",
        "chance a run beats the baseline [95% CI]",
        "verdict",
    ]
    rows = []
    for item in summaries:
        cell, summary = item["cell"], item["summary"]
        for c in summary["comparisons"]:
            arm = next(a for a in summary["arms"] if a["arm"] == c["arm"])
            rows.append(
                [
                    *(str(v) for _, v in cell.values),
                    c["arm"],
                    str(arm["n"]),
                    str(arm.get("n_sources") or 1),
                    f"{c['diff_mean']:+.3f} [{fmt(c['diff_ci_low'])}, {fmt(c['diff_ci_high'])}]",
                    f"{fmt(c['a12'], 2)} [{fmt(c['a12_ci_low'], 2)}, {fmt(c['a12_ci_high'], 2)}]",
                    c["verdict"],
                ]
            )
    baseline = summaries[0]["summary"]["run"]["baseline"]
    # stable: the heatmaps, then the best arm of each cell, then the rest (benefit figures)
    ordered = sorted(figure_names, key=lambda n: 0 if n.startswith("heatmap_") else 1 if n == "best_arm.png" else 2)
    best = best_arm_table(sweep, summaries)
    return [
        report.Section(
            "What this sweep found", "text", findings.sweep_finding(sweep, summaries), doc="docs/glossary.md"
        ),
        report.Section(
            None,
            "text",
            f"{findings.cells_words(len(summaries))} over {' x '.join(short_axis(k) for k in keys)} "
            f"({', '.join(keys)} in the config); every other arm against "
            f"{baseline} in each cell, with CIs at the source-model level.",
            terminal=False,
        ),
        *(
            report.Section(
                figure_title(name, compared_arms(summaries)),
                "figure",
                name,
                terminal=False,
                doc="docs/sweeps.md#what-the-committed-sweep-shows",
            )
            for name in ordered
        ),
        report.Section(
            "Each arm against the baseline, cell by cell",
            "table",
            (header, rows),
            folded=len(rows) > report.FOLD_ROWS,
            doc="docs/statistics.md#per-arm-and-against-the-baseline",
        ),
        report.Section(
            "Best arm per cell", "table", best, folded=len(best[1]) > report.FOLD_ROWS, doc="docs/predictions.md"
        ),
    ]


def best_arm_table(sweep: Sweep, summaries) -> tuple[list[str], list[list[str]]]:
    """Per cell: the arm with the highest mean, that mean, and P(it is the best)."""
    rows = []
    for item in summaries:
        best = item["summary"].get("best")
        if best:
            rows.append(
                [
                    *(str(v) for _, v in item["cell"].values),
                    best["best_arm"],
                    f"{best['mean']:.3f}",
                    f"{best['p_best']:.2f}",
                ]
            )
    return [*sweep.keys, "best arm", "mean", "P(best)"], rows


def sweep_figures(sweep: Sweep, summaries) -> dict[str, Any]:
    """benefit_<axis>.png per swept axis (difference of means and A12 with CI bands, one line per arm; other
    axes at each of their values as separate lines when there are two axes), and heatmap_<arm>.png for two axes."""
    arms = compared_arms(summaries)
    baseline = summaries[0]["summary"]["run"]["baseline"]

    def stat(item, arm, key):
        c = next((c for c in item["summary"]["comparisons"] if c["arm"] == arm), None)
        return None if c is None else c.get(key)

    figures = {}
    for a, (key, _values) in enumerate(sweep.axes):
        others = [i for i in range(len(sweep.axes)) if i != a]
        series: dict[str, dict[str, dict[str, list]]] = {arm: {} for arm in arms}
        for item in summaries:
            cell = item["cell"]
            label = ", ".join(f"{short_axis(k)} = {v}" for k, v in (cell.values[i] for i in others))
            for arm in arms:
                s = series[arm].setdefault(
                    label, {k: [] for k in ("x", "diff", "diff_lo", "diff_hi", "a12", "a12_lo", "a12_hi")}
                )
                s["x"].append(cell.values[a][1])
                for field, name in (
                    ("diff", "diff_mean"),
                    ("diff_lo", "diff_ci_low"),
                    ("diff_hi", "diff_ci_high"),
                    ("a12", "a12"),
                    ("a12_lo", "a12_ci_low"),
                    ("a12_hi", "a12_ci_high"),
                ):
                    v = stat(item, arm, name)
                    s[field].append(np.nan if v is None else v)
        figures[f"benefit_{key}.png"] = plots.sweep_benefit_figure(axis_words(key), series, baseline)
    if len(sweep.axes) == 2:
        (kx, vx), (ky, vy) = sweep.axes
        heatmaps = {}
        for arm in arms:
            grid = {k: np.full((len(vy), len(vx)), np.nan) for k in ("diff_mean", "a12")}
            verdicts = np.full((len(vy), len(vx)), "", dtype=object)
            for item in summaries:
                i = vy.index(item["cell"].values[1][1])
                j = vx.index(item["cell"].values[0][1])
                for k in grid:
                    v = stat(item, arm, k)
                    grid[k][i, j] = np.nan if v is None else v
                verdicts[i, j] = stat(item, arm, "verdict") or ""
            heatmaps[arm] = grid, verdicts
        bound = plots.symmetric_bound([grid["diff_mean"] for grid, _ in heatmaps.values()])
        for arm, (grid, verdicts) in heatmaps.items():
            figures[heatmap_name(arm)] = plots.sweep_heatmap_figure(
                arm, axis_words(kx), list(vx), axis_words(ky), list(vy), grid, verdicts, baseline, bound=bound
            )
    if len(sweep.axes) <= 2:
        figures["best_arm.png"] = best_arm_map(sweep, summaries)
    return figures


def best_arm_map(sweep: Sweep, summaries) -> Any:
    """best_arm.png: the best arm of every cell over the first swept axis (x) and the second (y, if any),
    shaded by its P(best)."""
    (kx, vx), (ky, vy) = (*sweep.axes, ("", ("",)))[:2]
    arms = [a["arm"] for a in summaries[0]["summary"]["arms"]]
    best, p = np.full((len(vy), len(vx)), -1), np.full((len(vy), len(vx)), np.nan)
    for item in summaries:
        values = [v for _, v in item["cell"].values]
        i, j = vy.index(values[1]) if len(values) > 1 else 0, vx.index(values[0])
        cell_best = item["summary"].get("best")
        if cell_best:
            best[i, j], p[i, j] = arms.index(cell_best["best_arm"]), cell_best["p_best"]
    return plots.best_arm_figure(arms, axis_words(kx), list(vx), axis_words(ky) if ky else "", list(vy), best, p)
