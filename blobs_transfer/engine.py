"""Training engines: R independent replicas of the MLP trained as one batched TensorFlow computation.

`train_replicas` is the fast engine. Each replica has its own starting weights, its own reshuffle of the
training rows every epoch, its own frozen layers, and takes plain SGD steps on the mean categorical
cross-entropy of its own minibatch, exactly as if it were trained alone by Keras: the sum of the replicas'
losses has, for each replica's weights, the gradient of that replica's loss alone. Kernels are stacked as
(R, fan_in, fan_out), so one batched matmul per layer serves every replica; it runs on a GPU when TensorFlow
sees one. The reference engine (one `keras.Model.fit` per repeat) lives in `models.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import tensorflow as tf

from .arms import Weights, replica_rngs
from .problems import Problem

JIT = True
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
    """(epochs, n_train) row orders of one replica: a fresh permutation every epoch, from its seed alone."""
    _, order_rng = replica_rngs(seed)
    return np.stack([order_rng.permutation(n_train) for _ in range(epochs)]).astype(np.int32)


def batch_bounds(n_train: int, batch_size: int) -> list[tuple[int, int]]:
    """Keras's minibatches: 500 rows in batches of 32 -> 15 of 32 and a last one of 20."""
    return [(start, min(start + batch_size, n_train)) for start in range(0, n_train, batch_size)]


def _forward(weights: list[tuple[tf.Variable, tf.Variable]], x: tf.Tensor) -> tf.Tensor:
    """Logits (R, rows, classes) for x of shape (R, rows, features) or (rows, features) shared by all."""
    h = x
    for i, (kernel, bias) in enumerate(weights):
        if len(h.shape) == 2:
            h = h[None]
        # broadcast-multiply-sum: for fan-ins of 2-5 this beats R tiny batched matmuls on a CPU
        h = tf.reduce_sum(h[..., :, None] * kernel[:, None, :, :], axis=-2) + bias[:, None, :]
        if i < len(weights) - 1:
            h = tf.nn.relu(h)
    return h


