"""Training engines: R independent replicas of the MLP, trained together.

`train_replicas` is the default engine: the Numba kernel of `kernel` on blocks of `kernel.LANES` replicas,
run by plain threads over a `nogil` kernel (no Numba threading layer: nothing to oversubscribe, nothing that
breaks after a fork, safe in a Dask worker with several threads). Each replica has its own starting weights,
its own reshuffle of the training rows every epoch (drawn in the kernel from its seed), its own frozen layers,
and takes steps of the update rule (`update`: SGD, momentum or Adam) on the mean categorical cross-entropy
of its own minibatch, exactly as if it were
trained alone by Keras (tests/train/test_engine.py). Replicas may see different data (a sweep's cells trained
together). `tensorflow_engine.train_replicas` is the same computation in TensorFlow (`--engine tensorflow`, the path
that can use a GPU), and `reference.fit_keras` the reference loop (`--engine keras`).

This module never imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from importlib import metadata
from pathlib import Path

import numpy as np

from blobs_transfer import atomic
from blobs_transfer.config import Optimizer
from blobs_transfer.model.arms import Weights
from blobs_transfer.problems import Problem
from blobs_transfer.train import kernel
from blobs_transfer.train.kernel import LANES, layout
from blobs_transfer.train.result import HISTORY_KEYS, TrainResult

THREADS_ENV = "BLOBS_TRANSFER_THREADS"
HERE = Path(__file__).resolve().parent
KERNEL_SOURCES = (
    "kernel.py",
    "loop.py",
    "update.py",
    "fastmath.py",
    "orders.py",
)  # what the compiled kernel is made of

_threads_override: int | None = None


# --- threads -------------------------------------------------------------------------------------


def set_threads(threads: int | None) -> None:
    """Limit the Numba engine to `threads` threads in this process (None: back to the default)."""
    global _threads_override
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    _threads_override = threads


def default_threads() -> int:
    """`set_threads`, else $BLOBS_TRANSFER_THREADS, else every core this process may run on."""
    if _threads_override is not None:
        return _threads_override
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n >= 1:
            return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# --- compilation ---------------------------------------------------------------------------------

_compiled = threading.Lock()
_kernels: dict[tuple, object] = {}
_announced = False


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


KERNEL_DIR_ENV = "BLOBS_TRANSFER_KERNEL_DIR"


def kernel_folder() -> Path:
    """Where generated kernels and Numba's cache of them live: $BLOBS_TRANSFER_KERNEL_DIR if set, else beside
    the package (`_kernels/`, ignored by git), or a per-user cache folder where the package cannot be written
    (a system install)."""
    if os.environ.get(KERNEL_DIR_ENV):
        return Path(os.environ[KERNEL_DIR_ENV])
    package = Path(__file__).resolve().parent / "_kernels"
    if _writable(package):
        return package
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "blobs-transfer" / "kernels"


def _source_digest() -> str:
    """Changes whenever the generator or the helpers it inlines change (Numba's cache tracks only the file
    it compiles, not what that file imports), so a stale compiled kernel is never reused."""
    # read as files, not imported: Numba (imported by those modules) is loaded only when a kernel is
    text = b"".join((HERE / name).read_bytes() for name in KERNEL_SOURCES) + metadata.version("numba").encode()
    return hashlib.sha256(text).hexdigest()[:16]


def compiled_kernel(shapes: list[tuple[int, int]]):
    """The training kernel module for these layer shapes: generated, written and imported once per process;
    compiled by Numba on first use and cached on disk (said once on stderr: it takes some seconds)."""
    global _announced
    key = tuple(tuple(int(v) for v in s) for s in shapes)
    with _compiled:
        if key in _kernels:
            return _kernels[key]
        folder = kernel_folder()
        if not _writable(folder):
            raise OSError(f"cannot write the kernel cache folder {folder}")
        name = "mlp_" + "_".join(str(s[0]) for s in key) + f"_{key[-1][1]}"
        path = folder / f"{name}.py"
        text = kernel.kernel_source(list(key), _source_digest())
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic.write_text(path, text)  # another process never imports half a file
        spec = importlib.util.spec_from_file_location(f"blobs_transfer.train._kernels.{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not _announced and not _cached(module.train_block):
            print(
                "blobs-transfer: compiling the training kernel (once after an install; 10-30 s)...",
                file=sys.stderr,
                flush=True,
            )
            _announced = True
        _kernels[key] = module
        return module


def _cached(dispatcher) -> bool:
    """Whether Numba's disk cache holds compiled code for this kernel (any signature)."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # Numba's internals moved: do not announce rather than guess
        return True


