"""Figures of the study, drawn from arrays: never imports TensorFlow and never writes files.

Each `draw_*` function draws on a matplotlib Axes it is given; each `*_figure` function returns a new
`matplotlib.figure.Figure` (no pyplot global state), which `rundir.files.save_figure` writes to disk.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from blobs_transfer.render.findings import counts_phrase, sources_phrase

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLASS_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
# the baseline (first arm) is gray; 19 more distinct colours before any repeats
ARM_COLOURS = (
    "tab:gray",
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "navy",
    "gold",
    "lime",
    "maroon",
    "teal",
    "darkviolet",
    "sandybrown",
    "black",
    "lightcoral",
    "darkkhaki",
)


def new_figure(**kwargs) -> Figure:
    """A new matplotlib Figure (no pyplot state). matplotlib is imported here, on the first figure, so that the
    commands that draw nothing (--help, runs, verify, check) do not pay its import."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def arm_colour(i: int) -> str:
    return ARM_COLOURS[i % len(ARM_COLOURS)]


def draw_problem(ax, x: np.ndarray, y: np.ndarray, title: str) -> None:
    """Scatter of one problem: x (n, 2) features, y (n,) integer classes, one colour per class."""
    for c in np.unique(y):
        sel = y == c
        ax.scatter(
            x[sel, 0], x[sel, 1], s=8, alpha=0.7, color=CLASS_COLOURS[int(c) % len(CLASS_COLOURS)], label=f"class {c}"
        )
    ax.set_title(title)
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    ax.legend(loc="best", fontsize=8)


