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
from blobs_transfer.rundir import files
from blobs_transfer.rundir.files import read_scores
from blobs_transfer.stats.transferability import SCORES
from tests import helpers
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


def test_scores_are_the_same_to_the_bit_however_the_models_are_split_over_processes(scored, monkeypatch):
    """score_models splits many models over two processes, and compare scores them in a child while it trains
    (`scoring`): every model's scores must not depend on which batch it was in, or on the process."""
    monkeypatch.setattr(files, "fork_workers", lambda n: 2)  # fork even where this test process would not
    cfg, weights = scored["cfg"], [m.weights for m in scored["sources"]]
    alone = [transferability.score_models(cfg, [w], split=False)[0] for w in weights]
    assert transferability.score_models(cfg, weights, split=False) == alone
    monkeypatch.setattr(transferability, "SPLIT_AT", 2)
    assert transferability.score_models(cfg, weights) == alone
    with transferability.scoring(cfg, {cfg.source_spec: scored["sources"]}) as child:
        assert child.pid is not None and child.result() == alone


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
    assert f"Which source model will transfer: {len(SCORES)} scores against 4 source models" in md
    assert "transferability.png" in md and "LogME" in md
    assert "transferability.png" in (scored["run"] / "report.html").read_text()


@pytest.mark.slow
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


@pytest.mark.slow  # a command in its own process
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


def test_a_run_that_does_not_score_its_sources_saves_them_and_writes_no_table(tmp_path):
    """[study] score_sources = false: the 3 source models are saved, nothing is scored; unset, 3 or more are."""
    cfg = load_config(None, **{"study.repeats": 1, "training.epochs": 2, "study.source_repeats": 3, "study.seed": 3})
    assert cfg.scores_sources and not load_config(None, **{"study.source_repeats": 2}).scores_sources
    off = load_config(
        None, **{"study.repeats": 1, "training.epochs": 2, "study.source_repeats": 3, "study.score_sources": False}
    )
    assert not off.scores_sources
    sources = api.source_models(off, tmp_path)
    run_dir = api.write_run(off, api.run_comparison(off, sources), tmp_path, sources=sources)
    assert not (run_dir / "transferability.csv").exists()
    assert "transferability" not in json.loads((run_dir / "summary.json").read_text())
    assert sorted(p.name for p in (run_dir / "source_models").glob("*.keras")) == [
        f"source_{i:03d}.keras" for i in range(3)
    ]
    manifest = api.verify_run(run_dir)
    assert "source_models/source_002.keras" in manifest["files"]


def test_the_headline_rho_and_tau_are_scipys_recomputed_from_its_table():
    """results/headline: each realised mean in transferability.csv is its source's summed correct counts over its
    summed test rows (scores.csv), and every score's rho and tau in summary.json equal scipy's spearmanr and
    weightedtau of the score's column against the arm's column, read back from the committed table."""
    from fractions import Fraction

    from scipy.stats import spearmanr, weightedtau

    run = helpers.ROOT / "results" / "headline"
    table = transferability.read_table(run / "transferability.csv")
    block = json.loads((run / "summary.json").read_text())["transferability"]
    assert block["scores"] == list(SCORES)
    records = read_scores(run / "scores.csv")
    for arm, by_score in block["arms"].items():
        for index, mean in zip(table["source_index"], table[arm]):
            mine = [
                r["test_correct"]
                for r in records
                if r["arm"] == arm and r["source_index"] == index and not r["diverged"]
            ]
            assert f"{mean:.6f}" == f"{float(Fraction(sum(mine), 500 * len(mine))):.6f}"
        for score, row in by_score.items():
            assert row["rho"] == pytest.approx(spearmanr(table[score], table[arm]).statistic, abs=1e-12), (arm, score)
            assert row["tau"] == pytest.approx(weightedtau(table[score], table[arm]).statistic, abs=1e-12), (arm, score)


def test_rescoring_a_run_rebuilds_its_table_and_keeps_its_runs(scored, tmp_path):
    """api.rescore_run on a copy whose table has only the first six scores (as before issue 34): the table comes
    back as the run wrote it, scores.csv is untouched, and the run verifies."""
    import shutil

    from blobs_transfer.rundir import manifest
    from blobs_transfer.stats.transferability import FIRST_SCORES

    run = tmp_path / "run"
    shutil.copytree(scored["run"], run)
    written = (run / "transferability.csv").read_text()
    runs_before = (run / "scores.csv").read_bytes()
    rows = table_rows(run)
    keep = ["source_index", "source_seed", *FIRST_SCORES, *ARMS]
    with open(run / "transferability.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, keep)
        writer.writeheader()
        writer.writerows({k: r[k] for k in keep} for r in rows)
    manifest.refresh(run, manifest.read_manifest(run), role="data")  # sealed so, as a run written before
    assert transferability.scores_in(transferability.read_table(run / "transferability.csv")) == list(FIRST_SCORES)
    summary = api.rescore_run(run)
    assert (run / "transferability.csv").read_text() == written
    assert (run / "scores.csv").read_bytes() == runs_before
    assert summary["transferability"]["scores"] == list(SCORES)
    api.verify_run(run)
