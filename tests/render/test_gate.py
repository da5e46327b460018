"""The gate in CI (blobs_transfer.render.gate's JUnit and Markdown): the CI jobs' own script, docs/ci/gate.sh, run
as they run it, and `check --junit/--markdown`.

The script runs the gate study (configs/gate.toml; the session's `gate_study`, tests/conftest.py) on the Numba
and the TensorFlow engine and checks each against its baseline (results/baseline.json,
results/baseline-tensorflow.json): every check is in band. A copy of the Numba run with one arm's correct counts
lowered then fails exactly that arm's mean and median and its findings against standalone (difference of means,
P), each with its band and the band's reason; a verdict that changed to or from "no evidence" passes and says so.
"""

import csv
import json
import shutil
import xml.etree.ElementTree as ET

import pytest
import yaml
from click.testing import CliRunner

from blobs_transfer.cli import cli
from blobs_transfer.config import load_config
from blobs_transfer.render.gate import difference, gate_table, junit_xml, markdown
from blobs_transfer.rundir.run import seal_run
from blobs_transfer.stats.gate import UNSET
from tests.helpers import BASELINE, ROOT

SCRIPT = "bash docs/ci/gate.sh"
INSTALL = "pip install -e . -c constraints.txt"
STATISTICS_PER_ARM = 5  # n, n_diverged, mean, median, std
FINDINGS_PER_ARM = 3  # against the baseline arm: difference of means, P(arm beats it), verdict
ENGINES = ("numba", "tensorflow")
DOCTORED_ARM = "transfer fixed=2"
LOWER_BY = 100  # correct test rows taken from each run of the doctored arm: 0.2 of accuracy


@pytest.fixture(scope="module")
def gate(gate_study):
    """docs/ci/gate.sh as the CI jobs run it: the session's one run of the gate study at seed 0."""
    return gate_study


def checks(arms: int) -> int:
    """How many checks a run of `arms` arms has: each arm's statistics, and each other arm's findings."""
    return arms * STATISTICS_PER_ARM + (arms - 1) * FINDINGS_PER_ARM


def job_commands(path: str) -> list[str]:
    """Every shell command a CI job file runs: GitHub steps' `run`, GitLab jobs' `script` lines."""
    data = yaml.safe_load((ROOT / path).read_text())
    jobs = data["jobs"].values() if "jobs" in data else [j for j in data.values() if isinstance(j, dict)]
    commands = []
    for job in jobs:
        commands += [step["run"].strip() for step in job.get("steps", []) if "run" in step]
        commands += [line.strip() for line in job.get("script", [])]
    return commands


@pytest.mark.parametrize("path", ["docs/ci/github-actions.yml", "docs/ci/gitlab-ci.yml"])
def test_ci_jobs_install_then_run_the_gate_script(path):
    # the test below runs the script; installing is what the test environment already did
    assert job_commands(path) == [INSTALL, SCRIPT]


def test_gitlab_job_reports_junit_and_keeps_the_outputs():
    job = yaml.safe_load((ROOT / "docs/ci/gitlab-ci.yml").read_text())["regression-gate"]
    assert job["artifacts"]["reports"]["junit"] == [f"gate/{engine}/junit.xml" for engine in ENGINES]
    assert job["artifacts"]["paths"] == ["gate/"] and job["artifacts"]["when"] == "always"


@pytest.mark.slow
def test_gate_script_passes_on_the_gate_study_on_both_engines(gate):
    done, out = gate["done"], gate["out"]
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    n = checks(gate["arms"])
    assert done.stdout.count(f"OK: all {n} checks within their bands") == 2
    for engine, baseline in zip(ENGINES, ("results/baseline.json", "results/baseline-tensorflow.json")):
        assert f"== regression gate, {engine} engine, against {baseline}" in done.stderr
        suites = ET.parse(out / engine / "junit.xml").getroot()
        assert suites.tag == "testsuites" and (suites.get("tests"), suites.get("failures")) == (str(n), "0")
        cases = suites.findall("testsuite/testcase")
        assert len(cases) == n and not suites.findall(".//failure")
        assert {c.get("name") for c in cases} >= {
            "standalone mean",
            "transfer fixed=0 std",
            "transfer fixed=2 n_diverged",
            "transfer fixed=1 mean - standalone",
            "transfer fixed=2 P(> standalone)",
            "transfer fixed=2 verdict",
        }
        summary_md = (out / engine / "summary.md").read_text()
        assert summary_md.startswith(f"## blobs-transfer regression gate: {engine} engine")
        assert f"**OK**: all {n} checks" in summary_md and summary_md.count("| ok |") == n
        assert (out / engine / "report.html").read_text().startswith("<!doctype html>")
        run = json.loads((out / engine / "compare.json").read_text())  # compare --json, which the script reads
        assert (
            json.loads((gate[{"numba": "reference"}.get(engine, engine)] / "metadata.json").read_text())["engine"]
            == engine
        )
        assert run["report"] == str(gate[{"numba": "reference"}.get(engine, engine)] / "report.html")
    summaries = [(out / engine / "summary.md").read_text() for engine in ENGINES]
    assert gate["step_summary"].read_text() == "earlier step\n" + "".join(summaries)


