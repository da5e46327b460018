"""`rank-sources`: which of my saved source models will transfer, scored before any target training."""

from __future__ import annotations

import json
from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.api import recommend
from blobs_transfer.cli.common import config_option, progress_bars
from blobs_transfer.config import load_config


@click.command("rank-sources")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "--problem",
    type=click.IntRange(min=1),
    default=None,
    help="Target problem to score them on [default: the study's target problem, 2].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="CSV file to write every source model's scores to [default: none; a sweep's go to SWEEP/rank-sources.csv].",
)
@click.option("--all", "every", is_flag=True, help="Print every source model's row and every score, not the top 5.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (the ranked rows and the pick), for scripts."
)
@config_option
def rank_sources(
    sources: tuple[Path, ...],
    problem: int | None,
    out: Path | None,
    every: bool,
    as_json: bool,
    config_file: Path | None,
) -> None:
    """Which source model to pick: score saved source models (.keras files, or a compare run's directory, which
    stands for its source_models/) on the target problem's training split, before any target training (twelve
    scores: LEEP, NCE, LogME, both H-scores, TransRate, GBC, N-LEEP, the source's own accuracy on the target,
    k-NN accuracy and a logistic probe's accuracy and log-loss on its features; higher is better for every
    score). Prints the top 5 by the score with the best win rate in the committed study across 27 setups (the
    plain H-score), and the pick in one sentence: on a run directory, beside each model its realised mean per
    transfer arm, each score's Spearman rho, and how stable the best model is over resamples of its runs; on
    .keras files alone, a prediction. Writes a file only with --out. No TensorFlow.

    With a run directory and no --config, the run's own config.toml says what the target problem is. With a
    sweep's directory, every cell's source models (trained again from their recorded seeds) are scored on its
    target, against their realised means there, and each score's mean over the sources is set against the
    targets' benefit of transfer (OUT gets one row per cell and source model, and a .json of the statistics).
    With 2 or more cells of 3 or more source models, it also says which score to trust across the cells, each a
    setup: setups.csv, win_rates.csv, three figures and transferability.html beside OUT.
    """
    if len(sources) == 1 and (sources[0] / "sweep.toml").is_file():
        out = out or sources[0] / "rank-sources.csv"  # into the sweep it scored, never the current folder
        with progress_bars() as progress:
            result = api.rank_sweep(sources[0], out, progress=progress)
        click.echo(api.sweep_text(result))
        click.echo(str(out))
        return
    run_dir = sources[0] if len(sources) == 1 and (sources[0] / "config.toml").is_file() else None
    if config_file is None and run_dir is not None:
        config_file = run_dir / "config.toml"
    cfg = load_config(config_file, **{"study.target_problem": problem})
    rows = api.rank_sources(cfg, sources, out)
    answer = recommend.recommend(cfg, rows, run_dir if problem is None else None)
    if as_json:
        click.echo(json.dumps({**answer, "out": None if out is None else str(out)}, default=str))
        return
    click.echo(recommend.text(answer, every=every))
    if every:
        click.echo("\n" + api.ranking_text(cfg, rows))
    if out is not None:
        click.echo(str(out))
