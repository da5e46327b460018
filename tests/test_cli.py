"""The command line (blobs_transfer.cli): every command has help; every kind of bad input is one line
`Error: ...`, exit code 2, no traceback, and nothing on disk changed; --debug shows the traceback; `check`'s
`-` outputs; and the CLI holds no orchestration (it calls `api` only).

The bad-input cases run against a results folder that already holds a source model and a finished run (the
session's `results_dir` and `tiny_run`), and check that every byte of it, and of the test's own folder, is
still there afterwards.
"""

import ast
import hashlib
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blobs_transfer import api
from blobs_transfer.cli import cli
from blobs_transfer.config import load_config
from blobs_transfer.errors import ConfigError
from blobs_transfer.rundir import run as rundir_run
from tests.helpers import ROOT, invoke, one_error_line, run

STATISTICS_PER_ARM = 5  # n, n_diverged, mean, median, std
FINDINGS_PER_ARM = 3  # each arm but the baseline arm: difference of means, P(arm beats it), verdict


def snapshot(folder):
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


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


@pytest.fixture(scope="module")
def results(results_dir, tiny_run):
    """A results folder that already holds a source model and a finished run (the session's)."""
    return results_dir


@pytest.fixture(scope="module")
def gate(tiny_run, tiny_baseline):
    """A finished run and its own baseline: check's outputs, not the gate study's bands (render/test_gate.py)."""
    return {"reference": tiny_run, "baseline": tiny_baseline, "arms": 4}


def test_every_command_has_help():
    # every command the CLI has, not a list that a new command could be missing from
    assert {
        "generate",
        "train-source",
        "fit",
        "compare",
        "report",
        "sweep",
        "check",
        "baseline",
        "verify",
        "runs",
        "export-mlflow",
    } <= set(cli.commands)
    for command in ([], *([name] for name in sorted(cli.commands))):
        out = run(*command, "--help").output
        assert "Usage:" in out
        assert "--help" in out


@pytest.mark.parametrize("command", ["runs", "export-mlflow", "check"])
def test_new_commands_and_options_have_help(command):
    out = run(command, "--help").output
    assert "Usage:" in out
    for option in {
        "runs": ["--json"],
        "export-mlflow": ["--tracking-uri", "--experiment"],
        "check": ["--junit", "--markdown"],
    }[command]:
        assert option in out


