"""The figures (blobs_transfer.render.plots), drawn from hand-made arrays: each function returns a matplotlib
Figure with the expected axes, titles, labels and artists, the data drawn exactly where it belongs, and nothing
written to disk."""

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure

from blobs_transfer.render import plots


@pytest.fixture(autouse=True)
def nothing_on_disk(tmp_path, monkeypatch):
    """Every test draws in an empty working folder, which must stay empty: the figures are never written."""
    monkeypatch.chdir(tmp_path)
    yield
    assert list(tmp_path.iterdir()) == []


def texts(items) -> list[str]:
    return [t.get_text() for t in items]


def scatters(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_arm_colours_start_gray_and_repeat_after_twenty():
    assert [plots.arm_colour(i) for i in (0, 1, 2, 19, 20, 21)] == [
        "tab:gray",
        "tab:blue",
        "tab:orange",
        "darkkhaki",
        "tab:gray",
        "tab:blue",
    ]


def test_wrap_title_wraps_each_line_to_the_figures_width():
    assert plots.wrap_title("one two three four five six seven", 2.0) == "one two three four\nfive six seven"
    assert plots.wrap_title("short\nlines stay", 6.0) == "short\nlines stay"
    assert plots.wrap_title("a " * 40, 6.0).count("\n") == 1  # 60 characters a line at 6 inches


def test_problems_figure_one_panel_per_problem_with_shared_limits():
    x1, y1 = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]), np.array([0, 1, 1])
    x2, y2 = np.array([[-3.0, 5.0], [4.0, -2.0]]), np.array([2, 2])
    fig = plots.problems_figure([("Problem 1", x1, y1), ("Problem 2", x2, y2)])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    left, right = fig.axes
    assert (left.get_title(), right.get_title()) == ("Problem 1", "Problem 2")
    assert (left.get_xlabel(), left.get_ylabel()) == ("feature 1", "feature 2")
    assert len(scatters(left)) == 2 and len(scatters(right)) == 1  # one scatter per class
    np.testing.assert_array_equal(scatters(left)[1].get_offsets(), [[1.0, 1.0], [2.0, 0.0]])  # class 1's rows
    assert texts(left.get_legend().get_texts()) == ["class 0", "class 1"]
    assert texts(right.get_legend().get_texts()) == ["class 2"]
    assert tuple(scatters(right)[0].get_facecolor()[0][:3]) == to_rgb("tab:green")  # class 2's colour
    for ax in (left, right):  # the same limits on both: every point of both problems, 1 beyond
        assert ax.get_xlim() == (-4.0, 5.0) and ax.get_ylim() == (-3.0, 6.0)


def test_learning_curves_train_from_epoch_one_test_from_the_start():
    history = {
        "train_loss": np.array([2.0, 1.0, 0.5, 0.25]),
        "test_loss": np.array([2.1, 1.1, 0.6, 0.3]),
        "train_accuracy": np.array([0.3, 0.5, 0.7, 0.9]),
        "test_accuracy": np.array([0.3, 0.5, 0.6, 0.8]),
    }
    fig = plots.learning_curves_figure(history, "Source model on Problem 1")
    assert fig._suptitle.get_text() == "Source model on Problem 1"
    loss, accuracy = fig.axes
    assert (loss.get_ylabel(), accuracy.get_ylabel()) == ("cross-entropy loss", "accuracy")
    for ax, metric in ((loss, "loss"), (accuracy, "accuracy")):
        train, test = ax.lines
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])  # epoch 0 has no training mean
        np.testing.assert_array_equal(train.get_ydata(), history[f"train_{metric}"][1:])
        np.testing.assert_array_equal(test.get_xdata(), [0, 1, 2, 3])
        np.testing.assert_array_equal(test.get_ydata(), history[f"test_{metric}"])
        assert texts(ax.get_legend().get_texts()) == ["train (mean over the epoch)", "test (end of epoch)"]
    assert accuracy.get_ylim() == (0.0, 1.0)


