"""Make the stored Keras samples of tests/train/test_distribution.py (not a test): one per optimizer,
tests/data/keras_sample_<optimizer>.json (sgd, the tutorial's; momentum; adam).

Run from the repository root (about 3-4 minutes per optimizer on 2 cores):

    .venv/bin/python benchmarks/make_keras_sample.py                     # every optimizer
    .venv/bin/python benchmarks/make_keras_sample.py --optimizer adam

It runs exactly the reference-engine fits that the distribution test used to run itself: per arm (standalone,
transfer fixed=0, transfer fixed=1) N_KERAS[arm] fits of `engine="keras"` (one `keras.Model.fit` per run,
`blobs_transfer.train.reference.fit_one`) at EPOCHS epochs on Problem 2, seed i of an arm being
`derive_seed(ROOT, KERAS, arm's position in ARMS, i)`, both transfer arms starting from the default study's
source 0 (100 epochs on Problem 1, the default engine). The fits run in two spawned processes (one per core),
each half of every arm; a run's result depends on its seed alone, so where it runs changes nothing.

It writes, per arm in seed order, each run's seed, test-correct count (of 500 test rows) and final training
loss, together with what the sample was made with: the versions of Keras, TensorFlow, NumPy and Python and
the machine's architecture, and the settings (epochs, root seed, seed stream, training settings, target
problem, arm definitions and counts, the source model's seed and weights). tests/train/test_distribution.py fails
when the installed Keras or TensorFlow is not the recorded one or when the recorded settings are not its own,
and re-runs a few of the stored fits live (marked slow) to confirm the sample still matches.

After regenerating, check the sample before committing it: run `.venv/bin/python -m pytest
tests/train/test_distribution.py` (slow tests included), which compares the new sample with both batched engines
and re-runs some of its fits, and look at the diff of the JSON file (with unchanged versions and settings the
counts should not move at all).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import dataclasses
import datetime
import json
import multiprocessing
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from blobs_transfer.config import Config
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import derive_seed
from blobs_transfer.train import run

# The test's settings (tests/train/test_distribution.py checks that the sample records these same values).
EPOCHS = 20
N_KERAS = {"standalone": 60, "transfer fixed=0": 48, "transfer fixed=1": 32}
ARMS = list(N_KERAS)
ROOT = 20_251_123  # the test's root seed
KERAS = 1  # the Keras runs' seed stream
SOURCE_PROBLEM, TARGET_PROBLEM = 1, 2

OPTIMIZERS = (
    "sgd",
    "momentum",
    "adam",
)  # training.optimizer of the target's training; the source trains as the tutorial
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def sample_path(optimizer: str) -> Path:
    return DATA / f"keras_sample_{optimizer}.json"


def seeds(engine: int, arm: str, n: int) -> list[int]:
    return [derive_seed(ROOT, engine, ARMS.index(arm), i) for i in range(n)]


def jobs(cfg, arm_name, source, seed_list):
    arm = cfg.arm(arm_name)
    return [(arm, source if arm.uses_source else None, s) for s in seed_list]


def versions() -> dict[str, str]:
    """What the sample is made with (the test compares keras and tensorflow with the installed ones)."""
    import keras
    import tensorflow as tf

    return {
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def to_json(value):
    return json.loads(json.dumps(dataclasses.asdict(value)))


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=OPTIMIZERS, action="append", help="only this one (repeatable)")
    for optimizer in parser.parse_args().optimizer or OPTIMIZERS:
        make(optimizer)


def make(optimizer: str) -> None:
    cfg = Config()
    short_cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, epochs=EPOCHS, optimizer=optimizer))
    problem2 = make_problem(cfg.catalogue_spec(TARGET_PROBLEM))
    models, _ = run.train_sources(cfg, SOURCE_PROBLEM, 1)  # the default study's source 0
    source = models[0].weights

    start = time.perf_counter()
    halves = [(arm, part) for arm in ARMS for part in np.array_split(seeds(KERAS, arm, N_KERAS[arm]), 2)]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(run.train, short_cfg, problem2, jobs(cfg, arm, source, [int(s) for s in part]), engine="keras")
            for arm, part in halves
        ]
        finals = [f.result().final for f in futures]
    seconds = time.perf_counter() - start

    runs = {arm: [] for arm in ARMS}
    for (arm, part), final in zip(halves, finals):
        for s, correct, loss in zip(part, final["test_correct"], final["train_loss"]):
            runs[arm].append({"seed": int(s), "test_correct": int(correct), "train_loss": float(loss)})

    sample = {
        "about": "Test-correct counts (of 500 test rows) of the Keras reference engine for "
        "tests/train/test_distribution.py, made by benchmarks/make_keras_sample.py; regenerate with that script when "
        "Keras or TensorFlow changes, then check it (see the script's docstring).",
        "made": datetime.date.today().isoformat(),
        "seconds": round(seconds, 1),
        "versions": versions(),
        "settings": {
            "epochs": EPOCHS,
            "root_seed": ROOT,
            "seed_stream": KERAS,
            "seed_of_run": "derive_seed(root_seed, seed_stream, position of the arm in arms, i)",
            "training": to_json(short_cfg.target_training),
            "target_problem": to_json(problem2.spec),
            "source": {
                "problem": SOURCE_PROBLEM,
                "index": 0,
                "seed": models[0].seed,
                "engine": cfg.study.engine,
                "training": to_json(cfg.source_training),
                "weights": [[k.tolist(), b.tolist()] for k, b in source],
            },
            "arms": [{"definition": to_json(cfg.arm(arm)), "n": N_KERAS[arm]} for arm in ARMS],
        },
        "runs": runs,
    }
    out = sample_path(optimizer)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps(sample))
    for arm in ARMS:
        c = np.array([r["test_correct"] for r in runs[arm]]) / len(problem2.y_test)
        print(f"{arm}: mean {c.mean():.4f} SD {c.std(ddof=1):.4f} (n={len(c)})")
    print(f"{optimizer}: {sum(N_KERAS.values())} Keras fits in {seconds:.0f} s; wrote {out}", file=sys.stderr)


def dumps(sample: dict) -> str:
    """Indented JSON, but one line per run and per weight array, so the file reads (and diffs) run by run."""

    def compact(value, indent):
        pad = " " * indent
        if isinstance(value, dict) and value and not _leaf(value):
            items = [f"{pad}  {json.dumps(k)}: {compact(v, indent + 2)}" for k, v in value.items()]
            return "{\n" + ",\n".join(items) + f"\n{pad}}}"
        if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
            items = [f"{pad}  {compact(v, indent + 2)}" for v in value]
            return "[\n" + ",\n".join(items) + f"\n{pad}]"
        return json.dumps(value)

    return compact(sample, 0) + "\n"


def _leaf(value: dict) -> bool:
    """A run's record, an arm's definition: written on one line."""
    return all(not isinstance(v, (dict, list)) for v in value.values())


if __name__ == "__main__":
    main()
