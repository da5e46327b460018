"""The command line through click's CliRunner, in tmp_path, with tiny epochs and repeats."""

import csv
import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli

PNG = b"\x89PNG\r\n\x1a\n"


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output + str(result.exception)
    return result


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A results folder with a source model trained for 3 epochs."""
    results = tmp_path_factory.mktemp("results")
    out = run("train-source", "--epochs", 3, "--results-dir", results).output
    assert out.startswith("Train: 0.") and ", Test: 0." in out.splitlines()[0]
    return results


def test_every_command_has_help():
    for command in ([], ["generate"], ["train-source"], ["fit"], ["compare"], ["report"]):
        out = run(*command, "--help").output
        assert "Usage:" in out
        assert "--help" in out


def test_generate_writes_splits_and_figure(tmp_path):
    run("generate", "--results-dir", tmp_path)
    folder = tmp_path / "problems"
    for n in (1, 2):
        for split in ("train", "test"):
            rows = read_csv(folder / f"problem{n}_{split}.csv")
            assert len(rows) == 500 and list(rows[0]) == ["x1", "x2", "label"]
            assert {r["label"] for r in rows} == {"0", "1", "2"}
    assert (folder / "problems.png").read_bytes().startswith(PNG)


def test_train_source_writes_model_history_and_curves(trained):
    folder = trained / "source"
    model = keras.models.load_model(folder / "problem1.keras")
    assert model.count_params() == 63
    history = read_csv(folder / "problem1_history.csv")
    assert len(history) == 4 and list(history[0]) == ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    assert (folder / "problem1_learning_curves.png").read_bytes().startswith(PNG)
    meta = json.loads((folder / "problem1.json").read_text())
    assert meta["problem"] == 1 and isinstance(meta["seed"], int)


@pytest.mark.parametrize("extra", [[], ["--source", "SOURCE", "--fixed", "1"]])
def test_fit_single_run(trained, tmp_path, extra):
    extra = [str(trained / "source" / "problem1.keras") if a == "SOURCE" else a for a in extra]
    out = run("fit", "--epochs", 2, "--results-dir", tmp_path, *extra).output
    run_dir = tmp_path / out.strip().splitlines()[-1].split("/")[-1]
    assert (run_dir / "fit_history.csv").exists() and (run_dir / "fit_learning_curves.png").read_bytes().startswith(PNG)
    assert not (run_dir / "INCOMPLETE").exists()


def compare(results, *extra):
    out = run("compare", "--repeats", 3, "--epochs", 3, "--results-dir", results, *extra).output
    return out, results / out.strip().splitlines()[-1].split("/")[-1]


def test_compare_writes_every_artefact(trained):
    out, run_dir = compare(trained)
    assert "Standalone 0." in out and "Transfer (fixed=0) 0." in out and "Transfer (fixed=2) 0." in out
    scores = read_csv(run_dir / "scores.csv")
    assert len(scores) == 12
    assert list(scores[0]) == ["arm", "source_index", "repeat", "seed", "test_accuracy", "test_correct",
                               "train_accuracy", "final_loss", "test_loss", "diverged"]
    for row in scores:
        assert int(row["test_correct"]) == round(float(row["test_accuracy"]) * 500)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [a["arm"] for a in summary["arms"]] == ["standalone", "transfer fixed=0", "transfer fixed=1", "transfer fixed=2"]
    for arm in summary["arms"]:
        assert {"n", "mean", "std", "median", "min", "max"} <= set(arm) and arm["n"] == 3
        values = [float(r["test_accuracy"]) for r in scores if r["arm"] == arm["arm"]]
        assert arm["mean"] == pytest.approx(np.mean(values)) and arm["std"] == pytest.approx(np.std(values, ddof=1))
    assert "| arm |" in (run_dir / "summary.md").read_text()
    for png in ("boxplot.png", "forest.png", "curves.png"):
        assert (run_dir / png).read_bytes().startswith(PNG)
    assert "[study]" in (run_dir / "config.toml").read_text()
    meta = json.loads((run_dir / "metadata.json").read_text())
    assert meta["root_seed"] == 0 and len(meta["repeat_seeds"]["standalone"]) == 3
    assert {"tensorflow", "keras", "numpy"} <= set(meta["versions"]) and meta["wall_seconds"] > 0
    assert [r["seed"] for r in scores if r["arm"] == "standalone"] == [str(s) for s in meta["repeat_seeds"]["standalone"]]
    curve = read_csv(run_dir / "curves" / "test_accuracy.csv")
    assert len(curve) == 12 and "epoch_3" in curve[0]
    assert "<img" in (run_dir / "report.html").read_text()
    assert not (run_dir / "INCOMPLETE").exists()


def test_same_seed_same_scores(trained):
    _, a = compare(trained, "--seed", 5)
    _, b = compare(trained, "--seed", 5)
    _, c = compare(trained, "--seed", 6)
    assert a != b
    assert (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()
    assert (a / "scores.csv").read_bytes() != (c / "scores.csv").read_bytes()


def test_compare_without_source_model_says_how_to_make_one(tmp_path):
    result = run("compare", "--repeats", 2, "--epochs", 2, "--results-dir", tmp_path, ok=False)
    assert result.exit_code == 2
    assert "train-source" in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.glob("compare-*"))


def test_compare_can_train_the_missing_source(tmp_path):
    run("compare", "--repeats", 2, "--epochs", 2, "--results-dir", tmp_path, "--train-source")
    assert (tmp_path / "source" / "problem1.keras").exists()
    assert (tmp_path / "source" / "problem1_history.csv").exists()  # the same files as train-source writes


def test_report_rebuilds_summary_exactly(trained):
    _, run_dir = compare(trained)
    before = (run_dir / "summary.json").read_bytes()
    (run_dir / "summary.json").unlink()
    out = run("report", run_dir).output
    assert (run_dir / "summary.json").read_bytes() == before
    assert "Standalone" in out
