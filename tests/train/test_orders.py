"""Each replica's minibatch orders (blobs_transfer.train.orders): fresh permutations every epoch, from the seed."""

import numpy as np

from blobs_transfer.train import orders


def test_orders_are_fresh_permutations_from_the_seed():
    a = orders.draw_orders(5, 4, 500)
    assert np.array_equal(a, orders.draw_orders(5, 4, 500))
    assert all(np.array_equal(np.sort(o), np.arange(500)) for o in a)
    assert not np.array_equal(a[0], a[1])  # reshuffled every epoch
    assert not np.array_equal(orders.draw_orders(6, 1, 500)[0], a[0])
    # uniform enough: over 2,000 shuffles of 5 rows each position holds each row about 400 times
    counts = np.zeros((5, 5))
    for o in orders.draw_orders(9, 2000, 5):
        counts[np.arange(5), o] += 1
    assert np.all(np.abs(counts - 400) < 5 * np.sqrt(400 * 0.8))
