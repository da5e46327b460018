"""`generate`: the study's problems as CSV files and a figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blobs_transfer.api.common import DEFAULT_RESULTS
from blobs_transfer.config import Config
from blobs_transfer.problems import make_problem
from blobs_transfer.render import plots
from blobs_transfer.rundir.files import ensure_writable, save_figure, write_csv


def generate(cfg: Config, results_dir: str | Path = DEFAULT_RESULTS) -> Path:
    """Write every catalogue problem's train/test splits as CSV, plus the study's source and target problems
    where the config changes them, and draw them all; returns the folder."""
    folder = ensure_writable(Path(results_dir) / "problems")
    specs = {cfg.problem_slug(cfg.catalogue_spec(n)): cfg.catalogue_spec(n) for n in range(1, len(cfg.problems.seeds) + 1)}
    for spec in (cfg.source_spec, cfg.target_spec):
        specs.setdefault(cfg.problem_slug(spec), spec)
    shown = []
    for slug, spec in specs.items():
        problem = make_problem(spec)
        for split in ("train", "test"):
            x, y = getattr(problem, f"x_{split}"), getattr(problem, f"y_{split}")
            header = [*(f"x{j + 1}" for j in range(x.shape[1])), "label"]
            write_csv(folder / f"{slug}_{split}.csv", header,
                      ([*(repr(float(v)) for v in row), int(label)] for row, label in zip(x, y)))
        shown.append((f"{cfg.describe_problem(spec)}\nmake_blobs random_state={spec.random_state}",
                      np.concatenate([problem.x_train, problem.x_test]), np.concatenate([problem.y_train, problem.y_test])))
    save_figure(plots.problems_figure(shown), folder / "problems.png")
    return folder
