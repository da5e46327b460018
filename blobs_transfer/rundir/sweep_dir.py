"""A sweep's directory on disk: one folder per finished cell, its manifest, and the sweep's own files.

Finished cells are written as they finish (cells/NNNN/, marked done last by cell.json, which is also the cell's
manifest) and skipped on `--resume` once their files are verified; a damaged cell is trained again. The tables
(runs.csv, cells.csv) are assembled from the cells' files in grid order, so an interrupted and resumed sweep
gives the same bytes as an uninterrupted one. One process writes a sweep folder at a time (`manifest.writer_lock`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from blobs_transfer import atomic
from blobs_transfer.config import Config, ConfigError, load_config, to_toml
from blobs_transfer.errors import (
    DamagedRunError,
    ResultsError,
    StudyError,
    UnverifiedRunWarning,
)
from blobs_transfer.rundir import files, manifest
from blobs_transfer.rundir.files import write_csv, write_json
from blobs_transfer.sweep.grid import Cell, Sweep
from blobs_transfer.train.plan import planned_runs

DONE = "cell.json"  # written last in a cell's folder: the cell is finished; also its manifest
CELL_DATA = ("config.toml", "runs.csv", "summary.json")
RUN_COLUMNS = ("arm", "source_index", "repeat", "seed", "test_accuracy", "test_correct")
CELL_STATS = ("n", "n_sources", "mean", "ci_low", "ci_high")
COMPARISON_STATS = ("diff_mean", "diff_ci_low", "diff_ci_high", "a12", "a12_ci_low", "a12_ci_high", "verdict")
# P(this arm is the best), and the cell's arm with the highest mean with its P(best) (analysis.best_arm)
BEST_STATS = ("p_best", "cell_best_arm", "cell_best_p")


def cell_dir(sweep_dir: Path, cell: Cell) -> Path:
    return sweep_dir / "cells" / f"{cell.index:04d}"


def finished(sweep_dir: Path, cell: Cell) -> bool:
    return (cell_dir(sweep_dir, cell) / DONE).is_file()


def write_cell(sweep_dir: Path, cell: Cell, cfg: Config, records, summary) -> None:
    """A finished cell's files; its DONE marker (the manifest of the others) last, so a cell interrupted while
    writing counts as not done."""
    folder = cell_dir(sweep_dir, cell)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise atomic.cannot_write(folder, exc) from None
    atomic.write_text(folder / "config.toml", to_toml(cfg))
    write_csv(folder / "runs.csv", RUN_COLUMNS, ([_csv(r[c], c) for c in RUN_COLUMNS] for r in records))
    write_json(folder / "summary.json", summary)
    planned = planned_runs(cfg)
    manifest.write_manifest(
        folder,
        CELL_DATA,
        plan={"networks": sum(planned.values()), "runs_per_arm": planned},
        name=DONE,
        extra={"index": cell.index, "values": dict(cell.values), "networks": len(records)},
    )


def cell_damage(folder: Path, cfg: Config | None = None, *, remedy: str = "") -> tuple[str | None, bool]:
    """(what is wrong with a finished cell's folder or None, whether a manifest vouched for it). A cell written
    before manifests is checked only for its row count against its config's plan (`cfg`, else its config.toml)."""
    try:
        if manifest.verify(folder, name=DONE, warn=False, remedy=remedy) is not None:
            return None, True
        with open(folder / "runs.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        found: dict[str, int] = {}
        for row in rows:
            found[row[0]] = found.get(row[0], 0) + 1
        problem = manifest.count_problem(
            str(folder / "runs.csv"), found, planned_runs(cfg or load_config(folder / "config.toml"))
        )
        return (f"{problem}{remedy}" if problem else None), False
    except DamagedRunError as exc:
        return str(exc), False
    except (OSError, ValueError, IndexError, StudyError) as exc:
        return f"{folder} cannot be read: {getattr(exc, 'strerror', None) or exc}{remedy}", False


def verify_sweep(sweep_dir: str | Path, *, derived: bool = False) -> dict[str, Any] | None:
    """Prove a finished sweep's tables and every cell are exactly as written; returns the sweep's manifest
    (None, with an UnverifiedRunWarning, for a sweep written before manifests; its cells' row counts are
    still checked). Raises ResultsError for an unfinished sweep, DamagedRunError naming a damaged file."""
    sweep_dir = Path(sweep_dir)
    if (sweep_dir / files.INCOMPLETE).exists():
        raise ResultsError(
            f"{sweep_dir} is an unfinished sweep (interrupted or failed); finish it with "
            f"`blobs-transfer sweep --config <its config> --resume {sweep_dir}`"
        )
    again = f"; `sweep --resume {sweep_dir}` rebuilds it"
    manifest_ = manifest.verify(sweep_dir, derived=derived, remedy=again, warn=False)
    unverified = 0
    count = manifest_["plan"]["cells"] if manifest_ else len(list(sweep_dir.glob("cells/*")))
    for folder in (sweep_dir / "cells" / f"{k:04d}" for k in range(count)):
        if not (folder / DONE).is_file():
            raise DamagedRunError(f"{folder / DONE} is missing (the sweep has {count} cells){again}")
        damage, verified = cell_damage(folder, remedy=f"; `sweep --resume {sweep_dir}` trains the cell again")
        if damage:
            raise DamagedRunError(damage)
        unverified += not verified
    if manifest_ is None or unverified:
        warnings.warn(
            f"{sweep_dir} was written before sweeps verified themselves ({unverified} cells without a "
            "manifest): its files are read with only their row counts checked",
            UnverifiedRunWarning,
            stacklevel=2,
        )
    return manifest_


def _csv(v: Any, column: str = "") -> Any:
    """A runs.csv field as scores.csv writes it: accuracies with three decimals (0.310, not 0.31)."""
    if v is None:
        return ""
    return f"{v:.3f}" if column == "test_accuracy" else v


def read_cell(sweep_dir: Path, cell: Cell) -> tuple[list[list[str]], dict[str, Any]]:
    """A finished cell's run rows (as text) and summary."""
    folder = cell_dir(sweep_dir, cell)
    with open(folder / "runs.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    return rows, json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def cells_done(sweep: Sweep, sweep_dir: Path) -> Iterable[Cell]:
    return (c for c in sweep.cells() if finished(sweep_dir, c))


def open_sweep_dir(
    sweep: Sweep, results_dir: str | Path, resume: str | Path | None, held: contextlib.ExitStack
) -> Path:
    """A new sweep directory, or the one to resume, with its writer lock held (released by `held`)."""
    if resume is not None:
        sweep_dir = Path(resume)
        recorded = sweep_dir / "sweep.toml"
        if not recorded.is_file():
            raise ResultsError(f"{sweep_dir} is not a sweep directory (no sweep.toml)")
        if recorded.read_text(encoding="utf-8") != sweep.to_toml():
            raise ConfigError(f"{sweep_dir} was made by a different sweep (its sweep.toml differs from this config)")
        held.enter_context(manifest.writer_lock(sweep_dir, "sweep"))
        (sweep_dir / files.INCOMPLETE).write_text("this sweep has not finished\n")
    else:
        files.ensure_writable(results_dir)
        sweep_dir = files.new_run_dir(results_dir, "sweep")
        held.enter_context(manifest.writer_lock(sweep_dir, "sweep"))
        atomic.write_text(sweep_dir / "sweep.toml", sweep.to_toml())
    return sweep_dir


def cell_rows(sweep: Sweep, sweep_dir: Path) -> tuple[list[list[Any]], list[list[Any]], list[dict[str, Any]]]:
    """(runs.csv rows, cells.csv rows, per-cell summaries) in grid order, from the cells' files."""
    runs, table, summaries = [], [], []
    for cell in sweep.cells():
        rows, summary = read_cell(sweep_dir, cell)
        values = [v for _, v in cell.values]
        runs += [[*values, *row] for row in rows]
        comparisons = {c["arm"]: c for c in summary["comparisons"]}
        best = summary.get("best") or {}
        for arm in summary["arms"]:
            c = comparisons.get(arm["arm"], {})
            table.append(
                [
                    *values,
                    arm["arm"],
                    *(_fmt(arm.get(k)) for k in CELL_STATS),
                    *(_fmt(c.get(k)) for k in COMPARISON_STATS),
                    _fmt(best.get("p_best_by_arm", {}).get(arm["arm"])),
                    _fmt(best.get("best_arm")),
                    _fmt(best.get("p_best")),
                ]
            )
        summaries.append({"cell": cell, "summary": summary})
    return runs, table, summaries


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v
