"""The `sweep` command (blobs_transfer.api.sweep): a one-cell sweep equals `compare` with the same settings and
seed, and a cell that raises is named while the others are kept and --resume finishes them."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli
from blobs_transfer.rundir.sweep_dir import RUN_COLUMNS
from blobs_transfer.sweep import cells
from tests.helpers import GRID, invoke, read_csv, write


@pytest.mark.slow
def test_one_cell_sweep_equals_compare(tmp_path):
    base = "[study]\nsource_repeats = 2\nrepeats = 3\nseed = 4\n[training]\nepochs = 4\n[target]\nn_train = 50\n"
    compare = invoke("compare", "--config", write(tmp_path, base, "c.toml"), "--results-dir", tmp_path / "c")
    assert compare.exit_code == 0, compare.output
    run_dir = Path(compare.output.strip().splitlines()[-1])
    sweep = invoke(
        "sweep",
        "--config",
        write(tmp_path, base.replace("[target]\nn_train = 50\n", "") + '[sweep]\n"target.n_train" = [50]\n'),
        "--results-dir",
        tmp_path / "s",
    )
    assert sweep.exit_code == 0, sweep.output
    sweep_dir = Path(sweep.output.strip().splitlines()[-1])
    scores = [{k: r[k] for k in RUN_COLUMNS} for r in read_csv(run_dir / "scores.csv")]
    runs = [{k: r[k] for k in RUN_COLUMNS} for r in read_csv(sweep_dir / "runs.csv")]
    assert runs == scores
    summary = json.loads((run_dir / "summary.json").read_text())
    cell = json.loads((sweep_dir / "cells" / "0000" / "summary.json").read_text())
    assert cell["arms"] == summary["arms"] and cell["comparisons"] == summary["comparisons"]


@pytest.fixture(scope="module")
def in_process(in_process_sweep):
    """The reference: the same sweep run in this process (the session's `in_process_sweep`)."""
    return in_process_sweep


@pytest.mark.slow
def test_a_cell_that_raises_is_named_and_the_others_stay(tmp_path, monkeypatch, in_process):
    real = cells.train_cells

    def failing(cfgs):  # cell 3 shares its batch with cell 2, which must still finish
        if any(cfg.target.n_train == 50 and cfg.target.similarity_t == 1.0 for cfg in cfgs):
            raise ValueError("injected failure")
        return real(cfgs)

    monkeypatch.setattr(cells, "train_cells", failing)
    config = write(tmp_path, GRID.format(epochs=30))
    result = CliRunner().invoke(cli, ["sweep", "--config", str(config), "--results-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error) == 1 and "cell 3 (target.n_train=50, target.similarity_t=1.0)" in error[0]
    assert "injected failure" in error[0]
    (sweep_dir,) = (tmp_path / "r").glob("sweep-*")
    assert sorted(p.parent.name for p in sweep_dir.glob("cells/*/cell.json")) == [
        "0000",
        "0001",
        "0002",
        "0004",
        "0005",
    ]
    monkeypatch.setattr(cells, "train_cells", real)
    result = CliRunner().invoke(cli, ["sweep", "--config", str(config), "--resume", str(sweep_dir)])
    assert result.exit_code == 0, result.output
    assert (sweep_dir / "runs.csv").read_bytes() == (in_process / "runs.csv").read_bytes()
