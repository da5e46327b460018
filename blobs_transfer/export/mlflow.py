"""Runs and sweeps in MLflow: a compare run becomes one MLflow run, a sweep a parent run with one child per cell.

What is logged is decided by pure functions of a run directory's files (`compare_record`, `sweep_records`);
only `export` talks to MLflow, and it imports MLflow itself, so nothing else in the package pays MLflow's import
time or needs the `mlflow` extra. Each exported run carries a tag identifying its directory (a hash of its
metadata.json), and the tag marking an export finished is set last, so exporting a directory again adds
nothing, and an export that was interrupted is replaced rather than duplicated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from blobs_transfer.errors import ResultsError, StudyError
from blobs_transfer.rundir.files import INCOMPLETE
from blobs_transfer.rundir.run import run_summary, verify_run
from blobs_transfer.stats.summary import arm_accuracies

INSTALL_HINT = "export-mlflow needs MLflow, which is not installed: pip install 'blobs-transfer[mlflow]'"
DEFAULT_EXPERIMENT = "blobs-transfer"
DB_NAME = "mlflow.db"
ARTIFACTS_NAME = "mlartifacts"
SOURCE_TAG = "blobs_transfer.source_id"  # identifies the exported directory: how a second export finds the first
DONE_TAG = "blobs_transfer.exported"  # set last: an export without it was interrupted
VERDICT_NUMBER = {"better": 1.0, "no evidence": 0.0, "worse": -1.0}
ARM_STATS = {
    "mean": "mean",
    "ci_low": "mean_ci_low",
    "ci_high": "mean_ci_high",
    "std": "std",
    "median": "median",
    "n": "n",
    "n_diverged": "n_diverged",
}
COMPARISON_STATS = ("diff_mean", "diff_ci_low", "diff_ci_high", "a12", "a12_ci_low", "a12_ci_high")


@dataclass(frozen=True)
class RunRecord:
    """One MLflow run to be: params and tags (str), final metrics, per-epoch metrics (value at step = epoch),
    and the local files or folders to log as its artefacts."""

    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    artifacts: tuple[Path, ...]
    steps: dict[str, list[float]] = field(default_factory=dict)
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class Exported:
    """What `export` did: the parent (or only) run's id, how many runs it added (0: exported before)."""

    kind: str
    tracking_uri: str
    experiment: str
    run_id: str
    added: int


# --- what is logged (pure) -----------------------------------------------------------------------


def metric_key(name: str) -> str:
    """An arm name as an MLflow key: 'transfer fixed=1' -> 'transfer fixed_1' (keys allow letters, digits,
    _ - . / and spaces)."""
    return re.sub(r"[^\w\-. /]", "_", name)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """TOML data as params 'section.key' -> value; a list of tables (the arms) as 'arms.0.name' ...; other
    lists as JSON."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                out.update(flatten(item, f"{name}.{i}."))
        else:
            out[name] = json.dumps(value) if isinstance(value, (list, bool)) else str(value)
    return {metric_key(k): v for k, v in out.items()}


def summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Per arm '<arm>/mean', '<arm>/mean_ci_low' ...; per arm against the baseline '<arm>/diff_mean' with CI,
    '<arm>/a12' with CI and '<arm>/verdict' (1 better, 0 no evidence, -1 worse)."""
    out = {}
    for arm in summary["arms"]:
        for key, name in ARM_STATS.items():
            if arm.get(key) is not None:
                out[f"{metric_key(arm['arm'])}/{name}"] = float(arm[key])
    for c in summary["comparisons"]:
        for key in COMPARISON_STATS:
            if c.get(key) is not None:
                out[f"{metric_key(c['arm'])}/{key}"] = float(c[key])
        if c.get("verdict") in VERDICT_NUMBER:
            out[f"{metric_key(c['arm'])}/verdict"] = VERDICT_NUMBER[c["verdict"]]
    return out


def epoch_means(cfg, scores: list[dict[str, Any]], test_accuracy: np.ndarray) -> dict[str, list[float]]:
    """'<arm>/test_accuracy' -> the arm's mean test accuracy at each epoch (0 = before training); curves
    (N, epochs + 1) in scores.csv order, diverged runs left out as in every statistic."""
    out = {}
    for name, data in arm_accuracies(cfg, scores).items():
        if data["rows"]:
            means = np.nanmean(test_accuracy[data["rows"]], axis=0)
            out[f"{metric_key(name)}/test_accuracy"] = [float(v) for v in means]
    return out


def source_id(folder: Path, kind: str) -> str:
    """What identifies a run directory across exports (and copies of it): a hash of its metadata.json, which
    records when and how it was made; the resolved path for a directory without one."""
    meta = folder / "metadata.json"
    data = meta.read_bytes() if meta.is_file() else str(folder.resolve()).encode()
    return hashlib.sha256(kind.encode() + b"\0" + data).hexdigest()[:20]


