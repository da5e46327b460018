"""The training loop of the Numba engine, as plain Numba: a block of LANES lanes (replicas) trained together.

Per epoch: each lane's rows reshuffled (drawn here from its seed by `orders`, or given explicitly for the
equality tests against the Keras loop) and gathered in that order into one contiguous buffer; per minibatch:
the gradient slots zeroed, each row of every lane staged into the workspace (one copy) and passed through the
generated per-row body (`train_rows`: forward, loss, backward, see `kernel`), then one step of the update rule
(`update.step`); after the epoch: the running train loss and accuracy (Keras's History: each minibatch's mean
weighted by its size) and the test split measured.

`train_block` is inlined into the generated entry point of each architecture (`kernel_source`), which passes
its row functions in; so this file is ordinary code, and under NUMBA_DISABLE_JIT=1 it runs (slowly) as Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from blobs_transfer.train import update
from blobs_transfer.train.fastmath import F32, HELPER, INLINE
from blobs_transfer.train.kernel import LANES
from blobs_transfer.train.orders import seed_state, shuffle_lanes


@njit(**INLINE)
def evaluate(evaluate_rows, offsets, ws, rows, n_rows, out):
    """Mean loss, accuracy and correct count, out (3, LANES), of every lane (weights in ws) on its first
    n_rows[r] rows of `rows` (rows, F + 2, LANES): each row's inputs, label and real-row flag, in the
    workspace's order from slot offsets.x (`stage`), so staging a row is one contiguous copy. Inlined once,
    into the generated `evaluate`."""
    row_at, row_size = offsets.x * LANES, rows.shape[1] * LANES
    for r in range(LANES):
        ws[offsets.loss * LANES + r] = F32(0.0)
        ws[offsets.hit * LANES + r] = F32(0.0)
    flat = rows.reshape(rows.shape[0], row_size)
    for i in range(rows.shape[0]):
        for k in range(row_size):
            ws[row_at + k] = flat[i, k]
        evaluate_rows(ws)
    for r in range(LANES):
        out[0, r] = ws[offsets.loss * LANES + r] / F32(n_rows[r])
        out[1, r] = ws[offsets.hit * LANES + r] / F32(n_rows[r])
        out[2, r] = ws[offsets.hit * LANES + r]


@njit(**HELPER)
def stage(x, y, data_of, lane_rows, n_rows):
    """Every lane's rows of its data set data_of[r] ((D, rows, F) inputs x, (D, rows) labels y), lanes innermost:
    (n_rows, F + 2, LANES) float32, per row the inputs, the label as a float, and a flag, 1 for the lane's first
    lane_rows[r] rows (real) and 0 after them (padding: zeros)."""
    n_features = x.shape[2]
    out = np.zeros((n_rows, n_features + 2, LANES), np.float32)
    for r in range(LANES):
        d = data_of[r]
        for i in range(lane_rows[r]):
            for f in range(n_features):
                out[i, f, r] = x[d, i, f]
            out[i, n_features, r] = F32(y[d, i])
            out[i, n_features + 1, r] = F32(1.0)
    return out


@njit(**HELPER)
def by_lane(rows, lane_rows):
    """The inputs and labels of `rows` (`stage`) lane by lane, (LANES, rows, F + 1): what `gather` reads, each
    lane's rows in one short run of memory."""
    n_values = rows.shape[1] - 1
    out = np.zeros((LANES, rows.shape[0], n_values), np.float32)
    for r in range(LANES):
        for i in range(lane_rows[r]):
            for f in range(n_values):
                out[r, i, f] = rows[i, f, r]
    return out


