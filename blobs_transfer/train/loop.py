"""The training loop of the Numba engine, as plain Numba: a block of NL lanes (replicas) trained together.

Per epoch: each lane's rows reshuffled (drawn here from its seed by `orders`, or given explicitly for the
equality tests against the Keras loop); per minibatch: the gradient slots zeroed, each row of every lane's
order staged into the workspace and passed through the generated per-row body (`train_rows`: forward, loss,
backward, see `kernel`), then one step of the update rule (`update.step`); after the epoch: the running train
loss and accuracy (Keras's History: each minibatch's mean weighted by its size) and the test split measured.

`train_block` is inlined into the generated entry point of each architecture (`kernel_source`), which passes
its row functions in; so this file is ordinary code, and under NUMBA_DISABLE_JIT=1 it runs (slowly) as Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobs_transfer.train import update
from blobs_transfer.train.fastmath import F32, HELPER, INLINE
from blobs_transfer.train.kernel import LANES as NL
from blobs_transfer.train.orders import seed_state, shuffle_column


@njit(**INLINE)
def evaluate(evaluate_rows, offsets, ws, xs, ys, n_rows, out):
    """Mean loss, accuracy and correct count, out (3, NL), of every lane (weights in ws) on its first
    n_rows[r] rows of xs (rows, F, NL), ys (rows, NL). Inlined once, into the generated `evaluate`."""
    x_at, y_at, loss_at, hit_at = offsets[4], offsets[5], offsets[7], offsets[8]
    n_features = xs.shape[1]
    for r in range(NL):
        ws[loss_at * NL + r] = F32(0.0)
        ws[hit_at * NL + r] = F32(0.0)
    for i in range(n_rows.max()):
        for f in range(n_features):
            for r in range(NL):
                ws[(x_at + f) * NL + r] = xs[i, f, r]
        for r in range(NL):
            ws[y_at * NL + r] = F32(ys[i, r])
        evaluate_rows(ws, i, n_rows)
    for r in range(NL):
        out[0, r] = ws[loss_at * NL + r] / F32(n_rows[r])
        out[1, r] = ws[hit_at * NL + r] / F32(n_rows[r])
        out[2, r] = ws[hit_at * NL + r]


@njit(**HELPER)
def stage(x_train, y_train, x_test, y_test, data_of, lane_rows):
    """Every lane's data, lanes innermost: train xs (rows, F, NL), ys (rows, NL) and test xt, yt."""
    n_features, n_test = x_train.shape[2], x_test.shape[1]
    xs = np.zeros((lane_rows.max(), n_features, NL), np.float32)
    ys = np.zeros((lane_rows.max(), NL), np.int32)
    xt = np.empty((n_test, n_features, NL), np.float32)
    yt = np.empty((n_test, NL), np.int32)
    for r in range(NL):
        d = data_of[r]
        for i in range(lane_rows[r]):
            for f in range(n_features):
                xs[i, f, r] = x_train[d, i, f]
            ys[i, r] = y_train[d, i]
        for i in range(n_test):
            for f in range(n_features):
                xt[i, f, r] = x_test[d, i, f]
            yt[i, r] = y_test[d, i]
    return xs, ys, xt, yt