@pytest.fixture(scope="module")
def doctored(gate):
    """The reference run with DOCTORED_ARM's runs LOWER_BY correct rows worse each; (run dir, old scores)."""
    run = gate["tmp"] / "doctored"
    shutil.copytree(gate["reference"], run)
    with open(run / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if r["arm"] == DOCTORED_ARM:
            r["test_correct"] = str(int(r["test_correct"]) - LOWER_BY)
            r["test_accuracy"] = f"{int(r['test_correct']) / 500:.3f}"
    with open(run / "scores.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    # as if the run itself had made these numbers: its manifest vouches for them (an edit after the run is
    # refused before any band is looked at, tests/rundir/test_run.py)
    seal_run(run, load_config(run / "config.toml"))
    return run


@pytest.mark.slow
def test_doctored_run_fails_its_moved_statistics_with_their_bands(gate, doctored, tmp_path):
    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    result = CliRunner().invoke(
        cli, ["check", str(doctored), "--baseline", str(gate["baseline"]), "--junit", str(junit), "--markdown", str(md)]
    )
    assert result.exit_code == 1, result.output
    n = checks(gate["arms"])
    moved = [f"{DOCTORED_ARM} {s}" for s in ("mean", "median", "mean - standalone", "P(> standalone)")]
    assert f"FAILED: 4 of {n} checks moved outside their bands: {', '.join(moved)}" in result.output
    suites = ET.parse(junit).getroot()
    assert (suites.get("tests"), suites.get("failures")) == (str(n), "4")
    failed = {c.get("name"): c.find("failure") for c in suites.iter("testcase") if c.find("failure") is not None}
    assert set(failed) == set(moved)
    band = json.loads(gate["baseline"].read_text())["arms"][DOCTORED_ARM]["mean"]
    message = failed[f"{DOCTORED_ARM} mean"].get("message")
    lowered = band["value"] - LOWER_BY / 500
    assert message.startswith(
        f"{DOCTORED_ARM} mean = {lowered:.4f}, outside its band {band['value']:.4f} ± {band['tolerance']:.4f}"
    )
    assert f"(baseline {band['value']:.4f} from {json.loads(BASELINE.read_text())['source_run']})" in message
    assert message.endswith(f"band: {band['why']}")
    finding = json.loads(gate["baseline"].read_text())["findings"][DOCTORED_ARM]["diff_mean"]
    message = failed[f"{DOCTORED_ARM} mean - standalone"].get("message")
    assert message.startswith(
        f"{DOCTORED_ARM} mean - standalone = {finding['value'] - LOWER_BY / 500:.4f}, outside its band "
        f"{finding['value']:.4f} ± {finding['tolerance']:.4f}"
    )
    assert message.endswith(f"band: {finding['why']}") and "and a bootstrap of the 200 standalone runs" in message
    table = [
        line
        for line in md.read_text().splitlines()
        if line.startswith(f"| {DOCTORED_ARM} ") or line.startswith("| standalone ")
    ]
    assert [line.split(" | ")[1] for line in table[:4]] == [
        "mean",
        "median",
        "mean - standalone",
        "P(> standalone)",
    ]  # moved first
    assert all("**MOVED**" in line for line in table[:4]) and not any("MOVED" in line for line in table[4:])
    assert f"**FAILED**: 4 of {n} checks moved" in md.read_text()


def test_a_changed_verdict_passes_and_says_so_in_junit_and_markdown():
    rows = [
        {
            "arm": "transfer fixed=1",
            "statistic": "verdict",
            "baseline": "worse",
            "value": "no evidence",
            "tolerance": None,
            "ok": True,
            "finding": "verdict",
            "note": "worse -> no evidence",
        },
        {
            "arm": "standalone",
            "statistic": "mean",
            "baseline": 0.8,
            "value": 0.8,
            "tolerance": 0.03,
            "ok": True,
            "finding": None,
            "note": None,
        },
    ]
    baseline = {
        "source_run": "compare-x",
        "run": {"engine": "tensorflow"},
        "arms": {"standalone": {"mean": {"why": "W"}}},
    }
    xml = ET.fromstring(junit_xml(rows, baseline, run="r", baseline_file="b.json").encode())
    assert xml.get("failures") == "0"
    verdict = next(c for c in xml.iter("testcase") if c.get("name") == "transfer fixed=1 verdict")
    assert "changed, not a failure: worse -> no evidence" in verdict.find("system-out").text
    assert 'may not flip between "better" and "worse"' in verdict.find("system-out").text
    md = markdown(rows, baseline, run="r", baseline_file="b.json")
    assert md.startswith("## blobs-transfer regression gate: tensorflow engine")
    assert (
        "**OK**: all 2 checks within their bands. Changed, not failures (a verdict to or from no evidence): "
        "transfer fixed=1 verdict worse -> no evidence." in md
    )
    assert md.index("| transfer fixed=1 | verdict |") < md.index("| standalone | mean |")  # changed before ok
    assert "| no flip | changed |" in md


@pytest.mark.parametrize(
    "ok, note, result", [(True, None, "ok"), (True, "worse -> no evidence", "changed"), (False, None, "MOVED")]
)
def test_the_table_shows_a_verdict_as_no_flip_and_its_result(ok, note, result):
    row = {
        "arm": "t",
        "statistic": "verdict",
        "baseline": "worse",
        "value": "better" if not ok else "no evidence",
        "tolerance": None,
        "ok": ok,
        "finding": "verdict",
        "note": note,
    }
    header, table = gate_table([row])
    assert table[0][header.index("tolerance")] == "no flip" and table[0][header.index("result")] == result
    assert table[0][header.index("change")] == (note or "")


def test_a_difference_of_studies_names_the_key_and_both_values():
    assert difference("study.repeats", 3, 30) == "study.repeats 3 (baseline 30)"
    assert difference("target.n_train", UNSET, None) == "target.n_train unset (baseline None)"
