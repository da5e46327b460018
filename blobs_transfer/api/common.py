"""What every command shares: the progress callback's shape, the default results folder, the engine's set-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from blobs_transfer import atomic
from blobs_transfer.config import Config
from blobs_transfer.model import backend
from blobs_transfer.train import engine

Progress = Callable[[str, int, int], None]  # (phase label, epochs just completed, total epochs of the phase)
DEFAULT_RESULTS = Path("results")


def phase(progress: Progress | None, label: str, total: int) -> Callable[[int], None] | None:
    return None if progress is None else (lambda n: progress(label, n, total))


def import_tensorflow() -> None:
    """TensorFlow and Keras, imported quietly (only the tensorflow and keras engines and saving need them)."""
    backend.import_tensorflow()


def prepare_engine(cfg: Config, threads: int | None = None) -> None:
    """Before any work: TensorFlow imported quietly only for the engines that use it, and the Numba engine's
    thread limit for this process (None: $BLOBS_TRANSFER_THREADS, else every core)."""
    if cfg.study.engine != "numba":
        import_tensorflow()
    if threads is not None:
        engine.set_threads(threads)


def write_text(path: str | Path, text: str) -> None:
    """A text file written atomically (a report for CI, say): one line and exit 2 if the disk fails."""
    atomic.write_text(Path(path), text)
