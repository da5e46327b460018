"""The study's own steps: `generate` the problems, `train-source`, one `fit`, the repeated `compare`, and
`report` to rebuild a compare run's summaries and figures."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.cli.common import (
    BadInput,
    accuracies_line,
    config_for_options,
    config_option,
    echo_json,
    interruptible,
    json_option,
    process_started,
    progress_bars,
    quiet_tensorflow,
    results_option,
    training_options,
)
from blobs_transfer.config import load_config


@click.command()
@results_option(help="Folder where outputs are written: the problems go to RESULTS_DIR/problems/.")
@config_option
def generate(results_dir: Path, config_file: Path | None) -> None:
    """Make Problem 1 and Problem 2 (make_blobs), write their train/test splits as CSV and draw them; with a saved
    source model at RESULTS_DIR/source/, also its decision regions. Lists every file it wrote."""
    started = time.time()
    folder = api.generate(load_config(config_file), results_dir)
    written = sorted(p.name for p in folder.iterdir() if p.is_file() and p.stat().st_mtime >= started - 1)
    click.echo(f"Wrote {len(written)} files to {folder}/: {', '.join(written)}")


@click.command("train-source")
@click.option(
    "--problem",
    type=click.IntRange(min=1),
    default=None,
    help="Problem to train the source model on [default: the study's source problem, 1].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to save the model [default: RESULTS_DIR/source/problemN.keras, where compare looks].",
)
@training_options
@results_option(help="Folder where outputs are written: the model goes to RESULTS_DIR/source/ unless --out says.")
@config_option
def train_source(problem, out, epochs, seed, engine, threads, results_dir, config_file) -> None:
    """Train the source MLP on a problem's train split (test split as validation) and save it as .keras.

    Also writes its per-epoch history (CSV) and learning curves (loss and accuracy, train vs test).
    """
    cfg = config_for_options(
        config_file,
        {
            "--epochs": ("training.epochs", epochs),
            "--seed": ("study.seed", seed),
            "--engine": ("study.engine", engine),
            "--problem": ("study.source_problem", problem),
        },
    )
    quiet_tensorflow()  # train-source writes a real .keras model, with Keras
    api.prepare_engine(cfg, threads)
    with progress_bars() as progress:
        model, result = api.train_source(cfg, out=out, results_dir=results_dir, progress=progress)
    click.echo(accuracies_line(result))
    stem = Path(model.path).stem
    click.echo(f"Saved {model.path} (history {stem}_history.csv, curves {stem}_learning_curves.png)")


@click.command()
@click.option(
    "--problem", type=click.IntRange(min=1), default=None, help="Problem to fit [default: the target problem, 2]."
)
@click.option(
    "--source",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Start from this saved source model (transfer); without it the model starts fresh (standalone).",
)
@click.option(
    "--fixed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --source: how many leading hidden layers to freeze.",
)
@training_options
@results_option(help="Folder where outputs are written: a new fit-... subfolder per fit.")
@config_option
@json_option
def fit(problem, source, fixed, epochs, seed, engine, threads, results_dir, config_file, as_json) -> None:
    """One run with learning curves: standalone, or from a source model with K frozen layers (steps 2 and 3)."""
    cfg = config_for_options(
        config_file,
        {
            "--epochs": ("training.epochs", epochs),
            "--seed": ("study.seed", seed),
            "--engine": ("study.engine", engine),
            "--problem": ("study.target_problem", problem),
        },
    )
    api.prepare_engine(cfg, threads)
    with progress_bars() as progress:
        run_dir, result = api.fit(cfg, results_dir, source=source, fixed=fixed, progress=progress)
    if as_json:
        return echo_json(
            {
                "kind": "fit",
                "directory": str(run_dir),
                "report": str(run_dir / "fit_learning_curves.png"),
                **{k: float(result.final[k][0]) for k in ("train_accuracy", "test_accuracy")},
            }
        )
    click.echo(accuracies_line(result))
    click.echo(str(run_dir))


@click.command()
@click.option("--repeats", type=click.IntRange(min=1), default=None, help="Repeats per arm [default: 30].")
@click.option(
    "--source-repeats",
    type=click.IntRange(min=1),
    default=None,
    help="Train this many source models (recorded seeds) and run every transfer arm from each [default: 1, "
    "the saved source model].",
)
@click.option(
    "--source",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Saved source model for the transfer arms [default: RESULTS_DIR/source/problem1.keras].",
)
@click.option(
    "--train-source",
    "train_missing",
    is_flag=True,
    help="If the source model is missing, train and save it first instead of stopping with an error.",
)
@click.option(
    "--arms",
    default=None,
    help="Only these arms, comma-separated, by name or short form: 'standalone,fixed=1' (fixed=K stands for "
    "'transfer fixed=K') [default: every arm of the config; the baseline is always one of them].",
)
@training_options
@results_option
@config_option
@json_option
def compare(
    repeats,
    source_repeats,
    source,
    train_missing,
    arms,
    epochs,
    seed,
    engine,
    threads,
    results_dir,
    config_file,
    as_json,
) -> None:
    """Run every arm (standalone, transfer fixed=0/1/2 by default) REPEATS times on the target problem.

    Writes a new run directory under RESULTS_DIR with scores.csv, curves/, summary.json, summary.md,
    boxplot.png, forest.png, curves.png, report.html, config.toml and metadata.json, then prints the
    tutorial's table, the statistics and the directory's path.
    """
    cfg = config_for_options(
        config_file,
        {
            "--epochs": ("training.epochs", epochs),
            "--seed": ("study.seed", seed),
            "--engine": ("study.engine", engine),
            "--repeats": ("study.repeats", repeats),
            "--source-repeats": ("study.source_repeats", source_repeats),
        },
    )
    if arms is not None:
        cfg = choose_arms(cfg, arms)
    api.prepare_engine(cfg, threads)
    with progress_bars() as progress, interruptible(progress):
        done = api.compare(
            cfg,
            results_dir,
            source=source,
            train_missing=train_missing,
            progress=progress,
            notify=lambda line: click.echo(line, err=True),
            started=process_started(),
        )
    if as_json:
        return echo_json(
            {
                "kind": "compare",
                "directory": str(done.run_dir),
                "report": str(done.run_dir / "report.html"),
                "baseline": done.summary["run"]["baseline"],
                "verdicts": {c["arm"]: c["verdict"] for c in done.summary["comparisons"]},
                "diverged": int(done.result.diverged.sum()),
            }
        )
    click.echo(api.terminal_report(done.summary))
    if done.result.diverged.any():
        click.echo(f"{int(done.result.diverged.sum())} runs diverged (non-finite loss); they are counted, not scored.")
    click.echo(str(done.run_dir))


def choose_arms(cfg, text: str):
    """The config with only the arms `--arms` names ('standalone,fixed=1'), in the config's order."""
    names = [a.name for a in cfg.arms]
    wanted = []
    for token in (t.strip() for t in text.split(",")):
        name = f"transfer {token}" if re.fullmatch(r"fixed=\d+", token) else token
        if name not in names:
            raise BadInput(
                f"--arms: unknown arm {token!r}; the arms are {', '.join(names)} (fixed=K for transfer fixed=K)"
            )
        wanted.append(name)
    if cfg.study.baseline not in wanted:
        raise BadInput(f"--arms {text}: the baseline {cfg.study.baseline!r} must be one of the arms")
    return dataclasses.replace(cfg, arms=tuple(a for a in cfg.arms if a.name in wanted))


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
def report(run_dir: Path) -> None:
    """Rebuild summary.json, summary.md, the figures and report.html of a finished compare run (no TensorFlow)."""
    summary = api.report_run(run_dir)
    click.echo(api.terminal_report(summary))
    click.echo(str(run_dir / "report.html"))
