"""Comparisons trained by the chosen engine (blobs_transfer.train.run): a replica's result does not depend on the
chunk it was trained in or on the cells trained beside it, each arm starts from its own source problem's model,
each side trains with its own epochs, and the target's settings never change the source models."""

from dataclasses import replace

import numpy as np
import pytest

from blobs_transfer.config import Arm, config_from_dict, load_config
from blobs_transfer.model import arms, forward
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine, plan, run
from tests.helpers import STATS, dyadic_source


def engine_calls(monkeypatch) -> list[int]:
    """Record the number of replicas of every call of the Numba engine (which still trains them)."""
    sizes, real = [], engine.train_replicas

    def recording(problem, initial, trainable, seeds, **kwargs):
        sizes.append(len(seeds))
        return real(problem, initial, trainable, seeds, **kwargs)

    monkeypatch.setattr(engine, "train_replicas", recording)
    return sizes


def test_chunked_training_is_bit_for_bit_the_same(monkeypatch):
    cfg = load_config(None, **{"study.repeats": 5, "study.source_repeats": 2, "training.epochs": 4})
    (models, _) = run.train_sources(cfg, 1, 2)
    sources = {cfg.source_spec: models}
    calls = engine_calls(monkeypatch)
    whole = run.run_comparison(cfg, sources)
    chunked = run.run_comparison(cfg, sources, chunk_size=7)
    # 5 standalone + 3 arms x 2 sources x 5 runs = 35 replicas: one computation, then five chunks of 7 (were the
    # chunk size ignored, this test would compare one computation with itself)
    assert calls == [35, 7, 7, 7, 7, 7]
    assert [r.seed for r in whole.replicas] == [r.seed for r in chunked.replicas]
    for key in whole.final:
        assert np.array_equal(whole.final[key], chunked.final[key]), key
    for key in whole.history:
        assert np.array_equal(whole.history[key], chunked.history[key]), key


def test_cells_trained_together_equal_each_comparison_alone(monkeypatch):
    cfgs = [
        load_config(
            None,
            **{
                "study.repeats": 3,
                "study.source_repeats": 2,
                "training.epochs": 3,
                "target.n_train": n,
                "target.similarity_t": t,
            },
        )
        for n, t in ((100, 0.0), (100, 1.0), (20, 0.5))
    ]
    sources = []
    for cfg in cfgs:
        models, _ = run.train_sources(cfg, 1, 2)
        sources.append({cfg.source_spec: models})
    calls = engine_calls(monkeypatch)
    together = run.run_comparisons(cfgs, sources)
    # 21 replicas a cell: the two cells of 100 rows (4 minibatches) in one computation, the 20-row cell in
    # another; then each cell alone below
    assert calls == [42, 21]
    for cfg, cell_sources, joint in zip(cfgs, sources, together):
        alone = run.run_comparison(cfg, cell_sources)
        assert [r.seed for r in joint.replicas] == [r.seed for r in alone.replicas]
        for key in alone.final:
            assert np.array_equal(joint.final[key], alone.final[key]), key
        for key in alone.history:
            assert np.array_equal(joint.history[key], alone.history[key]), key


def test_each_arm_starts_from_its_own_source_problem(problem2):
    """run_comparison hands a BnB arm the Problem 2 source and an AnB arm the Problem 1 source.

    Column 0 of the history is measured before any training, so with every layer copied it is the source
    model's own test loss on the target problem.
    """
    cfg = config_from_dict(
        {
            "training": {"epochs": 1},
            "study": {"repeats": 1},
            "arms": [
                {"name": "standalone"},
                {"name": "from A", "weights": "source"},
                {"name": "from B", "weights": "source", "source_problem": 2},
            ],
        }
    )
    assert plan.sources_needed(cfg) == [1, 2]
    rng = np.random.default_rng(5)
    a = arms.initial_weights(cfg, Arm("standalone"), None, rng)
    b = [(k * 1.5, b + 0.1) for k, b in arms.initial_weights(cfg, Arm("standalone"), None, rng)]

    def test_loss(w):
        h = forward.features_and_logits(w, problem2.x_test)[1]
        h -= h.max(1, keepdims=True)
        log_p = h - np.log(np.exp(h).sum(1, keepdims=True))
        return -np.mean(log_p[np.arange(len(h)), problem2.y_test])

    sources = {
        cfg.source_spec: [plan.SourceModel(cfg.source_spec, a, None)],
        cfg.target_spec: [plan.SourceModel(cfg.target_spec, b, None)],
    }
    compared = run.run_comparison(cfg, sources)
    by_arm = {rep.arm.name: i for i, rep in enumerate(compared.replicas)}
    assert compared.history["test_loss"][by_arm["from A"], 0] == pytest.approx(test_loss(a), rel=1e-4)
    assert compared.history["test_loss"][by_arm["from B"], 0] == pytest.approx(test_loss(b), rel=1e-4)
    assert [compared.replicas[by_arm[n]].source_index for n in ("standalone", "from A", "from B")] == [None, 0, 0]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["numba", "keras"])
def test_each_engine_trains_each_side_with_its_epochs(engine, problem2):
    c = config_from_dict({"training": {"epochs": 2}, "target": {"epochs": 1}, "study": {"engine": engine}})
    _, source = run.train_sources(c, 1, 1)
    target = run.train(c, problem2, [(c.arm("standalone"), None, 5)], engine=engine)
    assert source.history["train_loss"].shape == (1, 3) and target.history["train_loss"].shape == (1, 2)


def test_engine_trains_the_drawn_weights_and_freezes_them(cfg, problem2):
    """fixed = 1: the first layer the engine ends with is exactly the drawn one; the others trained."""
    arm = replace(STATS, fixed=1)
    c = replace(cfg, arms=(Arm("standalone"), arm), training=replace(cfg.training, epochs=2))
    source = dyadic_source(cfg, 0)
    replica_seeds = [11, 12]
    result = run.train(c, problem2, [(arm, source, s) for s in replica_seeds], engine="numba")
    for r, s in enumerate(replica_seeds):
        start = arms.initial_weights(c, arm, source, replica_rngs(s)[0])
        end = arms.unstack(result.weights, r)
        assert np.array_equal(end[0][0], start[0][0]) and np.array_equal(end[0][1], start[0][1])
        assert not np.array_equal(end[1][0], start[1][0]) and not np.array_equal(end[2][0], start[2][0])


TARGET_OVERRIDES = {"n_train": 100, "cluster_std": 1.0, "similarity_t": 0.5}


def test_target_changes_leave_the_trained_source_model():
    base = load_config(None, **{"training.epochs": 3})
    changed = load_config(None, **{"training.epochs": 3, **{f"target.{k}": v for k, v in TARGET_OVERRIDES.items()}})
    (a,), _ = run.train_sources(base, 1, 1)
    (b,), _ = run.train_sources(changed, 1, 1)
    assert a.seed == b.seed and a.spec == b.spec
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a.weights, b.weights))
