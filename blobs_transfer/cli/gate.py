"""The regression gate: `check` a run against a baseline, and write a `baseline` from a run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.cli.common import BadInput


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--baseline", "baseline_file", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Baseline JSON with per-arm statistics and tolerance bands (e.g. results/baseline.json).")
@click.option("--junit", "junit_file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default=None,
              help="Also write the checks as JUnit XML (one test case per arm and statistic) for CI test "
                   "reporters; - for standard output.")
@click.option("--markdown", "markdown_file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
              default=None, help="Also write the checks as a Markdown table (moved statistics first) for a job "
                                 "summary or pull-request comment; - for standard output.")
def check(run_dir: Path, baseline_file: Path, junit_file: Path | None, markdown_file: Path | None) -> None:
    """Regression gate: compare a finished run's per-arm statistics with a baseline; exit 1 if any moved.

    The statistics are recomputed from the run's scores.csv (not read from summary.json), so an edited
    scores file cannot slip through. A damaged run file, or a run of another study than the baseline's
    (a setting that changes the numbers differs; the seed and engine may), is exit 2 naming the file or
    the settings. Exit codes: 0 all in band, 1 a statistic moved, 2 an error. When --junit or --markdown
    is -, that document alone goes to standard output and the table to standard error.
    """
    dash = [name for name, f in (("--junit", junit_file), ("--markdown", markdown_file)) if str(f) == "-"]
    if len(dash) > 1:
        raise BadInput("only one of --junit and --markdown can be - (standard output)")
    rows = api.check(run_dir, baseline_file)
    to_stderr = bool(dash)
    click.echo(api.gate_text(rows), err=to_stderr)
    baseline = api.read_baseline(baseline_file)
    for target, kind in ((junit_file, "junit"), (markdown_file, "markdown")):
        if target is not None:
            text = api.gate_document(rows, baseline, kind, run=str(run_dir), baseline_file=str(baseline_file))
            if str(target) == "-":
                click.echo(text, nl=False)
            else:
                api.write_text(target, text)
    moved = [r for r in rows if not r["ok"]]
    if moved:
        names = ", ".join(f"{r['arm']} {r['statistic']}" for r in moved)
        click.echo(f"FAILED: {len(moved)} of {len(rows)} checks moved outside their bands: {names}", err=True)
        sys.exit(1)
    click.echo(f"OK: all {len(rows)} checks within their bands of {baseline_file}", err=to_stderr)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the baseline JSON (replaced atomically if it exists).")
def baseline(run_dir: Path, out: Path) -> None:
    """Write a regression baseline (per-arm statistics and tolerance bands) from a finished run."""
    click.echo(f"Wrote {api.write_baseline(run_dir, out)}")
