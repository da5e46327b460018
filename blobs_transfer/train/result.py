"""What training produces, whichever engine trains: `TrainResult`, and the minibatch rules every engine shares.

Pure numpy: the Numba engine, the TensorFlow engine and the Keras reference loop all return a `TrainResult` and
cut the training rows into Keras's minibatches the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blobs_transfer.model.arms import Weights
from blobs_transfer.seeds import replica_rngs

HISTORY_KEYS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


@dataclass
class TrainResult:
    """What training R replicas produced.

    weights: per layer (kernel (R, fan_in, fan_out), bias (R, fan_out)) after the last epoch.
    history: for each of HISTORY_KEYS an (R, epochs + 1) array. Column 0 is measured before any training;
    column e > 0 follows Keras's History: train_* is the running mean over epoch e's minibatches,
    test_* is measured on the test split at the end of epoch e.
    final: (R,) arrays evaluated with the final weights: train_loss, train_accuracy, test_loss,
    test_accuracy, test_correct (count of correct test rows).
    """

    weights: Weights
    history: dict[str, np.ndarray]
    final: dict[str, np.ndarray]


def epoch_orders(seed: int, epochs: int, n_train: int) -> np.ndarray:
    """(epochs, n_train) row orders of one replica in the TensorFlow engine: a fresh numpy permutation every
    epoch, from its seed alone (the Numba engine draws its own: `orders.draw_orders`)."""
    _, order_rng = replica_rngs(seed)
    return np.stack([order_rng.permutation(n_train) for _ in range(epochs)]).astype(np.int32)


def batch_bounds(n_train: int, batch_size: int) -> list[tuple[int, int]]:
    """Keras's minibatches: 500 rows in batches of 32 -> 15 of 32 and a last one of 20."""
    return [(start, min(start + batch_size, n_train)) for start in range(0, n_train, batch_size)]
