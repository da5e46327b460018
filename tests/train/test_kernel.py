"""The Numba kernel on its own terms: its exp and log, its minibatch orders, a replica's results independent of
threads, blocks and company (bit for bit), and compiled code cached on disk.

Its equality with the Keras loop is in test_engine.py, its distributions in test_distribution.py.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from blobs_transfer.model import arms

from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine, result

from blobs_transfer.train import fastmath, kernel, orders
from blobs_transfer.config import Arm


def ulps(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(ours.astype(np.float64) - ref.astype(np.float64)) / np.spacing(np.abs(ref))


def test_exp_within_two_ulp_of_libm_and_keeps_nan_and_inf():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-87.3, 88.7, 200_000), rng.uniform(-1, 1, 50_000), [0.0, -87.0, 88.7]]).astype(np.float32)
    assert ulps(fastmath.exp_array(x), np.exp(x)).max() <= 2
    special = fastmath.exp_array(np.array([np.nan, np.inf, -np.inf, 89.0, -90.0], np.float32))
    assert np.isnan(special[0]) and special[1] == np.inf and special[3] == np.inf
    assert special[2] == 0 and special[4] == np.exp(np.float32(-90.0))  # subnormal, as libm


def test_log_within_three_ulp_of_libm_and_keeps_nan_and_inf():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(1, 3, 200_000), np.geomspace(1e-37, 3e38, 100_000), [1.0, 2.0, 0.5]]).astype(np.float32)
    ref = np.log(x)
    nonzero = ref != 0
    assert ulps(fastmath.log_array(x)[nonzero], ref[nonzero]).max() <= 3
    assert fastmath.log_array(np.array([1.0], np.float32))[0] == 0
    special = fastmath.log_array(np.array([np.nan, np.inf, 0.0, -1.0], np.float32))
    assert np.isnan(special[0]) and special[1] == np.inf and special[2] == -np.inf and np.isnan(special[3])


def test_orders_are_fresh_permutations_from_the_seed():
    a = orders.draw_orders(5, 4, 500)
    assert np.array_equal(a, orders.draw_orders(5, 4, 500))
    assert all(np.array_equal(np.sort(o), np.arange(500)) for o in a)
    assert not np.array_equal(a[0], a[1])  # reshuffled every epoch
    assert not np.array_equal(orders.draw_orders(6, 1, 500)[0], a[0])
    # uniform enough: over 2,000 shuffles of 5 rows each position holds each row about 400 times
    counts = np.zeros((5, 5))
    for o in orders.draw_orders(9, 2000, 5):
        counts[np.arange(5), o] += 1
    assert np.all(np.abs(counts - 400) < 5 * np.sqrt(400 * 0.8))


def _run(cfg, problem, jobs, **kw):
    initial = arms.stack([arms.initial_weights(cfg, a, None, replica_rngs(s)[0]) for a, s in jobs])
    trainable = np.array([arms.trainable_layers(cfg, a) for a, _ in jobs])
    return engine.train_replicas(problem, initial, trainable, [s for _, s in jobs], epochs=4, batch_size=32,
                                 learning_rate=0.01, **kw)


def _same(a, ra, b, rb):
    for key in a.final:
        assert a.final[key][ra] == b.final[key][rb] or (np.isnan(a.final[key][ra]) and np.isnan(b.final[key][rb])), key
    for key in a.history:
        np.testing.assert_array_equal(a.history[key][ra], b.history[key][rb], err_msg=key)
    for (ka, ba), (kb, bb) in zip(a.weights, b.weights):
        assert np.array_equal(ka[ra], kb[rb]) and np.array_equal(ba[ra], bb[rb])


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


def test_frozen_layers_stay_bit_identical(cfg, problem2):
    arm = Arm("two frozen", fixed=2)
    initial = arms.initial_weights(cfg, arm, None, replica_rngs(3)[0])
    result = _run(cfg, problem2, [(arm, 3)])
    for i, ((k0, b0), (k, b)) in enumerate(zip(initial, result.weights)):
        assert np.array_equal(k0, k[0]) == (i < 2) and np.array_equal(b0, b[0]) == (i < 2)


def test_hidden_sizes_from_the_config_and_an_added_layer(cfg, problem2):
    """Another architecture gets its own generated kernel: 2 -> 7 -> 4 -> 6 -> 3, against TensorFlow's engine
    on the same orders."""
    from blobs_transfer.train import tensorflow_engine as engine_tf

    shapes = [(2, 7), (7, 4), (4, 6), (6, 3)]
    rng = np.random.default_rng(4)
    initial = [(rng.uniform(-0.8, 0.8, (2, fi, fo)).astype(np.float32), np.zeros((2, fo), np.float32)) for fi, fo in shapes]
    orders = np.stack([result.epoch_orders(s, 3, 500) for s in (1, 2)])
    trainable = np.array([[True] * 4, [False, True, True, True]])
    kw = dict(epochs=3, batch_size=32, learning_rate=0.01, orders=orders)
    ours = engine.train_replicas(problem2, initial, trainable, [1, 2], **kw)
    ref = engine_tf.train_replicas(problem2, initial, trainable, [1, 2], **kw)
    for (k, b), (k_ref, b_ref) in zip(ours.weights, ref.weights):
        np.testing.assert_allclose(k, k_ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(b, b_ref, atol=1e-5, rtol=0)
    assert np.array_equal(ours.final["test_correct"], ref.final["test_correct"])


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


CHILD = """
import numpy as np
from blobs_transfer.model import arms
from blobs_transfer.train import engine
from blobs_transfer.config import Config
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import result
cfg = Config()
w = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(1)[0])])
r = engine.train_replicas(make_problem(cfg.catalogue_spec(2)), w, np.ones((1, 3), bool), [1], epochs=2,
                          batch_size=32, learning_rate=0.01)
print(int(r.final["test_correct"][0]))
"""


@pytest.mark.slow
def test_a_cold_cache_compiles_once_says_so_and_is_reused(tmp_path):
    """A new kernel folder: the first process compiles (and says so on stderr, once), the next one loads the
    cached code silently and gets the same numbers."""
    env = {**os.environ, engine.KERNEL_DIR_ENV: str(tmp_path / "kernels")}
    first = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("compiling the training kernel") == 1
    assert list((tmp_path / "kernels" / "__pycache__").glob("*.nbi"))
    second = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0 and "compiling" not in second.stderr
    assert first.stdout == second.stdout


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
