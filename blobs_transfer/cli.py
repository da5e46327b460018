"""The `blobs-transfer` command line: each command parses its options, calls one library function, and prints.

The work lives in `api`; this module only turns options into a config, shows progress, and prints. Every
expected failure is a `StudyError` (or a usage error), which Click's standalone handling prints as one line
`Error: ...` with exit code 2, before anything on disk is touched; `--debug` shows the traceback instead.
TensorFlow is imported only by the commands that train.
"""

from __future__ import annotations

import json
import signal
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from blobs_transfer import api
from blobs_transfer.config import ENGINES, load_config
from blobs_transfer.errors import StudyError, UnverifiedRunWarning

DEFAULT_RESULTS = api.DEFAULT_RESULTS


class BadInput(click.ClickException):
    """Any expected failure, shown by Click as one line `Error: ...`, exit code 2."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """SIGTERM or Ctrl-C during a run, raised at the next epoch or cell boundary (see `interruptible`)."""


def _one_line(exc: click.UsageError) -> BadInput:
    hint = f" (try '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return BadInput(f"{exc.format_message()}{hint}")


def _one_line_warnings(show):
    """`warnings.showwarning` that prints a run read unverified as one line `Warning: ...`, not Python's two."""
    def showwarning(message, category, *args, **kwargs):
        if issubclass(category, UnverifiedRunWarning):
            click.echo(f"Warning: {message}", err=True)
        else:
            show(message, category, *args, **kwargs)
    return showwarning


class Cli(click.Group):
    """Click's standalone mode prints the errors; this only makes every expected one a one-line BadInput."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", UnverifiedRunWarning)
                warnings.showwarning = _one_line_warnings(warnings.showwarning)
                return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None
        except StudyError as exc:
            if ctx.params.get("debug"):
                raise
            raise BadInput(str(exc)) from None
        except (Interrupted, KeyboardInterrupt):
            click.echo("Interrupted: the run directory is marked INCOMPLETE; earlier runs are untouched.", err=True)
            raise click.exceptions.Exit(130) from None


# --- shared options ---------------------------------------------------------------------------

def results_option(f):
    return click.option("--results-dir", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_RESULTS,
                        show_default=True, help="Folder where outputs are written (a new subfolder per compare run).")(f)


def config_option(f):
    return click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        help="TOML file of overrides of the tutorial's defaults (see configs/tutorial.toml).")(f)


def training_options(f):
    f = click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Training epochs per model, the [training] block's (a config's [source] or [target] epochs "
                          "still win) [default: 100, the tutorial's].")(f)
    f = click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Root seed; every per-repeat seed is derived from it and recorded [default: 0].")(f)
    f = click.option("--engine", type=click.Choice(ENGINES), default=None,
                     help="numba: all repeats trained together on the CPU (fast, default); tensorflow: the same in "
                          "TensorFlow (uses a GPU if it sees one); keras: one model.fit per repeat (the reference).")(f)
    f = threads_option(f)
    return f


def threads_option(f):
    return click.option("--threads", type=click.IntRange(min=1), default=None,
                        help=f"CPU threads for the numba engine [default: ${api.THREADS_ENV} if set, else every core].")(f)


class ProgressBars:
    """A progress bar per phase of work on a terminal; silent when stderr is not one (CI, pipes, tests)."""

    def __init__(self) -> None:
        self.bar, self.label = None, None
        self.stop_requested = False

    def __call__(self, label: str, epochs: int, total: int) -> None:
        if self.stop_requested:
            raise Interrupted()
        if not sys.stderr.isatty():
            return
        if label != self.label:
            self.close()
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)
            self.bar.__enter__()
            self.label = label
        self.bar.update(epochs)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        self.bar, self.label = None, None


@contextmanager
def progress_bars() -> Iterator[ProgressBars]:
    bars = ProgressBars()
    try:
        yield bars
    finally:
        bars.close()


@contextmanager
def interruptible(bars: ProgressBars) -> Iterator[None]:
    """SIGTERM and Ctrl-C stop a run at its next progress report (an epoch or a finished cell), so a killed run
    still leaves its directory marked INCOMPLETE; a second signal stops at once.

    Not at the signal itself: an exception raised at an arbitrary point inside TensorFlow's tracing leaves
    its internal stacks inconsistent and surfaces as an unrelated error ('Concurrent access?').
    """
    def handler(signum, frame):
        if bars.stop_requested:
            raise Interrupted()
        bars.stop_requested = True
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras quietly (see `api.import_tensorflow`)."""
    api.import_tensorflow()