CASES = {
    # name: (arguments, text the one-line error must contain)
    "repeats 0": (["compare", "--repeats", "0"], "--repeats"),
    "repeats negative": (["compare", "--repeats", "-3"], "--repeats"),
    "epochs 0": (["train-source", "--epochs", "0"], "--epochs"),
    "fixed too large": (["fit", "--source", "{source}", "--fixed", "3"], "fixed=3"),
    "unknown arm": (
        ["compare", "--config", "{config:[[arms]]\nname='x'\nweights='magic'\n[study]\nbaseline='x'\n}"],
        "weights",
    ),
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
    "both gate outputs on stdout": (
        ["check", "{run}", "--baseline", "{tmp}/b.json", "--junit", "-", "--markdown", "-"],
        "only one of",
    ),
    "export an incomplete run": (["export-mlflow", "{incomplete}"], "is INCOMPLETE"),
    "export a folder that is no run": (["export-mlflow", "{results}"], "neither a compare run nor a sweep"),
    "export to an unknown store": (
        ["export-mlflow", "{run}", "--tracking-uri", "nosuch://x"],
        "unsupported URI 'nosuch://x'",
    ),
    "runs of a missing folder": (["runs", "{tmp}/nope"], "does not exist"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_harmless(name, results, tiny_run, tmp_path):
    args, needle = CASES[name]
    run_dir = tiny_run
    incomplete = tmp_path / "broken-run"
    incomplete.mkdir()
    for f in ("scores.csv", "config.toml"):
        (incomplete / f).write_bytes((run_dir / f).read_bytes())
    (incomplete / "INCOMPLETE").write_text("")
    filled = []
    for a in args:
        if a.startswith("{config:"):
            a = str(config_file(tmp_path, a[len("{config:") : -1]))
        a = a.format(
            source=results / "source" / "problem1.keras",
            tmp=tmp_path,
            results=results,
            run=run_dir,
            incomplete=incomplete,
            truncated=source_file(tmp_path, "truncated", results) if "{truncated}" in a else "",
            random=source_file(tmp_path, "random", results) if "{random}" in a else "",
        )
        filled.append(a)
    if "--results-dir" not in filled and filled[0] in ("compare", "fit", "train-source"):
        filled += ["--results-dir", results]
    before, own = snapshot(results), snapshot(tmp_path)
    result = invoke(*filled)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert needle in lines[0]
    assert "Traceback" not in result.output
    assert snapshot(results) == before
    assert snapshot(tmp_path) == own  # the incomplete run and the case's own files are untouched too


def test_debug_shows_the_traceback(results, tmp_path):
    result = invoke("--debug", "compare", "--config", tmp_path / "missing.toml", "--results-dir", results)
    assert result.exit_code != 0 and result.exception is not None
    assert "does not exist" in str(result.exception)
    # the error itself, raised with its traceback, not the one-line exit that a run without --debug makes
    assert isinstance(result.exception, ConfigError) and result.exc_info[2] is not None


BAD = {
    "unknown weights": ("[[arms]]\nname = 'x'\nweights = 'magic'\n", "weights"),
    "fixed out of range": ("[[arms]]\nname = 'x'\nweights = 'source'\nfixed = 5\n", "fixed=5"),
    "fresh fixed out of range": ("[[arms]]\nname = 'x'\nfixed = 5\n", "fixed=5"),
    "copy out of range": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 7\n", "copy=7"),
    "fixed and copy out of range": ("[[arms]]\nname = 'x'\nweights = 'source'\nfixed = 5\ncopy = 7\n", "fixed=5"),
    "copy 0": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 0\n", "copy=0"),
    "copy output with add_hidden": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 3\nadd_hidden = 1\n", "copy=3"),
    "fixed above copy": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 1\nfixed = 2\n", "fixed=2"),
    "copy on a fresh arm": ("[[arms]]\nname = 'x'\ncopy = 1\n", "copy"),
    "no source problem 9": ("[[arms]]\nname = 'x'\nweights = 'source'\nsource_problem = 9\n", "source_problem"),
    "no study source problem 9": (
        "[[arms]]\nname = 'x'\nweights = 'source'\n[study]\nsource_problem = 9\n",
        "study.source_problem",
    ),
}


@pytest.mark.parametrize("text,needle", BAD.values(), ids=BAD.keys())
def test_bad_arm_is_one_line_exit_2_and_writes_nothing(tmp_path, tmp_path_factory, text, needle):
    config = tmp_path_factory.mktemp("bad") / "BAD.toml"
    config.write_text(text + ("" if "[study]" in text else "[study]\n") + "baseline = 'x'\n")
    results = tmp_path / "results"
    result = CliRunner().invoke(cli, ["compare", "--config", str(config), "--results-dir", str(results)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key, value", [("n_train", 0), ("similarity_t", 1.5), ("cluster_std", -1.0)])
def test_bad_target_values_are_one_line_config_errors(tmp_path, key, value):
    path = tmp_path / "bad.toml"
    path.write_text(f"[target]\n{key} = {value}\n")
    result = CliRunner().invoke(cli, ["compare", "--config", str(path), "--results-dir", str(tmp_path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and f"target.{key}" in result.output


def test_dash_writes_the_document_alone_to_stdout(gate):
    result = CliRunner().invoke(
        cli, ["check", str(gate["reference"]), "--baseline", str(gate["baseline"]), "--junit", "-"]
    )
    assert result.exit_code == 0, result.output
    n = gate["arms"] * STATISTICS_PER_ARM + (gate["arms"] - 1) * FINDINGS_PER_ARM
    assert ET.fromstring(result.stdout.encode()).get("tests") == str(n)  # the table went to stderr
    assert f"OK: all {n} checks" in result.stderr


def test_both_outputs_on_stdout_is_refused(gate):
    result = CliRunner().invoke(
        cli, ["check", str(gate["reference"]), "--baseline", str(gate["baseline"]), "--junit", "-", "--markdown", "-"]
    )
    assert result.exit_code == 2
    assert result.output.strip() == "Error: only one of --junit and --markdown can be - (standard output)"


def package_imports(path):
    """The package modules a file imports, absolute (`from blobs_transfer.x import y`, `import blobs_transfer.x`)
    or relative, each as its dotted path below blobs_transfer (x.y for a module y of subpackage x)."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative to blobs_transfer/
                module = "blobs_transfer" + ("." + module if module else "")
            if module == "blobs_transfer":
                imported |= {a.name for a in node.names}
            elif module.startswith("blobs_transfer."):
                imported.add(module.removeprefix("blobs_transfer."))
        elif isinstance(node, ast.Import):
            imported |= {
                a.name.removeprefix("blobs_transfer.") for a in node.names if a.name.startswith("blobs_transfer.")
            }
    return imported


def test_cli_holds_no_orchestration():
    """The cli package imports the library (api), the config it parses and the errors it prints (and its own
    modules), never the stages that do the work. (It used to read only relative imports; the CLI imports
    absolutely now, so that test saw nothing and passed whatever the CLI imported.)"""
    files = sorted((ROOT / "blobs_transfer" / "cli").glob("*.py"))
    assert len(files) >= 5
    imported = set().union(*(package_imports(f) for f in files))
    assert "api" in imported  # the test sees the CLI's imports at all
    assert {m for m in imported if m.split(".")[0] != "cli"} <= {"api", "config", "errors"}, imported
    stages = ("problems", "model", "train", "stats", "sweep", "rundir", "render", "export")
    assert not {m for m in imported if m.split(".")[0] in stages}, imported


def test_the_import_reader_sees_absolute_and_relative_imports(tmp_path):
    """The check above can fail: a hand-made CLI that imports a training module is caught, however it spells it."""
    fake = tmp_path / "cli.py"
    fake.write_text(
        "import click\nfrom blobs_transfer import api\nfrom blobs_transfer.train.engine import THREADS_ENV\n"
        "from .rundir import files\nimport blobs_transfer.model.arms\n"
    )
    assert package_imports(fake) == {"api", "train.engine", "rundir", "model.arms"}


# --- scriptable: exit codes, --debug after the command, check's default baseline, --json (issue 29) -------------

EXIT_CODES = ROOT / "docs" / "commands.md"


def documented_exit_codes():
    """The codes of the one exit-code table in docs/commands.md (rows `| 0 | ...`)."""
    text = EXIT_CODES.read_text()
    table = next(b for b in text[text.index("## Exit codes") :].split("\n\n") if b.startswith("|"))
    return [int(line.split("|")[1]) for line in table.splitlines() if line.split("|")[1].strip().isdigit()]


def doctored_tiny_run(tiny_run, tmp_path):
    """The tiny run with every transfer fixed=0 run 200 test rows worse, sealed as if it had made them."""
    run = tmp_path / "doctored"
    shutil.copytree(tiny_run, run)
    lines = (run / "scores.csv").read_text().splitlines()
    header = lines[0].split(",")
    arm, correct, accuracy = (header.index(k) for k in ("arm", "test_correct", "test_accuracy"))
    for i, line in enumerate(lines[1:], 1):
        cells = line.split(",")
        if cells[arm] == "transfer fixed=0":
            cells[correct] = str(int(cells[correct]) - 200)
            cells[accuracy] = f"{int(cells[correct]) / 500:.3f}"
            lines[i] = ",".join(cells)
    (run / "scores.csv").write_text("\n".join(lines) + "\n")
    rundir_run.seal_run(run, load_config(run / "config.toml"))
    return run


def exit_code_case(code, tiny_run, tiny_baseline, tmp_path, monkeypatch):
    """The command line run to the exit code `code`; returns its result."""
    if code == 0:
        return invoke("check", tiny_run, "--baseline", tiny_baseline)
    if code == 1:
        return invoke("check", doctored_tiny_run(tiny_run, tmp_path), "--baseline", tiny_baseline)
    if code == 2:
        return invoke("check", tiny_run, "--baseline", tmp_path / "none.json")
    if code == 130:

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(api, "compare", interrupted)
        return invoke("compare", "--repeats", 2, "--epochs", 1, "--results-dir", tmp_path)
    raise AssertionError(f"no case for exit code {code}")


def test_the_exit_code_table_lists_0_1_2_and_130():
    assert documented_exit_codes() == [0, 1, 2, 130]


@pytest.mark.parametrize("code", [0, 1, 2, 130])
def test_each_documented_exit_code(code, tiny_run, tiny_baseline, tmp_path, monkeypatch):
    result = exit_code_case(code, tiny_run, tiny_baseline, tmp_path, monkeypatch)
    assert result.exit_code == code, result.output
    expected = {0: "OK: all", 1: "FAILED: ", 2: "Error: ", 130: "Interrupted: "}[code]
    assert expected in result.output


def test_debug_works_after_the_command_too(tmp_path):
    for args in (["--debug", "compare"], ["compare", "--debug"]):
        result = invoke(*args, "--config", tmp_path / "missing.toml", "--results-dir", tmp_path)
        assert isinstance(result.exception, ConfigError) and result.exc_info[2] is not None, args
    assert invoke("compare", "--config", tmp_path / "missing.toml").output.startswith("Error: ")  # without it, one line
    for name in sorted(cli.commands):
        assert "--debug" in run(name, "--help").output, name


def test_check_reads_results_baseline_json_by_default(tiny_run, tiny_baseline, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(invoke("check", tiny_run))
    assert "no --baseline given and results/baseline.json does not exist" in line
    (tmp_path / "results").mkdir()
    shutil.copy(tiny_baseline, tmp_path / "results" / "baseline.json")
    result = invoke("check", tiny_run)
    assert result.exit_code == 0 and "within their bands of results/baseline.json" in result.output, result.output


@pytest.mark.slow
def test_compare_fit_and_sweep_print_one_json_object(results, tmp_path):
    out = tmp_path / "out"
    compare = invoke("compare", "--repeats", 2, "--epochs", 2, "--results-dir", results, "--json")
    assert compare.exit_code == 0, compare.output
    found = json.loads(compare.stdout)  # the whole of standard output is the one object
    run_dir = Path(found["directory"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert found == {
        "kind": "compare",
        "directory": str(run_dir),
        "report": str(run_dir / "report.html"),
        "baseline": "standalone",
        "verdicts": {c["arm"]: c["verdict"] for c in summary["comparisons"]},
        "diverged": 0,
    }
    assert len(found["verdicts"]) == 3 and Path(found["report"]).is_file()
    fit = invoke("fit", "--epochs", 2, "--results-dir", out, "--json")
    assert fit.exit_code == 0, fit.output
    found = json.loads(fit.stdout)
    assert found["kind"] == "fit" and Path(found["report"]).is_file() and 0 <= found["test_accuracy"] <= 1
    config = tmp_path / "sweep.toml"
    config.write_text(
        '[study]\nsource_repeats = 2\nrepeats = 2\n[training]\nepochs = 2\n[sweep]\n"target.n_train" = [20, 50]\n'
    )
    sweep = invoke("sweep", "--config", config, "--results-dir", out, "--json")
    assert sweep.exit_code == 0, sweep.output
    found = json.loads(sweep.stdout)
    assert found["kind"] == "sweep" and found["cells"] == 2 and Path(found["report"]).is_file()
    assert set(found["verdicts"]) == {"transfer fixed=0", "transfer fixed=1", "transfer fixed=2"}
    assert all(sum(counts.values()) == 2 for counts in found["verdicts"].values())  # one verdict per cell
