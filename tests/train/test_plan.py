"""The target's training settings apart from the source models': `[target]` / `[source]` epochs, learning_rate
and batch_size override `[training]`; with none set, everything resolves exactly as before (same settings,
same seeds), and a sweep over the target's epochs trains its source models once."""

import numpy as np
import pytest

from blobs_transfer.train import run as experiment

from blobs_transfer.train import plan

from blobs_transfer.sweep import grid as sweep
from blobs_transfer.config import ConfigError, Training, config_from_dict, to_toml
from blobs_transfer.sweep import cells as sweep_cells
from blobs_transfer.sweep import schedule

TUTORIAL = Training(learning_rate=0.01, batch_size=32, epochs=100)


def test_default_config_resolves_as_before(cfg):
    assert cfg.training == cfg.source_training == cfg.target_training == TUTORIAL
    assert plan.training_key(cfg) == (TUTORIAL, cfg.model, "numba", 500)
    assert "[source]" not in to_toml(cfg) and "[target]" not in to_toml(cfg)  # resolved TOML unchanged
    # seeds never depend on the training settings: the values results/example/metadata.json records
    assert plan.source_seed(cfg, 1, 0) == 1246905493
    replicas = plan.plan_replicas(cfg)
    assert [r.seed for r in replicas[:2]] == [2784355650, 2910253699]
    changed = config_from_dict({"target": {"epochs": 5, "learning_rate": 0.1}, "source": {"batch_size": 8}})
    assert [r.seed for r in plan.plan_replicas(changed)] == [r.seed for r in replicas]
    assert plan.source_seed(changed, 1, 0) == 1246905493


def test_overrides_resolve_per_side(cfg):
    c = config_from_dict({"target": {"epochs": 5, "n_train": 50}, "source": {"learning_rate": 0.1},
                          "training": {"batch_size": 16}})
    assert c.target_training == Training(learning_rate=0.01, batch_size=16, epochs=5)
    assert c.source_training == Training(learning_rate=0.1, batch_size=16, epochs=100)
    # the problems are untouched by the training keys
    assert c.source_spec == cfg.source_spec and c.target_spec.n_train == 50
    assert c.target_spec == config_from_dict({"target": {"n_train": 50}}).target_spec
    # the source models' key follows the source's training only; training together follows the target's
    other = config_from_dict({"target": {"epochs": 200, "n_train": 50}, "source": {"learning_rate": 0.1},
                              "training": {"batch_size": 16}})
    assert sweep_cells.source_key(c, 1) == sweep_cells.source_key(other, 1)
    assert plan.training_key(c) != plan.training_key(other)
    assert config_from_dict({"source": {"epochs": 7}}).target_training == TUTORIAL


@pytest.mark.parametrize("doc,needle", [
    ({"target": {"epochs": 0}}, "target.epochs"),
    ({"source": {"batch_size": -2}}, "source.batch_size"),
    ({"target": {"learning_rate": -0.1}}, "target.learning_rate"),
    ({"target": {"epochs": 2.5}}, "target.epochs"),
])
def test_bad_override_names_the_key(doc, needle):
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_epochs_of_work_counts_each_side_with_its_epochs():
    c = config_from_dict({"target": {"epochs": 5}, "source": {"epochs": 7}})
    # 120 replicas of one architecture and train size: one batched group on the vectorised engine
    assert plan.epochs_of_work(c, {1: 20}) == 1 * 5 + 1 * 7
    keras = config_from_dict({"target": {"epochs": 5}, "source": {"epochs": 7}, "study": {"engine": "keras"}})
    assert plan.epochs_of_work(keras, {1: 20}) == 120 * 5 + 20 * 7


def test_budget_sweep_trains_its_source_models_once(monkeypatch):
    """Two cells over target.epochs: one source training (with the source's 3 epochs), then each cell trains
    with its own epochs, from the very same source models."""
    grid = sweep.sweep_from_dict({
        "study": {"source_repeats": 2, "repeats": 1}, "training": {"epochs": 3},
        "sweep": {"target.epochs": [1, 2]}})
    cells = grid.cells()
    assert len(schedule.batches(grid, cells)) == 2  # different target epochs never train together
    calls = []
    real_train = experiment.train

    def recording_train(cfg, problem, jobs, *, training=None, **kwargs):
        calls.append((len(jobs), (training or cfg.target_training).epochs))
        return real_train(cfg, problem, jobs, training=training, **kwargs)

    monkeypatch.setattr(experiment, "train", recording_train)
    monkeypatch.setattr(sweep_cells, "_SOURCE_CACHE", {})
    outputs = [sweep_cells.train_batch([grid.config_of(c) for c in batch])[0] for batch in schedule.batches(grid, cells)]
    n_runs = 1 + 3 * 2 * 1  # standalone's 1 repeat, 3 transfer arms x 2 sources x 1 repeat
    assert calls == [(2, 3), (n_runs, 1), (n_runs, 2)]
    assert [o.test_accuracy_curves.shape for o in outputs] == [(n_runs, 2), (n_runs, 3)]
    assert outputs[0].source_models == outputs[1].source_models  # same seeds, same models
    cfg0 = grid.config_of(cells[0])
    assert outputs[0].source_models["problem1"]["seeds"] == [plan.source_seed(cfg0, 1, k) for k in range(2)]
    assert np.isfinite(outputs[1].test_accuracy_curves).all()


def test_target_override_equal_to_training_changes_nothing():
    """A cell whose [target] and [source] epochs equal [training]'s gives the very runs of the cell without them
    (so configs/budget.toml's 100-epoch cells are configs/sweep.toml's)."""
    base = {"study": {"source_repeats": 2, "repeats": 2}, "training": {"epochs": 2}, "target": {"n_train": 20}}
    plain = config_from_dict(base)
    same = config_from_dict({**base, "target": {"n_train": 20, "epochs": 2}, "source": {"epochs": 2}})
    assert plain != same and plain.target_training == same.target_training
    (a,), (b,) = sweep_cells.train_cells([plain]), sweep_cells.train_cells([same])
    assert a.records == b.records and np.array_equal(a.test_accuracy_curves, b.test_accuracy_curves)


@pytest.mark.parametrize("engine", ["numba", "keras"])
def test_each_engine_trains_each_side_with_its_epochs(engine, problem2):
    c = config_from_dict({"training": {"epochs": 2}, "target": {"epochs": 1}, "study": {"engine": engine}})
    _, source = experiment.train_sources(c, 1, 1)
    target = experiment.train(c, problem2, [(c.arm("standalone"), None, 5)], engine=engine)
    assert source.history["train_loss"].shape == (1, 3) and target.history["train_loss"].shape == (1, 2)
