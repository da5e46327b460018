"""The `blobs-transfer` command line: each command parses its options, calls one library function, and prints.

The work lives in `api`; this module only turns options into a config, shows progress, and prints. Every
expected failure is a `StudyError` (or a usage error), which Click's standalone handling prints as one line
`Error: ...` with exit code 2, before anything on disk is touched; `--debug` (before or after the command) shows
the traceback instead.
TensorFlow is imported only by the commands that train.

Modules: `common` (errors, shared options, progress), one per group of commands: `study` (generate,
train-source, fit, compare, report), `sweep`, `gate` (check, baseline), `runs` (verify, runs, export-mlflow),
`sources` (rank-sources).
"""

from __future__ import annotations

import gc

import click

from blobs_transfer.api import version
from blobs_transfer.cli import gate, runs, sources, study, sweep
from blobs_transfer.cli.common import DEBUG_HELP, Cli, quiet_tensorflow

__all__ = ["cli", "main", "quiet_tensorflow"]


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help=DEBUG_HELP + " Also after the command: `blobs-transfer compare --debug`.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, param, value: _print_version(ctx, value),
    help="Show the version and the git commit (when run from a clone), and exit.",
)
def cli(debug: bool) -> None:
    """Reproduce the Keras blobs transfer-learning study: standalone MLP vs transfer with 0, 1 or 2 frozen layers.

    Typical use: `blobs-transfer train-source` then `blobs-transfer compare --repeats 30`.
    """


for _command in (
    study.generate,
    study.train_source,
    study.fit,
    study.compare,
    sweep.sweep,
    study.report,
    gate.check,
    gate.baseline,
    runs.verify,
    runs.runs,
    runs.export_mlflow,
    sources.rank_sources,
):
    cli.add_command(_command)


def _print_version(ctx: click.Context, value: bool) -> None:
    """--version: the version and, only when asked, the commit (git is not run for any other command)."""
    if value and not ctx.resilient_parsing:
        click.echo(version.version_line())
        ctx.exit()


# One command per process: Python's cyclic garbage collector, at its default thresholds, walked the millions of
# objects the libraries' imports leave (numba, scipy, matplotlib) about 500 times in a small compare (0.25 s of
# CPU), and once more at exit (0.4-0.9 s, after the last file is written). Collections stay on, rarer; the
# objects alive at the end are left to the operating system.
GC_THRESHOLDS = (10_000, 50, 100)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        cli()
    finally:
        gc.freeze()
