"""Run directories that verify themselves: manifests, their verification, and one writer per sweep folder.

Part of the results layer (with `results`): it reads and writes files and never imports TensorFlow.
Atomic writes and the INCOMPLETE marker cover a run that is killed while it writes; a manifest covers what
happens after: a partial copy or sync, a disk error, a hand edit. It lists every file a folder's readers
depend on with its size and SHA-256, and the row counts that the plan implies, and it is written last
(atomically, just before the run is marked complete), so a folder with a valid manifest is a finished one
whose files are exactly as written. Readers call `verify` before they read; a folder written before
manifests existed has none and is read with a one-line `UnverifiedRunWarning`.

Each file has a role: "data" files are what the folder is rebuilt from (scores, curves, config, metadata),
"derived" files are rebuilt from them by `report` (summaries, figures, report.html), so `report` and
`check` need only the data to be intact while an exporter of the summaries verifies both.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from blobs_transfer import atomic
from blobs_transfer.errors import DamagedRunError, ResultsError, UnverifiedRunWarning
from blobs_transfer.rundir.files import write_json

try:
    import fcntl
except ImportError:  # not POSIX: no lock (the project targets Linux and macOS)
    fcntl = None

MANIFEST = "manifest.json"
FORMAT = 1
LOCK = ".writer.lock"
_CHUNK = 1 << 20


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex digest, size in bytes) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _checksum(body: dict[str, Any]) -> str:
    """SHA-256 of the manifest's own content, so a damaged manifest is named as such, not as its files."""
    text = json.dumps({k: v for k, v in body.items() if k != "checksum"}, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _entries(folder: Path, names: Iterable[str], role: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        try:
            sha, size = file_digest(folder / name)
        except OSError as exc:
            raise ResultsError(
                f"cannot read {folder / name} to record it in the manifest: {exc.strerror or exc}"
            ) from None
        out[name] = {"role": role, "bytes": size, "sha256": sha}
    return out


def write_manifest(
    folder: str | Path,
    data: Iterable[str],
    *,
    derived: Iterable[str] = (),
    plan: dict[str, Any] | None = None,
    name: str = MANIFEST,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Hash the folder's files (paths relative to it) and write the manifest atomically; returns it.

    plan: the row counts the plan implies (e.g. {"runs": 12, "runs_per_arm": {...}}), recorded for readers.
    extra: more fields (a sweep cell's index and values).
    """
    folder = Path(folder)
    body: dict[str, Any] = {
        "format": FORMAT,
        **(extra or {}),
        "plan": plan or {},
        "files": {**_entries(folder, data, "data"), **_entries(folder, derived, "derived")},
    }
    body["checksum"] = _checksum(body)
    write_json(folder / name, body)
    return body


def read_manifest(folder: str | Path, name: str = MANIFEST) -> dict[str, Any] | None:
    """The folder's manifest, or None if it has none (written before manifests, or a cell's legacy marker
    without a file table). A manifest that does not parse or fails its own checksum is DamagedRunError."""
    path = Path(folder) / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DamagedRunError(f"{path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        body = json.loads(text)
    except ValueError:
        raise DamagedRunError(f"{path} is damaged: it is not valid JSON ({len(text.encode())} bytes)") from None
    if not isinstance(body, dict):
        raise DamagedRunError(f"{path} is damaged: it is not a JSON object")
    if "files" not in body and "checksum" not in body:
        return None  # a legacy cell.json: a done marker without a file table
    if body.get("checksum") != _checksum(body) or not isinstance(body.get("files"), dict):
        raise DamagedRunError(f"{path} is damaged: its content does not match its own checksum")
    return body


def file_problem(path: Path, entry: dict[str, Any]) -> str | None:
    """What is wrong with one listed file, or None if it is exactly as written."""
    try:
        sha, size = file_digest(path)
    except FileNotFoundError:
        return "is missing"
    except IsADirectoryError:
        return "is a folder where the manifest lists a file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    want = entry.get("bytes")
    if size != want:
        return f"is {size} bytes where the manifest records {want} ({'cut short' if size < want else 'grown'})"
    if sha != entry.get("sha256"):
        return "differs from the manifest (same size, different SHA-256: changed in place)"
    return None


def verify(
    folder: str | Path, *, derived: bool = False, name: str = MANIFEST, remedy: str = "", warn: bool = True
) -> dict[str, Any] | None:
    """Check every listed file (the data files, and the derived ones too if `derived`); returns the manifest.

    The first damaged or missing file raises DamagedRunError, one line naming it and what is wrong, followed
    by `remedy` (what the user can do). A folder without a manifest returns None, after an
    UnverifiedRunWarning if `warn`.
    """
    folder = Path(folder)
    manifest = read_manifest(folder, name)
    if manifest is None:
        if warn:
            warnings.warn(
                f"{folder} has no manifest (written before runs verified themselves): its files are read unverified",
                UnverifiedRunWarning,
                stacklevel=2,
            )
        return None
    for rel, entry in manifest["files"].items():
        if entry.get("role") == "derived" and not derived:
            continue
        problem = file_problem(folder / rel, entry)
        if problem:
            fix = "; `blobs-transfer report` rebuilds it" if entry.get("role") == "derived" else remedy
            raise DamagedRunError(f"{folder / rel} {problem}{fix}")
    return manifest


def refresh(
    folder: str | Path, manifest: dict[str, Any], role: str = "derived", name: str = MANIFEST
) -> dict[str, Any]:
    """Re-hash the files of one role (after `report` rebuilt them) and rewrite the manifest atomically."""
    folder = Path(folder)
    files = dict(manifest["files"])
    files.update(_entries(folder, [k for k, v in files.items() if v.get("role") == role], role))
    body = {**manifest, "files": files}
    body["checksum"] = _checksum(body)
    write_json(folder / name, body)
    return body


def count_problem(what: str, found: dict[str, int], planned: dict[str, int]) -> str | None:
    """Compare row counts per key (e.g. runs per arm) with the plan's; a one-line description or None."""
    if found == planned:
        return None
    total, want = sum(found.values()), sum(planned.values())
    parts = [f"{k} {found.get(k, 0)} of {v}" for k, v in planned.items() if found.get(k, 0) != v]
    parts += [f"{k} {n} not planned" for k, n in found.items() if k not in planned]
    return (
        f"{what} has {total} runs where the plan has {want} ({', '.join(parts[:4])}{', ...' if len(parts) > 4 else ''})"
    )


# --- one writer per folder --------------------------------------------------------------------------


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "another process"


@contextmanager
def writer_lock(folder: str | Path, what: str = "folder") -> Iterator[None]:
    """Hold the folder's writer lock, or refuse in one line naming the holder.

    An flock on `.writer.lock`: the kernel drops it when its process dies however it dies (SIGKILL
    included), so a lock left by a killed process never blocks; the file only says who holds it. Released
    by deleting the file while still locked; a process that opened the old file meanwhile sees its inode
    is gone and tries again, so two writers never both hold a lock.
    """
    folder = Path(folder)
    path = folder / LOCK
    if fcntl is None:
        yield
        return
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise atomic.cannot_write(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ResultsError(
                f"{folder} is in use by {_holder(path)}: one {what} writer at a time; wait for it to finish or stop it"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()} (since {stamp})\n".encode())
        yield
    finally:
        try:
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
