"""Atomic writes: a file is written whole under a temporary name, then renamed into place.

So a crash, a Ctrl-C or a full disk never leaves a half-written file under a real name, and another process never
reads half a file. At the bottom of the pipeline (it imports only `errors`), so every layer writes its files the
one way: the results on disk, the `.keras` files of `model`, the generated training kernel of `train`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from blobs_transfer.errors import ResultsError


def cannot_write(path: Path, exc: OSError) -> ResultsError:
    """A failed write (a full disk, a lost permission, a file too large) as one line naming the file."""
    return ResultsError(f"cannot write {path}: {exc.strerror or exc}")


@contextlib.contextmanager
def replacing(path: str | Path, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `path` for a writer that needs a file name (Keras's `model.save`, a zip
    archive); rename it over `path` when the body succeeds, remove it when it fails. Any OSError is the one-line
    ResultsError of `cannot_write`. suffix: the temporary's ending, where the writer checks it (".keras")."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` whole, flushed to the disk, then rename it over `path`."""
    with replacing(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text(path: str | Path, text: str) -> None:
    """`write_bytes` of the text in UTF-8."""
    write_bytes(path, text.encode("utf-8"))