def _metadata(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _times(meta: dict[str, Any]) -> dict[str, int | None]:
    """start_ms and end_ms of the run (milliseconds since the epoch) from its metadata, where it has them."""
    try:  # metadata.json is written when the work is done, so its time is the end
        end = int(datetime.fromisoformat(meta["created_utc"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError):
        return {"start_ms": None, "end_ms": None}
    wall = meta.get("wall_seconds")
    return {"start_ms": end - int(1000 * wall) if isinstance(wall, (int, float)) else end, "end_ms": end}


def _tags(folder: Path, kind: str, meta: dict[str, Any]) -> dict[str, str]:
    tags = {
        "mlflow.runName": folder.name,
        "blobs_transfer.kind": kind,
        "blobs_transfer.directory": str(folder.resolve()),
        SOURCE_TAG: source_id(folder, kind),
    }
    if meta.get("command"):
        tags["blobs_transfer.command"] = str(meta["command"])
    if meta.get("git_commit"):
        tags["mlflow.source.git.commit"] = str(meta["git_commit"])
    return tags


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ResultsError(f"{path} cannot be read: {exc}") from None


def kind_of(folder: Path) -> str:
    """'compare' or 'sweep'; anything else, missing or INCOMPLETE is a one-line ResultsError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"{folder} is not a directory")
    kind = (
        "sweep"
        if (folder / "sweep.toml").is_file()
        else "compare"
        if (folder / "config.toml").is_file()
        and ((folder / "scores.csv").is_file() or folder.name.startswith("compare-"))
        else None
    )
    if kind is None:
        raise ResultsError(f"{folder} is neither a compare run nor a sweep (no scores.csv, no sweep.toml)")
    if (folder / INCOMPLETE).exists():
        raise ResultsError(
            f"{folder} is INCOMPLETE (still running, interrupted or failed): finish it before exporting"
            + (f" (blobs-transfer sweep --resume {folder})" if kind == "sweep" else "")
        )
    return kind


def compare_record(run_dir: Path) -> RunRecord:
    """A finished compare run as one MLflow run: the resolved config, root seed and engine as params; the
    statistics recomputed from its files (as `report` does) as metrics; the per-epoch means as steps."""
    run_dir = Path(run_dir)
    cfg, scores, curves, summary = run_summary(run_dir)
    meta = _metadata(run_dir)
    params = flatten(_read_toml(run_dir / "config.toml"))
    params.update(root_seed=str(cfg.study.seed), engine=cfg.study.engine)
    return RunRecord(
        run_dir.name,
        params,
        summary_metrics(summary),
        _tags(run_dir, "compare", meta),
        (run_dir,),
        epoch_means(cfg, scores, curves["test_accuracy"]),
        **_times(meta),
    )


def sweep_records(sweep_dir: Path) -> tuple[RunRecord, list[RunRecord]]:
    """A finished sweep as a parent run (the grid and base config as params, its tables, figures and report as
    artefacts) and one child per cell (the cell's resolved config, the swept keys among them, as params; the
    cell's statistics as metrics; its folder as artefacts)."""
    sweep_dir = Path(sweep_dir)
    meta = _metadata(sweep_dir)
    data = _read_toml(sweep_dir / "sweep.toml")
    params = flatten(data)
    study = data.get("study", {})
    params.update(root_seed=str(meta.get("root_seed", study.get("seed", 0))), engine=str(study.get("engine", "numba")))
    parent = RunRecord(
        sweep_dir.name,
        params,
        {"cells": float(meta.get("cells", 0)), "networks": float(meta.get("networks", 0))},
        _tags(sweep_dir, "sweep", meta),
        tuple(p for p in sorted(sweep_dir.iterdir()) if p.is_file() and not p.name.startswith(".")),
        **_times(meta),
    )
    children = []
    for folder in sorted((sweep_dir / "cells").iterdir()):
        try:
            cell = json.loads((folder / "cell.json").read_text(encoding="utf-8"))
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResultsError(f"{folder} cannot be read as a finished cell: {exc}") from None
        values = cell["values"]
        cell_params = flatten(_read_toml(folder / "config.toml"))
        cell_params.update({metric_key(f"sweep.{k}"): str(v) for k, v in values.items()})
        cell_params.update(root_seed=params["root_seed"], engine=cell_params.get("study.engine", params["engine"]))
        name = f"cell {cell['index']}: " + ", ".join(f"{k}={v}" for k, v in values.items())
        tags = {
            "mlflow.runName": name,
            "blobs_transfer.kind": "sweep cell",
            "blobs_transfer.cell": str(cell["index"]),
            SOURCE_TAG: f"{parent.tags[SOURCE_TAG]}/{cell['index']}",
        }
        children.append(
            RunRecord(
                name,
                cell_params,
                summary_metrics(summary),
                tags,
                (folder,),
                start_ms=parent.start_ms,
                end_ms=parent.end_ms,
            )
        )
    if not children:
        raise ResultsError(f"{sweep_dir} has no finished cells to export")
    return parent, children


# --- MLflow (the only part that imports it) ------------------------------------------------------


def default_tracking_uri(folder: Path) -> str:
    """A SQLite store in the results folder that holds the run: results/mlflow.db."""
    return f"sqlite:///{(Path(folder).resolve().parent / DB_NAME)}"


def open_hint(uri: str) -> str:
    """How a person opens the exported runs."""
    if uri.startswith(("http://", "https://", "databricks")):
        return f"Open them at {uri}"
    return f"Open them with: mlflow ui --backend-store-uri {uri}"


def _import_mlflow():
    try:
        import mlflow  # noqa: F401
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise StudyError(INSTALL_HINT) from None
    for name in ("alembic", "mlflow"):  # the store's schema migrations log to stderr on first use
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient


def _experiment_id(client, name: str, uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage != "active":
            raise StudyError(f"MLflow experiment {name!r} is deleted in {uri}: restore it or choose --experiment")
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):  # artefacts beside the database, not in the current folder
        location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / ARTIFACTS_NAME).as_uri()
    return client.create_experiment(name, artifact_location=location)


def _log(client, run_id: str, record: RunRecord) -> None:
    from mlflow.entities import Metric, Param, RunTag

    stamp = record.start_ms or 0
    params = [Param(k, v) for k, v in record.params.items()]
    tags = [RunTag(k, v) for k, v in record.tags.items() if k != "mlflow.runName"]
    metrics = [Metric(k, v, stamp, 0) for k, v in record.metrics.items()]
    metrics += [
        Metric(k, v, stamp, step)
        for k, values in record.steps.items()
        for step, v in enumerate(values)
        if np.isfinite(v)
    ]
    for i in range(0, len(params), 100):
        client.log_batch(run_id, params=params[i : i + 100])
    for i in range(0, len(tags), 100):
        client.log_batch(run_id, tags=tags[i : i + 100])
    for i in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[i : i + 1000])
    for path in record.artifacts:
        if path.is_dir():
            client.log_artifacts(run_id, str(path))
        else:
            client.log_artifact(run_id, str(path))


def _new_run(client, experiment_id: str, record: RunRecord, parent: str | None = None) -> str:
    tags = {SOURCE_TAG: record.tags[SOURCE_TAG], **({"mlflow.parentRunId": parent} if parent else {})}
    run = client.create_run(experiment_id, start_time=record.start_ms, tags=tags, run_name=record.name)
    _log(client, run.info.run_id, record)
    return run.info.run_id


def export(folder: str | Path, tracking_uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT) -> Exported:
    """Export a finished compare run or sweep; a directory exported before (found by its SOURCE_TAG) adds
    nothing, and one whose export was interrupted (no DONE_TAG) is deleted and exported again."""
    folder = Path(folder)
    kind = kind_of(folder)
    verify_run(folder, derived=True)  # nothing damaged is published: every file against its manifest
    parent, children = (compare_record(folder), []) if kind == "compare" else sweep_records(folder)
    MlflowClient = _import_mlflow()
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or default_tracking_uri(folder)
    try:
        client = MlflowClient(tracking_uri=uri)
        experiment_id = _experiment_id(client, experiment, uri)
        earlier = client.search_runs(
            [experiment_id], filter_string=f"tags.`{SOURCE_TAG}` = '{parent.tags[SOURCE_TAG]}'"
        )
        for run in earlier:
            if run.data.tags.get(DONE_TAG) == "yes":
                return Exported(kind, uri, experiment, run.info.run_id, 0)
            for child in client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"):
                client.delete_run(child.info.run_id)
            client.delete_run(run.info.run_id)
        run_id = _new_run(client, experiment_id, parent)
        for child in children:
            child_id = _new_run(client, experiment_id, child, parent=run_id)
            client.set_terminated(child_id, "FINISHED", end_time=child.end_ms)
        client.set_tag(run_id, DONE_TAG, "yes")
        client.set_terminated(run_id, "FINISHED", end_time=parent.end_ms)
    except MlflowException as exc:
        raise StudyError(f"MLflow at {uri}: {str(exc.message).strip().splitlines()[0]}") from None
    return Exported(kind, uri, experiment, run_id, 1 + len(children))
