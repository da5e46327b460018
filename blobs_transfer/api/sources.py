"""Source models: `train-source` trains and saves one; `compare` loads it, or trains K of them from recorded seeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from blobs_transfer.api.common import DEFAULT_RESULTS, Progress, phase
from blobs_transfer.config import Config, ProblemSpec
from blobs_transfer.errors import SourceModelError
from blobs_transfer.model.keras_file import load_source_weights
from blobs_transfer.render import plots
from blobs_transfer.rundir import files
from blobs_transfer.rundir.files import (
    ensure_writable,
    save_figure,
    write_csv,
    write_json,
)
from blobs_transfer.train import run
from blobs_transfer.train.plan import SourceModel, Sources, sources_needed


def default_source_path(cfg: Config, results_dir: str | Path, spec: ProblemSpec) -> Path:
    """Where `train_source` saves and `compare` looks: results/source/problem1.keras for the catalogue's
    Problem 1, and a name that spells out the changes for a changed spec (problem1-n_train=100.keras)."""
    return Path(results_dir) / "source" / f"{cfg.problem_slug(spec)}.keras"


def write_history(folder: Path, stem: str, history: dict[str, np.ndarray], title: str) -> None:
    """A single run's per-epoch history as CSV and its learning-curve figure."""
    n = history["train_loss"].shape[1]
    rows = ([e, *(f"{history[k][0, e]:.6f}" for k in files.CURVE_KEYS)] for e in range(n))
    write_csv(folder / f"{stem}_history.csv", ["epoch", *files.CURVE_KEYS], rows)
    single = {k: history[k][0] for k in files.CURVE_KEYS}
    save_figure(plots.learning_curves_figure(single, title), folder / f"{stem}_learning_curves.png")


def train_source(
    cfg: Config,
    problem: int | None = None,
    *,
    out: str | Path | None = None,
    results_dir: str | Path = DEFAULT_RESULTS,
    progress: Progress | None = None,
):
    """Train source model 0 of a problem (the study's source problem by default) and save it as .keras, with
    its history, learning curves and metadata beside it. Returns (SourceModel, its TrainResult)."""
    from blobs_transfer.model.keras_model import model_from_weights, save_model

    problem = problem or cfg.study.source_problem
    spec = cfg.spec_of_problem(problem)
    out = Path(out) if out else default_source_path(cfg, results_dir, spec)
    ensure_writable(out.parent)
    (model,), result = run.train_sources(
        cfg, problem, 1, progress=phase(progress, f"source on {cfg.describe_problem(spec)}", cfg.source_training.epochs)
    )
    save_model(model_from_weights(cfg, model.weights), out)
    write_history(
        out.parent, out.stem, result.history, f"Source model on {cfg.describe_problem(spec)} (seed {model.seed})"
    )
    write_json(
        out.parent / f"{out.stem}.json",
        files.run_metadata(
            problem=problem,
            spec=asdict(spec),
            seed=model.seed,
            root_seed=cfg.study.seed,
            engine=cfg.study.engine,
            epochs=cfg.source_training.epochs,
            train_accuracy=float(result.final["train_accuracy"][0]),
            test_accuracy=float(result.final["test_accuracy"][0]),
        ),
    )
    return replace(model, path=str(out)), result


def load_source_model(path: str | Path, cfg: Config, spec: ProblemSpec | None = None) -> SourceModel:
    """A saved source model with the seed its metadata file records (None if it has none)."""

    path = Path(path)
    weights = load_source_weights(path, cfg)
    seed = None
    try:
        seed = json.loads(path.with_suffix(".json").read_text(encoding="utf-8")).get("seed")
    except (OSError, ValueError, AttributeError):
        pass  # a model saved elsewhere, without our metadata: its seed is unknown
    return SourceModel(spec or cfg.source_spec, weights, seed, str(path))


def source_models(
    cfg: Config,
    results_dir: str | Path = DEFAULT_RESULTS,
    *,
    source: str | Path | None = None,
    train_missing: bool = False,
    progress: Progress | None = None,
    notify: Callable[[str], None] | None = None,
) -> Sources:
    """The source models every transfer arm needs, per source problem spec, by source index.

    With source_repeats = 1 the study's source problem uses the saved model (`source`, else the default
    path; trained and saved first if missing and `train_missing`). Every other source problem, and every
    source problem when source_repeats > 1, gets `source_repeats` models trained here from recorded seeds.
    """

    out: Sources = {}
    for number in sources_needed(cfg):
        spec = cfg.spec_of_problem(number)
        if cfg.study.source_repeats == 1 and number == cfg.study.source_problem:
            path = Path(source) if source else default_source_path(cfg, results_dir, spec)
            if not path.exists() and train_missing and source is None:
                if notify:
                    notify(f"No source model at {path}: training it first (--train-source).")
                train_source(cfg, number, out=path, progress=progress)
            if not path.exists():
                hint = "" if number == 1 else f" --problem {number}"
                extra = "" if spec == cfg.catalogue_spec(number) else " --config <this config>"
                raise SourceModelError(
                    f"no source model at {path}: make one with `blobs-transfer train-source{hint}{extra}`, "
                    "pass --source PATH, or add --train-source to compare"
                )
            out[spec] = [load_source_model(path, cfg, spec)]
        else:
            count, epochs = cfg.study.source_repeats, cfg.source_training.epochs
            out[spec], _ = run.train_sources(
                cfg,
                number,
                count,
                progress=phase(
                    progress,
                    f"{count} source models on {cfg.describe_problem(spec)}",
                    epochs if cfg.study.engine != "keras" else count * epochs,
                ),
            )
    return out
