"""config.write: configs back to TOML, written by tomli-w, byte for byte what every committed run recorded."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from blobs_transfer.config import (
    Arm,
    Config,
    config_from_dict,
    config_to_dict,
    load_config,
    to_toml,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))
RUN_CONFIGS = sorted((ROOT / "results").glob("**/config.toml"))  # every compare run's and sweep cell's
SWEEP_FILES = sorted((ROOT / "results").glob("**/sweep.toml"))

TUTORIAL_TOML = """\
[problems]
seeds = [1, 2]
n_samples = 1000
centers = 3
n_features = 2
cluster_std = 2.0
n_train = 500

[model]
hidden_units = [5, 5]
hidden_initializer = "he_uniform"
output_initializer = "glorot_uniform"

[training]
optimizer = "sgd"
batch_size = 32
epochs = 100

[study]
source_problem = 1
target_problem = 2
repeats = 30
source_repeats = 1
seed = 0
baseline = "standalone"
engine = "numba"

[[arms]]
name = "standalone"
weights = "fresh"
fixed = 0
add_hidden = 0

[[arms]]
name = "transfer fixed=0"
weights = "source"
fixed = 0
add_hidden = 0

[[arms]]
name = "transfer fixed=1"
weights = "source"
fixed = 1
add_hidden = 0

[[arms]]
name = "transfer fixed=2"
weights = "source"
fixed = 2
add_hidden = 0
"""


def test_the_defaults_as_text():
    assert to_toml(Config()) == TUTORIAL_TOML


def test_set_overrides_get_their_table_and_unset_keys_stay_out():
    cfg = config_from_dict(
        {
            "target": {"n_train": 10, "similarity_t": 0.5},
            "training": {"learning_rate": 1e-05},
            "arms": [
                {"name": "standalone", "repeats": 100},
                {"name": "t", "weights": "source", "copy": 2, "init": "weight_stats"},
            ],
        }
    )
    text = to_toml(cfg)
    assert "\n[target]\nn_train = 10\nsimilarity_t = 0.5\n\n[model]\n" in text and "[source]" not in text
    assert "learning_rate = 1e-05\n" in text
    assert text.endswith(
        '\n[[arms]]\nname = "standalone"\nweights = "fresh"\nfixed = 0\nadd_hidden = 0\n'
        'repeats = 100\n\n[[arms]]\nname = "t"\nweights = "source"\ncopy = 2\nfixed = 0\n'
        'add_hidden = 0\ninit = "weight_stats"\n'
    )
    assert "source_problem" not in text.split("[[arms]]", 1)[1]  # an arm's unset keys are not written


def test_the_text_is_the_dict_as_toml():
    cfg = config_from_dict({"source": {"epochs": 5}, "model": {"hidden_units": [8, 4, 2]}})
    data = config_to_dict(cfg)
    assert tomllib.loads(to_toml(cfg)) == {k: v for k, v in data.items() if v}  # empty [target] left out
    assert data["model"]["hidden_units"] == [8, 4, 2] and "hidden_units = [8, 4, 2]\n" in to_toml(cfg)


def test_strings_are_escaped_by_tomli_w(tmp_path):
    """An arm name with a quote, a backslash, a newline and a control character still reads back; the
    hand-written TOML before tomli-w wrote the newline raw, which no TOML reader accepts."""
    name = 'a "b" \\ c\nd\x01 é\te'
    cfg = Config(arms=(Arm(name),), study=dataclasses.replace(Config().study, baseline=name))
    text = to_toml(cfg)
    assert 'name = "a \\"b\\" \\\\ c\\nd\\u0001 é\te"\n' in text
    f = tmp_path / "c.toml"
    f.write_text(text, encoding="utf-8")
    assert load_config(f) == cfg


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_file_round_trips(path, tmp_path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data.pop("sweep", None)  # a sweep config's base is an ordinary config
    cfg = config_from_dict(data)
    f = tmp_path / "resolved.toml"
    f.write_text(to_toml(cfg), encoding="utf-8")
    assert load_config(f) == cfg
    assert to_toml(load_config(f)) == f.read_text(encoding="utf-8")


def test_committed_run_configs_are_reproduced_byte_for_byte():
    assert len(RUN_CONFIGS) >= 100  # the committed runs and sweep cells are there to check
    differ = [str(p.relative_to(ROOT)) for p in RUN_CONFIGS if to_toml(load_config(p)) != p.read_text("utf-8")]
    assert not differ


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.parent.name)
def test_committed_sweep_files_embed_the_base_config_byte_for_byte(path):
    """A resumed sweep compares its sweep.toml with the text it would write, whose tail is `to_toml(base)`."""
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    grid = data.pop("sweep")
    tail = to_toml(config_from_dict(data))
    assert grid and text.endswith("\n\n" + tail) and text.startswith("[sweep]\n")
    assert tomllib.loads(text[: -len(tail)]) == {"sweep": grid}


def test_there_are_sweeps_to_check():
    assert len(SWEEP_FILES) >= 4 and len(CONFIGS) >= 10
