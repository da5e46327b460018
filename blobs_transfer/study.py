"""The study as a library: every command's work as one plain function, usable from a notebook or a worker.

Nothing here prints or needs Click; long work reports through an optional `progress(label, epochs, total)`
callback (epochs just completed of `total` in the phase `label`). Expected failures raise `errors.StudyError`
subclasses with one-line messages. TensorFlow is imported only inside the functions that train or load models,
so `report`, `check` and `write_baseline` run without it.

    from blobs_transfer import study
    cfg = study.load_config("configs/sources.toml", **{"study.repeats": 10})
    sources = study.source_models(cfg, "results")        # loads the saved source model, or trains K of them
    result = study.run_comparison(cfg, sources)          # arrays: result.final, result.history; result.records()
    summary = study.summarise(cfg, result)               # the statistics as a dict
    run_dir = study.write_run(cfg, result, "results", sources=sources)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import analysis, integrity, plots, report, results, stats
from .config import Arm, Config, ProblemSpec, config_to_dict, load_config, to_toml
from .errors import DamagedRunError, OtherStudyError, ResultsError, SourceModelError, StudyError
from .experiment import RunResult, SourceModel, Sources, plan_replicas, sources_needed
from .problems import make_problem
from .results import atomic_write_text, ensure_writable, save_figure, write_csv, write_json
from .seeds import statistic_seed

__all__ = [
    "load_config", "generate", "train_source", "load_source_model", "source_models", "run_comparison",
    "summarise", "write_run", "compare", "fit", "report_run", "check", "write_baseline", "load_run", "verify_run",
    "default_source_path", "Comparison", "SourceModel", "RunResult",
]

Progress = Callable[[str, int, int], None]  # (phase label, epochs just completed, total epochs of the phase)
DEFAULT_RESULTS = Path("results")


def _phase(progress: Progress | None, label: str, total: int) -> Callable[[int], None] | None:
    return None if progress is None else (lambda n: progress(label, n, total))


# --- problems ------------------------------------------------------------------------------------


def generate(cfg: Config, results_dir: str | Path = DEFAULT_RESULTS) -> Path:
    """Write every catalogue problem's train/test splits as CSV, plus the study's source and target problems
    where the config changes them, and draw them all; returns the folder."""
    folder = ensure_writable(Path(results_dir) / "problems")
    specs = {cfg.problem_slug(cfg.catalogue_spec(n)): cfg.catalogue_spec(n) for n in range(1, len(cfg.problems.seeds) + 1)}
    for spec in (cfg.source_spec, cfg.target_spec):
        specs.setdefault(cfg.problem_slug(spec), spec)
    shown = []
    for slug, spec in specs.items():
        problem = make_problem(spec)
        for split in ("train", "test"):
            x, y = getattr(problem, f"x_{split}"), getattr(problem, f"y_{split}")
            header = [*(f"x{j + 1}" for j in range(x.shape[1])), "label"]
            write_csv(folder / f"{slug}_{split}.csv", header,
                      ([*(repr(float(v)) for v in row), int(label)] for row, label in zip(x, y)))
        shown.append((f"{cfg.describe_problem(spec)}\nmake_blobs random_state={spec.random_state}",
                      np.concatenate([problem.x_train, problem.x_test]), np.concatenate([problem.y_train, problem.y_test])))
    save_figure(plots.problems_figure(shown), folder / "problems.png")
    return folder


# --- the engine ------------------------------------------------------------------------------------


def import_tensorflow() -> None:
    """TensorFlow and Keras, imported quietly (only the tensorflow and keras engines and saving need them)."""
    from .backend import import_tensorflow as quiet_import

    quiet_import()


def prepare_engine(cfg: Config, threads: int | None = None) -> None:
    """Before any work: TensorFlow imported quietly only for the engines that use it, and the Numba engine's
    thread limit for this process (None: $BLOBS_TRANSFER_THREADS, else every core)."""
    if cfg.study.engine != "numba":
        import_tensorflow()
    if threads is not None:
        from .engine import set_threads

        set_threads(threads)


def write_text(path: str | Path, text: str) -> None:
    """A text file written atomically (a report for CI, say): one line and exit 2 if the disk fails."""
    atomic_write_text(Path(path), text)


# --- source models -------------------------------------------------------------------------------


def default_source_path(cfg: Config, results_dir: str | Path, spec: ProblemSpec) -> Path:
    """Where `train_source` saves and `compare` looks: results/source/problem1.keras for the catalogue's
    Problem 1, and a name that spells out the changes for a changed spec (problem1-n_train=100.keras)."""
    return Path(results_dir) / "source" / f"{cfg.problem_slug(spec)}.keras"


def _write_history(folder: Path, stem: str, history: dict[str, np.ndarray], title: str) -> None:
    """A single run's per-epoch history as CSV and its learning-curve figure."""
    n = history["train_loss"].shape[1]
    rows = ([e, *(f"{history[k][0, e]:.6f}" for k in results.CURVE_KEYS)] for e in range(n))
    write_csv(folder / f"{stem}_history.csv", ["epoch", *results.CURVE_KEYS], rows)
    single = {k: history[k][0] for k in results.CURVE_KEYS}
    save_figure(plots.learning_curves_figure(single, title), folder / f"{stem}_learning_curves.png")


