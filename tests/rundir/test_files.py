"""Results on disk (blobs_transfer.rundir.files): scores and curves written and read back, run
directories and their INCOMPLETE marker, figures drawn in parallel, and a full disk as one line. Hand-made
inputs with known answers, in tmp_path."""

import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from functools import partial

import numpy as np
import pytest
from click.testing import CliRunner

from blobs_transfer import atomic
from blobs_transfer.cli import cli
from blobs_transfer.config import Arm
from blobs_transfer.errors import ResultsError
from blobs_transfer.rundir import files
from blobs_transfer.train.plan import Replica, RunResult

STANDALONE = Arm("standalone")
ODD = Arm('transfer, "odd" name', weights="source", fixed=1)  # a name the CSV writer must quote
REPLICAS = [Replica(STANDALONE, None, 0, 11), Replica(ODD, 2, 1, 22)]
# the second run diverged: its loss is infinite, its accuracies meaningless
FINAL = {
    "test_accuracy": np.array([0.8123, np.nan]),
    "test_correct": np.array([406, 0]),
    "train_accuracy": np.array([0.79, np.nan]),
    "train_loss": np.array([0.4567891, np.inf]),
    "test_loss": np.array([0.5, np.nan]),
}
SCORES_CSV = (
    "arm,source_index,repeat,seed,test_accuracy,test_correct,train_accuracy,final_loss,test_loss,diverged\n"
    "standalone,,0,11,0.812,406,0.790,0.456789,0.500000,0\n"
    '"transfer, ""odd"" name",2,1,22,,,,,,1\n'
)


def test_json_is_indented_and_never_nan(tmp_path):
    files.write_json(tmp_path / "a.json", {"a": 1, "b": [0.5, None]})
    assert (tmp_path / "a.json").read_text() == '{\n  "a": 1,\n  "b": [\n    0.5,\n    null\n  ]\n}\n'
    with pytest.raises(ValueError):
        files.write_json(tmp_path / "nan.json", {"mean": float("nan")})
    assert not (tmp_path / "nan.json").exists() and len(list(tmp_path.iterdir())) == 1


# --- scores and curves ----------------------------------------------------------------------------


def test_scores_are_written_with_a_diverged_runs_fields_empty(tmp_path):
    rows = files.score_rows(REPLICAS, FINAL, np.array([False, True]))
    assert rows == [
        ["standalone", "", 0, 11, "0.812", 406, "0.790", "0.456789", "0.500000", 0],
        ['transfer, "odd" name', 2, 1, 22, "", "", "", "", "", 1],
    ]
    files.write_scores(tmp_path / "scores.csv", rows)
    assert (tmp_path / "scores.csv").read_text() == SCORES_CSV


def test_scores_read_back_as_the_runs_records(tmp_path):
    """read_scores gives, field for field, what RunResult.records() says a run reads back as: None for a diverged
    run's accuracies and losses, never NaN."""
    (tmp_path / "scores.csv").write_text(SCORES_CSV)
    read = files.read_scores(tmp_path / "scores.csv")
    assert read == [
        {
            "arm": "standalone",
            "source_index": None,
            "repeat": 0,
            "seed": 11,
            "test_accuracy": 0.812,
            "test_correct": 406,
            "train_accuracy": 0.79,
            "final_loss": 0.456789,
            "test_loss": 0.5,
            "diverged": False,
        },
        {
            "arm": 'transfer, "odd" name',
            "source_index": 2,
            "repeat": 1,
            "seed": 22,
            "test_accuracy": None,
            "test_correct": None,
            "train_accuracy": None,
            "final_loss": None,
            "test_loss": None,
            "diverged": True,
        },
    ]
    assert read == RunResult(REPLICAS, FINAL, {}).records()


