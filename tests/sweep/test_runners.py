"""Where a sweep's batches run (blobs_transfer.sweep.runners): on a real Dask cluster (LocalCluster or a scheduler
and workers started here), the same scores as in-process, a killed worker loses nothing, a lost scheduler stops
with one line and --resume finishes, and without Dask one line says how to install it. Slow: each test starts
worker processes that import TensorFlow."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli
from tests.helpers import GRID

pytestmark = pytest.mark.slow

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
EXE = [sys.executable, "-m", "blobs_transfer"]


def write(folder, text, name="grid.toml"):
    path = folder / name
    path.write_text(text)
    return path


def sweep_dir_of(output: str) -> Path:
    return Path(output.strip().splitlines()[-1])


def wait_for(predicate, seconds=240, poll=0.1):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


@contextmanager
def paused(proc):
    """The sweep's driver stopped (SIGSTOP) while the test breaks the cluster, then let go (SIGCONT): once a
    cell is written, the driver gathers the next batch only after the next cell's statistics, and a fast
    machine otherwise gathers every batch before the test's kill lands (all cells then finish and the test
    proves nothing)."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def first_cell(results) -> bool:
    return wait_for(lambda: list(results.glob("sweep-*/cells/*/cell.json")), poll=0.002)


@pytest.fixture(scope="module")
def in_process(in_process_sweep):
    """The reference: the same sweep run in this process (the session's `in_process_sweep`)."""
    return in_process_sweep


def test_killed_worker_loses_nothing_and_scores_match_in_process(tmp_path, in_process):
    """A local cluster of two spawned workers; one is killed (SIGKILL) once the first cell is written: its
    cells run again, the sweep completes, and runs.csv is byte-identical to the in-process sweep's."""
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [
            *EXE,
            "sweep",
            "--config",
            str(write(tmp_path, GRID.format(epochs=30))),
            "--results-dir",
            str(results),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        text=True,
    )
    assert first_cell(results), "no cell finished"
    with paused(proc):
        workers = [
            p
            for p in psutil.Process(proc.pid).children(recursive=True)
            # a spawned worker's command line, or the title a worker gives itself where setproctitle is installed
            if ("spawn_main" in " ".join(p.cmdline()) or "dask worker" in " ".join(p.cmdline()))
            and "resource_tracker" not in " ".join(p.cmdline())
        ]
        assert len(workers) >= 2, [p.cmdline() for p in workers]
        done_at_kill = len(list(results.glob("sweep-*/cells/*/cell.json")))
        os.kill(workers[0].pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert done_at_kill < 6, "the sweep had finished before the kill: the test proves nothing"
    sweep_dir = sweep_dir_of(out)
    assert (sweep_dir / "runs.csv").read_bytes() == (in_process / "runs.csv").read_bytes()
    assert (sweep_dir / "cells.csv").read_bytes() == (in_process / "cells.csv").read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lost_scheduler_stops_with_one_line_and_resume_finishes(tmp_path, in_process):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    worker = subprocess.Popen(
        [dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    try:
        results = tmp_path / "results"
        config = write(tmp_path, GRID.format(epochs=30))
        proc = subprocess.Popen(
            [*EXE, "sweep", "--config", str(config), "--results-dir", str(results), "--scheduler", address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
            text=True,
        )
        assert first_cell(results), "no cell finished"
        with paused(proc):
            scheduler.kill()
            scheduler.wait(timeout=30)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, (out, err)
        errors = [line for line in err.strip().splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and "scheduler" in errors[0] and "--resume" in errors[0], err
        assert "Traceback" not in err
        (sweep_dir,) = results.glob("sweep-*")
        assert (sweep_dir / "INCOMPLETE").exists()
        kept = len(list(sweep_dir.glob("cells/*/cell.json")))
        assert 1 <= kept < 6
        result = CliRunner().invoke(cli, ["sweep", "--config", str(config), "--resume", str(sweep_dir)])
        assert result.exit_code == 0, result.output
        assert (sweep_dir / "runs.csv").read_bytes() == (in_process / "runs.csv").read_bytes()
    finally:
        for p in (worker, scheduler):
            p.kill()
            p.wait(timeout=30)


def test_scheduler_without_dask_says_how_to_install(tmp_path):
    config = write(tmp_path, GRID.format(epochs=2))
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from blobs_transfer.cli import cli\n"
        f"cli(['sweep', '--config', {str(config)!r}, '--results-dir', {str(tmp_path / 'r')!r},"
        " '--scheduler', 'tcp://127.0.0.1:1'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install -e ".[dask]"' in lines[0], done.stderr
