"""`compare` and `fit`: train the arms, write a run directory, and rebuild its summary and figures (`report`)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from blobs_transfer import atomic
from blobs_transfer.api import transferability
from blobs_transfer.api.common import DEFAULT_RESULTS, Progress, phase
from blobs_transfer.api.sources import load_source_model, source_models, write_history
from blobs_transfer.config import Arm, Config, to_toml
from blobs_transfer.errors import StudyError
from blobs_transfer.render import plots, report
from blobs_transfer.rundir import files, manifest
from blobs_transfer.rundir.files import ensure_writable, write_json
from blobs_transfer.rundir.run import RUN_DATA, run_summary, seal_run
from blobs_transfer.stats import summary
from blobs_transfer.train import run
from blobs_transfer.train.plan import (
    RunResult,
    Sources,
    epochs_of_work,
    planned_runs,
    source_provenance,
)


def run_comparison(cfg: Config, sources: Sources, *, progress: Progress | None = None) -> RunResult:
    """Train every repeat of every arm on the target problem; results as arrays, in `plan_replicas` order."""

    total = epochs_of_work(cfg)
    return run.run_comparison(cfg, sources, progress=phase(progress, "training", total))


def summarise(cfg: Config, result: RunResult, sources: Sources | None = None) -> dict[str, Any]:
    """The statistics of an in-memory result: the same dict `compare` writes as summary.json."""
    return summary.summarise(
        cfg, result.records(), result.history["test_accuracy"].astype(float), source_provenance(cfg, sources or {})
    )


@dataclass(frozen=True)
class Comparison:
    """What `compare` made: its run directory, the statistics, and the raw result."""

    run_dir: Path
    summary: dict[str, Any]
    result: RunResult


PARTS = ("startup", "source_models", "training", "statistics", "figures", "files")


class Stopwatch:
    """A command's wall time split into parts that add up: every moment from the start belongs to the part
    named last (`part`), so nothing goes unaccounted. started: the perf_counter reading at which the command
    began (the process's start, from the CLI); the time until the stopwatch is made is start-up and imports."""

    def __init__(self, started: float | None = None):
        self._since = time.perf_counter()
        self.started = self._since if started is None else min(started, self._since)
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.seconds["startup"] = self._since - self.started
        self._part = "files"

    def part(self, name: str) -> None:
        """From now on, time counts to `name` (one of PARTS)."""
        now = time.perf_counter()
        self.seconds[self._part] += now - self._since
        self._part, self._since = name, now

    def split(self) -> dict[str, float]:
        """metadata.json's timings up to now: wall_seconds and its parts (`<part>_seconds`, summing to it up to
        rounding), and statistics_and_files_seconds (statistics, figures and files: all after training)."""
        self.part(self._part)
        parts = {f"{name}_seconds": round(self.seconds[name], 3) for name in PARTS}
        after = self.seconds["statistics"] + self.seconds["figures"] + self.seconds["files"]
        return {
            "wall_seconds": round(self._since - self.started, 3),
            "wall_parts": parts,
            "training_seconds": parts["training_seconds"],
            "statistics_and_files_seconds": round(after, 3),
        }


def _write_run_files(
    cfg: Config,
    result: RunResult,
    run_dir: Path,
    provenance: dict[str, Any],
    clock: Stopwatch | None = None,
    worker: files.FigureWorker | None = None,
    sources: Sources | None = None,
    scoring: files.Forked | None = None,
) -> dict[str, Any]:
    """Scores and curves, then the statistics and figures built back from those files (so `report` on the
    finished directory gives the very same summary), then metadata.json, written once with every timing; the
    run is sealed and marked complete last. clock: the command's stopwatch (None for a result written from a
    notebook: no timings); worker: the command's figure worker (`files.FigureWorker`), if it forked one;
    sources: the run's source models, scored into transferability.csv where the run scores them (scoring: the
    child already scoring them, `transferability.scoring`)."""
    timed, clock = clock is not None, clock or Stopwatch()
    clock.part("files")
    about = files.run_metadata()  # the report's header and metadata.json say the same command, time and commit
    files.write_scores(run_dir / "scores.csv", files.score_rows(result.replicas, result.final, result.diverged))
    # The statistics are those of the files: records() are scores.csv's rows as read back, curve_as_written
    # the curves as read back (both tested), so `report` on the finished run gives the very same summary. The
    # curves' text is written by a child process meanwhile (a second of work at 20,000 runs).
    with files.in_child(lambda: files.write_curves(run_dir / "curves", result.replicas, result.history)):
        scores = result.records()
        curves = {
            k: files.curve_as_written(result.history[k])
            for k in ("test_accuracy", "test_loss", "train_accuracy", "train_loss")
        }
        clock.part("statistics")
        statistics = summary.summarise(cfg, scores, curves["test_accuracy"], provenance)
        clock.part("source_models")  # the scores last, as late as may be: a child may be computing them
        transferability.write_scores_table(run_dir, cfg, sources, scores, scoring)
        _render(run_dir, cfg, scores, curves, statistics, about, clock, worker)
        clock.part("files")  # waiting for the curves
    seeds: dict[str, list[int]] = {}
    for rep in result.replicas:
        seeds.setdefault(rep.arm.name, []).append(rep.seed)
    seconds = clock.split() if timed else {}
    write_json(
        run_dir / "metadata.json",
        {
            **about,
            "root_seed": cfg.study.seed,
            "engine": cfg.study.engine,
            "replicas": len(result.replicas),
            "diverged": int(result.diverged.sum()),
            "repeat_seeds": seeds,
            **seconds,
            "source_models": provenance,
        },
    )
    seal_run(run_dir, cfg, (*RUN_DATA, *transferability.data_files(run_dir)))
    files.mark_complete(run_dir)
    return statistics


def write_run(
    cfg: Config, result: RunResult, results_dir: str | Path = DEFAULT_RESULTS, *, sources: Sources | None = None
) -> Path:
    """Write a result as a new run directory (scores, curves, statistics, figures, report); returns it."""
    run_dir = files.new_run_dir(results_dir, "compare")
    atomic.write_text(run_dir / "config.toml", to_toml(cfg))
    transferability.save_source_files(run_dir, cfg, sources)  # K >= 2: the .keras files
    _write_run_files(cfg, result, run_dir, _provenance(cfg, sources or {}, results_dir), sources=sources)
    return run_dir


def _provenance(cfg: Config, sources: Sources, results_dir: str | Path) -> dict[str, Any]:
    """Where the source models came from, a saved model's path relative to the results folder (titles and
    metadata name no machine's folders)."""
    out = source_provenance(cfg, sources)
    for entry in out.values():
        if entry.get("path"):
            entry["path"] = files.portable_path(entry["path"], results_dir)
    return out


MEMORY_BUDGET_GIB = 2.0  # what a compare may hold at its peak, whatever --repeats is
BASE_GIB = 1.0  # TensorFlow's runtime, the libraries and one chunk of replicas in the engine (measured: 0.8-0.9)
BYTES_PER_CURVE_VALUE = 64  # per run and epoch: four float32 curves, their CSV text, two float64 read back


def estimated_peak_gib(cfg: Config) -> float:
    """What a comparison will hold at its peak: the base plus every run's per-epoch curves (the only part
    that grows with the number of runs; training is chunked and the statistics work on count histograms)."""
    runs = sum(planned_runs(cfg).values())
    return BASE_GIB + runs * (cfg.target_training.epochs + 1) * BYTES_PER_CURVE_VALUE / 2**30


def check_fits(cfg: Config) -> None:
    """Refuse, in one line and before anything is trained, a comparison that would not fit the memory budget."""
    need = estimated_peak_gib(cfg)
    if need > MEMORY_BUDGET_GIB:
        runs = sum(planned_runs(cfg).values())
        raise StudyError(
            f"{runs} runs of {cfg.target_training.epochs} epochs would need about {need:.1f} GiB, more than "
            f"the {MEMORY_BUDGET_GIB:g} GiB a comparison may use: use fewer repeats or epochs, or split "
            "the study into a sweep (its cells are separate comparisons)"
        )


def compare(
    cfg: Config,
    results_dir: str | Path = DEFAULT_RESULTS,
    *,
    source: str | Path | None = None,
    train_missing: bool = False,
    progress: Progress | None = None,
    notify: Callable[[str], None] | None = None,
    started: float | None = None,
) -> Comparison:
    """The repeated comparison end to end: source models, training, and a new run directory with every file.

    started: the perf_counter reading at which the command began (the CLI passes its process's start, so that
    metadata.json's wall time and its parts count the start-up and imports); None: this call.
    The run directory is marked INCOMPLETE until its last file is written, so an interrupted or failed run
    (Ctrl-C, a full disk) is never mistaken for a finished one; earlier runs are never touched.
    """
    clock = Stopwatch(started)
    check_fits(cfg)
    ensure_writable(results_dir)
    # the figures' worker imports matplotlib on the other core while this process loads the kernel and trains
    with files.FigureWorker(plots.prepare) as worker:
        clock.part("source_models")
        sources = source_models(
            cfg, results_dir, source=source, train_missing=train_missing, progress=progress, notify=notify
        )
        # where the run scores its source models, a child scores them on the other core while this one trains
        with transferability.scoring(cfg, sources) or contextlib.nullcontext() as scoring:
            clock.part("files")
            run_dir = files.new_run_dir(results_dir, "compare")
            atomic.write_text(run_dir / "config.toml", to_toml(cfg))
            clock.part("training")
            result = run_comparison(cfg, sources, progress=progress)
            clock.part("source_models")
            transferability.save_source_files(run_dir, cfg, sources)  # K >= 2: the .keras files
            provenance = _provenance(cfg, sources, results_dir)
            statistics = _write_run_files(cfg, result, run_dir, provenance, clock, worker, sources, scoring)
    return Comparison(run_dir, statistics, result)


def fit(
    cfg: Config,
    results_dir: str | Path = DEFAULT_RESULTS,
    *,
    source: str | Path | None = None,
    fixed: int = 0,
    progress: Progress | None = None,
) -> tuple[Path, RunResult]:
    """One run with learning curves on the target problem: standalone, or from a saved source model with
    `fixed` frozen layers (the tutorial's steps 2 and 3). Returns its run directory and result."""

    arm = Arm(f"transfer fixed={fixed}", weights="source", fixed=fixed) if source else Arm("standalone", fixed=fixed)
    cfg = replace(cfg, arms=(arm,), study=replace(cfg.study, baseline=arm.name, repeats=1, source_repeats=1))
    sources = {cfg.source_spec: [load_source_model(source, cfg)]} if source else {}
    ensure_writable(results_dir)
    run_dir = files.new_run_dir(results_dir, "fit")
    atomic.write_text(run_dir / "config.toml", to_toml(cfg))
    result = run.run_comparison(cfg, sources, progress=phase(progress, arm.name, cfg.target_training.epochs))
    seed_used = result.replicas[0].seed
    title = f"{arm.name} on {cfg.describe_problem(cfg.target_spec)} (seed {seed_used})"
    write_history(run_dir, "fit", result.history, title)
    write_json(
        run_dir / "metadata.json",
        files.run_metadata(
            arm=arm.name,
            source=files.portable_path(source, results_dir) if source else None,
            seed=seed_used,
            root_seed=cfg.study.seed,
            train_accuracy=float(result.final["train_accuracy"][0]),
            test_accuracy=float(result.final["test_accuracy"][0]),
        ),
    )
    manifest.write_manifest(
        run_dir,
        ["config.toml", "fit_history.csv", "metadata.json"],
        derived=["fit_learning_curves.png"],
        plan={"runs": 1},
    )
    files.mark_complete(run_dir)
    return run_dir, result


def report_run(run_dir: str | Path, *, require_complete: bool = True) -> dict[str, Any]:
    """Recompute a run's summary.json, summary.md, figures and report.html from its files; returns the summary."""
    run_dir = Path(run_dir)
    cfg, scores, curves, statistics = run_summary(run_dir, require_complete=require_complete)
    _render(run_dir, cfg, scores, curves, statistics)
    sealed = manifest.read_manifest(run_dir) if require_complete else None
    if sealed is not None:  # the rebuilt summaries and figures are what the manifest now vouches for
        manifest.refresh(run_dir, sealed)
    return statistics


def rescore_run(run_dir: str | Path) -> dict[str, Any]:
    """Score a finished run's saved source models again with the current scores: transferability.csv from its
    source_models/ and scores.csv (nothing is trained again, so its runs stay byte for byte), then its summaries,
    figures and report rebuilt (`report_run`) and the manifest re-hashed. Returns the summary."""
    run_dir = Path(run_dir)
    cfg, scores = run_summary(run_dir)[:2]
    models = [load_source_model(p, cfg) for p in transferability.source_files([run_dir])]
    transferability.write_table(run_dir, cfg, models, scores)
    sealed = manifest.read_manifest(run_dir)
    if sealed is not None:
        manifest.refresh(run_dir, sealed, role="data")
    return report_run(run_dir)


def _render(
    run_dir: Path,
    cfg: Config,
    scores,
    curves,
    statistics: dict[str, Any],
    meta: dict[str, Any] | None = None,
    clock: Stopwatch | None = None,
    worker: files.FigureWorker | None = None,
) -> None:
    """summary.json, summary.md, the figures and report.html of a run, from its statistics and files; meta: what
    made the run (metadata.json's, which `report` reads back when it rebuilds a finished run); clock: the
    command's stopwatch, told which part each step is; worker: a figure worker forked earlier (else one is
    forked here)."""
    clock = clock or Stopwatch()
    with contextlib.ExitStack() as stack:
        worker = worker or stack.enter_context(files.FigureWorker(plots.prepare))
        clock.part("figures")
        # the run's own figures start now, while the scores' statistics are computed (`more`: their figure follows)
        jobs = plots.run_figure_jobs(
            summary.figure_numbers(cfg, statistics, scores, curves),
            statistics,
            baseline=cfg.study.baseline,
            repeats=cfg.study.repeats,
            seed=cfg.study.seed,
        )
        shown = {block.body for block in report.sections(statistics) if block.kind == "figure"}
        jobs = [job for job in jobs if job[0] in shown]  # draw only what the report shows
        table = (run_dir / transferability.CSV_NAME).is_file()
        drawn = worker.draw([job for _, _, job in jobs], [weight for _, weight, _ in jobs], run_dir, more=table)
        clock.part("statistics")
        transferability.add_to_summary(run_dir, cfg, scores, statistics)  # K >= 3 sources: how each score did
        clock.part("files")
        write_json(run_dir / "summary.json", statistics)
        blocks = report.sections(statistics)
        if meta is None:
            try:
                meta = json.loads((run_dir / "metadata.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {}
        title, about = report.title_of(statistics, meta.get("command")), report.about_line(meta)
        atomic.write_text(run_dir / "summary.md", report.markdown(blocks, title, about))
        clock.part("figures")
        if table:  # the scores' figure where the report shows it (a panel per score), and the wait for all
            late = [block.body for block in blocks if block.body == transferability.FIGURE and block.kind == "figure"]
            weight = 1 + len((statistics.get("transferability") or {"scores": []})["scores"])
            jobs = [partial(transferability.figures, run_dir, statistics) for _ in late]
            drawn = worker.draw(jobs, [weight] * len(jobs), run_dir)
    clock.part("files")
    pngs = {name: (run_dir / name).read_bytes() for name in drawn}
    atomic.write_text(run_dir / "report.html", report.html(blocks, title, pngs, about))


def terminal_report(summary: dict[str, Any]) -> str:
    """The summary as the terminal shows it (the same sections as summary.md and report.html)."""
    return report.terminal(report.sections(summary))


def sections_text(sections: list[report.Section]) -> str:
    """Report sections (a sweep's, say) as the terminal shows them."""
    return report.terminal(sections)
