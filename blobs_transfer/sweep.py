"""Sweeps: a grid over config keys, each cell a full comparison analysed with the nested statistics.

A sweep config is an ordinary config (the base: arms, [study], [target] ...) plus a `[sweep]` table giving each
swept key a list of values, e.g. `"target.n_train" = [10, 100, 500]`. Every combination is a cell: an immutable,
picklable `Cell`, whose config is the base with the cell's values, trained by a pure `run_cell(config)` that
returns arrays; only the driver writes files. Every cell uses the sweep's root seed, so cells share their source
models and repeat seeds where their settings allow (common random numbers: differences between cells are not
blurred by different draws), and a one-cell sweep is exactly `compare` with the same settings and seed.

Finished cells are written as they finish (cells/NNNN/, marked done last by cell.json, which is also the cell's
manifest) and skipped on `--resume` once their files are verified; a damaged cell is trained again. The tables
(runs.csv, cells.csv) are assembled from the cells' files in grid order, so an interrupted and resumed sweep
gives the same bytes as an uninterrupted one. One process writes a sweep folder at a time (`integrity.writer_lock`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from . import analysis, cluster, integrity, plots, report, results
from .cluster import ClusterError
from .config import SECTIONS, Config, ConfigError, config_from_dict, load_config, to_toml
from .errors import DamagedRunError, StudyError
from .results import atomic_write_text, write_csv, write_json

DONE = "cell.json"  # written last in a cell's folder: the cell is finished; also its manifest
CELL_DATA = ("config.toml", "runs.csv", "summary.json")
RUN_COLUMNS = ("arm", "source_index", "repeat", "seed", "test_accuracy", "test_correct")
CELL_STATS = ("n", "n_sources", "mean", "ci_low", "ci_high")
COMPARISON_STATS = ("diff_mean", "diff_ci_low", "diff_ci_high", "a12", "a12_ci_low", "a12_ci_high", "verdict")
# P(this arm is the best), and the cell's arm with the highest mean with its P(best) (analysis.best_arm)
BEST_STATS = ("p_best", "cell_best_arm", "cell_best_p")


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its position and its values, (key, value) per swept key in grid order."""

    index: int
    values: tuple[tuple[str, Any], ...]

    @property
    def name(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values)


@dataclass(frozen=True)
class Sweep:
    """A resolved sweep: the base config's TOML data, the axes (key, values) in order, and the root seed."""

    base: dict[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self.axes]

    def cells(self) -> list[Cell]:
        grid = itertools.product(*(values for _, values in self.axes))
        return [Cell(i, tuple(zip(self.keys, combo))) for i, combo in enumerate(grid)]

    def config_of(self, cell: Cell) -> Config:
        return config_from_dict(self.base, dict(cell.values))

    @property
    def seed(self) -> int:
        return self.config_of(self.cells()[0]).study.seed

    def to_toml(self) -> str:
        """The resolved sweep: the grid, then the base config of its first cell with every default spelled out."""
        lines = ["[sweep]"] + [f'"{k}" = {json.dumps(list(v))}' for k, v in self.axes] + [""]
        base = config_from_dict(self.base)
        return "\n".join(lines) + "\n" + to_toml(base)


