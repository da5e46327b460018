"""The CPU training kernel's generated part: the per-row forward and backward body, unrolled per architecture.

The Numba engine is three plain files and this generator:
- `loop`: the training loop (data staging, the epoch's shuffle, minibatches, evaluation, the history);
- `update`: the update rule, the one place where a gradient moves the weights (SGD, momentum, Adam);
- `fastmath`: `exp` and `log` written out, and the Numba settings; `orders`: the minibatch orders.
What must be unrolled per architecture is only the body of a row: the forward pass, the loss and the
backward pass of one row in every lane, each activation a local scalar. `kernel_source` writes it out as two
small functions (`train_rows`, `evaluate_rows`) and an entry point that hands them to `loop.train_block`;
`engine.compiled_kernel` writes that text to a module file, and Numba caches its compiled code beside it.

Replicas sit on the innermost axis of every array, so each arithmetic step is one SIMD instruction over the
block; a replica's own numbers never meet another's. Every replica takes exactly the same sequence of
floating-point operations whatever else is in its block (blocks always have LANES lanes, padded with dummy
replicas, so no lane falls into a scalar remainder loop), and blocks are independent: a replica's results are
bit for bit the same for any number of threads, chunk size or company (tests/train/test_engine.py). The maths
is Keras's: Dense layers, relu hidden layers, a softmax output trained on the categorical cross-entropy (its
gradient with respect to the logits is softmax - onehot), the mean over each minibatch's real rows.
"""

from __future__ import annotations

from typing import NamedTuple

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


class Offsets(NamedTuple):
    """The workspace layout the loop reads (`Workspace`), by name: each field is a slot number, lane r of slot s
    being ws[s * LANES + r]. A constant of the generated module, so Numba folds every offset into the code."""

    n_params: int  # the parameters' first slot is 0; also their count
    grads: int  # the minibatch's gradient sum
    first: int  # the optimizer's first state (momentum, or Adam's m)
    second: int  # its second (Adam's v)
    x: int  # this row's inputs, one slot per feature
    y: int  # its label, as a float
    w: int  # its weight (1 / rows in the minibatch, 0 for padding); when evaluating, 1 for a real row, else 0
    loss: int  # the loss summed over the epoch (or the evaluated split)
    hit: int  # the correct rows summed likewise
    slots: int  # the workspace's size in slots


class Workspace:
    """Offsets in the flat workspace `ws` of the kernel: lane r of slot s is ws[s * LANES + r].

    Every value a lane loop writes lives in this one float32 array, at constant offsets: LLVM then sees one
    object whose accesses it can tell apart at compile time, where separate arrays (or rows of a 2-D array
    with a run-time stride) need a run-time overlap check each, and past 8 of them it gives up vectorising
    ("too many memory checks needed"). The slots: the parameters, their gradient, the optimizer's first and
    second state (momentum, or Adam's m and v; untouched by plain SGD), this row's inputs, label and weight
    (contiguous, so a staged row is one copy), and the epoch's (or the evaluated split's) loss and hit sums."""

    def __init__(self, shapes):
        self.n_params = sum((fan_in + 1) * fan_out for fan_in, fan_out in shapes)
        n_features = shapes[0][0]
        self.params, self.grads = 0, self.n_params
        self.first, self.second = 2 * self.n_params, 3 * self.n_params
        self.x = 4 * self.n_params  # this row's inputs, one slot per feature
        self.y = self.x + n_features  # its label, as a float
        self.w = self.y + 1  # its weight: 1 / rows in the minibatch, 0 for padding
        self.loss, self.hit = self.w + 1, self.w + 2  # sums over the epoch (or the evaluated split)
        self.slots = self.hit + 1

    def offsets(self) -> Offsets:
        """What the loop needs to know of the layout (`loop.train_block`)."""
        return Offsets(
            n_params=self.n_params,
            grads=self.grads,
            first=self.first,
            second=self.second,
            x=self.x,
            y=self.y,
            w=self.w,
            loss=self.loss,
            hit=self.hit,
            slots=self.slots,
        )

    def at(self, slot: int) -> str:
        return f"ws[{slot * LANES} + r]"


def _forward_lines(shapes, ws: Workspace) -> list[str]:
    """One lane's logits z0.. from the inputs in the workspace; hidden activations a{l}_{j} (layer l = 1..)."""
    lines = [f"x{f} = {ws.at(ws.x + f)}" for f in range(shapes[0][0])]
    prev = [f"x{f}" for f in range(shapes[0][0])]
    lay = layout(shapes)
    for layer, (fan_in, fan_out, ko, bo) in enumerate(lay):
        last = layer == len(lay) - 1
        names = [f"z{j}" if last else f"a{layer + 1}_{j}" for j in range(fan_out)]
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
        lines += [
            f"bigger = z{c} > m",
            f"m = z{c} if bigger else m",
            f"best = F32({c}.0) if bigger else best",
            f"zy = z{c} if y == F32({c}.0) else zy",
        ]
    lines.append("best = best if m == m else F32(-1.0)  # a NaN logit: no class is predicted")
    lines += [f"e{c} = fast_exp(z{c} - m)" for c in range(n_classes)]
    lines.append("s = " + " + ".join(f"e{c}" for c in range(n_classes)))
    lines += ["inv = F32(1.0) / s", "loss = fast_log(s) - (zy - m)", "hit = F32(1.0) if best == y else F32(0.0)"]
    return lines


