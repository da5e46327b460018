"""Which source model will transfer (blobs_transfer.api.transferability): a compare run with K >= 2 source models
writes transferability.csv and every source model as .keras, its summary and report say how well each score
ranked them, and `rank-sources` scores saved models before any target training, without TensorFlow."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from blobs_transfer import api
from blobs_transfer.api import transferability
from blobs_transfer.config import load_config
from blobs_transfer.errors import DamagedRunError
from blobs_transfer.model.forward import mlp_outputs
from blobs_transfer.model.keras_file import read_weights
from blobs_transfer.rundir.files import read_scores
from blobs_transfer.stats.transferability import SCORES
from tests.helpers import PNG, invoke

K = 4
ARMS = ["transfer fixed=0", "transfer fixed=1", "transfer fixed=2"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A compare run of 4 source models (3 epochs, 2 repeats), written from memory, with its sources."""
    folder = tmp_path_factory.mktemp("transferability")
    cfg = load_config(None, **{"study.repeats": 2, "training.epochs": 3, "study.source_repeats": K, "study.seed": 3})
    sources = api.source_models(cfg, folder)
    result = api.run_comparison(cfg, sources)
    run_dir = api.write_run(cfg, result, folder, sources=sources)
    return {"cfg": cfg, "sources": sources[cfg.source_spec], "run": run_dir}


