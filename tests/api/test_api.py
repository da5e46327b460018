"""The study as a library: the README's Python example runs as written, the CLI stays thin, problems are specs,
and a failing disk is one line with the run left INCOMPLETE."""

import ast
import hashlib
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blobs_transfer.train import run as experiment


from blobs_transfer import api as study
from blobs_transfer.cli import cli
from blobs_transfer.config import load_config
from blobs_transfer.problems import centres, make_problem

ROOT = Path(__file__).resolve().parents[1]

# sha256 of the CSVs `blobs-transfer generate` wrote before problems became specs (commit b03769f)
TUTORIAL_CSVS = {
    "problem1_train.csv": "793e604dbf46c29699eccce294cea2ed94899b0ce538c2a96b9eb465c6d5d20f",
    "problem1_test.csv": "258e9cfc393747ddf0e61966f94b640dcde474f23ecab11aa8e399d8a1d725d7",
    "problem2_train.csv": "4bbb77bddf45e65d23e66ea41779e2c7b887256a11b618759987610c5b0b0c12",
    "problem2_test.csv": "447a0f3e2a208558b0db888c019ceb74d1e88500281bd9b46bfaa81b1743919c",
}


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- example: python-api -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README has no Python API example"
    return match.group(1)


def test_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    run_dirs = list((tmp_path / "results").glob("compare-*"))
    assert len(run_dirs) == 1 and not (run_dirs[0] / "INCOMPLETE").exists()
    for name in ("scores.csv", "summary.json", "report.html", "boxplot.png", "metadata.json"):
        assert (run_dirs[0] / name).is_file()
    assert "transfer fixed=1" in printed


def test_summary_in_memory_equals_the_one_written(tmp_path):
    cfg = load_config(None, **{"study.repeats": 3, "training.epochs": 3, "study.source_repeats": 2})
    sources = study.source_models(cfg, tmp_path)
    result = study.run_comparison(cfg, sources)
    run_dir = study.write_run(cfg, result, tmp_path, sources=sources)
    in_memory = study.summarise(cfg, result)
    cfg2, scores, curves = study.load_run(run_dir)
    assert cfg2 == cfg
    assert result.records() == scores
    from blobs_transfer.stats import summary as analysis

    on_disk = analysis.summarise(cfg2, scores, curves["test_accuracy"])
    assert in_memory["arms"] == on_disk["arms"] and in_memory["comparisons"] == on_disk["comparisons"]


def test_progress_is_a_callback():
    cfg = load_config(None, **{"study.repeats": 2, "training.epochs": 4, "study.source_repeats": 2})
    calls = []
    sources = study.source_models(cfg, progress=lambda label, n, total: calls.append((label, n, total)))
    study.run_comparison(cfg, sources, progress=lambda label, n, total: calls.append((label, n, total)))
    phases = {}
    for label, n, total in calls:
        phases.setdefault(label, [0, total])[0] += n
    assert phases and all(done == total for done, total in phases.values())
    assert any("source models" in label for label in phases) and "training" in phases


