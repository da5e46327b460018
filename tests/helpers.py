"""What several test modules share (no tests here): the command line in-process, run folders damaged and
compared, and hand-made inputs (a summary, a source model with exact per-layer statistics, replicas trained
by the Numba engine)."""

from __future__ import annotations

import csv
import importlib
import json
import math
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from blobs_transfer.cli import cli
from blobs_transfer.config import Arm
from blobs_transfer.model import arms
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "results" / "baseline.json"
PNG = b"\x89PNG\r\n\x1a\n"

# a tiny compare run (2 repeats, 3 epochs) and a tiny 2 x 2 sweep, made once a session (tests/conftest.py)
TINY = ["--repeats", 2, "--epochs", 3, "--seed", 5]
SWEEP = """
[study]
source_repeats = 2
repeats = 2
[training]
epochs = {epochs}
[sweep]
"target.n_train" = [20, 100]
"target.similarity_t" = [0.0, 1.0]
"""
TABLES = ("runs.csv", "cells.csv")
# the reference sweep of the Dask tests: 3 x 2 cells
GRID = """
[study]
source_repeats = 2
repeats = 2
[training]
epochs = {epochs}
[sweep]
"target.n_train" = [20, 50, 100]
"target.similarity_t" = [0.0, 1.0]
"""


# --- the command line --------------------------------------------------------------------------------


