"""The Numba engine's training speed, side by side with another commit, per update rule (a benchmark, not a test).

Networks per second of `engine.train_replicas` alone: the tutorial's four arms (standalone, transfer fixed=0, 1
and 2 from one fixed set of source weights), N networks in all, 100 epochs on Problem 2, in a fresh process per
measurement, its kernel compiled (and its disk cache warm) by an untimed call first. The two checkouts
alternate, so a change in the machine's load hits both alike; the median of the runs is reported. The other
commit is checked out with `git worktree` into a temporary folder and imported from there (PYTHONPATH), with
this environment's libraries, so only the package's code differs. The other commit knows plain SGD only.

    .venv/bin/python benchmarks/bench_kernel.py                          # against 61c96aa, 5 runs, 1 thread
    .venv/bin/python benchmarks/bench_kernel.py --base HEAD~3 --networks 8000 --threads 2

Prints, per rule, networks/s of each checkout and the ratios the issue asks for: this / base for SGD (target:
at least 0.95) and Adam / SGD and momentum / SGD on this checkout (target for Adam: at least 2/3).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = r"""
import inspect, json, sys, time
import numpy as np
from blobs_transfer.config import load_config
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import replica_rngs
try:  # the flat layout of older commits (61c96aa) first: this checkout has no blobs_transfer.engine
    from blobs_transfer import arms, engine
except ImportError:
    from blobs_transfer.model import arms
    from blobs_transfer.train import engine

n, threads, rule = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cfg = load_config(None)
problem = make_problem(cfg.target_spec)
source = arms.initial_weights(cfg, cfg.arms[0], None, np.random.default_rng(1))  # fixed "source" weights
jobs = [(cfg.arms[i % 4], 1000 + i) for i in range(n)]
initial = arms.stack([arms.initial_weights(cfg, a, source if a.uses_source else None, replica_rngs(s)[0])
                      for a, s in jobs])
trainable = np.array([arms.trainable_layers(cfg, a) for a, _ in jobs])
seeds = [s for _, s in jobs]
kw = {}
if "optimizer" in inspect.signature(engine.train_replicas).parameters:
    from blobs_transfer.config import Optimizer
    kw["optimizer"] = {"sgd": Optimizer(), "momentum": Optimizer("momentum", 0.01, momentum=0.9),
                       "adam": Optimizer("adam", 0.001)}[rule]
elif rule != "sgd":
    raise SystemExit("this checkout has plain SGD only")
else:
    kw["learning_rate"] = 0.01
engine.train_replicas(problem, arms.stack([arms.unstack(initial, 0)]), trainable[:1], seeds[:1], epochs=2,
                      batch_size=32, threads=threads, **kw)  # compile (or load the cache), untimed
start = time.perf_counter()
engine.train_replicas(problem, initial, trainable, seeds, epochs=100, batch_size=32, threads=threads, **kw)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def networks_per_second(tree: Path, n: int, threads: int, rule: str) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(n), str(threads), rule], capture_output=True, text=True, env=env, cwd=tree
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {rule} failed\n{done.stderr[-3000:]}")
    return n / json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="61c96aa", help="the commit to compare against [61c96aa]")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per rule and checkout [5]")
    parser.add_argument("--networks", type=int, default=4000, help="networks per timed run [4000]")
    parser.add_argument("--threads", type=int, default=1, help="kernel threads [1]")
    parser.add_argument(
        "--base-tree",
        type=Path,
        default=None,
        help="a folder holding the other commit's blobs_transfer/ (instead of a git worktree of --base)",
    )
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; this checkout ({head}, "
        f"uncommitted changes included) against {args.base}; {args.networks} networks x 100 epochs, "
        f"{args.threads} thread(s), {args.runs} runs each, median"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base_tree.resolve() if args.base_tree else Path(tmp) / "base"
        if not args.base_tree:
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True, capture_output=True
            )
        try:
            speeds: dict[tuple[str, str], list[float]] = {}
            plan = [("base", base, "sgd"), ("this", ROOT, "sgd"), ("this", ROOT, "momentum"), ("this", ROOT, "adam")]
            for _ in range(args.runs):
                for name, tree, rule in plan:
                    speeds.setdefault((name, rule), []).append(
                        networks_per_second(tree, args.networks, args.threads, rule)
                    )
            med = {key: statistics.median(v) for key, v in speeds.items()}
            print("| checkout | rule | networks/s (median) | runs |")
            print("|---|---|---|---|")
            for (name, rule), value in med.items():
                runs = ", ".join(f"{v:.0f}" for v in speeds[(name, rule)])
                print(f"| {name} | {rule} | {value:.0f} | {runs} |")
            sgd = med[("this", "sgd")] / med[("base", "sgd")]
            adam = med[("this", "adam")] / med[("this", "sgd")]
            momentum = med[("this", "momentum")] / med[("this", "sgd")]
            print(f"SGD this / base: {sgd:.3f} (target >= 0.95: {'met' if sgd >= 0.95 else 'NOT met'})")
            print(f"Adam / SGD (this): {adam:.3f} (target >= 0.667: {'met' if adam >= 2 / 3 else 'NOT met'})")
            print(f"momentum / SGD (this): {momentum:.3f}")
        finally:
            if not args.base_tree:
                subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