def test_boxplot_draws_every_run_at_its_exact_height_and_each_mean():
    values = [np.array([0.5, 0.6, 0.7]), np.array([0.8, 0.9])]
    fig = plots.boxplot_figure(["standalone", "transfer"], values, "Test accuracy", seed=0)
    (ax,) = fig.axes
    assert ax.get_title() == "Test accuracy" and ax.get_ylabel() == "test accuracy"
    assert texts(ax.get_xticklabels()) == ["standalone", "transfer"]
    runs_a, mean_a, runs_b, mean_b = scatters(ax)  # per arm: its runs, then its mean
    for runs, mean, v, x in ((runs_a, mean_a, values[0], 1), (runs_b, mean_b, values[1], 2)):
        np.testing.assert_array_equal(runs.get_offsets()[:, 1], v)  # jittered sideways only
        assert np.all(np.abs(runs.get_offsets()[:, 0] - x) <= 0.15)
        np.testing.assert_allclose(mean.get_offsets(), [[x, v.mean()]])
    assert texts(ax.get_legend().get_texts()) == ["mean"]
    assert all(label.get_rotation() == 0 for label in ax.get_xticklabels())
    again = plots.boxplot_figure(["standalone", "transfer"], values, "Test accuracy", seed=0)
    np.testing.assert_array_equal(scatters(again.axes[0])[0].get_offsets(), runs_a.get_offsets())  # seeded jitter


def test_boxplot_of_many_arms_turns_its_labels_and_wraps_its_title():
    names = [f"arm {i}" for i in range(6)]
    fig = plots.boxplot_figure(names, [np.array([0.5, 0.6])] * 6, "word " * 30)
    (ax,) = fig.axes
    assert fig.get_size_inches()[0] == pytest.approx(8.4)  # 1.4 inches an arm
    assert all(label.get_rotation() == 35 for label in ax.get_xticklabels())
    assert ax.get_title() == plots.wrap_title("word " * 30, fig.get_size_inches()[0]) and "\n" in ax.get_title()


ROWS = [
    {
        "arm": "transfer fixed=0",
        "diff_mean": -0.02,
        "diff_ci_low": -0.05,
        "diff_ci_high": 0.01,
        "a12": 0.4,
        "a12_ci_low": 0.3,
        "a12_ci_high": 0.5,
        "verdict": "worse",
    },
    {
        "arm": "transfer fixed=1",
        "diff_mean": 0.03,
        "diff_ci_low": 0.01,
        "diff_ci_high": 0.05,
        "a12": 0.7,
        "a12_ci_low": None,
        "a12_ci_high": None,
        "verdict": "better",
    },
]


def test_forest_draws_each_arm_with_its_intervals_coloured_by_verdict():
    fig = plots.forest_figure(ROWS, "standalone", "over 40 source models")
    assert fig._suptitle.get_text() == (
        "Each arm against the baseline (standalone); colour: the verdict\nover 40 source models"
    )
    diff, a12 = fig.axes
    ticks = dict(zip(diff.get_yticks(), texts(diff.get_yticklabels())))
    assert ticks == {1: "transfer fixed=0", 0: "transfer fixed=1"}  # the first arm on top
    assert diff.get_xlabel() == "mean test accuracy minus standalone's"
    # difference of means: per arm its interval and its point, and the dashed line at 0
    lines = [(list(line.get_xdata()), list(line.get_ydata())) for line in diff.lines]
    assert lines == [([-0.05, 0.01], [1, 1]), ([-0.02], [1]), ([0.01, 0.05], [0, 0]), ([0.03], [0]), ([0, 0], [0, 1])]
    # coloured by verdict as the title says, on this panel too: worse red, better green
    assert [to_rgba(line.get_color()) for line in diff.lines[:4]] == [to_rgba("tab:red")] * 2 + [
        to_rgba("tab:green")
    ] * 2
    # A12: the second arm has no interval, only its point; the line at 0.5; three empty legend markers
    drawn = [line for line in a12.lines if len(line.get_xdata())]
    assert [(list(line.get_xdata()), list(line.get_ydata())) for line in drawn] == [
        ([0.3, 0.5], [1, 1]),
        ([0.4], [1]),
        ([0.7], [0]),
        ([0.5, 0.5], [0, 1]),
    ]
    assert [to_rgba(line.get_color()) for line in drawn[:3]] == [to_rgba("tab:red")] * 2 + [to_rgba("tab:green")]
    assert texts(a12.get_legend().get_texts()) == ["verdict: better", "verdict: worse", "verdict: no evidence"]
    assert a12.get_xlim() == (-0.02, 1.02)