def _loss_and_correct(logits: tf.Tensor, y_onehot: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-replica mean cross-entropy (from logits, as Keras does after a softmax layer) and correct count."""
    y_onehot = tf.broadcast_to(y_onehot, tf.shape(logits))  # the eval split is shared by all replicas
    per_row = tf.nn.softmax_cross_entropy_with_logits(labels=y_onehot, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(y_onehot, -1)), tf.float32)
    return tf.reduce_mean(per_row, axis=-1), tf.reduce_sum(correct, axis=-1)


def train_replicas(
    problem: Problem,
    initial: Weights,
    trainable: np.ndarray,
    seeds: np.ndarray | list[int],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    orders: np.ndarray | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train R replicas together on `problem`'s train split; evaluate on its test split every epoch.

    initial: per layer (kernel (R, fan_in, fan_out), bias (R, fan_out)); trainable: (R, n_layers) bool;
    seeds: (R,) replica seeds that fix each replica's minibatch order (see `epoch_orders`), unless
    `orders` (R, epochs, n_train) gives the orders explicitly. on_epoch(e) is called after each epoch.
    """
    n_replicas = initial[0][0].shape[0]
    n_train = problem.x_train.shape[0]
    trainable = np.asarray(trainable, dtype=bool).reshape(n_replicas, len(initial))
    if orders is None:
        order_rngs = [replica_rngs(int(s))[1] for s in seeds]
    x_train = tf.constant(problem.x_train, tf.float32)
    y_train = tf.constant(problem.y_train_onehot, tf.float32)
    x_test = tf.constant(problem.x_test, tf.float32)
    y_test = tf.constant(problem.y_test_onehot, tf.float32)
    n_test = float(problem.x_test.shape[0])
    variables = [(tf.Variable(k, dtype=tf.float32), tf.Variable(b, dtype=tf.float32)) for k, b in initial]
    masks = [
        (tf.constant(trainable[:, i, None, None]), tf.constant(trainable[:, i, None]))
        for i in range(len(initial))
    ]
    flat_vars = [v for pair in variables for v in pair]
    flat_masks = [m for pair in masks for m in pair]
    lr = tf.constant(learning_rate, tf.float32)
    bounds = batch_bounds(n_train, batch_size)

    n_batches = -(-n_train // batch_size)
    padded = n_batches * batch_size
    # Rows past n_train pad the last minibatch to full size with weight 0, so every step has one shape and
    # the batch loop stays a loop (small graph, quick to compile); each row of batch b weighs 1/len(b).
    row_weight = np.zeros((n_batches, batch_size), np.float32)
    for b, (start, stop) in enumerate(bounds):
        row_weight[b, : stop - start] = 1.0 / (stop - start)
    row_weight = tf.constant(row_weight)
    pad = padded - n_train

    @tf.function(jit_compile=JIT)
    def run_epoch(order: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        order = tf.pad(order, [[0, 0], [0, pad]])
        xs = tf.reshape(tf.gather(x_train, order), [n_replicas, n_batches, batch_size, -1])
        ys = tf.reshape(tf.gather(y_train, order), [n_replicas, n_batches, batch_size, -1])
        loss_sum = tf.zeros([n_replicas])
        correct_sum = tf.zeros([n_replicas])
        for b in tf.range(n_batches):
            xb, yb, w = xs[:, b], ys[:, b], row_weight[b]
            with tf.GradientTape() as tape:
                logits = _forward(variables, xb)
                per_row = tf.nn.softmax_cross_entropy_with_logits(labels=yb, logits=logits)
                loss = tf.reduce_sum(per_row * w, axis=-1)  # (R,) each replica's mean loss on its batch
                total = tf.reduce_sum(loss)  # replicas share no weights: d total / d w_r = d loss_r / d w_r
            grads = tape.gradient(total, flat_vars)
            for var, grad, mask in zip(flat_vars, grads, flat_masks):
                # where(), not mask * grad: a frozen layer stays bit-identical even if a gradient is inf/NaN
                var.assign(tf.where(mask, var - lr * grad, var))
            hit = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(yb, -1)), tf.float32)
            real = tf.cast(w > 0, tf.float32)
            loss_sum += tf.reduce_sum(per_row * real, axis=-1)  # Keras weights each batch's loss by its size
            correct_sum += tf.reduce_sum(hit * real, axis=-1)
        test_loss, test_correct = _loss_and_correct(_forward(variables, x_test), y_test)
        return loss_sum / n_train, correct_sum / n_train, test_loss, test_correct

    @tf.function  # called twice per training: compiling it with XLA would cost more than it saves
    def evaluate(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return _loss_and_correct(_forward(variables, x), y)

    def record(e: int, train_loss, train_accuracy, test_loss, test_correct) -> None:
        history["train_loss"][:, e] = train_loss
        history["train_accuracy"][:, e] = train_accuracy
        history["test_loss"][:, e] = test_loss
        history["test_accuracy"][:, e] = test_correct / n_test

    history = {k: np.empty((n_replicas, epochs + 1), np.float32) for k in HISTORY_KEYS}
    train_loss, train_correct = (t.numpy() for t in evaluate(x_train, y_train))
    test_loss, test_correct = (t.numpy() for t in evaluate(x_test, y_test))
    record(0, train_loss, train_correct / n_train, test_loss, test_correct)
    for e in range(epochs):
        if orders is None:
            order = np.stack([rng.permutation(n_train) for rng in order_rngs]).astype(np.int32)
        else:
            order = np.asarray(orders[:, e], dtype=np.int32)
        record(e + 1, *(t.numpy() for t in run_epoch(tf.constant(order))))
        if on_epoch is not None:
            on_epoch(e + 1)
    train_loss, train_correct = (t.numpy() for t in evaluate(x_train, y_train))
    test_loss, test_correct = (t.numpy() for t in evaluate(x_test, y_test))
    final = {
        "train_loss": train_loss,
        "train_accuracy": train_correct / n_train,
        "test_loss": test_loss,
        "test_accuracy": test_correct / n_test,
        "test_correct": np.rint(test_correct).astype(np.int64),
    }
    weights = [(k.numpy(), b.numpy()) for k, b in variables]
    return TrainResult(weights, history, final)
