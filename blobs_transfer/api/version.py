"""`blobs-transfer --version`: the installed version, and the git commit when the package runs from a clone."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path


def commit() -> str | None:
    """The git commit this package runs from, when it runs from a clone (the folder above the package holds
    .git); None for an installed wheel, whose folder may sit inside someone else's repository."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def version_line() -> str:
    """'blobs-transfer 0.1.0, commit 0123456789ab', or '..., commit unknown (not run from a git clone)'."""
    try:
        version = metadata.version("blobs-transfer")
    except metadata.PackageNotFoundError:
        version = "unknown"
    found = commit()
    return f"blobs-transfer {version}, commit {found[:12] if found else 'unknown (not run from a git clone)'}"
