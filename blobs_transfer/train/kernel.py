"""The CPU training kernel: a block of LANES replicas of the MLP trained with plain SGD, compiled by Numba.

Replicas sit on the innermost axis of every array, so each arithmetic step is one SIMD instruction over the
block; a replica's own numbers never meet another's. Every replica takes exactly the same sequence of
floating-point operations whatever else is in its block (blocks always have LANES lanes, padded with dummy
replicas, so no lane falls into a scalar remainder loop), and blocks are independent: a replica's results are
bit for bit the same for any number of threads, chunk size or company (tests/test_kernel.py).

The maths is Keras's: Dense layers, relu hidden layers, a softmax output trained on the categorical
cross-entropy (its gradient with respect to the logits is softmax - onehot), the mean over each minibatch's
real rows, `w -= lr * grad` after every minibatch, frozen layers left untouched, and rows reshuffled every
epoch. Minibatch orders are drawn here, from each replica's seed (a splitmix64 stream and a Fisher-Yates
shuffle), so no Python work is done per replica or epoch; explicit orders can be given for the equality
tests against the Keras loop.

`exp` and `log` are written out (`_exp`, `_log`: Cephes' single-precision polynomials, the power of two and
the exponent read from the float's bits) because Numba 0.62+ has no SVML: `np.exp` in a loop is a scalar libm
call per element, which also stops the loop from vectorising. They stay within 2 and 3 ulp of libm (tested) and
keep NaN and inf, so a diverged run is still reported as one.

The training loop itself is generated per architecture (`kernel_source`); `engine.compiled_kernel` writes it to
a module file and Numba caches its compiled code on disk beside that file.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types, uint64
from numba.extending import intrinsic

LANES = 32  # replicas per block: a multiple of the SIMD width (16 float32 lanes on AVX-512, 8 on AVX2)
# FMA contraction only (as XLA does): no reassociation, so each replica's sums run in one fixed order; never
# nnan/ninf, the divergence check needs NaN and inf to survive.
FASTMATH = {"contract"}
JIT = dict(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False)
# A cached callee is linked into its caller as machine code, which LLVM cannot inline, and a call in a loop over
# lanes stops the loop from vectorising (a loop of `_exp` calls ran 15x slower): the per-element helpers are
# inlined by Numba itself. The shuffle, called once per lane and epoch, stays a function (HELPER, not cached:
# the cached entry points carry it with them).
INLINE = dict(inline="always", fastmath=FASTMATH, error_model="numpy", boundscheck=False)
HELPER = dict(nogil=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False)

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)
_ORDER_STREAM = uint64(0x6F72646572730001)  # "orders": keeps this stream apart from any other use of a seed


F32 = np.float32


@intrinsic
def _bits(typingctx, x):
    """The bits of a float32 as an int32 (a bit cast: free, and it vectorises)."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float32 whose bits are this int32."""
    if i != types.int32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(**INLINE)
def _exp(x):
    """exp of a float32 (Cephes expf): x = k ln2 + r with |r| <= ln2 / 2, e^r by a degree-6 polynomial, 2^k
    built from its exponent bits (as two normal factors, so subnormal results round once). NaN gives NaN."""
    x0 = F32(x)
    x = F32(88.72) if x0 > F32(88.72) else x0
    x = F32(-104.0) if x < F32(-104.0) else x  # below: under half the smallest subnormal
    k = np.floor(x * F32(1.44269504088896341) + F32(0.5))
    r = x - k * F32(0.693359375) - k * F32(-2.12194440e-4)
    p = F32(1.9875691500e-4)
    p = p * r + F32(1.3981999507e-3)
    p = p * r + F32(8.3334519073e-3)
    p = p * r + F32(4.1665795894e-2)
    p = p * r + F32(1.6666665459e-1)
    p = p * r + F32(5.0000001201e-1)
    y = p * r * r + r + F32(1.0)
    ki = np.int32(k) if k == k else np.int32(0)  # k in [-150, 128]; NaN: any scale, y is NaN
    k1 = ki >> np.int32(1)  # 2^k as 2^k1 * 2^k2, both normal: one rounding, into subnormals where due
    k2 = ki - k1
    out = y * _from_bits(np.int32((k1 + np.int32(127)) << np.int32(23))) * _from_bits(np.int32((k2 + np.int32(127)) << np.int32(23)))
    return F32(np.inf) if x0 > F32(88.72284) else out


