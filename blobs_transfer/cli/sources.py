"""`rank-sources`: which of my saved source models will transfer, scored before any target training."""

from __future__ import annotations

from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.cli.common import config_option
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
    default=Path("rank-sources.csv"),
    show_default=True,
    help="CSV file to write the scores to.",
)
@config_option
def rank_sources(sources: tuple[Path, ...], problem: int | None, out: Path, config_file: Path | None) -> None:
    """Score saved source models (.keras files, or a compare run's directory, which stands for its
    source_models/) on the target problem's training split, before any target training: LEEP, NCE, LogME,
    H-score with shrinkage, the source's own accuracy and a logistic probe on its features. Higher is better
    for every score. Prints them and the model each ranks first, and writes them to OUT. No TensorFlow.

    With a run directory and no --config, the run's own config.toml says what the target problem is. With a
    sweep's directory, every cell's source models (trained again from their recorded seeds) are scored on its
    target, against their realised means there, and each score's mean over the sources is set against the
    targets' benefit of transfer (OUT gets one row per cell and source model, and a .json of the statistics).
    """
    if len(sources) == 1 and (sources[0] / "sweep.toml").is_file():
        click.echo(api.sweep_text(api.rank_sweep(sources[0], out)))
        click.echo(str(out))
        return
    if config_file is None and len(sources) == 1 and (sources[0] / "config.toml").is_file():
        config_file = sources[0] / "config.toml"
    cfg = load_config(config_file, **{"study.target_problem": problem})
    rows = api.rank_sources(cfg, sources, out)
    click.echo(api.ranking_text(cfg, rows))
    click.echo(str(out))
