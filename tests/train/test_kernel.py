"""The generated Numba training kernel (blobs_transfer.train.kernel) on its own terms: frozen layers stay bit
identical, and another architecture (an added layer, other hidden sizes) gets its own kernel that trains as
TensorFlow's engine does. Its exp and log are in test_fastmath.py, its minibatch orders in test_orders.py, its
front end (threads, blocks, cache) in test_engine.py, its distributions in tests/train/test_distribution.py."""

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from blobs_transfer.config import Arm, Optimizer
from blobs_transfer.model import arms
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine, kernel, result
from tests.helpers import assert_same_replica, train_jobs


def test_frozen_layers_stay_bit_identical(cfg, problem2):
    arm = Arm("two frozen", fixed=2)
    initial = arms.initial_weights(cfg, arm, None, replica_rngs(3)[0])
    result = train_jobs(cfg, problem2, [(arm, 3)])
    for i, ((k0, b0), (k, b)) in enumerate(zip(initial, result.weights)):
        assert np.array_equal(k0, k[0]) == (i < 2) and np.array_equal(b0, b[0]) == (i < 2)


@pytest.mark.slow
def test_hidden_sizes_from_the_config_and_an_added_layer(cfg, problem2):
    """Another architecture gets its own generated kernel: 2 -> 7 -> 4 -> 6 -> 3, against TensorFlow's engine
    on the same orders."""
    from blobs_transfer.train import tensorflow_engine

    shapes = [(2, 7), (7, 4), (4, 6), (6, 3)]
    rng = np.random.default_rng(4)
    initial = [
        (rng.uniform(-0.8, 0.8, (2, fi, fo)).astype(np.float32), np.zeros((2, fo), np.float32)) for fi, fo in shapes
    ]
    orders = np.stack([result.epoch_orders(s, 3, 500) for s in (1, 2)])
    trainable = np.array([[True] * 4, [False, True, True, True]])
    kw = dict(epochs=3, batch_size=32, orders=orders)
    ours = engine.train_replicas(problem2, initial, trainable, [1, 2], **kw)
    ref = tensorflow_engine.train_replicas(problem2, initial, trainable, [1, 2], **kw)
    for (k, b), (k_ref, b_ref) in zip(ours.weights, ref.weights):
        np.testing.assert_allclose(k, k_ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(b, b_ref, atol=1e-5, rtol=0)
    assert np.array_equal(ours.final["test_correct"], ref.final["test_correct"])


DISABLED = r"""
import sys
import numpy as np
from blobs_transfer.config import Optimizer, load_config
from blobs_transfer.model import arms
from blobs_transfer.problems import make_problem
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine

cfg = load_config(None, **{"problems.n_samples": 80, "problems.n_train": 40})
p = make_problem(cfg.target_spec)
init = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in (0, 1)])
orders = None if sys.argv[1] == "ok" else np.zeros((2, 2, 3), np.int32)  # too few rows: an IndexError
r = engine.train_replicas(p, init, np.ones((2, 3), bool), [0, 1], epochs=2, batch_size=32, threads=1,
                          optimizer=Optimizer("adam", 0.001), orders=orders)
np.save(sys.argv[2], np.concatenate([w.ravel() for layer in r.weights for w in layer]))
"""


def _disabled(tmp_path, mode):
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "BLOBS_TRANSFER_KERNEL_DIR": str(tmp_path / "kernels")}
    out = tmp_path / f"{mode}.npy"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", DISABLED, mode, str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return done, out


@pytest.mark.slow
def test_without_jit_the_kernel_runs_as_python_and_tracebacks_reach_readable_code(tmp_path):
    """NUMBA_DISABLE_JIT=1: the same training (Adam) runs as plain Python, to the JIT's result up to FMA
    round-off; and an error inside the loop is reported from train/loop.py, not from generated code."""
    done, out = _disabled(tmp_path, "ok")
    assert done.returncode == 0, done.stderr
    exec_globals = {"__name__": "jit"}
    exec(
        compile(
            DISABLED.replace("sys.argv[1]", "'ok'").replace("sys.argv[2]", repr(str(tmp_path / "jit.npy"))),
            "jit",
            "exec",
        ),
        exec_globals,
    )
    np.testing.assert_allclose(np.load(out), np.load(tmp_path / "jit.npy"), atol=1e-5, rtol=0)
    done, _ = _disabled(tmp_path, "bad")
    assert done.returncode != 0 and "IndexError" in done.stderr
    frames = [line for line in done.stderr.splitlines() if line.strip().startswith("File ")]
    assert "blobs_transfer/train/loop.py" in frames[-1], done.stderr[-2000:]


