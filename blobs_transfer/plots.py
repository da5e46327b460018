"""Figures of the study, drawn from arrays: never imports TensorFlow and never writes files.

Each `draw_*` function draws on a matplotlib Axes it is given; each `*_figure` function returns a new
`matplotlib.figure.Figure` (no pyplot global state), which `results.save_figure` writes to disk.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

CLASS_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
ARM_COLOURS = ("tab:gray", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
               "tab:pink", "tab:olive", "tab:cyan")


def arm_colour(i: int) -> str:
    return ARM_COLOURS[i % len(ARM_COLOURS)]


def draw_problem(ax, x: np.ndarray, y: np.ndarray, title: str) -> None:
    """Scatter of one problem: x (n, 2) features, y (n,) integer classes, one colour per class."""
    for c in np.unique(y):
        sel = y == c
        ax.scatter(x[sel, 0], x[sel, 1], s=8, alpha=0.7, color=CLASS_COLOURS[int(c) % len(CLASS_COLOURS)], label=f"class {c}")
    ax.set_title(title)
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    ax.legend(loc="best", fontsize=8)


def problems_figure(problems: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> Figure:
    """One subplot per problem, as the tutorial shows them; problems: (title, x (n, 2), y (n,))."""
    fig = Figure(figsize=(5 * len(problems), 4.5), layout="constrained")
    axes = fig.subplots(1, len(problems), squeeze=False)[0]
    for ax, (title, x, y) in zip(axes, problems):
        draw_problem(ax, x, y, title)
    # shared limits make the shift of the cluster centres between problems visible
    xs = np.concatenate([x for _, x, _ in problems])
    for ax in axes:
        ax.set_xlim(xs[:, 0].min() - 1, xs[:, 0].max() + 1)
        ax.set_ylim(xs[:, 1].min() - 1, xs[:, 1].max() + 1)
    return fig


def learning_curves_figure(history: dict[str, np.ndarray], title: str) -> Figure:
    """Loss and accuracy, train vs test, per epoch of one run; history[key] is (epochs + 1,), col 0 = start."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = np.arange(len(history["train_loss"]))
    for ax, metric, label in ((ax_loss, "loss", "cross-entropy loss"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs[1:], history[f"train_{metric}"][1:], label="train (mean over the epoch)")
        ax.plot(epochs, history[f"test_{metric}"], label="test (end of epoch)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.set_ylim(0, 1)
    fig.suptitle(title)
    return fig


def draw_boxplot(ax, names: Sequence[str], values: Sequence[np.ndarray], *, seed: int = 0) -> None:
    """One box per arm with every run drawn over it; values[i] is (n_i,) test accuracies of arm i.

    Points are jittered horizontally only, so their heights are the exact accuracies.
    """
    rng = np.random.default_rng(seed)
    ax.boxplot([np.asarray(v) for v in values], tick_labels=list(names), showfliers=False, widths=0.5,
               medianprops={"color": "black"})
    for i, v in enumerate(values):
        jitter = rng.uniform(-0.15, 0.15, size=len(v))
        ax.scatter(np.full(len(v), i + 1) + jitter, v, s=12, alpha=0.6, color=arm_colour(i), zorder=3)
        ax.scatter([i + 1], [np.mean(v)], marker="D", s=30, color="black", zorder=4,
                   label="mean" if i == 0 else None)
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="x", labelrotation=20 if max(len(n) for n in names) > 12 else 0)


def boxplot_figure(names: Sequence[str], values: Sequence[np.ndarray], title: str, *, seed: int = 0) -> Figure:
    fig = Figure(figsize=(max(6, 1.6 * len(names)), 5), layout="constrained")
    ax = fig.subplots()
    draw_boxplot(ax, names, values, seed=seed)
    ax.set_title(title)
    return fig


def draw_forest(ax, rows: Sequence[dict], baseline: str) -> None:
    """Each arm's difference of mean test accuracy to the baseline with its 95% CI.

    rows: dicts with arm, diff_mean, diff_ci_low, diff_ci_high, verdict (from stats.compare_arms).
    """
    colours = {"better": "tab:green", "worse": "tab:red", "no evidence": "tab:gray"}
    ys = np.arange(len(rows))[::-1]
    for y, row in zip(ys, rows):
        lo, hi = row["diff_ci_low"], row["diff_ci_high"]
        colour = colours.get(row["verdict"], "tab:gray")
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [y, y], color=colour, lw=2)
        ax.plot([row["diff_mean"]], [y], "o", color=colour, label=row["verdict"])
    ax.axvline(0.0, color="black", lw=1, ls="--")
    ax.set_yticks(ys, [r["arm"] for r in rows])
    ax.set_xlabel(f"difference in mean test accuracy vs {baseline} (95% bootstrap CI)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), [f"verdict: {k}" for k in unique], loc="best", fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def forest_figure(rows: Sequence[dict], baseline: str, title: str) -> Figure:
    fig = Figure(figsize=(7, 1.2 + 0.6 * max(1, len(rows))), layout="constrained")
    ax = fig.subplots()
    if rows:
        draw_forest(ax, rows, baseline)
    ax.set_title(title)
    return fig


def draw_curve_bands(ax, bands: dict[str, dict[str, np.ndarray]], ylabel: str) -> None:
    """Per arm the mean curve and its 95% CI band; bands[arm] = {mean, low, high}, each (epochs + 1,)."""
    for i, (arm, band) in enumerate(bands.items()):
        epochs = np.arange(len(band["mean"]))
        ax.plot(epochs, band["mean"], color=arm_colour(i), label=f"{arm} (mean)")
        ax.fill_between(epochs, band["low"], band["high"], color=arm_colour(i), alpha=0.2, label=f"{arm} 95% CI")
    ax.set_xlabel("epoch of training on the target problem (0 = before training)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")


def curves_figure(accuracy_bands: dict, loss_bands: dict, title: str) -> Figure:
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    ax_acc, ax_loss = fig.subplots(1, 2)
    draw_curve_bands(ax_acc, accuracy_bands, "test accuracy")
    draw_curve_bands(ax_loss, loss_bands, "test cross-entropy loss")
    # the untrained epoch-0 loss can be several times the rest: keep the trained part readable
    trained_top = max((float(np.nanmax(b["high"][1:])) for b in loss_bands.values() if len(b["high"]) > 1), default=None)
    if trained_top is not None and np.isfinite(trained_top):
        ax_loss.set_ylim(0, trained_top * 1.15)
    fig.suptitle(title)
    return fig
