"""The committed configs/*.toml say what they promise: every one loads and validates (a sweep: every cell), the
extensions, Yosinski, reverse and sources configs declare their arms, and the three sweeps that test the
literature's predictions (docs/predictions.md) declare their axes, their arms, at least 20 source models per
transfer arm, and the work their comments state."""

from pathlib import Path

import pytest

from blobs_transfer.config import Config, load_config, validate
from blobs_transfer.sweep.grid import load_sweep
from blobs_transfer.train import plan

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
CONFIG_FILES = sorted(CONFIGS.glob("*.toml"))


N_TRAIN = (10, 20, 50, 100, 200, 500)


SIMILARITY = (0.0, 0.25, 0.5, 0.75, 1.0)


# name: (axes, arms as (weights, init, copied layers, fixed), networks, network-epochs)
EXPECTED = {
    "budget": (
        (("target.epochs", (5, 10, 20, 50, 100, 200, 400)), ("target.n_train", N_TRAIN)),
        {
            "standalone": ("fresh", None, 0, 0),
            "transfer fixed=0": ("source", None, 3, 0),
            "transfer fixed=1": ("source", None, 3, 1),
            "transfer fixed=2": ("source", None, 3, 2),
        },
        16_800,
        1_884_000,
    ),
    "transfusion": (
        (("target.n_train", N_TRAIN), ("target.similarity_t", SIMILARITY)),
        {
            "standalone": ("fresh", None, 0, 0),
            "transfer fixed=0": ("source", None, 3, 0),
            "weight stats fixed=0": ("source", "weight_stats", 3, 0),
        },
        9_000,
        900_000,
    ),
    "output-layer": (
        (("target.similarity_t", SIMILARITY), ("target.n_train", N_TRAIN)),
        {
            "standalone": ("fresh", None, 0, 0),
            "transfer fixed=0": ("source", None, 3, 0),
            "transfer fixed=2": ("source", None, 3, 2),
            "new output fixed=0": ("source", None, 2, 0),
            "new output fixed=2": ("source", None, 2, 2),
        },
        15_000,
        1_500_000,
    ),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_prediction_sweep_declares_what_it_promises(name):
    axes, arms, networks, network_epochs = EXPECTED[name]
    sweep = load_sweep(CONFIGS / f"{name}.toml")
    assert sweep.axes == axes
    cfgs = [sweep.config_of(c) for c in sweep.cells()]
    for cfg in cfgs:
        assert {a.name: (a.weights, a.init, cfg.copied_layers(a), a.fixed) for a in cfg.arms} == arms
        assert cfg.study.source_repeats >= 20 and cfg.study.seed == 0
        assert cfg.source_training == cfg.training  # the tutorial's source models, shared by every cell
        assert cfg.repeats_of(cfg.arm("standalone")) == cfg.study.source_repeats * cfg.study.repeats
    if name == "budget":
        assert {cfg.target_spec.similarity_t for cfg in cfgs} == {0.25}
    runs = [len(plan.plan_replicas(cfg)) for cfg in cfgs]
    assert sum(runs) == networks
    assert sum(n * cfg.target_training.epochs for n, cfg in zip(runs, cfgs)) == network_epochs
    assert f"{network_epochs:,} network-epochs" in (CONFIGS / f"{name}.toml").read_text()


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_every_config_file_loads_and_validates(path):
    if "[sweep]" in path.read_text():  # a sweep: every cell's config must load
        from blobs_transfer.sweep.grid import load_sweep

        sweep = load_sweep(path)
        configs = [sweep.config_of(c) for c in sweep.cells()]
    else:
        configs = [load_config(path)]
    for cfg in configs:
        validate(cfg)
        assert cfg.arm(cfg.study.baseline)


def test_new_configs_say_what_they_promise():
    ext = load_config(ROOT / "configs" / "extensions.toml")
    assert {a.name: (a.weights, ext.copied_layers(a), a.fixed, a.add_hidden) for a in ext.arms} == {
        "standalone": ("fresh", 0, 0, 0),
        "transfer fixed=1": ("source", 3, 1, 0),
        "reinit above layer 1 (A1B)": ("source", 1, 1, 0),
        "reinit above layer 1, fine-tuned (A1B+)": ("source", 1, 0, 0),
        "add hidden layer": ("source", 2, 2, 1),
    }
    yos = load_config(ROOT / "configs" / "yosinski.toml")
    expected = {"standalone": ("fresh", 0, 0, None)}
    for n in (1, 2):
        expected |= {
            f"A{n}B": ("source", n, n, 1),
            f"A{n}B+": ("source", n, 0, 1),
            f"B{n}B": ("source", n, n, 2),
            f"B{n}B+": ("source", n, 0, 2),
            f"random{n}": ("fresh", 0, n, None),
        }
    got = {
        a.name: (a.weights, yos.copied_layers(a), a.fixed, yos.source_problem_of(a) if a.uses_source else None)
        for a in yos.arms
    }
    assert got == expected and yos.study.baseline == "standalone"
    rev = load_config(ROOT / "configs" / "reverse.toml")
    assert (rev.study.source_problem, rev.study.target_problem, rev.arms) == (2, 1, Config().arms)
    src = load_config(ROOT / "configs" / "sources.toml")
    assert src.study.source_repeats == 10 and src.arms == Config().arms
