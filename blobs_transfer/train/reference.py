"""The reference engine (`--engine keras`): one real `keras.Model.fit` per repeat, as the tutorial trains.

Every faster engine is tested against this loop. TensorFlow and Keras are imported with this module.
"""

from __future__ import annotations

import numpy as np

from blobs_transfer.model.backend import import_tensorflow

import_tensorflow()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from blobs_transfer.config import Arm, Config  # noqa: E402
from blobs_transfer.model import arms  # noqa: E402
from blobs_transfer.model.arms import Weights  # noqa: E402
from blobs_transfer.model.keras_model import build_mlp, compile_model, get_weights  # noqa: E402
from blobs_transfer.problems import Problem  # noqa: E402
from blobs_transfer.train.result import HISTORY_KEYS, TrainResult  # noqa: E402


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


def fit_one(cfg: Config, problem: Problem, arm: Arm, source: Weights | None, seed: int, progress=None) -> TrainResult:
    """One repeat of an arm, trained from scratch by Keras (its fresh layers drawn by Keras's own initialisers)."""
    keras.utils.set_random_seed(seed)  # Keras's own initialisers draw the fresh layers
    model = build_mlp(cfg, arm)
    if arm.init == "weight_stats":  # the copied layers' draws, exactly as the vectorised engine starts them
        source = arms.initial_weights(cfg, arm, source, arms.replica_rngs(seed)[0])
    for layer, (kernel, bias) in zip(model.layers[: cfg.copied_layers(arm)], source or []):
        layer.set_weights([kernel, bias])
    compile_model(model, cfg, fixed=arm.fixed)
    result = fit_keras(model, problem, cfg, seed)
    if progress:
        progress(cfg.training.epochs)
    return result
