"""Both batched engines (Numba, the default, and TensorFlow) against the plain Keras loop: exact on identical
inputs, independent across replicas."""

import dataclasses

import numpy as np
import pytest

from blobs_transfer.model import arms

from blobs_transfer.train import engine

from blobs_transfer.train import tensorflow_engine as engine_tf
from blobs_transfer.config import Arm
from blobs_transfer.train.result import batch_bounds, epoch_orders
from blobs_transfer.model.keras_model import build_mlp, compile_model, get_weights, set_weights
from blobs_transfer.seeds import replica_rngs

EPOCHS = 6
ENGINES = {"numba": engine.train_replicas, "tensorflow": engine_tf.train_replicas}


@pytest.fixture(params=sorted(ENGINES))
def train_replicas(request):
    return ENGINES[request.param]


def keras_batch_by_batch(cfg, problem, initial, fixed, orders):
    """The reference: a real compiled Keras model, one train_on_batch per minibatch in the given order."""
    model = compile_model(set_weights(build_mlp(cfg), initial), cfg, fixed=fixed)
    x, y = problem.x_train, problem.y_train_onehot
    for order in orders:
        for start, stop in batch_bounds(len(x), cfg.training.batch_size):
            model.train_on_batch(x[order[start:stop]], y[order[start:stop]])
    return model


def test_batches_are_keras_defaults():
    bounds = batch_bounds(500, 32)
    assert len(bounds) == 16
    assert [stop - start for start, stop in bounds] == [32] * 15 + [20]


@pytest.mark.parametrize("fixed", [0, 1, 2])
def test_one_replica_equals_keras_loop(cfg, problem1, problem2, fixed, train_replicas):
    """Same starting weights and batch order: weights within 1e-5 and identical predictions after 6 epochs."""
    seed = 1234 + fixed
    if fixed:  # a frozen-layer case starts from a (briefly) trained source, as transfer does
        source = get_weights(keras_batch_by_batch(cfg, problem1, arms.initial_weights(
            cfg, cfg.arms[0], None, np.random.default_rng(7)), 0, epoch_orders(7, 3, 500)))
    else:
        source = None
    arm = Arm("a", weights="source", fixed=fixed) if fixed else cfg.arms[0]
    initial = arms.initial_weights(cfg, arm, source, replica_rngs(seed)[0])
    orders = epoch_orders(seed, EPOCHS, 500)
    reference = keras_batch_by_batch(cfg, problem2, initial, fixed, orders)
    result = train_replicas(
        problem2, arms.stack([initial]), np.array([arms.trainable_layers(cfg, arm)]), [seed],
        epochs=EPOCHS, batch_size=32, learning_rate=0.01, orders=orders[None],
    )
    ours = arms.unstack(result.weights, 0)
    for (k_ref, b_ref), (k, b), (k0, b0), trainable in zip(get_weights(reference), ours, initial, arms.trainable_layers(cfg, arm)):
        np.testing.assert_allclose(k, k_ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(b, b_ref, atol=1e-5, rtol=0)
        if not trainable:  # frozen: bit-identical to the start, in both engines
            assert np.array_equal(k, k0) and np.array_equal(b, b0)
            assert np.array_equal(k_ref, k0) and np.array_equal(b_ref, b0)
        else:
            assert not np.array_equal(k, k0)
    ref_pred = reference.predict(problem2.x_test, verbose=0).argmax(1)
    ours_pred = np.argmax(_logits(ours, problem2.x_test), 1)
    assert np.array_equal(ref_pred, ours_pred)
    assert result.final["test_correct"][0] == int(np.sum(ref_pred == problem2.y_test))


def _logits(weights, x):
    h = x
    for i, (k, b) in enumerate(weights):
        h = h @ k + b
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    return h


def test_replicas_are_independent(cfg, problem2, train_replicas):
    """Training R replicas together gives each one exactly what training it alone with its seed gives."""
    arm_list = [cfg.arms[0], Arm("r", fixed=1)]  # a frozen and a free replica in one computation
    seeds = [11, 22, 33, 44]
    jobs = [(arm_list[i % 2], s) for i, s in enumerate(seeds)]

    def run(subset):
        initial = arms.stack([arms.initial_weights(cfg, a, None, replica_rngs(s)[0]) for a, s in subset])
        trainable = np.array([arms.trainable_layers(cfg, a) for a, _ in subset])
        return train_replicas(problem2, initial, trainable, [s for _, s in subset], epochs=5, batch_size=32, learning_rate=0.01)

    together = run(jobs)
    for r, job in enumerate(jobs):
        alone = run([job])
        for (k_all, b_all), (k_one, b_one) in zip(together.weights, alone.weights):
            np.testing.assert_allclose(k_all[r], k_one[0], atol=1e-6, rtol=0)
            np.testing.assert_allclose(b_all[r], b_one[0], atol=1e-6, rtol=0)
        assert together.final["test_correct"][r] == alone.final["test_correct"][0]
        np.testing.assert_allclose(together.history["test_accuracy"][r], alone.history["test_accuracy"][0])


def test_history_shapes_and_start_column(cfg, problem2, train_replicas):
    initial = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in (1, 2, 3)])
    result = train_replicas(problem2, initial, np.ones((3, 3), bool), [1, 2, 3], epochs=4, batch_size=32, learning_rate=0.01)
    for key, curve in result.history.items():
        assert curve.shape == (3, 5), key
        assert np.isfinite(curve).all()
    # column 0 is before training: it is what the untrained weights score on the test split
    start = np.argmax(_logits(arms.unstack(initial, 0), problem2.x_test), 1)
    assert result.history["test_accuracy"][0, 0] == pytest.approx(np.mean(start == problem2.y_test))
    # the last column is the final evaluation
    np.testing.assert_allclose(result.history["test_accuracy"][:, -1], result.final["test_accuracy"], atol=1e-7)
    assert set(result.final["test_correct"]) <= set(range(501))


def test_epoch_orders_are_permutations_from_the_seed():
    a, b = epoch_orders(5, 3, 500), epoch_orders(5, 3, 500)
    assert np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])  # reshuffled every epoch
    assert all(sorted(o) == list(range(500)) for o in a)
    assert not np.array_equal(epoch_orders(6, 1, 500)[0], a[0])


def test_diverging_replica_keeps_frozen_layers_and_does_not_disturb_others(cfg, problem2, train_replicas):
    """A huge learning rate makes losses non-finite; frozen layers still never move."""
    big = dataclasses.replace(cfg.training, learning_rate=1e6)
    initial = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in (1, 2)])
    trainable = np.array([[False, True, True], [True, True, True]])
    result = train_replicas(problem2, initial, trainable, [1, 2], epochs=3, batch_size=32, learning_rate=big.learning_rate)
    assert np.array_equal(result.weights[0][0][0], initial[0][0][0])
    assert not np.isfinite(result.final["train_loss"]).all()
