"""The run directory survives kills, end to end: SIGKILL at several points of compare and sweep, then a re-run
or resume that gives byte-identical tables; SIGTERM leaves a compare run or a sweep INCOMPLETE, keeps earlier
runs and finished cells, and --resume finishes the sweep. Slow: each test starts the CLI in a new process."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blobs_transfer import api
from blobs_transfer.errors import ResultsError
from blobs_transfer.rundir.sweep_dir import DONE
from tests.helpers import SWEEP as SMALL
from tests.helpers import TINY, assert_same_tables, invoke, last_line_dir, one_error_line, snapshot, write

KILLER = """
import os, signal, sys, importlib
module, name, nth, after = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "after"
owner = importlib.import_module(module)
path = name.split(".")
for part in path[:-1]:
    owner = getattr(owner, part)
original = getattr(owner, path[-1])
calls = [0]
def killer(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth and not after:
        os.kill(os.getpid(), signal.SIGKILL)
    out = original(*args, **kwargs)
    if calls[0] == nth and after:
        os.kill(os.getpid(), signal.SIGKILL)
    return out
setattr(owner, path[-1], killer)
from blobs_transfer.cli import cli
cli(sys.argv[5:])
"""


def killed(where: tuple[str, str, int, str], *args) -> subprocess.CompletedProcess:
    """Run the CLI in a child that SIGKILLs itself at the nth call of module.name (before or after it)."""
    module, name, nth, when = where
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, module, name, str(nth), when, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr)
    return done


COMPARE_KILLS = {  # where, and a file the run has then and one it has not yet
    "during training": (
        ("blobs_transfer.cli.common", "ProgressBars.__call__", 2, "before"),
        "config.toml",
        "scores.csv",
    ),
    "during the statistics": (
        ("blobs_transfer.stats.summary", "summarise", 1, "before"),
        "curves/test_loss.csv",
        "summary.json",
    ),
    "while drawing the figures": (
        ("blobs_transfer.rundir.files", "save_figure", 2, "before"),
        "boxplot.png",
        "curves.png",
    ),
    "after the manifest, before marked complete": (
        ("blobs_transfer.rundir.files", "mark_complete", 1, "before"),
        "manifest.json",
        None,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(COMPARE_KILLS))
def test_compare_killed_then_rerun_gives_identical_tables(results_dir, tiny_run, tiny_baseline, point):
    where, has, has_not = COMPARE_KILLS[point]
    before = {p: snapshot(p) for p in results_dir.glob("compare-*")}
    killed(where, "compare", *TINY, "--results-dir", results_dir)
    (run,) = set(results_dir.glob("compare-*")) - set(before)
    assert (run / "INCOMPLETE").exists() and (run / has).exists() and not (has_not and (run / has_not).exists())
    assert {p: snapshot(p) for p in before} == before  # earlier runs untouched
    for args in (["report", run], ["check", run, "--baseline", tiny_baseline]):
        assert "incomplete run" in one_error_line(invoke(*args))
    with pytest.raises(ResultsError, match="incomplete"):
        api.verify_run(run)
    shutil.rmtree(run)
    again = invoke("compare", *TINY, "--results-dir", results_dir)
    rerun = Path(again.output.strip().splitlines()[-1])
    for name in ("scores.csv", *(f"curves/{k}.csv" for k in ("test_accuracy", "test_loss")), "summary.json"):
        assert (rerun / name).read_bytes() == (tiny_run / name).read_bytes(), name
    shutil.rmtree(rerun)


@pytest.mark.slow
def test_compare_killed_while_a_child_scores_its_source_models_leaves_it_incomplete(tmp_path):
    """With 3 source models a child scores them while compare trains (`transferability.scoring`): killed when it
    would write transferability.csv, the run is INCOMPLETE with its .keras files and no table (and `killed`
    returns only once the child, which holds the command's output too, has ended); a compare run again finishes
    with every file, sealed."""
    args = ["compare", *TINY, "--source-repeats", 3, "--results-dir", tmp_path]
    killed(("blobs_transfer.api.transferability", "write_scores_table", 1, "before"), *args)
    (run,) = tmp_path.glob("compare-*")
    assert (run / "INCOMPLETE").exists() and (run / "source_models" / "source_002.keras").exists()
    assert not (run / "transferability.csv").exists()
    assert "incomplete run" in one_error_line(invoke("report", run))
    again = Path(invoke(*args).output.strip().splitlines()[-1])
    assert not (again / "INCOMPLETE").exists() and (again / "transferability.csv").exists()
    assert api.verify_run(again)


SWEEP_KILLS = {  # where, and the cells finished then (cells/0001 of "while a cell is written" has its runs.csv)
    "during training": (("blobs_transfer.sweep.cells", "run_comparisons", 1, "before"), 0),
    "during a cell's statistics": (("blobs_transfer.sweep.cells", "analyse_cell", 2, "before"), 1),
    "while a cell is written": (("blobs_transfer.rundir.manifest", "write_manifest", 2, "before"), 1),
    "between cells": (("blobs_transfer.rundir.sweep_dir", "write_cell", 2, "after"), 2),
    "during the tables": (("blobs_transfer.rundir.files", "save_figure", 1, "before"), 4),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(SWEEP_KILLS))
def test_sweep_killed_then_resumed_gives_identical_tables(sweep_config, reference_sweep, tmp_path, point):
    where, done = SWEEP_KILLS[point]
    folder = tmp_path / "results"
    killed(where, "sweep", "--config", sweep_config, "--results-dir", folder)
    (sweep_dir,) = folder.glob("sweep-*")
    assert (sweep_dir / "INCOMPLETE").exists() and len(list(sweep_dir.glob(f"cells/*/{DONE}"))) == done
    if point == "while a cell is written":
        assert (sweep_dir / "cells" / "0001" / "runs.csv").exists()
    if point == "during the tables":
        assert (sweep_dir / "cells.csv").exists()
    with pytest.raises(ResultsError, match="unfinished sweep"):
        api.verify_run(sweep_dir)
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_dir)
    assert result.exit_code == 0, result.output
    assert "is damaged" not in result.output  # an interrupted cell is unfinished, never mistaken for done
    assert_same_tables(sweep_dir, reference_sweep)


@pytest.mark.slow
def test_sigterm_marks_run_incomplete_and_keeps_earlier_runs(default_study, tmp_path):
    """A compare killed mid-training leaves its own directory INCOMPLETE and earlier runs byte-identical."""
    folder = default_study.parent
    before = {p: p.read_bytes() for p in default_study.rglob("*") if p.is_file()}
    existing = set(folder.glob("compare-*"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "blobs_transfer",
            "compare",
            "--repeats",
            "300",
            "--epochs",
            "300",
            "--results-dir",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.time() + 120
    new = set()
    while time.time() < deadline and not new:
        time.sleep(0.2)
        new = set(folder.glob("compare-*")) - existing
    assert new, "compare never created its run directory"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "INCOMPLETE" in err.decode()
    (run,) = new
    assert (run / "INCOMPLETE").exists()
    assert {p: p.read_bytes() for p in default_study.rglob("*") if p.is_file()} == before
    assert not list(run.glob(".*.tmp-*"))  # no half-written files left under temporary names
    result = invoke("report", run)
    assert result.exit_code == 2 and "incomplete" in result.output


# 10 cells in 2 batches (by the target's rows): after the first cell is written, 9 more are analysed and written,
# so a SIGTERM sent when the first appears lands while the sweep runs (with 4 cells it found the sweep done)
LONGER = SMALL.format(epochs=3).replace("[0.0, 1.0]", "[0.0, 0.25, 0.5, 0.75, 1.0]")


@pytest.mark.slow
def test_interrupted_sweep_resumes_to_the_same_tables(tmp_path):
    """SIGTERM after the first cell finished: the sweep stops marked INCOMPLETE, keeps that cell, and
    `--resume` finishes it with tables byte-identical to the uninterrupted sweep's."""
    config = write(tmp_path, LONGER)
    results = tmp_path / "results"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # the sweep runs at the lowest priority, so that this process, polling for the first cell, is never the one
    # kept waiting for a core: the whole sweep takes a second, and a late SIGTERM would find every cell done
    proc = subprocess.Popen(
        [sys.executable, "-m", "blobs_transfer", "sweep", "--config", str(config), "--results-dir", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=lambda: os.nice(19),
    )
    deadline = time.time() + 180
    while time.time() < deadline and not list(results.glob("sweep-*/cells/0000/cell.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    (sweep_dir,) = results.glob("sweep-*")
    assert proc.returncode == 130, err
    assert (sweep_dir / "INCOMPLETE").exists() and not (sweep_dir / "runs.csv").exists()
    done_before = sorted(p.parent.name for p in sweep_dir.glob("cells/*/cell.json"))
    assert "0000" in done_before and len(done_before) < 10
    kept = (sweep_dir / "cells" / "0000" / "runs.csv").read_bytes()
    result = invoke("sweep", "--config", config, "--resume", sweep_dir)
    assert result.exit_code == 0, result.output
    assert "already done" in result.output
    assert (sweep_dir / "cells" / "0000" / "runs.csv").read_bytes() == kept  # not trained again
    reference = last_line_dir(invoke("sweep", "--config", config, "--results-dir", tmp_path / "ref"), tmp_path / "ref")
    for table in ("runs.csv", "cells.csv"):
        assert (sweep_dir / table).read_bytes() == (reference / table).read_bytes()
    assert not (sweep_dir / "INCOMPLETE").exists()
