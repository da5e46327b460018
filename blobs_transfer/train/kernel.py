"""The CPU training kernel: a block of LANES replicas of the MLP trained with plain SGD, compiled by Numba.

Replicas sit on the innermost axis of every array, so each arithmetic step is one SIMD instruction over the
block; a replica's own numbers never meet another's. Every replica takes exactly the same sequence of
floating-point operations whatever else is in its block (blocks always have LANES lanes, padded with dummy
replicas, so no lane falls into a scalar remainder loop), and blocks are independent: a replica's results are
bit for bit the same for any number of threads, chunk size or company (tests/train/test_engine.py).

The maths is Keras's: Dense layers, relu hidden layers, a softmax output trained on the categorical
cross-entropy (its gradient with respect to the logits is softmax - onehot), the mean over each minibatch's
real rows, `w -= lr * grad` after every minibatch, frozen layers left untouched, and rows reshuffled every
epoch. Minibatch orders are drawn here, from each replica's seed (a splitmix64 stream and a Fisher-Yates
shuffle), so no Python work is done per replica or epoch; explicit orders can be given for the equality
tests against the Keras loop.

`exp` and `log` are written out in `fastmath` (Numba has no vectorised libm), where the kernel's Numba settings
live too; the minibatch orders are drawn by `orders`.

The training loop itself is generated per architecture (`kernel_source`); `engine.compiled_kernel` writes it to
a module file and Numba caches its compiled code on disk beside that file.
"""

from __future__ import annotations

LANES = 32  # replicas per block: a multiple of the SIMD width (16 float32 lanes on AVX-512, 8 on AVX2)
# What vectorises is a loop over lanes whose body is the whole network for one row, every activation a local
# scalar: the lanes become SIMD lanes and the network lives in registers. Loops over units around or inside
# the lane loop do not (10-50x slower, measured: per-loop overhead, and unrolled constant-trip loops that the
# SLP vectoriser cannot prove free of aliasing). So the body is generated for each architecture (its layer
# sizes), written to a module file, and compiled by Numba with its disk cache like any other source.


