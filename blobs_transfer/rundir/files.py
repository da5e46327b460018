"""Results on disk: run directories and the CSV/JSON/TOML files a user opens.

The only module (with the CLI) that touches the filesystem. Never imports TensorFlow, so `report` and
`check` stay fast. Every file is written by `blobs_transfer.atomic` (to a temporary name, then renamed into place),
so a crash or Ctrl-C never leaves a half-written file under a real name; a run directory holds an INCOMPLETE
marker until the run has finished.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pickle
import platform
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from blobs_transfer import atomic
from blobs_transfer.errors import ResultsError

INCOMPLETE = "INCOMPLETE"
SCORE_COLUMNS = (
    "arm",
    "source_index",
    "repeat",
    "seed",
    "test_accuracy",
    "test_correct",
    "train_accuracy",
    "final_loss",
    "test_loss",
    "diverged",
)
CURVE_KEYS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


# --- writing ----------------------------------------------------------------------------------


def write_json(path: Path, obj: Any) -> None:
    atomic.write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def save_figure(fig, path: Path, dpi: int = 120) -> None:
    """Write a matplotlib Figure as PNG, atomically. A figure with a layout engine (constrained) is laid out
    once here, at the file's dpi, and then drawn once: savefig would first draw the whole figure with drawing
    switched off only to lay it out (10-17% of a figure's time; the same bytes, tested)."""
    engine = fig.get_layout_engine()
    if engine is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig.set_dpi(dpi)
        FigureCanvasAgg(fig)  # the renderer the layout measures text with, as savefig's
        engine.execute(fig)
        fig.set_layout_engine(None)
    buf = io.BytesIO()
    # zlib level 1: a third of the encoding time of the default 6, for files about 20% larger
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    atomic.write_bytes(path, buf.getvalue())


def fork_workers(n_tasks: int) -> int:
    """How many processes may share `n_tasks` pieces of work (figures, files): one per core, but only
    this one where a fork is unsafe (not Linux, another thread running, or TensorFlow loaded: a fork copies no
    thread, and a lock another thread held would stay held in the child: TensorFlow's pools, a Dask client's
    loop)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if not hasattr(os, "fork") or threading.active_count() > 1 or "tensorflow" in sys.modules:
        return 1
    return max(1, min(n_tasks, cores))


def save_figures(figures: dict[Path, Any], dpi: int = 120, *, workers: int | None = None) -> int:
    """Write several matplotlib Figures as PNG, atomically, rendered in parallel; returns the processes used.

    Drawing and encoding a figure is a few tenths of a second of single-threaded work, a third of a small
    compare command; forked children (`in_child`) draw all but the first share of the figures while this
    process draws that share (`fork_workers` processes unless `workers` says).
    """
    items = list(figures.items())
    workers = max(1, min(len(items), workers or fork_workers(len(items))))
    shares = [items[i::workers] for i in range(workers)]
    with contextlib.ExitStack() as children:
        for share in shares[1:]:
            children.enter_context(in_child(lambda share=share: [save_figure(f, p, dpi) for p, f in share], fork=True))
        for path, fig in shares[0]:
            save_figure(fig, path, dpi)
    return workers


FigureJob = Callable[[], dict[str, Any]]  # draws figures: file name -> matplotlib Figure


def shares(weights: Sequence[float], n: int) -> list[list[int]]:
    """Job indices split into at most n shares of about equal weight (the heaviest first, each to the lightest
    share), each share in the jobs' own order: the figures of a share are written in the report's order."""
    return [share for share in _assign(weights, [0.0] * max(1, n)) if share]


def _assign(weights: Sequence[float], loads: list[float]) -> list[list[int]]:
    """Job indices for each of len(loads) processes, each job (the heaviest first) to the least loaded, loads
    (the weight each carries already) updated; each process's jobs in their own order."""
    out: list[list[int]] = [[] for _ in loads]
    for i in sorted(range(len(weights)), key=lambda i: -weights[i]):
        lightest = min(range(len(loads)), key=lambda p: loads[p])
        loads[lightest] += weights[i]
        out[lightest].append(i)
    return [sorted(share) for share in out]


def _draw_share(jobs: Sequence[FigureJob], folder: Path, dpi: int, names: int | None = None) -> list[str]:
    """Draw and write a share of the jobs' figures; each name written is also told on the pipe `names`."""
    written = []
    for job in jobs:
        for name, figure in job().items():
            save_figure(figure, folder / name, dpi)
            written.append(name)
            if names is not None:
                os.write(names, f"{name}\n".encode())
    return written


def _read_exactly(fd: int, n: int) -> bytes:
    """n bytes from a pipe, or fewer where it ends first (its writer closed it, or died)."""
    chunks, left = [], n
    while left and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_told(fd: int) -> str:
    """What the worker's processes told on the names pipe: all of it, for they have all exited (an orphan that
    still holds the pipe open is not waited for)."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks).decode()


def _send(fd: int, work: Any) -> None:
    """Pickled, with its length first: a process forked later may hold the pipe open, so its reader cannot wait
    for the end of the file."""
    data = pickle.dumps(work)
    with os.fdopen(os.dup(fd), "wb") as pipe:
        pipe.write(len(data).to_bytes(8, "little") + data)


def _receive(fd: int) -> Any:
    """What `_send` sent, or None where the pipe ended first (its writer closed it, or died)."""
    size = _read_exactly(fd, 8)
    data = _read_exactly(fd, int.from_bytes(size, "little")) if len(size) == 8 else b""
    return pickle.loads(data) if data else None


def _helper(work_r: int, names: int, prepare: Callable[[], Any]) -> None:
    """A figure worker's helper: warm itself (`prepare`) while nobody waits, then draw each share it is sent."""
    prepare()
    while (work := _receive(work_r)) is not None:
        _draw_share(*work, names)


def _fork(work: Callable[[], Any], close: Sequence[int] = ()) -> int:
    """Fork a child that closes the descriptors `close`, does `work` and exits with status 0, or 1 if the work
    raised; it never runs this process's cleanup. Returns the child's pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for fd in close:
                os.close(fd)
            work()
            code = 0
        except BaseException:
            pass
        os._exit(code)
    return pid


def _reaped(pid: int) -> bool:
    """Wait for the child `pid` to end; whether it succeeded (exit status 0)."""
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _serve(jobs_r: int, names: int, prepare: Callable[[], Any]) -> None:
    """A figure worker's life: import and warm (`prepare`), fork a helper per further core (each warms itself:
    touching the plotting library's objects copies their pages, better now than while drawing), then for each
    batch of jobs it is sent, split them (`_assign`, by the weight each process carries already), send each
    helper its share and draw its own. A batch with more to come goes to the helpers alone, so that this process
    is free to take the next one as it comes. A helper that fails leaves its shares to this process."""
    prepare()
    helpers: list[tuple[int, int]] = []  # (pid, the pipe its shares go down)
    for _ in range(fork_workers(4) - 1):
        work_r, work_w = os.pipe()
        shut = [work_w, *(earlier for _, earlier in helpers)]  # the helper holds no other helper's pipe
        pid = _fork(partial(_helper, work_r, names, prepare), close=shut)
        os.close(work_r)
        helpers.append((pid, work_w))
    loads = [0.0] * (1 + len(helpers))
    given: list[list[tuple]] = [[] for _ in helpers]  # each helper's shares, drawn here if it fails
    while (work := _receive(jobs_r)) is not None:
        jobs, weights, folder, dpi, more = work
        targets = list(range(1, len(loads))) if more and helpers else list(range(len(loads)))
        carried = [loads[p] for p in targets]
        split = _assign(weights, carried)
        for p, share, load in zip(targets, split, carried):
            loads[p] = load
            if p and share:
                given[p - 1].append(([jobs[i] for i in share], folder, dpi))
                with contextlib.suppress(OSError):  # a helper that died is found below
                    _send(helpers[p - 1][1], given[p - 1][-1])
        if targets[0] == 0:
            _draw_share([jobs[i] for i in split[0]], folder, dpi, names)
        if not more:
            break
    for _, work_w in helpers:
        os.close(work_w)
    for (pid, _), batches in zip(helpers, given):
        if not _reaped(pid):
            for batch in batches:
                _draw_share(*batch, names)


class FigureWorker:
    """A forked process that imports the plotting library while this one loads the kernel, trains and computes
    the statistics, then draws and writes the figures it is sent, its jobs split over every core (a helper
    process per further core, forked and warmed early), while this one waits, or computes what a later batch
    of figures needs (`draw`'s `more`). The import (a quarter of a
    second) and the drawing leave the critical path of a small command; where a fork is unsafe
    (`fork_workers`), or the worker fails, this process draws them itself. A worker that is never sent work
    ends when it is closed, or when this process dies."""

    def __init__(self, prepare: Callable[[], Any]):
        self.pid: int | None = None
        self._batches: list[tuple] = []  # what it was sent, drawn here if it fails
        self._drawn: list[str] = []  # the names drawn here
        if fork_workers(2) < 2:
            return
        jobs_r, jobs_w = os.pipe()
        names_r, names_w = os.pipe()
        # the worker reports by exit status and the names pipe only
        pid = _fork(partial(_serve, jobs_r, names_w, prepare), close=[jobs_w, names_r])
        os.close(jobs_r)
        os.close(names_w)
        self.pid, self._jobs, self._names = pid, jobs_w, names_r

    def __enter__(self) -> FigureWorker:
        return self

    def __exit__(self, *exc) -> None:
        if self.pid is not None:
            self.close()
            os.close(self._names)

    def draw(
        self, jobs: Sequence[FigureJob], weights: Sequence[float], folder: Path, dpi: int = 120, *, more: bool = False
    ) -> list[str]:
        """Draw the jobs' figures into `folder` (in the worker, else here); returns the file names written, of
        every batch, once the last is drawn. more: more jobs will follow (their figures wait for statistics
        still to come): this batch starts now, the call returns at once ([]), and a last call (more=False,
        perhaps of no jobs) waits for them all."""
        batch = (list(jobs), Path(folder), dpi)
        self._batches.append(batch)
        if self.pid is None:
            self._drawn += _draw_share(*batch)
        else:
            with contextlib.suppress(OSError):  # the worker has died: found when it is closed
                _send(self._jobs, (batch[0], list(weights), batch[1], dpi, more))
            if more:
                return []
            names, ok = self._names, self.close()
            told = _read_told(names) if ok else ""
            os.close(names)
            if ok:
                return told.split()
            self._drawn = [name for earlier in self._batches for name in _draw_share(*earlier)]  # all of it here
        return [] if more else self._drawn

    def close(self) -> bool:
        """No more work: the worker ends (after drawing what it was sent); whether it succeeded."""
        if self.pid is None:
            return False
        pid, self.pid = self.pid, None
        os.close(self._jobs)
        return _reaped(pid)


class Forked:
    """A value computed in a forked child while this process goes on (on the other core): `result()` waits for
    it, sent back pickled down a pipe. Where a fork is unsafe (`fork_workers`), or the child fails, `result()`
    computes it here (and so raises its error here). Leaving the `with` block unasked ends the child."""

    def __init__(self, compute: Callable[[], Any]):
        self._compute, self.pid = compute, None
        if fork_workers(2) < 2:
            return
        answer_r, answer_w = os.pipe()
        self.pid = _fork(partial(self._answer, answer_w), close=[answer_r])
        os.close(answer_w)
        self._answer_r = answer_r

    def _answer(self, answer_w: int) -> None:
        _send(answer_w, (self._compute(),))  # in a tuple: an answer of None is not a pipe that ended

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> bool:
        """End the child (a child still writing its answer gets a broken pipe); whether it succeeded."""
        if self.pid is None:
            return False
        pid, self.pid = self.pid, None
        os.close(self._answer_r)
        return _reaped(pid)

    def result(self) -> Any:
        """The value: the child's answer, else computed here (once: asked again, the same value)."""
        if self._compute is not None:
            answer = _receive(self._answer_r) if self.pid is not None else None  # read before waiting: a long
            ok = self._close()  # answer fills the pipe's buffer
            self._value = answer[0] if ok and answer is not None else self._compute()
            self._compute = None
        return self._value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic.write_text(path, buf.getvalue())


def ensure_writable(folder: Path) -> Path:
    """Create `folder` if needed and prove we can write in it, before any long work starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ResultsError(f"results folder {folder} cannot be written: {exc.strerror or exc}") from None
    return folder


def new_run_dir(results_dir: Path, kind: str) -> Path:
    """A new, empty directory results_dir/<kind>-<UTC time>[-n], marked INCOMPLETE until finished."""
    ensure_writable(results_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = Path(results_dir) / (f"{kind}-{stamp}" + (f"-{n}" if n else ""))
        try:
            path.mkdir()
            (path / INCOMPLETE).write_text("this run has not finished (it is running, was interrupted, or failed)\n")
        except FileExistsError:
            continue
        except OSError as exc:
            raise atomic.cannot_write(path, exc) from None
        return path
    raise ResultsError(f"cannot find a free run directory name in {results_dir}")


def mark_complete(run_dir: Path) -> None:
    (Path(run_dir) / INCOMPLETE).unlink(missing_ok=True)


def require_complete_run(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if (run_dir / INCOMPLETE).exists():
        raise ResultsError(f"{run_dir} is an incomplete run (interrupted or failed); re-run `compare`")
    if not (run_dir / "scores.csv").is_file():
        raise ResultsError(f"{run_dir} is not a run directory of `blobs-transfer compare` (no scores.csv)")
    return run_dir


# --- scores and curves --------------------------------------------------------------------------


def score_rows(replicas, final: dict[str, np.ndarray], diverged: np.ndarray) -> list[list[Any]]:
    """One row per run; a diverged run has its accuracies and losses left empty, never shown as numbers."""
    rows = []
    for i, rep in enumerate(replicas):
        bad = bool(diverged[i])
        rows.append(
            [
                rep.arm.name,
                "" if rep.source_index is None else rep.source_index,
                rep.repeat,
                rep.seed,
                "" if bad else f"{final['test_accuracy'][i]:.3f}",
                "" if bad else int(final["test_correct"][i]),
                "" if bad else f"{final['train_accuracy'][i]:.3f}",
                "" if bad else f"{final['train_loss'][i]:.6f}",
                "" if bad else f"{final['test_loss'][i]:.6f}",
                int(bad),
            ]
        )
    return rows


def write_scores(path: Path, rows: list[list[Any]]) -> None:
    write_csv(path, SCORE_COLUMNS, rows)


def read_scores(path: Path) -> list[dict[str, Any]]:
    """scores.csv as dicts with typed values (None for a diverged run's empty fields)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = set(SCORE_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ResultsError(f"{path} lacks columns {', '.join(sorted(missing))}")
        out = []
        for row in reader:
            if None in row or None in row.values():  # too many or too few fields: a row cut short or run together
                raise ResultsError(
                    f"{path} line {reader.line_num} is not a whole row (the file was cut short or edited)"
                )
            out.append(
                {
                    "arm": row["arm"],
                    "source_index": int(row["source_index"]) if row["source_index"] else None,
                    "repeat": int(row["repeat"]),
                    "seed": int(row["seed"]),
                    "test_accuracy": float(row["test_accuracy"]) if row["test_accuracy"] else None,
                    "test_correct": int(row["test_correct"]) if row["test_correct"] else None,
                    "train_accuracy": float(row["train_accuracy"]) if row["train_accuracy"] else None,
                    "final_loss": float(row["final_loss"]) if row["final_loss"] else None,
                    "test_loss": float(row["test_loss"]) if row["test_loss"] else None,
                    "diverged": row["diverged"] == "1",
                }
            )
    return out


def write_curves(folder: Path, replicas, history: dict[str, np.ndarray]) -> None:
    """Per-epoch curves, one wide CSV per metric: a row per run (scores.csv order), a column per epoch.

    Values are written as %.5g and a missing (non-finite) value as an empty field. Each row's numbers are
    formatted by one `%` over the whole row, which keeps tens of thousands of runs to about a second.
    """
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise atomic.cannot_write(folder, exc) from None
    n_epochs = history["test_accuracy"].shape[1]
    header = ",".join(["arm", "source_index", "repeat", *(f"epoch_{e}" for e in range(n_epochs))])
    keys = io.StringIO()
    csv.writer(keys, lineterminator="\n").writerows(
        [rep.arm.name, "" if rep.source_index is None else rep.source_index, rep.repeat] for rep in replicas
    )
    prefixes = keys.getvalue().splitlines()
    fmt = ",%.5g" * n_epochs
    for key in CURVE_KEYS:
        values = history[key].astype(float)
        values[~np.isfinite(values)] = np.nan
        lines = [prefix + (fmt % tuple(row)).replace(",nan", ",") for prefix, row in zip(prefixes, values.tolist())]
        atomic.write_text(folder / f"{key}.csv", "\n".join([header, *lines]) + "\n")


def curve_as_written(values: np.ndarray) -> np.ndarray:
    """The float64 values `read_curve` gives back for `values` written by `write_curves` (%.5g; NaN where not
    finite), computed without the text: 5 significant digits are rint(x * 10**k) / 10**k, exact in float64
    for a float32 x with 0 <= k <= 12 (a 24-bit x times 5**k of at most 28 bits), and IEEE division then gives
    the float nearest the decimal, as parsing does. Other magnitudes (rare) go through the text."""
    x = np.asarray(values, dtype=float)
    out = np.full(x.shape, np.nan)
    finite = np.isfinite(x)
    zero = finite & (x == 0)
    out[zero] = x[zero]
    nonzero = finite & ~zero
    magnitude = np.abs(np.where(nonzero, x, 1.0))
    exponent = np.floor(np.log10(magnitude)).astype(int)
    power = 10.0**exponent  # the log's floor can be one off next to a power of ten: correct it
    exponent = np.where(magnitude < power, exponent - 1, np.where(magnitude >= 10 * power, exponent + 1, exponent))
    digits = 4 - exponent
    fast = nonzero & (digits >= 0) & (digits <= 12)
    scale = 10.0 ** digits[fast]
    out[fast] = np.rint(x[fast] * scale) / scale
    slow = nonzero & ~fast
    out[slow] = [float(f"{v:.5g}") for v in x[slow]]
    return out


@contextlib.contextmanager
def in_child(work: Callable[[], Any], *, fork: bool | None = None) -> Iterator[None]:
    """Do `work` (writing files) in a forked child while the body of the `with` runs here; on leaving, wait for
    the child. Where a fork is unsafe (`fork_workers`; `fork` overrides) the work is done first, here. A child
    that fails leaves the work to this process, which then raises its one-line error (a full disk, say)."""
    if not (fork if fork is not None else fork_workers(2) >= 2):
        work()
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: do the work, report by exit status only, never run the parent's cleanup
        code = 0
        try:
            work()
        except BaseException:
            code = 1
        os._exit(code)
    try:
        yield
    finally:
        ok = _reaped(pid)
    if not ok:
        work()


def read_curve(folder: Path, key: str) -> np.ndarray:
    """(N, epochs + 1) curve of one metric, rows in scores.csv order; NaN where a value is missing."""
    with open(Path(folder) / f"{key}.csv", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split(",")
        n_epochs = len(header) - 3
        numbers = [line.rstrip("\n").rsplit(",", n_epochs)[1:] for line in f if line.strip()]
    if not numbers:
        return np.empty((0, n_epochs))
    text = "\n".join(",".join(v if v else "nan" for v in row) for row in numbers)
    return np.loadtxt(io.StringIO(text), delimiter=",", dtype=float, ndmin=2)


# --- provenance ---------------------------------------------------------------------------------


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in (
        "blobs-transfer",
        "numba",
        "llvmlite",
        "tensorflow",
        "keras",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "click",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return done.stdout.strip() or None if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def portable_path(path: str | Path, folder: str | Path | None = None) -> str:
    """A path as a result records it: relative to `folder` (the run's results folder) when it lies inside it,
    else relative to the working directory when it lies there, else as given, so that a committed result names
    no machine's folders."""
    path = Path(path)
    if not path.is_absolute():
        path = Path.cwd() / path
    for base in ([Path(folder)] if folder is not None else []) + [Path.cwd()]:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(path)


def portable_command(argv: list[str]) -> str:
    """The command line as typed, with every absolute path in it (`--opt PATH` or `--opt=PATH`) made relative
    to the working directory where it lies inside it."""

    def one(arg: str) -> str:
        key, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        return key + eq + (portable_path(value) if value.startswith(os.sep) else value)

    return " ".join(["blobs-transfer", *(one(a) for a in argv)])


def run_metadata(**fields: Any) -> dict[str, Any]:
    return {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": portable_command(sys.argv[1:]),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": package_versions(),
        "git_commit": git_commit(),
        **fields,
    }