def train_source(cfg: Config, problem: int | None = None, *, out: str | Path | None = None,
                 results_dir: str | Path = DEFAULT_RESULTS, progress: Progress | None = None):
    """Train source model 0 of a problem (the study's source problem by default) and save it as .keras, with
    its history, learning curves and metadata beside it. Returns (SourceModel, its TrainResult)."""
    from . import experiment
    from .models import model_from_weights, save_model

    problem = problem or cfg.study.source_problem
    spec = cfg.spec_of_problem(problem)
    out = Path(out) if out else default_source_path(cfg, results_dir, spec)
    ensure_writable(out.parent)
    (model,), result = experiment.train_sources(cfg, problem, 1, progress=_phase(progress, f"source on {cfg.describe_problem(spec)}", cfg.source_training.epochs))
    save_model(model_from_weights(cfg, model.weights), out)
    _write_history(out.parent, out.stem, result.history, f"Source model on {cfg.describe_problem(spec)} (seed {model.seed})")
    write_json(out.parent / f"{out.stem}.json", results.run_metadata(
        problem=problem, spec=asdict(spec), seed=model.seed, root_seed=cfg.study.seed, engine=cfg.study.engine,
        epochs=cfg.source_training.epochs, train_accuracy=float(result.final["train_accuracy"][0]),
        test_accuracy=float(result.final["test_accuracy"][0])))
    return replace(model, path=str(out)), result


def load_source_model(path: str | Path, cfg: Config, spec: ProblemSpec | None = None) -> SourceModel:
    """A saved source model with the seed its metadata file records (None if it has none)."""
    from .keras_file import load_source_weights  # h5py, not Keras: reading a source model needs no TensorFlow

    path = Path(path)
    weights = load_source_weights(path, cfg)
    seed = None
    try:
        seed = json.loads(path.with_suffix(".json").read_text(encoding="utf-8")).get("seed")
    except (OSError, ValueError, AttributeError):
        pass  # a model saved elsewhere, without our metadata: its seed is unknown
    return SourceModel(spec or cfg.source_spec, weights, seed, str(path))


def source_models(cfg: Config, results_dir: str | Path = DEFAULT_RESULTS, *, source: str | Path | None = None,
                  train_missing: bool = False, progress: Progress | None = None,
                  notify: Callable[[str], None] | None = None) -> Sources:
    """The source models every transfer arm needs, per source problem spec, by source index.

    With source_repeats = 1 the study's source problem uses the saved model (`source`, else the default
    path; trained and saved first if missing and `train_missing`). Every other source problem, and every
    source problem when source_repeats > 1, gets `source_repeats` models trained here from recorded seeds.
    """
    from . import experiment

    out: Sources = {}
    for number in sources_needed(cfg):
        spec = cfg.spec_of_problem(number)
        if cfg.study.source_repeats == 1 and number == cfg.study.source_problem:
            path = Path(source) if source else default_source_path(cfg, results_dir, spec)
            if not path.exists() and train_missing and source is None:
                if notify:
                    notify(f"No source model at {path}: training it first (--train-source).")
                train_source(cfg, number, out=path, progress=progress)
            if not path.exists():
                hint = "" if number == 1 else f" --problem {number}"
                extra = "" if spec == cfg.catalogue_spec(number) else " --config <this config>"
                raise SourceModelError(f"no source model at {path}: make one with `blobs-transfer train-source{hint}{extra}`, "
                                       "pass --source PATH, or add --train-source to compare")
            out[spec] = [load_source_model(path, cfg, spec)]
        else:
            count, epochs = cfg.study.source_repeats, cfg.source_training.epochs
            out[spec], _ = experiment.train_sources(
                cfg, number, count, progress=_phase(progress, f"{count} source models on {cfg.describe_problem(spec)}",
                                                    epochs if cfg.study.engine != "keras" else count * epochs))
    return out


