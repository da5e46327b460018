"""The minibatch rules every engine shares (blobs_transfer.train.result): Keras's batch bounds and each
replica's epoch orders."""

import numpy as np

from blobs_transfer.train.result import batch_bounds, epoch_orders


def test_batches_are_keras_defaults():
    bounds = batch_bounds(500, 32)
    assert len(bounds) == 16
    assert [stop - start for start, stop in bounds] == [32] * 15 + [20]


def test_epoch_orders_are_permutations_from_the_seed():
    a, b = epoch_orders(5, 3, 500), epoch_orders(5, 3, 500)
    assert np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])  # reshuffled every epoch
    assert all(sorted(o) == list(range(500)) for o in a)
    assert not np.array_equal(epoch_orders(6, 1, 500)[0], a[0])
