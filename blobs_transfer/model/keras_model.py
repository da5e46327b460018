"""Real Keras models: the tutorial's MLP and the native `.keras` source-model files (TensorFlow imported here).

What must behave exactly as the tutorial does lives here: building the Sequential model, freezing layers and
recompiling (a change of `trainable` takes effect only at `compile()`), saving and loading the `.keras` format.
The reference training loop that fits these models is `train.reference`.
"""

from __future__ import annotations

from pathlib import Path

from blobs_transfer import atomic
from blobs_transfer.model.backend import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

from blobs_transfer.config import Arm, Config, Optimizer  # noqa: E402
from blobs_transfer.errors import SourceModelError  # noqa: E402
from blobs_transfer.model.arms import Weights  # noqa: E402
from blobs_transfer.model.keras_file import check_file  # noqa: E402

ModelError = SourceModelError  # the name this module's callers and tests know


def build_mlp(cfg: Config, arm: Arm | None = None) -> keras.Sequential:
    """Dense(5, relu, he_uniform) x hidden layers -> Dense(classes, softmax), Keras's own initialisers."""
    hidden = cfg.hidden_units_of(arm) if arm is not None else cfg.model.hidden_units
    layers: list = [keras.Input(shape=(cfg.problems.n_features,))]
    for i, units in enumerate(hidden):
        layers.append(
            keras.layers.Dense(
                units, activation="relu", kernel_initializer=cfg.model.hidden_initializer, name=f"hidden_{i + 1}"
            )
        )
    layers.append(
        keras.layers.Dense(
            cfg.n_classes, activation="softmax", kernel_initializer=cfg.model.output_initializer, name="output"
        )
    )
    return keras.Sequential(layers, name="mlp")


def keras_optimizer(rule: Optimizer) -> keras.optimizers.Optimizer:
    """A new Keras optimizer for an update rule (fresh state: nothing of an earlier training carries over)."""
    if rule.name == "adam":
        return keras.optimizers.Adam(
            learning_rate=rule.learning_rate, beta_1=rule.beta_1, beta_2=rule.beta_2, epsilon=rule.epsilon
        )
    return keras.optimizers.SGD(learning_rate=rule.learning_rate, momentum=rule.momentum, nesterov=rule.nesterov)


def compile_model(model: keras.Model, cfg: Config, fixed: int = 0) -> keras.Model:
    """Freeze the first `fixed` layers, then (re)compile with a new optimizer for `cfg.training` (plain SGD at
    0.01 by default, as the tutorial does)."""
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= fixed
    model.compile(
        loss="categorical_crossentropy", optimizer=keras_optimizer(cfg.training.update_rule), metrics=["accuracy"]
    )
    return model


def get_weights(model: keras.Model) -> Weights:
    return [(layer.kernel.numpy(), layer.bias.numpy()) for layer in model.layers]


def set_weights(model: keras.Model, weights: Weights) -> keras.Model:
    for layer, (kernel, bias) in zip(model.layers, weights):
        layer.set_weights([kernel, bias])
    return model


def model_from_weights(cfg: Config, weights: Weights, arm: Arm | None = None) -> keras.Model:
    """A compiled Keras model holding `weights` (for saving what the vectorised engine trained)."""
    return compile_model(set_weights(build_mlp(cfg, arm), weights), cfg)


def save_model(model: keras.Model, path: Path) -> None:
    """Save in the native `.keras` format, atomically: a partly written file never replaces a good one."""
    with atomic.replacing(path, suffix=".keras") as tmp:  # Keras saves only to a name ending in .keras
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(tmp)


def load_source(path: Path, cfg: Config) -> keras.Model:
    """Load a saved source model and check it fits the study; any problem is a one-line ModelError."""
    path = check_file(path, cfg)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many kinds for a damaged archive
        raise ModelError(
            f"source model {path} cannot be loaded: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ) from None
    expect_in, expect_out = cfg.problems.n_features, cfg.n_classes
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) != len(model.layers) or not dense:
        raise ModelError(f"source model {path} is not a stack of Dense layers")
    shapes = [tuple(layer.kernel.shape) for layer in dense]
    want = [
        (expect_in, cfg.model.hidden_units[0]),
        *zip(cfg.model.hidden_units, (*cfg.model.hidden_units[1:], expect_out)),
    ]
    if shapes != [tuple(s) for s in want]:
        raise ModelError(
            f"source model {path} has layer shapes {shapes}, the study needs {want} "
            f"({expect_in} inputs, hidden {list(cfg.model.hidden_units)}, {expect_out} outputs)"
        )
    return model
