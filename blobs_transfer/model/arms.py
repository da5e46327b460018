"""Starting weights and frozen layers of every arm, from its declarative `Arm` entry: pure numpy.

One mechanism serves the tutorial's arms, its extensions and the Yosinski-style and Raghu-style controls: an
arm copies its first `copy` layers from a source model (or, with init = "weight_stats", only their per-layer
means and standard deviations), re-initialises the rest with the study's initialisers, and freezes its first
`fixed` hidden layers. Weights are a list of (kernel (fan_in, fan_out), bias (fan_out,)) per layer.
"""

from __future__ import annotations

import numpy as np

from blobs_transfer.config import Arm, Config
from blobs_transfer.seeds import derive_seed, replica_rngs  # noqa: F401  (re-exported: the engine and tests use them here)

Weights = list[tuple[np.ndarray, np.ndarray]]


def layer_shapes(cfg: Config, arm: Arm) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every Dense layer of the arm's model, output layer last."""
    sizes = [cfg.problems.n_features, *cfg.hidden_units_of(arm), cfg.n_classes]
    return list(zip(sizes[:-1], sizes[1:]))


def init_layer(initializer: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Keras's he_uniform / glorot_uniform kernel distributions, zero bias."""
    if initializer == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
    elif initializer == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
    else:
        raise ValueError(f"unknown initializer {initializer!r}")
    kernel = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)
    return kernel, np.zeros(fan_out, dtype=np.float32)


def weight_stats_layer(kernel: np.ndarray, bias: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A kernel (fan_in, fan_out) and bias (fan_out,) drawn i.i.d. normal with the mean and (population)
    standard deviation of the given kernel's entries and of the bias's: nothing else of them is kept (Raghu et
    al. 2019's "Mean Var Init"). A bias with zero spread (e.g. all zero) gives a constant bias, its mean."""
    out = []
    for values in (kernel, bias):
        values = np.asarray(values, np.float64)
        out.append(rng.normal(values.mean(), values.std(), size=values.shape).astype(np.float32))
    return out[0], out[1]


def initial_weights(cfg: Config, arm: Arm, source: Weights | None, rng: np.random.Generator) -> Weights:
    """The arm's starting weights for one repeat: copied layers from `source`, fresh draws for the rest.

    With arm.init = "weight_stats" the copied layers are drawn by `weight_stats_layer` from the first child
    generator spawned from `rng` (the repeat's init generator), so the fresh layers' draws from `rng` itself
    are the ones the same seed gives any other arm.
    """
    copied = cfg.copied_layers(arm)
    if copied and source is None:
        raise ValueError(f"arm {arm.name!r} needs a source model")
    stats_rng = rng.spawn(1)[0] if arm.init == "weight_stats" else None
    shapes = layer_shapes(cfg, arm)
    weights: Weights = []
    for i, (fan_in, fan_out) in enumerate(shapes):
        if i < copied:
            kernel, bias = source[i]
            if kernel.shape != (fan_in, fan_out):
                raise ValueError(
                    f"source layer {i + 1} has shape {kernel.shape}, arm {arm.name!r} needs {(fan_in, fan_out)}"
                )
            if stats_rng is not None:
                weights.append(weight_stats_layer(kernel, bias, stats_rng))
            else:
                weights.append((kernel.astype(np.float32).copy(), bias.astype(np.float32).copy()))
        else:
            is_output = i == len(shapes) - 1
            initializer = cfg.model.output_initializer if is_output else cfg.model.hidden_initializer
            weights.append(init_layer(initializer, fan_in, fan_out, rng))
    return weights


def trainable_layers(cfg: Config, arm: Arm) -> list[bool]:
    """Per Dense layer: False for the first `fixed` (frozen) layers, True for the rest."""
    n_layers = len(layer_shapes(cfg, arm))
    return [i >= arm.fixed for i in range(n_layers)]


def trainable_parameter_count(cfg: Config, arm: Arm) -> int:
    return sum((fi + 1) * fo for (fi, fo), t in zip(layer_shapes(cfg, arm), trainable_layers(cfg, arm)) if t)


def stack(replicas: list[Weights]) -> Weights:
    """R replicas' weights -> one list of (kernel (R, fan_in, fan_out), bias (R, fan_out)) per layer."""
    return [
        (np.stack([w[i][0] for w in replicas]), np.stack([w[i][1] for w in replicas])) for i in range(len(replicas[0]))
    ]


def unstack(weights: Weights, r: int) -> Weights:
    """Replica r's weights from stacked weights."""
    return [(k[r], b[r]) for k, b in weights]
