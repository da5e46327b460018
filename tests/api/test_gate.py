"""Trust: the regression gate on the full default study, exact repeatability, interrupted runs,
report without TensorFlow, and config loading under arbitrary TOML (property-based)."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobs_transfer import api as study
from blobs_transfer.cli import cli
from blobs_transfer.config import ConfigError, load_config, to_toml
from blobs_transfer.rundir import run as rundir_run

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "results" / "baseline.json"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def last_line_dir(result, folder):
    assert result.exit_code == 0, result.output
    return folder / result.output.strip().splitlines()[-1].split("/")[-1]


@pytest.fixture(scope="module")
def default_study(tmp_path_factory):
    """The full default study, exactly as the README runs it: train-source, then compare (30 repeats)."""
    folder = tmp_path_factory.mktemp("study")
    assert invoke("train-source", "--results-dir", folder).exit_code == 0
    return last_line_dir(invoke("compare", "--results-dir", folder), folder)


GATE_CONFIG = ROOT / "configs" / "gate.toml"


@pytest.fixture(scope="module")
def gate_runs(tmp_path_factory):
    """The gate study (configs/gate.toml) at the baseline's seed 0, at two other seeds, and with epochs halved."""
    folder = tmp_path_factory.mktemp("gate")
    runs = {}
    for name, extra in (("seed 0", []), ("seed 1", ["--seed", 1]), ("seed 2", ["--seed", 2]),
                        ("epochs halved", ["--seed", 3, "--epochs", 50])):
        runs[name] = last_line_dir(invoke("compare", "--config", GATE_CONFIG, "--results-dir", folder, *extra), folder)
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["seed 0", "seed 1", "seed 2"])
def test_gate_study_passes_at_its_own_and_other_seeds(gate_runs, name):
    result = invoke("check", gate_runs[name], "--baseline", BASELINE)
    assert result.exit_code == 0, result.output
    assert "OK: all" in result.output and "MOVED" not in result.output


@pytest.mark.slow
def test_gate_catches_an_injected_change(gate_runs):
    """Halved epochs make another study: `check` refuses it by name; compared anyway, the bands catch it."""
    result = invoke("check", gate_runs["epochs halved"], "--baseline", BASELINE)
    assert result.exit_code == 2 and "another study" in result.output and "training.epochs 50 (baseline 100)" in result.output
    rows = study.check(gate_runs["epochs halved"], BASELINE, require_same_study=False)
    assert any(not r["ok"] for r in rows)


@pytest.mark.slow
def test_baseline_reproduces_from_its_run(gate_runs, tmp_path):
    out = tmp_path / "baseline.json"
    assert invoke("baseline", gate_runs["seed 0"], "--out", out).exit_code == 0
    ours, committed = json.loads(out.read_text()), json.loads(BASELINE.read_text())
    assert ours["arms"] == committed["arms"]  # the committed bands are what this code makes from seed 0


@pytest.mark.slow
def test_doctored_run_fails_the_gate_naming_arm_and_statistic(gate_runs, tmp_path):
    doctored = tmp_path / "doctored"
    shutil.copytree(gate_runs["seed 0"], doctored)
    path = doctored / "scores.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:  # five fewer correct test rows in every standalone run: a shift of 0.010
        if row["arm"] == "standalone":
            row["test_correct"] = str(int(row["test_correct"]) - 5)
            row["test_accuracy"] = f"{int(row['test_correct']) / 500:.3f}"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    result = invoke("check", doctored, "--baseline", BASELINE)  # an edit after the run: its manifest catches it
    assert result.exit_code == 2 and "scores.csv" in result.output and "manifest" in result.output
    rundir_run.seal_run(doctored, load_config(doctored / "config.toml"))  # as if the run itself had made these numbers
    result = invoke("check", doctored, "--baseline", BASELINE)
    assert result.exit_code == 1
    assert "standalone median" in result.output and "MOVED" in result.output
    assert "transfer fixed=1" not in result.output.split("FAILED")[-1]


def test_baseline_file_explains_its_bands():
    baseline = json.loads(BASELINE.read_text())
    assert "SE" in baseline["about"] and "two-stage" in baseline["about"]
    assert set(baseline["arms"]) == {a.name for a in load_config(GATE_CONFIG).arms}
    for name, arm in baseline["arms"].items():
        for stat in ("mean", "median", "std"):
            assert arm[stat]["tolerance"] >= 0.004 and arm[stat]["why"]
            assert ("two-stage" in arm[stat]["why"]) == name.startswith("transfer")


@pytest.mark.parametrize("engine", ["numba", "tensorflow", "keras"])
def test_same_seed_byte_identical_scores_with_either_engine(tmp_path, engine):
    assert invoke("train-source", "--epochs", 2, "--results-dir", tmp_path).exit_code == 0
    runs = [last_line_dir(invoke("compare", "--repeats", 2, "--epochs", 3, "--engine", engine, "--seed", 9,
                                 "--results-dir", tmp_path), tmp_path) for _ in range(2)]
    a, b = ((r / "scores.csv").read_bytes() for r in runs)
    assert a == b
    assert len(a.splitlines()) == 9


def test_report_reproduces_summary_without_tensorflow(default_study, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(default_study, run)
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


def test_report_and_check_refuse_incomplete_run(default_study, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(default_study, run)
    (run / "INCOMPLETE").write_text("")
    for args in (["report", run], ["check", run, "--baseline", BASELINE]):
        result = invoke(*args)
        assert result.exit_code == 2 and "incomplete" in result.output


@pytest.mark.slow
def test_sigterm_marks_run_incomplete_and_keeps_earlier_runs(default_study, tmp_path):
    """A compare killed mid-training leaves its own directory INCOMPLETE and earlier runs byte-identical."""
    folder = default_study.parent
    before = {p: p.read_bytes() for p in default_study.rglob("*") if p.is_file()}
    existing = set(folder.glob("compare-*"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "blobs_transfer", "compare", "--repeats", "300", "--epochs", "300",
                             "--results-dir", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
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


# --- config loading under arbitrary TOML ----------------------------------------------------------

scalars = st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=8), st.lists(st.integers(-3, 12), max_size=4))
keys = st.sampled_from(["seeds", "n_samples", "centers", "n_features", "cluster_std", "n_train", "hidden_units",
                        "hidden_initializer", "learning_rate", "batch_size", "epochs", "repeats", "seed", "baseline",
                        "engine", "source_problem", "target_problem", "source_repeats", "bogus"])
sections = st.dictionaries(keys, scalars, max_size=4)
arm_tables = st.lists(st.dictionaries(st.sampled_from(["name", "weights", "copy", "fixed", "add_hidden",
                                                       "source_problem", "colour"]),
                                      st.one_of(st.integers(-2, 5), st.sampled_from(["fresh", "source", "x", ""])),
                                      max_size=5), max_size=3)
documents = st.fixed_dictionaries({}, optional={
    "problems": sections, "model": sections, "training": sections, "study": sections, "arms": arm_tables,
    "extra": sections,
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_any_toml_loads_or_fails_with_one_line(doc, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(doc))
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    resolved = tmp_path / "resolved.toml"  # what a run records must load back to the same config
    resolved.write_text(to_toml(cfg))
    assert load_config(resolved) == cfg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_arbitrary_text_never_crashes_the_loader(text, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)
