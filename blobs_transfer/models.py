"""Real Keras models: the tutorial's MLP, source-model files, and the reference engine (one `fit` per repeat).

Everything that must behave exactly as the tutorial does lives here: building the Sequential model,
freezing layers and recompiling (a change of `trainable` takes effect only at `compile()`), saving and
loading the native `.keras` format, and `fit`/`evaluate`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backend import import_tensorflow

import_tensorflow()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from .arms import Weights  # noqa: E402
from .config import Arm, Config  # noqa: E402
from .engine import HISTORY_KEYS, TrainResult  # noqa: E402
from .errors import ResultsError, SourceModelError  # noqa: E402
from .problems import Problem  # noqa: E402

ModelError = SourceModelError  # the name this module's callers and tests know


def build_mlp(cfg: Config, arm: Arm | None = None) -> keras.Sequential:
    """Dense(5, relu, he_uniform) x hidden layers -> Dense(classes, softmax), Keras's own initialisers."""
    hidden = cfg.hidden_units_of(arm) if arm is not None else cfg.model.hidden_units
    layers: list = [keras.Input(shape=(cfg.problems.n_features,))]
    for i, units in enumerate(hidden):
        layers.append(
            keras.layers.Dense(units, activation="relu", kernel_initializer=cfg.model.hidden_initializer, name=f"hidden_{i + 1}")
        )
    layers.append(
        keras.layers.Dense(cfg.n_classes, activation="softmax", kernel_initializer=cfg.model.output_initializer, name="output")
    )
    return keras.Sequential(layers, name="mlp")


def compile_model(model: keras.Model, cfg: Config, fixed: int = 0) -> keras.Model:
    """Freeze the first `fixed` layers, then (re)compile with plain SGD, as the tutorial does."""
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= fixed
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.SGD(learning_rate=cfg.training.learning_rate),
        metrics=["accuracy"],
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
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(tmp)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ResultsError(f"cannot write {path}: {exc.strerror or exc}") from None


def load_source(path: Path, cfg: Config) -> keras.Model:
    """Load a saved source model and check it fits the study; any problem is a one-line ModelError."""
    from .keras_file import check_file

    path = check_file(path, cfg)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many kinds for a damaged archive
        raise ModelError(f"source model {path} cannot be loaded: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    expect_in, expect_out = cfg.problems.n_features, cfg.n_classes
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(dense) != len(model.layers) or not dense:
        raise ModelError(f"source model {path} is not a stack of Dense layers")
    shapes = [tuple(layer.kernel.shape) for layer in dense]
    want = [(expect_in, cfg.model.hidden_units[0]), *zip(cfg.model.hidden_units, (*cfg.model.hidden_units[1:], expect_out))]
    if shapes != [tuple(s) for s in want]:
        raise ModelError(
            f"source model {path} has layer shapes {shapes}, the study needs {want} "
            f"({expect_in} inputs, hidden {list(cfg.model.hidden_units)}, {expect_out} outputs)"
        )
    return model


def fit_keras(
    model: keras.Model,
    problem: Problem,
    cfg: Config,
    seed: int,
    *,
    record_curves: bool = True,
    verbose: int = 0,
) -> TrainResult:
    """The reference engine: one compiled model, `model.fit` on rows reshuffled every epoch, then `evaluate`.

    Seeds Keras (Python, NumPy and TensorFlow generators) and the shuffle with `seed`. Test-split
    curves are measured after each epoch by a callback (cheaper than `validation_data`, same numbers).
    """
    x_train, y_train = problem.x_train, problem.y_train_onehot
    x_test, y_test = problem.x_test, problem.y_test_onehot
    start = model.evaluate(x_train, y_train, verbose=0), model.evaluate(x_test, y_test, verbose=0)
    test_curve: list[tuple[float, float]] = []

    class TestCurve(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            probs = np.asarray(self.model(x_test, training=False))
            loss = -np.mean(np.log(np.clip(np.sum(probs * y_test, axis=1), 1e-7, 1.0)))
            test_curve.append((loss, np.mean(probs.argmax(1) == problem.y_test)))

    keras.utils.set_random_seed(seed)
    # Not fit(x, y, shuffle=True): with a global seed set, Keras 3.15 on TF 2.21 replays one row order in
    # every epoch (its shuffle op is re-created with the same seed each epoch), while the unseeded tutorial
    # reshuffles every epoch. A seeded tf.data shuffle that reshuffles on each iteration restores that.
    rows = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    batches = rows.shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True).batch(cfg.training.batch_size)
    fitted = model.fit(
        batches,
        epochs=cfg.training.epochs,
        shuffle=False,  # the dataset reshuffles itself; Keras ignores (and warns about) shuffle=True here
        verbose=verbose,
        callbacks=[TestCurve()] if record_curves else [],
    )
    train_loss, train_acc = model.evaluate(x_train, y_train, verbose=0)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    probs = model.predict(x_test, verbose=0)
    test_correct = int(np.sum(probs.argmax(1) == problem.y_test))
    epochs = cfg.training.epochs
    history = {k: np.full((1, epochs + 1), np.nan, np.float32) for k in HISTORY_KEYS}
    history["train_loss"][0, 0], history["train_accuracy"][0, 0] = start[0]
    history["test_loss"][0, 0], history["test_accuracy"][0, 0] = start[1]
    history["train_loss"][0, 1:] = fitted.history["loss"]
    history["train_accuracy"][0, 1:] = fitted.history["accuracy"]
    if record_curves:
        history["test_loss"][0, 1:], history["test_accuracy"][0, 1:] = np.array(test_curve).T
    final = {
        "train_loss": np.array([train_loss], np.float32),
        "train_accuracy": np.array([train_acc], np.float32),
        "test_loss": np.array([test_loss], np.float32),
        "test_accuracy": np.array([test_correct / len(problem.y_test)], np.float32),
        "test_correct": np.array([test_correct], np.int64),
    }
    weights = [(k[None], b[None]) for k, b in get_weights(model)]
    return TrainResult(weights, history, final)
