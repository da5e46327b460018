"""The reference loop, one `keras.Model.fit` per repeat (blobs_transfer.train.reference): frozen layers stay,
every epoch is reshuffled reproducibly, and it starts from the very weights the batched engines start from."""

import dataclasses
from dataclasses import replace

import numpy as np
import pytest

from blobs_transfer.config import Arm
from blobs_transfer.model import arms
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import run
from tests.helpers import STATS, LazyModule, dyadic_source

keras_model = LazyModule("blobs_transfer.model.keras_model")
reference = LazyModule("blobs_transfer.train.reference")
keras = LazyModule("keras")


@pytest.mark.slow
def test_frozen_layers_bit_identical_after_fit(cfg, problem2):
    """The reference engine (model.fit) leaves frozen layers exactly as they were."""
    short = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, epochs=3))
    keras.utils.set_random_seed(3)
    model = keras_model.compile_model(keras_model.build_mlp(short), short, fixed=2)
    before = keras_model.get_weights(model)
    result = reference.fit_keras(model, problem2, short, seed=3)
    after = keras_model.get_weights(model)
    for i in (0, 1):
        assert np.array_equal(before[i][0], after[i][0]) and np.array_equal(before[i][1], after[i][1])
    assert not np.array_equal(before[2][0], after[2][0])
    assert result.history["test_accuracy"].shape == (1, 4)
    assert np.isfinite(result.history["test_accuracy"]).all()
    assert result.final["test_correct"][0] == round(result.final["test_accuracy"][0] * 500)


def _first_batches(cfg, problem, seed, epochs):
    """Rows of the first minibatch of every epoch, as the reference engine's model.fit sees them."""
    short = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, epochs=epochs))
    model = keras_model.build_mlp(short)
    model.compile(
        loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.01), metrics=["accuracy"], run_eagerly=True
    )
    seen, original = [], model.train_step

    def recording_step(data):
        seen.append(np.asarray(data[0]).copy())
        return original(data)

    model.train_step = recording_step
    reference.fit_keras(model, problem, short, seed=seed, record_curves=False)
    return [seen[i] for i in range(0, len(seen), 16)]  # 16 minibatches per epoch


@pytest.mark.slow
def test_reference_engine_reshuffles_every_epoch_reproducibly(cfg, problem2):
    """Regression: fit(x, y, shuffle=True) after set_random_seed replays one row order in every epoch."""
    first = _first_batches(cfg, problem2, seed=5, epochs=3)
    assert len(first) == 3 and all(len(b) == 32 for b in first)
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    again = _first_batches(cfg, problem2, seed=5, epochs=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


@pytest.mark.slow
def test_keras_engine_starts_from_the_same_draws(cfg, problem2):
    """The reference loop sets the copied layers to the very draws the vectorised engine starts from."""
    arm = replace(STATS, fixed=2)
    c = replace(cfg, arms=(Arm("standalone"), arm), training=replace(cfg.training, epochs=1))
    source = dyadic_source(cfg, 0)
    result = run.train(c, problem2, [(arm, source, 13)], engine="keras")
    start = arms.initial_weights(c, arm, source, replica_rngs(13)[0])
    end = arms.unstack(result.weights, 0)
    for i in (0, 1):  # frozen: still the drawn weights after training
        assert np.array_equal(end[i][0], start[i][0]) and np.array_equal(end[i][1], start[i][1])