def run(*args, ok=True):
    """The command line in-process; with ok, it must succeed (its output is the assertion's message)."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output + str(result.exception)
    return result


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def invoke(*args):
    """The command line in-process, its result returned whatever the exit code."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def write(tmp_path, text, name="sweep.toml"):
    """A config file (a sweep's by default) in the test's folder."""
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_json_clean(obj):
    """Recursively: only dict (str keys)/list/str/int/float/None, no numpy scalars, no NaN or inf."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            assert isinstance(key, str)
            assert_json_clean(value)
    elif isinstance(obj, list):
        for value in obj:
            assert_json_clean(value)
    else:
        assert obj is None or type(obj) in (str, int, float), f"{obj!r} is {type(obj)}"
        if type(obj) is float:
            assert math.isfinite(obj), obj
    json.dumps(obj, allow_nan=False)


def last_line_dir(result, folder):
    assert result.exit_code == 0, result.output
    return folder / result.output.strip().splitlines()[-1].split("/")[-1]


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if not line.startswith("Warning:")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


# --- run folders ----------------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def damage(path: Path, how: str) -> None:
    """Cut the file to two thirds of its size, change one byte in the middle, or delete it."""
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif how == "one byte changed":
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :])
    else:
        path.unlink()


PROBLEM = {"truncated": "cut short", "one byte changed": "changed in place", "missing": "is missing"}


def assert_same_tables(sweep_dir, reference):
    from blobs_transfer import api

    for table in TABLES:
        assert (sweep_dir / table).read_bytes() == (reference / table).read_bytes(), table
    assert not (sweep_dir / "INCOMPLETE").exists()
    api.verify_run(sweep_dir, derived=True)


# --- a hand-made summary ----------------------------------------------------------------------------


def summary(k=100, a12=(0.45, 0.38, 0.23), verdicts=("no evidence", "worse", "worse")):
    """A summary.json as `analysis.summarise` writes it, for three transfer arms from k source models."""
    arms = ["standalone", "transfer fixed=0", "transfer fixed=1", "transfer fixed=2"]
    means = [0.797, 0.780, 0.758, 0.756]
    source = {"count": k, "path": None if k > 1 else "results/source/problem1.keras", "seeds": list(range(7, 7 + k))}
    benefit = {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}
    out = {
        "run": {
            "target_problem": 2,
            "target": "Problem 2",
            "source_problem": 1,
            "source": "Problem 1",
            "repeats": 3,
            "source_repeats": k,
            "epochs": 100,
            "engine": "numba",
            "seed": 0,
            "n_test": 500,
            "baseline": "standalone",
            "typical_accuracy": 0.8,
            "binomial_se": 0.0179,
            "source_model": source,
        },
        "arms": [
            {
                "arm": a,
                "kind": "baseline" if a == "standalone" else "transfer",
                "n": 300,
                "n_diverged": 0,
                "mean": m,
                "std": 0.08,
                "median": 0.82,
                "q1": 0.8,
                "q3": 0.83,
                "iqr": 0.03,
                "iqm": 0.82,
                "min": 0.4,
                "max": 0.84,
                "ci_low": m - 0.01,
                "ci_high": m + 0.01,
                "n_sources": None if a == "standalone" else k,
                "icc": None,
                "design_effect": 1.0,
                "n_effective": 300.0 if a == "standalone" else float(k),
            }
            for a, m in zip(arms, means)
        ],
        "comparisons": [
            {
                "arm": a,
                "baseline": "standalone",
                "diff_mean": m - 0.797,
                "diff_ci_low": -0.05,
                "diff_ci_high": 0.01,
                "a12": p,
                "a12_ci_low": p - 0.07,
                "a12_ci_high": p + 0.07,
                "hedges_g": -0.3,
                "n_sources": k,
                "design_effect": 3.0,
                "verdict_test": "clustered",
                "verdict_p_holm": 0.001,
                "verdict": v,
            }
            for a, m, p, v in zip(arms[1:], means[1:], a12, verdicts)
        ],
        "benefits": {a: dict.fromkeys(("start", "epochs_to_95", "auc", "asymptote"), benefit) for a in arms},
    }
    if k > 1:
        out["sources"] = {
            "variance": {
                a: {
                    "n_groups": k,
                    "n_per_group": 3.0,
                    "between_var": 0.005,
                    "within_var": 0.0002,
                    "total_var": 0.0052,
                    "icc": 0.96,
                }
                for a in arms[1:]
            },
            "ranking": [{"group": g, "best_arm": arms[1 + g % 3], "means": {}} for g in range(k)],
        }
    return out


# --- a source model with exact per-layer statistics (the weight-statistics control) ---------------------

STATS = Arm("weight stats", weights="source", init="weight_stats")


def symmetric_layer(shape, mean, step, order):
    """Entries mean + k * step for symmetric k (plus 0 if the count is odd), in a given order: the mean and
    standard deviation are exact in floating point, whatever the order, for dyadic mean and step."""
    n = int(np.prod(shape))
    half = np.arange(1, n // 2 + 1)
    offsets = np.concatenate([-half, half, [0] * (n % 2)]).astype(float)
    return (mean + step * offsets[order]).reshape(shape).astype(np.float32)


def dyadic_source(cfg, seed):
    """A source model whose layers have exact per-layer statistics; `seed` only permutes the entries."""
    rng = np.random.default_rng(seed)
    out = []
    for i, (fan_in, fan_out) in enumerate(arms.layer_shapes(cfg, Arm("standalone"))):
        n_k, n_b = fan_in * fan_out, fan_out
        kernel = symmetric_layer((fan_in, fan_out), 0.25 * (i - 1), 0.125, rng.permutation(n_k))
        bias = (
            np.full(fan_out, 0.5, np.float32)
            if i == 1
            else symmetric_layer((fan_out,), -0.125, 0.0625, rng.permutation(n_b))
        )
        out.append((kernel, bias))
    return out


# --- replicas trained by the Numba engine ---------------------------------------------------------------


def train_jobs(cfg, problem, jobs, **kw):
    """(arm, seed) jobs trained together for 4 epochs by the Numba engine, each from its seed's weights."""
    initial = arms.stack([arms.initial_weights(cfg, a, None, replica_rngs(s)[0]) for a, s in jobs])
    trainable = np.array([arms.trainable_layers(cfg, a) for a, _ in jobs])
    return engine.train_replicas(problem, initial, trainable, [s for _, s in jobs], epochs=4, batch_size=32, **kw)


def assert_same_replica(a, ra, b, rb):
    """Replica ra of result a is bit for bit replica rb of result b: finals, curves and weights."""
    for key in a.final:
        assert a.final[key][ra] == b.final[key][rb] or (np.isnan(a.final[key][ra]) and np.isnan(b.final[key][rb])), key
    for key in a.history:
        np.testing.assert_array_equal(a.history[key][ra], b.history[key][rb], err_msg=key)
    for (ka, ba), (kb, bb) in zip(a.weights, b.weights):
        assert np.array_equal(ka[ra], kb[rb]) and np.array_equal(ba[ra], bb[rb])


class LazyModule:
    """A module imported when a test first uses it, not when the tests are collected: TensorFlow and Keras take
    seconds to import, and every pytest-xdist worker collects every test file."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        if attr.startswith(("__", "_pytest", "_mock", "pytest")):  # what pytest's collection asks of every name
            raise AttributeError(attr)
        return getattr(importlib.import_module(self._name), attr)
