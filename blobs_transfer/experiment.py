"""The repeated comparison: every repeat of every arm, trained by either engine, as plain arrays.

A run is a list of replicas (arm, source index, repeat, seed). Each replica's seed is derived from the root
seed and recorded, and fixes both its starting weights and its minibatch order, so any single row of
`scores.csv` can be re-run alone. The vectorised engine trains every replica that shares an architecture in
one computation; the Keras engine runs them one `fit` at a time. The engines (and TensorFlow) are imported only
by the functions that train, so the study library loads without them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import arms as arms_mod
from . import seeds
from .arms import Weights
from .config import Arm, Config, ProblemSpec, Training
from .problems import Problem, make_problem

if TYPE_CHECKING:
    from .engine import TrainResult

Progress = Callable[[int], None]  # called with the number of epochs just completed
CHUNK_SIZE = 4000  # replicas trained in one computation: bounds the engine's memory (about 0.1 MB a replica)


@dataclass(frozen=True)
class SourceModel:
    """One source model: the problem it was trained on, its weights, and where it came from.

    seed is None for a model loaded from a file that does not record one; path is None for a model trained
    in memory and not saved.
    """

    spec: ProblemSpec
    weights: Weights
    seed: int | None
    path: str | None = None


Sources = dict[ProblemSpec, list[SourceModel]]  # per source problem, source models by source index


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

    def records(self) -> list[dict[str, Any]]:
        """One dict per run, the columns of scores.csv with the values it reads back as (None where diverged)."""
        out = []
        for i, rep in enumerate(self.replicas):
            bad = bool(self.diverged[i])
            value = lambda key, digits: None if bad else round(float(self.final[key][i]), digits)
            out.append({
                "arm": rep.arm.name, "source_index": rep.source_index, "repeat": rep.repeat, "seed": rep.seed,
                "test_accuracy": value("test_accuracy", 3),
                "test_correct": None if bad else int(self.final["test_correct"][i]),
                "train_accuracy": value("train_accuracy", 3), "final_loss": value("train_loss", 6),
                "test_loss": value("test_loss", 6), "diverged": bad,
            })
        return out


def source_seed(cfg: Config, problem: int, index: int) -> int:
    """Seed of source model `index` trained on `problem` (index 0 is what `train-source` makes)."""
    return seeds.source_seed(cfg.study.seed, problem, index)


def arm_seed(cfg: Config, arm: Arm, source_index: int | None, repeat: int) -> int:
    """Seed of one repeat; keyed by the arm's name so adding an arm does not change the others' seeds."""
    return seeds.arm_seed(cfg.study.seed, arm.name, source_index, repeat)


def plan_replicas(cfg: Config) -> list[Replica]:
    """Every replica of the study, arm by arm; source-dependent arms repeat for each source model."""
    plan = []
    for arm in cfg.arms:
        sources = range(cfg.study.source_repeats) if arm.uses_source else [None]
        for k in sources:
            plan += [Replica(arm, k, r, arm_seed(cfg, arm, k, r)) for r in range(cfg.repeats_of(arm))]
    return plan


def train(
    cfg: Config,
    problem: Problem | list[Problem],
    jobs: list[tuple[Arm, Weights | None, int]],
    *,
    engine: str,
    training: Training | None = None,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> TrainResult:
    """Train (arm, source weights, seed) jobs on `problem` (or on problem[i] for job i) with the chosen engine
    and `training` settings (default: the target's, `cfg.target_training`); results in job order.

    The batched engines ("numba", the default, and "tensorflow") train the jobs that share an architecture
    and a number of minibatches together, in chunks of at most `chunk_size` replicas (default CHUNK_SIZE), so
    memory stays bounded whatever the number of repeats; a replica's result does not depend on its chunk
    (tests/test_experiment.py). Only "tensorflow" and "keras" import TensorFlow.
    """
    if engine == "tensorflow":
        from .engine_tf import train_replicas
    else:
        from .engine import train_replicas

    training = training or cfg.target_training
    problems = problem if isinstance(problem, list) else [problem] * len(jobs)
    if engine == "keras":
        keras_cfg = replace(cfg, training=training)  # the reference loop reads cfg.training
        results = [_fit_one_keras(keras_cfg, problems[i], arm, source, seed, progress) for i, (arm, source, seed) in enumerate(jobs)]
        return _concat(results, range(len(jobs)))
    results, order = [], []
    for indices in chunks(cfg, jobs, chunk_size, problems, training=training):
        initial, trainable, seeds = [], [], []
        for i in indices:
            arm, source, seed = jobs[i]
            init_rng, _ = arms_mod.replica_rngs(seed)
            initial.append(arms_mod.initial_weights(cfg, arm, source, init_rng))
            trainable.append(arms_mod.trainable_layers(cfg, arm))
            seeds.append(seed)
        shared = len({id(problems[i]) for i in indices}) == 1
        results.append(
            train_replicas(
                problems[indices[0]] if shared else [problems[i] for i in indices],
                arms_mod.stack(initial),
                np.array(trainable),
                seeds,
                epochs=training.epochs,
                batch_size=training.batch_size,
                learning_rate=training.learning_rate,
                on_epoch=(lambda e: progress(1)) if progress else None,
            )
        )
        order += indices
    return _concat(results, order)


def chunks(cfg: Config, jobs: list[tuple[Arm, Weights | None, int]], chunk_size: int | None = None,
           problems: list[Problem] | None = None, *, training: Training | None = None) -> list[list[int]]:
    """Job indices in batches that train together: one architecture and one number of minibatches each (so
    no replica pays for another's larger train split), at most `chunk_size` replicas, split into equal parts
    (so a group of 4,001 is two chunks of 2,001 and 2,000, not 4,000 and 1). Minibatches are counted with
    `training`'s batch size (default: the target's)."""
    size = chunk_size or CHUNK_SIZE
    batch_size = (training or cfg.target_training).batch_size
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (arm, _, _) in enumerate(jobs):
        n_batches = -(-problems[i].x_train.shape[0] // batch_size) if problems else 0
        groups[(tuple(arms_mod.layer_shapes(cfg, arm)), n_batches)].append(i)
    out = []
    for indices in groups.values():
        parts = -(-len(indices) // size)
        out += [list(part) for part in np.array_split(np.array(indices), parts)]
    return out


def _fit_one_keras(cfg, problem, arm, source, seed, progress) -> TrainResult:
    import keras  # the reference engine only

    from .models import build_mlp, compile_model, fit_keras

    keras.utils.set_random_seed(seed)  # Keras's own initialisers draw the fresh layers
    model = build_mlp(cfg, arm)
    if arm.init == "weight_stats":  # the copied layers' draws, exactly as the vectorised engine starts them
        source = arms_mod.initial_weights(cfg, arm, source, arms_mod.replica_rngs(seed)[0])
    for layer, (kernel, bias) in zip(model.layers[: cfg.copied_layers(arm)], source or []):
        layer.set_weights([kernel, bias])
    compile_model(model, cfg, fixed=arm.fixed)
    result = fit_keras(model, problem, cfg, seed)
    if progress:
        progress(cfg.training.epochs)
    return result


def _concat(results: list[TrainResult], order: list[int] | range) -> TrainResult:
    """Stitch per-group results back into job order (weights are dropped: shapes differ across groups)."""
    from .engine import HISTORY_KEYS, TrainResult

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
) -> tuple[list[SourceModel], TrainResult]:
    """Train `count` fresh source models on a problem's train split, with recorded seeds and the source's
    training settings (`cfg.source_training`).

    Source 0 is the model `train-source` makes with the same root seed. Returns the source models and the
    training result with its per-epoch history.
    """
    spec = cfg.spec_of_problem(problem_number)
    seeds_used = [source_seed(cfg, problem_number, k) for k in range(count)]
    jobs = [(Arm("source"), None, s) for s in seeds_used]
    result = train(cfg, make_problem(spec), jobs, engine=cfg.study.engine, training=cfg.source_training,
                   progress=progress)
    models = [SourceModel(spec, arms_mod.unstack(result.weights, k), s) for k, s in enumerate(seeds_used)]
    return models, result


def sources_needed(cfg: Config) -> list[int]:
    """Source problems the arms start from, the study's own source problem first."""
    problems = [cfg.source_problem_of(arm) for arm in cfg.arms if arm.uses_source]
    return sorted(set(problems), key=lambda p: (p != cfg.study.source_problem, p))


def run_comparison(
    cfg: Config,
    sources: Sources,
    *,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> RunResult:
    """Train every replica of `plan_replicas(cfg)` on the target problem.

    sources: per source problem spec, the source models by source index (see `study.source_models`).
    """
    (result,) = run_comparisons([cfg], [sources], progress=progress, chunk_size=chunk_size)
    return result


def training_key(cfg: Config) -> tuple:
    """What comparisons must share to train together: the target's training settings, the network and the
    engine (the problems, arms, seeds, repeats and the source models' training may all differ)."""
    return cfg.target_training, cfg.model, cfg.study.engine, cfg.target_spec.n_test


def run_comparisons(
    cfgs: list[Config],
    sources: list[Sources],
    *,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> list[RunResult]:
    """Several comparisons (a sweep's cells) trained as one: the replicas of every comparison that share an
    architecture and a number of minibatches train in one computation, each on its own comparison's target
    problem, exactly as if its comparison were run alone (tests/test_experiment.py). The comparisons must
    share a `training_key`."""
    if len({training_key(cfg) for cfg in cfgs}) != 1:
        raise ValueError("comparisons trained together must share their training settings and network")
    plans, jobs, problems = [], [], []
    for cfg, cell_sources in zip(cfgs, sources):
        problem = make_problem(cfg.target_spec)
        plan = plan_replicas(cfg)
        for rep in plan:
            source = None
            if rep.arm.uses_source:
                spec = cfg.spec_of_problem(cfg.source_problem_of(rep.arm))
                source = cell_sources[spec][rep.source_index].weights
            jobs.append((rep.arm, source, rep.seed))
        problems += [problem] * len(plan)
        plans.append(plan)
    result = train(cfgs[0], problems, jobs, engine=cfgs[0].study.engine, training=cfgs[0].target_training,
                   progress=progress, chunk_size=chunk_size)
    out, start = [], 0
    for plan in plans:
        rows = slice(start, start + len(plan))
        out.append(RunResult(plan, {k: v[rows] for k, v in result.final.items()},
                             {k: v[rows] for k, v in result.history.items()}))
        start += len(plan)
    return out


def epochs_of_work(cfg: Config, source_models: dict[int, int] | None = None) -> int:
    """Total epochs a run will train, for a progress bar; source_models: models to train per problem.

    The Keras engine trains one model at a time; the vectorised engine counts one pass per batched group.
    Source models train for the source's epochs, the arms for the target's.
    """
    source_models = {p: n for p, n in (source_models or {}).items() if n}
    plan = plan_replicas(cfg)
    target_epochs, source_epochs = cfg.target_training.epochs, cfg.source_training.epochs
    if cfg.study.engine == "keras":
        return len(plan) * target_epochs + sum(source_models.values()) * source_epochs
    batches = len(chunks(cfg, [(rep.arm, None, 0) for rep in plan]))
    return batches * target_epochs + len(source_models) * source_epochs