def test_cli_holds_no_orchestration():
    """cli.py imports the library (study) and the pieces that print, never the stages that do the work."""
    tree = ast.parse((ROOT / "blobs_transfer" / "cli.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            imported |= {node.module} if node.module else {a.name for a in node.names}
    # gate_report, runs and tracking render or export finished runs, as report does
    assert imported <= {"study", "sweep", "config", "errors", "gate", "report", "gate_report", "runs", "tracking"}, imported
    assert not imported & {"experiment", "results", "models", "engine", "engine_tf", "kernel", "backend"}


def test_library_imports_without_tensorflow_or_click():
    code = ("import sys, blobs_transfer.api, blobs_transfer.stats.summary\n"
            "bad = [m for m in ('tensorflow', 'keras', 'click') if m in sys.modules]\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# --- problems as specs ---------------------------------------------------------------------------------


def test_default_csvs_are_the_tutorials(tmp_path):
    folder = study.generate(load_config(), tmp_path)
    for name, digest in TUTORIAL_CSVS.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


TARGET_OVERRIDES = {"n_train": 100, "cluster_std": 1.0, "similarity_t": 0.5}


@pytest.mark.parametrize("key", list(TARGET_OVERRIDES))
def test_target_changes_leave_source_and_test_split(key, cfg, problem2):
    changed = load_config(None, **{f"target.{key}": TARGET_OVERRIDES[key]})
    assert changed.source_spec == cfg.source_spec  # the same source problem, so the same saved source model
    assert study.default_source_path(changed, "r", changed.source_spec) == study.default_source_path(cfg, "r", cfg.source_spec)
    target = make_problem(changed.target_spec)
    assert np.array_equal(target.y_test, problem2.y_test)  # the same test rows, class by class
    if key == "n_train":
        assert np.array_equal(target.x_test, problem2.x_test)
        assert np.array_equal(target.x_train, problem2.x_train[:100])
    else:  # the same rows, moved (similarity) or spread (cluster_std) with each row's own noise
        spec = changed.target_spec
        noise = (target.x_test - centres(spec)[target.y_test]) / spec.cluster_std
        noise2 = (problem2.x_test - centres(cfg.target_spec)[problem2.y_test]) / cfg.target_spec.cluster_std
        np.testing.assert_allclose(noise, noise2, atol=1e-5)
        assert not np.array_equal(target.x_test, problem2.x_test)


def test_target_changes_leave_the_trained_source_model():
    base = load_config(None, **{"training.epochs": 3})
    changed = load_config(None, **{"training.epochs": 3, **{f"target.{k}": v for k, v in TARGET_OVERRIDES.items()}})
    (a,), _ = experiment.train_sources(base, 1, 1)
    (b,), _ = experiment.train_sources(changed, 1, 1)
    assert a.seed == b.seed and a.spec == b.spec
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a.weights, b.weights))


def test_similarity_moves_centres_class_by_class(cfg, problem1, problem2):
    def at(t):
        return load_config(None, **{"target.similarity_t": t})

    source_c, target_c = centres(cfg.source_spec), centres(cfg.target_spec)
    np.testing.assert_allclose(centres(at(0.0).target_spec), source_c)
    np.testing.assert_allclose(centres(at(0.25).target_spec), 0.75 * source_c + 0.25 * target_c)
    one = make_problem(at(1.0).target_spec)
    assert np.array_equal(one.x_train, problem2.x_train) and np.array_equal(one.x_test, problem2.x_test)
    # t = 0 puts class k on the source's class-k centre: the class means match the source problem's
    zero = make_problem(at(0.0).target_spec)
    for k in range(3):
        assert np.linalg.norm(zero.x_train[zero.y_train == k].mean(0) - problem1.x_train[problem1.y_train == k].mean(0)) < 0.6


def test_larger_train_sets_extend_the_smaller_ones(problem2):
    big = make_problem(load_config(None, **{"target.n_train": 1200}).target_spec)
    assert big.x_train.shape == (1200, 2) and np.array_equal(big.x_train[:500], problem2.x_train)
    assert np.array_equal(big.x_test, problem2.x_test) and set(np.unique(big.y_train[500:])) == {0, 1, 2}


@pytest.mark.parametrize("key, value", [("n_train", 0), ("similarity_t", 1.5), ("cluster_std", -1.0)])
def test_bad_target_values_are_one_line_config_errors(tmp_path, key, value):
    path = tmp_path / "bad.toml"
    path.write_text(f"[target]\n{key} = {value}\n")
    result = CliRunner().invoke(cli, ["compare", "--config", str(path), "--results-dir", str(tmp_path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and f"target.{key}" in result.output


# --- a failing disk ------------------------------------------------------------------------------------


def test_full_disk_is_one_line_and_leaves_the_run_incomplete(tmp_path):
    """A real write failure: the file-size limit (RLIMIT_FSIZE) makes the kernel refuse writes past 40 kB,
    as a full disk would, so the first figure fails after the scores were written."""
    results = tmp_path / "results"
    runner = CliRunner()
    assert runner.invoke(cli, ["train-source", "--epochs", 2, "--results-dir", results]).exit_code == 0
    assert runner.invoke(cli, ["compare", "--repeats", 2, "--epochs", 2, "--results-dir", results]).exit_code == 0
    (earlier,) = results.glob("compare-*")
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "blobs_transfer", "compare", "--repeats", "2", "--epochs", "2",
                           "--results-dir", str(results)], capture_output=True, text=True, env=env,
                          preexec_fn=limit, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and "cannot write" in lines[0] and "File too large" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    (new,) = set(results.glob("compare-*")) - {earlier}
    assert (new / "INCOMPLETE").exists() and (new / "scores.csv").exists()
    assert not list(new.glob(".*.tmp-*"))  # no half-written file left behind
    assert {p: p.read_bytes() for p in before} == before
