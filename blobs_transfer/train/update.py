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

import numpy as np
from numba import njit

from blobs_transfer.config import Optimizer
from blobs_transfer.train.fastmath import F32, INLINE
from blobs_transfer.train.kernel import LANES as NL

SGD, MOMENTUM, NESTEROV, ADAM = 0, 1, 2, 3  # the rule codes the kernel branches on


def settings(optimizer: Optimizer) -> tuple[int, np.ndarray]:
    """The kernel's view of a rule: its code and hyper (float32: lr, mu, 1 - beta_1, 1 - beta_2, epsilon,
    beta_1, beta_2), each constant rounded to float32 once, as Keras casts it."""
    code = {"sgd": SGD, "adam": ADAM}.get(optimizer.name)
    if optimizer.name == "momentum":
        code = NESTEROV if optimizer.nesterov else MOMENTUM
    o = optimizer
    hyper = np.array(
        [o.learning_rate, o.momentum, 1.0 - o.beta_1, 1.0 - o.beta_2, o.epsilon, o.beta_1, o.beta_2], np.float32
    )
    return code, hyper


@njit(**INLINE)
def step(ws, update, live, steps, alpha, n_params, grads, first, second, rule, hyper):
    """One step of every lane on its minibatch's gradient (ws[grads * NL:]): the weights ws[:n_params * NL]
    move where `update` (per weight and lane) and `live` (per lane: its minibatch had rows) allow; `first` and
    `second` are the slots of the optimizer's state, `steps` (per lane) Adam's step count, `alpha` (per
    lane) scratch for Adam's step size."""
    lr = hyper[0]
    if rule == SGD:  # a lane without rows has a zero gradient: no need to look at `live`
        for i in range(n_params * NL):
            old = ws[i]
            ws[i] = old - lr * ws[grads * NL + i] if update[i] else old
    elif rule == MOMENTUM or rule == NESTEROV:
        mu = hyper[1]
        nesterov = rule == NESTEROV
        for p in range(n_params):
            for r in range(NL):
                i = p * NL + r
                old, m_old, g = ws[i], ws[first * NL + i], ws[grads * NL + i]
                m = m_old * mu - g * lr
                new = old + (m * mu - g * lr if nesterov else m)
                move = update[i] and live[r]
                ws[first * NL + i] = m if move else m_old
                ws[i] = new if move else old
    else:  # ADAM
        c1, c2, epsilon, beta_1, beta_2 = hyper[2], hyper[3], hyper[4], hyper[5], hyper[6]
        for r in range(NL):
            steps[r] += 1 if live[r] else 0
            t = F32(steps[r])
            alpha[r] = lr * np.sqrt(F32(1.0) - beta_2**t) / (F32(1.0) - beta_1**t)
        for p in range(n_params):
            for r in range(NL):
                i = p * NL + r
                old, m_old, v_old, g = ws[i], ws[first * NL + i], ws[second * NL + i], ws[grads * NL + i]
                m = m_old + (g - m_old) * c1
                v = v_old + (g * g - v_old) * c2
                new = old - (m * alpha[r]) / (np.sqrt(v) + epsilon)
                move = update[i] and live[r]
                ws[first * NL + i] = m if move else m_old
                ws[second * NL + i] = v if move else v_old
                ws[i] = new if move else old
