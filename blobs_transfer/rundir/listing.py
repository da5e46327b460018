"""The compare runs and sweeps under a results folder, one row each, so people can tell them apart unopened.

Reads only small files (metadata.json, config.toml, sweep.toml, summary.json, cells/*/cell.json and
summary.json), never scores or curves, and never imports TensorFlow or MLflow; a damaged or half-written
directory is listed as such rather than stopping the listing. `describe` is a pure function of what
`read_entry` read.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from blobs_transfer.errors import ResultsError
from blobs_transfer.rundir.files import INCOMPLETE

TIME = "%Y-%m-%d %H:%M:%S"
HEADER = ["kind", "started (UTC)", "config", "arms or cells", "source models", "status", "verdicts", "directory"]


def kind_of(folder: Path) -> str | None:
    """'sweep', 'compare', or None for anything else (a fit run, problems/, source/ ...)."""
    if (folder / "sweep.toml").is_file():
        return "sweep"
    if (folder / "scores.csv").is_file() or (folder.name.startswith("compare-") and (folder / "config.toml").is_file()):
        return "compare"
    return None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def config_name(command: str | None) -> str | None:
    """The stem of the --config file a CLI command was given ('gate' for ... --config configs/gate.toml);
    'defaults' for a CLI command without one; None when the run was not made by the CLI. (config.toml holds
    the resolved config, not the file's name, so the command line is where the name is.)"""
    if not command:
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if words[:1] != ["blobs-transfer"] or not {"compare", "sweep"} & set(words[1:]):
        return None  # made from Python (a notebook, a test): sys.argv says nothing about the config
    for i, word in enumerate(words):
        if word == "--config" and i + 1 < len(words):
            return Path(words[i + 1]).stem
        if word.startswith("--config="):
            return Path(word.split("=", 1)[1]).stem
    return "defaults"


def time_of(folder: Path, meta: dict[str, Any]) -> str:
    """When the run was started: the UTC stamp in the directory's name (compare-20261122-235432), else
    metadata.json's time (written at the end) less its wall time, else the folder's mtime."""
    match = re.search(r"(\d{8})-(\d{6})", folder.name)
    if match:
        return datetime.strptime("".join(match.groups()), "%Y%m%d%H%M%S").strftime(TIME)
    try:
        end = datetime.fromisoformat(meta["created_utc"]).astimezone(UTC)
        wall = meta.get("wall_seconds")
        return (end - timedelta(seconds=wall if isinstance(wall, (int, float)) else 0)).strftime(TIME)
    except (KeyError, TypeError, ValueError):
        return datetime.fromtimestamp(folder.stat().st_mtime, UTC).strftime(TIME)


def read_entry(folder: Path) -> dict[str, Any] | None:
    """One run or sweep as a JSON-ready dict, or None if the folder is neither."""
    kind = kind_of(folder)
    if kind is None:
        return None
    meta = _json(folder / "metadata.json")
    complete = not (folder / INCOMPLETE).exists()
    entry: dict[str, Any] = {
        "kind": kind,
        "directory": str(folder),
        "name": folder.name,
        "time_utc": time_of(folder, meta),
        "config": config_name(meta.get("command")),
        "complete": complete,
    }
    if kind == "compare":
        config = _toml(folder / "config.toml")
        summary = _json(folder / "summary.json") if complete else {}
        study = config.get("study", {})
        entry["arms"] = [a.get("name") for a in config.get("arms", [])]
        entry["source_models"] = _source_models(study, meta)
        entry["verdicts"] = {c["arm"]: c.get("verdict") for c in summary.get("comparisons", [])}
        entry["baseline"] = study.get("baseline")
    else:
        data = _toml(folder / "sweep.toml")
        study = data.get("study", {})
        axes = data.get("sweep", {})
        total = 1
        for values in axes.values():
            total *= len(values) if isinstance(values, list) else 1
        done = sorted((folder / "cells").glob("*/cell.json")) if (folder / "cells").is_dir() else []
        entry["axes"] = axes
        entry["cells"] = total
        entry["cells_done"] = len(done)
        entry["arms"] = [a.get("name") for a in data.get("arms", [])]
        entry["source_models"] = {"count": study.get("source_repeats", 1), "trained": True}
        verdicts: dict[str, Counter] = {}
        for marker in done:
            for c in _json(marker.parent / "summary.json").get("comparisons", []):
                verdicts.setdefault(c["arm"], Counter())[c.get("verdict")] += 1
        entry["verdicts"] = {arm: dict(counts) for arm, counts in verdicts.items()}
        entry["baseline"] = study.get("baseline")
    return entry


def _source_models(study: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """How many source models the transfer arms start from, and where a single saved one came from."""
    count = study.get("source_repeats", 1)
    out: dict[str, Any] = {"count": count, "trained": count > 1}
    for entry in (meta.get("source_models") or {}).values():
        if isinstance(entry, dict) and entry.get("path") and count == 1:
            out["path"] = entry["path"]
            break
    return out


def list_runs(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every compare run and sweep directly under `results_dir`, oldest first."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ResultsError(f"results folder {results_dir} does not exist")
    entries = [e for e in (read_entry(p) for p in sorted(results_dir.iterdir()) if p.is_dir()) if e is not None]
    return sorted(entries, key=lambda e: (e["time_utc"], e["name"]))


def _short_arm(arm: str) -> str:
    return arm.removeprefix("transfer ")


def describe(entry: dict[str, Any]) -> list[str]:
    """A row of the table (HEADER's columns)."""
    if entry["kind"] == "compare":
        size = f"{len(entry['arms'])} arms"
        verdicts = ", ".join(f"{_short_arm(arm)} {v}" for arm, v in entry["verdicts"].items())
    else:
        size = f"{entry['cells']} cells" + (
            "" if entry["cells_done"] == entry["cells"] else f" ({entry['cells_done']} done)"
        )
        verdicts = "; ".join(
            f"{_short_arm(arm)}: " + " ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: str(kv[0])))
            for arm, counts in entry["verdicts"].items()
        )
    sources = entry["source_models"]
    source = f"{sources['count']} trained" if sources.get("trained") else (sources.get("path") or str(sources["count"]))
    return [
        entry["kind"],
        entry["time_utc"],
        entry["config"] or "-",
        size,
        source,
        "complete" if entry["complete"] else "INCOMPLETE",
        verdicts or "-",
        entry["name"],
    ]


def table(entries: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    return HEADER, [describe(e) for e in entries]