def test_forest_without_rows_is_two_empty_panels():
    fig = plots.forest_figure([], "standalone")
    assert [len(ax.lines) for ax in fig.axes] == [0, 0]
    assert fig._suptitle.get_text() == "Each arm against the baseline (standalone); colour: the verdict"


def band(mean, spread, k):
    mean = np.asarray(mean, float)
    return {"mean": mean, "low": mean - spread, "high": mean + spread, "n_sources": k}


def test_curves_draw_a_band_per_arm_and_say_at_which_level():
    accuracy = {
        "standalone": band([0.3, 0.6, 0.8], 0.05, None),
        "transfer": band([0.7, 0.75, 0.8], 0.1, 3),
        "from one": band([0.5, 0.6, 0.7], 0.1, 1),
    }
    loss = {
        "standalone": band([5.0, 1.0, 0.8], 0.1, None),
        "transfer": band([4.0, 1.1, 0.9], 0.1, 3),
        "from one": band([4.5, 1.0, 0.9], 0.05, 1),
    }
    fig = plots.curves_figure(accuracy, loss, "Learning curves")
    acc_ax, loss_ax = fig.axes
    assert fig._suptitle.get_text() == "Learning curves"
    assert (acc_ax.get_ylabel(), loss_ax.get_ylabel()) == ("test accuracy", "test cross-entropy loss")
    for ax, bands in ((acc_ax, accuracy), (loss_ax, loss)):
        means = [line for line in ax.lines if len(line.get_xdata())]
        assert len(means) == 3 and len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 3
        for line, (i, b) in zip(means, enumerate(bands.values())):
            np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
            np.testing.assert_array_equal(line.get_ydata(), b["mean"])
            assert to_rgba(line.get_color()) == to_rgba(plots.arm_colour(i))
    assert texts(fig.legends[0].get_texts()) == [
        "standalone: mean, shaded 95% CI over runs",
        "transfer: mean, shaded 95% CI over 3 source models",
        "from one: mean, shaded 95% CI conditional on one source model",
    ]
    # the untrained epoch 0 (loss 5.1) is left out of the loss axis: the trained part's top (1.2) plus 15%
    assert loss_ax.get_ylim() == pytest.approx((0.0, 1.2 * 1.15))


def series(xs, shift):
    n = len(xs)
    return {
        "x": xs,
        "diff": [shift] * n,
        "diff_lo": [shift - 0.1] * n,
        "diff_hi": [shift + 0.1] * n,
        "a12": [0.5 + shift] * n,
        "a12_lo": [0.4 + shift] * n,
        "a12_hi": [0.6 + shift] * n,
    }


def test_sweep_benefit_has_a_row_per_arm_and_a_line_per_other_value():
    data = {
        arm: {"t=0.0": series([10, 1000], 0.1), "t=1.0": series([10, 1000], -0.1)}
        for arm in ("transfer fixed=0", "transfer fixed=1")
    }
    fig = plots.sweep_benefit_figure("target training rows", data, "standalone")
    assert len(fig.axes) == 4
    assert fig._suptitle.get_text() == (
        "Each arm against standalone, over target training rows (95% CI bands at the source-model level)"
    )
    for ax in fig.axes:
        assert ax.get_xscale() == "log"  # 10 to 1000: more than 20 times
        assert len(ax.lines) == 3 and len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2
    assert fig.axes[0].get_ylabel() == "transfer fixed=0\nmean minus standalone's"
    assert fig.axes[3].get_ylabel() == "transfer fixed=1\nchance a run beats standalone"
    assert fig.axes[3].get_ylim() == (-0.02, 1.02) and fig.axes[2].get_xlabel() == "target training rows"
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_ydata(), [0.6, 0.6])  # A12 of t=0.0
    assert texts(fig.legends[0].get_texts()) == ["t=0.0", "t=1.0"]