def load_sweep(path: str | Path, *, seed: int | None = None) -> Sweep:
    """Read a sweep config; every bad grid (unknown key, empty list, a value of the wrong type) is a one-line
    ConfigError here, before anything trains, because every cell's config is built and validated."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"sweep config {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"sweep config {str(path)!r} cannot be read: {exc}") from None
    return sweep_from_dict(data, seed=seed)


def sweep_from_dict(data: dict[str, Any], *, seed: int | None = None) -> Sweep:
    grid = data.pop("sweep", None)
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("a sweep config needs a [sweep] table with at least one key and its list of values")
    if seed is not None:
        data = {**data, "study": {**data.get("study", {}), "seed": seed}}
    axes = []
    for key, values in grid.items():
        section, _, name = key.partition(".")
        if section not in SECTIONS or not name:
            raise ConfigError(f"sweep: unknown key {key!r} (keys are section.key, e.g. target.n_train; sections are "
                              f"{', '.join(SECTIONS)})")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep: {key} needs a non-empty list of values, got {values!r}")
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"sweep: {key} lists a value twice")
        axes.append((key, tuple(values)))
    sweep = Sweep(data, tuple(axes))
    config_from_dict(data)  # the base itself must be a valid config
    for cell in sweep.cells():
        try:
            sweep.config_of(cell)
        except ConfigError as exc:
            raise ConfigError(f"sweep cell {cell.name}: {exc}") from None
    return sweep


# --- running cells -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellOutput:
    """What training one cell returns to the driver: its run records (the columns of scores.csv), its test
    accuracy curves (N, epochs + 1), and where its source models came from."""

    records: list[dict[str, Any]]
    test_accuracy_curves: np.ndarray
    source_models: dict[str, Any]


_SOURCE_CACHE: dict[tuple, list] = {}  # per process (and per Dask worker): source models by `source_key`
_CACHE_SIZE = 16


def source_key(cfg: Config, number: int) -> tuple:
    """Everything a set of trained source models depends on: cells with equal keys share them (a sweep over
    the target's training settings, e.g. target.epochs, trains its source models once)."""
    return (cfg.spec_of_problem(number), cfg.study.source_repeats, cfg.study.seed, cfg.model, cfg.source_training,
            cfg.study.engine)


def cell_sources(cfg: Config) -> Any:
    """The cell's source models, trained from recorded seeds (never a saved file, so a sweep is reproducible
    from its config and seed alone) and shared by every cell with the same `source_key`."""
    from . import experiment

    sources = {}
    for number in experiment.sources_needed(cfg):
        key = source_key(cfg, number)
        if key not in _SOURCE_CACHE:
            if len(_SOURCE_CACHE) >= _CACHE_SIZE:
                _SOURCE_CACHE.pop(next(iter(_SOURCE_CACHE)))
            _SOURCE_CACHE[key], _ = experiment.train_sources(cfg, number, cfg.study.source_repeats)
        sources[cfg.spec_of_problem(number)] = _SOURCE_CACHE[key]
    return sources


def train_cells(cfgs: list[Config]) -> list[CellOutput]:
    """Train several cells' comparisons as one computation (see `batches`); each cell's results are what
    training it alone gives. Pure: no files; runs in-process or on a worker."""
    from . import experiment
    from .study import source_provenance

    sources = [cell_sources(cfg) for cfg in cfgs]
    outputs = []
    for cfg, cell_source, result in zip(cfgs, sources, experiment.run_comparisons(cfgs, sources)):
        outputs.append(CellOutput(result.records(), result.history["test_accuracy"].astype(np.float32),
                                  source_provenance(cfg, cell_source)))
    return outputs


def train_batch(cfgs: list[Config]) -> list[CellOutput | Exception]:
    """A sweep's task: `train_cells`, and if that raises, each cell alone, so a failing cell is named with its
    own exception and the other cells of its batch still finish."""
    try:
        return train_cells(cfgs)
    except Exception as exc:
        if len(cfgs) == 1:
            return [exc]
    outputs: list[CellOutput | Exception] = []
    for cfg in cfgs:
        try:
            outputs += train_cells([cfg])
        except Exception as exc:  # this cell's own failure, reported with it
            outputs.append(exc)
    return outputs


def batches(sweep: Sweep, cells: list[Cell], max_replicas: int | None = None) -> list[tuple[Cell, ...]]:
    """Cells that train together, in grid order of their first cell: those sharing the training settings,
    the network and the number of minibatches per epoch (so no replica pays for a larger train split), at
    most `max_replicas` (default: the engine's chunk size) replicas a batch. A batch is one task: on a
    cluster the batches spread over the workers, and an interruption loses at most the batches in flight."""
    from .experiment import CHUNK_SIZE, plan_replicas, training_key

    size = max_replicas or CHUNK_SIZE
    groups: dict[tuple, list[list[Cell]]] = {}
    for cell in cells:
        cfg = sweep.config_of(cell)
        key = (training_key(cfg), cfg.problems.centers, cfg.problems.n_features,
               -(-cfg.target_spec.n_train // cfg.target_training.batch_size))
        if cfg.study.engine == "keras":  # the reference engine trains one network at a time anyway
            key = (cell.index,)
        n = len(plan_replicas(cfg))
        batch = groups.setdefault(key, [[]])
        if batch[-1] and sum(len(plan_replicas(sweep.config_of(c))) for c in batch[-1]) + n > size:
            batch.append([])
        batch[-1].append(cell)
    return sorted((tuple(b) for bs in groups.values() for b in bs), key=lambda b: b[0].index)


def batch_limit(sweep: Sweep, cells: list[Cell], slots: int) -> int:
    """Replicas per batch: the engine's chunk size in one process; with several worker threads, few enough
    that each thread gets about two batches (a cluster is only as busy as its number of tasks), down to
    one cell a batch."""
    from .experiment import CHUNK_SIZE, plan_replicas

    if slots <= 1:
        return CHUNK_SIZE
    total = sum(len(plan_replicas(sweep.config_of(c))) for c in cells)
    return max(1, min(CHUNK_SIZE, -(-total // (2 * slots))))


def analyse_cell(cfg: Config, output: CellOutput) -> dict[str, Any]:
    """A cell's summary: the same nested statistics `compare` computes, and which arm is best."""
    summary = analysis.summarise(cfg, output.records, output.test_accuracy_curves.astype(float), output.source_models)
    summary["best"] = analysis.best_arm(cfg, output.records)
    return summary


def cell_dir(sweep_dir: Path, cell: Cell) -> Path:
    return sweep_dir / "cells" / f"{cell.index:04d}"


def finished(sweep_dir: Path, cell: Cell) -> bool:
    return (cell_dir(sweep_dir, cell) / DONE).is_file()


def write_cell(sweep_dir: Path, cell: Cell, cfg: Config, records, summary) -> None:
    """A finished cell's files; its DONE marker (the manifest of the others) last, so a cell interrupted while
    writing counts as not done."""
    from .study import planned_runs

    folder = cell_dir(sweep_dir, cell)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise results.cannot_write(folder, exc) from None
    atomic_write_text(folder / "config.toml", to_toml(cfg))
    write_csv(folder / "runs.csv", RUN_COLUMNS, ([_csv(r[c], c) for c in RUN_COLUMNS] for r in records))
    write_json(folder / "summary.json", summary)
    planned = planned_runs(cfg)
    integrity.write_manifest(folder, CELL_DATA, plan={"networks": sum(planned.values()), "runs_per_arm": planned},
                             name=DONE, extra={"index": cell.index, "values": dict(cell.values), "networks": len(records)})


def cell_damage(folder: Path, cfg: Config | None = None, *, remedy: str = "") -> tuple[str | None, bool]:
    """(what is wrong with a finished cell's folder or None, whether a manifest vouched for it). A cell written
    before manifests is checked only for its row count against its config's plan (`cfg`, else its config.toml)."""
    import csv

    from .study import planned_runs

    try:
        if integrity.verify(folder, name=DONE, warn=False, remedy=remedy) is not None:
            return None, True
        with open(folder / "runs.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        found: dict[str, int] = {}
        for row in rows:
            found[row[0]] = found.get(row[0], 0) + 1
        problem = integrity.count_problem(str(folder / "runs.csv"), found,
                                          planned_runs(cfg or load_config(folder / "config.toml")))
        return (f"{problem}{remedy}" if problem else None), False
    except DamagedRunError as exc:
        return str(exc), False
    except (OSError, ValueError, IndexError, StudyError) as exc:
        return f"{folder} cannot be read: {getattr(exc, 'strerror', None) or exc}{remedy}", False


def verify_sweep(sweep_dir: str | Path, *, derived: bool = False) -> dict[str, Any] | None:
    """Prove a finished sweep's tables and every cell are exactly as written; returns the sweep's manifest
    (None, with an UnverifiedRunWarning, for a sweep written before manifests; its cells' row counts are
    still checked). Raises ResultsError for an unfinished sweep, DamagedRunError naming a damaged file."""
    import warnings

    sweep_dir = Path(sweep_dir)
    if (sweep_dir / results.INCOMPLETE).exists():
        raise results.ResultsError(f"{sweep_dir} is an unfinished sweep (interrupted or failed); finish it with "
                                   f"`blobs-transfer sweep --config <its config> --resume {sweep_dir}`")
    again = f"; `sweep --resume {sweep_dir}` rebuilds it"
    manifest = integrity.verify(sweep_dir, derived=derived, remedy=again, warn=False)
    unverified = 0
    count = manifest["plan"]["cells"] if manifest else len(list(sweep_dir.glob("cells/*")))
    for folder in (sweep_dir / "cells" / f"{k:04d}" for k in range(count)):
        if not (folder / DONE).is_file():
            raise DamagedRunError(f"{folder / DONE} is missing (the sweep has {count} cells){again}")
        damage, verified = cell_damage(folder, remedy=f"; `sweep --resume {sweep_dir}` trains the cell again")
        if damage:
            raise DamagedRunError(damage)
        unverified += not verified
    if manifest is None or unverified:
        warnings.warn(f"{sweep_dir} was written before sweeps verified themselves ({unverified} cells without a "
                      "manifest): its files are read with only their row counts checked", integrity.UnverifiedRunWarning,
                      stacklevel=2)
    return manifest


def _csv(v: Any, column: str = "") -> Any:
    """A runs.csv field as scores.csv writes it: accuracies with three decimals (0.310, not 0.31)."""
    if v is None:
        return ""
    return f"{v:.3f}" if column == "test_accuracy" else v


def read_cell(sweep_dir: Path, cell: Cell) -> tuple[list[list[str]], dict[str, Any]]:
    """A finished cell's run rows (as text) and summary."""
    import csv

    folder = cell_dir(sweep_dir, cell)
    with open(folder / "runs.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    return rows, json.loads((folder / "summary.json").read_text(encoding="utf-8"))


# --- the sweep directory -------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: its directory, what its report says, and its metadata."""

    sweep_dir: Path
    sections: list[report.Section]
    metadata: dict[str, Any]


class CellError(StudyError):
    """One or more cells raised; the message names the first, and the finished cells are kept."""


def _runner(scheduler: str | None, workers: int | None):
    if scheduler or workers:
        return cluster.dask_runner(scheduler, workers)
    return contextlib.nullcontext(cluster.Runner(cluster.in_process))


def run_sweep(sweep: Sweep, results_dir: str | Path = "results", *, resume: str | Path | None = None,
              scheduler: str | None = None, workers: int | None = None,
              progress: Callable[[str, int, int], None] | None = None,
              notify: Callable[[str], None] | None = None) -> SweepOutcome:
    """Run every cell not yet finished, then write the tables, figures and report.

    With `resume`, the directory of an earlier run of the same sweep: its finished cells are kept and skipped.
    Cells run in this process, or on a Dask cluster: an existing one at `scheduler`, or a local one of
    `workers` processes started here. One process at a time writes a sweep folder: a second refuses in one line.
    """
    with contextlib.ExitStack() as held:
        sweep_dir = _open_sweep_dir(sweep, results_dir, resume, held)
        return _run_cells(sweep, sweep_dir, scheduler, workers, progress, notify)


def _open_sweep_dir(sweep: Sweep, results_dir: str | Path, resume: str | Path | None, held: contextlib.ExitStack) -> Path:
    """A new sweep directory, or the one to resume, with its writer lock held (released by `held`)."""
    if resume is not None:
        sweep_dir = Path(resume)
        recorded = sweep_dir / "sweep.toml"
        if not recorded.is_file():
            raise results.ResultsError(f"{sweep_dir} is not a sweep directory (no sweep.toml)")
        if recorded.read_text(encoding="utf-8") != sweep.to_toml():
            raise ConfigError(f"{sweep_dir} was made by a different sweep (its sweep.toml differs from this config)")
        held.enter_context(integrity.writer_lock(sweep_dir, "sweep"))
        (sweep_dir / results.INCOMPLETE).write_text("this sweep has not finished\n")
    else:
        results.ensure_writable(results_dir)
        sweep_dir = results.new_run_dir(results_dir, "sweep")
        held.enter_context(integrity.writer_lock(sweep_dir, "sweep"))
        atomic_write_text(sweep_dir / "sweep.toml", sweep.to_toml())
    return sweep_dir


def _run_cells(sweep: Sweep, sweep_dir: Path, scheduler: str | None, workers: int | None,
               progress: Callable[[str, int, int], None] | None, notify: Callable[[str], None] | None) -> SweepOutcome:
    """Verify the finished cells, train the others (and any damaged one again), then write the tables."""
    started = time.perf_counter()
    cells = sweep.cells()
    todo, unverified = [], 0
    for c in cells:
        if finished(sweep_dir, c):
            damage, verified = cell_damage(cell_dir(sweep_dir, c), sweep.config_of(c))
            if not damage:
                unverified += not verified
                continue
            if notify:
                notify(f"Cell {c.index} ({c.name}) is damaged, training it again: {damage}")
            (cell_dir(sweep_dir, c) / DONE).unlink()
        todo.append(c)
    if notify and unverified:
        notify(f"Warning: {unverified} finished cells were written before cells verified themselves: kept with only "
               "their row counts checked.")
    if notify and len(todo) < len(cells):
        notify(f"Resuming {sweep_dir}: {len(cells) - len(todo)} of {len(cells)} cells already done.")
    failures = []
    with _runner(scheduler, workers) as runner:
        limit = batch_limit(sweep, todo, runner.slots)
        tasks = [(batch, [sweep.config_of(c) for c in batch]) for batch in batches(sweep, todo, limit)]
        try:
            for batch, outputs in runner.run(train_batch, tasks):
                if isinstance(outputs, Exception):  # the task itself was lost (on a worker)
                    outputs = [outputs] * len(batch)
                for cell, output in zip(batch, outputs):
                    if isinstance(output, Exception):
                        failures.append((cell, output))
                        if notify:
                            notify(f"cell {cell.index} ({cell.name}) failed: {cluster.one_line(output)}")
                    else:
                        cfg = sweep.config_of(cell)
                        write_cell(sweep_dir, cell, cfg, output.records, analyse_cell(cfg, output))
                    if progress:
                        progress("cells", 1, len(todo))
        except ClusterError as exc:
            raise ClusterError(f"{exc}; the finished cells are kept in {sweep_dir}: "
                               f"finish it with --resume {sweep_dir}") from None
    if failures:
        cell, exc = failures[0]
        raise CellError(f"{len(failures)} of {len(todo)} cells failed, first cell {cell.index} ({cell.name}): "
                        f"{cluster.one_line(exc)}; the other cells are kept in {sweep_dir} "
                        f"(--resume {sweep_dir} runs the failed ones again)")
    meta, blocks = write_tables(sweep, sweep_dir, wall_seconds=time.perf_counter() - started, trained_cells=len(todo))
    results.mark_complete(sweep_dir)
    return SweepOutcome(sweep_dir, blocks, meta)


def cell_rows(sweep: Sweep, sweep_dir: Path) -> tuple[list[list[Any]], list[list[Any]], list[dict[str, Any]]]:
    """(runs.csv rows, cells.csv rows, per-cell summaries) in grid order, from the cells' files."""
    runs, table, summaries = [], [], []
    for cell in sweep.cells():
        rows, summary = read_cell(sweep_dir, cell)
        values = [v for _, v in cell.values]
        runs += [[*values, *row] for row in rows]
        comparisons = {c["arm"]: c for c in summary["comparisons"]}
        best = summary.get("best") or {}
        for arm in summary["arms"]:
            c = comparisons.get(arm["arm"], {})
            table.append([*values, arm["arm"], *(_fmt(arm.get(k)) for k in CELL_STATS),
                          *(_fmt(c.get(k)) for k in COMPARISON_STATS),
                          _fmt(best.get("p_best_by_arm", {}).get(arm["arm"])), _fmt(best.get("best_arm")),
                          _fmt(best.get("p_best"))])
        summaries.append({"cell": cell, "summary": summary})
    return runs, table, summaries


def _fmt(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def write_tables(sweep: Sweep, sweep_dir: Path, *, wall_seconds: float, trained_cells: int):
    """runs.csv, cells.csv, the figures, report.html and metadata.json from the finished cells' files."""
    keys = sweep.keys
    runs, table, summaries = cell_rows(sweep, sweep_dir)
    write_csv(sweep_dir / "runs.csv", [*keys, *RUN_COLUMNS], runs)
    write_csv(sweep_dir / "cells.csv", [*keys, "arm", *CELL_STATS, *COMPARISON_STATS, *BEST_STATS], table)
    figures = sweep_figures(sweep, summaries)
    results.save_figures({sweep_dir / name: fig for name, fig in figures.items()})
    pngs = {name: (sweep_dir / name).read_bytes() for name in figures}
    blocks = sweep_sections(sweep, summaries, list(figures))
    atomic_write_text(sweep_dir / "report.html", report.html(blocks, "blobs-transfer sweep", pngs))
    meta = results.run_metadata(root_seed=sweep.seed, cells=len(summaries), trained_cells=trained_cells,
                                networks=len(runs), wall_seconds=round(wall_seconds, 3),
                                axes={k: list(v) for k, v in sweep.axes})
    write_json(sweep_dir / "metadata.json", meta)
    integrity.write_manifest(sweep_dir, ["sweep.toml", "runs.csv", "cells.csv", "metadata.json"],
                             derived=[*figures, "report.html"], plan={"cells": len(summaries), "networks": len(runs)})
    return meta, blocks


def _transfer_arms(summaries) -> list[str]:
    return [c["arm"] for c in summaries[0]["summary"]["comparisons"]]


def heatmap_name(arm: str) -> str:
    return f"heatmap_{arm.replace(' ', '_').replace('=', '')}.png"


def _axis_pattern(sweep: Sweep, summaries) -> str:
    """Per swept axis, the values at which most of the arms' cells say better, and those at which most say worse."""
    parts = []
    for a, (key, values) in enumerate(sweep.axes):
        better, worse = [], []
        for value in values:
            verdicts = [c["verdict"] for item in summaries if item["cell"].values[a][1] == value
                        for c in item["summary"]["comparisons"]]
            if sum(v == "better" for v in verdicts) * 2 > len(verdicts):
                better.append(str(value))
            elif sum(v == "worse" for v in verdicts) * 2 > len(verdicts):
                worse.append(str(value))
        if better and worse:
            parts.append(f"mostly better at {key} = {report.join_words(better)} and mostly worse at "
                         f"{report.join_words(worse)}")
        elif better or worse:
            parts.append(f"mostly {'better' if better else 'worse'} at {key} = {report.join_words(better or worse)}")
    if not parts:
        return ""
    return "Transfer is " + "; ".join(parts) + " (in most of the cells with that value, over all arms). "


def sweep_finding(sweep: Sweep, summaries) -> str:
    """What the sweep found, in words and numbers: per transfer arm how many cells it wins and loses, the values
    of each axis where most cells agree, and the cell where P(arm beats baseline) is highest."""
    run = summaries[0]["summary"]["run"]
    baseline, k = run["baseline"], run["source_repeats"]
    arms = _transfer_arms(summaries)
    found = [(item["cell"], c) for item in summaries for c in item["summary"]["comparisons"]]
    if not found:
        return f"{len(summaries)} cells over {', '.join(sweep.keys)}; no arm was compared with {baseline}."
    wins = " / ".join(str(sum(c["verdict"] == "better" for _, c in found if c["arm"] == arm)) for arm in arms)
    losses = " / ".join(str(sum(c["verdict"] == "worse" for _, c in found if c["arm"] == arm)) for arm in arms)
    cell, best = max(found, key=lambda cc: cc[1]["a12"])
    where = ", ".join(f"{key}={v}" for key, v in cell.values)
    unit = f"{k} source models each" if k > 1 else "one source model each, so conditional on it"
    plural = len(arms) > 1
    return (f"Across {len(summaries)} cells ({' x '.join(sweep.keys)}, {unit}), {' / '.join(arms)} "
            f"{'beat' if plural else 'beats'} {baseline} in {wins} cells and {'lose' if plural else 'loses'} in "
            f"{losses}. {_axis_pattern(sweep, summaries)}"
            f"The highest P is {report._f(best['a12'], 2)} ({best['arm']} at {where}, difference of means "
            f"{best['diff_mean']:+.3f}). P is the probability that a run of the arm beats a run of {baseline} (A12); "
            "each cell's verdict tests it with the source model as the unit.")


def figure_title(name: str, arms: list[str] = ()) -> str:
    """A sweep figure's title in words, from its file name."""
    stem = name.removesuffix(".png")
    if stem.startswith("benefit_"):
        return f"The transfer benefit against {stem.removeprefix('benefit_')}, each arm minus the baseline"
    for arm in arms:
        if name == heatmap_name(arm):
            return f"{arm}: the benefit over both swept axes"
    if stem == "best_arm":
        return "The best arm of every cell, shaded by P(it is the best)"
    return stem.replace("_", " ")


def sweep_sections(sweep: Sweep, summaries, figure_names: list[str]) -> list[report.Section]:
    """The finding, then the figures (heatmaps first: they answer the question), then the per-cell table, folded
    when it is long."""
    keys = sweep.keys
    header = [*keys, "arm", "n", "sources", "diff of means [95% CI]", "P(arm > base) [95% CI]", "verdict"]
    rows = []
    for item in summaries:
        cell, summary = item["cell"], item["summary"]
        for c in summary["comparisons"]:
            arm = next(a for a in summary["arms"] if a["arm"] == c["arm"])
            rows.append([*(str(v) for _, v in cell.values), c["arm"], str(arm["n"]), str(arm.get("n_sources") or 1),
                         f"{c['diff_mean']:+.3f} [{report._f(c['diff_ci_low'])}, {report._f(c['diff_ci_high'])}]",
                         f"{report._f(c['a12'], 2)} [{report._f(c['a12_ci_low'], 2)}, {report._f(c['a12_ci_high'], 2)}]",
                         c["verdict"]])
    baseline = summaries[0]["summary"]["run"]["baseline"]
    # stable: the heatmaps, then the best arm of each cell, then the rest (benefit figures)
    ordered = sorted(figure_names, key=lambda n: 0 if n.startswith("heatmap_") else 1 if n == "best_arm.png" else 2)
    best = best_arm_table(sweep, summaries)
    return [
        report.Section("What this sweep found", "text", sweep_finding(sweep, summaries)),
        report.Section(None, "text", f"{len(summaries)} cells over {', '.join(keys)}; every transfer arm against "
                                     f"{baseline} in each cell, with CIs at the source-model level.", terminal=False),
        *(report.Section(figure_title(name, _transfer_arms(summaries)), "figure", name, terminal=False)
          for name in ordered),
        report.Section("Transfer benefit per cell", "table", (header, rows), folded=len(rows) > report.FOLD_ROWS),
        report.Section("Best arm per cell", "table", best, folded=len(best[1]) > report.FOLD_ROWS),
    ]


def best_arm_table(sweep: Sweep, summaries) -> tuple[list[str], list[list[str]]]:
    """Per cell: the arm with the highest mean, that mean, and P(it is the best)."""
    rows = []
    for item in summaries:
        best = item["summary"].get("best")
        if best:
            rows.append([*(str(v) for _, v in item["cell"].values), best["best_arm"], f"{best['mean']:.3f}",
                         f"{best['p_best']:.2f}"])
    return [*sweep.keys, "best arm", "mean", "P(best)"], rows


def sweep_figures(sweep: Sweep, summaries) -> dict[str, Any]:
    """benefit_<axis>.png per swept axis (difference of means and A12 with CI bands, one line per arm; other
    axes at each of their values as separate lines when there are two axes), and heatmap_<arm>.png for two axes."""
    arms = _transfer_arms(summaries)

    def stat(item, arm, key):
        c = next((c for c in item["summary"]["comparisons"] if c["arm"] == arm), None)
        return None if c is None else c.get(key)

    figures = {}
    for a, (key, values) in enumerate(sweep.axes):
        others = [i for i in range(len(sweep.axes)) if i != a]
        series: dict[str, dict[str, dict[str, list]]] = {arm: {} for arm in arms}
        for item in summaries:
            cell = item["cell"]
            label = ", ".join(f"{k}={v}" for k, v in (cell.values[i] for i in others))
            for arm in arms:
                s = series[arm].setdefault(label, {k: [] for k in ("x", "diff", "diff_lo", "diff_hi", "a12", "a12_lo", "a12_hi")})
                s["x"].append(cell.values[a][1])
                for field, name in (("diff", "diff_mean"), ("diff_lo", "diff_ci_low"), ("diff_hi", "diff_ci_high"),
                                    ("a12", "a12"), ("a12_lo", "a12_ci_low"), ("a12_hi", "a12_ci_high")):
                    v = stat(item, arm, name)
                    s[field].append(np.nan if v is None else v)
        figures[f"benefit_{key}.png"] = plots.sweep_benefit_figure(key, series, summaries[0]["summary"]["run"]["baseline"])
    if len(sweep.axes) == 2:
        (kx, vx), (ky, vy) = sweep.axes
        for arm in arms:
            grid = {k: np.full((len(vy), len(vx)), np.nan) for k in ("diff_mean", "a12")}
            verdicts = np.full((len(vy), len(vx)), "", dtype=object)
            for item in summaries:
                i = vy.index(item["cell"].values[1][1])
                j = vx.index(item["cell"].values[0][1])
                for k in grid:
                    v = stat(item, arm, k)
                    grid[k][i, j] = np.nan if v is None else v
                verdicts[i, j] = stat(item, arm, "verdict") or ""
            figures[heatmap_name(arm)] = plots.sweep_heatmap_figure(arm, kx, list(vx), ky, list(vy), grid, verdicts)
    if len(sweep.axes) <= 2:
        figures["best_arm.png"] = best_arm_map(sweep, summaries)
    return figures


def best_arm_map(sweep: Sweep, summaries) -> Any:
    """best_arm.png: the best arm of every cell over the first swept axis (x) and the second (y, if any),
    shaded by its P(best)."""
    (kx, vx), (ky, vy) = (*sweep.axes, ("", ("",)))[:2]
    arms = [a["arm"] for a in summaries[0]["summary"]["arms"]]
    best, p = np.full((len(vy), len(vx)), -1), np.full((len(vy), len(vx)), np.nan)
    for item in summaries:
        values = [v for _, v in item["cell"].values]
        i, j = vy.index(values[1]) if len(values) > 1 else 0, vx.index(values[0])
        cell_best = item["summary"].get("best")
        if cell_best:
            best[i, j], p[i, j] = arms.index(cell_best["best_arm"]), cell_best["p_best"]
    return plots.best_arm_figure(arms, kx, list(vx), ky, list(vy), best, p)


def cells_done(sweep: Sweep, sweep_dir: Path) -> Iterable[Cell]:
    return (c for c in sweep.cells() if finished(sweep_dir, c))