@njit(**INLINE)
def _log(x):
    """log of a float32 (Cephes logf): x = 2^e m from its bits, m brought into [sqrt(1/2), sqrt 2), a degree-9
    polynomial in m - 1. inf gives inf, NaN and x < 0 NaN, 0 -inf; normal numbers only (the loss takes the
    log of a softmax denominator, in [1, classes])."""
    x0 = F32(x)
    bits = _bits(x0)
    e = F32((bits >> np.int32(23)) - np.int32(127))
    m = _from_bits(np.int32((bits & np.int32(0x007FFFFF)) | np.int32(0x3F800000)))  # in [1, 2)
    big = m > F32(1.41421356237309505)
    m = m * F32(0.5) if big else m
    e = e + F32(1.0) if big else e
    x = m - F32(1.0)
    z = x * x
    y = F32(7.0376836292e-2)
    y = y * x - F32(1.1514610310e-1)
    y = y * x + F32(1.1676998740e-1)
    y = y * x - F32(1.2420140846e-1)
    y = y * x + F32(1.4249322787e-1)
    y = y * x - F32(1.6668057665e-1)
    y = y * x + F32(2.0000714765e-1)
    y = y * x - F32(2.4999993993e-1)
    y = y * x + F32(3.3333331174e-1)
    y = y * x * z
    y += e * F32(-2.12194440e-4)
    y += F32(-0.5) * z
    out = x + y + e * F32(0.693359375)
    out = x0 if x0 == F32(np.inf) else out
    out = F32(-np.inf) if x0 == F32(0.0) else out
    return F32(np.nan) if (x0 < F32(0.0) or x0 != x0) else out


@njit(**JIT)
def exp_array(x):
    """Elementwise `_exp` of a float32 array (for tests and measurements)."""
    out = np.empty_like(x)
    flat, res = x.ravel(), out.ravel()
    for i in range(flat.size):
        res[i] = _exp(flat[i])
    return out


@njit(**JIT)
def log_array(x):
    """Elementwise `_log` of a float32 array (for tests and measurements)."""
    out = np.empty_like(x)
    flat, res = x.ravel(), out.ravel()
    for i in range(flat.size):
        res[i] = _log(flat[i])
    return out


@njit(**INLINE)
def _next(state):
    """splitmix64: (new state, 64 random bits)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return state, z ^ (z >> uint64(31))


@njit(**INLINE)
def seed_state(seed):
    """The order stream's starting state for a replica seed (a 32-bit recorded seed)."""
    state, _ = _next(uint64(seed) ^ _ORDER_STREAM)
    return state


@njit(**HELPER)
def shuffle_column(perm, col, n, state):
    """Fisher-Yates shuffle of perm[:n, col] in place, continuing the permutation left by the previous epoch
    (as numpy's `shuffle` of one array would); returns the new state. j is uniform on 0..i up to a 2^-53
    relative bias."""
    for i in range(n - 1, 0, -1):
        state, bits = _next(state)
        j = int(np.float64(bits >> uint64(11)) * (1.0 / 9007199254740992.0) * (i + 1))
        t = perm[i, col]
        perm[i, col] = perm[j, col]
        perm[j, col] = t
    return state


@njit(**JIT)
def draw_orders(seed, epochs, n_rows):
    """(epochs, n_rows) int32: the minibatch orders the kernel draws for one replica seed."""
    out = np.empty((epochs, n_rows), np.int32)
    state = seed_state(seed)
    perm = np.empty((n_rows, 1), np.int32)
    for i in range(n_rows):
        perm[i, 0] = i
    for e in range(epochs):
        state = shuffle_column(perm, 0, n_rows, state)
        for i in range(n_rows):
            out[e, i] = perm[i, 0]
    return out


# --- the training kernel, written out for one architecture ----------------------------------------------
#
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
    lines += [f"e{c} = _exp(z{c} - m)" for c in range(n_classes)]
    lines.append("s = " + " + ".join(f"e{c}" for c in range(n_classes)))
    lines += ["inv = F32(1.0) / s", "loss = _log(s) - (zy - m)", "hit = F32(1.0) if best == y else F32(0.0)"]
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
\"\"\"The training kernel for layers {shapes}, generated by blobs_transfer.kernel: do not edit.

Rewritten whenever its text changes (source {digest}), which also renews Numba's cache of it.\"\"\"
import numpy as np
from numba import njit

from blobs_transfer.train.kernel import F32, JIT, _exp, _log, seed_state, shuffle_column

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
    \"\"\"Train a block of NL lanes; see `blobs_transfer.kernel.TRAIN_BLOCK`.\"\"\"
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
