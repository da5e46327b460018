"""The config's rules (blobs_transfer.config.schema): `[target]` / `[source]` training settings override
`[training]` per side, and bad overrides and bad `init` declarations are one-line errors naming the key."""

import pytest

from blobs_transfer.config import ConfigError, Training, config_from_dict
from blobs_transfer.sweep import cells
from blobs_transfer.train import plan

TUTORIAL = Training(batch_size=32, epochs=100)


def test_overrides_resolve_per_side(cfg):
    c = config_from_dict(
        {"target": {"epochs": 5, "n_train": 50}, "source": {"learning_rate": 0.1}, "training": {"batch_size": 16}}
    )
    assert c.target_training == Training(batch_size=16, epochs=5)
    assert c.source_training == Training(learning_rate=0.1, batch_size=16, epochs=100)
    # the problems are untouched by the training keys
    assert c.source_spec == cfg.source_spec and c.target_spec.n_train == 50
    assert c.target_spec == config_from_dict({"target": {"n_train": 50}}).target_spec
    # the source models' key follows the source's training only; training together follows the target's
    other = config_from_dict(
        {"target": {"epochs": 200, "n_train": 50}, "source": {"learning_rate": 0.1}, "training": {"batch_size": 16}}
    )
    assert cells.source_key(c, 1) == cells.source_key(other, 1)
    assert plan.training_key(c) != plan.training_key(other)
    assert config_from_dict({"source": {"epochs": 7}}).target_training == TUTORIAL


@pytest.mark.parametrize(
    "doc,needle",
    [
        ({"target": {"epochs": 0}}, "target.epochs"),
        ({"source": {"batch_size": -2}}, "source.batch_size"),
        ({"target": {"learning_rate": -0.1}}, "target.learning_rate"),
        ({"target": {"epochs": 2.5}}, "target.epochs"),
    ],
)
def test_bad_override_names_the_key(doc, needle):
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "arm,needle",
    [
        ({"name": "x", "weights": "source", "init": "magic"}, "init must be one of copy, weight_stats"),
        ({"name": "x", "init": "weight_stats"}, 'need weights = "source"'),
        ({"name": "x", "weights": "source", "init": 1}, "arms[1].init"),
    ],
)
def test_bad_init_is_one_line(arm, needle):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"arms": [{"name": "standalone"}, arm]})
    assert needle in str(info.value) and "\n" not in str(info.value)