def accuracies_line(result) -> str:
    return f"Train: {result.final['train_accuracy'][0]:.3f}, Test: {result.final['test_accuracy'][0]:.3f}"


# --- commands ---------------------------------------------------------------------------------

@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="blobs-transfer")
def cli(debug: bool) -> None:
    """Reproduce the Keras blobs transfer-learning study: standalone MLP vs transfer with 0, 1 or 2 frozen layers.

    Typical use: `blobs-transfer train-source` then `blobs-transfer compare --repeats 30`.
    """


@cli.command()
@results_option
@config_option
def generate(results_dir: Path, config_file: Path | None) -> None:
    """Make Problem 1 and Problem 2 (make_blobs), write their train/test splits as CSV and draw them."""
    folder = api.generate(load_config(config_file), results_dir)
    click.echo(f"Wrote the problems to {folder}/ (problemN_train.csv, problemN_test.csv, problems.png)")


@cli.command("train-source")
@click.option("--problem", type=click.IntRange(min=1), default=None,
              help="Problem to train the source model on [default: the study's source problem, 1].")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to save the model [default: RESULTS_DIR/source/problemN.keras, where compare looks].")
@training_options
@results_option
@config_option
def train_source(problem, out, epochs, seed, engine, threads, results_dir, config_file) -> None:
    """Train the source MLP on a problem's train split (test split as validation) and save it as .keras.

    Also writes its per-epoch history (CSV) and learning curves (loss and accuracy, train vs test).
    """
    cfg = load_config(config_file, **{"training.epochs": epochs, "study.seed": seed, "study.engine": engine,
                                         "study.source_problem": problem})
    quiet_tensorflow()  # train-source writes a real .keras model, with Keras
    api.prepare_engine(cfg, threads)
    with progress_bars() as progress:
        model, result = api.train_source(cfg, out=out, results_dir=results_dir, progress=progress)
    click.echo(accuracies_line(result))
    stem = Path(model.path).stem
    click.echo(f"Saved {model.path} (history {stem}_history.csv, curves {stem}_learning_curves.png)")


