"""The regression gate: `check` a run against a baseline, and write a `baseline` from a run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.cli.common import BadInput

DEFAULT_BASELINE = api.DEFAULT_RESULTS / "baseline.json"


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Baseline JSON with per-arm statistics, findings and tolerance bands [default: {DEFAULT_BASELINE}, "
    "the Numba engine's gate; the TensorFlow engine's is results/baseline-tensorflow.json].",
)
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default=None,
    help="Also write the checks as JUnit XML (one test case per arm and statistic or finding) for CI test "
    "reporters; - for standard output.",
)
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default=None,
    help="Also write the checks as a Markdown table (moved statistics first) for a job "
    "summary or pull-request comment; - for standard output.",
)
def check(run_dir: Path, baseline_file: Path | None, junit_file: Path | None, markdown_file: Path | None) -> None:
    """Regression gate: compare a finished run's per-arm statistics and findings with a baseline; exit 1 if any
    moved.

    Each arm's mean, median and std, and each arm's difference of means and P(arm beats it) against the
    baseline arm, must stay in its band, and no verdict may flip between better and worse (a move to or
    from "no evidence" is reported, not failed). The statistics are recomputed from the run's scores.csv
    (not read from summary.json), so an edited scores file cannot slip through. A damaged run file, a
    missing baseline, or a run of another study than the baseline's (a setting that changes the numbers
    differs; the seed and engine may) is exit 2 naming the file or the settings. Exit codes: 0 all in
    band, 1 a check moved, 2 an error. When --junit or --markdown is -, that document alone goes to
    standard output and the table to standard error.
    """
    dash = [name for name, f in (("--junit", junit_file), ("--markdown", markdown_file)) if str(f) == "-"]
    if len(dash) > 1:
        raise BadInput("only one of --junit and --markdown can be - (standard output)")
    if baseline_file is None:
        baseline_file = DEFAULT_BASELINE
        if not baseline_file.is_file():
            raise BadInput(
                f"no --baseline given and {baseline_file} does not exist: pass --baseline FILE "
                "(`blobs-transfer baseline RUN_DIR --out FILE` makes one)"
            )
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
    notes = [f"{r['arm']} {r['statistic']} {r['note']}" for r in rows if r.get("note")]
    click.echo(
        f"OK: all {len(rows)} checks within their bands of {baseline_file}"
        + (f"; changed, not failures (a verdict to or from no evidence): {', '.join(notes)}" if notes else ""),
        err=to_stderr,
    )


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write the baseline JSON (replaced atomically if it exists).",
)
def baseline(run_dir: Path, out: Path) -> None:
    """Write a regression baseline (per-arm statistics, findings and tolerance bands) from a finished run."""
    click.echo(f"Wrote {api.write_baseline(run_dir, out)}")
