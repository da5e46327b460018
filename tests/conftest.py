"""Shared fixtures: the tutorial's config and problems, TensorFlow imported quietly once, and the studies that
several test modules read, each made once a session (a test that changes one works on its own copy).

- `gate_study`: the gate study (configs/gate.toml) at seed 0 on the Numba and the TensorFlow engine, run by
  docs/ci/gate.sh as the CI jobs run it (slow tests only: tests/render/test_gate.py, tests/api/test_gate.py).
- `default_study`: the full default study as the README runs it (slow tests only: tests/rundir).

No test outside `-m slow` may use `gate_study`, `default_study` or `in_process_sweep` (the inner loop must stay
about a minute): a test that needs a run uses the tiny ones below.
- `results_dir`, `tiny_run`, `tiny_baseline`: a 2-epoch source model, a tiny compare run beside it and that
  run's baseline (tests/rundir, tests/api, tests/test_cli.py); `run_copy` copies the run for one test.
- `sweep_config`, `small_sweep`: a 2 x 2 sweep of 3 epochs (tests/rundir, tests/render, tests/api);
  `sweep_copy` copies it for one test.
- `runs_folder`: a results folder of finished and interrupted runs and sweeps (tests/rundir/test_listing.py,
  tests/export/test_mlflow.py).
- `in_process_sweep`: a 3 x 2 sweep of 30 epochs in this process, the reference of the Dask tests (slow).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# pytest rewrites every test module's asserts when it imports it (6 s of a 2-core machine's collection) and caches
# the result in __pycache__ (ignored by git) unless Python is told not to write bytecode; where PYTHONDONTWRITEBYTECODE
# is set (this project's machines set it), the suite caches its own modules anyway. Commands it starts are untouched.
sys.dont_write_bytecode = False

import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from blobs_transfer.config import Config, to_toml  # noqa: E402
from blobs_transfer.problems import make_problem  # noqa: E402
from tests.helpers import BASELINE, GRID, ROOT, SWEEP, TINY, invoke, last_line_dir  # noqa: E402

WHOLE_STUDIES = {"gate_study", "default_study", "in_process_sweep"}


# Session fixtures that cost seconds: under pytest-xdist each worker would make its own, so their users run on one.
SHARED_SESSION = WHOLE_STUDIES | {"runs_folder"}
TESTS = Path(__file__).parent


def _worker_scopes() -> dict[str, str]:
    """Test file -> the unit pytest-xdist sends to one worker: the name of the costly session fixture the file
    uses, or the file itself where it has module- or class-scoped fixtures. Other files are not listed: each of
    their tests goes wherever a worker is free."""
    scopes = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        asked = {
            a.split("=")[0].split(":")[0].strip()
            for m in re.finditer(r"def \w+\(([^)]*)\)", text)
            for a in m[1].split(",")
        }
        asked |= set(re.findall(r"usefixtures\(\s*[\"'](\w+)", text))
        shared = sorted(SHARED_SESSION & asked)  # a parameter of a test or a fixture
        if len(shared) > 1:
            raise pytest.UsageError(f"{path} uses {shared}: one file, one costly session fixture (xdist scopes)")
        key = path.relative_to(TESTS.parent).as_posix()
        if shared:
            scopes[key] = shared[0]
        elif re.search(r"scope=\"(module|class)\"", text):
            scopes[key] = key
    return scopes


def _rank(scope: str, scopes: dict[str, str]) -> int:
    """Which units go out first, so that no long one is left for the end while the other worker idles: the
    users of a costly fixture, then files with module fixtures, then the tests of files with slow tests."""
    if scope in SHARED_SESSION:
        return 0
    if scope in scopes:
        return 1
    path = TESTS.parent / scope.split("::")[0]
    return 2 if path.is_file() and "mark.slow" in path.read_text(encoding="utf-8") else 3


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's own grouping (`--dist loadgroup`) renames each test's node id, which pytest 9 no longer
    lets a plugin do; this schedules by `_worker_scopes` instead, the costly units first (`_rank`)."""
    from xdist.scheduler import LoadScopeScheduling

    scopes = _worker_scopes()

    class ByCostlyFixture(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return scopes.get(nodeid.split("::")[0], nodeid)

        def _assign_work_unit(self, node) -> None:
            if not self.ordered:  # once, when the queue is full
                self.ordered = True
                ranks = {}
                for scope in sorted(self.workqueue, key=lambda s: ranks.setdefault(s, _rank(s, scopes))):
                    self.workqueue.move_to_end(scope)
            super()._assign_work_unit(node)

    return ByCostlyFixture(config, log)


def pytest_collection_modifyitems(config, items):
    """The rule above, checked at collection: a test that uses a whole study, even through another fixture, is
    marked slow."""
    wrong = [i.nodeid for i in items if WHOLE_STUDIES & set(i.fixturenames) and not i.get_closest_marker("slow")]
    if wrong:
        raise pytest.UsageError(f"mark these slow or give them a tiny run: they use a whole study: {wrong}")


@pytest.fixture(scope="session")
def cfg() -> Config:
    return Config()


@pytest.fixture(scope="session")
def problem1(cfg):
    return make_problem(cfg.catalogue_spec(1))


@pytest.fixture(scope="session")
def problem2(cfg):
    return make_problem(cfg.catalogue_spec(2))


# --- the gate study -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gate_study(tmp_path_factory):
    """docs/ci/gate.sh as the CI jobs run it: the gate study on each engine against its committed baseline. The
    only runs of the gate study at seed 0 in a session: tests/api/test_gate.py reads the same runs ("reference",
    the Numba engine's, and "tensorflow")."""
    tmp = tmp_path_factory.mktemp("gate")
    summary_file = tmp / "step_summary.md"
    summary_file.write_text("earlier step\n")
    env = {
        **os.environ,
        "GATE_OUT": str(tmp / "out"),
        "GITHUB_STEP_SUMMARY": str(summary_file),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(["bash", "docs/ci/gate.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    run_of = {
        e: Path(json.loads((tmp / "out" / e / "compare.json").read_text())["directory"])
        for e in ("numba", "tensorflow")
    }
    return {
        "tmp": tmp,
        "reference": run_of["numba"],
        "tensorflow": run_of["tensorflow"],
        "baseline": BASELINE,
        "out": tmp / "out",
        "done": done,
        "step_summary": summary_file,
        "arms": len(json.loads(BASELINE.read_text())["arms"]),
    }


# --- the default study ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def default_study(tmp_path_factory):
    """The full default study, exactly as the README runs it: train-source, then compare (30 repeats)."""
    folder = tmp_path_factory.mktemp("study")
    assert invoke("train-source", "--results-dir", folder).exit_code == 0
    return last_line_dir(invoke("compare", "--results-dir", folder), folder)


# --- a tiny compare run and a tiny sweep ------------------------------------------------------------------


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory):
    """A results folder with a source model trained for 2 epochs (tests add runs beside it)."""
    folder = tmp_path_factory.mktemp("results")
    assert invoke("train-source", "--epochs", 2, "--results-dir", folder).exit_code == 0
    return folder


@pytest.fixture(scope="session")
def tiny_run(results_dir):
    result = invoke("compare", *TINY, "--results-dir", results_dir)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def tiny_baseline(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline") / "baseline.json"
    assert invoke("baseline", tiny_run, "--out", out).exit_code == 0
    return out


@pytest.fixture()
def run_copy(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    return run


@pytest.fixture(scope="session")
def sweep_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweepconfig") / "sweep.toml"
    path.write_text(SWEEP.format(epochs=3))
    return path


@pytest.fixture(scope="session")
def small_sweep(sweep_config, tmp_path_factory):
    result = invoke("sweep", "--config", sweep_config, "--results-dir", tmp_path_factory.mktemp("sweep") / "results")
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


@pytest.fixture()
def sweep_copy(small_sweep, tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(small_sweep, folder)
    return folder


# --- a results folder of finished and interrupted runs --------------------------------------------------

ARMS = """
[study]
source_repeats = 2
repeats = 2

[training]
epochs = 2

[[arms]]
name = "standalone"
weights = "fresh"
repeats = 4

[[arms]]
name = "transfer fixed=1"
weights = "source"
fixed = 1
"""


def next_second() -> None:
    time.sleep(1.05 - time.time() % 1)


@pytest.fixture(scope="session")
def runs_folder(tmp_path_factory):
    """results/ with a compare run and a sweep (as if made by the CLI), an interrupted compare run (config
    written, nothing trained), an interrupted sweep (one of two cells done), and folders that are neither."""
    from blobs_transfer import api as study
    from blobs_transfer.rundir.files import INCOMPLETE, new_run_dir
    from blobs_transfer.sweep import grid as sweeps

    tmp = tmp_path_factory.mktemp("runs")
    results = tmp / "results"
    (tmp / "tiny.toml").write_text(ARMS)
    (tmp / "grid.toml").write_text(ARMS + '\n[sweep]\n"target.n_train" = [20, 50]\n')
    cfg = study.load_config(tmp / "tiny.toml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["blobs-transfer", "compare", "--config", str(tmp / "tiny.toml")])
        compare = study.compare(cfg, results).run_dir
        next_second()  # names carry the start to the second, and these tiny runs take less than one
        mp.setattr(sys, "argv", ["blobs-transfer", "sweep", "--config", str(tmp / "grid.toml")])
        sweep = study.run_sweep(sweeps.load_sweep(tmp / "grid.toml"), results).sweep_dir
    next_second()
    broken = new_run_dir(results, "compare")
    (broken / "config.toml").write_text(to_toml(cfg))
    half = results / "sweep-20000101-000000"
    shutil.copytree(sweep, half)
    (half / "metadata.json").unlink()
    (half / "cells" / "0001" / "cell.json").unlink()
    (half / INCOMPLETE).write_text("this sweep has not finished\n")
    (results / "fit-20000101-000000").mkdir()
    (results / "fit-20000101-000000" / "config.toml").write_text(to_toml(cfg))
    (results / "source").mkdir(exist_ok=True)
    return {"tmp": tmp, "results": results, "compare": compare, "sweep": sweep, "broken": broken, "half": half}


# --- the reference sweep of the Dask tests ----------------------------------------------------------------


@pytest.fixture(scope="session")
def in_process_sweep(tmp_path_factory):
    """The reference: the sweep GRID (30 epochs) run in this process."""
    folder = tmp_path_factory.mktemp("in_process")
    config = folder / "grid.toml"
    config.write_text(GRID.format(epochs=30))
    result = invoke("sweep", "--config", config, "--results-dir", folder)
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])
