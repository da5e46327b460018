"""Training a sweep's cells (blobs_transfer.sweep.cells): source models trained once for cells that share them,
and a cell whose overrides equal `[training]` trains the very runs of the cell without them."""

import numpy as np

from blobs_transfer.config import config_from_dict
from blobs_transfer.sweep import cells, grid, schedule
from blobs_transfer.train import plan, run


def test_budget_sweep_trains_its_source_models_once(monkeypatch):
    """Two cells over target.epochs: one source training (with the source's 3 epochs), then each cell trains
    with its own epochs, from the very same source models."""
    swept = grid.sweep_from_dict(
        {"study": {"source_repeats": 2, "repeats": 1}, "training": {"epochs": 3}, "sweep": {"target.epochs": [1, 2]}}
    )
    every_cell = swept.cells()
    assert len(schedule.batches(swept, every_cell)) == 2  # different target epochs never train together
    calls = []
    real_train = run.train

    def recording_train(cfg, problem, jobs, *, training=None, **kwargs):
        calls.append((len(jobs), (training or cfg.target_training).epochs))
        return real_train(cfg, problem, jobs, training=training, **kwargs)

    monkeypatch.setattr(run, "train", recording_train)
    monkeypatch.setattr(cells, "_SOURCE_CACHE", {})
    outputs = [
        cells.train_batch([swept.config_of(c) for c in batch])[0] for batch in schedule.batches(swept, every_cell)
    ]
    n_runs = 1 + 3 * 2 * 1  # standalone's 1 repeat, 3 transfer arms x 2 sources x 1 repeat
    assert calls == [(2, 3), (n_runs, 1), (n_runs, 2)]
    assert [o.test_accuracy_curves.shape for o in outputs] == [(n_runs, 2), (n_runs, 3)]
    assert outputs[0].source_models == outputs[1].source_models  # same seeds, same models
    cfg0 = swept.config_of(every_cell[0])
    assert outputs[0].source_models["problem1"]["seeds"] == [plan.source_seed(cfg0, 1, k) for k in range(2)]
    assert np.isfinite(outputs[1].test_accuracy_curves).all()


def test_target_override_equal_to_training_changes_nothing():
    """A cell whose [target] and [source] epochs equal [training]'s gives the very runs of the cell without them
    (so configs/budget.toml's 100-epoch cells are configs/sweep.toml's)."""
    base = {"study": {"source_repeats": 2, "repeats": 2}, "training": {"epochs": 2}, "target": {"n_train": 20}}
    plain = config_from_dict(base)
    same = config_from_dict({**base, "target": {"n_train": 20, "epochs": 2}, "source": {"epochs": 2}})
    assert plain != same and plain.target_training == same.target_training
    (a,), (b,) = cells.train_cells([plain]), cells.train_cells([same])
    assert a.records == b.records and np.array_equal(a.test_accuracy_curves, b.test_accuracy_curves)
