"""A plain NumPy reference of the training the engines do, one replica at a time (as stumpy's naive.py is for its
kernels): written for reading, not for speed, with no code shared with the engines.

`loss_and_grads` is the forward and backward pass of the MLP on a minibatch (Dense layers, relu hidden layers,
softmax output, mean categorical cross-entropy over the minibatch's rows); `train` runs the epochs on given row
orders with Keras's update rules in float32, leaving frozen layers alone.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def forward(weights, x):
    """Every layer's activations: [x, h1, ..., logits]."""
    out = [x]
    for i, (k, b) in enumerate(weights):
        z = out[-1] @ k + b
        out.append(np.maximum(z, 0) if i < len(weights) - 1 else z)
    return out


def loss_and_grads(weights, x, y, n_classes):
    """Mean cross-entropy of the softmax of the logits, and its gradient for every (kernel, bias)."""
    acts = forward(weights, x)
    z = acts[-1]
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    onehot = np.eye(n_classes, dtype=x.dtype)[y]
    loss = -np.mean(np.log(np.sum(p * onehot, axis=1)))
    delta = (p - onehot) / len(x)  # d loss / d logits
    grads = []
    for i in range(len(weights) - 1, -1, -1):
        grads.append((acts[i].T @ delta, delta.sum(axis=0)))
        if i > 0:
            delta = (delta @ weights[i][0].T) * (acts[i] > 0)
    return loss, grads[::-1]


def train(weights, trainable, x, y, orders, batch_size, optimizer):
    """The weights after one epoch per row order in `orders`, with Keras's `optimizer` rule (an `Optimizer`)."""
    o = optimizer
    lr, mu = F32(o.learning_rate), F32(o.momentum)
    c1, c2, eps, b1, b2 = F32(1 - o.beta_1), F32(1 - o.beta_2), F32(o.epsilon), F32(o.beta_1), F32(o.beta_2)
    w = [(k.astype(F32).copy(), b.astype(F32).copy()) for k, b in weights]
    first = [[np.zeros_like(a) for a in layer] for layer in w]
    second = [[np.zeros_like(a) for a in layer] for layer in w]
    t = 0
    n_classes = w[-1][0].shape[1]
    for order in orders:
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            _, grads = loss_and_grads(w, x[rows], y[rows], n_classes)
            t += 1
            for layer, g_layer in enumerate(grads):
                if not trainable[layer]:
                    continue
                for j, g in enumerate(g_layer):
                    g = g.astype(F32)
                    var, m, v = w[layer][j], first[layer][j], second[layer][j]
                    if o.name == "sgd":
                        var -= lr * g
                    elif o.name == "momentum":
                        m[...] = m * mu - g * lr
                        var += m * mu - g * lr if o.nesterov else m
                    else:
                        alpha = lr * np.sqrt(F32(1) - b2 ** F32(t)) / (F32(1) - b1 ** F32(t))
                        m += (g - m) * c1
                        v += (g * g - v) * c2
                        var -= (m * alpha) / (np.sqrt(v) + eps)
    return w