@njit(**HELPER)
def gather(lane_data, perm, lane_rows, epoch_rows):
    """epoch_rows[i, :F + 1, r] = lane_data[r, perm[r, i]]: every lane's real rows in this epoch's order (inputs
    and label; the weight slot, the last, and the padding rows past lane_rows[r] are left as they are)."""
    n_values = lane_data.shape[2]
    for r in range(LANES):
        for i in range(lane_rows[r]):
            src = perm[r, i]
            for f in range(n_values):
                epoch_rows[i, f, r] = lane_data[r, src, f]


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
    """Train one block of LANES lanes for `epochs` epochs; every output is written in place.

    train_rows(ws): the generated per-row body; evaluate(ws, rows, n_rows, out): `evaluate` above with the
    generated row body; offsets: the workspace layout (`kernel.Offsets`); layer_of (P,): each parameter's layer.
    x_train (D, rows, F) float32 and y_train (D, rows) int32: D data sets; lane r trains on data set data_of[r]
    ((LANES,) int64), its first n_rows[d] ((D,) int64) rows; x_test (D, n_test, F), y_test (D, n_test).
    params (P, LANES) float32: the flat weights (see `kernel.layout`), in and out. trainable (n_layers, LANES)
    bool. seeds (LANES,) int64: each lane's order stream. orders (LANES, epochs, rows) int32 explicit orders, or
    an array with a zero first axis to draw them from the seeds. rule, hyper: the update rule (`update.settings`).
    history (4, epochs + 1, LANES) float32 out: column 0 before training, column e the running mean over epoch
    e's minibatches (train) and the test split after epoch e. final (5, LANES) float32 out: the same four with
    the final weights, then the count of correct test rows.
    """
    n_params = offsets.n_params
    explicit = orders.shape[0] > 0
    lane_rows = np.empty(LANES, np.int64)
    for r in range(LANES):
        lane_rows[r] = n_rows[data_of[r]]
    lane_test = np.full(LANES, x_test.shape[1], np.int64)
    max_rows = lane_rows.max()
    n_batches = (max_rows + batch_size - 1) // batch_size
    rows = stage(x_train, y_train, data_of, lane_rows, max_rows)  # the train split in its own order
    test_rows = stage(x_test, y_test, data_of, lane_test, x_test.shape[1])

    ws = np.zeros(offsets.slots * LANES, np.float32)  # the optimizer's state starts at zero: a fresh optimizer
    can_move = np.zeros(n_params * LANES, np.float32)  # 1 where the weight's layer trains in the lane, else 0
    for p in range(n_params):
        for r in range(LANES):
            can_move[p * LANES + r] = F32(1.0) if trainable[layer_of[p], r] else F32(0.0)
            ws[p * LANES + r] = params[p, r]
    measured = np.zeros((3, LANES), np.float32)
    evaluate(ws, rows, lane_rows, measured)
    history[0, 0, :] = measured[0]
    history[1, 0, :] = measured[1]
    evaluate(ws, test_rows, lane_test, measured)
    history[2, 0, :] = measured[0]
    history[3, 0, :] = measured[1]

    # This epoch's rows, gathered in its order once per epoch so that staging a row for the body is one
    # contiguous copy; the last slot holds each row's weight in its minibatch (1 / the minibatch's rows of the
    # lane, 0 past the lane's rows), the same every epoch.
    epoch_rows = rows.copy()
    live = np.zeros((n_batches, LANES), np.bool_)
    for b in range(n_batches):
        start = b * batch_size
        for r in range(LANES):
            batch_rows = min(max(lane_rows[r] - start, 0), batch_size)
            row_weight = F32(1.0) / F32(batch_rows) if batch_rows > 0 else F32(0.0)
            live[b, r] = batch_rows > 0
            for i in range(min(batch_size, max_rows - start)):
                epoch_rows[start + i, -1, r] = row_weight if i < batch_rows else F32(0.0)
    lane_data = by_lane(rows, lane_rows)
    states = np.empty(LANES, np.uint64)
    perm = np.empty((LANES, max_rows), np.int32)  # each lane's order, continued from epoch to epoch
    for r in range(LANES):
        states[r] = seed_state(seeds[r])
        for i in range(max_rows):
            perm[r, i] = i
    steps = np.zeros(LANES, np.int64)
    alpha = np.zeros(LANES, np.float32)
    row_at, row_size = offsets.x * LANES, epoch_rows.shape[1] * LANES
    flat = epoch_rows.reshape(max_rows, row_size)
    for e in range(epochs):
        if explicit:
            for r in range(LANES):
                for i in range(lane_rows[r]):
                    perm[r, i] = orders[r, e, i]
        else:
            shuffle_lanes(perm, lane_rows, states)
        gather(lane_data, perm, lane_rows, epoch_rows)
        for r in range(LANES):
            ws[offsets.loss * LANES + r] = F32(0.0)
            ws[offsets.hit * LANES + r] = F32(0.0)
        for b in range(n_batches):
            start = b * batch_size
            for p in range(n_params * LANES):
                ws[offsets.grads * LANES + p] = F32(0.0)
            for row in range(start, min(start + batch_size, max_rows)):
                for k in range(row_size):  # this row of every lane's order, where the row body reads it
                    ws[row_at + k] = flat[row, k]
                train_rows(ws)
            update.step(ws, can_move, live[b], steps, alpha, offsets, rule, hyper)
        for r in range(LANES):
            history[0, e + 1, r] = ws[offsets.loss * LANES + r] / F32(lane_rows[r])
            history[1, e + 1, r] = ws[offsets.hit * LANES + r] / F32(lane_rows[r])
        evaluate(ws, test_rows, lane_test, measured)
        history[2, e + 1, :] = measured[0]
        history[3, e + 1, :] = measured[1]

    evaluate(ws, rows, lane_rows, measured)
    final[0, :] = measured[0]
    final[1, :] = measured[1]
    evaluate(ws, test_rows, lane_test, measured)
    final[2, :] = measured[0]
    final[3, :] = measured[1]
    final[4, :] = measured[2]
    for p in range(n_params):
        for r in range(LANES):
            params[p, r] = ws[p * LANES + r]
