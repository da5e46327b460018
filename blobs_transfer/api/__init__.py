"""The study as a library: one plain function per command, usable from a notebook, a script or a worker.

This layer only composes the stages below it (problems, model, train, stats, sweep, rundir, render, export): the
command line (`cli`) parses options and calls exactly one of these. Nothing here prints or needs Click; long work
reports through an optional `progress(label, epochs, total)` callback (epochs just completed of `total` in the
phase `label`). Expected failures raise `errors.StudyError` subclasses with one-line messages. TensorFlow is
imported only by the engines and the `.keras` writer that need it, so `report`, `check` and `baseline` run
without it.

    from blobs_transfer import api
    cfg = api.load_config("configs/sources.toml", **{"study.repeats": 10})
    sources = api.source_models(cfg, "results")        # loads the saved source model, or trains K of them
    result = api.run_comparison(cfg, sources)          # arrays: result.final, result.history; result.records()
    summary = api.summarise(cfg, result)               # the statistics as a dict
    run_dir = api.write_run(cfg, result, "results", sources=sources)

Its modules: `common` (progress, default folder, engine set-up), `problems`, `sources` (source models),
`comparison` (compare, fit, report), `transferability` (scores of source models, rank-sources), `recommend`
(rank-sources' answer: the pick and how stable it is), `setups` (rank-sources of a sweep: every cell scored, and
which score to trust across the cells), `sweep`,
`gate` (check, baseline), `runs` (verify, runs, export) and `version` (--version).

command          function
generate         `generate`
train-source     `train_source`
fit              `fit`
compare          `compare`
sweep            `run_sweep` (of `load_sweep`)
report           `report_run` (and `rescore_run`: a finished run's saved source models scored again)
check            `check`
baseline         `write_baseline`
verify           `verify`
runs             `list_runs`
export-mlflow    `export_mlflow`
rank-sources     `rank_sources` (and `ranking_text`); of a sweep `rank_sweep` (and `sweep_text`)
"""

from blobs_transfer.api.common import DEFAULT_RESULTS, Progress, import_tensorflow, prepare_engine, write_text
from blobs_transfer.api.comparison import (
    Comparison,
    compare,
    estimated_peak_gib,
    fit,
    report_run,
    rescore_run,
    run_comparison,
    sections_text,
    summarise,
    terminal_report,
    write_run,
)
from blobs_transfer.api.gate import check, gate_document, gate_text, write_baseline
from blobs_transfer.api.problems import generate
from blobs_transfer.api.runs import export_mlflow, list_runs, mlflow_hint, runs_table, verify
from blobs_transfer.api.setups import rank_sweep, sweep_text
from blobs_transfer.api.sources import default_source_path, load_source_model, source_models, train_source
from blobs_transfer.api.sweep import CellError, SweepOutcome, run_sweep
from blobs_transfer.api.transferability import rank_sources, ranking_text
from blobs_transfer.config import load_config
from blobs_transfer.rundir.run import load_run, read_baseline, run_summary, verify_run
from blobs_transfer.sweep.grid import load_sweep
from blobs_transfer.train.engine import THREADS_ENV
from blobs_transfer.train.plan import RunResult, SourceModel

__all__ = [
    "DEFAULT_RESULTS",
    "THREADS_ENV",
    "Progress",
    "import_tensorflow",
    "prepare_engine",
    "write_text",
    "Comparison",
    "compare",
    "estimated_peak_gib",
    "fit",
    "report_run",
    "rescore_run",
    "run_comparison",
    "summarise",
    "terminal_report",
    "sections_text",
    "write_run",
    "check",
    "gate_document",
    "gate_text",
    "write_baseline",
    "generate",
    "export_mlflow",
    "list_runs",
    "mlflow_hint",
    "runs_table",
    "verify",
    "default_source_path",
    "load_source_model",
    "source_models",
    "train_source",
    "rank_sources",
    "ranking_text",
    "rank_sweep",
    "sweep_text",
    "CellError",
    "SweepOutcome",
    "run_sweep",
    "load_config",
    "load_run",
    "read_baseline",
    "run_summary",
    "verify_run",
    "load_sweep",
    "RunResult",
    "SourceModel",
]
