"""A compare run's directory on disk: its data files, its manifest, and reading it back verified.

`verify_run` proves a finished run (or sweep) is exactly as written before anything reads it; `load_run` and
`run_summary` read a run's config, scores and curves back and recompute its statistics from them, so what a
report, an export or the gate says always comes from the verified files, never from a stale summary.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from blobs_transfer.config import Config, load_config
from blobs_transfer.errors import DamagedRunError, ResultsError
from blobs_transfer.rundir import files, manifest
from blobs_transfer.rundir.sweep_dir import verify_sweep
from blobs_transfer.stats import summary
from blobs_transfer.train.plan import planned_runs

RUN_DATA = ("config.toml", "scores.csv", *(f"curves/{k}.csv" for k in files.CURVE_KEYS), "metadata.json")
RERUN = "; restore the run from a copy or re-run `compare`"


def seal_run(run_dir: Path, cfg: Config, data: tuple[str, ...] = RUN_DATA) -> None:
    """Write the run's manifest: its data files, every other file as derived, and the planned row counts."""
    skip = {*data, manifest.MANIFEST, files.INCOMPLETE}
    derived = sorted(
        p.name for p in run_dir.iterdir() if p.is_file() and p.name not in skip and not p.name.startswith(".")
    )
    planned = planned_runs(cfg)
    manifest.write_manifest(
        run_dir, data, derived=derived, plan={"runs": sum(planned.values()), "runs_per_arm": planned}
    )


def verify_run(run_dir: str | Path, *, derived: bool = False) -> dict[str, Any] | None:
    """Prove a finished run's files are exactly as written before anything reads them; returns its manifest.

    A compare or fit run directory, or a sweep directory (its cells too). Raises ResultsError for an
    incomplete run, and DamagedRunError naming the first missing or damaged file. A run written before
    manifests returns None with an `errors.UnverifiedRunWarning`, after its row counts are checked against
    its config's plan. derived=True also checks the summaries and figures (what an exporter publishes).
    """
    run_dir = Path(run_dir)
    if (run_dir / "sweep.toml").is_file():
        return verify_sweep(run_dir, derived=derived)
    sealed = _verify_files(run_dir, derived=derived)
    if sealed is None and (run_dir / "scores.csv").is_file():
        load_run(run_dir, require_complete=False)  # a legacy run: at least its row counts must match its plan
    return sealed


def _verify_files(run_dir: Path, *, derived: bool = False) -> dict[str, Any] | None:
    if not (run_dir / manifest.MANIFEST).is_file() or (run_dir / files.INCOMPLETE).exists():
        files.require_complete_run(run_dir)  # incomplete, or not a run at all: say that, not "no manifest"
    return manifest.verify(run_dir, derived=derived, remedy=RERUN)


def load_run(
    run_dir: str | Path, *, require_complete: bool = True
) -> tuple[Config, list[dict[str, Any]], dict[str, np.ndarray]]:
    """A run's config, scores (records) and curves (test_accuracy, test_loss, train_accuracy, train_loss: each
    (N, epochs + 1)), its files verified first (`verify_run`) and its row counts checked against its config's plan."""
    run_dir = Path(run_dir)
    if require_complete:
        _verify_files(run_dir)
    try:
        cfg = load_config(run_dir / "config.toml")
        scores = files.read_scores(run_dir / "scores.csv")
        curves = {
            k: files.read_curve(run_dir / "curves", k)
            for k in ("test_accuracy", "test_loss", "train_accuracy", "train_loss")
        }
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, ResultsError):
            raise
        raise ResultsError(f"{run_dir} cannot be read as a run: {exc}") from None
    found: dict[str, int] = {}
    for row in scores:
        found[row["arm"]] = found.get(row["arm"], 0) + 1
    problem = manifest.count_problem(str(run_dir / "scores.csv"), found, planned_runs(cfg))
    if problem:
        raise DamagedRunError(f"{problem}{RERUN}")
    for key, curve in curves.items():
        if len(curve) != len(scores):
            raise DamagedRunError(
                f"{run_dir / 'curves' / key}.csv has {len(curve)} rows where scores.csv has {len(scores)} runs{RERUN}"
            )
    return cfg, scores, curves


def run_summary(run_dir: str | Path, *, require_complete: bool = True):
    """(config, scores, curves, summary) of a run directory, the summary recomputed from its files."""
    cfg, scores, curves = load_run(run_dir, require_complete=require_complete)
    try:
        meta = json.loads((Path(run_dir) / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    return cfg, scores, curves, summary.summarise(cfg, scores, curves["test_accuracy"], meta.get("source_models"))


def read_baseline(path: str | Path) -> dict[str, Any]:
    try:
        baseline = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(baseline.get("arms"), dict):
            raise ValueError("no 'arms' table")
        return baseline
    except FileNotFoundError:
        raise ResultsError(f"baseline file {path} does not exist") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise ResultsError(f"baseline file {path} is not a blobs-transfer baseline: {exc}") from None
