"""Finished runs and sweeps: `verify` one against its manifest, list them (`runs`), `export-mlflow`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.cli.common import DEFAULT_RESULTS


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--derived/--data-only",
    default=True,
    show_default=True,
    help="Also check the summaries, figures and report.html (which `report` can rebuild).",
)
def verify(run_dir: Path, derived: bool) -> None:
    """Check that a finished run or sweep is exactly as written (every file against its manifest), e.g. after a
    copy; exit 2 naming the first damaged or missing file. Reads nothing else and changes nothing."""
    manifest = api.verify(run_dir, derived=derived)
    if manifest is not None:
        cells = manifest["plan"].get("cells")
        click.echo(
            f"OK: {run_dir}: {len(manifest['files'])} files match its manifest"
            + (f", and each of its {cells} cells matches its own" if cells else "")
        )
    else:
        click.echo(f"{run_dir} has no manifest: only its row counts were checked (they match its plan)")


@click.command()
@click.argument(
    "results_dir", metavar="[RESULTS_DIR]", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_RESULTS
)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON (one object per run, more detail).")
def runs(results_dir: Path, as_json: bool) -> None:
    """List the compare runs and sweeps under RESULTS_DIR [default: results]: kind, time, config, arms or cells,
    source models, complete or INCOMPLETE, and the verdicts against the baseline arm."""
    found = api.list_runs(results_dir)
    if as_json:
        click.echo(json.dumps(found, indent=2))
    elif not found:
        click.echo(f"No compare runs or sweeps in {results_dir}")
    else:
        click.echo(api.runs_table(found))


@click.command("export-mlflow")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--tracking-uri",
    default=None,
    metavar="URI",
    help="MLflow tracking URI [default: sqlite:///<the folder holding DIR>/mlflow.db, a SQLite store "
    "beside the results, artefacts in mlartifacts/ next to it].",
)
@click.option(
    "--experiment",
    default="blobs-transfer",
    show_default=True,
    help="MLflow experiment to add the runs to (created if missing).",
)
def export_mlflow(folder: Path, tracking_uri: str | None, experiment: str) -> None:
    """Export a finished compare run or sweep DIR to MLflow (needs the extra: pip install 'blobs-transfer[mlflow]').

    A compare run becomes one MLflow run: the resolved config as params (section.key), per-arm statistics and
    comparisons with the baseline as metrics, each epoch's mean test accuracy as steps, the directory as
    artefacts. A sweep becomes a parent run with one child run per cell. Exporting a directory again adds nothing.
    """
    done = api.export_mlflow(folder, tracking_uri=tracking_uri, experiment=experiment)
    if done.added:
        what = "1 run" if done.kind == "compare" else f"a parent run and {done.added - 1} cell runs"
        click.echo(f"Exported {folder} to MLflow experiment '{experiment}': {what} (run {done.run_id})")
    else:
        click.echo(f"{folder} is already in MLflow experiment '{experiment}' (run {done.run_id}); nothing added")
    click.echo(api.mlflow_hint(done.tracking_uri))
