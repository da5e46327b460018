"""The three sweeps that test the literature's predictions (docs/predictions.md) declare what they promise: their
axes, their arms, at least 20 source models per transfer arm, and the work their comments state."""

from pathlib import Path

import pytest


from blobs_transfer.train import plan
from blobs_transfer.sweep.grid import load_sweep

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
N_TRAIN = (10, 20, 50, 100, 200, 500)
SIMILARITY = (0.0, 0.25, 0.5, 0.75, 1.0)

# name: (axes, arms as (weights, init, copied layers, fixed), networks, network-epochs)
EXPECTED = {
    "budget": ((("target.epochs", (5, 10, 20, 50, 100, 200, 400)), ("target.n_train", N_TRAIN)),
               {"standalone": ("fresh", None, 0, 0), "transfer fixed=0": ("source", None, 3, 0),
                "transfer fixed=1": ("source", None, 3, 1), "transfer fixed=2": ("source", None, 3, 2)},
               16_800, 1_884_000),
    "transfusion": ((("target.n_train", N_TRAIN), ("target.similarity_t", SIMILARITY)),
                    {"standalone": ("fresh", None, 0, 0), "transfer fixed=0": ("source", None, 3, 0),
                     "weight stats fixed=0": ("source", "weight_stats", 3, 0)},
                    9_000, 900_000),
    "output-layer": ((("target.similarity_t", SIMILARITY), ("target.n_train", N_TRAIN)),
                     {"standalone": ("fresh", None, 0, 0), "transfer fixed=0": ("source", None, 3, 0),
                      "transfer fixed=2": ("source", None, 3, 2), "new output fixed=0": ("source", None, 2, 0),
                      "new output fixed=2": ("source", None, 2, 2)},
                     15_000, 1_500_000),
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
