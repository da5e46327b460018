"""One typed config: defaults are the tutorial's protocol; TOML overrides; flags win; errors name the key.

The type check itself is tested in test_config_typecheck.py, the TOML writer in test_config_write.py.
"""

import ast
import dataclasses
import sys
from pathlib import Path

import pytest

import blobs_transfer.config
from blobs_transfer.config import (
    Config,
    ConfigError,
    Optimizer,
    config_from_dict,
    load_config,
    to_toml,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(blobs_transfer.config.__file__).parent


def test_defaults_are_the_tutorial(cfg):
    assert cfg.problems.seeds == (1, 2) and cfg.problems.n_samples == 1000 and cfg.problems.centers == 3
    assert cfg.problems.n_features == 2 and cfg.problems.cluster_std == 2.0 and cfg.problems.n_train == 500
    assert cfg.model.hidden_units == (5, 5) and cfg.model.hidden_initializer == "he_uniform"
    assert cfg.training.update_rule == Optimizer("sgd", 0.01, momentum=0.0, nesterov=False)
    assert cfg.training.batch_size == 32 and cfg.training.epochs == 100
    assert cfg.study.repeats == 30 and cfg.study.source_problem == 1 and cfg.study.target_problem == 2
    assert [a.name for a in cfg.arms] == ["standalone", "transfer fixed=0", "transfer fixed=1", "transfer fixed=2"]
    assert [a.fixed for a in cfg.arms] == [0, 0, 1, 2]


def test_tutorial_toml_spells_out_the_defaults():
    """The same config, but for the learning rate it spells out (left out, it is the optimizer's default)."""
    spelled = load_config(ROOT / "configs" / "tutorial.toml")
    assert spelled.training.learning_rate == 0.01 and Config().training.learning_rate is None
    assert spelled == dataclasses.replace(Config(), training=dataclasses.replace(Config().training, learning_rate=0.01))
    assert spelled.training.update_rule == Config().training.update_rule


def test_flags_win_over_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[study]\nrepeats = 5\nseed = 3\n[training]\nepochs = 7\n")
    cfg = load_config(f, **{"study.repeats": 9, "study.seed": None})
    assert cfg.study.repeats == 9 and cfg.study.seed == 3 and cfg.training.epochs == 7


def test_round_trip_through_toml(tmp_path):
    cfg = load_config(None, **{"study.repeats": 4, "training.learning_rate": 0.5})
    f = tmp_path / "resolved.toml"
    f.write_text(to_toml(cfg))
    assert load_config(f) == cfg


@pytest.mark.parametrize(
    "doc,needle",
    [
        ({"study": {"repeat": 3}}, "'study.repeat'"),
        ({"studdy": {}}, "'studdy'"),
        ({"study": {"repeats": "30"}}, "study.repeats"),
        ({"training": {"learning_rate": True}}, "training.learning_rate"),
        ({"model": {"hidden_units": [5, "a"]}}, "model.hidden_units"),
        ({"arms": [{"name": "x", "weights": "fresh", "colour": 1}]}, "arms[0].colour"),
        ({"arms": [{"weights": "fresh"}]}, "'name'"),
        ({"arms": [{"name": "x", "weights": "magic"}], "study": {"baseline": "x"}}, "weights"),
        ({"arms": [{"name": "x", "weights": "source", "fixed": 3}], "study": {"baseline": "x"}}, "fixed=3"),
        (
            {"arms": [{"name": "x", "weights": "source", "source_problem": 3}], "study": {"baseline": "x"}},
            "no problem 3",
        ),
        ({"study": {"baseline": "nope"}}, "'nope'"),
        ({"study": {"repeats": 0}}, "study.repeats"),
        ({"training": {"epochs": -1}}, "training.epochs"),
    ],
)
def test_bad_config_names_the_key(doc, needle):
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nrepeats = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    latin = tmp_path / "latin.toml"
    latin.write_bytes("[study]\nbaseline = 'é'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(latin)


def test_a_sweep_config_is_not_a_config():
    with pytest.raises(ConfigError, match=r"sweep config.*blobs-transfer sweep --config"):
        load_config(ROOT / "configs" / "sweep.toml")


def test_arm_properties(cfg):
    arm = cfg.arm("transfer fixed=2")
    assert cfg.copied_layers(arm) == 3 and cfg.copied_layers(cfg.arm("standalone")) == 0
    with pytest.raises(ConfigError, match="unknown arm"):
        cfg.arm("transfer fixed=9")


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_config_modules_say_their_job_and_import_only_the_bottom(path):
    """Config sits at the bottom of the pipeline: the standard library, tomli-w, `errors` and itself; every
    import at the top of its module; no citation of a file outside the repository."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    doc = ast.get_docstring(tree)
    assert doc and "May import:" in doc and ".md" not in doc
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert node in tree.body, f"{path.name}:{node.lineno}: a function-local import"
            imported += [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
    allowed = {"blobs_transfer.errors", "tomli_w", "__future__"}
    assert all(
        m in allowed or m.startswith("blobs_transfer.config.") or m.split(".")[0] in sys.stdlib_module_names
        for m in imported
    ), imported