def _backward_lines(shapes, ws: Workspace) -> list[str]:
    """One row's gradient (row weight w) added to the gradient slots of every layer, frozen or not (the update
    leaves frozen weights alone)."""
    lay = layout(shapes)
    n_layers, n_classes = len(lay), lay[-1][1]
    lines = [
        f"d{n_layers}_{c} = (e{c} * inv - (F32(1.0) if y == F32({c}.0) else F32(0.0))) * w" for c in range(n_classes)
    ]
    for layer in range(n_layers - 1, -1, -1):
        fan_in, fan_out, ko, bo = lay[layer]
        inputs = [f"x{k}" for k in range(fan_in)] if layer == 0 else [f"a{layer}_{k}" for k in range(fan_in)]
        for j in range(fan_out):
            lines.append(f"{ws.at(ws.grads + bo + j)} += d{layer + 1}_{j}")
            for k in range(fan_in):
                lines.append(f"{ws.at(ws.grads + ko + k * fan_out + j)} += {inputs[k]} * d{layer + 1}_{j}")
        if layer > 0:  # back through this layer's kernel and the relu below it
            for k in range(fan_in):
                terms = " + ".join(f"{ws.at(ko + k * fan_out + j)} * d{layer + 1}_{j}" for j in range(fan_out))
                lines.append(f"d{layer}_{k} = {terms}")
                lines.append(f"d{layer}_{k} = d{layer}_{k} if a{layer}_{k} > F32(0.0) else F32(0.0)")
    return lines


def _indent(lines: list[str], depth: int) -> str:
    return "\n".join(" " * (4 * depth) + line for line in lines)


def kernel_source(shapes: list[tuple[int, int]], digest: str) -> str:
    """The module text of the per-row body for layers `shapes` [(fan_in, fan_out), ...], and the entry point
    that hands it to the loop (`loop.train_block`)."""
    ws = Workspace(shapes)
    layer_of = [layer for layer, (fan_in, fan_out) in enumerate(shapes) for _ in range((fan_in + 1) * fan_out)]
    row = [f"y = {ws.at(ws.y)}", *_forward_lines(shapes, ws), *_softmax_lines(shapes[-1][1])]
    evaluate_body = [
        *row,
        # the row's flag as a float32, not `i < n_rows[r]`: an int64 compare in the body made LLVM vectorise
        # it at half the width of the training body (tests/train/test_kernel.py)
        f"real = {ws.at(ws.w)} > F32(0.0)",
        f"{ws.at(ws.loss)} += loss if real else F32(0.0)",
        f"{ws.at(ws.hit)} += hit if real else F32(0.0)",
    ]
    # One body computes every layer's gradient, frozen or not (the update leaves frozen weights alone): a
    # body per number of frozen layers made fixed=2 blocks 1.8x faster but tripled the compile time (30 s).
    train_body = [
        f"w = {ws.at(ws.w)}",
        *row,
        "real = w > F32(0.0)  # Keras's epoch loss: each batch's mean weighted by its size",
        f"{ws.at(ws.loss)} += loss if real else F32(0.0)",
        f"{ws.at(ws.hit)} += hit if real else F32(0.0)",
        *_backward_lines(shapes, ws),
    ]
    return _TEMPLATE.format(
        shapes=shapes,
        digest=digest,
        lanes=LANES,
        offsets=ws.offsets(),
        layer_of=tuple(layer_of),
        train_body=_indent(train_body, 2),
        evaluate_body=_indent(evaluate_body, 2),
    )


_TEMPLATE = """\
\"\"\"The per-row body of the training kernel for layers {shapes}.

Generated by blobs_transfer.train.kernel: do not edit. The loop around it, the minibatches and the update rule
are plain code in blobs_transfer/train/loop.py and update.py; this file holds only what is unrolled per
architecture.

Rewritten whenever its text changes (source {digest}), which also renews Numba's cache of it.\"\"\"
from numba import njit

from blobs_transfer.train import loop
from blobs_transfer.train.fastmath import F32, HELPER, INLINE, JIT, fast_exp, fast_log
from blobs_transfer.train.kernel import Offsets
from blobs_transfer.train.update import settings  # the engine reads a rule's code and constants here

LANES = {lanes}  # replicas per block
OFFSETS = {offsets}  # the workspace layout (kernel.Workspace.offsets)
LAYER_OF = {layer_of}  # the layer of each parameter


@njit(**INLINE)
def train_rows(ws):
    \"\"\"Every lane's staged row (inputs, label, weight): forward pass, loss and hit added to the epoch's sums,
    and the row's gradient added to the gradient slots.\"\"\"
    for r in range(LANES):
{train_body}


@njit(**INLINE)
def evaluate_rows(ws):
    \"\"\"Every lane's staged row: loss and hit added to the sums where the row is real (its flag in the weight
    slot is 1: the lane has that many rows).\"\"\"
    for r in range(LANES):
{evaluate_body}


@njit(**HELPER)
def evaluate(ws, rows, n_rows, out):
    \"\"\"Every lane's mean loss, accuracy and correct count on its first n_rows[r] rows (`loop.evaluate`).\"\"\"
    loop.evaluate(evaluate_rows, OFFSETS, ws, rows, n_rows, out)


@njit(**JIT)
def train_block(x_train, y_train, n_rows, x_test, y_test, data_of, params, trainable, seeds, orders, epochs,
                batch_size, rule, hyper, history, final):
    \"\"\"Train a block of LANES lanes: `loop.train_block` with this architecture's rows.\"\"\"
    loop.train_block(train_rows, evaluate, OFFSETS, LAYER_OF, x_train, y_train, n_rows, x_test, y_test, data_of,
                     params, trainable, seeds, orders, epochs, batch_size, rule, hyper, history, final)
"""
