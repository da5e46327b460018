"""Source models read straight from their `.keras` files, without TensorFlow or Keras.

A `.keras` file is a zip archive of `config.json` (the architecture), `metadata.json` and `model.weights.h5`,
where Keras 3 keeps each layer's variables under `layers/<name>/vars/<i>` (a Dense layer's kernel is var 0,
its bias var 1; the names are the layers' class names made unique in order: dense, dense_1, ...). Reading
them with h5py gives the very weights `keras.models.load_model` gives (tests/model/test_keras_file.py), in a
fraction of the time it takes to import TensorFlow, so `compare`, `fit` and `sweep` never import it. Writing a
`.keras` file stays Keras's job (`keras_model.save_model`).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np

from blobs_transfer.config import Config
from blobs_transfer.errors import SourceModelError
from blobs_transfer.model.arms import Weights


def _layers(config: dict) -> list[dict]:
    """The layers of a saved Sequential model's config, input layer left out."""
    if config.get("class_name") != "Sequential":
        raise ValueError(f"a {config.get('class_name')} model, not a Sequential one")
    return [layer for layer in config["config"]["layers"] if layer.get("class_name") != "InputLayer"]


def _h5_names(layers: list[dict]) -> list[str]:
    """The weights file's group name of each layer: its class name in snake case, made unique in order."""
    seen: dict[str, int] = {}
    out = []
    for layer in layers:
        base = "".join(f"_{c.lower()}" if c.isupper() else c for c in layer["class_name"]).lstrip("_")
        n = seen.get(base, 0)
        out.append(base if n == 0 else f"{base}_{n}")
        seen[base] = n + 1
    return out


def read_weights(path: str | Path) -> tuple[Weights, list[dict]]:
    """(kernel, bias) per Dense layer and the layers' configs of a saved `.keras` model. Raises ValueError
    for a file that is not a stack of Dense layers, and whatever zipfile, json or h5py raise for a damaged one."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights_file = io.BytesIO(archive.read("model.weights.h5"))
    layers = _layers(config)
    if not layers or any(layer.get("class_name") != "Dense" for layer in layers):
        raise ValueError("not a stack of Dense layers")
    weights: Weights = []
    with h5py.File(weights_file, "r") as h5:
        for name in _h5_names(layers):
            group = h5[f"layers/{name}/vars"]
            weights.append((np.asarray(group["0"], np.float32), np.asarray(group["1"], np.float32)))
    return weights, layers


def check_file(path: str | Path, cfg: Config) -> Path:
    """The path, if a file is there and is a zip archive; else the one-line SourceModelError saying what to do."""
    path = Path(path)
    if not path.exists():
        problem = "" if cfg.study.source_problem == 1 else f" --problem {cfg.study.source_problem}"
        raise SourceModelError(
            f"no source model at {path}: make one with `blobs-transfer train-source{problem}`, "
            "pass --source PATH, or add --train-source to compare"
        )
    if not zipfile.is_zipfile(path):
        raise SourceModelError(f"source model {path} is not a .keras file (it may be truncated or corrupt)")
    return path


def load_source_weights(path: str | Path, cfg: Config) -> Weights:
    """A saved source model's weights, checked against the study; any problem is a one-line SourceModelError
    (the same lines `keras_model.load_source` gives)."""
    path = check_file(path, cfg)
    try:
        weights, layers = read_weights(path)
    except ValueError as exc:
        if "Dense" in str(exc):
            raise SourceModelError(f"source model {path} is not a stack of Dense layers") from None
        raise SourceModelError(f"source model {path} cannot be loaded: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:200]}") from None
    except Exception as exc:  # a damaged archive: zipfile, json, h5py and KeyError all have their say
        first = (str(exc).splitlines() or [""])[0][:200]
        raise SourceModelError(f"source model {path} cannot be loaded: {type(exc).__name__}: {first}") from None
    expect_in, expect_out = cfg.problems.n_features, cfg.n_classes
    shapes = [tuple(k.shape) for k, _ in weights]
    hidden = cfg.model.hidden_units
    want = [(expect_in, hidden[0]), *zip(hidden, (*hidden[1:], expect_out))]
    if shapes != [tuple(s) for s in want]:
        raise SourceModelError(
            f"source model {path} has layer shapes {shapes}, the study needs {want} "
            f"({expect_in} inputs, hidden {list(hidden)}, {expect_out} outputs)"
        )
    activations = [layer["config"].get("activation") for layer in layers]
    if activations != ["relu"] * len(hidden) + ["softmax"]:
        raise SourceModelError(f"source model {path} has activations {activations}, the study's MLP has "
                               f"{['relu'] * len(hidden) + ['softmax']}")
    return weights