# --- the engine ----------------------------------------------------------------------------------


def _data_sets(problems: Sequence[Problem]) -> tuple[np.ndarray, ...]:
    """The distinct problems as padded arrays (x_train (D, rows, F), y_train (D, rows), n_rows (D,), x_test
    (D, n_test, F), y_test (D, n_test)) and each replica's data set index (R,)."""
    index: dict[int, int] = {}
    distinct: list[Problem] = []
    data_of = np.empty(len(problems), np.int64)
    for r, p in enumerate(problems):
        if id(p) not in index:
            index[id(p)] = len(distinct)
            distinct.append(p)
        data_of[r] = index[id(p)]
    n_tests = {p.x_test.shape[0] for p in distinct}
    if len(n_tests) != 1:
        raise ValueError(f"replicas trained together need test splits of one size, got {sorted(n_tests)}")
    n_rows = np.array([p.x_train.shape[0] for p in distinct], np.int64)
    n_features = distinct[0].x_train.shape[1]
    x_train = np.zeros((len(distinct), int(n_rows.max()), n_features), np.float32)
    y_train = np.zeros((len(distinct), int(n_rows.max())), np.int32)
    for d, p in enumerate(distinct):
        x_train[d, : n_rows[d]] = p.x_train
        y_train[d, : n_rows[d]] = p.y_train
    x_test = np.stack([p.x_test for p in distinct]).astype(np.float32)
    y_test = np.stack([p.y_test for p in distinct]).astype(np.int32)
    return x_train, y_train, n_rows, x_test, y_test, data_of


