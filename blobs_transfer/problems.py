"""The two synthetic problems of the study (PROTOCOL.md section 1): pure numpy, no TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_blobs

from .config import Problems


@dataclass(frozen=True)
class Problem:
    """One make_blobs problem split in order: the first n_train rows train, the rest test.

    x_train (n_train, n_features) float32, y_train (n_train,) int labels 0..centers-1; likewise for test.
    """

    number: int
    random_state: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def y_train_onehot(self) -> np.ndarray:
        return one_hot(self.y_train, self.n_classes)

    @property
    def y_test_onehot(self) -> np.ndarray:
        return one_hot(self.y_test, self.n_classes)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n,) int labels -> (n, n_classes) float32, as keras.utils.to_categorical does."""
    return np.eye(n_classes, dtype=np.float32)[labels]


def make_problem(number: int, cfg: Problems) -> Problem:
    """Problem `number` (1-based): make_blobs with random_state=cfg.seeds[number-1], split without shuffling."""
    random_state = cfg.seeds[number - 1]
    x, y = make_blobs(
        n_samples=cfg.n_samples,
        centers=cfg.centers,
        n_features=cfg.n_features,
        cluster_std=cfg.cluster_std,
        random_state=random_state,
    )
    x = x.astype(np.float32)
    n = cfg.n_train
    return Problem(number, random_state, x[:n], y[:n], x[n:], y[n:], cfg.centers)
