"""The one NumPy forward pass: hand-made weights whose answer is known."""

import numpy as np
import pytest

from blobs_transfer.model import forward
from blobs_transfer.stats import transferability


def test_predict_classes_is_the_networks_forward_pass():
    """ReLU hidden layer, then the output's argmax."""
    hidden = (np.array([[1.0, -1.0], [0.0, 0.0]]), np.array([0.0, 0.0]))  # h = relu(x1), relu(-x1)
    output = (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0.0, 0.0, 0.5]))
    x = np.array([[2.0, 9.0], [-2.0, 9.0], [0.1, 0.0]])
    np.testing.assert_array_equal(forward.predict_classes([hidden, output], x), [0, 1, 2])


def test_mlp_outputs_runs_the_network_forward():
    w = [(np.array([[1.0, -1.0]]), np.array([0.0, 0.5])), (np.array([[2.0, 0.0], [0.0, 1.0]]), np.zeros(2))]
    features, probs = forward.mlp_outputs(w, np.array([[1.0], [-2.0]]))
    assert features.tolist() == [[1.0, 0.0], [0.0, 2.5]]  # ReLU of [1, -0.5] and [-2, 2.5]
    assert probs[0] == pytest.approx(np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum())
    x = np.random.default_rng(16).normal(size=(30, 1))
    features, probs = forward.mlp_outputs(w, x)
    scores = transferability.all_scores(features, probs, (x[:, 0] > 0).astype(int), seed=0)
    assert set(scores) == set(transferability.SCORES) and all(np.isfinite(v) for v in scores.values())


def test_float32_weights_are_computed_in_float64():
    """The same numbers whatever dtype the weights were stored in."""
    rng = np.random.default_rng(3)
    w64 = [(rng.normal(size=(2, 4)), rng.normal(size=4)), (rng.normal(size=(4, 3)), rng.normal(size=3))]
    w32 = [(k.astype(np.float32), b.astype(np.float32)) for k, b in w64]
    x = rng.normal(size=(5, 2)).astype(np.float32)
    _, logits = forward.features_and_logits(w32, x)
    assert logits.dtype == np.float64
    w64 = [(k.astype(float), b.astype(float)) for k, b in w32]
    assert np.array_equal(logits, forward.features_and_logits(w64, x)[1])