def test_sweep_benefit_over_words_is_drawn_at_positions_with_the_words_as_ticks():
    fig = plots.sweep_benefit_figure("model.init", {"a": {"": series(["he", "glorot"], 0.0)}}, "standalone")
    diff = fig.axes[0]
    assert diff.get_xscale() == "linear" and texts(diff.get_xticklabels()) == ["he", "glorot"]
    np.testing.assert_array_equal(diff.lines[0].get_xdata(), [0, 1])
    assert fig.legends == []  # one line a panel: nothing to tell apart


def test_sweep_heatmap_annotates_every_cell_with_its_value_and_verdict():
    diff = np.array([[0.1, -0.2], [np.nan, 0.05], [0.3, 0.0]])
    a12 = np.array([[0.6, 0.3], [np.nan, 0.5], [0.8, 0.5]])
    verdicts = np.array([["better", "worse"], ["", "no evidence"], ["better", "no evidence"]])
    fig = plots.sweep_heatmap_figure(
        "transfer fixed=1",
        "target.n_train",
        [20, 100],
        "target.similarity_t",
        [0.0, 0.5, 1.0],
        {"diff_mean": diff, "a12": a12},
        verdicts,
    )
    assert len(fig.axes) == 4  # two heatmaps and their colour bars
    left, right = fig.axes[:2]
    assert (left.get_title(), right.get_title()) == (
        "mean test accuracy minus standalone's",
        "chance that a run beats a run of standalone (A12)",
    )
    assert texts(left.get_xticklabels()) == ["20", "100"] and texts(left.get_yticklabels()) == ["0.0", "0.5", "1.0"]
    assert sorted(texts(left.texts)) == sorted(["0.10+", "-0.20-", "0.05", "0.30+", "0.00"])  # the NaN cell is blank
    assert sorted(texts(right.texts)) == sorted(["0.60+", "0.30-", "0.50", "0.80+", "0.50"])
    assert left.images[0].get_clim() == (-0.3, 0.3) and right.images[0].get_clim() == (0, 1)  # symmetric about 0
    np.testing.assert_array_equal(left.images[0].get_array(), np.ma.masked_invalid(diff))
    # a sweep's heatmaps share one scale: the largest |difference| over all of them
    other = np.array([[0.5, -0.1], [0.0, 0.0], [0.0, -0.7]])
    bound = plots.symmetric_bound([diff, other])
    assert bound == 0.7 and plots.symmetric_bound([]) == 1.0
    shared = plots.sweep_heatmap_figure(
        "transfer fixed=1",
        "target training rows",
        [20, 100],
        "similarity t",
        [0.0, 0.5, 1.0],
        {"diff_mean": diff, "a12": a12},
        verdicts,
        bound=bound,
    )
    assert shared.axes[0].images[0].get_clim() == (-0.7, 0.7)
    assert (shared.axes[0].get_xlabel(), shared.axes[0].get_ylabel()) == ("target training rows", "similarity t")


