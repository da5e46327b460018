"""Nothing lost in silence: manifests, damage caught by report/check/resume, check's study guard, the sweep
writer lock, and SIGKILL at several points of compare and sweep followed by a re-run or resume that gives
byte-identical tables. Tiny sizes throughout (2 repeats, 3 epochs)."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from blobs_transfer.rundir import manifest as integrity

from blobs_transfer import api as study
from blobs_transfer.rundir import run as rundir_run
from blobs_transfer.cli import cli
from blobs_transfer.errors import DamagedRunError, OtherStudyError, ResultsError
from blobs_transfer.rundir.sweep_dir import CELL_DATA, DONE

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--repeats", 2, "--epochs", 3, "--seed", 5]
SWEEP = """
[study]
source_repeats = 2
repeats = 2
[training]
epochs = 3
[sweep]
"target.n_train" = [20, 100]
"target.similarity_t" = [0.0, 1.0]
"""
RUN_DATA = list(rundir_run.RUN_DATA)
TABLES = ("runs.csv", "cells.csv")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if not line.startswith("Warning:")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def damage(path: Path, how: str) -> None:
    """Cut the file to two thirds of its size, change one byte in the middle, or delete it."""
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif how == "one byte changed":
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
    else:
        path.unlink()


PROBLEM = {"truncated": "cut short", "one byte changed": "changed in place", "missing": "is missing"}


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    assert invoke("train-source", "--epochs", 2, "--results-dir", folder).exit_code == 0
    return folder


@pytest.fixture(scope="module")
def tiny_run(results_dir):
    result = invoke("compare", *TINY, "--results-dir", results_dir)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tiny_baseline(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline") / "baseline.json"
    assert invoke("baseline", tiny_run, "--out", out).exit_code == 0
    return out


@pytest.fixture()
def run_copy(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    return run


# --- the manifest -------------------------------------------------------------------------------


def test_manifest_lists_every_file_with_its_hash_and_the_planned_counts(tiny_run):
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    files = {str(p.relative_to(tiny_run)) for p in tiny_run.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == files
    assert [k for k, v in manifest["files"].items() if v["role"] == "data"] == RUN_DATA
    for name, entry in manifest["files"].items():
        data = (tiny_run / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    # standalone and three transfer arms, 2 repeats each (one saved source model)
    assert manifest["plan"] == {"runs": 8, "runs_per_arm": {"standalone": 2, "transfer fixed=0": 2,
                                                           "transfer fixed=1": 2, "transfer fixed=2": 2}}
    assert study.verify_run(tiny_run, derived=True) == manifest


def test_report_of_an_intact_run_keeps_it_verified(run_copy):
    before = snapshot(run_copy)
    result = invoke("report", run_copy)
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
    assert snapshot(run_copy) == before  # rebuilt byte for byte, manifest included


# --- damage after the run was written --------------------------------------------------------------


@pytest.mark.parametrize("how", list(PROBLEM))
@pytest.mark.parametrize("name", RUN_DATA)
def test_every_damaged_data_file_is_one_line_from_report_and_check(run_copy, tiny_baseline, name, how):
    damage(run_copy / name, how)
    before = snapshot(run_copy)
    for args in (["report", run_copy], ["check", run_copy, "--baseline", tiny_baseline]):
        line = one_error_line(invoke(*args))
        assert str(run_copy / name) in line and PROBLEM[how] in line, line
    assert snapshot(run_copy) == before  # refused before anything was rewritten
    with pytest.raises(DamagedRunError, match=PROBLEM[how]):
        study.verify_run(run_copy)


def test_verify_command_names_a_damaged_file_and_passes_an_intact_run(run_copy):
    result = invoke("verify", run_copy)
    assert result.exit_code == 0 and f"OK: {run_copy}: {len(RUN_DATA) + 6} files match its manifest" in result.output
    damage(run_copy / "forest.png", "truncated")
    assert "forest.png is" in one_error_line(invoke("verify", run_copy))
    assert invoke("verify", run_copy, "--data-only").exit_code == 0


def test_damaged_summary_is_named_for_an_exporter_and_rebuilt_by_report(run_copy):
    original = (run_copy / "summary.json").read_bytes()
    damage(run_copy / "summary.json", "one byte changed")
    study.verify_run(run_copy)  # report and check need only the data files
    with pytest.raises(DamagedRunError, match=r"summary.json differs .* `blobs-transfer report` rebuilds it"):
        study.verify_run(run_copy, derived=True)
    assert invoke("report", run_copy).exit_code == 0
    assert (run_copy / "summary.json").read_bytes() == original
    study.verify_run(run_copy, derived=True)


@pytest.mark.parametrize("how", ["truncated", "one byte changed"])
def test_damaged_manifest_is_named_as_such(run_copy, how):
    damage(run_copy / "manifest.json", how)
    line = one_error_line(invoke("report", run_copy))
    assert "manifest.json is damaged" in line


def test_an_unfinished_run_is_incomplete_not_damaged(run_copy):
    (run_copy / "INCOMPLETE").write_text("")
    assert "incomplete run" in one_error_line(invoke("report", run_copy))


# --- runs written before manifests ---------------------------------------------------------------


def test_committed_run_verifies_and_a_pre_manifest_run_is_read_with_one_warning_line(tmp_path):
    run = tmp_path / "example"
    shutil.copytree(ROOT / "results" / "example", run)
    assert study.verify_run(run, derived=True)["files"]  # the committed example is sealed, every file intact
    (run / "manifest.json").unlink()  # as a run written before manifests
    result = invoke("report", run)
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert len(warning) == 1 and "no manifest" in warning[0]
    with pytest.warns(integrity.UnverifiedRunWarning):
        assert study.verify_run(run) is None


def test_pre_manifest_run_with_rows_lost_is_refused_by_its_plan(run_copy, tiny_baseline):
    """The issue's case: scores.csv lost its last rows and report rebuilt the summary from what was left."""
    (run_copy / "manifest.json").unlink()
    lines = (run_copy / "scores.csv").read_text().splitlines(keepends=True)
    (run_copy / "scores.csv").write_text("".join(lines[:-3]))
    for args in (["report", run_copy], ["check", run_copy, "--baseline", tiny_baseline]):
        line = one_error_line(invoke(*args))
        assert "scores.csv has 5 runs where the plan has 8" in line and "transfer fixed=2 0 of 2" in line, line
    text = "".join(lines)  # a row cut in the middle keeps the count right: its missing fields are caught
    (run_copy / "scores.csv").write_text(text[: text.rindex(",", 0, len(text) - 20)] + "\n")
    assert "is not a whole row" in one_error_line(invoke("report", run_copy))