def source_provenance(cfg: Config, sources: Sources) -> dict[str, Any]:
    """Per source problem: where its models came from and their seeds, for metadata.json."""
    out = {}
    for spec, models in sources.items():
        entry: dict[str, Any] = {"problem": cfg.describe_problem(spec), "seeds": [m.seed for m in models]}
        paths = [m.path for m in models if m.path]
        if paths:
            entry["path"] = paths[0]
        out[cfg.problem_slug(spec)] = entry
    return out


# --- the comparison ------------------------------------------------------------------------------


def run_comparison(cfg: Config, sources: Sources, *, progress: Progress | None = None) -> RunResult:
    """Train every repeat of every arm on the target problem; results as arrays, in `plan_replicas` order."""
    from . import experiment

    total = experiment.epochs_of_work(cfg)
    return experiment.run_comparison(cfg, sources, progress=_phase(progress, "training", total))


def summarise(cfg: Config, result: RunResult, sources: Sources | None = None) -> dict[str, Any]:
    """The statistics of an in-memory result: the same dict `compare` writes as summary.json."""
    return analysis.summarise(cfg, result.records(), result.history["test_accuracy"].astype(float),
                              source_provenance(cfg, sources or {}))


@dataclass(frozen=True)
class Comparison:
    """What `compare` made: its run directory, the statistics, and the raw result."""

    run_dir: Path
    summary: dict[str, Any]
    result: RunResult