def table_rows(run_dir):
    with open(run_dir / "transferability.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_the_table_has_a_row_per_source_model_with_every_score_and_the_truth(scored):
    rows = table_rows(scored["run"])
    assert list(rows[0]) == ["source_index", "source_seed", *SCORES, *ARMS]
    assert [int(r["source_index"]) for r in rows] == list(range(K))
    assert [int(r["source_seed"]) for r in rows] == [m.seed for m in scored["sources"]]
    records = read_scores(scored["run"] / "scores.csv")
    for arm in ARMS:
        for r in rows:
            mine = [
                x["test_accuracy"] for x in records if x["arm"] == arm and x["source_index"] == int(r["source_index"])
            ]
            assert float(r[arm]) == pytest.approx(np.mean(mine), abs=5e-7)
    expect = transferability.score_models(scored["cfg"], [m.weights for m in scored["sources"]])
    for r, e in zip(rows, expect):
        assert [float(r[s]) for s in SCORES] == pytest.approx([e[s] for s in SCORES], rel=1e-8)
        assert 0.0 <= float(r["source_accuracy"]) <= 1.0 and 0.0 <= float(r["probe_accuracy"]) <= 1.0


def test_every_source_model_is_saved_with_its_index_and_seed(scored):
    for i, model in enumerate(scored["sources"]):
        path = scored["run"] / "source_models" / f"source_{i:03d}.keras"
        weights, _ = read_weights(path)
        for (k, b), (k0, b0) in zip(weights, model.weights):
            assert np.array_equal(k, k0) and np.array_equal(b, b0)
        assert json.loads(path.with_suffix(".json").read_text())["seed"] == model.seed
        assert api.load_source_model(path, scored["cfg"]).seed == model.seed


def test_the_summary_and_report_say_how_well_each_score_ranked_them(scored):
    summary = json.loads((scored["run"] / "summary.json").read_text())
    block = summary["transferability"]
    assert block["n_sources"] == K and block["scores"] == list(SCORES) and list(block["arms"]) == ARMS
    for arm in ARMS:
        for score in SCORES:
            row = block["arms"][arm][score]
            assert row["n_sources"] == K and 1.0 <= row["top_pick_rank"] <= K
            assert row["rho"] is None or -1.0 <= row["rho"] <= 1.0
    assert (scored["run"] / "transferability.png").read_bytes().startswith(PNG)
    md = (scored["run"] / "summary.md").read_text()
    assert "Which source model will transfer: 6 scores against 4 source models" in md
    assert "transferability.png" in md and "LogME" in md
    assert "transferability.png" in (scored["run"] / "report.html").read_text()


def test_report_rebuilds_the_same_summary_and_the_run_verifies(scored, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(scored["run"], run)
    before = (run / "summary.json").read_text()
    api.report_run(run)
    assert (run / "summary.json").read_text() == before
    manifest = api.verify_run(run)
    assert {"transferability.csv", "source_models/source_003.keras"} <= {
        name for name, entry in manifest["files"].items() if entry["role"] == "data"
    }
    (run / "source_models" / "source_002.keras").write_bytes(b"not a model")
    with pytest.raises(DamagedRunError, match="source_002.keras"):
        api.verify_run(run)


def test_a_run_from_one_source_model_has_no_table(tiny_run):
    assert not (tiny_run / "transferability.csv").exists() and not (tiny_run / "source_models").exists()
    assert "transferability" not in json.loads((tiny_run / "summary.json").read_text())


def test_rank_sources_scores_a_run_directory_as_the_run_did(scored, tmp_path):
    out = tmp_path / "ranked.csv"
    result = invoke("rank-sources", scored["run"], "--out", out, "--all")
    assert result.exit_code == 0, result.output
    assert "Transferability of 4 source models to Problem 2" in result.output
    assert "LogME ranks first: " in result.output and result.output.strip().endswith(str(out))
    with open(out, newline="") as f:
        ranked = list(csv.DictReader(f))
    table = table_rows(scored["run"])
    assert [r["source_index"] for r in ranked] == ["0", "1", "2", "3"]
    assert [r["source_seed"] for r in ranked] == [r["source_seed"] for r in table]
    for a, b in zip(ranked, table):
        assert [float(a[s]) for s in SCORES] == pytest.approx([float(b[s]) for s in SCORES], rel=1e-8)
    # one file, scored on another target: the same weights, other numbers
    one = invoke(
        "rank-sources",
        scored["run"] / "source_models" / "source_001.keras",
        "--problem",
        1,
        "--out",
        tmp_path / "one.csv",
    )
    assert one.exit_code == 0, one.output
    assert "to Problem 1" in one.output


def test_rank_sources_needs_no_tensorflow(scored, tmp_path):
    code = (
        "import sys; from blobs_transfer.cli import cli\n"
        f"cli(['rank-sources', {str(scored['run'])!r}, '--out', {str(tmp_path / 'r.csv')!r}],"
        " standalone_mode=False)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "r.csv").is_file()


@pytest.mark.parametrize("case", ["not a model", "no models here", "missing", "wrong shape"])
def test_rank_sources_bad_input_is_one_line_and_exit_2(case, tmp_path, scored):
    out = tmp_path / "out.csv"
    if case == "not a model":
        target = tmp_path / "x.keras"
        target.write_text("hello")
    elif case == "no models here":
        target = tmp_path / "empty"
        target.mkdir()
    elif case == "missing":
        target = tmp_path / "nowhere.keras"
    else:
        target = scored["run"] / "source_models" / "source_000.keras"
        (tmp_path / "c.toml").write_text("[model]\nhidden_units = [4, 4]\n")
        result = invoke("rank-sources", target, "--config", tmp_path / "c.toml", "--out", out)
    if case != "wrong shape":
        result = invoke("rank-sources", target, "--out", out)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert not out.exists()


def test_rank_sources_on_a_sweep_scores_every_target_and_ranks_the_targets(small_sweep, tmp_path):
    from scipy.stats import spearmanr

    out = tmp_path / "sweep.csv"
    result = invoke("rank-sources", small_sweep, "--out", out)
    assert result.exit_code == 0, result.output
    assert "Transferability over 4 targets (target.n_train, target.similarity_t), 2 source models each" in result.output
    rows = list(csv.DictReader(open(out, newline="")))
    assert len(rows) == 4 * 2 and list(rows[0])[:4] == [
        "target.n_train",
        "target.similarity_t",
        "source_index",
        "source_seed",
    ]
    runs = list(csv.DictReader(open(small_sweep / "runs.csv", newline="")))
    for r in rows:
        mine = [
            float(x["test_accuracy"])
            for x in runs
            if x["arm"] == "transfer fixed=1"
            and x["target.n_train"] == r["target.n_train"]
            and x["target.similarity_t"] == r["target.similarity_t"]
            and x["source_index"] == r["source_index"]
        ]
        assert float(r["transfer fixed=1"]) == pytest.approx(np.mean(mine), abs=5e-7)
    stats = json.loads(out.with_suffix(".json").read_text())
    cells = list(csv.DictReader(open(small_sweep / "cells.csv", newline="")))
    benefit = [float(c["diff_mean"]) for c in cells if c["arm"] == "transfer fixed=1"]
    mean_logme = [np.mean([float(r["logme"]) for r in rows[2 * i : 2 * i + 2]]) for i in range(4)]
    assert stats["targets"]["transfer fixed=1"]["logme"] == pytest.approx(spearmanr(mean_logme, benefit).statistic)
    assert all(c["agreement"] == {} for c in stats["cells"])  # 2 source models: no rank correlation within a cell


def test_keras_loads_the_saved_source_models(scored):
    """The .keras files are written without TensorFlow; Keras loads them to the same weights and outputs."""
    from blobs_transfer.model.keras_model import load_source

    path = scored["run"] / "source_models" / "source_001.keras"
    model = load_source(path, scored["cfg"])
    weights = scored["sources"][1].weights
    assert [layer.name for layer in model.layers] == ["hidden_1", "hidden_2", "output"]
    for layer, (kernel, bias) in zip(model.layers, weights):
        assert np.array_equal(layer.kernel.numpy(), kernel) and np.array_equal(layer.bias.numpy(), bias)
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32) * 5
    assert model.predict(x, verbose=0) == pytest.approx(mlp_outputs(weights, x)[1], abs=1e-6)