# --- check knows the study it guards ---------------------------------------------------------------


def test_baseline_records_the_settings_that_change_the_numbers(tiny_baseline):
    recorded = json.loads(tiny_baseline.read_text())["study"]
    assert recorded["training.epochs"] == 3 and recorded["study.repeats"] == 2
    assert recorded["arms[1].name"] == "transfer fixed=0" and recorded["arms[1].fixed"] == 0
    assert "study.seed" not in recorded and "study.engine" not in recorded  # other draws, same study


def test_check_of_another_study_is_exit_2_naming_the_keys(results_dir, tiny_baseline):
    other = invoke("compare", "--repeats", 3, "--epochs", 2, "--seed", 5, "--results-dir", results_dir)
    run = Path(other.output.strip().splitlines()[-1])
    line = one_error_line(invoke("check", run, "--baseline", tiny_baseline))
    assert "another study" in line and "training.epochs 2 (baseline 3)" in line and "study.repeats 3 (baseline 2)" in line
    with pytest.raises(OtherStudyError):
        study.check(run, tiny_baseline)
    rows = study.check(run, tiny_baseline, require_same_study=False)  # what calibrate_gate.py measures
    assert any(r["statistic"] == "n" and not r["ok"] for r in rows)


def test_check_of_the_same_study_at_another_seed_is_compared(results_dir, tiny_baseline):
    result = invoke("compare", *TINY[:-1], 6, "--results-dir", results_dir)
    run = Path(result.output.strip().splitlines()[-1])
    result = invoke("check", run, "--baseline", tiny_baseline)
    assert result.exit_code in (0, 1) and "another study" not in result.output, result.output