def test_scores_cut_short_or_without_a_column_are_one_line_errors(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text(SCORES_CSV.rsplit(",", 3)[0] + "\n")  # the last row lost its last three fields
    with pytest.raises(
        ResultsError, match=r"scores.csv line 3 is not a whole row \(the file was cut short or edited\)$"
    ):
        files.read_scores(path)
    path.write_text(SCORES_CSV.replace(",seed,", ",sead,", 1))
    with pytest.raises(ResultsError, match=r"scores.csv lacks columns seed$"):
        files.read_scores(path)


def test_curves_are_written_to_five_digits_with_missing_values_empty(tmp_path):
    history = {
        key: np.array([[0.3, 0.5, 0.8123456], [0.31, np.nan, np.inf]]) + k for k, key in enumerate(files.CURVE_KEYS)
    }
    files.write_curves(tmp_path / "curves", REPLICAS, history)
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == [f"{k}.csv" for k in sorted(files.CURVE_KEYS)]
    text = (tmp_path / "curves" / "train_loss.csv").read_text()  # the first key: k = 0
    assert text == (
        "arm,source_index,repeat,epoch_0,epoch_1,epoch_2\n"
        "standalone,,0,0.3,0.5,0.81235\n"
        '"transfer, ""odd"" name",2,1,0.31,,\n'
    )
    assert (tmp_path / "curves" / "test_accuracy.csv").read_text().splitlines()[1] == "standalone,,0,3.3,3.5,3.8123"
    last = {0: 0.81235, 1: 1.8123, 2: 2.8123, 3: 3.8123}  # five significant digits
    for k, key in enumerate(files.CURVE_KEYS):  # read back to those digits, NaN where a value was missing
        np.testing.assert_array_equal(
            files.read_curve(tmp_path / "curves", key), [[0.3 + k, 0.5 + k, last[k]], [0.31 + k, np.nan, np.nan]]
        )


def test_a_curve_without_runs_reads_as_an_empty_array(tmp_path):
    (tmp_path / "test_loss.csv").write_text("arm,source_index,repeat,epoch_0,epoch_1\n")
    assert files.read_curve(tmp_path, "test_loss").shape == (0, 2)


# --- run directories ------------------------------------------------------------------------------


class FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_new_run_dirs_are_named_by_kind_and_second_and_start_incomplete(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "datetime", FrozenClock)
    made = [files.new_run_dir(tmp_path / "results", kind) for kind in ("compare", "compare", "sweep", "compare")]
    assert [p.name for p in made] == [
        "compare-20240102-030405",
        "compare-20240102-030405-1",
        "sweep-20240102-030405",
        "compare-20240102-030405-2",
    ]
    for path in made:
        assert [p.name for p in path.iterdir()] == [files.INCOMPLETE]
        assert (
            path / "INCOMPLETE"
        ).read_text() == "this run has not finished (it is running, was interrupted, or failed)\n"
    files.mark_complete(made[0])
    files.mark_complete(made[0])  # twice is harmless
    assert list(made[0].iterdir()) == []


def test_a_run_dir_must_be_complete_and_hold_scores(tmp_path):
    run = tmp_path / "compare-1"
    run.mkdir()
    (run / files.INCOMPLETE).write_text("")
    with pytest.raises(
        ResultsError, match=re.escape(f"{run} is an incomplete run (interrupted or failed); re-run `compare`")
    ):
        files.require_complete_run(run)
    files.mark_complete(run)
    with pytest.raises(
        ResultsError, match=re.escape(f"{run} is not a run directory of `blobs-transfer compare` (no scores.csv)")
    ):
        files.require_complete_run(run)
    (run / "scores.csv").write_text(SCORES_CSV)
    assert files.require_complete_run(str(run)) == run


def test_a_results_folder_is_made_and_proved_writable(tmp_path):
    folder = files.ensure_writable(tmp_path / "a" / "b")
    assert folder == tmp_path / "a" / "b" and folder.is_dir() and list(folder.iterdir()) == []  # no probe left
    (tmp_path / "file").write_text("")
    with pytest.raises(ResultsError, match=re.escape(f"results folder {tmp_path / 'file' / 'x'} cannot be written: ")):
        files.ensure_writable(tmp_path / "file" / "x")


def test_metadata_records_the_command_and_the_versions(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/somewhere/blobs-transfer", "compare", "--repeats", "2"])
    meta = files.run_metadata(root_seed=3, wall_seconds=1.5)
    assert meta["command"] == "blobs-transfer compare --repeats 2"
    assert (meta["root_seed"], meta["wall_seconds"]) == (3, 1.5)
    assert meta["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"numpy", "numba", "matplotlib", "tensorflow", "keras"} <= set(meta["versions"])
    assert json.loads(json.dumps(meta, allow_nan=False)) == meta


# --- figures ------------------------------------------------------------------------------------


PARALLEL_FIGURES = """
import sys
from pathlib import Path
from matplotlib.figure import Figure
from blobs_transfer.rundir.files import save_figure, save_figures

def figure(k):
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot(range(10), [v ** k for v in range(10)])
    return fig

out = Path(sys.argv[1])
used = save_figures({out / f"par{k}.png": figure(k) for k in range(3)}, workers=2)
for k in range(3):
    save_figure(figure(k), out / f"seq{k}.png")
print(used)
"""


@pytest.mark.slow
def test_figures_drawn_in_parallel_are_the_figures_drawn_one_by_one(tmp_path):
    """save_figures forks children to draw on every core: the files are byte for byte save_figure's. Run in a
    fresh interpreter, because in this test process TensorFlow may be loaded and then save_figures rightly
    draws one by one, which would compare that path with itself."""
    done = subprocess.run(
        [sys.executable, "-c", PARALLEL_FIGURES, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"]  # two processes drew: the parallel path was taken
    for k in range(3):
        assert (tmp_path / f"par{k}.png").read_bytes() == (tmp_path / f"seq{k}.png").read_bytes()
    assert not list(tmp_path.glob(".*tmp*"))


WORKER_FIGURES = """
import os
import sys
from functools import partial
from pathlib import Path
from matplotlib.figure import Figure
from blobs_transfer.rundir.files import FigureWorker, save_figure

def figure(k):
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot(range(10), [v ** k for v in range(10)])
    return fig

def job(k, out):
    (out / f"pid{k}").write_text(str(os.getpid()))  # which process drew it
    return {f"w{k}.png": figure(k)}

out = Path(sys.argv[1])
with FigureWorker(lambda: None) as worker:
    forked = worker.pid is not None
    names = worker.draw([partial(job, k, out) for k in range(3)], [1, 1, 2], out)
for k in range(3):
    save_figure(figure(k), out / f"seq{k}.png")
print(forked, sorted(names), len({(out / f"pid{k}").read_text() for k in range(3)} - {str(os.getpid())}))
"""


@pytest.mark.slow
def test_a_figure_worker_draws_the_figures_it_is_sent_on_two_cores(tmp_path):
    """FigureWorker: forked before the work exists, sent its jobs later, it splits them over two processes (the
    heavy job alone, the two light ones together), neither of them this one; the files are byte for byte
    save_figure's. In a fresh interpreter, where a fork is safe (no TensorFlow)."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER_FIGURES, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "['w0.png',", "'w1.png',", "'w2.png']", "2"]
    assert (tmp_path / "pid0").read_text() == (tmp_path / "pid1").read_text() != (tmp_path / "pid2").read_text()
    for k in range(3):
        assert (tmp_path / f"w{k}.png").read_bytes() == (tmp_path / f"seq{k}.png").read_bytes()
    assert not list(tmp_path.glob(".*tmp*"))


def _text_job(path, text):
    atomic.write_text(path, text)
    return {}


def test_a_figure_worker_that_died_leaves_the_figures_to_this_process(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "fork_workers", lambda n: 2)  # fork even where this test process would not
    with files.FigureWorker(lambda: None) as worker:
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.draw([partial(_text_job, tmp_path / "a.txt", "here")], [1], tmp_path) == []
    assert (tmp_path / "a.txt").read_text() == "here"
    with files.FigureWorker(lambda: None) as idle:  # never sent work: it ends when closed
        pid = idle.pid
    assert pid is not None and idle.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # already reaped


def _pid_job(path):
    atomic.write_text(path, str(os.getpid()))
    return {}


def test_a_batch_with_more_to_come_goes_to_the_helper_and_the_worker_takes_the_last(tmp_path, monkeypatch):
    """compare sends the run's figures while the scores' statistics are computed (more=True), then the scores'
    figure: the first batch goes to the helper, so that the worker takes the last as soon as it is sent; where
    the worker dies between them, this process draws both batches."""
    monkeypatch.setattr(files, "fork_workers", lambda n: 2)  # fork even where this test process would not
    with files.FigureWorker(lambda: None) as worker:
        pid = worker.pid
        first = [partial(_pid_job, tmp_path / f"early{k}") for k in range(2)]
        assert worker.draw(first, [3, 9], tmp_path, more=True) == []
        assert worker.draw([partial(_pid_job, tmp_path / "late")], [13], tmp_path) == []  # text jobs: no figures
    early = {(tmp_path / f"early{k}").read_text() for k in range(2)}
    assert len(early) == 1 and early.isdisjoint({str(pid), str(os.getpid())})  # both by the helper
    assert (tmp_path / "late").read_text() == str(pid)
    with files.FigureWorker(lambda: None) as worker:
        worker.draw([partial(_text_job, tmp_path / "b.txt", "first")], [1], tmp_path, more=True)
        os.kill(worker.pid, signal.SIGKILL)
        os.unlink(tmp_path / "b.txt") if (tmp_path / "b.txt").exists() else None
        worker.draw([partial(_text_job, tmp_path / "c.txt", "last")], [1], tmp_path)
    assert (tmp_path / "b.txt").read_text() == "first" and (tmp_path / "c.txt").read_text() == "last"


def test_shares_balance_the_weights_and_keep_the_jobs_order():
    assert files.shares([2, 3, 3, 9], 2) == [[3], [0, 1, 2]]  # train_test alone, the three light figures together
    assert files.shares([2, 3, 3, 9, 0], 2) == [[3], [0, 1, 2, 4]]
    assert files.shares([1, 1, 1, 1], 2) == [[0, 2], [1, 3]]
    assert files.shares([5, 1], 4) == [[0], [1]]  # never an empty share
    assert files.shares([2, 3], 1) == [[0, 1]]


def test_figures_are_drawn_in_one_process_where_a_fork_is_unsafe(monkeypatch):
    from blobs_transfer.rundir.files import fork_workers

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert fork_workers(3) == 3 and fork_workers(9) == 4
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # another thread: no fork
    assert fork_workers(3) == 1
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setitem(sys.modules, "tensorflow", object())  # TensorFlow's pools: no fork
    assert fork_workers(3) == 1


# --- a full disk ----------------------------------------------------------------------------------


@pytest.mark.slow
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
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "blobs_transfer",
            "compare",
            "--repeats",
            "2",
            "--epochs",
            "2",
            "--results-dir",
            str(results),
        ],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=limit,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and "cannot write" in lines[0] and "File too large" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    (new,) = set(results.glob("compare-*")) - {earlier}
    assert (new / "INCOMPLETE").exists() and (new / "scores.csv").exists()
    assert not list(new.glob(".*.tmp-*"))  # no half-written file left behind
    assert {p: p.read_bytes() for p in before} == before


def test_curves_as_written_are_the_curves_read_back(tmp_path):
    """compare computes its statistics from curve_as_written instead of reading the curves back: the two must be
    equal to the bit, over every magnitude a curve can hold (accuracies, losses from tiny to diverging), the
    powers of ten and the halfway cases around them, and non-finite values."""
    rng = np.random.default_rng(7)
    special = [
        1e-9,
        0.0,
        -0.0,
        1.0,
        0.1,
        1e-3,
        9.99995,
        0.999995,
        99999.5,
        123456.0,
        1e-9,
        5e-13,
        np.nan,
        np.inf,
        -np.inf,
        0.786,
        1.5,
        2.5,
        0.00012345,
        3.0e7,
    ]
    values = np.concatenate([rng.random(3000), 10 ** rng.uniform(-13, 8, 3000), -rng.random(105), special])
    values = values.astype(np.float32)[: len(values) // 7 * 7].reshape(-1, 7)  # runs x epochs, as the engines give
    replicas = [Replica(Arm("standalone"), None, r, r) for r in range(values.shape[0])]
    history = {k: values for k in files.CURVE_KEYS}
    files.write_curves(tmp_path, replicas, history)
    read = files.read_curve(tmp_path, "test_loss")
    assert np.array_equal(files.curve_as_written(values), read, equal_nan=True)
    assert np.isnan(read).sum() == np.isnan(files.curve_as_written(values)).sum() > 0


def test_work_in_a_child_is_done_and_a_failed_child_is_redone_here(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "fork_workers", lambda n: 2)  # fork even where this test process would not
    target = tmp_path / "written.txt"
    with files.in_child(lambda: atomic.write_text(target, "done")):
        pass
    assert target.read_text() == "done"
    calls = []

    def fails_in_the_child():
        calls.append(os.getpid())
        if os.getpid() != parent:
            raise OSError("disk full")
        atomic.write_text(target, "again")

    parent = os.getpid()
    with files.in_child(fails_in_the_child):
        pass
    assert target.read_text() == "again" and calls == [parent]  # the child's own call is not in this list


def test_a_value_computed_in_a_child_comes_back_and_a_failed_child_leaves_it_here(monkeypatch):
    monkeypatch.setattr(files, "fork_workers", lambda n: 2)  # fork even where this test process would not
    parent = os.getpid()
    with files.Forked(lambda: (os.getpid(), list(range(100_000)))) as forked:  # more than a pipe's buffer
        pid, numbers = forked.result()
    assert pid != parent and numbers == list(range(100_000))
    assert forked.result()[1] is numbers  # asked again: the same value, not computed again
    with files.Forked(lambda: None if os.getpid() != parent else "here") as forked:
        assert forked.result() is None  # the child's answer, though it is None

    def fails_in_the_child():
        if os.getpid() != parent:
            raise OSError("disk full")
        return "here"

    with files.Forked(fails_in_the_child) as forked:
        assert forked.result() == "here"
    with files.Forked(lambda: list(range(100_000))) as unasked:
        child = unasked.pid
    assert child is not None and unasked.pid is None  # never asked: ended and reaped on leaving the block
    with pytest.raises(ChildProcessError):
        os.waitpid(child, 0)
    monkeypatch.setattr(files, "fork_workers", lambda n: 1)  # where a fork is unsafe: computed here, on asking
    with files.Forked(os.getpid) as here:
        assert here.pid is None and here.result() == parent


def _laid_out_figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(range(10), label="a long label for the legend")
    left.legend(loc="best")
    image = right.imshow(np.arange(12.0).reshape(3, 4), aspect="auto")
    fig.colorbar(image, ax=right, shrink=0.8)
    right.set_xlabel("x label that constrained layout must make room for")
    fig.suptitle("a title\nof two lines")
    return fig


def test_a_laid_out_figure_is_drawn_once_and_gives_savefigs_bytes(tmp_path, monkeypatch):
    """save_figure lays a constrained figure out itself, then draws it once (savefig alone draws it twice: once
    with drawing switched off, to lay it out), and the file is byte for byte savefig's."""
    from matplotlib.figure import Figure

    expected = io.BytesIO()
    _laid_out_figure().savefig(expected, format="png", dpi=120, pil_kwargs={"compress_level": 1})
    draws = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, renderer: draws.append(1) or draw(fig, renderer))
    files.save_figure(_laid_out_figure(), tmp_path / "once.png")
    assert (tmp_path / "once.png").read_bytes() == expected.getvalue() and len(draws) == 1
