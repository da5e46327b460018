"""`export-mlflow` (blobs_transfer.export.mlflow) on one results folder: a compare run, a sweep, and an INCOMPLETE
one of each (the session's `runs_folder`, tests/conftest.py).

The runs are tiny (2 epochs, 2 source models) and made once a session; the MLflow store is a real SQLite
file, read back with MlflowClient. MLflow is imported in this process only (the exports run in CliRunner), and
one subprocess checks that the commands that do not export never import it.
"""

import csv
import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli
from blobs_transfer.export.mlflow import (
    DONE_TAG,
    INSTALL_HINT,
    SOURCE_TAG,
    VERDICT_NUMBER,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.*")  # MLflow's own use of SQLAlchemy


@pytest.fixture(scope="module")
def folder(runs_folder):
    return runs_folder


def run(*args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def store(folder):
    """Both finished directories exported once into a SQLite store; (uri, client, the exports' outputs)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{folder['tmp'] / 'store' / 'mlflow.db'}"
    (folder["tmp"] / "store").mkdir()
    outputs = {
        k: run("export-mlflow", folder[k], "--tracking-uri", uri, "--experiment", "study").output
        for k in ("compare", "sweep")
    }
    return uri, MlflowClient(tracking_uri=uri), outputs


def all_runs(client, name="study"):
    experiment = client.get_experiment_by_name(name)
    return client.search_runs([experiment.experiment_id])


def curve_means(run_dir, arm):
    with open(run_dir / "curves" / "test_accuracy.csv", newline="") as f:
        rows = [r for r in csv.reader(f)][1:]
    return np.array([[float(v) for v in r[3:]] for r in rows if r[0] == arm]).mean(axis=0)


@pytest.mark.slow
def test_compare_run_reads_back_with_params_metrics_steps_and_files(folder, store):
    uri, client, outputs = store
    assert outputs["compare"].splitlines()[1] == f"Open them with: mlflow ui --backend-store-uri {uri}"
    (mine,) = [r for r in all_runs(client) if r.data.tags["blobs_transfer.kind"] == "compare"]
    assert mine.info.run_name == folder["compare"].name and mine.info.status == "FINISHED"
    params = mine.data.params
    assert (params["study.repeats"], params["study.source_repeats"], params["training.epochs"]) == ("2", "2", "2")
    assert (params["arms.0.name"], params["arms.1.name"], params["arms.0.repeats"]) == (
        "standalone",
        "transfer fixed=1",
        "4",
    )
    assert (params["root_seed"], params["engine"], params["model.hidden_units"]) == ("0", "numba", "[5, 5]")
    summary = json.loads((folder["compare"] / "summary.json").read_text())
    metrics = mine.data.metrics
    base, arm = summary["arms"]
    assert metrics["standalone/mean"] == base["mean"] and metrics["standalone/mean_ci_low"] == base["ci_low"]
    assert metrics["transfer fixed_1/mean_ci_high"] == arm["ci_high"] and metrics["transfer fixed_1/n"] == 4
    (c,) = summary["comparisons"]
    for key in ("diff_mean", "diff_ci_low", "diff_ci_high", "a12", "a12_ci_low", "a12_ci_high"):
        assert metrics[f"transfer fixed_1/{key}"] == c[key], key
    assert metrics["transfer fixed_1/verdict"] == VERDICT_NUMBER[c["verdict"]]
    assert "standalone/verdict" not in metrics  # the baseline is not compared with itself
    for name, key in (("standalone", "standalone"), ("transfer fixed=1", "transfer fixed_1")):
        history = sorted(client.get_metric_history(mine.info.run_id, f"{key}/test_accuracy"), key=lambda m: m.step)
        assert [m.step for m in history] == [0, 1, 2]
        np.testing.assert_allclose([m.value for m in history], curve_means(folder["compare"], name), rtol=1e-12)
    files = {a.path for a in client.list_artifacts(mine.info.run_id)}
    assert {"scores.csv", "report.html", "summary.json", "config.toml", "metadata.json", "curves"} <= files
    assert {a.path for a in client.list_artifacts(mine.info.run_id, "curves")} >= {"curves/test_accuracy.csv"}


def test_sweep_reads_back_as_a_parent_with_a_child_per_cell(folder, store):
    _, client, outputs = store
    assert "a parent run and 2 cell runs" in outputs["sweep"]
    runs = all_runs(client)
    (parent,) = [r for r in runs if r.data.tags["blobs_transfer.kind"] == "sweep"]
    children = sorted(
        (r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id),
        key=lambda r: int(r.data.tags["blobs_transfer.cell"]),
    )
    assert parent.data.params["sweep.target.n_train"] == "[20, 50]" and parent.data.metrics["cells"] == 2
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {
        "cells.csv",
        "runs.csv",
        "report.html",
        "sweep.toml",
    }
    assert [c.info.run_name for c in children] == ["cell 0: target.n_train=20", "cell 1: target.n_train=50"]
    for child, (index, n_train) in zip(children, [("0000", "20"), ("0001", "50")]):
        assert child.data.params["sweep.target.n_train"] == child.data.params["target.n_train"] == n_train
        summary = json.loads((folder["sweep"] / "cells" / index / "summary.json").read_text())
        (c,) = summary["comparisons"]
        assert child.data.metrics["transfer fixed_1/a12"] == c["a12"]
        assert child.data.metrics["standalone/mean"] == summary["arms"][0]["mean"]
        assert {a.path for a in client.list_artifacts(child.info.run_id)} == {
            "cell.json",
            "config.toml",
            "runs.csv",
            "summary.json",
        }
    assert len(runs) == 1 + 1 + 2


def test_exporting_again_adds_nothing(folder, store):
    uri, client, _ = store
    before = {r.info.run_id: (r.data.params, r.data.metrics, r.data.tags) for r in all_runs(client)}
    for key in ("compare", "sweep"):
        out = run("export-mlflow", folder[key], "--tracking-uri", uri, "--experiment", "study").output
        assert "nothing added" in out.splitlines()[0]
    after = {r.info.run_id: (r.data.params, r.data.metrics, r.data.tags) for r in all_runs(client)}
    assert after == before


@pytest.mark.slow
def test_an_interrupted_export_is_replaced_not_duplicated(folder, store, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run("export-mlflow", folder["compare"], "--tracking-uri", uri)
    client = MlflowClient(tracking_uri=uri)
    (first,) = all_runs(client, "blobs-transfer")
    client.delete_tag(first.info.run_id, DONE_TAG)  # as if the export had stopped before its last step
    run("export-mlflow", folder["compare"], "--tracking-uri", uri)
    (second,) = all_runs(client, "blobs-transfer")
    assert second.info.run_id != first.info.run_id
    assert second.data.tags[DONE_TAG] == "yes" and second.data.tags[SOURCE_TAG] == first.data.tags[SOURCE_TAG]


@pytest.mark.slow
def test_default_store_is_sqlite_beside_the_results(folder, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copytree(folder["sweep"], results / folder["sweep"].name)
    out = run("export-mlflow", results / folder["sweep"].name).output
    uri = f"sqlite:///{results.resolve() / 'mlflow.db'}"
    assert out.splitlines()[1] == f"Open them with: mlflow ui --backend-store-uri {uri}"
    assert (results / "mlflow.db").is_file()
    assert (results / "mlartifacts").is_dir() and list((results / "mlartifacts").rglob("sweep.toml"))


@pytest.mark.parametrize("key", ["broken", "half"])
def test_an_incomplete_directory_is_refused_in_one_line(folder, key, tmp_path):
    out = run("export-mlflow", folder[key], "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}", code=2).output
    assert (
        out.startswith(f"Error: {folder[key]} is INCOMPLETE (still running, interrupted or failed)")
        and out.count("\n") == 1
    )
    assert not (tmp_path / "x.db").exists()


def test_without_the_extra_one_line_says_how_to_install_it(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what Python does when a package is not installed
    assert run("export-mlflow", folder["compare"], code=2).output == f"Error: {INSTALL_HINT}\n"


def test_only_export_mlflow_imports_mlflow(folder):
    code = textwrap.dedent(f"""
        import sys
        from click.testing import CliRunner
        from blobs_transfer import cli
        import blobs_transfer.export.mlflow
        import blobs_transfer.rundir.listing
        for args in (["runs", {str(folder["results"])!r}], ["export-mlflow", "--help"], ["check", "--help"]):
            assert CliRunner().invoke(cli.cli, args).exit_code == 0, args
        print(sorted(m for m in ("mlflow", "tensorflow") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
