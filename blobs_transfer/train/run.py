"""The repeated comparison trained: every replica of a plan, by the chosen engine, as plain arrays.

The batched engines (Numba, the default; TensorFlow) train every replica that shares an architecture in one
computation; the Keras reference engine runs them one `fit` at a time. TensorFlow is imported only when the
tensorflow or keras engine is asked for.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import blobs_transfer.train.engine  # by its full name: `engine` is train's argument, the engine's name
from blobs_transfer.config import Arm, Config, Training
from blobs_transfer.model import arms
from blobs_transfer.model.arms import Weights
from blobs_transfer.problems import Problem, make_problem
from blobs_transfer.train.plan import (
    Progress,
    RunResult,
    SourceModel,
    Sources,
    chunks,
    plan_replicas,
    source_seed,
    training_key,
)
from blobs_transfer.train.result import HISTORY_KEYS, TrainResult


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
    (tests/train/test_run.py). Only "tensorflow" and "keras" import TensorFlow.
    """
    if engine == "tensorflow":
        from blobs_transfer.train.tensorflow_engine import (
            train_replicas,  # imports TensorFlow
        )
    else:
        train_replicas = blobs_transfer.train.engine.train_replicas

    training = training or cfg.target_training
    problems = problem if isinstance(problem, list) else [problem] * len(jobs)
    if engine == "keras":
        keras_cfg = replace(cfg, training=training)  # the reference loop reads cfg.training
        from blobs_transfer.train import reference  # imports TensorFlow

        results = [
            reference.fit_one(keras_cfg, problems[i], arm, source, seed, progress)
            for i, (arm, source, seed) in enumerate(jobs)
        ]
        return _concat(results, range(len(jobs)))
    results, order = [], []
    for indices in chunks(cfg, jobs, chunk_size, problems, training=training):
        initial, trainable, seeds = [], [], []
        for i in indices:
            arm, source, seed = jobs[i]
            init_rng, _ = arms.replica_rngs(seed)
            initial.append(arms.initial_weights(cfg, arm, source, init_rng))
            trainable.append(arms.trainable_layers(cfg, arm))
            seeds.append(seed)
        shared = len({id(problems[i]) for i in indices}) == 1
        results.append(
            train_replicas(
                problems[indices[0]] if shared else [problems[i] for i in indices],
                arms.stack(initial),
                np.array(trainable),
                seeds,
                epochs=training.epochs,
                batch_size=training.batch_size,
                optimizer=training.update_rule,
                on_epoch=(lambda e: progress(1)) if progress else None,
            )
        )
        order += indices
    return _concat(results, order)


def _concat(results: list[TrainResult], order: list[int] | range) -> TrainResult:
    """Stitch per-group results back into job order (weights are dropped: shapes differ across groups)."""
    inverse = np.argsort(np.asarray(order))
    final = {k: np.concatenate([r.final[k] for r in results])[inverse] for k in results[0].final}
    history = {k: np.concatenate([r.history[k] for r in results])[inverse] for k in HISTORY_KEYS}
    shapes = {tuple(k.shape[1:] for k, _ in r.weights) for r in results}
    weights = []
    if len(shapes) == 1:  # one architecture: the weights stack too
        weights = [
            (
                np.concatenate([r.weights[i][0] for r in results])[inverse],
                np.concatenate([r.weights[i][1] for r in results])[inverse],
            )
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
    result = train(
        cfg, make_problem(spec), jobs, engine=cfg.study.engine, training=cfg.source_training, progress=progress
    )
    models = [SourceModel(spec, arms.unstack(result.weights, k), s) for k, s in enumerate(seeds_used)]
    return models, result


def run_comparison(
    cfg: Config,
    sources: Sources,
    *,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> RunResult:
    """Train every replica of `plan_replicas(cfg)` on the target problem.

    sources: per source problem spec, the source models by source index (see `api.source_models`).
    """
    (result,) = run_comparisons([cfg], [sources], progress=progress, chunk_size=chunk_size)
    return result


def run_comparisons(
    cfgs: list[Config],
    sources: list[Sources],
    *,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> list[RunResult]:
    """Several comparisons (a sweep's cells) trained as one: the replicas of every comparison that share an
    architecture and a number of minibatches train in one computation, each on its own comparison's target
    problem, exactly as if its comparison were run alone (tests/train/test_run.py). The comparisons must
    share a `training_key`."""
    if len({training_key(cfg) for cfg in cfgs}) != 1:
        raise ValueError("comparisons trained together must share their training settings and network")
    plans, jobs, problems = [], [], []
    for cfg, cell_sources in zip(cfgs, sources):
        problem = make_problem(cfg.target_spec)
        plan = plan_replicas(cfg)
        spec_of = {arm.name: cfg.spec_of_problem(cfg.source_problem_of(arm)) for arm in cfg.arms if arm.uses_source}
        for rep in plan:
            source = cell_sources[spec_of[rep.arm.name]][rep.source_index].weights if rep.arm.uses_source else None
            jobs.append((rep.arm, source, rep.seed))
        problems += [problem] * len(plan)
        plans.append(plan)
    result = train(
        cfgs[0],
        problems,
        jobs,
        engine=cfgs[0].study.engine,
        training=cfgs[0].target_training,
        progress=progress,
        chunk_size=chunk_size,
    )
    out, start = [], 0
    for plan in plans:
        rows = slice(start, start + len(plan))
        out.append(
            RunResult(
                list(plan),
                {k: v[rows] for k, v in result.final.items()},
                {k: v[rows] for k, v in result.history.items()},
            )
        )
        start += len(plan)
    return out
