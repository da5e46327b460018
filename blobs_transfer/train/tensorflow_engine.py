"""The TensorFlow engine (`--engine tensorflow`): R independent replicas of the MLP trained as one batched
TensorFlow computation, the path that can use a GPU.

`train_replicas` here is the same computation as `engine.train_replicas` (the default, Numba engine), tested against the
same Keras loop. Each replica has its own starting weights, its own reshuffle of the training rows every epoch, its own
frozen layers, and takes steps of the update rule (SGD, momentum or Adam, as `update` has them) on the mean categorical
cross-entropy of its own minibatch, exactly as if it were trained alone by Keras: the sum of the replicas' losses has,
for each replica's weights, the gradient of that replica's loss alone. Kernels are stacked as (R, fan_in, fan_out), so
one batched matmul per layer serves every replica; it runs on a GPU when TensorFlow sees one. Replicas may also see
different data (another target problem, train size or spread: a sweep's cells trained together). The reference engine
(one `keras.Model.fit` per repeat) lives in `reference`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from blobs_transfer.model.backend import import_tensorflow

import_tensorflow()
import tensorflow as tf  # noqa: E402

from blobs_transfer.config import Optimizer  # noqa: E402
from blobs_transfer.model.arms import Weights  # noqa: E402
from blobs_transfer.problems import Problem  # noqa: E402
from blobs_transfer.seeds import replica_rngs  # noqa: E402
from blobs_transfer.train import update  # noqa: E402
from blobs_transfer.train.result import HISTORY_KEYS, TrainResult, batch_bounds  # noqa: E402

JIT = True
CACHED_STEPS = 8  # compiled steps kept for reuse (one per replica count and architecture)


def row_weights(n_train: int, batch_size: int, n_batches: int) -> np.ndarray:
    """(n_batches, batch_size): each real row of minibatch b weighs 1/len(b); padding rows weigh 0.

    Rows past n_train pad the last minibatch to full size (and a replica with fewer rows than another in
    the same computation gets whole batches of padding), so every step has one shape and the batch loop
    stays a loop. A step on a batch of padding has a zero gradient: the weights do not move.
    """
    weight = np.zeros((n_batches, batch_size), np.float32)
    for b, (start, stop) in enumerate(batch_bounds(n_train, batch_size)):
        weight[b, : stop - start] = 1.0 / (stop - start)
    return weight


def _forward(weights: Sequence[tuple[tf.Tensor, tf.Tensor]], x: tf.Tensor) -> tf.Tensor:
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
    y_onehot = tf.broadcast_to(y_onehot, tf.shape(logits))  # a shared eval split serves all replicas
    per_row = tf.nn.softmax_cross_entropy_with_logits(labels=y_onehot, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(y_onehot, -1)), tf.float32)
    return tf.reduce_mean(per_row, axis=-1), tf.reduce_sum(correct, axis=-1)


def _update(rule: int, var, grad, first, second, move, steps, hyper) -> None:
    """One step of the update rule, the same operations as `update.step` in the Numba engine (Keras's SGD, SGD
    with momentum, Adam; `rule` and `hyper` from `update.settings`), where `move` (the layer is trainable and the
    replica's batch has rows) allows; a tf.where, not a multiply by a mask, so frozen weights stay bit-identical
    even when a gradient is inf or NaN."""
    h = hyper  # an `update.Hyper` of float32 scalar tensors
    if rule == update.SGD:
        var.assign(tf.where(move, var - h.lr * grad, var))
        return
    if rule in (update.MOMENTUM, update.NESTEROV):
        m = first * h.mu - grad * h.lr
        step = m * h.mu - grad * h.lr if rule == update.NESTEROV else m
        first.assign(tf.where(move, m, first))
        var.assign(tf.where(move, var + step, var))
        return
    alpha = h.lr * tf.sqrt(1.0 - tf.pow(h.beta_2, steps)) / (1.0 - tf.pow(h.beta_1, steps))
    m = first + (grad - first) * h.c1
    v = second + (tf.square(grad) - second) * h.c2
    first.assign(tf.where(move, m, first))
    second.assign(tf.where(move, v, second))
    var.assign(tf.where(move, var - (m * alpha) / (tf.sqrt(v) + h.epsilon), var))


class _Step:
    """The compiled epoch and evaluation of R replicas of one architecture, kept for reuse.

    Tracing and compiling the epoch costs about a second; the data, masks and learning rate are arguments
    and the weights live in variables that each call overwrites, so a later call with the same shapes (the
    next cell of a sweep, the next chunk) reuses the compiled code.
    """

    def __init__(self, shapes: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], rule: int) -> None:
        self.variables = [(tf.Variable(tf.zeros(k)), tf.Variable(tf.zeros(b))) for k, b in shapes]
        flat_vars = [v for pair in self.variables for v in pair]
        # the optimizer's state (momentum, or Adam's m and v) and each replica's step count, zeroed per training
        self.state = [(tf.Variable(tf.zeros(v.shape)), tf.Variable(tf.zeros(v.shape))) for v in flat_vars]
        self.steps = tf.Variable(tf.zeros([shapes[0][0][0]]))

        @tf.function(jit_compile=JIT)
        def run_epoch(order, x_train, y_train, row_weight, n_train, x_test, y_test, masks, hyper):
            n_replicas, padded = order.shape
            n_batches, batch_size = row_weight.shape[-2:]
            per_replica = len(x_train.shape) == 3
            rows = tf.gather(x_train, order, batch_dims=1) if per_replica else tf.gather(x_train, order)
            labels = tf.gather(y_train, order, batch_dims=1) if per_replica else tf.gather(y_train, order)
            xs = tf.reshape(rows, [n_replicas, n_batches, batch_size, -1])
            ys = tf.reshape(labels, [n_replicas, n_batches, batch_size, -1])
            loss_sum = tf.zeros([n_replicas])
            correct_sum = tf.zeros([n_replicas])
            for b in tf.range(n_batches):
                xb, yb = xs[:, b], ys[:, b]
                w = row_weight[:, b] if per_replica else row_weight[b]
                with tf.GradientTape() as tape:
                    logits = _forward(self.variables, xb)
                    per_row = tf.nn.softmax_cross_entropy_with_logits(labels=yb, logits=logits)
                    loss = tf.reduce_sum(per_row * w, axis=-1)  # (R,) each replica's mean loss on its batch
                    total = tf.reduce_sum(loss)  # replicas share no weights: d total / d w_r = d loss_r / d w_r
                grads = tape.gradient(total, flat_vars)
                live = tf.broadcast_to(tf.reduce_sum(w, axis=-1) > 0, [n_replicas])  # the batch has rows
                self.steps.assign_add(tf.cast(live, tf.float32))
                for var, grad, mask, (first, second) in zip(flat_vars, grads, masks, self.state):
                    by_replica = [-1] + [1] * (len(var.shape) - 1)
                    move = tf.logical_and(mask, tf.reshape(live, by_replica))
                    _update(rule, var, grad, first, second, move, tf.reshape(self.steps, by_replica), hyper)
                hit = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(yb, -1)), tf.float32)
                real = tf.cast(w > 0, tf.float32)
                loss_sum += tf.reduce_sum(per_row * real, axis=-1)  # Keras weights each batch's loss by its size
                correct_sum += tf.reduce_sum(hit * real, axis=-1)
            test_loss, test_correct = _loss_and_correct(_forward(self.variables, x_test), y_test)
            return loss_sum / n_train, correct_sum / n_train, test_loss, test_correct

        @tf.function  # called twice per training: compiling it with XLA would cost more than it saves
        def evaluate(x, y):
            return _loss_and_correct(_forward(self.variables, x), y)

        self.run_epoch, self.evaluate = run_epoch, evaluate


@tf.function
def _evaluate(weights, x, y):
    """`_Step.evaluate` with the weights as an argument: a subset of the replicas."""
    return _loss_and_correct(_forward(weights, x), y)


_steps: OrderedDict[tuple, _Step] = OrderedDict()


def _step_for(initial: Weights, rule: int) -> _Step:
    """The cached compiled step for these weight shapes and update rule (least recently used ones are
    dropped), its weights set to `initial` and its optimizer state to zero."""
    key = (tuple((k.shape, b.shape) for k, b in initial), rule)
    if key in _steps:
        _steps.move_to_end(key)
    else:
        _steps[key] = _Step(key[0], rule)
        while len(_steps) > CACHED_STEPS:
            _steps.popitem(last=False)
    step = _steps[key]
    for (kernel, bias), (k, b) in zip(step.variables, initial):
        kernel.assign(np.asarray(k, np.float32))
        bias.assign(np.asarray(b, np.float32))
    for first, second in step.state:
        first.assign(tf.zeros(first.shape))
        second.assign(tf.zeros(second.shape))
    step.steps.assign(tf.zeros(step.steps.shape))
    return step


def _stack_data(problems: Sequence[Problem], batch_size: int):
    """Every replica's data padded to one shape: x_train (R, rows, features), y_train (R, rows, classes),
    row weights (R, batches, batch_size), n_train (R,), x_test (R, n_test, features), y_test (R, n_test,
    classes); rows = batches x batch_size for the largest train split."""
    n_trains = np.array([p.x_train.shape[0] for p in problems])
    n_tests = {p.x_test.shape[0] for p in problems}
    if len(n_tests) != 1:
        raise ValueError(f"replicas trained together need test splits of one size, got {sorted(n_tests)}")
    n_batches = -(-int(n_trains.max()) // batch_size)
    padded = n_batches * batch_size
    x_train = np.zeros((len(problems), padded, problems[0].x_train.shape[1]), np.float32)
    y_train = np.zeros((len(problems), padded, problems[0].y_train_onehot.shape[1]), np.float32)
    for r, p in enumerate(problems):
        x_train[r, : n_trains[r]] = p.x_train
        y_train[r, : n_trains[r]] = p.y_train_onehot
    weight = np.stack([row_weights(int(n), batch_size, n_batches) for n in n_trains])
    x_test = np.stack([p.x_test for p in problems]).astype(np.float32)
    y_test = np.stack([p.y_test_onehot for p in problems]).astype(np.float32)
    return x_train, y_train, weight, n_trains.astype(np.float32), x_test, y_test


def train_replicas(
    problem: Problem | Sequence[Problem],
    initial: Weights,
    trainable: np.ndarray,
    seeds: np.ndarray | list[int],
    *,
    epochs: int,
    batch_size: int,
    optimizer: Optimizer = Optimizer(),
    orders: np.ndarray | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train R replicas together; evaluate each on its test split every epoch.

    problem: one problem that every replica trains on, or a sequence of R problems, one per replica (train
    sizes may differ; test splits must have one size). initial: per layer (kernel (R, fan_in, fan_out),
    bias (R, fan_out)); trainable: (R, n_layers) bool; seeds: (R,) replica seeds that fix each replica's
    minibatch order (see `epoch_orders`), unless `orders` (R, epochs, n_train) gives the orders explicitly
    (one problem only). optimizer: the update rule (default: the tutorial's plain SGD at 0.01), its state
    fresh for every training. on_epoch(e) is called after each epoch.
    """
    n_replicas = initial[0][0].shape[0]
    trainable = np.asarray(trainable, dtype=bool).reshape(n_replicas, len(initial))
    per_replica = not isinstance(problem, Problem)
    if per_replica:
        if len(problem) != n_replicas:
            raise ValueError(f"{len(problem)} problems for {n_replicas} replicas")
        if orders is not None:
            raise ValueError("explicit orders need one shared problem")
        x_train, y_train, weight, n_train, x_test, y_test = _stack_data(problem, batch_size)
        n_trains, divisor = n_train.astype(int), n_train
    else:
        n = problem.x_train.shape[0]
        n_batches = -(-n // batch_size)
        x_train, y_train = problem.x_train.astype(np.float32), problem.y_train_onehot.astype(np.float32)
        weight = row_weights(n, batch_size, n_batches)
        n_train = np.float32(n)
        x_test, y_test = problem.x_test.astype(np.float32), problem.y_test_onehot.astype(np.float32)
        n_trains, divisor = np.full(n_replicas, n), n
    padded = weight.shape[-2] * batch_size
    n_test = np.float32(x_test.shape[-2])
    if orders is None:
        order_rngs = [replica_rngs(int(s))[1] for s in seeds]
    data = [tf.constant(a) for a in (x_train, y_train, weight, n_train, x_test, y_test)]
    x_train, y_train, weight, n_train, x_test, y_test = data
    masks = []
    for i in range(len(initial)):
        masks += [tf.constant(trainable[:, i, None, None]), tf.constant(trainable[:, i, None])]
    rule, hyper = update.settings(optimizer)
    hyper = update.Hyper(*(tf.constant(value) for value in hyper))  # passed to the compiled epoch by name
    step = _step_for(initial, rule)

    def epoch_order(e: int) -> np.ndarray:
        order = np.zeros((n_replicas, padded), np.int32)  # padding rows read row 0, with weight 0
        for r in range(n_replicas):
            order[r, : n_trains[r]] = orders[r, e] if orders is not None else order_rngs[r].permutation(n_trains[r])
        return order

    def record(e: int, train_loss, train_accuracy, test_loss, test_correct) -> None:
        history["train_loss"][:, e] = train_loss
        history["train_accuracy"][:, e] = train_accuracy
        history["test_loss"][:, e] = test_loss
        history["test_accuracy"][:, e] = test_correct / n_test

    def measure() -> tuple[np.ndarray, ...]:
        """Loss and accuracy on each replica's whole train split (padding excluded), and on its test split."""
        if per_replica:  # replicas with one train size at a time, on their real rows only
            train_loss, train_correct = np.empty(n_replicas, np.float32), np.empty(n_replicas, np.float32)
            for n in np.unique(n_trains):
                idx = np.flatnonzero(n_trains == n)
                weights = [(tf.gather(k, idx), tf.gather(b, idx)) for k, b in step.variables]
                loss, correct = _evaluate(weights, tf.gather(x_train, idx)[:, :n], tf.gather(y_train, idx)[:, :n])
                train_loss[idx], train_correct[idx] = loss.numpy(), correct.numpy()
        else:
            train_loss, train_correct = (t.numpy() for t in step.evaluate(x_train, y_train))
        test_loss, test_correct = step.evaluate(x_test, y_test)
        return (train_loss, train_correct / divisor, test_loss.numpy(), test_correct.numpy())

    history = {k: np.empty((n_replicas, epochs + 1), np.float32) for k in HISTORY_KEYS}
    record(0, *measure())
    # Drawing every replica's permutation is Python work as long as an epoch's training: one thread draws
    # epoch e + 1's orders (in epoch order, so each replica's stream is the same) while TensorFlow trains e.
    with ThreadPoolExecutor(max_workers=1) as drawer:
        next_order = drawer.submit(epoch_order, 0)
        for e in range(epochs):
            order = next_order.result()
            if e + 1 < epochs:
                next_order = drawer.submit(epoch_order, e + 1)
            outputs = step.run_epoch(
                tf.constant(order), x_train, y_train, weight, n_train, x_test, y_test, masks, hyper
            )
            record(e + 1, *(t.numpy() for t in outputs))
            if on_epoch is not None:
                on_epoch(e + 1)
    train_loss, train_accuracy, test_loss, test_correct = measure()
    final = {
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        "test_loss": test_loss,
        "test_accuracy": test_correct / n_test,
        "test_correct": np.rint(test_correct).astype(np.int64),
    }
    weights = [(k.numpy(), b.numpy()) for k, b in step.variables]
    return TrainResult(weights, history, final)
