"""Source models (blobs_transfer.api.sources): `train-source` writes the model, its history and curves; `compare`
without one says how to make one or trains it with --train-source; and a config whose arms start from two
source problems loads the saved one and trains the other, recording both seeds."""

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli
from blobs_transfer.config import load_config
from blobs_transfer.model.keras_file import read_weights
from blobs_transfer.train import plan
from tests.helpers import PNG, ROOT, read_csv, run


def test_train_source_writes_model_history_and_curves(trained):
    folder = trained / "source"
    weights, _ = read_weights(folder / "problem1.keras")  # that plain Keras opens it: tests/model/test_keras_model.py
    assert sum(k.size + b.size for k, b in weights) == 63
    history = read_csv(folder / "problem1_history.csv")
    assert len(history) == 4 and list(history[0]) == [
        "epoch",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
    ]
    assert (folder / "problem1_learning_curves.png").read_bytes().startswith(PNG)
    meta = json.loads((folder / "problem1.json").read_text())
    assert meta["problem"] == 1 and isinstance(meta["seed"], int)


def test_compare_without_source_model_says_how_to_make_one(tmp_path):
    result = run("compare", "--repeats", 2, "--epochs", 2, "--results-dir", tmp_path, ok=False)
    assert result.exit_code == 2
    assert "train-source" in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.glob("compare-*"))


@pytest.mark.slow
def test_compare_can_train_the_missing_source(tmp_path):
    run("compare", "--repeats", 2, "--epochs", 2, "--results-dir", tmp_path, "--train-source")
    assert (tmp_path / "source" / "problem1.keras").exists()
    assert (tmp_path / "source" / "problem1_history.csv").exists()  # the same files as train-source writes


@pytest.mark.slow
def test_yosinski_config_runs_through_the_cli(tmp_path):
    def run(*args):
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result.output

    run("train-source", "--epochs", 2, "--results-dir", tmp_path)
    out = run(
        "compare",
        "--config",
        ROOT / "configs" / "yosinski.toml",
        "--repeats",
        2,
        "--epochs",
        2,
        "--results-dir",
        tmp_path,
    )
    run_dir = Path(out.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path
    with open(run_dir / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cfg = load_config(ROOT / "configs" / "yosinski.toml")
    assert [r["arm"] for r in rows] == [a.name for a in cfg.arms for _ in range(2)]
    for row in rows:
        uses_source = cfg.arm(row["arm"]).uses_source
        assert row["source_index"] == ("0" if uses_source else ""), row
        assert row["diverged"] == "0" and 0 <= float(row["test_accuracy"]) <= 1
    assert {r["arm"] for r in rows if r["source_index"]} >= {"B1B", "B1B+", "B2B", "B2B+"}
    sources = json.loads((run_dir / "metadata.json").read_text())["source_models"]
    # the saved model of train-source, named relative to the results folder (no machine's folders in a result)
    assert sources["problem1"]["path"] == "source/problem1.keras"
    assert sources["problem1"]["seeds"] == [plan.source_seed(cfg, 1, 0)]  # its seed, from its metadata
    assert sources["problem2"]["seeds"] == [plan.source_seed(cfg, 2, 0)]  # trained in the run, seed recorded
