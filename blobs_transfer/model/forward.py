"""The network's forward pass in NumPy: what a trained network says about rows, read without training it.

One pass for every reader: a network's class for each row (`predict_classes`, the decision regions of
`generate`) and its last hidden layer's features with its softmax (`mlp_outputs`, the inputs of the
transferability scores). In float64, so the numbers do not depend on how the weights were stored; pure numpy,
no TensorFlow. Weights: (kernel (fan_in, fan_out), bias (fan_out,)) per Dense layer, ReLU hidden layers.
"""

from __future__ import annotations

import numpy as np

from blobs_transfer.model.arms import Weights


def features_and_logits(weights: Weights, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, D), logits (n, Z)) on inputs x (n, F): the last hidden layer's ReLU outputs (x itself for a
    network without hidden layers) and the output layer before its softmax."""
    h = np.asarray(x, dtype=np.float64)
    for kernel, bias in weights[:-1]:
        h = np.maximum(h @ np.asarray(kernel, np.float64) + np.asarray(bias, np.float64), 0.0)
    kernel, bias = weights[-1]
    return h, h @ np.asarray(kernel, np.float64) + np.asarray(bias, np.float64)


def predict_classes(weights: Weights, x: np.ndarray) -> np.ndarray:
    """The network's class for each row of x (n, F): the output layer's argmax (the softmax does not change
    which output is largest)."""
    return features_and_logits(weights, x)[1].argmax(axis=1)


def mlp_outputs(weights: Weights, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, D), probs (n, Z)) of the network on inputs x (n, F): the last hidden layer's ReLU outputs
    and the output layer's softmax."""
    h, logits = features_and_logits(weights, x)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return h, e / e.sum(axis=1, keepdims=True)