def test_check_against_a_baseline_without_its_study_compares_its_run_table(tmp_path):
    """The issue's case: an ordinary one-source run against the committed gate baseline (as written before
    baselines recorded their study, and the run before manifests) was '16 of 20 checks moved'; it is the
    wrong study."""
    run = tmp_path / "example"
    shutil.copytree(ROOT / "results" / "example", run)
    (run / "manifest.json").unlink()
    baseline = json.loads((ROOT / "results" / "baseline.json").read_text())
    del baseline["study"]
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    result = invoke("check", run, "--baseline", tmp_path / "baseline.json")
    line = one_error_line(result)
    assert "study.source_repeats 1 (baseline 40)" in line and "study.repeats 30 (baseline 5)" in line
    assert sum(line.startswith("Warning:") for line in result.output.splitlines()) == 2  # no manifest; partial study


# --- sweeps --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweepconfig") / "sweep.toml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def reference_sweep(sweep_config, tmp_path_factory):
    result = invoke("sweep", "--config", sweep_config, "--results-dir", tmp_path_factory.mktemp("sweep"))
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


@pytest.fixture()
def sweep_copy(reference_sweep, tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(reference_sweep, folder)
    return folder


def assert_same_tables(sweep_dir, reference):
    for table in TABLES:
        assert (sweep_dir / table).read_bytes() == (reference / table).read_bytes(), table
    assert not (sweep_dir / "INCOMPLETE").exists()
    study.verify_run(sweep_dir, derived=True)


def test_verify_command_checks_a_sweep_and_its_cells(sweep_copy):
    assert "11 files match its manifest, and each of its 4 cells matches its own" in invoke("verify", sweep_copy).output
    damage(sweep_copy / "cells" / "0003" / "runs.csv", "one byte changed")
    assert "cells/0003/runs.csv differs from the manifest" in one_error_line(invoke("verify", sweep_copy))


def test_every_cell_has_a_manifest_with_its_planned_networks(reference_sweep):
    for k in range(4):
        manifest = json.loads((reference_sweep / "cells" / f"{k:04d}" / DONE).read_text())
        assert manifest["index"] == k and list(manifest["files"]) == list(CELL_DATA)
        assert manifest["plan"]["networks"] == manifest["networks"] == 2 + 3 * 2 * 2
    assert json.loads((reference_sweep / "manifest.json").read_text())["plan"] == {"cells": 4, "networks": 56}


@pytest.mark.parametrize("how", list(PROBLEM))
@pytest.mark.parametrize("name", [*(f"cells/0002/{n}" for n in CELL_DATA), "runs.csv", "cells.csv", "sweep.toml"])
def test_every_damaged_sweep_file_is_named_by_verify(sweep_copy, name, how):
    damage(sweep_copy / name, how)
    with pytest.raises(DamagedRunError, match=PROBLEM[how]) as caught:
        study.verify_run(sweep_copy)
    assert str(sweep_copy / name) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("how", list(PROBLEM))
def test_a_damaged_cell_marker_is_named_by_verify(sweep_copy, how):
    damage(sweep_copy / "cells" / "0001" / DONE, how)
    with pytest.raises(DamagedRunError, match="cells/0001/cell.json (is damaged|is missing)"):
        study.verify_run(sweep_copy)


@pytest.mark.parametrize("name, how", [("runs.csv", "truncated"), ("summary.json", "one byte changed"),
                                       ("config.toml", "missing")])
def test_resume_trains_a_damaged_cell_again_and_ends_identical(sweep_copy, reference_sweep, sweep_config, name, how):
    """The issue's case: cells/0002/runs.csv cut short was counted as done and its rows were lost."""
    damage(sweep_copy / "cells" / "0002" / name, how)
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_copy)
    assert result.exit_code == 0, result.output
    assert f"Cell 2 (target.n_train=100, target.similarity_t=0.0) is damaged, training it again: {sweep_copy}/cells/0002/{name}" in result.output
    assert "3 of 4 cells already done" in result.output
    assert_same_tables(sweep_copy, reference_sweep)


