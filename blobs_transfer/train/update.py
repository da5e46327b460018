"""The update rule of the Numba engine, in one place: how a minibatch's gradient moves the weights.

Keras's rules, operation for operation (keras.optimizers.SGD and Adam, `update_step`), in float32:
- plain SGD:  w -= lr * g
- momentum:   m = mu * m - lr * g;  w += m               (Nesterov: w += mu * m - lr * g, with the new m)
- Adam:       m += (g - m) * (1 - beta_1);  v += (g * g - v) * (1 - beta_2);
              w -= m * alpha / (sqrt(v) + epsilon),  alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
where t counts the lane's steps so far, this one included. Frozen weights are never written (a select, not a
multiply by a mask: they stay bit-identical even when a gradient is inf or NaN), and a lane whose minibatch has
no rows (a block's lanes may have fewer minibatches than its longest) takes no step at all, so its optimizer
state and step count stay as they were, as if it had trained alone. The optimizer state starts at zero for
every training: nothing of a source model's training is carried over, as in the tutorial.

To add a rule: a code below, its branch in `step`, its settings in `settings`, and its name in
`config.optimizer` (with the matching Keras optimizer in `model.keras_model` and the TensorFlow engine).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from blobs_transfer.config import Optimizer
from blobs_transfer.train.fastmath import F32, INLINE
from blobs_transfer.train.kernel import LANES

SGD, MOMENTUM, NESTEROV, ADAM = 0, 1, 2, 3  # the rule codes the kernel branches on


class Hyper(NamedTuple):
    """A rule's constants, each a float32 (rounded once, as Keras casts them); both engines read them by name."""

    lr: np.float32
    mu: np.float32  # momentum
    c1: np.float32  # 1 - beta_1
    c2: np.float32  # 1 - beta_2
    epsilon: np.float32
    beta_1: np.float32
    beta_2: np.float32


def settings(optimizer: Optimizer) -> tuple[int, Hyper]:
    """The kernel's view of a rule: its code and its constants (`Hyper`)."""
    code = {"sgd": SGD, "adam": ADAM}.get(optimizer.name)
    if optimizer.name == "momentum":
        code = NESTEROV if optimizer.nesterov else MOMENTUM
    o = optimizer
    hyper = Hyper(
        lr=np.float32(o.learning_rate),
        mu=np.float32(o.momentum),
        c1=np.float32(1.0 - o.beta_1),
        c2=np.float32(1.0 - o.beta_2),
        epsilon=np.float32(o.epsilon),
        beta_1=np.float32(o.beta_1),
        beta_2=np.float32(o.beta_2),
    )
    return code, hyper


@njit(**INLINE)
def step(ws, update, live, steps, alpha, offsets, rule, hyper):
    """One step of every lane on its minibatch's gradient (ws[offsets.grads * LANES:]): the weights
    ws[:n_params * LANES] move where `update` (per weight and lane: 1.0 where its layer trains, else 0.0; a
    float32 flag vectorises at full width) and `live` (per lane: its minibatch had rows) allow; offsets.first
    and .second are the slots of the optimizer's state (`kernel.Offsets`), `steps` (per lane) Adam's step count,
    `alpha` (per lane) scratch for Adam's step size; hyper: the rule's `Hyper`."""
    n_params, grads, first, second = offsets.n_params, offsets.grads, offsets.first, offsets.second
    lr = hyper.lr
    if rule == SGD:  # a lane without rows has a zero gradient: no need to look at `live`
        for i in range(n_params * LANES):
            old = ws[i]
            ws[i] = old - lr * ws[grads * LANES + i] if update[i] > F32(0.0) else old
    elif rule == MOMENTUM or rule == NESTEROV:
        mu = hyper.mu
        nesterov = rule == NESTEROV
        for p in range(n_params):
            for r in range(LANES):
                i = p * LANES + r
                old, m_old, g = ws[i], ws[first * LANES + i], ws[grads * LANES + i]
                m = m_old * mu - g * lr
                new = old + (m * mu - g * lr if nesterov else m)
                move = update[i] > F32(0.0) and live[r]
                ws[first * LANES + i] = m if move else m_old
                ws[i] = new if move else old
    else:  # ADAM
        c1, c2, epsilon, beta_1, beta_2 = hyper.c1, hyper.c2, hyper.epsilon, hyper.beta_1, hyper.beta_2
        for r in range(LANES):
            steps[r] += 1 if live[r] else 0
            t = F32(steps[r])
            alpha[r] = lr * np.sqrt(F32(1.0) - beta_2**t) / (F32(1.0) - beta_1**t)
        for p in range(n_params):
            for r in range(LANES):
                i = p * LANES + r
                old, m_old, v_old, g = ws[i], ws[first * LANES + i], ws[second * LANES + i], ws[grads * LANES + i]
                m = m_old + (g - m_old) * c1
                v = v_old + (g * g - v_old) * c2
                new = old - (m * alpha[r]) / (np.sqrt(v) + epsilon)
                move = update[i] > F32(0.0) and live[r]
                ws[first * LANES + i] = m if move else m_old
                ws[second * LANES + i] = v if move else v_old
                ws[i] = new if move else old
