"""The repeated comparison: every repeat of every arm, trained by either engine, as plain arrays.

A run is a list of replicas (arm, source index, repeat, seed). Each replica's seed is derived from the root
seed and recorded, and fixes both its starting weights and its minibatch order, so any single row of
`scores.csv` can be re-run alone. The vectorised engine trains every replica that shares an architecture in
one computation; the Keras engine runs them one `fit` at a time.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import arms as arms_mod
from .arms import Weights, derive_seed
from .config import Arm, Config
from .engine import HISTORY_KEYS, TrainResult, train_replicas
from .problems import Problem, make_problem

SOURCE_STREAM, ARM_STREAM = 0, 1
Progress = Callable[[int], None]  # called with the number of epochs just completed


@dataclass(frozen=True)
class Replica:
    arm: Arm
    source_index: int | None  # which source model it starts from; None for arms that use none
    repeat: int
    seed: int


@dataclass
class RunResult:
    """Per-replica results in replica order: `final[key]` is (N,), `history[key]` is (N, epochs + 1)."""

    replicas: list[Replica]
    final: dict[str, np.ndarray]
    history: dict[str, np.ndarray]

    @property
    def diverged(self) -> np.ndarray:
        """(N,) True where training blew up (non-finite loss): such runs have no accuracy to report."""
        return ~(np.isfinite(self.final["train_loss"]) & np.isfinite(self.final["test_loss"]))


def source_seed(cfg: Config, problem: int, index: int) -> int:
    """Seed of source model `index` trained on `problem` (index 0 is what `train-source` makes)."""
    return derive_seed(cfg.study.seed, SOURCE_STREAM, problem, index)


def arm_seed(cfg: Config, arm: Arm, source_index: int | None, repeat: int) -> int:
    """Seed of one repeat; keyed by the arm's name so adding an arm does not change the others' seeds."""
    return derive_seed(cfg.study.seed, ARM_STREAM, zlib.crc32(arm.name.encode()), source_index or 0, repeat)


def plan_replicas(cfg: Config, repeats: int | None = None) -> list[Replica]:
    """Every replica of the study, arm by arm; source-dependent arms repeat for each source model."""
    repeats = repeats or cfg.study.repeats
    plan = []
    for arm in cfg.arms:
        sources = range(cfg.study.source_repeats) if arm.uses_source else [None]
        for k in sources:
            plan += [Replica(arm, k, r, arm_seed(cfg, arm, k, r)) for r in range(repeats)]
    return plan


def train(
    cfg: Config,
    problem: Problem,
    jobs: list[tuple[Arm, Weights | None, int]],
    *,
    engine: str,
    progress: Progress | None = None,
) -> TrainResult:
    """Train (arm, source weights, seed) jobs on `problem` with the chosen engine; results in job order."""
    if engine == "keras":
        results = [_fit_one_keras(cfg, problem, arm, source, seed, progress) for arm, source, seed in jobs]
        return _concat(results, range(len(jobs)))
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (arm, _, _) in enumerate(jobs):
        groups[tuple(arms_mod.layer_shapes(cfg, arm))].append(i)
    results, order = [], []
    for indices in groups.values():
        initial, trainable, seeds = [], [], []
        for i in indices:
            arm, source, seed = jobs[i]
            init_rng, _ = arms_mod.replica_rngs(seed)
            initial.append(arms_mod.initial_weights(cfg, arm, source, init_rng))
            trainable.append(arms_mod.trainable_layers(cfg, arm))
            seeds.append(seed)
        results.append(
            train_replicas(
                problem,
                arms_mod.stack(initial),
                np.array(trainable),
                seeds,
                epochs=cfg.training.epochs,
                batch_size=cfg.training.batch_size,
                learning_rate=cfg.training.learning_rate,
                on_epoch=(lambda e: progress(1)) if progress else None,
            )
        )
        order += indices
    return _concat(results, order)


def _fit_one_keras(cfg, problem, arm, source, seed, progress) -> TrainResult:
    import keras  # the reference engine only

    from .models import build_mlp, compile_model, fit_keras

    keras.utils.set_random_seed(seed)  # Keras's own initialisers draw the fresh layers
    model = build_mlp(cfg, arm)
    for layer, (kernel, bias) in zip(model.layers[: cfg.copied_layers(arm)], source or []):
        layer.set_weights([kernel, bias])
    compile_model(model, cfg, fixed=arm.fixed)
    result = fit_keras(model, problem, cfg, seed)
    if progress:
        progress(cfg.training.epochs)
    return result


def _concat(results: list[TrainResult], order: list[int] | range) -> TrainResult:
    """Stitch per-group results back into job order (weights are dropped: shapes differ across groups)."""
    inverse = np.argsort(np.asarray(order))
    final = {k: np.concatenate([r.final[k] for r in results])[inverse] for k in results[0].final}
    history = {k: np.concatenate([r.history[k] for r in results])[inverse] for k in HISTORY_KEYS}
    shapes = {tuple(k.shape[1:] for k, _ in r.weights) for r in results}
    weights = []
    if len(shapes) == 1:  # one architecture: the weights stack too
        weights = [
            (np.concatenate([r.weights[i][0] for r in results])[inverse],
             np.concatenate([r.weights[i][1] for r in results])[inverse])
            for i in range(len(results[0].weights))
        ]
    return TrainResult(weights, history, final)


def train_sources(
    cfg: Config, problem_number: int, count: int, *, progress: Progress | None = None
) -> tuple[list[Weights], list[int], TrainResult]:
    """Train `count` fresh source models on a problem's train split, with recorded seeds.

    Source 0 is the model `train-source` makes with the same root seed. Returns (weights per source,
    seeds, the training result with per-epoch history).
    """
    seeds = [source_seed(cfg, problem_number, k) for k in range(count)]
    problem = make_problem(problem_number, cfg.problems)
    result = train(cfg, problem, [(Arm("source"), None, s) for s in seeds], engine=cfg.study.engine, progress=progress)
    return [arms_mod.unstack(result.weights, k) for k in range(count)], seeds, result


def sources_needed(cfg: Config) -> list[int]:
    """Source problems the arms start from, the study's own source problem first."""
    problems = [cfg.source_problem_of(arm) for arm in cfg.arms if arm.uses_source]
    return sorted(set(problems), key=lambda p: (p != cfg.study.source_problem, p))


