"""Every kind of arm (blobs_transfer.model.arms): which weights come from the source, which are fresh, which stay
frozen; fresh layers follow Keras's initialisers; and the weight-statistics control.

One short training (3 epochs, 2 replicas per arm) checks the declarations against what the vectorised engine
really does.

Layer sizes of the tutorial MLP (kernel + bias):
  hidden 1  Dense(2 -> 5):  2*5 + 5 = 15
  hidden 2  Dense(5 -> 5):  5*5 + 5 = 30
  output    Dense(5 -> 3):  5*3 + 3 = 18       total 63
With add_hidden = 1 a new Dense(5 -> 5) (30) sits between hidden 2 and the output: total 93.

The weight-statistics control (Raghu et al. 2019, "Transfusion"): each copied layer's kernel and bias drawn
i.i.d. normal with that source layer's own mean and standard deviation. The draws match those statistics
within sampling error, nothing else of the source leaks in, and the fresh layers keep the draws any arm gets
from the same seed (the engines train and freeze them: tests/train/test_run.py and test_reference.py).
"""

from dataclasses import dataclass, replace

import numpy as np
import pytest

from blobs_transfer.config import (
    Arm,
    Config,
    config_from_dict,
    load_config,
    to_toml,
    validate,
)
from blobs_transfer.model import arms
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train.engine import train_replicas
from tests.helpers import STATS, dyadic_source

EPOCHS, REPLICAS = 3, 2


@dataclass(frozen=True)
class Kind:
    arm: Arm
    copied: tuple[int, ...]  # layers bit-identical to the source model at the start
    frozen: tuple[int, ...]  # layers that must stay bit-identical through training
    trainable: int  # exact trainable parameter count
    total: int = 63  # parameters of the arm's model
    source: str | None = "A"  # A = source trained on Problem 1, B = on Problem 2 (the target itself)


KINDS = [
    Kind(Arm("standalone"), (), (), 63, source=None),
    # the tutorial: all three layers copied; fixed=k freezes the first k hidden layers
    Kind(Arm("transfer fixed=0", weights="source", fixed=0), (0, 1, 2), (), 63),
    Kind(Arm("transfer fixed=1", weights="source", fixed=1), (0, 1, 2), (0,), 48),  # 63 - 15
    Kind(Arm("transfer fixed=2", weights="source", fixed=2), (0, 1, 2), (0, 1), 18),  # 63 - 15 - 30: output only
    # re-initialise above layer 1 (A1B) and its fine-tuned variant (A1B+)
    Kind(Arm("A1B", weights="source", copy=1, fixed=1), (0,), (0,), 48),  # 30 + 18 re-initialised and trained
    Kind(Arm("A1B+", weights="source", copy=1, fixed=0), (0,), (), 63),
    # add a hidden layer: both source hidden layers frozen; new Dense(5,5) = 30 + new output Dense(5,3) = 18
    Kind(Arm("add hidden", weights="source", copy=2, fixed=2, add_hidden=1), (0, 1), (0, 1), 48, total=93),
    # Yosinski n = 2: copy both hidden layers, re-initialise the output
    Kind(Arm("A2B", weights="source", copy=2, fixed=2), (0, 1), (0, 1), 18),  # output only
    Kind(Arm("A2B+", weights="source", copy=2, fixed=0), (0, 1), (), 63),
    # BnB-style: the same declarations with the source trained on the target problem
    Kind(Arm("B1B", weights="source", copy=1, fixed=1, source_problem=2), (0,), (0,), 48, source="B"),
    Kind(Arm("B2B+", weights="source", copy=2, fixed=0, source_problem=2), (0, 1), (), 63, source="B"),
    # random frozen features: nothing copied, the first n random layers never train
    Kind(Arm("random1", fixed=1), (), (0,), 48, source=None),  # 63 - 15
    Kind(Arm("random2", fixed=2), (), (0, 1), 18, source=None),  # 63 - 15 - 30
]


IDS = [k.arm.name for k in KINDS]


def n_layers(kind: Kind) -> int:
    return 3 + kind.arm.add_hidden


@pytest.fixture(scope="module")
def sources(problem1, problem2):
    """Two real source models (3 epochs of a standalone model): A on Problem 1, B on Problem 2.

    Trained weights have non-zero biases, so a copied layer can never pass for a fresh one.
    """
    cfg = Config()
    out = {}
    for name, problem, seed in (("A", problem1, 11), ("B", problem2, 12)):
        init = arms.initial_weights(cfg, Arm("standalone"), None, np.random.default_rng(seed))
        result = train_replicas(
            problem, arms.stack([init]), np.ones((1, 3), bool), [seed], epochs=EPOCHS, batch_size=32
        )
        out[name] = arms.unstack(result.weights, 0)
    return out