def test_best_arm_map_shades_from_white_at_chance_to_the_arms_colour_at_certainty():
    arms = ["standalone", "transfer fixed=0", "transfer fixed=1"]
    best = np.array([[2, -1], [0, 1]])
    p_best = np.array([[1.0, 0.0], [1 / 3, 2 / 3]])
    fig = plots.best_arm_figure(arms, "target.n_train", [20, 100], "target.similarity_t", [0.0, 1.0], best, p_best)
    (ax,) = fig.axes
    image = ax.images[0].get_array()
    np.testing.assert_allclose(image[0, 0], to_rgb(plots.arm_colour(2)))  # P(best) = 1: the full colour
    np.testing.assert_allclose(image[0, 1], [1, 1, 1])  # no data: white
    np.testing.assert_allclose(image[1, 0], [1, 1, 1])  # P(best) at chance (1/3): white
    np.testing.assert_allclose(image[1, 1], 1 - 0.5 * (1 - np.array(to_rgb(plots.arm_colour(1)))))  # half way
    assert sorted(texts(ax.texts)) == ["standalone\n0.33", "transfer fixed=0\n0.67", "transfer fixed=1\n1.00"]
    assert texts(ax.get_legend().get_texts()) == arms  # every arm that is best somewhere, in arm order
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("target.n_train", "target.similarity_t")


def test_decision_regions_paint_each_class_region_under_its_points():
    classes = np.array([[0, 1], [2, 2]])
    x, y = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 2])
    fig = plots.decision_regions_figure(
        [("source model\ntest accuracy 0.900", classes, x, y), ("after", classes[::-1], x, y)],
        (-1.0, 2.0, -1.0, 2.0),
        "regions",
    )
    left, right = fig.axes
    assert left.get_title() == "source model\ntest accuracy 0.900" and fig._suptitle.get_text() == "regions"
    np.testing.assert_array_equal(left.images[0].get_array(), classes)
    np.testing.assert_array_equal(right.images[0].get_array(), classes[::-1])
    cmap = left.images[0].get_cmap()
    assert [tuple(cmap(k)[:3]) for k in range(3)] == [to_rgb(c) for c in plots.CLASS_COLOURS[:3]]  # class colours
    assert left.get_xlim() == (-1.0, 2.0) and len(scatters(left)) == 2  # the points over the regions


def test_train_test_curves_one_column_per_arm():
    means = {
        arm: {
            "train_accuracy": np.array([0.3, 0.6, 0.8]),
            "test_accuracy": np.array([0.3, 0.5, 0.7]),
            "train_loss": np.array([1.1, 0.8, 0.5]),
            "test_loss": np.array([1.1, 0.9, 0.6]),
        }
        for arm in ("standalone", "transfer fixed=0")
    }
    fig = plots.train_test_figure(means, "t")
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes[:2]] == ["standalone", "transfer fixed=0"]
    top = fig.axes[0]
    train, test = top.lines[:2]
    assert list(train.get_xdata()) == [1, 2] and list(test.get_xdata()) == [0, 1, 2]  # train from epoch 1
    assert texts(top.get_legend().get_texts()) == ["train", "test"] and fig.axes[2].get_ylabel() == "cross-entropy loss"


def test_source_means_draw_one_dot_and_one_line_per_source_model():
    means = np.array([[0.8, 0.6], [0.7, np.nan], [0.5, 0.9]])
    fig = plots.source_means_figure(
        ["transfer fixed=0", "transfer fixed=1"], means, "standalone", np.array([0.7, 0.8, 0.75]), "each source model"
    )
    (ax,) = fig.axes
    joined = [
        line for line in ax.lines if len(line.get_xdata()) == 2 and np.allclose(line.get_xdata(), [1, 2], atol=0.07)
    ]
    assert len(joined) == 3  # one line per source model, across the arms
    dots = scatters(ax)
    assert len(dots) == 2 and [len(d.get_offsets()) for d in dots] == [3, 3]
    np.testing.assert_allclose(np.asarray(dots[0].get_offsets())[:, 1], [0.8, 0.7, 0.5])
    for k, line in enumerate(joined):  # each line runs through its source model's dots
        assert line.get_xdata()[0] == np.asarray(dots[0].get_offsets())[k, 0]
    assert texts(ax.get_xticklabels())[0] == "standalone\n(every run)"