# --- the kernel at full width (issue 36) -----------------------------------------------------------------

WIDTHS = ("xmm", "ymm", "zmm")  # 128-, 256- and 512-bit vector registers


def _fma_widths(dispatcher) -> dict[str, int]:
    """How many fused multiply-adds each vector register width carries in a dispatcher's compiled code."""
    counts = dict.fromkeys(WIDTHS, 0)
    for asm in dispatcher.inspect_asm().values():
        for line in asm.splitlines():
            op, _, operands = line.strip().partition(" ")
            if op.startswith(("vfmadd", "vfmsub", "vfnmadd", "vfnmsub")):
                registers = re.findall(r"%([xyz]mm)\d+", operands)
                if registers:
                    counts[max(registers, key=WIDTHS.index)] += 1
    return counts


@pytest.mark.slow  # compiles two of the kernel's functions anew (3-25 s)
def test_evaluation_runs_at_the_training_body_s_vector_width(cfg):
    """The evaluated row's body vectorises over as many lanes as the training body: its FMAs are all at the widest
    width the training body uses (an int64 compare in it, `i < n_rows[r]`, had halved it). Both compiled here,
    not read from the disk cache, whose code Numba cannot show; whatever the CPU (zmm with AVX-512, ymm with
    AVX2), the widths are compared, not assumed."""
    shapes = [k.shape for k, _ in arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(0)[0])]  # 2-5-5-3
    compiled = engine.compiled_kernel(shapes)
    ws = np.zeros(compiled.OFFSETS.slots * kernel.LANES, np.float32)
    compiled.train_rows(ws)  # an inlined function called from Python compiles on its own
    rows = np.zeros((3, shapes[0][0] + 2, kernel.LANES), np.float32)  # 3 rows: inputs, label, real-row flag
    compiled.evaluate(ws, rows, np.full(kernel.LANES, 3, np.int64), np.zeros((3, kernel.LANES), np.float32))
    train, evaluate = _fma_widths(compiled.train_rows), _fma_widths(compiled.evaluate)
    widest = max((w for w in WIDTHS if train[w]), key=WIDTHS.index)
    assert train[widest] > 0 and evaluate[widest] > 0, (train, evaluate, shapes)
    assert all(evaluate[w] == 0 for w in WIDTHS if w != widest), (train, evaluate)


@pytest.mark.parametrize("rule", [Optimizer(), Optimizer("adam", 0.001)], ids=["sgd", "adam"])
def test_lanes_of_different_training_sizes_in_one_block_train_as_if_alone(cfg, rule):
    """A sweep over target rows puts lanes with different training-set sizes in one block: each lane's
    shuffles (drawn interleaved with the other lanes'), gathered rows, minibatches (the last one short, or
    missing where the lane has fewer), steps and measurements stay its own. Sizes from 1 row to 500 with a
    batch size of 7, two lanes each: every lane bit for bit as when it trains alone."""
    sizes = [1, 6, 7, 8, 20, 33, 100, 500]
    spec = cfg.target_spec
    problems = {n: make_problem(dataclasses.replace(spec, n_train=n, n_samples=n + spec.n_test)) for n in sizes}
    jobs = [(cfg.arms[i % 4], 40 + i, sizes[i % len(sizes)]) for i in range(2 * len(sizes))]
    source = arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(1)[0])
    initial = [arms.initial_weights(cfg, a, source if a.uses_source else None, replica_rngs(s)[0]) for a, s, _ in jobs]
    trainable = np.array([arms.trainable_layers(cfg, a) for a, _, _ in jobs])
    kw = dict(epochs=3, batch_size=7, optimizer=rule, threads=1)

    def train(r_list):
        return engine.train_replicas(
            [problems[jobs[r][2]] for r in r_list],
            arms.stack([initial[r] for r in r_list]),
            trainable[r_list],
            [jobs[r][1] for r in r_list],
            **kw,
        )

    together = train(list(range(len(jobs))))
    assert len(jobs) <= kernel.LANES  # one block
    for r in range(len(jobs)):
        assert_same_replica(together, r, train([r]), 0)
