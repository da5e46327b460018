"""`verify`, `runs` and `export-mlflow`: what is on disk, proven, listed and published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blobs_transfer.export import mlflow
from blobs_transfer.render.report import format_table
from blobs_transfer.rundir import listing
from blobs_transfer.rundir.run import verify_run


def verify(run_dir: str | Path, *, derived: bool = True) -> dict[str, Any] | None:
    """Prove a finished run or sweep is exactly as written (see `rundir.run.verify_run`); returns its manifest."""
    return verify_run(run_dir, derived=derived)


def list_runs(results_dir: str | Path) -> list[dict[str, Any]]:
    """The compare runs and sweeps under a results folder, one dict each (newest last)."""
    return listing.list_runs(results_dir)


def runs_table(found: list[dict[str, Any]]) -> str:
    """The listing as the terminal shows it."""
    return format_table(*listing.table(found))


def export_mlflow(folder: str | Path, *, tracking_uri: str | None = None, experiment: str = "blobs-transfer"):
    """Export a finished, verified compare run or sweep to MLflow (needs the mlflow extra)."""
    return mlflow.export(folder, tracking_uri=tracking_uri, experiment=experiment)


def mlflow_hint(tracking_uri: str) -> str:
    """How to open the MLflow UI on that store."""
    return mlflow.open_hint(tracking_uri)
