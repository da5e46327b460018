"""The weight-statistics control (Raghu et al. 2019, "Transfusion"): each copied layer's kernel and bias drawn
i.i.d. normal with that source layer's own mean and standard deviation. The draws match those statistics
within sampling error, nothing else of the source leaks in, the fresh layers keep the draws any arm gets
from the same seed, and the arm freezes like any other."""

from dataclasses import replace

import numpy as np
import pytest

from blobs_transfer.model import arms

from blobs_transfer.train import run as experiment

from blobs_transfer.config import Arm, Config, ConfigError, config_from_dict, load_config, to_toml
from blobs_transfer.seeds import replica_rngs

STATS = Arm("weight stats", weights="source", init="weight_stats")


def symmetric_layer(shape, mean, step, order):
    """Entries mean + k * step for symmetric k (plus 0 if the count is odd), in a given order: the mean and
    standard deviation are exact in floating point, whatever the order, for dyadic mean and step."""
    n = int(np.prod(shape))
    half = np.arange(1, n // 2 + 1)
    offsets = np.concatenate([-half, half, [0] * (n % 2)]).astype(float)
    return (mean + step * offsets[order]).reshape(shape).astype(np.float32)


def dyadic_source(cfg, seed):
    """A source model whose layers have exact per-layer statistics; `seed` only permutes the entries."""
    rng = np.random.default_rng(seed)
    out = []
    for i, (fan_in, fan_out) in enumerate(arms.layer_shapes(cfg, Arm("standalone"))):
        n_k, n_b = fan_in * fan_out, fan_out
        kernel = symmetric_layer((fan_in, fan_out), 0.25 * (i - 1), 0.125, rng.permutation(n_k))
        bias = np.full(fan_out, 0.5, np.float32) if i == 1 else symmetric_layer((fan_out,), -0.125, 0.0625,
                                                                                rng.permutation(n_b))
        out.append((kernel, bias))
    return out


def test_declaration():
    cfg = config_from_dict({"arms": [{"name": "standalone"}, {"name": "ws", "weights": "source",
                                                                   "init": "weight_stats", "copy": 2, "fixed": 1}]})
    arm = cfg.arm("ws")
    assert arm.init == "weight_stats" and cfg.copied_layers(arm) == 2
    assert arms.trainable_layers(cfg, arm) == [False, True, True]
    assert load_config(None) == Config() and Config().arms[1].init is None  # the tutorial's arms copy
    assert 'init = "weight_stats"' in to_toml(cfg) and "\ninit = " not in to_toml(Config())


@pytest.mark.parametrize("arm,needle", [
    ({"name": "x", "weights": "source", "init": "magic"}, "init must be one of copy, weight_stats"),
    ({"name": "x", "init": "weight_stats"}, "need weights = \"source\""),
    ({"name": "x", "weights": "source", "init": 1}, "arms[1].init"),
])
def test_bad_init_is_one_line(arm, needle):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"arms": [{"name": "standalone"}, arm]})
    assert needle in str(info.value) and "\n" not in str(info.value)


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
    source = [(rng.uniform(-0.3, 0.5, (fi, fo)).astype(np.float32), rng.uniform(0, 0.2, fo).astype(np.float32))
              for fi, fo in arms.layer_shapes(cfg, Arm("standalone"))]
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


def test_engine_trains_the_drawn_weights_and_freezes_them(cfg, problem2):
    """fixed = 1: the first layer the engine ends with is exactly the drawn one; the others trained."""
    arm = replace(STATS, fixed=1)
    c = replace(cfg, arms=(Arm("standalone"), arm), training=replace(cfg.training, epochs=2))
    source = dyadic_source(cfg, 0)
    replica_seeds = [11, 12]
    result = experiment.train(c, problem2, [(arm, source, s) for s in replica_seeds], engine="numba")
    for r, s in enumerate(replica_seeds):
        start = arms.initial_weights(c, arm, source, replica_rngs(s)[0])
        end = arms.unstack(result.weights, r)
        assert np.array_equal(end[0][0], start[0][0]) and np.array_equal(end[0][1], start[0][1])
        assert not np.array_equal(end[1][0], start[1][0]) and not np.array_equal(end[2][0], start[2][0])


def test_keras_engine_starts_from_the_same_draws(cfg, problem2):
    """The reference loop sets the copied layers to the very draws the vectorised engine starts from."""
    arm = replace(STATS, fixed=2)
    c = replace(cfg, arms=(Arm("standalone"), arm), training=replace(cfg.training, epochs=1))
    source = dyadic_source(cfg, 0)
    result = experiment.train(c, problem2, [(arm, source, 13)], engine="keras")
    start = arms.initial_weights(c, arm, source, replica_rngs(13)[0])
    end = arms.unstack(result.weights, 0)
    for i in (0, 1):  # frozen: still the drawn weights after training
        assert np.array_equal(end[i][0], start[i][0]) and np.array_equal(end[i][1], start[i][1])
