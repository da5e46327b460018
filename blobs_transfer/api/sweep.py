"""`sweep`: run every cell not yet finished, write each as it finishes, then the tables, figures and report."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blobs_transfer import atomic
from blobs_transfer.api.comparison import Stopwatch
from blobs_transfer.errors import StudyError
from blobs_transfer.render import report
from blobs_transfer.render.sweep import sweep_figures, sweep_sections, sweep_title
from blobs_transfer.rundir import files, manifest, sweep_dir
from blobs_transfer.rundir.files import write_csv, write_json
from blobs_transfer.stats import summary
from blobs_transfer.sweep import cells, runners, schedule
from blobs_transfer.sweep.grid import Sweep, load_sweep
from blobs_transfer.sweep.runners import ClusterError


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: its directory, what its report says, and its metadata."""

    sweep_dir: Path
    sections: list[report.Section]
    metadata: dict[str, Any]


class CellError(StudyError):
    """One or more cells raised; the message names the first, and the finished cells are kept."""


def _runner(scheduler: str | None, workers: int | None):
    if scheduler or workers:
        return runners.dask_runner(scheduler, workers)
    return contextlib.nullcontext(runners.Runner(runners.in_process))


def run_sweep(
    sweep: Sweep,
    results_dir: str | Path = "results",
    *,
    resume: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    notify: Callable[[str], None] | None = None,
    started: float | None = None,
) -> SweepOutcome:
    """Run every cell not yet finished, then write the tables, figures and report.

    started: the perf_counter reading at which the command began (the CLI passes its process's start, so that
    metadata.json's wall time and its parts count the start-up and imports); None: this call.

    With `resume`, the directory of an earlier run of the same sweep: its finished cells are kept and skipped.
    Cells run in this process, or on a Dask cluster: an existing one at `scheduler`, or a local one of
    `workers` processes started here. One process at a time writes a sweep folder: a second refuses in one line.
    """
    clock = Stopwatch(started)
    with contextlib.ExitStack() as held:
        folder = sweep_dir.open_sweep_dir(sweep, results_dir, resume, held)
        return _run_cells(sweep, folder, scheduler, workers, progress, notify, clock)


def _run_cells(
    sweep: Sweep,
    folder: Path,
    scheduler: str | None,
    workers: int | None,
    progress: Callable[[str, int, int], None] | None,
    notify: Callable[[str], None] | None,
    clock: Stopwatch,
) -> SweepOutcome:
    """Verify the finished cells, train the others (and any damaged one again), then write the tables. clock:
    the command's stopwatch: training is the time spent waiting for the runner's next batch (source models and
    target runs together: a cell trains both), statistics each cell's analysis, files the rest."""
    clock.part("files")
    every_cell = sweep.cells()
    todo, unverified = [], 0
    for c in every_cell:
        if sweep_dir.finished(folder, c):
            damage, verified = sweep_dir.cell_damage(sweep_dir.cell_dir(folder, c), sweep.config_of(c))
            if not damage:
                unverified += not verified
                continue
            if notify:
                notify(f"Cell {c.index} ({c.name}) is damaged, training it again: {damage}")
            (sweep_dir.cell_dir(folder, c) / sweep_dir.DONE).unlink()
        todo.append(c)
    if notify and unverified:
        notify(
            f"Warning: {unverified} finished cells were written before cells verified themselves: kept with only "
            "their row counts checked."
        )
    if notify and len(todo) < len(every_cell):
        notify(f"Resuming {folder}: {len(every_cell) - len(todo)} of {len(every_cell)} cells already done.")
    failures = []
    with _runner(scheduler, workers) as runner:
        limit = schedule.batch_limit(sweep, todo, runner.slots)
        tasks = [(batch, [sweep.config_of(c) for c in batch]) for batch in schedule.batches(sweep, todo, limit)]
        try:
            clock.part("training")
            for batch, outputs in runner.run(cells.train_batch, tasks):
                clock.part("files")
                if isinstance(outputs, Exception):  # the task itself was lost (on a worker)
                    outputs = [outputs] * len(batch)
                for cell, output in zip(batch, outputs):
                    if isinstance(output, Exception):
                        failures.append((cell, output))
                        if notify:
                            notify(f"cell {cell.index} ({cell.name}) failed: {runners.one_line(output)}")
                    else:
                        cfg = sweep.config_of(cell)
                        clock.part("statistics")
                        analysis = cells.analyse_cell(cfg, output)
                        clock.part("files")
                        sweep_dir.write_cell(folder, cell, cfg, output.records, analysis)
                    if progress:
                        progress("cells", 1, len(todo))
                clock.part("training")
            clock.part("files")
        except ClusterError as exc:
            raise ClusterError(
                f"{exc}; the finished cells are kept in {folder}: finish it with --resume {folder}"
            ) from None
    if failures:
        cell, exc = failures[0]
        raise CellError(
            f"{len(failures)} of {len(todo)} cells failed, first cell {cell.index} ({cell.name}): "
            f"{runners.one_line(exc)}; the other cells are kept in {folder} "
            f"(--resume {folder} runs the failed ones again)"
        )
    meta, blocks = write_tables(sweep, folder, clock=clock, trained_cells=len(todo))
    files.mark_complete(folder)
    return SweepOutcome(folder, blocks, meta)