@njit(**INLINE)
def train_block(
    train_rows,
    evaluate,
    offsets,
    layer_of,
    x_train,
    y_train,
    n_rows,
    x_test,
    y_test,
    data_of,
    params,
    trainable,
    seeds,
    orders,
    epochs,
    batch_size,
    rule,
    hyper,
    history,
    final,
):
    """Train one block of NL lanes for `epochs` epochs; every output is written in place.

    train_rows(ws): the generated per-row body; evaluate(ws, xs, ys, n_rows, out): `evaluate` above with the
    generated row body; offsets: the workspace layout (`kernel.Workspace.offsets`); layer_of (P,): each
    parameter's layer.
    x_train (D, rows, F) float32 and y_train (D, rows) int32: D data sets; lane r trains on data set data_of[r]
    ((NL,) int64), its first n_rows[d] ((D,) int64) rows; x_test (D, n_test, F), y_test (D, n_test).
    params (P, NL) float32: the flat weights (see `kernel.layout`), in and out. trainable (n_layers, NL) bool.
    seeds (NL,) int64: each lane's order stream. orders (NL, epochs, rows) int32 explicit orders, or an array
    with a zero first axis to draw them from the seeds. rule, hyper: the update rule (`update.settings`).
    history (4, epochs + 1, NL) float32 out: column 0 before training, column e the running mean over epoch
    e's minibatches (train) and the test split after epoch e. final (5, NL) float32 out: the same four with the
    final weights, then the count of correct test rows.
    """
    n_params, grads, first, second, x_at, y_at, w_at, loss_at, hit_at, slots = offsets
    explicit = orders.shape[0] > 0
    n_features = x_train.shape[2]
    lane_rows = np.empty(NL, np.int64)
    for r in range(NL):
        lane_rows[r] = n_rows[data_of[r]]
    lane_test = np.full(NL, x_test.shape[1], np.int64)
    max_rows = lane_rows.max()
    n_batches = (max_rows + batch_size - 1) // batch_size
    xs, ys, xt, yt = stage(x_train, y_train, x_test, y_test, data_of, lane_rows)

    ws = np.zeros(slots * NL, np.float32)  # the optimizer's state starts at zero: a fresh optimizer
    can_move = np.zeros(n_params * NL, np.bool_)
    for p in range(n_params):
        for r in range(NL):
            can_move[p * NL + r] = trainable[layer_of[p], r]
            ws[p * NL + r] = params[p, r]
    measured = np.zeros((3, NL), np.float32)
    evaluate(ws, xs, ys, lane_rows, measured)
    history[0, 0, :] = measured[0]
    history[1, 0, :] = measured[1]
    evaluate(ws, xt, yt, lane_test, measured)
    history[2, 0, :] = measured[0]
    history[3, 0, :] = measured[1]

    states = np.empty(NL, np.uint64)
    perm = np.empty((max_rows, NL), np.int32)
    for r in range(NL):
        states[r] = seed_state(seeds[r])
        for i in range(max_rows):
            perm[i, r] = i
    batch_rows = np.zeros(NL, np.int64)
    row_weight = np.zeros(NL, np.float32)
    live = np.zeros(NL, np.bool_)
    steps = np.zeros(NL, np.int64)
    alpha = np.zeros(NL, np.float32)
    for e in range(epochs):
        for r in range(NL):
            if explicit:
                for i in range(lane_rows[r]):
                    perm[i, r] = orders[r, e, i]
            else:
                states[r] = shuffle_column(perm, r, lane_rows[r], states[r])
        for r in range(NL):
            ws[loss_at * NL + r] = F32(0.0)
            ws[hit_at * NL + r] = F32(0.0)
        for b in range(n_batches):
            start = b * batch_size
            for r in range(NL):
                batch_rows[r] = min(max(lane_rows[r] - start, 0), batch_size)
                row_weight[r] = F32(1.0) / F32(batch_rows[r]) if batch_rows[r] > 0 else F32(0.0)
                live[r] = batch_rows[r] > 0
            for p in range(n_params * NL):
                ws[grads * NL + p] = F32(0.0)
            for i in range(min(batch_size, max_rows - start)):
                row = start + i
                for r in range(NL):  # this row of every lane's order, staged where the row body reads it
                    src = perm[row, r]
                    for f in range(n_features):
                        ws[(x_at + f) * NL + r] = xs[src, f, r]
                    ws[y_at * NL + r] = F32(ys[src, r])
                    ws[w_at * NL + r] = row_weight[r] if i < batch_rows[r] else F32(0.0)
                train_rows(ws)
            update.step(ws, can_move, live, steps, alpha, n_params, grads, first, second, rule, hyper)
        for r in range(NL):
            history[0, e + 1, r] = ws[loss_at * NL + r] / F32(lane_rows[r])
            history[1, e + 1, r] = ws[hit_at * NL + r] / F32(lane_rows[r])
        evaluate(ws, xt, yt, lane_test, measured)
        history[2, e + 1, :] = measured[0]
        history[3, e + 1, :] = measured[1]

    evaluate(ws, xs, ys, lane_rows, measured)
    final[0, :] = measured[0]
    final[1, :] = measured[1]
    evaluate(ws, xt, yt, lane_test, measured)
    final[2, :] = measured[0]
    final[3, :] = measured[1]
    final[4, :] = measured[2]
    for p in range(n_params):
        for r in range(NL):
            params[p, r] = ws[p * NL + r]
