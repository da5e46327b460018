"""The plan of a comparison: which replicas (arm, source index, repeat, seed) train, and in which batches.

Pure: from a config alone. Each replica's seed is derived by name from the root seed (`seeds`) and recorded, and
fixes both its starting weights and its minibatch order, so any single row of `scores.csv` can be re-run alone.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from blobs_transfer import seeds
from blobs_transfer.config import Arm, Config, ProblemSpec, Training
from blobs_transfer.model import arms
from blobs_transfer.model.arms import Weights
from blobs_transfer.problems import Problem

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
        diverged = self.diverged
        for i, rep in enumerate(self.replicas):
            bad = bool(diverged[i])

            def value(key: str, digits: int, i: int = i, bad: bool = bad) -> float | None:
                return None if bad else round(float(self.final[key][i]), digits)

            out.append(
                {
                    "arm": rep.arm.name,
                    "source_index": rep.source_index,
                    "repeat": rep.repeat,
                    "seed": rep.seed,
                    "test_accuracy": value("test_accuracy", 3),
                    "test_correct": None if bad else int(self.final["test_correct"][i]),
                    "train_accuracy": value("train_accuracy", 3),
                    "final_loss": value("train_loss", 6),
                    "test_loss": value("test_loss", 6),
                    "diverged": bad,
                }
            )
        return out


def source_seed(cfg: Config, problem: int, index: int) -> int:
    """Seed of source model `index` trained on `problem` (index 0 is what `train-source` makes)."""
    return seeds.source_seed(cfg.study.seed, problem, index)


def arm_seed(cfg: Config, arm: Arm, source_index: int | None, repeat: int) -> int:
    """Seed of one repeat; keyed by the arm's name so adding an arm does not change the others' seeds."""
    return seeds.arm_seed(cfg.study.seed, arm.name, source_index, repeat)


@functools.lru_cache(maxsize=64)
def plan_replicas(cfg: Config) -> tuple[Replica, ...]:
    """Every replica of the study, arm by arm; source-dependent arms repeat for each source model.

    Cached per config (a config is frozen): deriving 20,000 seeds takes a few tenths of a second, and a command
    asks for the plan several times (memory check, training, the manifest's planned counts)."""
    plan: list[Replica] = []
    for arm in cfg.arms:
        sources = range(cfg.study.source_repeats) if arm.uses_source else [None]
        for k in sources:
            plan += [Replica(arm, k, r, arm_seed(cfg, arm, k, r)) for r in range(cfg.repeats_of(arm))]
    return tuple(plan)


def chunks(
    cfg: Config,
    jobs: list[tuple[Arm, Weights | None, int]],
    chunk_size: int | None = None,
    problems: list[Problem] | None = None,
    *,
    training: Training | None = None,
) -> list[list[int]]:
    """Job indices in batches that train together: one architecture and one number of minibatches each (so
    no replica pays for another's larger train split), at most `chunk_size` replicas, split into equal parts
    (so a group of 4,001 is two chunks of 2,001 and 2,000, not 4,000 and 1). Minibatches are counted with
    `training`'s batch size (default: the target's)."""
    size = chunk_size or CHUNK_SIZE
    batch_size = (training or cfg.target_training).batch_size
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (arm, _, _) in enumerate(jobs):
        n_batches = -(-problems[i].x_train.shape[0] // batch_size) if problems else 0
        groups[(tuple(arms.layer_shapes(cfg, arm)), n_batches)].append(i)
    out = []
    for indices in groups.values():
        parts = -(-len(indices) // size)
        out += [list(part) for part in np.array_split(np.array(indices), parts)]
    return out


def sources_needed(cfg: Config) -> list[int]:
    """Source problems the arms start from, the study's own source problem first."""
    problems = [cfg.source_problem_of(arm) for arm in cfg.arms if arm.uses_source]
    return sorted(set(problems), key=lambda p: (p != cfg.study.source_problem, p))


def training_key(cfg: Config) -> tuple:
    """What comparisons must share to train together: the target's training settings, the network and the
    engine (the problems, arms, seeds, repeats and the source models' training may all differ)."""
    return cfg.target_training, cfg.model, cfg.study.engine, cfg.target_spec.n_test


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


def planned_runs(cfg: Config) -> dict[str, int]:
    """Runs per arm (config order) that the study's plan implies: `plan_replicas`'s counts, without deriving a
    seed (so a study too large to run is refused at once)."""
    return {arm.name: cfg.repeats_of(arm) * (cfg.study.source_repeats if arm.uses_source else 1) for arm in cfg.arms}


def source_provenance(cfg: Config, sources: Sources) -> dict[str, Any]:
    """Per source problem: where its models came from and their seeds, for metadata.json."""
    out = {}
    for spec, models in sources.items():
        entry: dict[str, Any] = {"problem": cfg.describe_problem(spec), "seeds": [m.seed for m in models]}
        paths = [m.path for m in models if m.path]
        if paths:
            entry["path"] = paths[0]
        out[cfg.problem_slug(spec)] = entry
    return out
