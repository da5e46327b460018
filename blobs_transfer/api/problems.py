"""`generate`: the study's problems as CSV files and figures, and, once a source model exists, its decision
regions on both problems before and after a transfer run's target training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blobs_transfer.api.common import DEFAULT_RESULTS
from blobs_transfer.api.sources import default_source_path
from blobs_transfer.config import Arm, Config
from blobs_transfer.model.arms import Weights, unstack
from blobs_transfer.model.forward import predict_classes
from blobs_transfer.model.keras_file import load_source_weights
from blobs_transfer.problems import make_problem
from blobs_transfer.render import plots
from blobs_transfer.rundir.files import ensure_writable, save_figure, write_csv
from blobs_transfer.seeds import arm_seed
from blobs_transfer.train.run import train

REGIONS_ARM = Arm("transfer fixed=0", weights="source", fixed=0)  # the tutorial's step 3: one transfer run


def generate(cfg: Config, results_dir: str | Path = DEFAULT_RESULTS) -> Path:
    """Write every catalogue problem's train/test splits as CSV, plus the study's source and target problems
    where the config changes them, and draw them all (problems.png); with a saved source model at the default
    path, also its decision regions (decision_regions.png, `decision_regions`). Returns the folder."""
    folder = ensure_writable(Path(results_dir) / "problems")
    specs = {
        cfg.problem_slug(cfg.catalogue_spec(n)): cfg.catalogue_spec(n) for n in range(1, len(cfg.problems.seeds) + 1)
    }
    for spec in (cfg.source_spec, cfg.target_spec):
        specs.setdefault(cfg.problem_slug(spec), spec)
    shown = []
    for slug, spec in specs.items():
        problem = make_problem(spec)
        for split in ("train", "test"):
            x, y = getattr(problem, f"x_{split}"), getattr(problem, f"y_{split}")
            header = [*(f"x{j + 1}" for j in range(x.shape[1])), "label"]
            write_csv(
                folder / f"{slug}_{split}.csv",
                header,
                ([*(repr(float(v)) for v in row), int(label)] for row, label in zip(x, y)),
            )
        shown.append(
            (
                f"{cfg.describe_problem(spec)}\nmake_blobs random_state={spec.random_state}",
                np.concatenate([problem.x_train, problem.x_test]),
                np.concatenate([problem.y_train, problem.y_test]),
            )
        )
    save_figure(plots.problems_figure(shown), folder / "problems.png")
    source = default_source_path(cfg, results_dir, cfg.source_spec)
    if source.exists() and cfg.problems.n_features == 2:
        save_figure(decision_regions(cfg, load_source_weights(source, cfg)), folder / "decision_regions.png")
    return folder


def decision_regions(cfg: Config, source: Weights):
    """Three panels: the source model's regions on the source problem, the same model on the target problem
    (a transfer run before its target training), and that transfer run (the study's first transfer fixed=0
    repeat, from its seed) after training on the target problem; each with the test rows and their accuracy."""
    source_problem, target_problem = make_problem(cfg.source_spec), make_problem(cfg.target_spec)
    seed = arm_seed(cfg.study.seed, REGIONS_ARM.name, 0, 0)
    trained = train(cfg, target_problem, [(REGIONS_ARM, source, seed)], engine=cfg.study.engine)
    after = unstack(trained.weights, 0)
    panels = []
    for title, weights, problem in (
        (f"source model on {cfg.describe_problem(cfg.source_spec)}", source, source_problem),
        (
            f"the same model on {cfg.describe_problem(cfg.target_spec)}:\na transfer run before target training",
            source,
            target_problem,
        ),
        (
            f"transfer fixed=0 after {cfg.target_training.epochs} epochs on "
            f"{cfg.describe_problem(cfg.target_spec)} (seed {seed})",
            after,
            target_problem,
        ),
    ):
        accuracy = float(np.mean(predict_classes(weights, problem.x_test) == problem.y_test))
        panels.append((f"{title}\ntest accuracy {accuracy:.3f}", weights, problem.x_test, problem.y_test))
    xs = np.concatenate([source_problem.x_test, target_problem.x_test])
    lo, hi = xs.min(axis=0) - 1, xs.max(axis=0) + 1
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    drawn = [(title, predict_classes(w, grid).reshape(g1.shape), x, y) for title, w, x, y in panels]
    return plots.decision_regions_figure(
        drawn,
        (lo[0], hi[0], lo[1], hi[1]),
        "What the source model learnt, and what transfer does with it: the "
        "regions each network gives each class, the test rows over them",
    )
