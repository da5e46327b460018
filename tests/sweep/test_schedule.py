"""Per-replica data: replicas that see different problems train in one computation, each exactly as if trained
alone (both batched engines); a sweep's cells trained together give what each cell's own comparison gives; the
TensorFlow engine's compiled step is reused."""

import numpy as np
import pytest

from blobs_transfer.seeds import replica_rngs
from blobs_transfer.model import arms
from blobs_transfer.train import result

from blobs_transfer.train import engine

from blobs_transfer.train import tensorflow_engine as engine_tf

from blobs_transfer.train import run as experiment

from blobs_transfer.config import load_config
from blobs_transfer.problems import make_problem


def _alone_and_together(cfg, problems, seeds, epochs=4, engine=engine):
    initial = [arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in seeds]
    trainable = np.ones((len(seeds), 3), bool)
    together = engine.train_replicas(problems, arms.stack(initial), trainable, seeds, epochs=epochs,
                                     batch_size=32, learning_rate=0.01)
    alone = [engine.train_replicas(p, arms.stack([w]), trainable[:1], [s], epochs=epochs, batch_size=32,
                                   learning_rate=0.01) for p, w, s in zip(problems, initial, seeds)]
    return together, alone


@pytest.mark.parametrize("engine", [engine, engine_tf], ids=["numba", "tensorflow"])
def test_replicas_on_different_problems_train_as_if_alone(cfg, engine):
    # train sizes 20, 100 and 500 (none a multiple of 32: 1, 4 and 16 minibatches, the last ones short),
    # another spread and the source problem itself, all in one computation
    specs = [cfg.target_spec, cfg.source_spec]
    specs += [load_config(None, **{"target.n_train": n}).target_spec for n in (20, 100)]
    specs += [load_config(None, **{"target.cluster_std": 1.0, "target.similarity_t": 0.5}).target_spec]
    problems = [make_problem(s) for s in specs]
    assert sorted(p.x_train.shape[0] for p in problems) == [20, 100, 500, 500, 500]
    together, alone = _alone_and_together(cfg, problems, [3, 5, 7, 9, 11], engine=engine)
    for r, one in enumerate(alone):
        for key in result.HISTORY_KEYS:
            np.testing.assert_array_equal(together.history[key][r], one.history[key][0], err_msg=key)
        for key in one.final:
            np.testing.assert_array_equal(together.final[key][r], one.final[key][0], err_msg=key)
        for (k_all, b_all), (k_one, b_one) in zip(together.weights, one.weights):
            np.testing.assert_array_equal(k_all[r], k_one[0])
            np.testing.assert_array_equal(b_all[r], b_one[0])


def test_cells_trained_together_equal_each_comparison_alone():
    cfgs = [load_config(None, **{"study.repeats": 3, "study.source_repeats": 2, "training.epochs": 3,
                                 "target.n_train": n, "target.similarity_t": t}) for n, t in ((100, 0.0), (100, 1.0), (20, 0.5))]
    sources = []
    for cfg in cfgs:
        models, _ = experiment.train_sources(cfg, 1, 2)
        sources.append({cfg.source_spec: models})
    together = experiment.run_comparisons(cfgs, sources)
    for cfg, cell_sources, joint in zip(cfgs, sources, together):
        alone = experiment.run_comparison(cfg, cell_sources)
        assert [r.seed for r in joint.replicas] == [r.seed for r in alone.replicas]
        for key in alone.final:
            assert np.array_equal(joint.final[key], alone.final[key]), key
        for key in alone.history:
            assert np.array_equal(joint.history[key], alone.history[key]), key


def test_the_compiled_step_is_reused_across_calls(cfg, problem2):
    initial = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in (1, 2)])
    run = lambda: engine_tf.train_replicas(problem2, initial, np.ones((2, 3), bool), [1, 2], epochs=2, batch_size=32,
                                           learning_rate=0.01)
    first = run()
    step = engine_tf._step_for(initial)
    traces = step.run_epoch.experimental_get_tracing_count()
    second = run()
    assert step.run_epoch.experimental_get_tracing_count() == traces  # no new trace, no new compile
    for key in first.final:  # and the variables were reset: the same start gives the same result
        np.testing.assert_array_equal(first.final[key], second.final[key])


def test_sweep_batches_group_cells_that_can_train_together():
    from blobs_transfer.sweep.grid import sweep_from_dict
    from blobs_transfer.sweep.schedule import batches

    grid = sweep_from_dict({"study": {"repeats": 2}, "sweep": {"target.n_train": [20, 100, 30],
                                                                 "target.similarity_t": [0.0, 1.0]}})
    cells = grid.cells()
    # 20 and 30 rows are one minibatch each, 100 rows four: two batches, in grid order of their first cell
    assert [[c.index for c in b] for b in batches(grid, cells)] == [[0, 1, 4, 5], [2, 3]]
    # at most max_replicas replicas a batch (a cell here is 2 standalone + 3 x 2 transfer runs = 8)
    assert [[c.index for c in b] for b in batches(grid, cells, max_replicas=16)] == [[0, 1], [2, 3], [4, 5]]
    # cells that differ in training settings never share a batch
    lr = sweep_from_dict({"sweep": {"training.learning_rate": [0.01, 0.1]}})
    assert [[c.index for c in b] for b in batches(lr, lr.cells())] == [[0], [1]]


def test_a_cluster_gets_batches_small_enough_to_keep_every_worker_busy():
    from blobs_transfer.train.plan import CHUNK_SIZE
    from blobs_transfer.sweep.grid import sweep_from_dict
    from blobs_transfer.sweep.schedule import batch_limit, batches

    grid = sweep_from_dict({"study": {"repeats": 2}, "sweep": {"target.n_train": [10, 20, 25, 30]}})
    cells = grid.cells()  # 4 cells of 8 replicas, all one minibatch: one batch in a single process
    assert batch_limit(grid, cells, slots=1) == CHUNK_SIZE
    assert len(batches(grid, cells, batch_limit(grid, cells, 1))) == 1
    # two worker threads: about two batches each, here 32 / 4 = 8 replicas, one cell a batch
    assert batch_limit(grid, cells, slots=2) == 8
    assert [[c.index for c in b] for b in batches(grid, cells, batch_limit(grid, cells, 2))] == [[0], [1], [2], [3]]
    assert batch_limit(grid, cells, slots=100) == 1  # never below one cell: batches() keeps a cell whole
    assert len(batches(grid, cells, 1)) == 4