def write_tables(
    sweep: Sweep,
    folder: Path,
    *,
    clock: Stopwatch | None = None,
    trained_cells: int,
    meta: dict[str, Any] | None = None,
):
    """runs.csv, cells.csv, the figures, report.html and metadata.json from the finished cells' files; clock:
    the command's stopwatch, whose split metadata.json records (wall_seconds and its parts); meta: what made the
    sweep (metadata.json's, kept as it was when `rebuild_sweep` rebuilds a finished sweep)."""
    clock = clock or Stopwatch()
    clock.part("files")
    keys = sweep.keys
    runs, table, summaries = sweep_dir.cell_rows(sweep, folder)
    write_csv(folder / "runs.csv", [*keys, *sweep_dir.RUN_COLUMNS], runs)
    write_csv(
        folder / "cells.csv",
        [*keys, "arm", *sweep_dir.CELL_STATS, *sweep_dir.COMPARISON_STATS, *sweep_dir.BEST_STATS],
        table,
    )
    clock.part("figures")
    figures = sweep_figures(sweep, summaries)
    files.save_figures({folder / name: fig for name, fig in figures.items()})
    clock.part("files")
    pngs = {name: (folder / name).read_bytes() for name in figures}
    blocks = sweep_sections(sweep, summaries, list(figures))
    meta = meta or files.run_metadata(
        root_seed=sweep.seed,
        cells=len(summaries),
        trained_cells=trained_cells,
        networks=len(runs),
        **{k: v for k, v in clock.split().items() if k in ("wall_seconds", "wall_parts")},
        axes={k: list(v) for k, v in sweep.axes},
    )
    title = sweep_title(sweep, len(summaries), meta["command"])
    atomic.write_text(folder / "report.html", report.html(blocks, title, pngs, report.about_line(meta)))
    write_json(folder / "metadata.json", meta)
    manifest.write_manifest(
        folder,
        ["sweep.toml", "runs.csv", "cells.csv", "metadata.json"],
        derived=[*figures, "report.html"],
        plan={"cells": len(summaries), "networks": len(runs)},
    )
    return meta, blocks


def rebuild_sweep(folder: str | Path) -> None:
    """Recompute a finished sweep's derived files without training: each cell's summary.json (and cell.json) from
    its runs.csv, then cells.csv, the figures and report.html; metadata.json is kept. A cell keeps no learning
    curves, so its benefits of transfer (summary.json's "benefits") and where its source models came from are
    carried over from the summary it had: only training the sweep again recomputes those."""
    folder = Path(folder)
    sweep = load_sweep(folder / "sweep.toml")
    for cell in sweep.cells():
        rows, old = sweep_dir.read_cell(folder, cell)
        cfg = sweep.config_of(cell)
        records = [
            {
                "arm": arm,
                "source_index": int(source) if source else None,
                "repeat": int(repeat),
                "seed": int(seed),
                "test_accuracy": float(accuracy) if accuracy else None,
                "test_correct": int(correct) if correct else None,
                "diverged": not correct,
            }
            for arm, source, repeat, seed, accuracy, correct in rows
        ]
        new = summary.summarise(cfg, records, np.full((len(records), 1), np.nan))
        new["benefits"] = old.get("benefits", {})
        if "source_model" in old["run"]:
            new["run"]["source_model"] = old["run"]["source_model"]
        new["best"] = summary.best_arm(cfg, records)
        sweep_dir.write_cell(folder, cell, cfg, records, new)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    write_tables(sweep, folder, trained_cells=meta["trained_cells"], meta=meta)
