"""Which cells of a sweep train together: batches of cells that share their training settings, sized to the runner.

Pure: from the grid and the configs alone.
"""

from __future__ import annotations

from blobs_transfer.sweep.grid import Cell, Sweep
from blobs_transfer.train.plan import CHUNK_SIZE, plan_replicas, training_key


def batches(sweep: Sweep, cells: list[Cell], max_replicas: int | None = None) -> list[tuple[Cell, ...]]:
    """Cells that train together, in grid order of their first cell: those sharing the training settings,
    the network and the number of minibatches per epoch (so no replica pays for a larger train split), at
    most `max_replicas` (default: the engine's chunk size) replicas a batch. A batch is one task: on a
    cluster the batches spread over the workers, and an interruption loses at most the batches in flight."""
    size = max_replicas or CHUNK_SIZE
    groups: dict[tuple, list[list[Cell]]] = {}
    filled: dict[tuple, int] = {}  # replicas in each group's open batch: every cell is planned once
    for cell in cells:
        cfg = sweep.config_of(cell)
        key = (
            training_key(cfg),
            cfg.problems.centers,
            cfg.problems.n_features,
            -(-cfg.target_spec.n_train // cfg.target_training.batch_size),
        )
        if cfg.study.engine == "keras":  # the reference engine trains one network at a time anyway
            key = (cell.index,)
        n = len(plan_replicas(cfg))
        batch = groups.setdefault(key, [[]])
        if batch[-1] and filled[key] + n > size:
            batch.append([])
            filled[key] = 0
        batch[-1].append(cell)
        filled[key] = filled.get(key, 0) + n
    return sorted((tuple(b) for bs in groups.values() for b in bs), key=lambda b: b[0].index)


def batch_limit(sweep: Sweep, cells: list[Cell], slots: int) -> int:
    """Replicas per batch: the engine's chunk size in one process; with several worker threads, few enough
    that each thread gets about two batches (a cluster is only as busy as its number of tasks), down to
    one cell a batch."""
    if slots <= 1:
        return CHUNK_SIZE
    total = sum(len(plan_replicas(sweep.config_of(c))) for c in cells)
    return max(1, min(CHUNK_SIZE, -(-total // (2 * slots))))