@pytest.fixture(scope="module")
def trained(cfg, sources, problem2):
    """Every kind: REPLICAS starting weights and the weights after EPOCHS epochs on Problem 2.

    Replicas of one architecture train together, as the vectorised engine does in a real run.
    """
    start = {}
    for k, kind in enumerate(KINDS):
        source = sources[kind.source] if kind.source else None
        start[kind.arm.name] = [
            arms.initial_weights(cfg, kind.arm, source, np.random.default_rng([k, r])) for r in range(REPLICAS)
        ]
    end = {}
    for depth in sorted({n_layers(kind) for kind in KINDS}):
        group = [kind for kind in KINDS if n_layers(kind) == depth]
        initial = [w for kind in group for w in start[kind.arm.name]]
        mask = [arms.trainable_layers(cfg, kind.arm) for kind in group for _ in range(REPLICAS)]
        result = train_replicas(
            problem2, arms.stack(initial), np.array(mask), list(range(len(initial))), epochs=EPOCHS, batch_size=32
        )
        assert np.isfinite(result.final["train_loss"]).all()
        for g, kind in enumerate(group):
            end[kind.arm.name] = [arms.unstack(result.weights, g * REPLICAS + r) for r in range(REPLICAS)]
    return start, end


def same(a, b) -> bool:
    """Bit-identical (kernel, bias) pairs."""
    return a[0].shape == b[0].shape and np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_declaration_validates_and_counts_parameters(cfg, kind):
    c = replace(cfg, arms=(Arm("standalone"), kind.arm) if kind.arm.name != "standalone" else (kind.arm,))
    validate(c)
    shapes = arms.layer_shapes(c, kind.arm)
    assert len(shapes) == n_layers(kind)
    assert sum((fan_in + 1) * fan_out for fan_in, fan_out in shapes) == kind.total
    assert arms.trainable_layers(c, kind.arm) == [i not in kind.frozen for i in range(n_layers(kind))]
    assert arms.trainable_parameter_count(c, kind.arm) == kind.trainable
    assert c.copied_layers(kind.arm) == len(kind.copied)
    if kind.arm.uses_source:
        assert c.source_problem_of(kind.arm) == {"A": 1, "B": 2}[kind.source]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_starting_weights(cfg, sources, trained, kind):
    start, _ = trained
    source = sources[kind.source] if kind.source else None
    other = sources["B" if kind.source == "A" else "A"]
    shapes = arms.layer_shapes(cfg, kind.arm)
    for i, (fan_in, fan_out) in enumerate(shapes):
        layers = [w[i] for w in start[kind.arm.name]]
        for kernel, bias in layers:
            assert kernel.dtype == np.float32 and kernel.shape == (fan_in, fan_out) and bias.shape == (fan_out,)
        if i in kind.copied:
            assert all(same(layer, source[i]) for layer in layers), f"layer {i + 1} should be the source's"
            assert not any(same(layer, other[i]) for layer in layers), f"layer {i + 1} comes from the wrong source"
        else:
            is_output = i == len(shapes) - 1
            limit = np.sqrt(6 / (fan_in + fan_out)) if is_output else np.sqrt(6 / fan_in)  # glorot / he uniform
            for kernel, bias in layers:
                assert np.abs(kernel).max() <= limit, f"layer {i + 1} exceeds its initialiser's bound"
                assert not bias.any(), f"fresh layer {i + 1} has non-zero biases"
                for s in (sources["A"], sources["B"]):  # not any source layer of that shape
                    assert not any(k.shape == kernel.shape and np.array_equal(k, kernel) for k, _ in s)
            # each replica draws its own fresh layers
            assert not np.array_equal(layers[0][0], layers[1][0]), f"layer {i + 1} is shared by the replicas"


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_frozen_layers_stay_and_the_rest_train(trained, kind):
    start, end = trained
    for before, after in zip(start[kind.arm.name], end[kind.arm.name]):
        for i in range(n_layers(kind)):
            if i in kind.frozen:
                assert same(before[i], after[i]), f"frozen layer {i + 1} moved"
            else:
                assert not np.array_equal(before[i][0], after[i][0]), f"kernel of layer {i + 1} did not train"
                assert not np.array_equal(before[i][1], after[i][1]), f"bias of layer {i + 1} did not train"


def test_fresh_initialisation_follows_keras_bounds(cfg):
    rng = np.random.default_rng(0)
    draws = [arms.initial_weights(cfg, cfg.arms[0], None, rng) for _ in range(200)]
    limits = [np.sqrt(6 / 2), np.sqrt(6 / 5), np.sqrt(6 / (5 + 3))]  # he_uniform, he_uniform, glorot_uniform
    for i, limit in enumerate(limits):
        kernels = np.stack([d[i][0] for d in draws])
        assert np.abs(kernels).max() <= limit
        assert np.abs(kernels).max() > 0.95 * limit  # uniform over the whole range, not a narrower one
        assert kernels.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
        assert all(not d[i][1].any() for d in draws)  # zero biases


