"""The training rule checked three ways (besides the equality with the Keras loop in test_engine.py): the
engines against the plain NumPy reference of tests/train/naive.py for every update rule, and the reference's
analytic gradients against central finite differences (as umap checks its gradients)."""

import numpy as np
import pytest

from blobs_transfer.config import Arm, Optimizer
from blobs_transfer.model import arms
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine
from blobs_transfer.train.result import epoch_orders
from tests.helpers import LazyModule
from tests.train import naive

tensorflow_engine = LazyModule("blobs_transfer.train.tensorflow_engine")

RULES = [
    Optimizer(),
    Optimizer("momentum", 0.01, momentum=0.9),
    Optimizer("momentum", 0.02, momentum=0.5, nesterov=True),
    Optimizer("adam", 0.001),
    Optimizer("adam", 0.01),
]
IDS = ["sgd", "momentum", "nesterov", "adam", "adam-0.01"]


@pytest.mark.parametrize("rule", RULES, ids=IDS)
@pytest.mark.parametrize(
    "trainer",
    [engine, pytest.param(tensorflow_engine, marks=pytest.mark.slow)],
    ids=["numba", "tensorflow"],
)
def test_engines_match_the_numpy_reference(cfg, problem2, rule, trainer):
    """Four epochs from the same weights and row orders, one replica with a frozen first layer: every weight
    within 1e-5 of NumPy's, the frozen layer bit-identical."""
    arm = Arm("one frozen", fixed=1)
    initial = arms.initial_weights(cfg, arm, None, replica_rngs(8)[0])
    trainable = arms.trainable_layers(cfg, arm)
    orders = epoch_orders(8, 4, len(problem2.y_train))
    expected = naive.train(initial, trainable, problem2.x_train, problem2.y_train, orders, 32, rule)
    result = trainer.train_replicas(
        problem2,
        arms.stack([initial]),
        np.array([trainable]),
        [8],
        epochs=4,
        batch_size=32,
        optimizer=rule,
        orders=orders[None],
    )
    for (k, b), (k_ref, b_ref), (_k0, _b0) in zip(arms.unstack(result.weights, 0), expected, initial):
        np.testing.assert_allclose(k, k_ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(b, b_ref, atol=1e-5, rtol=0)
    assert np.array_equal(result.weights[0][0][0], initial[0][0]) and not np.array_equal(
        result.weights[1][0][0], initial[1][0]
    )


def test_the_reference_gradients_are_the_finite_differences(cfg, problem2):
    """Central differences in float64 on a minibatch of 32 rows, for every parameter of every layer: relative
    error under 1e-6 (no ReLU sits at its kink for these weights and rows)."""
    rng = np.random.default_rng(3)
    weights = [
        (k.astype(np.float64), b.astype(np.float64) + rng.normal(0, 0.1, b.shape))
        for k, b in arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(3)[0])
    ]
    x, y = problem2.x_train[:32].astype(np.float64), problem2.y_train[:32]
    _, grads = naive.loss_and_grads(weights, x, y, 3)
    h = 1e-6
    for layer, (k, b) in enumerate(weights):
        for j, array in enumerate((k, b)):
            numeric = np.zeros_like(array)
            for idx in np.ndindex(array.shape):
                keep = array[idx]
                array[idx] = keep + h
                up, _ = naive.loss_and_grads(weights, x, y, 3)
                array[idx] = keep - h
                down, _ = naive.loss_and_grads(weights, x, y, 3)
                array[idx] = keep
                numeric[idx] = (up - down) / (2 * h)
            analytic = grads[layer][j]
            scale = np.maximum(np.abs(numeric), 1e-3)
            assert np.max(np.abs(analytic - numeric) / scale) < 1e-6, (layer, j)


def test_a_finite_difference_check_can_fail(cfg, problem2):
    """The check above catches a wrong gradient: the softmax's gradient without the mean over rows."""
    weights = [
        (k.astype(np.float64), b.astype(np.float64))
        for k, b in arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(3)[0])
    ]
    x, y = problem2.x_train[:32].astype(np.float64), problem2.y_train[:32]
    loss, grads = naive.loss_and_grads(weights, x, y, 3)
    k = weights[-1][0]
    keep = k[0, 0]
    k[0, 0] = keep + 1e-6
    up, _ = naive.loss_and_grads(weights, x, y, 3)
    k[0, 0] = keep
    numeric = (up - loss) / 1e-6
    assert abs(grads[-1][0][0, 0] * len(x) - numeric) > 1e-3 * max(abs(numeric), 1e-3)


@pytest.mark.parametrize(
    "trainer",
    [engine, pytest.param(tensorflow_engine, marks=pytest.mark.slow)],
    ids=["numba", "tensorflow"],
)
def test_the_engines_gradient_is_the_finite_differences(cfg, problem2, trainer):
    """The engine's own gradient, read off one plain SGD step at learning rate 1 on one minibatch of all 500
    rows (w0 - w1 = g), against central differences of the float64 loss: within 2e-5 for every parameter. The
    biases are moved off zero: a row whose hidden units below are all dead would otherwise sit exactly at a
    ReLU's kink, where the difference quotient takes half the slope."""
    rng = np.random.default_rng(5)
    initial = [
        (k, (b + rng.normal(0, 0.1, b.shape)).astype(np.float32))
        for k, b in arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(5)[0])
    ]
    x, y = problem2.x_train, problem2.y_train
    result = trainer.train_replicas(
        problem2,
        arms.stack([initial]),
        np.ones((1, 3), bool),
        [5],
        epochs=1,
        batch_size=500,
        optimizer=Optimizer(learning_rate=1.0),
        orders=np.arange(500, dtype=np.int32)[None, None],
    )
    weights = [(k.astype(np.float64), b.astype(np.float64)) for k, b in initial]
    h = 1e-6
    for layer, ((k1, b1), (k0, b0)) in enumerate(zip(arms.unstack(result.weights, 0), initial)):
        for j, (after, before) in enumerate(((k1, k0), (b1, b0))):
            array = weights[layer][j]
            for idx in np.ndindex(array.shape):
                keep = array[idx]
                array[idx] = keep + h
                up, _ = naive.loss_and_grads(weights, x.astype(np.float64), y, 3)
                array[idx] = keep - h
                down, _ = naive.loss_and_grads(weights, x.astype(np.float64), y, 3)
                array[idx] = keep
                numeric = (up - down) / (2 * h)
                assert abs(float(before[idx]) - float(after[idx]) - numeric) < 2e-5, (layer, j, idx)
