"""Both batched engines (blobs_transfer.train.engine, the default Numba one, and the TensorFlow one) against the
plain Keras loop: exact on identical inputs, independent across replicas and problems; and the Numba engine's
front end: a replica bit for bit the same whatever threads, block or company, its thread setting, its kernel
cache, and training after a fork."""

import os

import numpy as np
import pytest

from blobs_transfer.config import Arm, Optimizer, load_config
from blobs_transfer.model import arms, forward
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine, kernel, result
from blobs_transfer.train.result import batch_bounds, epoch_orders
from tests.helpers import LazyModule
from tests.helpers import assert_same_replica as _same
from tests.helpers import train_jobs as _run

keras_model = LazyModule("blobs_transfer.model.keras_model")
tensorflow_engine = LazyModule("blobs_transfer.train.tensorflow_engine")

EPOCHS = 6


ENGINES = {"numba": engine, "tensorflow": tensorflow_engine}


@pytest.fixture(
    params=[pytest.param(n, marks=[pytest.mark.slow] if n == "tensorflow" else []) for n in sorted(ENGINES)]
)
def train_replicas(request):
    return ENGINES[request.param].train_replicas


def keras_batch_by_batch(cfg, problem, initial, fixed, orders):
    """The reference: a real compiled Keras model, one train_on_batch per minibatch in the given order."""
    model = keras_model.compile_model(keras_model.set_weights(keras_model.build_mlp(cfg), initial), cfg, fixed=fixed)
    x, y = problem.x_train, problem.y_train_onehot
    for order in orders:
        for start, stop in batch_bounds(len(x), cfg.training.batch_size):
            model.train_on_batch(x[order[start:stop]], y[order[start:stop]])
    return model


_KERAS: dict = {}  # Keras runs that several cases share: the source model, each case's reference for both engines


def keras_once(key, fit):
    """What `fit` returns, computed the first time a key is asked for (a Keras run is the slow part of a case)."""
    if key not in _KERAS:
        _KERAS[key] = fit()
    return _KERAS[key]


RULES = {  # the target's optimizer settings: each engine against Keras's own optimizer
    "sgd": {},
    "momentum": {"training.optimizer": "momentum"},
    "nesterov": {"training.optimizer": "momentum", "training.nesterov": True, "training.momentum": 0.8},
    "adam": {"training.optimizer": "adam"},
}


