"""`training.optimizer` (blobs_transfer.config.optimizer): each optimizer resolves to Keras's settings, per side
([training], [source], [target], and as a sweep key), and bad input is one line, exit 2, with nothing written."""

import pytest

from blobs_transfer.config import ConfigError, Optimizer, config_from_dict
from blobs_transfer.sweep.grid import sweep_from_dict
from tests.helpers import invoke, write


@pytest.mark.parametrize(
    "table,rule",
    [
        ({}, Optimizer("sgd", 0.01)),
        ({"optimizer": "momentum"}, Optimizer("momentum", 0.01, momentum=0.9)),
        ({"optimizer": "momentum", "momentum": 0.5, "nesterov": True}, Optimizer("momentum", 0.01, 0.5, True)),
        ({"optimizer": "adam"}, Optimizer("adam", 0.001)),
        ({"optimizer": "adam", "learning_rate": 0.01}, Optimizer("adam", 0.01)),
        ({"learning_rate": 0.1}, Optimizer("sgd", 0.1)),
    ],
)
def test_each_optimizer_takes_keras_defaults_unless_given(table, rule):
    assert config_from_dict({"training": table}).training.update_rule == rule


def test_the_target_can_train_with_another_optimizer_than_the_source():
    cfg = config_from_dict({"target": {"optimizer": "adam"}})
    assert cfg.target_training.update_rule == Optimizer("adam", 0.001)
    assert cfg.source_training.update_rule == Optimizer("sgd", 0.01)  # the source trains as the tutorial
    # a learning rate given in [training] is the target's too, whatever its optimizer
    cfg = config_from_dict({"training": {"learning_rate": 0.05}, "target": {"optimizer": "adam"}})
    assert cfg.target_training.update_rule.learning_rate == 0.05


def test_optimizer_is_a_sweep_key():
    sweep = sweep_from_dict({"sweep": {"target.optimizer": ["sgd", "momentum", "adam"]}})
    rules = [sweep.config_of(c).target_training.update_rule.name for c in sweep.cells()]
    assert rules == ["sgd", "momentum", "adam"]


@pytest.mark.parametrize(
    "doc,needle",
    [
        ({"training": {"optimizer": "nadam"}}, "training.optimizer must be one of sgd, momentum, adam"),
        ({"target": {"optimizer": "momentum", "momentum": -0.1}}, "target.momentum must be a number from 0 to 1"),
        ({"training": {"momentum": 0.9}}, "training.momentum is set, but optimizer 'sgd' has no momentum"),
        ({"target": {"optimizer": "adam", "momentum": 0.9}}, "target.momentum is set, but optimizer 'adam'"),
        ({"training": {"nesterov": True}}, "training.nesterov is set"),
        ({"source": {"optimizer": "adam", "learning_rate": -1.0}}, "source.learning_rate must be a positive number"),
        ({"training": {"optimizer": 1}}, "training.optimizer has the wrong type"),
    ],
)
def test_bad_optimizer_settings_are_one_line_naming_the_key(doc, needle):
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        '[training]\noptimizer = "nadam"\n',
        '[target]\noptimizer = "momentum"\nmomentum = -0.5\n',
        "[training]\nmomentum = 0.9\n",
    ],
)
def test_bad_optimizer_on_the_command_line_is_exit_2_and_writes_nothing(tmp_path, text):
    config = write(tmp_path, text, "bad.toml")
    result = invoke("compare", "--config", config, "--results-dir", tmp_path / "results")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and ("optimizer" in lines[0] or "momentum" in lines[0])
    assert not (tmp_path / "results").exists()
