"""`sweep`: a grid of comparisons, in this process or on a Dask cluster."""

from __future__ import annotations

from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.cli.common import (
    BadInput,
    echo_json,
    interruptible,
    json_option,
    process_started,
    progress_bars,
    results_option,
    threads_option,
)


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Sweep config: a config plus a [sweep] table giving each swept key its list of values "
    "(see configs/sweep.toml).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Root seed of every cell [default: the config's, 0]."
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Finish an interrupted sweep in this directory: its finished cells are kept and skipped.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run the cells as tasks on this Dask scheduler (e.g. tcp://10.0.0.5:8786); needs the dask extra.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Start a local Dask cluster of this many worker processes (one thread each) for the cells.",
)
@threads_option
@results_option
@json_option
def sweep(
    config_file: Path,
    seed: int | None,
    resume: Path | None,
    scheduler: str | None,
    workers: int | None,
    threads: int | None,
    results_dir: Path,
    as_json: bool,
) -> None:
    """Run a grid of comparisons (one per cell of the [sweep] table) and tabulate the transfer benefit per cell.

    Writes a sweep directory with sweep.toml, runs.csv, cells.csv, benefit and heatmap figures, report.html,
    metadata.json and cells/ (one folder per finished cell), and prints its path last.
    """
    if scheduler and workers:
        raise BadInput("give --scheduler (an existing cluster) or --workers (a local one), not both")
    grid = api.load_sweep(config_file, seed=seed)
    api.prepare_engine(grid.config_of(grid.cells()[0]), threads)
    with progress_bars() as progress, interruptible(progress):
        done = api.run_sweep(
            grid,
            results_dir,
            resume=resume,
            scheduler=scheduler,
            workers=workers,
            progress=progress,
            notify=lambda line: click.echo(line, err=True),
            started=process_started(),
        )
    if as_json:  # its entry of `runs --json` (verdicts counted over the cells), and where its report is
        entry = next(e for e in api.list_runs(done.sweep_dir.parent) if e["name"] == done.sweep_dir.name)
        return echo_json(
            {
                "kind": "sweep",
                "directory": str(done.sweep_dir),
                "report": str(done.sweep_dir / "report.html"),
                "baseline": entry["baseline"],
                "verdicts": entry["verdicts"],
                "cells": done.metadata["cells"],
                "networks": done.metadata["networks"],
            }
        )
    click.echo(api.sections_text(done.sections))
    meta = done.metadata
    click.echo(f"{meta['cells']} cells, {meta['networks']} networks, {meta['wall_seconds']:.1f} s")
    click.echo(str(done.sweep_dir))
