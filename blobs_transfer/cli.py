"""The `blobs-transfer` command line: a thin layer that parses, calls one library function per step, and prints.

Bad input of any kind (an option, a config file, a source model, a results folder) ends with one line
`Error: ...` and exit code 2, before anything on disk is touched; `--debug` shows the traceback instead.
TensorFlow is imported only by the commands that train.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click
import numpy as np

from .config import ENGINES, Config, ConfigError, load_config
from .results import ResultsError

DEFAULT_RESULTS = Path("results")


class BadInput(click.ClickException):
    exit_code = 2


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a run."""


class Cli(click.Group):
    """Turns every expected failure into one line on stderr and exit code 2 (130 when interrupted)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        debug = "--debug" in (sys.argv[1:] if args is None else list(args))
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" (try '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (ConfigError, ResultsError, _model_error()) as exc:
            if debug:
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except (Interrupted, KeyboardInterrupt, click.exceptions.Abort):
            click.echo("Interrupted: the run directory is marked INCOMPLETE; earlier runs are untouched.", err=True)
            sys.exit(130)


def _model_error() -> type:
    """ModelError without importing Keras when no command needed it."""
    if "blobs_transfer.models" in sys.modules:
        return sys.modules["blobs_transfer.models"].ModelError
    return ConfigError


# --- shared options ---------------------------------------------------------------------------

def results_option(f):
    return click.option("--results-dir", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_RESULTS,
                        show_default=True, help="Folder where outputs are written (a new subfolder per compare run).")(f)


def config_option(f):
    return click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        help="TOML file of overrides of the tutorial's defaults (see configs/tutorial.toml).")(f)


def training_options(f):
    f = click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Training epochs per model [default: 100, the tutorial's].")(f)
    f = click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Root seed; every per-repeat seed is derived from it and recorded [default: 0].")(f)
    f = click.option("--engine", type=click.Choice(ENGINES), default=None,
                     help="vectorized: all repeats trained together (fast, default); keras: one model.fit per repeat (the reference).")(f)
    return f


def resolve_config(config_file: Path | None, **overrides: Any) -> Config:
    """Defaults < TOML file < command-line flags (flags left unset do not override)."""
    return load_config(config_file, **overrides)


@contextmanager
def progress_bar(total: int, label: str) -> Iterator:
    """A progress bar over epochs on a terminal; silent when stderr is not one (CI, pipes, tests)."""
    if not sys.stderr.isatty() or total <= 0:
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True) as bar:
        yield bar.update


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so a killed run still leaves its directory marked INCOMPLETE."""
    def handler(signum, frame):
        raise Interrupted()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras without their start-up chatter on stderr.

    TensorFlow 2.21 prints oneDNN and CUDA-stub notices from C++ before its logging is configured, ignoring
    TF_CPP_MIN_LOG_LEVEL, so the file descriptor itself is silenced for the import. An import error still
    raises normally once stderr is back.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
    from . import plots
    from .problems import make_problem
    from .results import ensure_writable, save_figure, write_csv

    cfg = resolve_config(config_file)
    folder = ensure_writable(results_dir / "problems")
    shown = []
    for number in range(1, len(cfg.problems.seeds) + 1):
        problem = make_problem(number, cfg.problems)
        for split in ("train", "test"):
            x, y = getattr(problem, f"x_{split}"), getattr(problem, f"y_{split}")
            header = [*(f"x{j + 1}" for j in range(x.shape[1])), "label"]
            write_csv(folder / f"problem{number}_{split}.csv", header,
                      ([*(repr(float(v)) for v in row), int(label)] for row, label in zip(x, y)))
        shown.append((f"Problem {number} (make_blobs random_state={problem.random_state})",
                      np.concatenate([problem.x_train, problem.x_test]), np.concatenate([problem.y_train, problem.y_test])))
    save_figure(plots.problems_figure(shown), folder / "problems.png")
    click.echo(f"Wrote {len(shown)} problems to {folder}/ (problemN_train.csv, problemN_test.csv, problems.png)")