def _write_run_files(cfg: Config, result: RunResult, run_dir: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Scores, curves, metadata, then the statistics and figures built back from those files, so `report`
    on the finished directory gives the very same summary; the run is marked complete last."""
    started = time.perf_counter()
    results.write_scores(run_dir / "scores.csv", results.score_rows(result.replicas, result.final, result.diverged))
    results.write_curves(run_dir / "curves", result.replicas, result.history)
    seeds: dict[str, list[int]] = {}
    for rep in result.replicas:
        seeds.setdefault(rep.arm.name, []).append(rep.seed)
    meta = results.run_metadata(root_seed=cfg.study.seed, engine=cfg.study.engine, replicas=len(result.replicas),
                                diverged=int(result.diverged.sum()), repeat_seeds=seeds, **metadata)
    write_json(run_dir / "metadata.json", meta)
    summary = report_run(run_dir, require_complete=False)
    meta["statistics_and_files_seconds"] = round(time.perf_counter() - started, 3)
    write_json(run_dir / "metadata.json", meta)
    seal_run(run_dir, cfg)
    results.mark_complete(run_dir)
    return summary


RUN_DATA = ("config.toml", "scores.csv", *(f"curves/{k}.csv" for k in results.CURVE_KEYS), "metadata.json")
RERUN = "; restore the run from a copy or re-run `compare`"


def planned_runs(cfg: Config) -> dict[str, int]:
    """Runs per arm (config order) that the study's plan implies."""
    counts: dict[str, int] = {}
    for rep in plan_replicas(cfg):
        counts[rep.arm.name] = counts.get(rep.arm.name, 0) + 1
    return counts


def seal_run(run_dir: Path, cfg: Config, data: tuple[str, ...] = RUN_DATA) -> None:
    """Write the run's manifest: its data files, every other file as derived, and the planned row counts."""
    skip = {*data, integrity.MANIFEST, results.INCOMPLETE}
    derived = sorted(p.name for p in run_dir.iterdir() if p.is_file() and p.name not in skip and not p.name.startswith("."))
    planned = planned_runs(cfg)
    integrity.write_manifest(run_dir, data, derived=derived,
                             plan={"runs": sum(planned.values()), "runs_per_arm": planned})


def write_run(cfg: Config, result: RunResult, results_dir: str | Path = DEFAULT_RESULTS, *,
              sources: Sources | None = None) -> Path:
    """Write a result as a new run directory (scores, curves, statistics, figures, report); returns it."""
    run_dir = results.new_run_dir(results_dir, "compare")
    atomic_write_text(run_dir / "config.toml", to_toml(cfg))
    _write_run_files(cfg, result, run_dir, {"source_models": source_provenance(cfg, sources or {})})
    return run_dir


MEMORY_BUDGET_GIB = 2.0  # what a compare may hold at its peak, whatever --repeats is
BASE_GIB = 1.0  # TensorFlow's runtime, the libraries and one chunk of replicas in the engine (measured: 0.8-0.9)
BYTES_PER_CURVE_VALUE = 64  # per run and epoch: four float32 curves, their CSV text, two float64 read back


def estimated_peak_gib(cfg: Config) -> float:
    """What a comparison will hold at its peak: the base plus every run's per-epoch curves (the only part
    that grows with the number of runs; training is chunked and the statistics work on count histograms)."""
    runs = len(plan_replicas(cfg))
    return BASE_GIB + runs * (cfg.target_training.epochs + 1) * BYTES_PER_CURVE_VALUE / 2**30


def check_fits(cfg: Config) -> None:
    """Refuse, in one line and before anything is trained, a comparison that would not fit the memory budget."""
    need = estimated_peak_gib(cfg)
    if need > MEMORY_BUDGET_GIB:
        runs = len(plan_replicas(cfg))
        raise StudyError(f"{runs} runs of {cfg.target_training.epochs} epochs would need about {need:.1f} GiB, more than "
                         f"the {MEMORY_BUDGET_GIB:g} GiB a comparison may use: use fewer repeats or epochs, or split "
                         "the study into a sweep (its cells are separate comparisons)")


def compare(cfg: Config, results_dir: str | Path = DEFAULT_RESULTS, *, source: str | Path | None = None,
            train_missing: bool = False, progress: Progress | None = None,
            notify: Callable[[str], None] | None = None) -> Comparison:
    """The repeated comparison end to end: source models, training, and a new run directory with every file.

    The run directory is marked INCOMPLETE until its last file is written, so an interrupted or failed run
    (Ctrl-C, a full disk) is never mistaken for a finished one; earlier runs are never touched.
    """
    check_fits(cfg)
    ensure_writable(results_dir)
    started = time.perf_counter()
    sources = source_models(cfg, results_dir, source=source, train_missing=train_missing, progress=progress, notify=notify)
    run_dir = results.new_run_dir(results_dir, "compare")
    atomic_write_text(run_dir / "config.toml", to_toml(cfg))
    train_started = time.perf_counter()
    result = run_comparison(cfg, sources, progress=progress)
    train_seconds = time.perf_counter() - train_started
    summary = _write_run_files(cfg, result, run_dir, {
        "training_seconds": round(train_seconds, 3), "wall_seconds": round(time.perf_counter() - started, 3),
        "source_models": source_provenance(cfg, sources)})
    return Comparison(run_dir, summary, result)


def fit(cfg: Config, results_dir: str | Path = DEFAULT_RESULTS, *, source: str | Path | None = None, fixed: int = 0,
        progress: Progress | None = None) -> tuple[Path, RunResult]:
    """One run with learning curves on the target problem: standalone, or from a saved source model with
    `fixed` frozen layers (the tutorial's steps 2 and 3). Returns its run directory and result."""
    from . import experiment

    arm = Arm(f"transfer fixed={fixed}", weights="source", fixed=fixed) if source else Arm("standalone", fixed=fixed)
    cfg = replace(cfg, arms=(arm,), study=replace(cfg.study, baseline=arm.name, repeats=1, source_repeats=1))
    sources = {cfg.source_spec: [load_source_model(source, cfg)]} if source else {}
    ensure_writable(results_dir)
    run_dir = results.new_run_dir(results_dir, "fit")
    atomic_write_text(run_dir / "config.toml", to_toml(cfg))
    result = experiment.run_comparison(cfg, sources, progress=_phase(progress, arm.name, cfg.target_training.epochs))
    seed_used = result.replicas[0].seed
    title = f"{arm.name} on {cfg.describe_problem(cfg.target_spec)} (seed {seed_used})"
    _write_history(run_dir, "fit", result.history, title)
    write_json(run_dir / "metadata.json", results.run_metadata(
        arm=arm.name, source=str(source) if source else None, seed=seed_used, root_seed=cfg.study.seed,
        train_accuracy=float(result.final["train_accuracy"][0]), test_accuracy=float(result.final["test_accuracy"][0])))
    integrity.write_manifest(run_dir, ["config.toml", "fit_history.csv", "metadata.json"],
                             derived=["fit_learning_curves.png"], plan={"runs": 1})
    results.mark_complete(run_dir)
    return run_dir, result


# --- a run directory: report, gate ---------------------------------------------------------------


def verify_run(run_dir: str | Path, *, derived: bool = False) -> dict[str, Any] | None:
    """Prove a finished run's files are exactly as written before anything reads them; returns its manifest.

    A compare or fit run directory, or a sweep directory (its cells too). Raises ResultsError for an
    incomplete run, and DamagedRunError naming the first missing or damaged file. A run written before
    manifests returns None with an `errors.UnverifiedRunWarning`, after its row counts are checked against
    its config's plan. derived=True also checks the summaries and figures (what an exporter publishes).
    """
    run_dir = Path(run_dir)
    if (run_dir / "sweep.toml").is_file():
        from . import sweep

        return sweep.verify_sweep(run_dir, derived=derived)
    manifest = _verify_files(run_dir, derived=derived)
    if manifest is None and (run_dir / "scores.csv").is_file():
        load_run(run_dir, require_complete=False)  # a legacy run: at least its row counts must match its plan
    return manifest


def _verify_files(run_dir: Path, *, derived: bool = False) -> dict[str, Any] | None:
    if not (run_dir / integrity.MANIFEST).is_file() or (run_dir / results.INCOMPLETE).exists():
        results.require_complete_run(run_dir)  # incomplete, or not a run at all: say that, not "no manifest"
    return integrity.verify(run_dir, derived=derived, remedy=RERUN)


def load_run(run_dir: str | Path, *, require_complete: bool = True) -> tuple[Config, list[dict[str, Any]], dict[str, np.ndarray]]:
    """A run's config, scores (records) and test curves (test_accuracy, test_loss: (N, epochs + 1)), its files
    verified first (`verify_run`) and its row counts checked against its config's plan."""
    run_dir = Path(run_dir)
    if require_complete:
        _verify_files(run_dir)
    try:
        cfg = load_config(run_dir / "config.toml")
        scores = results.read_scores(run_dir / "scores.csv")
        curves = {k: results.read_curve(run_dir / "curves", k) for k in ("test_accuracy", "test_loss")}
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, ResultsError):
            raise
        raise ResultsError(f"{run_dir} cannot be read as a run: {exc}") from None
    found: dict[str, int] = {}
    for row in scores:
        found[row["arm"]] = found.get(row["arm"], 0) + 1
    problem = integrity.count_problem(str(run_dir / "scores.csv"), found, planned_runs(cfg))
    if problem:
        raise DamagedRunError(f"{problem}{RERUN}")
    for key, curve in curves.items():
        if len(curve) != len(scores):
            raise DamagedRunError(f"{run_dir / 'curves' / key}.csv has {len(curve)} rows where scores.csv has "
                                  f"{len(scores)} runs{RERUN}")
    return cfg, scores, curves


