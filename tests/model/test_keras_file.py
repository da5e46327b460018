"""Source models read from their .keras files with h5py (blobs_transfer.model.keras_file): the weights Keras itself
loads, and today's one-line errors for a damaged file or a wrong architecture; compare, fit and sweep never import
TensorFlow."""

import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from blobs_transfer.config import Config, load_config
from blobs_transfer.errors import SourceModelError
from blobs_transfer.model.keras_file import load_source_weights


@pytest.fixture(scope="module")
def saved(tmp_path_factory, cfg):
    """A real .keras source model, saved by Keras, with weights that are not its initial ones."""
    from blobs_transfer.model.keras_model import build_mlp, compile_model, save_model

    model = compile_model(build_mlp(cfg), cfg)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    path = tmp_path_factory.mktemp("source") / "problem1.keras"
    save_model(model, path)
    return path


def test_same_weights_as_keras_load_model(saved, cfg):
    import keras

    ours = load_source_weights(saved, cfg)
    theirs = keras.models.load_model(saved, compile=False)
    assert len(ours) == len(theirs.layers) == 3
    for (kernel, bias), layer in zip(ours, theirs.layers):
        assert np.array_equal(kernel, layer.kernel.numpy()) and np.array_equal(bias, layer.bias.numpy())
        assert kernel.dtype == np.float32


def test_an_added_hidden_layer_is_read_in_order(tmp_path):
    from blobs_transfer.model.keras_model import (
        build_mlp,
        compile_model,
        get_weights,
        save_model,
    )

    cfg = load_config(None, **{"model.hidden_units": [4, 6, 5]})
    model = compile_model(build_mlp(cfg), cfg)
    save_model(model, tmp_path / "m.keras")
    for (k, b), (k_ref, b_ref) in zip(load_source_weights(tmp_path / "m.keras", cfg), get_weights(model)):
        assert np.array_equal(k, k_ref) and np.array_equal(b, b_ref)


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


def test_damaged_files_are_one_line_errors(saved, tmp_path, cfg):
    cut = tmp_path / "cut.keras"
    cut.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(SourceModelError) as info:
        load_source_weights(cut, cfg)
    assert "not a .keras file" in _one_line(info)
    no_weights = tmp_path / "no_weights.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(no_weights, "w") as dst:
        for name in src.namelist():
            if name != "model.weights.h5":
                dst.writestr(name, src.read(name))
    with pytest.raises(SourceModelError) as info:
        load_source_weights(no_weights, cfg)
    assert "cannot be loaded" in _one_line(info)
    garbage = tmp_path / "garbage.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(garbage, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"not hdf5" if name.endswith(".h5") else src.read(name))
    with pytest.raises(SourceModelError) as info:
        load_source_weights(garbage, cfg)
    assert "cannot be loaded" in _one_line(info)
    with pytest.raises(SourceModelError) as info:
        load_source_weights(tmp_path / "missing.keras", cfg)
    assert "train-source" in _one_line(info)


def test_a_wrong_architecture_is_refused(saved):
    wider = load_config(None, **{"model.hidden_units": [8, 5]})
    with pytest.raises(SourceModelError) as info:
        load_source_weights(saved, wider)
    assert "layer shapes [(2, 5), (5, 5), (5, 3)]" in _one_line(info)
    assert load_source_weights(saved, Config())  # and the right one is read


NO_TENSORFLOW = """
import sys
from blobs_transfer.cli import cli
try:
    cli({args!r})
except SystemExit as e:
    assert not e.code, e.code
bad = [m for m in ("tensorflow", "keras") if m in sys.modules]
assert not bad, f"{{bad}} imported"
"""


@pytest.mark.slow
@pytest.mark.parametrize("command", ["compare", "fit", "sweep"])
def test_the_default_engine_never_imports_tensorflow(saved, tmp_path, command):
    (tmp_path / "source").mkdir()
    shutil.copy(saved, tmp_path / "source" / "problem1.keras")
    if command == "compare":
        args = ["compare", "--repeats", "2", "--epochs", "2", "--results-dir", str(tmp_path)]
    elif command == "fit":
        args = ["fit", "--source", str(saved), "--fixed", "1", "--epochs", "2", "--results-dir", str(tmp_path)]
    else:
        grid = tmp_path / "grid.toml"
        grid.write_text(
            '[study]\nrepeats = 2\nsource_repeats = 2\n[training]\nepochs = 2\n[sweep]\n"target.n_train" = [20, 40]\n'
        )
        args = ["sweep", "--config", str(grid), "--results-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW.format(args=args)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
