"""The regression gate (blobs_transfer.api.gate: `check` and `baseline`) on the full gate study and on tiny runs:
the gate study (its pass at seed 0 is tests/render/test_gate.py's) catches an injected change and a doctored
run, its baseline reproduces from its run and explains its bands; a baseline records the settings that change
the numbers, and `check` refuses another study by name but compares the same study at another seed. The
TensorFlow engine's gate (results/baseline-tensorflow.json) fails on a doctored run. Other seeds are
calibration, not tests: benchmarks/calibrate_gate.py (its tables in docs/gate.md).

The gate study at seed 0 is the session's `gate_study` (docs/ci/gate.sh, tests/conftest.py), on each engine: it
runs once."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from blobs_transfer import api
from blobs_transfer.config import config_to_dict, load_config
from blobs_transfer.errors import OtherStudyError
from blobs_transfer.rundir import run as rundir_run
from blobs_transfer.stats import gate
from tests.helpers import BASELINE, ROOT, TINY, invoke, last_line_dir, one_error_line

GATE_CONFIG = ROOT / "configs" / "gate.toml"
TF_BASELINE = ROOT / "results" / "baseline-tensorflow.json"


def doctor(run, tmp_path, arm, rows):
    """A copy of a finished run with `rows` fewer correct test rows in every run of `arm`, sealed as if the run
    itself had made these numbers (an edit after the run is refused by its manifest before any band)."""
    doctored = tmp_path / "doctored"
    shutil.copytree(run, doctored)
    path = doctored / "scores.csv"
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    for row in records:
        if row["arm"] == arm:
            row["test_correct"] = str(int(row["test_correct"]) - rows)
            row["test_accuracy"] = f"{int(row['test_correct']) / 500:.3f}"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return doctored


@pytest.fixture(scope="module")
def gate_runs(gate_study, tmp_path_factory):
    """The gate study (configs/gate.toml) at the baseline's seed 0 (the session's one run, made by
    docs/ci/gate.sh) and with epochs halved. Other seeds are calibration: benchmarks/calibrate_gate.py runs 20 on
    each engine, its tables in docs/gate.md."""
    folder = tmp_path_factory.mktemp("gate")
    runs = {"seed 0": gate_study["reference"]}
    for name, extra in (("epochs halved", ["--seed", 3, "--epochs", 50]),):
        runs[name] = last_line_dir(invoke("compare", "--config", GATE_CONFIG, "--results-dir", folder, *extra), folder)
    return runs


@pytest.mark.slow
def test_gate_catches_an_injected_change(gate_runs):
    """Halved epochs make another study: `check` refuses it by name; compared anyway, the bands catch it."""
    result = invoke("check", gate_runs["epochs halved"], "--baseline", BASELINE)
    assert (
        result.exit_code == 2
        and "another study" in result.output
        and "training.epochs 50 (baseline 100)" in result.output
    )
    rows = api.check(gate_runs["epochs halved"], BASELINE, require_same_study=False)
    assert any(not r["ok"] for r in rows)


@pytest.mark.slow
def test_baseline_reproduces_from_its_run(gate_runs, tmp_path):
    out = tmp_path / "baseline.json"
    assert invoke("baseline", gate_runs["seed 0"], "--out", out).exit_code == 0
    ours, committed = json.loads(out.read_text()), json.loads(BASELINE.read_text())
    assert ours["arms"] == committed["arms"]  # the committed bands are what this code makes from seed 0


@pytest.mark.slow
def test_doctored_run_fails_the_gate_naming_arm_and_statistic(gate_runs, tmp_path):
    doctored = doctor(gate_runs["seed 0"], tmp_path, "standalone", 5)  # a shift of 0.010 of every standalone run
    result = invoke("check", doctored, "--baseline", BASELINE)  # an edit after the run: its manifest catches it
    assert result.exit_code == 2 and "scores.csv" in result.output and "manifest" in result.output
    rundir_run.seal_run(doctored, load_config(doctored / "config.toml"))  # as if the run itself had made these numbers
    result = invoke("check", doctored, "--baseline", BASELINE)
    assert result.exit_code == 1
    failed = result.output.split("FAILED")[-1]
    assert "standalone median" in failed and "MOVED" in result.output
    # the transfer arms' own statistics did not move; their findings against standalone may (it moved)
    assert not any(f"transfer fixed={k} {s}" in failed for k in range(3) for s in ("mean,", "median", "std"))


def test_baseline_file_explains_its_bands():
    baseline = json.loads(BASELINE.read_text())
    assert "SE" in baseline["about"] and "two-stage" in baseline["about"]
    assert set(baseline["arms"]) == {a.name for a in load_config(GATE_CONFIG).arms}
    for name, arm in baseline["arms"].items():
        for stat in ("mean", "median", "std"):
            assert arm[stat]["tolerance"] >= 0.004 and arm[stat]["why"]
            assert ("two-stage" in arm[stat]["why"]) == name.startswith("transfer")
    assert set(baseline["findings"]) == {a.name for a in load_config(GATE_CONFIG).arms} - {"standalone"}
    for finding in baseline["findings"].values():
        assert finding["against"] == "standalone" and finding["verdict"] in ("better", "worse", "no evidence")
        for key in ("diff_mean", "a12"):
            assert (
                finding[key]["tolerance"] >= 0.004
                and "two-stage bootstrap over 200 source models" in finding[key]["why"]
            )


@pytest.mark.parametrize("engine, path", [("numba", BASELINE), ("tensorflow", TF_BASELINE)])
def test_each_committed_baseline_is_of_the_gate_study_on_its_engine(engine, path):
    baseline = json.loads(path.read_text())
    assert baseline["run"]["engine"] == engine and baseline["run"]["seed"] == 0
    # exactly the gate study's settings: a baseline left behind by a change of configs/gate.toml fails here
    assert baseline["study"] == gate.study_settings(config_to_dict(load_config(GATE_CONFIG)))


def test_baseline_records_the_settings_that_change_the_numbers(tiny_baseline):
    recorded = json.loads(tiny_baseline.read_text())["study"]
    assert recorded["training.epochs"] == 3 and recorded["study.repeats"] == 2
    assert recorded["arms[1].name"] == "transfer fixed=0" and recorded["arms[1].fixed"] == 0
    assert "study.seed" not in recorded and "study.engine" not in recorded  # other draws, same study


@pytest.mark.slow
def test_check_of_another_study_is_exit_2_naming_the_keys(results_dir, tiny_baseline):
    other = invoke("compare", "--repeats", 3, "--epochs", 2, "--seed", 5, "--results-dir", results_dir)
    run = Path(other.output.strip().splitlines()[-1])
    line = one_error_line(invoke("check", run, "--baseline", tiny_baseline))
    assert (
        "another study" in line and "training.epochs 2 (baseline 3)" in line and "study.repeats 3 (baseline 2)" in line
    )
    with pytest.raises(OtherStudyError):
        api.check(run, tiny_baseline)
    rows = api.check(run, tiny_baseline, require_same_study=False)  # what calibrate_gate.py measures
    assert any(r["statistic"] == "n" and not r["ok"] for r in rows)


@pytest.mark.slow
def test_check_of_the_same_study_at_another_seed_is_compared(results_dir, tiny_run, tiny_baseline):
    result = invoke("compare", *TINY[:-1], 6, "--results-dir", results_dir)
    run = Path(result.output.strip().splitlines()[-1])
    assert (run / "scores.csv").read_bytes() != (tiny_run / "scores.csv").read_bytes()  # another draw indeed
    result = invoke("check", run, "--baseline", tiny_baseline)
    assert result.exit_code in (0, 1) and "another study" not in result.output, result.output
    assert "OK: all" in result.output or "FAILED: " in result.output, result.output  # compared, statistic by statistic


def test_check_against_a_baseline_without_its_study_compares_its_run_table(tmp_path):
    """The issue's case: an ordinary one-source run against the committed gate baseline (as written before
    baselines recorded their study, and the run before manifests) was '16 of 20 checks moved'; it is the
    wrong api."""
    run = tmp_path / "example"
    shutil.copytree(ROOT / "results" / "example", run)
    (run / "manifest.json").unlink()
    baseline = json.loads((ROOT / "results" / "baseline.json").read_text())
    del baseline["study"]
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    result = invoke("check", run, "--baseline", tmp_path / "baseline.json")
    line = one_error_line(result)
    assert "study.source_repeats 1 (baseline 200)" in line and "study.repeats 30 (baseline 1)" in line
    assert sum(line.startswith("Warning:") for line in result.output.splitlines()) == 2  # no manifest; partial study


# --- the TensorFlow engine's gate --------------------------------------------------------------------------


@pytest.mark.slow
def test_tensorflow_gate_fails_on_a_doctored_run(gate_study, tmp_path):
    """The session's TensorFlow-engine run at seed 0 passes; a copy with transfer fixed=1 lowered by 10 test
    rows in every run (0.02) fails, naming that arm's P against standalone and no other arm."""
    assert invoke("check", gate_study["tensorflow"], "--baseline", TF_BASELINE).exit_code == 0
    doctored = doctor(gate_study["tensorflow"], tmp_path, "transfer fixed=1", 10)
    rundir_run.seal_run(doctored, load_config(doctored / "config.toml"))
    result = invoke("check", doctored, "--baseline", TF_BASELINE)
    assert result.exit_code == 1, result.output
    failed = result.output.split("FAILED")[-1]
    assert "transfer fixed=1 P(> standalone)" in failed
    assert not any(f"{arm} " in failed for arm in ("standalone", "transfer fixed=0", "transfer fixed=2"))