def source_path(results_dir: Path, problem: int) -> Path:
    """Where `train-source` saves, and `compare` looks for, the source model of a problem."""
    return results_dir / "source" / f"problem{problem}.keras"


def write_single_run(folder: Path, stem: str, history, title: str) -> None:
    """A single run's per-epoch history as CSV and its learning-curve figure."""
    from . import plots
    from .results import CURVE_KEYS, save_figure, write_csv

    n = history["train_loss"].shape[1]
    rows = ([e, *(f"{history[k][0, e]:.6f}" for k in CURVE_KEYS)] for e in range(n))
    write_csv(folder / f"{stem}_history.csv", ["epoch", *CURVE_KEYS], rows)
    single = {k: history[k][0] for k in CURVE_KEYS}
    save_figure(plots.learning_curves_figure(single, title), folder / f"{stem}_learning_curves.png")


@cli.command("train-source")
@click.option("--problem", type=click.IntRange(min=1), default=None,
              help="Problem to train the source model on [default: the study's source problem, 1].")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to save the model [default: RESULTS_DIR/source/problemN.keras, where compare looks].")
@training_options
@results_option
@config_option
def train_source(problem, out, epochs, seed, engine, results_dir, config_file) -> None:
    """Train the source MLP on a problem's train split (test split as validation) and save it as .keras.

    Also writes its per-epoch history (CSV) and learning curves (loss and accuracy, train vs test).
    """
    cfg = resolve_config(config_file, **{"training.epochs": epochs, "study.seed": seed, "study.engine": engine,
                                         "study.source_problem": problem})
    problem = cfg.study.source_problem
    out = out or source_path(results_dir, problem)
    from .results import ensure_writable

    ensure_writable(out.parent)
    quiet_tensorflow()
    with progress_bar(cfg.training.epochs, f"source on Problem {problem}") as step:
        result = _train_and_save_source(cfg, problem, out, progress=step)
    click.echo(f"Train: {result.final['train_accuracy'][0]:.3f}, Test: {result.final['test_accuracy'][0]:.3f}")
    click.echo(f"Saved {out} (history {out.stem}_history.csv, curves {out.stem}_learning_curves.png)")


def load_source_weights(path: Path, cfg: Config):
    from .models import get_weights, load_source

    return get_weights(load_source(path, cfg))


