"""What every command shares: one-line errors (exit 2) and warnings, the group class that makes them and gives
every command `--debug`, the options used by several commands, `--json` output, progress bars, and stopping at
the next epoch on Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from blobs_transfer import api
from blobs_transfer.config import ENGINES, Config, load_config
from blobs_transfer.errors import ConfigError, StudyError, UnverifiedRunWarning

DEFAULT_RESULTS = api.DEFAULT_RESULTS
DEBUG_HELP = "Show full tracebacks instead of one-line errors."
DEBUG = "blobs_transfer.debug"  # the key in the context's meta (shared by the group and its command)
NEW_FOLDERS = "blobs_transfer.new_folders"  # folders a command was asked to write into that did not exist yet
_IMPORTED = time.perf_counter()  # where /proc cannot say when the process started


def process_age(stat: str, uptime: str, hz: int) -> float:
    """Seconds since a process started, from its /proc/PID/stat line (field 22, starttime: clock ticks after
    boot, counted after the command name, which may hold spaces and parentheses) and /proc/uptime."""
    ticks = int(stat.rpartition(")")[2].split()[19])
    return float(uptime.split()[0]) - ticks / hz


def process_started() -> float:
    """The perf_counter reading at which this process started, so that a command's timings count the
    interpreter's start-up and the imports (Linux: from /proc, to 10 ms; elsewhere: when the CLI was imported)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat, open("/proc/uptime", encoding="ascii") as uptime:
            age = process_age(stat.read(), uptime.read(), os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return _IMPORTED
    return time.perf_counter() - max(0.0, age)


class BadInput(click.ClickException):
    """Any expected failure, shown by Click as one line `Error: ...`, exit code 2."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """SIGTERM or Ctrl-C during a run, raised at the next epoch or cell boundary (see `interruptible`)."""


def _one_line(exc: click.UsageError) -> BadInput:
    hint = f" (try '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return BadInput(f"{exc.format_message()}{hint}")


def _one_line_warnings(show):
    """`warnings.showwarning` that prints a run read unverified as one line `Warning: ...`, not Python's two."""

    def showwarning(message, category, *args, **kwargs):
        if issubclass(category, UnverifiedRunWarning):
            click.echo(f"Warning: {message}", err=True)
        else:
            show(message, category, *args, **kwargs)

    return showwarning


def _remember_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG] = True


def debug_option() -> click.Option:
    """`--debug` for a command, the same as the group's: `blobs-transfer compare --debug` as well as
    `blobs-transfer --debug compare`."""
    return click.Option(["--debug"], is_flag=True, expose_value=False, callback=_remember_debug, help=DEBUG_HELP)


class Cli(click.Group):
    """Click's standalone mode prints the errors; this only makes every expected one a one-line BadInput, and
    gives every command added to it the group's `--debug`."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "debug" for p in cmd.params):
            cmd.params.append(debug_option())
        super().add_command(cmd, name)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", UnverifiedRunWarning)
                warnings.showwarning = _one_line_warnings(warnings.showwarning)
                return super().invoke(ctx)
        except click.UsageError as exc:
            remove_empty_new_folders(ctx)
            raise _one_line(exc) from None
        except StudyError as exc:
            remove_empty_new_folders(ctx)
            if ctx.params.get("debug") or ctx.meta.get(DEBUG):
                raise
            raise BadInput(str(exc)) from None
        except (Interrupted, KeyboardInterrupt):
            click.echo("Interrupted: the run directory is marked INCOMPLETE; earlier runs are untouched.", err=True)
            raise click.exceptions.Exit(130) from None


def _note_new_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Remember a results folder that does not exist yet: a failing command removes it again if it is empty."""
    if value is not None and not Path(value).exists():
        top = Path(value).absolute()
        while not top.parent.exists():  # the outermost folder that a command would create on the way
            top = top.parent
        ctx.meta.setdefault(NEW_FOLDERS, []).append(top)
    return value


def remove_empty_new_folders(ctx: click.Context) -> None:
    """A failing command leaves no new folder behind: each folder it created (and found missing before) is removed
    when it holds no file, from the deepest empty folder up; a folder with any file in it is left alone."""
    for folder in ctx.meta.get(NEW_FOLDERS, []):
        if not folder.is_dir() or any(p.is_file() or p.is_symlink() for p in folder.rglob("*")):
            continue
        for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            sub.rmdir()
        folder.rmdir()