def run_summary(run_dir: str | Path, *, require_complete: bool = True):
    """(config, scores, curves, summary) of a run directory, the summary recomputed from its files."""
    cfg, scores, curves = load_run(run_dir, require_complete=require_complete)
    try:
        meta = json.loads((Path(run_dir) / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    summary = analysis.summarise(cfg, scores, curves["test_accuracy"], meta.get("source_models"))
    return cfg, scores, curves, summary


def _figures(cfg: Config, summary: dict[str, Any], scores, curves) -> dict[str, Any]:
    """The run's figures (name -> matplotlib Figure), drawn from its scores and curves."""
    by_arm = analysis.arm_accuracies(cfg, scores)
    names = [a["arm"] for a in summary["arms"] if a["n"]]
    sources = report.sources_phrase(summary)
    title = f"Test accuracy on {summary['run']['target']}, {cfg.study.repeats} repeats per arm" + (f"\n{sources}" if sources else "")
    # bands at the source-model level for arms whose runs come from K > 1 source models (cluster-robust SE)
    bands = {key: {n: stats.curve_band(curves[key][by_arm[n]["rows"]],
                                       groups=by_arm[n]["source_index"] if by_arm[n]["uses_source"] else None)
                   for n in names} for key in ("test_accuracy", "test_loss")}
    return {
        "boxplot.png": plots.boxplot_figure(names, [by_arm[n]["accuracy"] for n in names], title, seed=cfg.study.seed),
        "forest.png": plots.forest_figure(summary["comparisons"], cfg.study.baseline, subtitle=sources),
        "curves.png": plots.curves_figure(bands["test_accuracy"], bands["test_loss"],
                                          "Learning curves on the test split: mean of the runs with the 95% CI of the mean"
                                          + (f"\n{sources}" if sources else "")),
    }


def report_run(run_dir: str | Path, *, require_complete: bool = True) -> dict[str, Any]:
    """Recompute a run's summary.json, summary.md, figures and report.html from its files; returns the summary."""
    run_dir = Path(run_dir)
    cfg, scores, curves, summary = run_summary(run_dir, require_complete=require_complete)
    write_json(run_dir / "summary.json", summary)
    blocks = report.sections(summary)
    title = report.title_of(summary)
    atomic_write_text(run_dir / "summary.md", report.markdown(blocks, title))
    figures = _figures(cfg, summary, scores, curves)
    results.save_figures({run_dir / name: figure for name, figure in figures.items()})
    pngs = {name: (run_dir / name).read_bytes() for name in figures}
    atomic_write_text(run_dir / "report.html", report.html(blocks, title, pngs))
    manifest = integrity.read_manifest(run_dir) if require_complete else None
    if manifest is not None:  # the rebuilt summaries and figures are what the manifest now vouches for
        integrity.refresh(run_dir, manifest)
    return summary


def terminal_report(summary: dict[str, Any]) -> str:
    """The summary as the terminal shows it (the same sections as summary.md and report.html)."""
    return report.terminal(report.sections(summary))


def read_baseline(path: str | Path) -> dict[str, Any]:
    try:
        baseline = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(baseline.get("arms"), dict):
            raise ValueError("no 'arms' table")
        return baseline
    except FileNotFoundError:
        raise ResultsError(f"baseline file {path} does not exist") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise ResultsError(f"baseline file {path} is not a blobs-transfer baseline: {exc}") from None


def check(run_dir: str | Path, baseline_file: str | Path, *, require_same_study: bool = True) -> list[dict[str, Any]]:
    """The regression gate: one row per (arm, statistic) of a finished run against a baseline, with `ok`.

    The statistics are recomputed from the run's verified scores.csv, not read from summary.json, so an
    edited scores file cannot slip through. A run of another study than the baseline's (another setting
    that changes the numbers; the seed and engine may differ) is OtherStudyError naming the settings: its
    statistics would move for that reason alone. require_same_study=False compares anyway (to measure
    what the bands detect, as benchmarks/calibrate_gate.py does).
    """
    import warnings

    from . import gate

    baseline = read_baseline(baseline_file)
    cfg, _, _, summary = run_summary(run_dir)
    if require_same_study:
        differ, complete = gate.study_differences(baseline, gate.study_settings(config_to_dict(cfg)), summary["run"])
        if not complete:
            warnings.warn(f"{baseline_file} records only the target, source, repeats and epochs of its study (written "
                          "before baselines recorded their config): only those are compared",
                          integrity.UnverifiedRunWarning, stacklevel=2)
        if differ:
            shown = ", ".join(differ[:4]) + (f" and {len(differ) - 4} more" if len(differ) > 4 else "")
            raise OtherStudyError(f"{run_dir} is a run of another study than {baseline_file} guards: {shown}")
    return gate.check(summary, baseline)


def write_baseline(run_dir: str | Path, out: str | Path) -> Path:
    """A regression baseline (per-arm statistics with tolerance bands) from a finished run."""
    from . import gate

    cfg, scores, _, summary = run_summary(run_dir)
    by_arm = analysis.arm_accuracies(cfg, scores)
    arms = [{"arm": a["arm"], "n_diverged": a["n_diverged"], "accuracy": by_arm[a["arm"]]["accuracy"],
             "groups": by_arm[a["arm"]]["source_index"] if by_arm[a["arm"]]["uses_source"] else None}
            for a in summary["arms"]]
    run = {k: summary["run"][k] for k in ("target", "source", "repeats", "source_repeats", "epochs", "seed", "engine")}
    write_json(Path(out), gate.make_baseline(arms, n_test=summary["run"]["n_test"], run=run, source=Path(run_dir).name,
                                             seed=statistic_seed(cfg.study.seed, "gate"),
                                             study=gate.study_settings(config_to_dict(cfg))))
    return Path(out)