@pytest.mark.slow
@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("fixed", [0, 1, 2])
def test_one_replica_equals_keras_loop(problem1, problem2, fixed, rule, train_replicas):
    """Same starting weights and batch order: weights within 1e-5 and identical predictions after 6 epochs, for
    every update rule against Keras's optimizer (a fresh one, as each target run gets); the source model,
    when there is one, trains with the tutorial's SGD."""
    cfg = load_config(None, **RULES[rule])
    seed = 1234 + fixed
    if fixed:  # a frozen-layer case starts from a (briefly) trained source, as transfer does
        source = keras_once(
            "source",
            lambda: keras_model.get_weights(
                keras_batch_by_batch(
                    load_config(None),
                    problem1,
                    arms.initial_weights(cfg, cfg.arms[0], None, np.random.default_rng(7)),
                    0,
                    epoch_orders(7, 3, 500),
                )
            ),
        )
    else:
        source = None
    arm = Arm("a", weights="source", fixed=fixed) if fixed else cfg.arms[0]
    initial = arms.initial_weights(cfg, arm, source, replica_rngs(seed)[0])
    orders = epoch_orders(seed, EPOCHS, 500)

    def fit_reference():
        model = keras_batch_by_batch(cfg, problem2, initial, fixed, orders)
        return keras_model.get_weights(model), model.predict(problem2.x_test, verbose=0).argmax(1)

    reference, ref_pred = keras_once((fixed, rule), fit_reference)  # the same for both engines' cases
    result = train_replicas(
        problem2,
        arms.stack([initial]),
        np.array([arms.trainable_layers(cfg, arm)]),
        [seed],
        epochs=EPOCHS,
        batch_size=32,
        optimizer=cfg.training.update_rule,
        orders=orders[None],
    )
    ours = arms.unstack(result.weights, 0)
    for (k_ref, b_ref), (k, b), (k0, b0), trainable in zip(reference, ours, initial, arms.trainable_layers(cfg, arm)):
        np.testing.assert_allclose(k, k_ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(b, b_ref, atol=1e-5, rtol=0)
        if not trainable:  # frozen: bit-identical to the start, in both engines
            assert np.array_equal(k, k0) and np.array_equal(b, b0)
            assert np.array_equal(k_ref, k0) and np.array_equal(b_ref, b0)
        else:
            assert not np.array_equal(k, k0)
    ours_pred = forward.predict_classes(ours, problem2.x_test)
    assert np.array_equal(ref_pred, ours_pred)
    assert result.final["test_correct"][0] == int(np.sum(ref_pred == problem2.y_test))


def test_replicas_are_independent(cfg, problem2, train_replicas):
    """Training R replicas together gives each one exactly what training it alone with its seed gives."""
    arm_list = [cfg.arms[0], Arm("r", fixed=1)]  # a frozen and a free replica in one computation
    seeds = [11, 22, 33, 44]
    jobs = [(arm_list[i % 2], s) for i, s in enumerate(seeds)]

    def run(subset):
        initial = arms.stack([arms.initial_weights(cfg, a, None, replica_rngs(s)[0]) for a, s in subset])
        trainable = np.array([arms.trainable_layers(cfg, a) for a, _ in subset])
        return train_replicas(problem2, initial, trainable, [s for _, s in subset], epochs=5, batch_size=32)

    together = run(jobs)
    for r, job in enumerate(jobs):
        alone = run([job])
        for (k_all, b_all), (k_one, b_one) in zip(together.weights, alone.weights):
            np.testing.assert_allclose(k_all[r], k_one[0], atol=1e-6, rtol=0)
            np.testing.assert_allclose(b_all[r], b_one[0], atol=1e-6, rtol=0)
        assert together.final["test_correct"][r] == alone.final["test_correct"][0]
        np.testing.assert_allclose(together.history["test_accuracy"][r], alone.history["test_accuracy"][0])


def test_history_shapes_and_start_column(cfg, problem2, train_replicas):
    initial = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in (1, 2, 3)])
    result = train_replicas(problem2, initial, np.ones((3, 3), bool), [1, 2, 3], epochs=4, batch_size=32)
    for key, curve in result.history.items():
        assert curve.shape == (3, 5), key
        assert np.isfinite(curve).all()
    # column 0 is before training: it is what the untrained weights score on the test split
    start = forward.predict_classes(arms.unstack(initial, 0), problem2.x_test)
    assert result.history["test_accuracy"][0, 0] == pytest.approx(np.mean(start == problem2.y_test))
    # the last column is the final evaluation
    np.testing.assert_allclose(result.history["test_accuracy"][:, -1], result.final["test_accuracy"], atol=1e-7)
    assert set(result.final["test_correct"]) <= set(range(501))


def test_diverging_replica_keeps_frozen_layers_and_does_not_disturb_others(cfg, problem2, train_replicas):
    """One replica diverges (its trainable layers start huge, so its losses turn non-finite) beside one that
    trains normally, in one computation: each keeps its frozen layer exactly, and the normal one ends bit for bit
    as it does when trained alone."""
    initial = [arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in (1, 2)]
    initial[0] = [(k * 1e20, b) if i else (k, b) for i, (k, b) in enumerate(initial[0])]  # only its trainable ones
    trainable = np.array([[False, True, True], [True, False, True]])
    together = train_replicas(problem2, arms.stack(initial), trainable, [1, 2], epochs=3, batch_size=32)
    alone = train_replicas(problem2, arms.stack(initial[1:]), trainable[1:], [2], epochs=3, batch_size=32)
    assert not np.isfinite(together.final["train_loss"][0]) and np.isfinite(together.final["train_loss"][1])
    for replica, frozen in ((0, 0), (1, 1)):
        kernel_, bias = together.weights[frozen]
        assert np.array_equal(kernel_[replica], initial[replica][frozen][0])
        assert np.array_equal(bias[replica], initial[replica][frozen][1])
    _same(together, 1, alone, 0)


def _alone_and_together(cfg, problems, seeds, epochs=4, engine=engine, optimizer=Optimizer()):
    initial = [arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in seeds]
    trainable = np.ones((len(seeds), 3), bool)
    together = engine.train_replicas(
        problems, arms.stack(initial), trainable, seeds, epochs=epochs, batch_size=32, optimizer=optimizer
    )
    alone = [
        engine.train_replicas(p, arms.stack([w]), trainable[:1], [s], epochs=epochs, batch_size=32, optimizer=optimizer)
        for p, w, s in zip(problems, initial, seeds)
    ]
    return together, alone


