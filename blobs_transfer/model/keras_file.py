"""Source models read straight from their `.keras` files, without TensorFlow or Keras.

A `.keras` file is a zip archive of `config.json` (the architecture), `metadata.json` and `model.weights.h5`,
where Keras 3 keeps each layer's variables under `layers/<name>/vars/<i>` (a Dense layer's kernel is var 0,
its bias var 1; the names are the layers' class names made unique in order: dense, dense_1, ...). Reading
them with h5py gives the very weights `keras.models.load_model` gives (tests/model/test_keras_file.py), in a
fraction of the time it takes to import TensorFlow, so `compare`, `fit` and `sweep` never import it. Writing a
`.keras` file is Keras's job (`keras_model.save_model`), but for the many source models a `compare` run keeps:
`write_weights` writes the same three members for the study's MLP (no optimizer state) without TensorFlow, a
file `keras.models.load_model` loads to the same weights (tests/api/test_transferability.py).
"""

from __future__ import annotations

import io
import json
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import h5py
import numpy as np

from blobs_transfer import atomic
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
        raise SourceModelError(
            f"source model {path} cannot be loaded: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ) from None
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
        raise SourceModelError(
            f"source model {path} has activations {activations}, the study's MLP has "
            f"{['relu'] * len(hidden) + ['softmax']}"
        )
    return weights


def _dense_config(name: str, units: int, activation: str, initializer: str, fan_in: int) -> dict:
    """A Dense layer's entry in a Sequential config, as Keras 3 serialises it (optional keys left to defaults)."""
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    kernel = "".join(part.capitalize() for part in initializer.split("_"))  # he_uniform -> HeUniform
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "registered_name": None,
        "config": {
            "name": name,
            "trainable": True,
            "dtype": policy,
            "units": units,
            "activation": activation,
            "use_bias": True,
            "kernel_initializer": {
                "module": "keras.initializers",
                "class_name": kernel,
                "config": {"seed": None},
                "registered_name": None,
            },
            "bias_initializer": {
                "module": "keras.initializers",
                "class_name": "Zeros",
                "config": {},
                "registered_name": None,
            },
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        },
        "build_config": {"input_shape": [None, fan_in]},
    }


def write_weights(path: str | Path, cfg: Config, weights: Weights) -> None:
    """The study's MLP with these weights as a `.keras` file, without TensorFlow: config.json (the Sequential
    model `keras_model.build_mlp` builds: hidden_1.., output), metadata.json and model.weights.h5 (each layer's
    kernel and bias as Keras stores them), the same bytes for the same weights. Written whole to a temporary name,
    then renamed over `path`."""
    path = Path(path)
    inputs = cfg.problems.n_features
    sizes = [inputs, *cfg.model.hidden_units, cfg.n_classes]
    layers = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "registered_name": None,
            "config": {
                "batch_shape": [None, inputs],
                "dtype": "float32",
                "sparse": False,
                "ragged": False,
                "name": "input_layer",
            },
        }
    ]
    for i, (fan_in, units) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(
            _dense_config(
                "output" if last else f"hidden_{i + 1}",
                units,
                "softmax" if last else "relu",
                cfg.model.output_initializer if last else cfg.model.hidden_initializer,
                fan_in,
            )
        )
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "mlp", "trainable": True, "layers": layers, "build_input_shape": [None, inputs]},
        "build_config": {"input_shape": [None, inputs]},
    }
    try:
        keras_version = version("keras")
    except PackageNotFoundError:
        keras_version = "3"
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_group("vars").attrs["name"] = "mlp"
        for name, layer, (kernel, bias) in zip(_h5_names(layers[1:]), layers[1:], weights):
            group = h5.create_group(f"layers/{name}/vars")
            group.attrs["name"] = layer["config"]["name"]
            group.create_dataset("0", data=np.asarray(kernel, np.float32), track_times=False)
            group.create_dataset("1", data=np.asarray(bias, np.float32), track_times=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the members dated 1980-01-01 (as Keras dates them) and no save date: the same weights give the same bytes
    members = {
        "metadata.json": json.dumps({"keras_version": keras_version}),
        "config.json": json.dumps(config),
        "model.weights.h5": buffer.getvalue(),
    }
    with atomic.replacing(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