def test_resume_of_pre_manifest_cells_warns_and_retrains_one_with_rows_lost(sweep_copy, reference_sweep, sweep_config):
    for k in range(4):  # cells as written before manifests: a done marker without a file table
        marker = sweep_copy / "cells" / f"{k:04d}" / DONE
        old = json.loads(marker.read_text())
        marker.write_text(json.dumps({key: old[key] for key in ("index", "values", "networks")}))
    runs = sweep_copy / "cells" / "0001" / "runs.csv"
    runs.write_text("".join(runs.read_text().splitlines(keepends=True)[:-4]))
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_copy)
    assert result.exit_code == 0, result.output
    assert "Cell 1 (target.n_train=20, target.similarity_t=1.0) is damaged" in result.output
    assert "10 runs where the plan has 14" in result.output
    assert "Warning: 3 finished cells were written before cells verified themselves" in result.output
    with pytest.warns(integrity.UnverifiedRunWarning, match="3 cells without a manifest"):
        assert_same_tables(sweep_copy, reference_sweep)


HOLD_LOCK = """
import sys, time
from blobs_transfer.rundir.manifest import writer_lock
with writer_lock(sys.argv[1], "sweep"):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_one_writer_per_sweep_folder_and_a_killed_writer_does_not_block(sweep_copy, reference_sweep, sweep_config):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(sweep_copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_error_line(invoke("sweep", "--config", sweep_config, "--resume", sweep_copy))
        assert f"is in use by process {holder.pid} on " in line and "one sweep writer at a time" in line
        with pytest.raises(ResultsError, match="in use"), integrity.writer_lock(sweep_copy):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert (sweep_copy / integrity.LOCK).exists()  # left behind by the killed holder, and no obstacle
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_copy)
    assert result.exit_code == 0, result.output
    assert not (sweep_copy / integrity.LOCK).exists()
    assert_same_tables(sweep_copy, reference_sweep)


# --- SIGKILL at several points, then a re-run or resume --------------------------------------------

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
from blobs_transfer.rundir import run as rundir_run
cli(sys.argv[5:])
"""


def killed(where: tuple[str, str, int, str], *args) -> subprocess.CompletedProcess:
    """Run the CLI in a child that SIGKILLs itself at the nth call of module.name (before or after it)."""
    module, name, nth, when = where
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", KILLER, module, name, str(nth), when, *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr)
    return done


COMPARE_KILLS = {  # where, and a file the run has then and one it has not yet
    "during training": (("blobs_transfer.cli", "ProgressBars.__call__", 2, "before"), "config.toml", "scores.csv"),
    "during the statistics": (("blobs_transfer.stats.summary", "summarise", 1, "before"), "curves/test_loss.csv", "summary.json"),
    "while drawing the figures": (("blobs_transfer.rundir.files", "save_figure", 2, "before"), "boxplot.png", "curves.png"),
    "after the manifest, before marked complete": (("blobs_transfer.rundir.files", "mark_complete", 1, "before"),
                                                   "manifest.json", None),
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
        study.verify_run(run)
    shutil.rmtree(run)
    again = invoke("compare", *TINY, "--results-dir", results_dir)
    rerun = Path(again.output.strip().splitlines()[-1])
    for name in ("scores.csv", *(f"curves/{k}.csv" for k in ("test_accuracy", "test_loss")), "summary.json"):
        assert (rerun / name).read_bytes() == (tiny_run / name).read_bytes(), name
    shutil.rmtree(rerun)


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
        study.verify_run(sweep_dir)
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_dir)
    assert result.exit_code == 0, result.output
    assert "is damaged" not in result.output  # an interrupted cell is unfinished, never mistaken for done
    assert_same_tables(sweep_dir, reference_sweep)
