"""Where a sweep's cells run: in this process, or as tasks on a Dask distributed cluster.

Both are the same loop: hand over (key, payload) pairs (a batch of cells and their configs), get back (key,
output or exception) as tasks finish. On Dask a task carries only its cells' configs (with their seeds) and
returns arrays; the driver alone writes the
sweep directory. Workers are spawned processes (never forked: TensorFlow's runtime does not survive a fork),
each training with one thread per task slot (TensorFlow only for the engines that use it). A worker that dies has its
cells run again elsewhere by the scheduler; a lost scheduler is a `ClusterError`, and `--resume` finishes the
sweep from the cells already written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from blobs_transfer.errors import StudyError
from blobs_transfer.train import engine

INSTALL_HINT = 'Dask is not installed: pip install -e ".[dask]" (it adds dask[distributed])'
CONNECT_TIMEOUT = "20s"

Task = Callable[[Any], Any]


@dataclass(frozen=True)
class Runner:
    """Runs tasks somewhere: run(task, [(key, payload)]) yields (key, output or exception) as they finish;
    `slots` is how many tasks can run at once (worker threads), so callers can make enough of them."""

    run: Callable[[Task, Sequence[tuple[Any, Any]]], Iterator[tuple[Any, Any]]]
    slots: int = 1


class ClusterError(StudyError):
    """The Dask scheduler cannot be reached or was lost."""


def in_process(task: Task, tasks: Sequence[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
    """Run the tasks one after another here; a task that raises yields its exception and the others go on."""
    for key, payload in tasks:
        try:
            yield key, task(payload)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # one task's failure is reported with its cells; the rest still run
            yield key, exc


def setup_worker(threads: int) -> None:
    """Give a worker process its share of the cores: each of its `threads` task slots trains with one thread
    of the Numba engine (so the worker never runs more than `threads` at once), and TensorFlow, imported only
    if a task uses the tensorflow or keras engine, gets the same share through its environment variables."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    engine.set_threads(1)


def _plugin():
    from distributed.diagnostics.plugin import WorkerPlugin

    class ThreadShare(WorkerPlugin):
        """Runs `setup_worker` when a worker starts (and again in any worker that replaces a dead one)."""

        name = "blobs-transfer-threads"

        def setup(self, worker):
            setup_worker(max(1, int(worker.state.nthreads)))

    return ThreadShare()


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise StudyError(INSTALL_HINT) from None
    return distributed


@contextmanager
def dask_runner(scheduler: str | None = None, workers: int | None = None) -> Iterator[Runner]:
    """A runner on an existing scheduler (`scheduler` address) or on a local cluster of `workers` spawned
    worker processes with one thread each, closed again on exit."""
    distributed = _import_distributed()
    import dask

    # the driver's own log lines (reconnect attempts, tracebacks of a lost scheduler) would bury the one-line
    # error the sweep reports; the workers keep their logs
    # (dask's logging config gives some of them, such as distributed.client, levels of their own)
    for name in ["distributed", "tornado", *logging.root.manager.loggerDict]:
        if name.split(".")[0] in ("distributed", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    cluster = None
    with dask.config.set(
        {
            "distributed.worker.multiprocessing-method": "spawn",
            "distributed.comm.timeouts.connect": CONNECT_TIMEOUT,
            "distributed.worker.daemon": False,
        }
    ):
        try:
            if workers:
                cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
                )
                client = distributed.Client(cluster)
            else:
                client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        client.register_plugin(_plugin())
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        yield Runner(lambda task, tasks: _on_dask(client, task, tasks), max(1, threads))
    finally:
        try:
            client.close(timeout=10)
        except Exception:  # a lost scheduler: nothing left to close cleanly
            pass
        if cluster is not None:
            cluster.close()


def one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _on_dask(client, task: Task, tasks: Sequence[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    futures = {
        client.submit(task, payload, pure=False, key=f"cells-{i}-{os.getpid()}-{id(tasks)}"): key
        for i, (key, payload) in enumerate(tasks)
    }
    try:
        for future in as_completed(futures):
            key = futures[future]
            try:
                output = future.result()
            except (OSError, TimeoutError, FutureCancelledError) as exc:  # the scheduler went away
                raise ClusterError(f"lost the Dask scheduler ({one_line(exc)[:200]})") from None
            except Exception as exc:  # the task itself raised (on the worker)
                if _lost(client):
                    raise ClusterError(f"lost the Dask scheduler ({one_line(exc)[:200]})") from None
                output = exc
            yield key, output
    finally:
        for future in futures:
            future.release()


def _lost(client) -> bool:
    return client.status not in ("running", "connecting", "newly-created")