def test_transfer_arm_copies_every_layer(cfg):
    source = arms.initial_weights(cfg, cfg.arms[0], None, np.random.default_rng(1))
    got = arms.initial_weights(cfg, cfg.arm("transfer fixed=1"), source, np.random.default_rng(2))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(got, source))
    assert arms.trainable_layers(cfg, cfg.arm("transfer fixed=1")) == [False, True, True]


def test_declaration():
    cfg = config_from_dict(
        {
            "arms": [
                {"name": "standalone"},
                {"name": "ws", "weights": "source", "init": "weight_stats", "copy": 2, "fixed": 1},
            ]
        }
    )
    arm = cfg.arm("ws")
    assert arm.init == "weight_stats" and cfg.copied_layers(arm) == 2
    assert arms.trainable_layers(cfg, arm) == [False, True, True]
    assert load_config(None) == Config() and Config().arms[1].init is None  # the tutorial's arms copy
    assert 'init = "weight_stats"' in to_toml(cfg) and "\ninit = " not in to_toml(Config())


def test_draws_match_each_source_layer_within_sampling_error(cfg):
    """2,000 repeats of the tutorial's layers: per layer, the draws' mean and SD against the source's."""
    source = dyadic_source(cfg, 0)
    draws = [arms.initial_weights(cfg, STATS, source, replica_rngs(s)[0]) for s in range(2000)]
    for i, (kernel, bias) in enumerate(source):
        for j, target in ((0, kernel), (1, bias)):
            got = np.stack([d[i][j] for d in draws]).astype(float)
            mu, sigma = float(np.mean(target)), float(np.std(target))
            n = got.size
            if sigma == 0:  # layer 2's constant bias: a constant draw, its value
                assert np.all(got == np.float32(mu))
                continue
            assert abs(got.mean() - mu) < 4 * sigma / np.sqrt(n), (i, j)
            assert abs(got.std() - sigma) < 4 * sigma / np.sqrt(2 * n), (i, j)
            per_repeat = got.reshape(len(draws), -1)
            assert not np.any(np.all(per_repeat == target.reshape(-1), axis=1))  # never the source's own


def test_one_big_layer_matches_its_statistics():
    """One draw of a 300 x 300 hidden layer whose entries are uniform, not normal: normal draws with its mean
    and SD (the shape of the source's distribution is not kept: the draws' kurtosis is a normal's)."""
    cfg = replace(Config(), model=replace(Config().model, hidden_units=(300, 300)))
    rng = np.random.default_rng(1)
    source = [
        (rng.uniform(-0.3, 0.5, (fi, fo)).astype(np.float32), rng.uniform(0, 0.2, fo).astype(np.float32))
        for fi, fo in arms.layer_shapes(cfg, Arm("standalone"))
    ]
    kernel = arms.initial_weights(cfg, STATS, source, replica_rngs(7)[0])[1][0].astype(float)
    target = source[1][0].astype(float)
    n = kernel.size
    assert abs(kernel.mean() - target.mean()) < 4 * target.std() / np.sqrt(n)
    assert abs(kernel.std() - target.std()) < 4 * target.std() / np.sqrt(2 * n)
    z = (kernel - kernel.mean()) / kernel.std()
    assert abs(np.mean(z**4) - 3.0) < 0.1  # normal (3), not the source's uniform (1.8)


def test_nothing_else_of_the_source_leaks_in(cfg):
    """Two sources with the same per-layer statistics (the same entries in another order) give identical draws
    for the same seed; a source with other statistics does not."""
    a, b = dyadic_source(cfg, 0), dyadic_source(cfg, 1)
    assert not np.array_equal(a[0][0], b[0][0])
    for seed in (3, 4):
        from_a = arms.initial_weights(cfg, STATS, a, replica_rngs(seed)[0])
        from_b = arms.initial_weights(cfg, STATS, b, replica_rngs(seed)[0])
        assert all(np.array_equal(x, y) for la, lb in zip(from_a, from_b) for x, y in zip(la, lb))
    scaled = [(k * 2, bias) for k, bias in a]
    other = arms.initial_weights(cfg, STATS, scaled, replica_rngs(3)[0])
    assert not np.array_equal(other[0][0], arms.initial_weights(cfg, STATS, a, replica_rngs(3)[0])[0][0])


def test_fresh_layers_keep_the_seeds_draws(cfg):
    """With copy = 2 the output layer is fresh: the same draw the plain copy arm gets from the same seed, so
    the init generator's stream is untouched by the control's draws."""
    source = dyadic_source(cfg, 0)
    control = arms.initial_weights(cfg, replace(STATS, copy=2), source, replica_rngs(9)[0])
    plain = arms.initial_weights(cfg, Arm("A2B", weights="source", copy=2), source, replica_rngs(9)[0])
    assert np.array_equal(control[2][0], plain[2][0]) and not control[2][1].any()
    assert np.array_equal(plain[0][0], source[0][0]) and not np.array_equal(control[0][0], source[0][0])