@cli.command()
@click.option("--problem", type=click.IntRange(min=1), default=None, help="Problem to fit [default: the target problem, 2].")
@click.option("--source", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Start from this saved source model (transfer); without it the model starts fresh (standalone).")
@click.option("--fixed", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --source: how many leading hidden layers to freeze.")
@training_options
@results_option
@config_option
def fit(problem, source, fixed, epochs, seed, engine, results_dir, config_file) -> None:
    """One run with learning curves: standalone, or from a source model with K frozen layers (steps 2 and 3)."""
    from .config import Arm

    cfg = resolve_config(config_file, **{"training.epochs": epochs, "study.seed": seed, "study.engine": engine,
                                         "study.target_problem": problem})
    arm = Arm(f"transfer fixed={fixed}", weights="source", fixed=fixed) if source else Arm("standalone", fixed=fixed)
    cfg = _with_arms(cfg, (arm,))
    from .results import new_run_dir, mark_complete, write_json, run_metadata, atomic_write_text
    from .config import to_toml

    quiet_tensorflow()
    sources = {cfg.study.source_problem: [load_source_weights(source, cfg)]} if source else {}
    run_dir = new_run_dir(results_dir, "fit")
    from . import experiment

    atomic_write_text(run_dir / "config.toml", to_toml(cfg))
    seed_used = experiment.arm_seed(cfg, arm, 0 if source else None, 0)
    with progress_bar(cfg.training.epochs, arm.name) as step:
        result = experiment.train(cfg, _target(cfg), [(arm, sources.get(cfg.study.source_problem, [None])[0], seed_used)],
                                  engine=cfg.study.engine, progress=step)
    title = f"{arm.name} on Problem {cfg.study.target_problem} (seed {seed_used})"
    write_single_run(run_dir, "fit", result.history, title)
    write_json(run_dir / "metadata.json", run_metadata(arm=arm.name, source=str(source) if source else None,
                                                       seed=seed_used, root_seed=cfg.study.seed,
                                                       train_accuracy=float(result.final["train_accuracy"][0]),
                                                       test_accuracy=float(result.final["test_accuracy"][0])))
    mark_complete(run_dir)
    click.echo(f"Train: {result.final['train_accuracy'][0]:.3f}, Test: {result.final['test_accuracy'][0]:.3f}")
    click.echo(str(run_dir))


def _with_arms(cfg: Config, arms) -> Config:
    import dataclasses

    return dataclasses.replace(cfg, arms=tuple(arms), study=dataclasses.replace(cfg.study, baseline=arms[0].name))


def _target(cfg: Config):
    from .problems import make_problem

    return make_problem(cfg.study.target_problem, cfg.problems)


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
def compare(repeats, source_repeats, source, train_missing, epochs, seed, engine, results_dir, config_file) -> None:
    """Run every arm (standalone, transfer fixed=0/1/2 by default) REPEATS times on the target problem.

    Writes a new run directory under RESULTS_DIR with scores.csv, curves/, summary.json, summary.md,
    boxplot.png, forest.png, curves.png, report.html, config.toml and metadata.json, then prints the
    tutorial's table, the statistics and the directory's path.
    """
    cfg = resolve_config(config_file, **{"training.epochs": epochs, "study.seed": seed, "study.engine": engine,
                                         "study.repeats": repeats, "study.source_repeats": source_repeats})
    from .results import ensure_writable

    ensure_writable(results_dir)
    quiet_tensorflow()
    from . import experiment

    started = time.perf_counter()
    sources, source_seeds, to_train = {}, {}, {}
    for p in experiment.sources_needed(cfg):
        if cfg.study.source_repeats == 1 and p == cfg.study.source_problem:
            path = source or source_path(results_dir, p)
            if not path.exists() and train_missing and source is None:
                click.echo(f"No source model at {path}: training it first (--train-source).", err=True)
                _train_and_save_source(cfg, p, path)
            sources[p] = [load_source_weights(path, cfg)]
            source_seeds[f"problem{p}"] = f"loaded from {path}"
        else:
            to_train[p] = cfg.study.source_repeats
    with interruptible(), progress_bar(experiment.epochs_of_work(cfg, to_train), "training") as step:
        for p, count in to_train.items():
            sources[p], source_seeds[f"problem{p}"], _ = experiment.train_sources(cfg, p, count, progress=step)
        run_dir = _write_comparison(cfg, results_dir, sources, source_seeds, started, step)
    click.echo(str(run_dir))


def _train_and_save_source(cfg: Config, problem: int, out: Path, progress=None):
    """Train source model 0 of a problem and save it with its history, curves and metadata beside it."""
    from . import experiment
    from .models import model_from_weights, save_model
    from .results import run_metadata, write_json

    (weights,), (seed_used,), result = experiment.train_sources(cfg, problem, 1, progress=progress)
    save_model(model_from_weights(cfg, weights), out)
    write_single_run(out.parent, out.stem, result.history, f"Source model on Problem {problem} (seed {seed_used})")
    write_json(out.parent / f"{out.stem}.json", run_metadata(
        problem=problem, seed=seed_used, root_seed=cfg.study.seed, engine=cfg.study.engine, epochs=cfg.training.epochs,
        train_accuracy=float(result.final["train_accuracy"][0]), test_accuracy=float(result.final["test_accuracy"][0])))
    return result


def _write_comparison(cfg: Config, results_dir: Path, sources, source_seeds, started: float, step) -> Path:
    """Train every arm into a new run directory, write its files and report, then mark it complete."""
    from . import experiment
    from .config import to_toml
    from .report import build_report, terminal_report
    from .results import (atomic_write_text, mark_complete, new_run_dir, run_metadata, score_rows, write_curves,
                          write_json, write_scores)

    run_dir = new_run_dir(results_dir, "compare")
    atomic_write_text(run_dir / "config.toml", to_toml(cfg))
    train_started = time.perf_counter()
    result = experiment.run_comparison(cfg, sources, progress=step)
    train_seconds = time.perf_counter() - train_started
    write_scores(run_dir / "scores.csv", result_rows := score_rows(result.replicas, result.final, result.diverged))
    write_curves(run_dir / "curves", result.replicas, result.history)
    seeds: dict[str, list[int]] = {}
    for rep in result.replicas:
        seeds.setdefault(rep.arm.name, []).append(rep.seed)
    write_json(run_dir / "metadata.json", run_metadata(
        root_seed=cfg.study.seed, engine=cfg.study.engine, replicas=len(result_rows),
        diverged=int(result.diverged.sum()), training_seconds=round(train_seconds, 3),
        wall_seconds=round(time.perf_counter() - started, 3), source_models=source_seeds, repeat_seeds=seeds))
    summary = build_report(run_dir, require_complete=False)
    mark_complete(run_dir)
    click.echo(terminal_report(summary))
    if result.diverged.any():
        click.echo(f"{int(result.diverged.sum())} runs diverged (non-finite loss); they are counted, not scored.")
    return run_dir


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
def report(run_dir: Path) -> None:
    """Rebuild summary.json, summary.md, the figures and report.html of a finished compare run (no TensorFlow)."""
    from .report import build_report, terminal_report

    summary = build_report(run_dir)
    click.echo(terminal_report(summary))
    click.echo(str(run_dir / "report.html"))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--baseline", "baseline_file", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Baseline JSON with per-arm statistics and tolerance bands (e.g. results/baseline.json).")
def check(run_dir: Path, baseline_file: Path) -> None:
    """Regression gate: compare a finished run's per-arm statistics with a baseline; exit 1 if any moved.

    The statistics are recomputed from the run's scores.csv (not read from summary.json), so an edited
    scores file cannot slip through.
    """
    from . import gate
    from .report import format_table, load_run, summarise

    baseline = _read_baseline(baseline_file)
    cfg, scores, curves = load_run(run_dir)
    rows = gate.check(summarise(cfg, scores, curves), baseline)
    click.echo(format_table(*gate.gate_table(rows)))
    moved = [r for r in rows if not r["ok"]]
    if moved:
        names = ", ".join(f"{r['arm']} {r['statistic']}" for r in moved)
        click.echo(f"FAILED: {len(moved)} of {len(rows)} checks moved outside their bands: {names}", err=True)
        sys.exit(1)
    click.echo(f"OK: all {len(rows)} checks within their bands of {baseline_file}")


def _read_baseline(path: Path) -> dict[str, Any]:
    import json

    try:
        baseline = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(baseline.get("arms"), dict):
            raise ValueError("no 'arms' table")
        return baseline
    except FileNotFoundError:
        raise BadInput(f"baseline file {path} does not exist") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise BadInput(f"baseline file {path} is not a blobs-transfer baseline: {exc}") from None


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the baseline JSON (replaced atomically if it exists).")
def baseline(run_dir: Path, out: Path) -> None:
    """Write a regression baseline (per-arm statistics and tolerance bands) from a finished run."""
    from . import gate
    from .report import load_run, summarise
    from .results import write_json

    cfg, scores, curves = load_run(run_dir)
    write_json(out, gate.make_baseline(summarise(cfg, scores, curves), source=str(run_dir)))
    click.echo(f"Wrote {out}")


def main() -> None:
    cli()