@pytest.mark.parametrize(
    "rule",
    [Optimizer(), Optimizer("momentum", 0.01, momentum=0.9), Optimizer("adam", 0.001)],
    ids=["sgd", "momentum", "adam"],
)
@pytest.mark.parametrize(
    "engine", [engine, pytest.param(tensorflow_engine, marks=pytest.mark.slow)], ids=["numba", "tensorflow"]
)
def test_replicas_on_different_problems_train_as_if_alone(cfg, engine, rule):
    """A replica with fewer minibatches than the others in its computation takes no step on the batches it
    lacks: with momentum or Adam its state and step count stay as if it trained alone."""
    # train sizes 20, 100 and 500 (none a multiple of 32: 1, 4 and 16 minibatches, the last ones short),
    # another spread and the source problem itself, all in one computation
    specs = [cfg.target_spec, cfg.source_spec]
    specs += [load_config(None, **{"target.n_train": n}).target_spec for n in (20, 100)]
    specs += [load_config(None, **{"target.cluster_std": 1.0, "target.similarity_t": 0.5}).target_spec]
    problems = [make_problem(s) for s in specs]
    assert sorted(p.x_train.shape[0] for p in problems) == [20, 100, 500, 500, 500]
    together, alone = _alone_and_together(cfg, problems, [3, 5, 7, 9, 11], engine=engine, optimizer=rule)
    for r, one in enumerate(alone):
        for key in result.HISTORY_KEYS:
            np.testing.assert_array_equal(together.history[key][r], one.history[key][0], err_msg=key)
        for key in one.final:
            np.testing.assert_array_equal(together.final[key][r], one.final[key][0], err_msg=key)
        for (k_all, b_all), (k_one, b_one) in zip(together.weights, one.weights):
            np.testing.assert_array_equal(k_all[r], k_one[0])
            np.testing.assert_array_equal(b_all[r], b_one[0])


def test_a_replica_is_bit_for_bit_the_same_whatever_threads_block_or_company(cfg, problem2):
    arm_list = [cfg.arms[0], Arm("one frozen", fixed=1), Arm("two frozen", fixed=2)]
    n = 3 * kernel.LANES + 5  # four blocks, the last one padded
    jobs = [(arm_list[i % 3], 1000 + i) for i in range(n)]
    one_thread = _run(cfg, problem2, jobs, threads=1)
    two_threads = _run(cfg, problem2, jobs, threads=2)
    reversed_jobs = _run(cfg, problem2, jobs[::-1], threads=2)  # every replica in another block and lane
    for r in (0, 1, 2, kernel.LANES, n - 1):
        _same(one_thread, r, two_threads, r)
        _same(one_thread, r, reversed_jobs, n - 1 - r)
        alone = _run(cfg, problem2, [jobs[r]])
        _same(one_thread, r, alone, 0)


def test_threads_default_env_and_limit(monkeypatch):
    monkeypatch.setenv(engine.THREADS_ENV, "3")
    assert engine.default_threads() == 3
    monkeypatch.setenv(engine.THREADS_ENV, "x")
    assert engine.default_threads() == len(os.sched_getaffinity(0))
    engine.set_threads(1)
    try:
        assert engine.default_threads() == 1
    finally:
        engine.set_threads(None)
    with pytest.raises(ValueError):
        engine.set_threads(0)


def test_kernel_folder_falls_back_to_a_per_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(engine.KERNEL_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    package = engine.kernel_folder()
    assert package.name == "_kernels"
    monkeypatch.setattr(engine, "_writable", lambda folder: folder != package)
    assert engine.kernel_folder() == tmp_path / "blobs-transfer" / "kernels"
    monkeypatch.setenv(engine.KERNEL_DIR_ENV, str(tmp_path / "mine"))  # the user's choice comes first
    assert engine.kernel_folder() == tmp_path / "mine"


def test_training_keeps_working_after_a_fork(cfg, problem2):
    """Plain threads over a nogil kernel, no threading layer: a forked child trains as its parent does."""
    jobs = [(cfg.arms[0], 77), (cfg.arms[0], 78)]
    expected = _run(cfg, problem2, jobs, threads=2).final["test_correct"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            got = _run(cfg, problem2, jobs, threads=2).final["test_correct"]
            os.write(write, b"same" if np.array_equal(got, expected) else b"different")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100)
    os.waitpid(pid, 0)
    assert answer == b"same"