def train_replicas(
    problem: Problem | Sequence[Problem],
    initial: Weights,
    trainable: np.ndarray,
    seeds: np.ndarray | list[int],
    *,
    epochs: int,
    batch_size: int,
    optimizer: Optimizer = Optimizer(),
    orders: np.ndarray | None = None,
    on_epoch: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train R replicas together with the Numba kernel; evaluate each on its test split every epoch.

    problem: one problem every replica trains on, or a sequence of R problems, one per replica (train sizes
    may differ; test splits must have one size). initial: per layer (kernel (R, fan_in, fan_out), bias
    (R, fan_out)); trainable: (R, n_layers) bool; seeds: (R,) replica seeds from which the kernel draws each
    replica's minibatch orders, unless `orders` (R, epochs, n_train) gives them explicitly (one problem only).
    optimizer: the update rule (default: the tutorial's plain SGD at 0.01), its state fresh for every replica.
    on_epoch(e) is called as the replicas' epochs complete (blocks finish together, so e counts the share of
    the work done); threads: default `default_threads()`. A replica's results do not depend on threads or on
    the other replicas (tests/train/test_engine.py).
    """
    n_replicas = initial[0][0].shape[0]
    n_layers = len(initial)
    trainable = np.asarray(trainable, dtype=bool).reshape(n_replicas, n_layers)
    problems = [problem] * n_replicas if isinstance(problem, Problem) else list(problem)
    if len(problems) != n_replicas:
        raise ValueError(f"{len(problems)} problems for {n_replicas} replicas")
    if orders is not None and not isinstance(problem, Problem):
        raise ValueError("explicit orders need one shared problem")
    x_train, y_train, n_rows, x_test, y_test, data_of = _data_sets(problems)
    shapes = [tuple(k.shape[1:]) for k, _ in initial]
    compiled = compiled_kernel(shapes)
    lay = layout(shapes)
    n_params = sum((fan_in + 1) * fan_out for fan_in, fan_out in shapes)
    seeds = np.asarray(seeds, np.int64).reshape(n_replicas)
    rule, hyper = compiled.settings(optimizer)  # the update rule's code and constants (update.settings)

    n_blocks = -(-n_replicas // LANES)
    padded = np.concatenate([np.arange(n_replicas), np.zeros(n_blocks * LANES - n_replicas, np.int64)])
    lane_of = padded.reshape(n_blocks, LANES)  # replica trained in each block's lane (padding repeats one)

    params = np.empty((n_blocks, n_params, LANES), np.float32)
    for (kernel_w, bias), (fan_in, fan_out, ko, bo) in zip(initial, lay):
        flat_k = np.asarray(kernel_w, np.float32).reshape(n_replicas, fan_in * fan_out)
        params[:, ko : ko + fan_in * fan_out, :] = flat_k[lane_of].transpose(0, 2, 1)
        params[:, bo : bo + fan_out, :] = np.asarray(bias, np.float32)[lane_of].transpose(0, 2, 1)
    lane_trainable = np.ascontiguousarray(trainable[lane_of].transpose(0, 2, 1))  # (blocks, layers, lanes)
    lane_seeds = np.ascontiguousarray(seeds[lane_of])
    lane_data = np.ascontiguousarray(data_of[lane_of])
    if orders is not None:
        orders = np.asarray(orders, np.int32)
        lane_orders = [np.ascontiguousarray(orders[lane_of[b]]) for b in range(n_blocks)]
    else:
        empty = np.zeros((0, 0, 0), np.int32)
        lane_orders = [empty] * n_blocks
    history = np.zeros((n_blocks, 4, epochs + 1, LANES), np.float32)
    final = np.zeros((n_blocks, 5, LANES), np.float32)

    def run(b: int) -> None:
        compiled.train_block(
            x_train,
            y_train,
            n_rows,
            x_test,
            y_test,
            lane_data[b],
            params[b],
            lane_trainable[b],
            lane_seeds[b],
            lane_orders[b],
            epochs,
            batch_size,
            rule,
            hyper,
            history[b],
            final[b],
        )

    n_threads = max(1, min(threads or default_threads(), n_blocks))
    reported = 0

    def report(done: int) -> None:
        nonlocal reported
        if on_epoch is None:
            return
        reach = epochs * done // n_blocks
        while reported < reach:
            reported += 1
            on_epoch(reported)

    if n_threads == 1:
        for b in range(n_blocks):
            run(b)
            report(b + 1)
    else:
        pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="blobs-transfer-kernel")
        try:
            pending = {pool.submit(run, b) for b in range(n_blocks)}
            done_count = 0
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
                done_count += len(done)
                report(done_count)
        finally:  # an interrupt (from a progress report) drops the blocks not yet started
            pool.shutdown(wait=True, cancel_futures=True)

    # replica r sat in block r // LANES, lane r % LANES
    block, lane = np.divmod(np.arange(n_replicas), LANES)
    history_out = {k: np.ascontiguousarray(history[block, i, :, lane]) for i, k in enumerate(HISTORY_KEYS)}
    final_out = {k: np.ascontiguousarray(final[block, i, lane]) for i, k in enumerate(HISTORY_KEYS)}
    final_out["test_correct"] = np.rint(final[block, 4, lane]).astype(np.int64)
    weights = []
    for fan_in, fan_out, ko, bo in lay:
        k = params[block, ko : ko + fan_in * fan_out, lane].reshape(n_replicas, fan_in, fan_out)
        weights.append((np.ascontiguousarray(k), np.ascontiguousarray(params[block, bo : bo + fan_out, lane])))
    return TrainResult(weights, history_out, final_out)