def layout(shapes: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Per layer (fan_in, fan_out, kernel offset, bias offset) in the flat parameter vector: the kernel is
    fan_in x fan_out, row-major, followed by the bias."""
    out, offset = [], 0
    for fan_in, fan_out in shapes:
        out.append((fan_in, fan_out, offset, offset + fan_in * fan_out))
        offset += (fan_in + 1) * fan_out
    return out


class _Workspace:
    """Offsets in the flat workspace `ws` of the generated kernel: lane r of slot s is ws[s * LANES + r].

    Every value a lane loop writes lives in this one float32 array, at constant offsets: LLVM then sees one
    object whose accesses it can tell apart at compile time, where separate arrays (or rows of a 2-D array
    with a run-time stride) need a run-time overlap check each, and past 8 of them it gives up vectorising
    ("too many memory checks needed")."""

    def __init__(self, shapes):
        self.n_params = sum((fan_in + 1) * fan_out for fan_in, fan_out in shapes)
        n_features = shapes[0][0]
        self.params, self.grads = 0, self.n_params
        self.x = 2 * self.n_params  # this row's inputs, one slot per feature
        self.y = self.x + n_features  # its label, as a float
        self.w = self.y + 1  # its weight: 1 / rows in the minibatch, 0 for padding
        self.loss, self.hit = self.w + 1, self.w + 2  # sums over the epoch (or the evaluated split)
        self.slots = self.hit + 1

    def at(self, slot: int) -> str:
        return f"ws[{slot * LANES} + r]"


def _forward_lines(shapes, ws: _Workspace) -> list[str]:
    """One lane's logits z0.. from the inputs in the workspace; hidden activations a{l}_{j} (layer l = 1..)."""
    lines = [f"x{f} = {ws.at(ws.x + f)}" for f in range(shapes[0][0])]
    prev = [f"x{f}" for f in range(shapes[0][0])]
    lay = layout(shapes)
    for l, (fan_in, fan_out, ko, bo) in enumerate(lay):
        last = l == len(lay) - 1
        names = [f"z{j}" if last else f"a{l + 1}_{j}" for j in range(fan_out)]
        for j, name in enumerate(names):
            terms = " + ".join(f"{prev[k]} * {ws.at(ko + k * fan_out + j)}" for k in range(fan_in))
            lines.append(f"{name} = {ws.at(bo + j)} + {terms}")
            if not last:  # relu; NaN stays NaN
                lines.append(f"{name} = F32(0.0) if {name} < F32(0.0) else {name}")
        prev = names
    return lines


def _softmax_lines(n_classes) -> list[str]:
    """From logits z0.. and label y (a float): e{c} (unnormalised softmax), s, inv = 1/s, loss, hit (the first
    largest logit is the label, tf.argmax's rule)."""
    lines = ["m = z0", "best = F32(0.0)", "zy = z0"]
    for c in range(1, n_classes):
        lines += [f"bigger = z{c} > m", f"m = z{c} if bigger else m", f"best = F32({c}.0) if bigger else best",
                  f"zy = z{c} if y == F32({c}.0) else zy"]
    lines.append("best = best if m == m else F32(-1.0)  # a NaN logit: no class is predicted")
    lines += [f"e{c} = fast_exp(z{c} - m)" for c in range(n_classes)]
    lines.append("s = " + " + ".join(f"e{c}" for c in range(n_classes)))
    lines += ["inv = F32(1.0) / s", "loss = fast_log(s) - (zy - m)", "hit = F32(1.0) if best == y else F32(0.0)"]
    return lines


def _backward_lines(shapes, ws: _Workspace) -> list[str]:
    """One row's gradient (row weight w) added to the gradient slots of every layer, frozen or not (the update
    leaves frozen weights alone)."""
    lay = layout(shapes)
    n_layers, n_classes = len(lay), lay[-1][1]
    lines = [f"d{n_layers}_{c} = (e{c} * inv - (F32(1.0) if y == F32({c}.0) else F32(0.0))) * w"
             for c in range(n_classes)]
    for l in range(n_layers - 1, -1, -1):
        fan_in, fan_out, ko, bo = lay[l]
        inputs = [f"x{k}" for k in range(fan_in)] if l == 0 else [f"a{l}_{k}" for k in range(fan_in)]
        for j in range(fan_out):
            lines.append(f"{ws.at(ws.grads + bo + j)} += d{l + 1}_{j}")
            for k in range(fan_in):
                lines.append(f"{ws.at(ws.grads + ko + k * fan_out + j)} += {inputs[k]} * d{l + 1}_{j}")
        if l > 0:  # back through this layer's kernel and the relu below it
            for k in range(fan_in):
                terms = " + ".join(f"{ws.at(ko + k * fan_out + j)} * d{l + 1}_{j}" for j in range(fan_out))
                lines.append(f"d{l}_{k} = {terms}")
                lines.append(f"d{l}_{k} = d{l}_{k} if a{l}_{k} > F32(0.0) else F32(0.0)")
    return lines


def _indent(lines: list[str], depth: int) -> str:
    return "\n".join(" " * (4 * depth) + line for line in lines)


def kernel_source(shapes: list[tuple[int, int]], digest: str) -> str:
    """The module text of the training kernel for layers `shapes` [(fan_in, fan_out), ...]."""
    ws = _Workspace(shapes)
    n_layers = len(shapes)
    n_classes = shapes[-1][1]
    layer_of = [l for l, (fan_in, fan_out) in enumerate(shapes) for _ in range((fan_in + 1) * fan_out)]
    row = [f"y = {ws.at(ws.y)}", *_forward_lines(shapes, ws), *_softmax_lines(n_classes)]
    eval_body = _indent([*row, "real = i < n_rows[r]", f"{ws.at(ws.loss)} += loss if real else F32(0.0)",
                         f"{ws.at(ws.hit)} += hit if real else F32(0.0)"], 3)
    # One body computes every layer's gradient, frozen or not (the update leaves frozen weights alone): a
    # body per number of frozen layers made fixed=2 blocks 1.8x faster but tripled the compile time (30 s).
    body = [f"w = {ws.at(ws.w)}", *row,
            "real = w > F32(0.0)  # Keras's epoch loss: each batch's mean weighted by its size",
            f"{ws.at(ws.loss)} += loss if real else F32(0.0)", f"{ws.at(ws.hit)} += hit if real else F32(0.0)",
            *_backward_lines(shapes, ws)]
    train_loop = f"{' ' * 16}for r in range(NL):\n" + _indent(body, 5)
    return _TEMPLATE.format(shapes=shapes, digest=digest, n_layers=n_layers, layer_of=layer_of, lanes=LANES,
                            n_params=ws.n_params, slots=ws.slots, grads=ws.grads, x=ws.x, y=ws.y, w=ws.w,
                            loss=ws.loss, hit=ws.hit, eval_body=eval_body, train_loop=train_loop)


_TEMPLATE = """\
\"\"\"The training kernel for layers {shapes}, generated by blobs_transfer.train.kernel: do not edit.

Rewritten whenever its text changes (source {digest}), which also renews Numba's cache of it.\"\"\"
import numpy as np
from numba import njit

from blobs_transfer.train.fastmath import F32, JIT, fast_exp, fast_log
from blobs_transfer.train.orders import seed_state, shuffle_column

NL = {lanes}  # lanes
P = {n_params}  # parameters
GRADS, X, Y, W, LOSS, HIT, SLOTS = {grads}, {x}, {y}, {w}, {loss}, {hit}, {slots}


@njit(**JIT)
def evaluate(ws, xs, ys, n_rows, out):
    \"\"\"Mean loss, accuracy and correct count, out (3, NL), of every lane (weights in ws) on its first
    n_rows[r] rows of xs (rows, F, NL), ys (rows, NL).\"\"\"
    n_features = xs.shape[1]
    for r in range(NL):
        ws[LOSS * NL + r] = F32(0.0)
        ws[HIT * NL + r] = F32(0.0)
    max_rows = 0
    for r in range(NL):
        max_rows = max(max_rows, n_rows[r])
    for i in range(max_rows):
        for f in range(n_features):
            for r in range(NL):
                ws[(X + f) * NL + r] = xs[i, f, r]
        for r in range(NL):
            ws[Y * NL + r] = F32(ys[i, r])
        for r in range(NL):
{eval_body}
    for r in range(NL):
        out[0, r] = ws[LOSS * NL + r] / F32(n_rows[r])
        out[1, r] = ws[HIT * NL + r] / F32(n_rows[r])
        out[2, r] = ws[HIT * NL + r]


@njit(**JIT)
def train_block(x_train, y_train, n_rows, x_test, y_test, data_of, params, trainable, seeds, orders, epochs,
                batch_size, learning_rate, history, final):
    \"\"\"Train a block of NL lanes; see `blobs_transfer.train.kernel.TRAIN_BLOCK`.\"\"\"
    explicit = orders.shape[0] > 0
    n_features = x_train.shape[2]
    n_test = x_test.shape[1]
    lane_rows = np.empty(NL, np.int64)
    lane_test = np.full(NL, n_test, np.int64)
    max_rows = 0
    for r in range(NL):
        lane_rows[r] = n_rows[data_of[r]]
        max_rows = max(max_rows, lane_rows[r])
    n_batches = (max_rows + batch_size - 1) // batch_size
    layer_of = np.array({layer_of})
    update = np.zeros(P * NL, np.bool_)
    ws = np.zeros(SLOTS * NL, np.float32)
    for p in range(P):
        for r in range(NL):
            update[p * NL + r] = trainable[layer_of[p], r]
            ws[p * NL + r] = params[p, r]
    # every lane's data, lanes innermost
    xs = np.zeros((max_rows, n_features, NL), np.float32)
    ys = np.zeros((max_rows, NL), np.int32)
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
    lr = F32(learning_rate)
    for e in range(epochs):
        for r in range(NL):
            if explicit:
                for i in range(lane_rows[r]):
                    perm[i, r] = orders[r, e, i]
            else:
                states[r] = shuffle_column(perm, r, lane_rows[r], states[r])
        for r in range(NL):
            ws[LOSS * NL + r] = F32(0.0)
            ws[HIT * NL + r] = F32(0.0)
        for b in range(n_batches):
            start = b * batch_size
            for r in range(NL):
                batch_rows[r] = min(max(lane_rows[r] - start, 0), batch_size)
                row_weight[r] = F32(1.0) / F32(batch_rows[r]) if batch_rows[r] > 0 else F32(0.0)
            for p in range(P * NL):
                ws[GRADS * NL + p] = F32(0.0)
            for i in range(min(batch_size, max_rows - start)):
                row = start + i
                for r in range(NL):  # this row of every lane's order, staged where the lane loop reads it
                    src = perm[row, r]
                    for f in range(n_features):
                        ws[(X + f) * NL + r] = xs[src, f, r]
                    ws[Y * NL + r] = F32(ys[src, r])
                    ws[W * NL + r] = row_weight[r] if i < batch_rows[r] else F32(0.0)
{train_loop}
            for p in range(P * NL):
                # a select, not a multiply by a mask: frozen weights stay bit-identical even if g is inf/NaN
                old = ws[p]
                ws[p] = old - lr * ws[GRADS * NL + p] if update[p] else old
        for r in range(NL):
            history[0, e + 1, r] = ws[LOSS * NL + r] / F32(lane_rows[r])
            history[1, e + 1, r] = ws[HIT * NL + r] / F32(lane_rows[r])
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
    for p in range(P):
        for r in range(NL):
            params[p, r] = ws[p * NL + r]
"""

TRAIN_BLOCK = """Train one block of lanes for `epochs` epochs of plain SGD; every output is written in place.

x_train (D, rows, F) float32 and y_train (D, rows) int32: D data sets; lane r trains on data set data_of[r]
((lanes,) int64), its first n_rows[d] ((D,) int64) rows; x_test (D, n_test, F), y_test (D, n_test).
params (P, lanes) float32: the flat weights (see `layout`), in and out. trainable (n_layers, lanes) bool.
seeds (lanes,) int64: each lane's order stream. orders (lanes, epochs, rows) int32 explicit orders, or an
array with a zero first axis to draw them from the seeds. history (4, epochs + 1, lanes) float32 out: column
0 before training, column e the running mean over epoch e's minibatches (train) and the test split after
epoch e. final (5, lanes) float32 out: the same four with the final weights, then the count of correct test
rows."""