@cli.command()
@click.option("--problem", type=click.IntRange(min=1), default=None, help="Problem to fit [default: the target problem, 2].")
@click.option("--source", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Start from this saved source model (transfer); without it the model starts fresh (standalone).")
@click.option("--fixed", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --source: how many leading hidden layers to freeze.")
@training_options
@results_option
@config_option
def fit(problem, source, fixed, epochs, seed, engine, threads, results_dir, config_file) -> None:
    """One run with learning curves: standalone, or from a source model with K frozen layers (steps 2 and 3)."""
    cfg = load_config(config_file, **{"training.epochs": epochs, "study.seed": seed, "study.engine": engine,
                                         "study.target_problem": problem})
    api.prepare_engine(cfg, threads)
    with progress_bars() as progress:
        run_dir, result = api.fit(cfg, results_dir, source=source, fixed=fixed, progress=progress)
    click.echo(accuracies_line(result))
    click.echo(str(run_dir))


@cli.command()
@click.option("--repeats", type=click.IntRange(min=1), default=None, help="Repeats per arm [default: 30].")
@click.option("--source-repeats", type=click.IntRange(min=1), default=None,
              help="Train this many source models (recorded seeds) and run every transfer arm from each [default: 1, "
                   "the saved source model].")
@click.option("--source", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Saved source model for the transfer arms [default: RESULTS_DIR/source/problem1.keras].")
@click.option("--train-source", "train_missing", is_flag=True,
              help="If the source model is missing, train and save it first instead of stopping with an error.")
@training_options
@results_option
@config_option
def compare(repeats, source_repeats, source, train_missing, epochs, seed, engine, threads, results_dir,
            config_file) -> None:
    """Run every arm (standalone, transfer fixed=0/1/2 by default) REPEATS times on the target problem.

    Writes a new run directory under RESULTS_DIR with scores.csv, curves/, summary.json, summary.md,
    boxplot.png, forest.png, curves.png, report.html, config.toml and metadata.json, then prints the
    tutorial's table, the statistics and the directory's path.
    """
    cfg = load_config(config_file, **{"training.epochs": epochs, "study.seed": seed, "study.engine": engine,
                                         "study.repeats": repeats, "study.source_repeats": source_repeats})
    api.prepare_engine(cfg, threads)
    with progress_bars() as progress, interruptible(progress):
        done = api.compare(cfg, results_dir, source=source, train_missing=train_missing, progress=progress,
                             notify=lambda line: click.echo(line, err=True))
    click.echo(api.terminal_report(done.summary))
    if done.result.diverged.any():
        click.echo(f"{int(done.result.diverged.sum())} runs diverged (non-finite loss); they are counted, not scored.")
    click.echo(str(done.run_dir))


@cli.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Sweep config: a config plus a [sweep] table giving each swept key its list of values "
                   "(see configs/sweep.toml).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Root seed of every cell [default: the config's, 0].")
@click.option("--resume", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Finish an interrupted sweep in this directory: its finished cells are kept and skipped.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the cells as tasks on this Dask scheduler (e.g. tcp://10.0.0.5:8786); needs the dask extra.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Start a local Dask cluster of this many worker processes (one thread each) for the cells.")
@threads_option
@results_option
def sweep(config_file: Path, seed: int | None, resume: Path | None, scheduler: str | None, workers: int | None,
          threads: int | None, results_dir: Path) -> None:
    """Run a grid of comparisons (one per cell of the [sweep] table) and tabulate the transfer benefit per cell.

    Writes a sweep directory with sweep.toml, runs.csv, cells.csv, benefit and heatmap figures, report.html,
    metadata.json and cells/ (one folder per finished cell), and prints its path last.
    """
    if scheduler and workers:
        raise BadInput("give --scheduler (an existing cluster) or --workers (a local one), not both")
    grid = api.load_sweep(config_file, seed=seed)
    api.prepare_engine(grid.config_of(grid.cells()[0]), threads)
    with progress_bars() as progress, interruptible(progress):
        done = api.run_sweep(grid, results_dir, resume=resume, scheduler=scheduler, workers=workers,
                                progress=progress, notify=lambda line: click.echo(line, err=True))
    click.echo(api.sections_text(done.sections))
    meta = done.metadata
    click.echo(f"{meta['cells']} cells, {meta['networks']} networks, {meta['wall_seconds']:.1f} s")
    click.echo(str(done.sweep_dir))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
def report(run_dir: Path) -> None:
    """Rebuild summary.json, summary.md, the figures and report.html of a finished compare run (no TensorFlow)."""
    summary = api.report_run(run_dir)
    click.echo(api.terminal_report(summary))
    click.echo(str(run_dir / "report.html"))


@cli.command()
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


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the baseline JSON (replaced atomically if it exists).")
def baseline(run_dir: Path, out: Path) -> None:
    """Write a regression baseline (per-arm statistics and tolerance bands) from a finished run."""
    click.echo(f"Wrote {api.write_baseline(run_dir, out)}")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--derived/--data-only", default=True, show_default=True,
              help="Also check the summaries, figures and report.html (which `report` can rebuild).")
def verify(run_dir: Path, derived: bool) -> None:
    """Check that a finished run or sweep is exactly as written (every file against its manifest), e.g. after a
    copy; exit 2 naming the first damaged or missing file. Reads nothing else and changes nothing."""
    manifest = api.verify(run_dir, derived=derived)
    if manifest is not None:
        cells = manifest["plan"].get("cells")
        click.echo(f"OK: {run_dir}: {len(manifest['files'])} files match its manifest"
                   + (f", and each of its {cells} cells matches its own" if cells else ""))
    else:
        click.echo(f"{run_dir} has no manifest: only its row counts were checked (they match its plan)")


@cli.command()
@click.argument("results_dir", metavar="[RESULTS_DIR]", type=click.Path(path_type=Path, file_okay=False),
                default=DEFAULT_RESULTS)
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


@cli.command("export-mlflow")
@click.argument("folder", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option("--tracking-uri", default=None, metavar="URI",
              help="MLflow tracking URI [default: sqlite:///<the folder holding DIR>/mlflow.db, a SQLite store "
                   "beside the results, artefacts in mlartifacts/ next to it].")
@click.option("--experiment", default="blobs-transfer", show_default=True,
              help="MLflow experiment to add the runs to (created if missing).")
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


def main() -> None:
    cli()
