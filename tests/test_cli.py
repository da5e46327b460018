"""Every kind of bad input: one line `Error: ...`, exit code 2, no traceback, nothing on disk changed.

Each case runs against a results folder that already holds a source model and a finished run, and checks
that every byte of it is still there afterwards.
"""

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def snapshot(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    assert invoke("train-source", "--epochs", 2, "--results-dir", folder).exit_code == 0
    assert invoke("compare", "--repeats", 2, "--epochs", 2, "--results-dir", folder).exit_code == 0
    return folder


def config_file(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def source_file(tmp_path, kind, results):
    good = (results / "source" / "problem1.keras").read_bytes()
    path = tmp_path / f"{kind}.keras"
    if kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


CASES = {
    # name: (arguments, text the one-line error must contain)
    "repeats 0": (["compare", "--repeats", "0"], "--repeats"),
    "repeats negative": (["compare", "--repeats", "-3"], "--repeats"),
    "epochs 0": (["train-source", "--epochs", "0"], "--epochs"),
    "fixed too large": (["fit", "--source", "{source}", "--fixed", "3"], "fixed=3"),
    "unknown arm": (["compare", "--config", "{config:[[arms]]\nname='x'\nweights='magic'\n[study]\nbaseline='x'\n}"], "weights"),
    "unknown baseline arm": (["compare", "--config", "{config:[study]\nbaseline='nope'\n}"], "'nope'"),
    "unknown config key": (["compare", "--config", "{config:[study]\nrepeat=3\n}"], "study.repeat"),
    "wrong type": (["compare", "--config", "{config:[training]\nepochs='many'\n}"], "training.epochs"),
    "unparsable toml": (["compare", "--config", "{config:[study\nrepeats=}"], "not valid TOML"),
    "missing config": (["compare", "--config", "{tmp}/nope.toml"], "does not exist"),
    "missing source": (["compare", "--source", "{tmp}/nope.keras"], "train-source"),
    "truncated source": (["compare", "--source", "{truncated}"], "truncated.keras"),
    "random-bytes source": (["compare", "--source", "{random}"], "random.keras"),
    "wrong input size": (["compare", "--config", "{config:[problems]\nn_features=3\n}"], "layer shapes"),
    "wrong output size": (["compare", "--config", "{config:[problems]\ncenters=4\n}"], "layer shapes"),
    "unwritable results": (["compare", "--results-dir", "{results}/source/problem1.keras/sub"], "cannot be written"),
    "unknown option": (["compare", "--repeatz", "3"], "--repeatz"),
    "missing baseline": (["check", "{run}", "--baseline", "{tmp}/none.json"], "does not exist"),
    "incomplete run": (["report", "{incomplete}"], "incomplete"),
    "too large to fit": (["compare", "--repeats", "100000"], "GiB"),
    "both gate outputs on stdout": (["check", "{run}", "--baseline", "{tmp}/b.json", "--junit", "-", "--markdown", "-"], "only one of"),
    "export an incomplete run": (["export-mlflow", "{incomplete}"], "is INCOMPLETE"),
    "export a folder that is no run": (["export-mlflow", "{results}"], "neither a compare run nor a sweep"),
    "export to an unknown store": (["export-mlflow", "{run}", "--tracking-uri", "nosuch://x"], "unsupported URI 'nosuch://x'"),
    "runs of a missing folder": (["runs", "{tmp}/nope"], "does not exist"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_harmless(name, results, tmp_path):
    args, needle = CASES[name]
    run_dir = next(results.glob("compare-*"))
    incomplete = tmp_path / "broken-run"
    incomplete.mkdir()
    for f in ("scores.csv", "config.toml"):
        (incomplete / f).write_bytes((run_dir / f).read_bytes())
    (incomplete / "INCOMPLETE").write_text("")
    filled = []
    for a in args:
        if a.startswith("{config:"):
            a = str(config_file(tmp_path, a[len("{config:"):-1]))
        a = a.format(source=results / "source" / "problem1.keras", tmp=tmp_path, results=results, run=run_dir,
                     incomplete=incomplete,
                     truncated=source_file(tmp_path, "truncated", results) if "{truncated}" in a else "",
                     random=source_file(tmp_path, "random", results) if "{random}" in a else "")
        filled.append(a)
    if "--results-dir" not in filled and filled[0] in ("compare", "fit", "train-source"):
        filled += ["--results-dir", results]
    before = snapshot(results)
    result = invoke(*filled)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert needle in lines[0]
    assert "Traceback" not in result.output
    assert snapshot(results) == before


def test_debug_shows_the_traceback(results, tmp_path):
    result = invoke("--debug", "compare", "--config", tmp_path / "missing.toml", "--results-dir", results)
    assert result.exit_code != 0 and result.exception is not None
    assert "does not exist" in str(result.exception)


def test_diverging_learning_rate_is_counted_not_scored(results, tmp_path):
    """lr = 1e6 blows runs up (those whose ReLUs do not all die first): the run finishes, says so, and
    shows no accuracy for them."""
    cfg = config_file(tmp_path, "[training]\nlearning_rate = 1e6\n")
    out_dir = tmp_path / "out"
    result = invoke("compare", "--repeats", 2, "--epochs", 3, "--config", cfg, "--source",
                    results / "source" / "problem1.keras", "--results-dir", out_dir)
    assert result.exit_code == 0, result.output
    assert "runs diverged" in result.output
    run_dir = next(out_dir.glob("compare-*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    diverged = sum(a["n_diverged"] for a in summary["arms"])
    assert diverged >= 1
    assert all(a["n"] + a["n_diverged"] == 2 for a in summary["arms"])
    assert f"{diverged} runs diverged" in result.output
    scores = (run_dir / "scores.csv").read_text().splitlines()[1:]
    for line in scores:
        fields = line.split(",")
        if fields[-1] == "1":
            assert fields[4] == "" and fields[5] == ""  # no accuracy for a diverged run
    assert "nan" not in (run_dir / "summary.json").read_text().lower()