def problems_figure(problems: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> Figure:
    """One subplot per problem, as the tutorial shows them; problems: (title, x (n, 2), y (n,))."""
    fig = new_figure(figsize=(5 * len(problems), 4.5), layout="constrained")
    axes = fig.subplots(1, len(problems), squeeze=False)[0]
    for ax, (title, x, y) in zip(axes, problems):
        draw_problem(ax, x, y, title)
    # shared limits make the shift of the cluster centres between problems visible
    xs = np.concatenate([x for _, x, _ in problems])
    for ax in axes:
        ax.set_xlim(xs[:, 0].min() - 1, xs[:, 0].max() + 1)
        ax.set_ylim(xs[:, 1].min() - 1, xs[:, 1].max() + 1)
    return fig


def decision_regions_figure(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    extent: tuple[float, float, float, float],
    title: str,
) -> Figure:
    """One panel per network: panels[i] = (title, classes (H, W) on a grid over `extent` (x0, x1, y0, y1), the
    points x (n, 2) and their classes y (n,)); each class's region pale in its colour, the points over it."""
    from matplotlib.colors import ListedColormap

    fig = new_figure(figsize=(5.2 * len(panels), 5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    n_classes = int(max(max(c.max(), y.max()) for _, c, _, y in panels)) + 1
    pale = ListedColormap([CLASS_COLOURS[k % len(CLASS_COLOURS)] for k in range(n_classes)])
    for ax, (name, classes, x, y) in zip(axes, panels):
        ax.imshow(
            classes,
            origin="lower",
            extent=extent,
            aspect="auto",
            cmap=pale,
            vmin=-0.5,
            vmax=n_classes - 0.5,
            alpha=0.25,
            interpolation="nearest",
        )
        draw_problem(ax, x, y, wrap_title(name, 5.2))
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.title.set_fontsize(10)
    fig.suptitle(title)
    return fig


def learning_curves_figure(history: dict[str, np.ndarray], title: str) -> Figure:
    """Loss and accuracy, train vs test, per epoch of one run; history[key] is (epochs + 1,), col 0 = start."""
    fig = new_figure(figsize=(10, 4), layout="constrained")
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
    ax.boxplot(
        [np.asarray(v) for v in values],
        tick_labels=list(names),
        showfliers=False,
        widths=0.5,
        medianprops={"color": "black"},
    )
    for i, v in enumerate(values):
        jitter = rng.uniform(-0.15, 0.15, size=len(v))
        ax.scatter(np.full(len(v), i + 1) + jitter, v, s=12, alpha=0.6, color=arm_colour(i), zorder=3)
        ax.scatter([i + 1], [np.mean(v)], marker="D", s=30, color="black", zorder=4, label="mean" if i == 0 else None)
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if max(len(n) for n in names) > 12 or len(names) > 5:
        for label in ax.get_xticklabels():
            label.set_rotation(35)
            label.set_horizontalalignment("right")


def wrap_title(title: str, width_inches: float) -> str:
    """Wrap each line of a title to about the width of its figure (a long source path was cut off at the edges)."""
    chars = max(20, int(width_inches * 10))  # about 10 characters per inch at the default title size
    # never inside a short parenthesis: its spaces are held by a placeholder while the line is wrapped at the others
    # (a parenthesis longer than a line is wrapped like the rest; no word is ever cut)
    held = re.sub(
        r"\([^()]*\)", lambda m: m.group(0).replace(" ", "\0") if len(m.group(0)) <= chars else m.group(0), title
    )
    lines = (textwrap.fill(line, chars, break_long_words=False) for line in held.split("\n"))
    return "\n".join(lines).replace("\0", " ")


def boxplot_figure(names: Sequence[str], values: Sequence[np.ndarray], title: str, *, seed: int = 0) -> Figure:
    width = min(16, max(6, 1.4 * len(names)))
    fig = new_figure(figsize=(width, 5.5), layout="constrained")
    ax = fig.subplots()
    draw_boxplot(ax, names, values, seed=seed)
    ax.set_title(wrap_title(title, width))
    return fig


VERDICT_COLOURS = {"better": "tab:green", "worse": "tab:red", "no evidence": "tab:gray"}


def _interval(ax, ys, rows, key, colours) -> None:
    for y, row, colour in zip(ys, rows, colours):
        lo, hi = row[f"{key}_ci_low"], row[f"{key}_ci_high"]
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [y, y], color=colour, lw=2)
        ax.plot([row[key]], [y], "o", color=colour)


def draw_forest(ax_diff, ax_a12, rows: Sequence[dict], baseline: str) -> None:
    """Per arm against the baseline: the difference of means and P(arm > baseline), each with its 95% CI.

    rows: dicts from stats.compare_arms. Both panels are coloured by the arm's verdict, which comes from a test
    of P(arm > baseline) (Mann-Whitney, or its clustered form for runs nested in source models): a few collapsed
    runs can move the difference of means the other way, and the colour then shows it on both panels.
    """
    from matplotlib.ticker import MaxNLocator

    ys = np.arange(len(rows))[::-1]
    colours = [VERDICT_COLOURS.get(r["verdict"], "tab:gray") for r in rows]
    _interval(ax_diff, ys, [{**r, "diff": r["diff_mean"]} for r in rows], "diff", colours)
    ax_diff.axvline(0.0, color="black", lw=1, ls="--")
    ax_diff.set_yticks(ys, [r["arm"] for r in rows])
    ax_diff.xaxis.set_major_locator(MaxNLocator(nbins=5))  # at most 6 ticks: their labels never touch
    ax_diff.set_xlabel(f"mean test accuracy minus {baseline}'s")
    ax_diff.set_title("difference of means (95% CI)", fontsize=10)
    _interval(ax_a12, ys, rows, "a12", colours)
    ax_a12.axvline(0.5, color="black", lw=1, ls="--")
    ax_a12.set_xlim(-0.02, 1.02)
    ax_a12.tick_params(labelleft=False)  # the y axis is shared: the arm names stand on the left panel
    ax_a12.set_xlabel(f"chance that a run of the arm beats a run of {baseline}")
    ax_a12.set_title("probability of beating the baseline, A12 (95% CI)", fontsize=10)
    for verdict, colour in VERDICT_COLOURS.items():
        ax_a12.plot([], [], "o", color=colour, label=f"verdict: {verdict}")
    ax_a12.legend(loc="best", fontsize=8)
    for ax in (ax_diff, ax_a12):
        ax.grid(axis="x", alpha=0.3)


def forest_figure(rows: Sequence[dict], baseline: str, subtitle: str = "") -> Figure:
    longest = max((len(r["arm"]) for r in rows), default=10)
    fig = new_figure(figsize=(10 + 0.08 * longest, 1.8 + 0.5 * max(1, len(rows))), layout="constrained")
    ax_diff, ax_a12 = fig.subplots(1, 2, sharey=True)
    if rows:
        draw_forest(ax_diff, ax_a12, rows, baseline)
    fig.suptitle(
        f"Each arm against the baseline ({baseline}); colour: the verdict" + (f"\n{subtitle}" if subtitle else "")
    )
    return fig


def draw_curve_bands(ax, bands: dict[str, dict[str, np.ndarray]], ylabel: str) -> None:
    """Per arm the mean curve and its 95% CI band; bands[arm] = {mean, low, high}, each (epochs + 1,)."""
    for i, (_arm, band) in enumerate(bands.items()):
        epochs = np.arange(len(band["mean"]))
        ax.plot(epochs, band["mean"], color=arm_colour(i))
        ax.fill_between(epochs, band["low"], band["high"], color=arm_colour(i), alpha=0.2)
    ax.set_xlabel("epoch of training on the target problem (0 = before training)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def band_label(band: dict) -> str:
    """What a band's interval is at: over K source models, conditional on one, or over independent runs."""
    k = band.get("n_sources")
    if k is None:
        return "95% CI over runs"
    if k == 1:
        return "95% CI conditional on one source model"
    return f"95% CI over {k} source models"


def curves_figure(accuracy_bands: dict, loss_bands: dict, title: str) -> Figure:
    fig = new_figure(figsize=(12, 5 + 0.25 * (len(accuracy_bands) // 3)), layout="constrained")
    ax_acc, ax_loss = fig.subplots(1, 2)
    draw_curve_bands(ax_acc, accuracy_bands, "test accuracy")
    draw_curve_bands(ax_loss, loss_bands, "test cross-entropy loss")
    # one shared legend below the panels, so it never hides the curves (the start is what transfer changes)
    handles = [(ax_acc.plot([], [], color=arm_colour(i), lw=2)[0]) for i in range(len(accuracy_bands))]
    labels = [f"{arm}: mean, shaded {band_label(band)}" for arm, band in accuracy_bands.items()]
    longest = max((len(label) for label in labels), default=1)
    # about 150 characters of 8-point legend fit across the 12-inch figure: fewer columns for longer labels
    fig.legend(
        handles, labels, loc="outside lower center", ncol=max(1, min(3, len(handles), 150 // longest)), fontsize=8
    )
    # the untrained epoch-0 loss can be several times the rest: keep the trained part readable
    trained_top = max(
        (float(np.nanmax(b["high"][1:])) for b in loss_bands.values() if len(b["high"]) > 1), default=None
    )
    if trained_top is not None and np.isfinite(trained_top):
        ax_loss.set_ylim(0, trained_top * 1.15)
    fig.suptitle(title)
    return fig


def train_test_figure(means: dict[str, dict[str, np.ndarray]], title: str) -> Figure:
    """Train against test per arm, as the tutorial draws one run's: a column per arm, accuracy above and loss
    below; means[arm][key] is the mean over the arm's runs per epoch, (epochs + 1,), for key in train_accuracy,
    test_accuracy, train_loss, test_loss (train from epoch 1: it is the mean over the epoch's batches)."""
    arms = list(means)
    fig = new_figure(figsize=(min(16, 3.6 * max(1, len(arms)) + 1), 6), layout="constrained")
    axes = fig.subplots(2, max(1, len(arms)), squeeze=False, sharey="row")
    for col, arm in enumerate(arms):
        for row, (metric, label) in enumerate((("accuracy", "accuracy"), ("loss", "cross-entropy loss"))):
            ax = axes[row, col]
            train, test = means[arm][f"train_{metric}"], means[arm][f"test_{metric}"]
            epochs = np.arange(len(test))
            ax.plot(epochs[1:], train[1:], color=arm_colour(col), ls="--", label="train")
            ax.plot(epochs, test, color=arm_colour(col), label="test")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(arm, fontsize=10)
                ax.set_ylim(0, 1)
            else:
                ax.set_xlabel("epoch")
                # the untrained epoch-0 loss can be several times the rest: keep the trained part readable
                top = max(float(np.nanmax(means[a]["test_loss"][1:])) for a in arms if len(means[a]["test_loss"]) > 1)
                if np.isfinite(top):
                    ax.set_ylim(0, top * 1.3)
            ax.legend(fontsize=8, loc="lower right" if row == 0 else "upper right")
    fig.suptitle(title)
    return fig


def source_means_figure(
    arms: Sequence[str], means: np.ndarray, baseline: str, baseline_values: np.ndarray, title: str
) -> Figure:
    """Each source model's mean test accuracy per arm: means (K, A) for the A arms that start from a source model
    (NaN where a source has no runs), one dot per source model and a thin line joining its dots across the arms
    (crossing lines: the ranking of the arms flips between source models); the baseline's runs (n,) as a box."""
    fig = new_figure(figsize=(max(7.0, 1.8 * (len(arms) + 1) + 2), 5.5), layout="constrained")
    ax = fig.subplots()
    xs = np.arange(1, len(arms) + 1)
    ax.boxplot(
        [np.asarray(baseline_values)], positions=[0], widths=0.5, showfliers=True, medianprops={"color": "black"}
    )
    at = xs + np.random.default_rng(0).uniform(-0.06, 0.06, size=means.shape)  # (K, A): each dot's x, jittered
    for k in range(means.shape[0]):
        ax.plot(at[k], means[k], color="black", alpha=0.12, lw=0.8)
    for a, _arm in enumerate(arms):
        ax.scatter(at[:, a], means[:, a], s=14, alpha=0.7, color=arm_colour(a + 1), zorder=3)
    ax.set_xticks([0, *xs], [f"{baseline}\n(every run)", *(f"{arm}\n(mean of each source model)" for arm in arms)])
    ax.set_ylabel("test accuracy")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(wrap_title(title, fig.get_figwidth()), fontsize=10)
    return fig


def sweep_benefit_figure(axis: str, series: dict[str, dict[str, dict[str, list]]], baseline: str) -> Figure:
    """The transfer benefit against one swept axis: per arm (a row), the difference of means (left) and
    P(arm beats baseline) (right) with 95% CI bands; series[arm][label] holds x and the statistics with their
    CI ends, one line per value of the other swept axes (label), coloured in order."""
    from matplotlib import colormaps

    arms = list(series)
    fig = new_figure(figsize=(12, 2.8 * len(arms) + 1.2), layout="constrained")
    axes = fig.subplots(len(arms), 2, squeeze=False, sharex=True)
    labels = list(next(iter(series.values())))
    colours = colormaps["viridis"](np.linspace(0.0, 0.9, len(labels))) if len(labels) > 1 else ["tab:blue"]
    xs_all = [x for arm in series.values() for s in arm.values() for x in s["x"]]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    log = numeric and min(xs_all) > 0 and max(xs_all) / min(xs_all) > 20
    for row, arm in enumerate(arms):
        for colour, label in zip(colours, labels):
            s = series[arm][label]
            xs = np.asarray(s["x"], float) if numeric else np.arange(len(s["x"]))
            for ax, key in ((axes[row, 0], "diff"), (axes[row, 1], "a12")):
                ax.plot(xs, s[key], "o-", color=colour, label=label or None)
                ax.fill_between(xs, s[f"{key}_lo"], s[f"{key}_hi"], color=colour, alpha=0.15)
            if not numeric:
                axes[row, 0].set_xticks(xs, [str(x) for x in s["x"]])
        for ax, ref, ylabel in (
            (axes[row, 0], 0.0, f"mean minus {baseline}'s"),
            (axes[row, 1], 0.5, f"chance a run beats {baseline}"),
        ):
            ax.axhline(ref, color="black", lw=1, ls="--")
            ax.set_ylabel(f"{arm}\n{ylabel}", fontsize=9)
            ax.grid(alpha=0.3)
            if log:  # ticks at the grid's own values (a log axis alone marks only the powers of 10)
                ax.set_xscale("log")
                grid = sorted(set(xs_all))
                ax.set_xticks(grid, [f"{x:g}" for x in grid])
                ax.minorticks_off()
        axes[row, 1].set_ylim(-0.02, 1.02)
    for ax in axes[-1]:
        ax.set_xlabel(axis)
    if labels != [""]:
        fig.legend(
            *axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=min(5, len(labels)), fontsize=8
        )
    fig.suptitle(f"Each arm against {baseline}, over {axis} (95% CI bands at the source-model level)")
    return fig


def symmetric_bound(grids: Sequence[np.ndarray]) -> float:
    """The largest |value| over every grid: one symmetric colour scale (-bound, +bound) for all of a sweep's
    heatmaps, so that the same colour is the same difference in each."""
    finite = np.concatenate([np.abs(g[np.isfinite(g)]).ravel() for g in grids]) if grids else np.array([])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def sweep_heatmap_figure(
    arm: str,
    x_label: str,
    x_values: list,
    y_label: str,
    y_values: list,
    grids: dict[str, np.ndarray],
    verdicts: np.ndarray,
    baseline: str = "standalone",
    bound: float | None = None,
) -> Figure:
    """Two heatmaps of one arm over two swept axes: the difference of means and A12, each cell annotated with
    its value and verdict; grids[stat] is (len(y_values), len(x_values)). bound: the difference's colour scale
    (-bound, +bound), shared by the sweep's heatmaps (`symmetric_bound`); its own largest |value| if None."""
    fig = new_figure(figsize=(13, 0.6 * len(y_values) + 3), layout="constrained")
    bound = symmetric_bound([grids["diff_mean"]]) if bound is None else bound
    for ax, (key, title, cmap, limits) in zip(
        fig.subplots(1, 2),
        (
            ("diff_mean", f"mean test accuracy minus {baseline}'s", "RdBu", (-bound, bound)),
            ("a12", f"chance that a run beats a run of {baseline} (A12)", "RdBu", (0, 1)),
        ),
    ):
        data = grids[key]
        image = ax.imshow(data, cmap=cmap, vmin=limits[0], vmax=limits[1], aspect="auto", origin="lower")
        ax.set_xticks(range(len(x_values)), [str(v) for v in x_values])
        ax.set_yticks(range(len(y_values)), [str(v) for v in y_values])
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                if np.isfinite(data[i, j]):
                    mark = {"better": "+", "worse": "-"}.get(verdicts[i, j], "")
                    dark = abs(data[i, j] - sum(limits) / 2) > 0.3 * (limits[1] - limits[0])
                    ax.text(
                        j,
                        i,
                        f"{data[i, j]:.2f}{mark}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if dark else "black",
                    )
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(
        f"{arm} against {baseline} in every cell (+ better, - worse: the verdict; one colour scale for "
        "every heatmap of the sweep)"
    )
    return fig


def draw_best_arm_map(
    ax,
    arms: Sequence[str],
    x_key: str,
    x_values: list,
    y_key: str,
    y_values: list,
    best: np.ndarray,
    p_best: np.ndarray,
) -> None:
    """The best arm of every cell of a two-axis sweep: best (len(y_values), len(x_values)) is the arm's index
    in `arms` (-1: no data), drawn in that arm's colour (`arm_colour(index)`), shaded by p_best (same shape),
    its probability of being the best: white at chance (1 / len(arms)), the full colour at 1."""
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch

    chance = 1.0 / len(arms)
    image = np.ones((*best.shape, 3))
    for i in range(best.shape[0]):
        for j in range(best.shape[1]):
            if best[i, j] < 0:
                continue
            shade = float(np.clip((p_best[i, j] - chance) / (1.0 - chance), 0.0, 1.0)) if len(arms) > 1 else 1.0
            colour = np.array(to_rgb(arm_colour(int(best[i, j]))))
            image[i, j] = 1.0 - shade * (1.0 - colour)
            dark = image[i, j] @ np.array([0.299, 0.587, 0.114]) < 0.5
            ax.text(
                j,
                i,
                f"{arms[best[i, j]]}\n{p_best[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
    ax.imshow(image, aspect="auto", origin="lower")
    ax.set_xticks(range(len(x_values)), [str(v) for v in x_values])
    ax.set_yticks(range(len(y_values)), [str(v) for v in y_values])
    ax.set_xlabel(x_key)
    ax.set_ylabel(y_key)
    shown = sorted({int(b) for b in best.ravel() if b >= 0})
    ax.legend(
        handles=[Patch(color=arm_colour(k), label=arms[k]) for k in shown],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title="best arm (pale: unsure)",
        title_fontsize=8,
    )


def best_arm_figure(
    arms: Sequence[str], x_key: str, x_values: list, y_key: str, y_values: list, best: np.ndarray, p_best: np.ndarray
) -> Figure:
    """`draw_best_arm_map` on a new figure."""
    fig = new_figure(figsize=(max(7.0, 1.3 * len(x_values) + 4.5), 0.7 * len(y_values) + 2.4), layout="constrained")
    draw_best_arm_map(fig.subplots(), arms, x_key, x_values, y_key, y_values, best, p_best)
    fig.suptitle(
        "The best arm of every cell (highest mean) and the chance it is the best, P(best):\n"
        "the share of bootstrap resamples (source models, then runs) in which it has the highest mean",
        fontsize=10,
    )
    return fig


def boxplot_title(summary: dict[str, Any]) -> str:
    """The box plot's title: the target and the real count of runs per arm (never "N repeats per arm")."""
    sources = sources_phrase(summary)
    return f"Test accuracy on {summary['run']['target']} ({counts_phrase(summary)})" + (
        f"\n{sources}" if sources else ""
    )


def prepare() -> None:
    """What the first figures of a process pay, paid ahead (in a worker that waits for the figures, idle while
    the kernel loads): matplotlib's import, its fonts found and loaded at the sizes the figures use, the first
    box plot, scatter, band, legend and constrained layout, and PNG encoding (PIL's plugins); a share of
    figures drawn cold took a fifth longer. Also names the Agg backend, which every figure here is written
    with: else the first look over all of matplotlib's settings (the box plot's) imports pyplot to resolve the
    automatic backend (0.05 s that nothing uses)."""
    import matplotlib

    matplotlib.use("agg")
    fig = new_figure(figsize=(2, 2), layout="constrained")
    ax = fig.subplots()
    ax.boxplot([np.arange(5.0)], tick_labels=["a"], showfliers=False, medianprops={"color": "black"})
    ax.scatter([1.0], [2.0], s=12, alpha=0.6, label="mean")
    ax.fill_between([0, 1], [0, 1], [1, 2], alpha=0.2)
    ax.plot([0, 1], [1, 0], "o", ls="--", label="train")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("0.5", fontsize=10)
    ax.grid(alpha=0.3)
    fig.suptitle("0.5")
    fig.savefig(io.BytesIO(), format="png", dpi=120, pil_kwargs={"compress_level": 1})


def named(name: str, draw, *args, **kwargs) -> dict[str, Figure]:
    """{name: draw(*args, **kwargs)}: one figure as a job that a forked worker can be sent (a picklable call)."""
    return {name: draw(*args, **kwargs)}


def run_figure_jobs(
    numbers: dict[str, Any], summary: dict[str, Any], *, baseline: str, repeats: int, seed: int
) -> list[tuple[str, float, Any]]:
    """A compare run's figures as jobs, in the report's order: (file name, weight, a picklable call that draws
    {file name: Figure}), from `stats.summary.figure_numbers` and the summary. weight: the figure's panels and
    one more, what its drawing costs grows with (measured: 0.08 s for the box plot's one panel, 0.3 s for
    train_test's eight)."""
    names, sources = numbers["names"], sources_phrase(summary)
    curves_title = "Learning curves on the test split: mean of the runs with the 95% CI of the mean" + (
        f"\n{sources}" if sources else ""
    )
    train_test_title = (
        "Train against test, per arm: the mean of the arm's runs per epoch (the tutorial draws one run's)"
    )
    jobs = [
        ("boxplot.png", 2, (boxplot_figure, names, numbers["accuracies"], boxplot_title(summary)), {"seed": seed}),
        ("forest.png", 3, (forest_figure, summary["comparisons"], baseline), {"subtitle": sources}),
        (
            "curves.png",
            3,
            (curves_figure, numbers["bands"]["test_accuracy"], numbers["bands"]["test_loss"], curves_title),
            {},
        ),
        (
            "train_test.png",
            1 + 2 * max(1, len(numbers["means"])),
            (train_test_figure, numbers["means"], train_test_title),
            {},
        ),
    ]
    per_source = numbers["sources"]
    if per_source is not None:
        k = per_source["means"].shape[0]
        title = (
            f"Each of the {k} source models' mean per arm: the source model a run starts from decides most of its "
            "score (lines join one source model's means)"
        )
        arguments = (per_source["arms"], per_source["means"], baseline, per_source["baseline"], title)
        jobs.insert(2, ("sources.png", 2, (source_means_figure, *arguments), {}))
    return [(name, weight, partial(named, name, *call, **kwargs)) for name, weight, call, kwargs in jobs]


def run_figures(
    numbers: dict[str, Any], summary: dict[str, Any], *, baseline: str, repeats: int, seed: int
) -> dict[str, Figure]:
    """A compare run's figures (file name -> Figure) from `stats.summary.figure_numbers` and its summary."""
    jobs = run_figure_jobs(numbers, summary, baseline=baseline, repeats=repeats, seed=seed)
    return {name: figure for _, _, job in jobs for name, figure in job().items()}
