"""The tutorial's MLP as a real Keras model (blobs_transfer.model.keras_model): architecture, freezing, saving
and loading `.keras` files."""

import dataclasses

import numpy as np
import pytest

from blobs_transfer.config import Arm
from blobs_transfer.model import arms
from tests.helpers import LazyModule

keras_model = LazyModule("blobs_transfer.model.keras_model")
keras = LazyModule("keras")


def test_architecture(cfg):
    model = keras_model.build_mlp(cfg)
    assert model.input_shape == (None, 2)
    assert [layer.units for layer in model.layers] == [5, 5, 3]
    assert [layer.activation.__name__ for layer in model.layers] == ["relu", "relu", "softmax"]
    assert [type(layer.kernel_initializer).__name__ for layer in model.layers] == [
        "HeUniform",
        "HeUniform",
        "GlorotUniform",
    ]
    assert all(type(layer.bias_initializer).__name__ == "Zeros" for layer in model.layers)
    keras_model.compile_model(model, cfg)
    assert model.count_params() == 63  # (2*5+5) + (5*5+5) + (5*3+3)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.01)
    assert float(model.optimizer.momentum) == 0.0


@pytest.mark.parametrize("fixed,trainable", [(0, 63), (1, 48), (2, 18)])
def test_trainable_parameter_count(cfg, fixed, trainable):
    model = keras_model.compile_model(keras_model.build_mlp(cfg), cfg, fixed=fixed)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trainable
    assert arms.trainable_parameter_count(cfg, Arm("a", weights="source", fixed=fixed)) == trainable


def test_saved_model_opens_with_plain_keras_and_predicts_the_same(cfg, problem1, tmp_path):
    rng = np.random.default_rng(0)
    weights = arms.initial_weights(cfg, cfg.arms[0], None, rng)
    model = keras_model.model_from_weights(cfg, weights)
    path = tmp_path / "source.keras"
    keras_model.save_model(model, path)
    loaded = keras.models.load_model(path)
    assert np.array_equal(model.predict(problem1.x_test, verbose=0), loaded.predict(problem1.x_test, verbose=0))
    assert [np.array_equal(a, b) for (a, _), (b, _) in zip(keras_model.get_weights(loaded), weights)] == [True] * 3
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_load_source_rejects_bad_files(cfg, tmp_path):
    with pytest.raises(keras_model.ModelError, match="train-source"):
        keras_model.load_source(tmp_path / "missing.keras", cfg)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(keras_model.ModelError, match="not a .keras file"):
        keras_model.load_source(junk, cfg)
    good = tmp_path / "good.keras"
    keras_model.save_model(
        keras_model.model_from_weights(cfg, arms.initial_weights(cfg, cfg.arms[0], None, np.random.default_rng(0))),
        good,
    )
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(keras_model.ModelError):
        keras_model.load_source(truncated, cfg)
    wide = dataclasses.replace(cfg, problems=dataclasses.replace(cfg.problems, centers=4))
    wrong = tmp_path / "four_classes.keras"
    keras_model.save_model(
        keras_model.model_from_weights(wide, arms.initial_weights(wide, wide.arms[0], None, np.random.default_rng(0))),
        wrong,
    )
    with pytest.raises(keras_model.ModelError, match="layer shapes"):
        keras_model.load_source(wrong, cfg)


@pytest.mark.parametrize(
    "overrides,kind,settings",
    [
        ({"training.optimizer": "momentum"}, "SGD", {"learning_rate": 0.01, "momentum": 0.9, "nesterov": False}),
        (
            {"training.optimizer": "momentum", "training.nesterov": True, "training.momentum": 0.5},
            "SGD",
            {"momentum": 0.5, "nesterov": True},
        ),
        (
            {"training.optimizer": "adam"},
            "Adam",
            {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
        ),
    ],
)
def test_compile_model_builds_the_configs_keras_optimizer(overrides, kind, settings):
    """Each rule is Keras's own optimizer with the config's settings, new for every compile (fresh state)."""
    from blobs_transfer.config import load_config

    cfg = load_config(None, **overrides)
    first, second = (keras_model.compile_model(keras_model.build_mlp(cfg), cfg).optimizer for _ in range(2))
    assert type(first).__name__ == kind and first is not second
    for key, value in settings.items():
        got = getattr(first, key)
        got = float(got.numpy()) if hasattr(got, "numpy") else got
        assert got == pytest.approx(value), key
