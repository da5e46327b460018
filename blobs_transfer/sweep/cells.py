"""Training a sweep's cells: a pure function from cell configs to arrays, run in this process or on a worker.

Cells that share their training settings train as one computation (`train_cells`), each exactly as if it were
trained alone; a batch that fails is retried cell by cell so a failing cell is named with its own exception.
Source models are cached per process (and per Dask worker) by everything they depend on. No files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from blobs_transfer.config import Config
from blobs_transfer.stats import summary
from blobs_transfer.train.plan import source_provenance, sources_needed
from blobs_transfer.train.run import run_comparisons, train_sources


@dataclass(frozen=True)
class CellOutput:
    """What training one cell returns to the driver: its run records (the columns of scores.csv), its test
    accuracy curves (N, epochs + 1), and where its source models came from."""

    records: list[dict[str, Any]]
    test_accuracy_curves: np.ndarray
    source_models: dict[str, Any]


_SOURCE_CACHE: dict[tuple, list] = {}  # per process (and per Dask worker): source models by `source_key`
_CACHE_SIZE = 16


def source_key(cfg: Config, number: int) -> tuple:
    """Everything a set of trained source models depends on: cells with equal keys share them (a sweep over
    the target's training settings, e.g. target.epochs, trains its source models once)."""
    return (
        cfg.spec_of_problem(number),
        cfg.study.source_repeats,
        cfg.study.seed,
        cfg.model,
        cfg.source_training,
        cfg.study.engine,
    )


def cell_sources(cfg: Config) -> Any:
    """The cell's source models, trained from recorded seeds (never a saved file, so a sweep is reproducible
    from its config and seed alone) and shared by every cell with the same `source_key`."""
    sources = {}
    for number in sources_needed(cfg):
        key = source_key(cfg, number)
        if key not in _SOURCE_CACHE:
            if len(_SOURCE_CACHE) >= _CACHE_SIZE:
                _SOURCE_CACHE.pop(next(iter(_SOURCE_CACHE)))
            _SOURCE_CACHE[key], _ = train_sources(cfg, number, cfg.study.source_repeats)
        sources[cfg.spec_of_problem(number)] = _SOURCE_CACHE[key]
    return sources


def train_cells(cfgs: list[Config]) -> list[CellOutput]:
    """Train several cells' comparisons as one computation (see `batches`); each cell's results are what
    training it alone gives. Pure: no files; runs in-process or on a worker."""
    sources = [cell_sources(cfg) for cfg in cfgs]
    outputs = []
    for cfg, cell_source, result in zip(cfgs, sources, run_comparisons(cfgs, sources)):
        outputs.append(
            CellOutput(
                result.records(),
                result.history["test_accuracy"].astype(np.float32),
                source_provenance(cfg, cell_source),
            )
        )
    return outputs


def train_batch(cfgs: list[Config]) -> list[CellOutput | Exception]:
    """A sweep's task: `train_cells`, and if that raises, each cell alone, so a failing cell is named with its
    own exception and the other cells of its batch still finish."""
    try:
        return train_cells(cfgs)
    except Exception as exc:
        if len(cfgs) == 1:
            return [exc]
    outputs: list[CellOutput | Exception] = []
    for cfg in cfgs:
        try:
            outputs += train_cells([cfg])
        except Exception as exc:  # this cell's own failure, reported with it
            outputs.append(exc)
    return outputs


def analyse_cell(cfg: Config, output: CellOutput) -> dict[str, Any]:
    """A cell's summary: the same nested statistics `compare` computes, and which arm is best."""
    statistics = summary.summarise(cfg, output.records, output.test_accuracy_curves.astype(float), output.source_models)
    statistics["best"] = summary.best_arm(cfg, output.records)
    return statistics