def run_comparison(
    cfg: Config,
    sources: dict[int, list[Weights]],
    *,
    progress: Progress | None = None,
) -> RunResult:
    """Train every replica of `plan_replicas(cfg)` on the target problem.

    sources: per source problem, the list of source models (one per source index).
    """
    problem = make_problem(cfg.study.target_problem, cfg.problems)
    plan = plan_replicas(cfg)
    jobs = []
    for rep in plan:
        source = sources[cfg.source_problem_of(rep.arm)][rep.source_index] if rep.arm.uses_source else None
        jobs.append((rep.arm, source, rep.seed))
    result = train(cfg, problem, jobs, engine=cfg.study.engine, progress=progress)
    return RunResult(plan, result.final, result.history)


def epochs_of_work(cfg: Config, source_models: dict[int, int] | None = None) -> int:
    """Total epochs a run will train, for a progress bar; source_models: models to train per problem.

    The Keras engine trains one model at a time; the vectorised engine counts one pass per batched group.
    """
    source_models = {p: n for p, n in (source_models or {}).items() if n}
    if cfg.study.engine == "keras":
        return (len(plan_replicas(cfg)) + sum(source_models.values())) * cfg.training.epochs
    groups = {tuple(arms_mod.layer_shapes(cfg, arm)) for arm in cfg.arms}
    return (len(groups) + len(source_models)) * cfg.training.epochs
