"""Which cells of a sweep train together (blobs_transfer.sweep.schedule): batches of cells that share their
training settings and number of minibatches, sized to the runner."""

from blobs_transfer.sweep.grid import sweep_from_dict
from blobs_transfer.sweep.schedule import batch_limit, batches
from blobs_transfer.train.plan import CHUNK_SIZE


def test_sweep_batches_group_cells_that_can_train_together():
    grid = sweep_from_dict(
        {"study": {"repeats": 2}, "sweep": {"target.n_train": [20, 100, 30], "target.similarity_t": [0.0, 1.0]}}
    )
    cells = grid.cells()
    # 20 and 30 rows are one minibatch each, 100 rows four: two batches, in grid order of their first cell
    assert [[c.index for c in b] for b in batches(grid, cells)] == [[0, 1, 4, 5], [2, 3]]
    # at most max_replicas replicas a batch (a cell here is 2 standalone + 3 x 2 transfer runs = 8)
    assert [[c.index for c in b] for b in batches(grid, cells, max_replicas=16)] == [[0, 1], [2, 3], [4, 5]]
    # cells that differ in training settings never share a batch
    lr = sweep_from_dict({"sweep": {"training.learning_rate": [0.01, 0.1]}})
    assert [[c.index for c in b] for b in batches(lr, lr.cells())] == [[0], [1]]


def test_a_cluster_gets_batches_small_enough_to_keep_every_worker_busy():
    grid = sweep_from_dict({"study": {"repeats": 2}, "sweep": {"target.n_train": [10, 20, 25, 30]}})
    cells = grid.cells()  # 4 cells of 8 replicas, all one minibatch: one batch in a single process
    assert batch_limit(grid, cells, slots=1) == CHUNK_SIZE
    assert len(batches(grid, cells, batch_limit(grid, cells, 1))) == 1
    # two worker threads: about two batches each, here 32 / 4 = 8 replicas, one cell a batch
    assert batch_limit(grid, cells, slots=2) == 8
    assert [[c.index for c in b] for b in batches(grid, cells, batch_limit(grid, cells, 2))] == [[0], [1], [2], [3]]
    assert batch_limit(grid, cells, slots=100) == 1  # never below one cell: batches() keeps a cell whole
    assert len(batches(grid, cells, 1)) == 4


# --- tiny grids whose batches are known ---------------------------------------------------------------


def test_a_batch_is_filled_up_to_the_limit_then_a_new_one_opens():
    grid = sweep_from_dict({"study": {"repeats": 2}, "sweep": {"target.n_train": [10, 20, 25, 30, 31]}})
    cells = grid.cells()  # 5 cells of 8 replicas, all one minibatch of 32
    assert [[c.index for c in b] for b in batches(grid, cells, max_replicas=17)] == [[0, 1], [2, 3], [4]]
    assert [[c.index for c in b] for b in batches(grid, cells, max_replicas=24)] == [[0, 1, 2], [3, 4]]
    assert [[c.index for c in b] for b in batches(grid, cells, max_replicas=7)] == [[0], [1], [2], [3], [4]]
    assert [[c.index for c in b] for b in batches(grid, cells[1:4])] == [[1, 2, 3]]  # only the cells asked for
    assert batches(grid, []) == []


def test_the_keras_engine_trains_every_cell_alone():
    grid = sweep_from_dict({"study": {"repeats": 2, "engine": "keras"}, "sweep": {"target.n_train": [10, 20]}})
    assert [[c.index for c in b] for b in batches(grid, grid.cells())] == [[0], [1]]


def test_cells_of_other_networks_or_batch_sizes_never_share_a_batch():
    grid = sweep_from_dict(
        {
            "study": {"repeats": 2},
            "sweep": {"model.hidden_units": [[5, 5], [4, 4], [5, 5, 5]], "training.batch_size": [32, 16]},
        }
    )
    assert [[c.index for c in b] for b in batches(grid, grid.cells())] == [[0], [1], [2], [3], [4], [5]]
    # 100 rows in batches of 32 (cell 0) and 50 rows in batches of 16 (cell 3) are both 4 minibatches, but their
    # training settings differ; cells 0 and 2 share the batch size but not the minibatches (4 and 2): all alone
    mixed = sweep_from_dict(
        {"study": {"repeats": 2}, "sweep": {"target.n_train": [100, 50], "training.batch_size": [32, 16]}}
    )
    assert [[c.index for c in b] for b in batches(mixed, mixed.cells())] == [[0], [1], [2], [3]]
    # and the same settings and minibatches share one: 100 and 120 rows are 4 minibatches of 32
    same = sweep_from_dict({"study": {"repeats": 2}, "sweep": {"target.n_train": [100, 50, 120]}})
    assert [[c.index for c in b] for b in batches(same, same.cells())] == [[0, 2], [1]]


def test_the_batch_limit_gives_each_worker_thread_about_two_batches():
    grid = sweep_from_dict({"study": {"repeats": 2, "source_repeats": 3}, "sweep": {"target.n_train": [10, 20, 30]}})
    cells = grid.cells()  # 3 cells of 2 + 3 x 3 x 2 = 20 replicas: 60 in all
    assert [batch_limit(grid, cells, slots) for slots in (0, 1, 2, 3, 7, 30, 31)] == [
        CHUNK_SIZE,
        CHUNK_SIZE,
        15,
        10,
        5,
        1,
        1,
    ]  # ceil(60 / (2 x slots)), at least 1
    assert batch_limit(grid, cells[:1], slots=2) == 5