def config_for_options(config_file: Path | None, options: dict[str, tuple[str, object]]) -> Config:
    """load_config with the options the user typed as overrides ({"--problem": ("study.target_problem", 3)}): an
    error about a key that came from an option names the option and its value, not the config key."""
    try:
        return load_config(config_file, **{key: value for key, value in options.values()})
    except ConfigError as exc:
        message = str(exc)
        for option, (key, value) in options.items():
            if value is not None and message.startswith(f"{key}:"):
                raise ConfigError(f"{option} {value}:{message[len(key) + 1 :]}") from None
        raise


def json_option(f):
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object instead of the text (where the run is, its verdicts, where its "
        "report is), for scripts; progress and notes still go to standard error.",
    )(f)


def echo_json(obj: dict) -> None:
    """`--json`'s output: one JSON object on one line of standard output."""
    click.echo(json.dumps(obj, sort_keys=False))


RESULTS_HELP = "Folder where outputs are written (a new subfolder per compare run)."


def results_option(f=None, *, help: str = RESULTS_HELP):  # noqa: A002 (click's own name for it)
    """--results-dir, with the words that fit the command (`help`); usable as @results_option or
    @results_option(help=...)."""

    def decorate(g):
        return click.option(
            "--results-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=DEFAULT_RESULTS,
            show_default=True,
            callback=_note_new_folder,
            help=help,
        )(g)

    return decorate(f) if f is not None else decorate


def config_option(f):
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="TOML file of overrides of the tutorial's defaults (see configs/tutorial.toml).",
    )(f)


def training_options(f):
    f = click.option(
        "--epochs",
        type=click.IntRange(min=1),
        default=None,
        help="Training epochs per model, the [training] block's (a config's [source] or [target] epochs "
        "still win) [default: 100, the tutorial's].",
    )(f)
    f = click.option(
        "--seed",
        type=click.IntRange(min=0),
        default=None,
        help="Root seed; every per-repeat seed is derived from it and recorded [default: 0].",
    )(f)
    f = click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default=None,
        help="numba: all repeats trained together on the CPU (fast, default); tensorflow: the same in "
        "TensorFlow (uses a GPU if it sees one); keras: one model.fit per repeat (the reference).",
    )(f)
    f = threads_option(f)
    return f


def threads_option(f):
    return click.option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        help=f"CPU threads for the numba engine [default: ${api.THREADS_ENV} if set, else every core].",
    )(f)


class ProgressBars:
    """A progress bar per phase of work on a terminal; silent when stderr is not one (CI, pipes, tests)."""

    def __init__(self) -> None:
        self.bar, self.label = None, None
        self.stop_requested = False

    def __call__(self, label: str, epochs: int, total: int) -> None:
        if self.stop_requested:
            raise Interrupted()
        if not sys.stderr.isatty():
            return
        if label != self.label:
            self.close()
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)
            self.bar.__enter__()
            self.label = label
        self.bar.update(epochs)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        self.bar, self.label = None, None


@contextmanager
def progress_bars() -> Iterator[ProgressBars]:
    bars = ProgressBars()
    try:
        yield bars
    finally:
        bars.close()


@contextmanager
def interruptible(bars: ProgressBars) -> Iterator[None]:
    """SIGTERM and Ctrl-C stop a run at its next progress report (an epoch or a finished cell), so a killed run
    still leaves its directory marked INCOMPLETE; a second signal stops at once.

    Not at the signal itself: an exception raised at an arbitrary point inside TensorFlow's tracing leaves
    its internal stacks inconsistent and surfaces as an unrelated error ('Concurrent access?').
    """

    def handler(signum, frame):
        if bars.stop_requested:
            raise Interrupted()
        bars.stop_requested = True

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras quietly (see `api.import_tensorflow`)."""
    api.import_tensorflow()


def accuracies_line(result) -> str:
    return f"Train: {result.final['train_accuracy'][0]:.3f}, Test: {result.final['test_accuracy'][0]:.3f}"
