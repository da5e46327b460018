"""The study's synthetic problems (docs/protocol.md sections 1 and 7): pure numpy and scikit-learn, no TensorFlow.

A problem is made from a `ProblemSpec`. With the catalogue's defaults this is exactly the tutorial's
`make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2.0, random_state=S)`, first 500 rows train,
last 500 test. make_blobs draws the centres first and then every row as centre + cluster_std * noise from one
generator; drawing the centres ourselves from that same generator and handing the rest of it to make_blobs
gives the very same rows, and lets a spec change the centres (similarity t) or the spread while keeping each
row's class and noise, and so keeps the test split's rows in place whatever the train size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blobs_transfer.config import ProblemSpec
from blobs_transfer.seeds import extra_rows_seed

CENTER_BOX = (-10.0, 10.0)  # make_blobs's default box for random centres


@dataclass(frozen=True)
class Problem:
    """One problem's data: x_train (n_train, n_features) float32, y_train (n_train,) int labels 0..centers-1;
    likewise x_test, y_test (n_test rows)."""

    spec: ProblemSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return self.spec.centers

    @property
    def y_train_onehot(self) -> np.ndarray:
        return one_hot(self.y_train, self.n_classes)

    @property
    def y_test_onehot(self) -> np.ndarray:
        return one_hot(self.y_test, self.n_classes)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n,) int labels -> (n, n_classes) float32, as keras.utils.to_categorical does."""
    return np.eye(n_classes, dtype=np.float32)[labels]


def make_blobs(
    n_samples: int, centers: np.ndarray, cluster_std: float, random_state: int | np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's `make_blobs` for given centres, draw for draw (tests/test_problems.py checks it
    against scikit-learn's own): rows split over the centres as evenly as possible, the first centres taking
    one more, each row centre + cluster_std x normal noise, then shuffled with the same generator. Written out
    because importing scikit-learn costs a third of a second, a tenth of a small `compare` command."""
    generator = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    centers = np.asarray(centers, dtype=np.float64)
    n_centers, n_features = centers.shape
    per_center = [n_samples // n_centers] * n_centers
    for i in range(n_samples % n_centers):
        per_center[i] += 1
    x = np.empty((n_samples, n_features), dtype=np.float64)
    y = np.empty(n_samples, dtype=int)
    start = 0
    for i, n in enumerate(per_center):
        x[start : start + n] = generator.normal(loc=centers[i], scale=cluster_std, size=(n, n_features))
        y[start : start + n] = i
        start += n
    order = np.arange(n_samples)
    generator.shuffle(order)  # sklearn.utils.shuffle: resample without replacement, all rows
    return x[order], y[order]


def own_centres(random_state: int, spec: ProblemSpec) -> np.ndarray:
    """(centers, n_features): the centres make_blobs draws for this random_state."""
    return np.random.RandomState(random_state).uniform(*CENTER_BOX, size=(spec.centers, spec.n_features))


def centres(spec: ProblemSpec) -> np.ndarray:
    """(centers, n_features) class centres of a spec: its own, or moved from another's by similarity t."""
    own = own_centres(spec.random_state, spec)
    if spec.similarity_t is None:
        return own
    t = spec.similarity_t
    return (1.0 - t) * own_centres(spec.centers_from, spec) + t * own


def make_problem(spec: ProblemSpec) -> Problem:
    """The problem's train and test splits, in make_blobs's order (no shuffling, no scaling)."""
    generator = np.random.RandomState(spec.random_state)
    own = generator.uniform(*CENTER_BOX, size=(spec.centers, spec.n_features))  # as make_blobs would
    c = own if spec.similarity_t is None else centres(spec)
    x, y = make_blobs(n_samples=spec.n_samples, centers=c, cluster_std=spec.cluster_std, random_state=generator)
    n_pool = spec.n_samples - spec.n_test
    x_train, y_train = x[: min(spec.n_train, n_pool)], y[: min(spec.n_train, n_pool)]
    if spec.n_train > n_pool:  # more training rows: a second draw around the same centres
        x_more, y_more = make_blobs(
            n_samples=spec.n_train - n_pool,
            centers=c,
            cluster_std=spec.cluster_std,
            random_state=extra_rows_seed(spec.random_state),
        )
        x_train, y_train = np.concatenate([x_train, x_more]), np.concatenate([y_train, y_more])
    f32 = np.float32
    return Problem(spec, x_train.astype(f32), y_train, x[n_pool:].astype(f32), y[n_pool:])
