"""`compare`, `fit` and `report` (blobs_transfer.api.comparison), through the command line with tiny epochs and
repeats: every artefact of a run, the same seed giving the same bytes with any engine, report rebuilding the
summary exactly (without TensorFlow), diverged runs counted and never scored, and the summary in memory equal
to the one written."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from blobs_transfer import api
from blobs_transfer.api import comparison
from blobs_transfer.api.comparison import PARTS, Stopwatch
from blobs_transfer.cli import common
from blobs_transfer.config import load_config
from tests.helpers import PNG, invoke, last_line_dir, read_csv, run


@pytest.fixture(scope="module")
def results(results_dir):
    """A results folder with a source model trained for 2 epochs (the session's)."""
    return results_dir


def config_file(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


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
    assert list(scores[0]) == [
        "arm",
        "source_index",
        "repeat",
        "seed",
        "test_accuracy",
        "test_correct",
        "train_accuracy",
        "final_loss",
        "test_loss",
        "diverged",
    ]
    for row in scores:
        assert int(row["test_correct"]) == round(float(row["test_accuracy"]) * 500)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [a["arm"] for a in summary["arms"]] == [
        "standalone",
        "transfer fixed=0",
        "transfer fixed=1",
        "transfer fixed=2",
    ]
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
    parts = meta["wall_parts"]  # the wall time split into parts that add up (up to rounding)
    assert list(parts) == [f"{name}_seconds" for name in PARTS] and min(parts.values()) >= 0
    assert sum(parts.values()) == pytest.approx(meta["wall_seconds"], abs=0.004)
    assert min(parts[f"{name}_seconds"] for name in ("training", "statistics", "figures", "files")) > 0
    assert meta["training_seconds"] == parts["training_seconds"]
    assert meta["statistics_and_files_seconds"] == pytest.approx(
        parts["statistics_seconds"] + parts["figures_seconds"] + parts["files_seconds"], abs=0.002
    )
    assert [r["seed"] for r in scores if r["arm"] == "standalone"] == [
        str(s) for s in meta["repeat_seeds"]["standalone"]
    ]
    curve = read_csv(run_dir / "curves" / "test_accuracy.csv")
    assert len(curve) == 12 and "epoch_3" in curve[0]
    assert "<img" in (run_dir / "report.html").read_text()
    assert not (run_dir / "INCOMPLETE").exists()


@pytest.mark.slow
def test_same_seed_same_scores(trained):
    _, a = compare(trained, "--seed", 5)
    _, b = compare(trained, "--seed", 5)
    _, c = compare(trained, "--seed", 6)
    assert a != b
    assert (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()
    assert (a / "scores.csv").read_bytes() != (c / "scores.csv").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("engine, repeats", [("numba", 2), ("tensorflow", 2), ("keras", 1)])
def test_same_seed_byte_identical_scores_with_either_engine(tmp_path, engine, repeats):
    """Keras runs one repeat per arm: each of its fits costs seconds, and the seeds of later repeats are drawn
    the same way for every engine (the other two cases check them)."""
    assert invoke("train-source", "--epochs", 2, "--results-dir", tmp_path).exit_code == 0
    runs = [
        last_line_dir(
            invoke(
                "compare",
                *("--repeats", repeats, "--epochs", 3, "--engine", engine, "--seed", 9, "--results-dir", tmp_path),
            ),
            tmp_path,
        )
        for _ in range(2)
    ]
    a, b = ((r / "scores.csv").read_bytes() for r in runs)
    assert a == b
    assert len(a.splitlines()) == 1 + 4 * repeats
    # each case runs the engine it names (were --engine lost, all three cases would test the default engine)
    assert {json.loads((r / "metadata.json").read_text())["engine"] for r in runs} == {engine}


@pytest.mark.slow
def test_report_rebuilds_summary_exactly(trained):
    _, run_dir = compare(trained)
    before = (run_dir / "summary.json").read_bytes()
    (run_dir / "summary.json").unlink()
    out = run("report", run_dir).output
    assert (run_dir / "summary.json").read_bytes() == before
    assert "Standalone" in out


@pytest.mark.slow
def test_report_reproduces_summary_without_tensorflow(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    original = (run / "summary.json").read_bytes()
    (run / "summary.json").unlink()
    code = (
        "import sys; from blobs_transfer.cli import cli\n"
        f"try:\n    cli(['report', {str(run)!r}])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'report imported TensorFlow'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run / "summary.json").read_bytes() == original


@pytest.mark.slow
def test_diverging_learning_rate_is_counted_not_scored(results, tmp_path):
    """lr = 1e6 blows runs up (those whose ReLUs do not all die first): the run finishes, says so, and
    shows no accuracy for them."""
    cfg = config_file(tmp_path, "[training]\nlearning_rate = 1e6\n")
    out_dir = tmp_path / "out"
    result = invoke(
        "compare",
        "--repeats",
        2,
        "--epochs",
        3,
        "--config",
        cfg,
        "--source",
        results / "source" / "problem1.keras",
        "--results-dir",
        out_dir,
    )
    assert result.exit_code == 0, result.output
    assert "runs diverged" in result.output
    run_dir = next(out_dir.glob("compare-*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    diverged = sum(a["n_diverged"] for a in summary["arms"])
    assert diverged >= 1
    assert all(a["n"] + a["n_diverged"] == 2 for a in summary["arms"])
    assert f"{diverged} runs diverged" in result.output
    scores = (run_dir / "scores.csv").read_text().splitlines()[1:]
    assert sum(line.split(",")[-1] == "1" for line in scores) == diverged  # the rows below are really checked
    for line in scores:
        fields = line.split(",")
        if fields[-1] == "1":
            assert fields[4] == "" and fields[5] == ""  # no accuracy for a diverged run
    assert "nan" not in (run_dir / "summary.json").read_text().lower()


@pytest.mark.slow
def test_summary_in_memory_equals_the_one_written(tmp_path):
    cfg = load_config(None, **{"study.repeats": 3, "training.epochs": 3, "study.source_repeats": 2})
    sources = api.source_models(cfg, tmp_path)
    result = api.run_comparison(cfg, sources)
    run_dir = api.write_run(cfg, result, tmp_path, sources=sources)
    in_memory = api.summarise(cfg, result)
    cfg2, scores, curves = api.load_run(run_dir)
    assert cfg2 == cfg
    assert result.records() == scores
    from blobs_transfer.stats.summary import summarise

    on_disk = summarise(cfg2, scores, curves["test_accuracy"])
    assert in_memory["arms"] == on_disk["arms"] and in_memory["comparisons"] == on_disk["comparisons"]


def test_stopwatch_counts_every_moment_to_the_part_named_last(monkeypatch):
    """A fake clock: the time before the stopwatch is start-up, each span goes to the part named before it, and
    the parts add up to the wall time."""
    now = [10.0]
    monkeypatch.setattr(comparison.time, "perf_counter", lambda: now[0])
    clock = Stopwatch(started=7.5)
    for name, seconds in (("training", 2.0), ("statistics", 0.25), ("training", 1.0), ("figures", 0.5)):
        clock.part(name)
        now[0] += seconds
    clock.part("files")
    now[0] += 0.125
    split = clock.split()
    assert split["wall_parts"] == {
        "startup_seconds": 2.5,
        "source_models_seconds": 0.0,
        "training_seconds": 3.0,
        "statistics_seconds": 0.25,
        "figures_seconds": 0.5,
        "files_seconds": 0.125,
    }
    assert split["wall_seconds"] == 6.375 and split["training_seconds"] == 3.0
    assert split["statistics_and_files_seconds"] == 0.875
    assert Stopwatch().split()["wall_parts"]["startup_seconds"] == 0.0  # a library call: no start-up


def test_process_age_reads_starttime_after_the_command_name():
    """Field 22 of /proc/PID/stat, counted after the last parenthesis (a command name may hold both)."""
    fields = " ".join(str(n) for n in range(3, 22))  # fields 3 to 21, then starttime (field 22) = 4200 ticks
    stat = f"1234 (odd) name (x)) {fields} 4200 99 98"
    assert common.process_age(stat, "50.25 100.0\n", 100) == pytest.approx(50.25 - 42.0)


def test_process_started_is_before_the_cli_was_imported():
    """The process's start from /proc: before this module imported the CLI, and not before the machine booted."""
    started = common.process_started()
    assert started <= common._IMPORTED
    if sys.platform == "linux":
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        assert started >= common._IMPORTED - uptime


def test_only_the_figures_the_report_shows_are_drawn(run_copy, monkeypatch):
    """A figure the report's sections leave out is not drawn (here train_test.png, dropped from the sections)."""
    sections = comparison.report.sections
    monkeypatch.setattr(comparison.report, "sections", lambda s: [b for b in sections(s) if b.body != "train_test.png"])
    (run_copy / "train_test.png").unlink()
    (run_copy / "curves.png").unlink()
    api.report_run(run_copy, require_complete=False)  # the manifest still lists train_test.png: not refreshed
    assert (run_copy / "curves.png").exists() and not (run_copy / "train_test.png").exists()
    assert "train_test.png" not in (run_copy / "report.html").read_text()
