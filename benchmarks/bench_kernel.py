"""The Numba engine's training speed, side by side with another commit, per update rule (a benchmark, not a test).

Networks per second of `engine.train_replicas` alone: the tutorial's four arms (standalone, transfer fixed=0, 1
and 2 from one fixed set of source weights), N networks in all, 100 epochs on Problem 2, in a fresh process per
measurement, its kernel compiled (and its disk cache warm) by an untimed call first. The two checkouts
alternate, so a change in the machine's load hits both alike; the median of the runs is reported. The other
commit is checked out with `git worktree` into a temporary folder and imported from there (PYTHONPATH), with
this environment's libraries, so only the package's code differs. Commits before the update rules know plain
SGD only (then only SGD is compared).

    .venv/bin/python benchmarks/bench_kernel.py                       # against 05656fe, 5 runs, 1 and 2 threads
    .venv/bin/python benchmarks/bench_kernel.py --base HEAD~3 --networks 8000 --threads 2 --rules sgd
    .venv/bin/python benchmarks/bench_kernel.py --phases              # where the time goes, both checkouts
    .venv/bin/python benchmarks/bench_kernel.py --load --runs 7       # what loading the cached kernel costs

Prints a table per thread count: networks/s of each checkout per rule, and this / base. With --phases, instead:
microseconds of CPU per replica-epoch (one thread) of the whole kernel and of it without the per-epoch
evaluation and without the training row body (each passed to the loop as a no-op), in one process per checkout,
so the shares of evaluation, training body and the rest (shuffle, gather, staging, update) before and after.
With --load, instead: what a fresh process pays to load the cached kernel before its first step, in parts:
importing Numba, Numba's target context (its registries of typing and lowering, which import part of scipy:
what any first compile or cache load pays), and the cache itself (the index, each cached dispatcher, the
machine code: the first call less a second), with the cache's files (dispatchers, index and code bytes).
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
start, cpu = time.perf_counter(), time.process_time()
engine.train_replicas(problem, initial, trainable, seeds, epochs=100, batch_size=32, threads=threads, **kw)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}))
"""


PHASES = r"""
import inspect, json, statistics, sys, time
import numpy as np
from numba import njit
from blobs_transfer.config import load_config
from blobs_transfer.model import arms
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import engine, loop

n, runs = int(sys.argv[1]), int(sys.argv[2])
cfg = load_config(None)
problem = make_problem(cfg.target_spec)
source = arms.initial_weights(cfg, cfg.arms[0], None, np.random.default_rng(1))
jobs = [(cfg.arms[i % 4], 1000 + i) for i in range(n)]
initial = arms.stack([arms.initial_weights(cfg, a, source if a.uses_source else None, replica_rngs(s)[0])
                      for a, s in jobs])
trainable = np.array([arms.trainable_layers(cfg, a) for a, _ in jobs])
seeds = [s for _, s in jobs]
one = (problem, arms.stack([arms.unstack(initial, 0)]), trainable[:1], seeds[:1])
compiled = engine.compiled_kernel([tuple(k.shape[1:]) for k, _ in initial])
engine.train_replicas(*one, epochs=1, batch_size=32, threads=1)
OFFSETS, LAYER_OF = compiled.OFFSETS, compiled.LAYER_OF


@njit(inline="always")
def no_rows(ws):
    pass


if len(inspect.signature(compiled.evaluate.py_func).parameters) == 5:  # (ws, xs, ys, n_rows, out) before
    @njit(inline="always")
    def no_evaluation(ws, a, b, c, d):
        pass
else:
    @njit(inline="always")
    def no_evaluation(ws, a, b, c):
        pass


def variant(rows, evaluate):
    @njit(nogil=True, fastmath={"contract"}, error_model="numpy", boundscheck=False)
    def train_block(x_train, y_train, n_rows, x_test, y_test, data_of, params, trainable, seeds, orders, epochs,
                    batch_size, rule, hyper, history, final):
        loop.train_block(rows, evaluate, OFFSETS, LAYER_OF, x_train, y_train, n_rows, x_test, y_test, data_of,
                         params, trainable, seeds, orders, epochs, batch_size, rule, hyper, history, final)
    return train_block


variants = {"whole kernel": compiled.train_block, "without evaluation": variant(compiled.train_rows, no_evaluation),
            "without the row body": variant(no_rows, compiled.evaluate)}
for kernel in variants.values():  # compiled first, untimed
    compiled.train_block = kernel
    engine.train_replicas(*one, epochs=1, batch_size=32, threads=1)
times = {name: [] for name in variants}
for _ in range(runs):
    for name, kernel in variants.items():
        compiled.train_block = kernel
        start = time.process_time()
        engine.train_replicas(problem, initial, trainable, seeds, epochs=100, batch_size=32, threads=1)
        times[name].append((time.process_time() - start) / (n * 100) * 1e6)
print(json.dumps({name: statistics.median(v) for name, v in times.items()}))
"""


LOAD = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from blobs_transfer.config import load_config
from blobs_transfer.problems import make_problem
from blobs_transfer.seeds import replica_rngs
try:
    from blobs_transfer import arms, engine
except ImportError:
    from blobs_transfer.model import arms
    from blobs_transfer.train import engine

cfg = load_config(None)
problem = make_problem(cfg.target_spec)
initial = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(1)[0])])
shapes = [tuple(k.shape[1:]) for k, _ in initial]
one = (problem, initial, np.ones((1, len(shapes)), bool), [1])
t0 = time.perf_counter()
import numba
from numba.core.registry import cpu_target
t1 = time.perf_counter()
before = set(sys.modules)
cpu_target.target_context.refresh()
t2 = time.perf_counter()
added = set(sys.modules) - before
compiled = engine.compiled_kernel(shapes)
t3 = time.perf_counter()
engine.train_replicas(*one, epochs=1, batch_size=32, threads=1)
t4 = time.perf_counter()
engine.train_replicas(*one, epochs=1, batch_size=32, threads=1)
t5 = time.perf_counter()
cache = Path(compiled.__file__).parent / "__pycache__"
stem = Path(compiled.__file__).stem
print(json.dumps({
    "numba import": t1 - t0, "target context": t2 - t1, "kernel module": t3 - t2,
    "cache load": (t4 - t3) - (t5 - t4), "modules": len(added),
    "scipy modules": sum(m.startswith("scipy") for m in added),
    "dispatchers": len(list(cache.glob(stem + ".*.nbi"))),
    "index bytes": sum(p.stat().st_size for p in cache.glob(stem + ".*.nbi")),
    "code bytes": sum(p.stat().st_size for p in cache.glob(stem + ".*.nbc")),
}))
"""


def load_costs(trees: dict[str, Path], runs: int) -> None:
    """What loading the cached kernel costs in a fresh process, in parts, the median of `runs` per checkout
    (alternating); each checkout's kernel compiled first, untimed."""
    for tree in trees.values():
        _run(tree, LOAD)
    measured: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, tree in trees.items():
            measured[name].append(_run(tree, LOAD))
    parts = ("numba import", "target context", "kernel module", "cache load")
    print("| checkout | " + " | ".join(parts) + " | all | modules imported by the context (scipy) | cache files |")
    print("|---|" + "---|" * (len(parts) + 3))
    for name, rows in measured.items():
        med = {k: statistics.median(r[k] for r in rows) for k in parts}
        last = rows[-1]
        print(
            f"| {name} | " + " | ".join(f"{med[k]:.3f} s" for k in parts) + f" | {sum(med.values()):.3f} s "
            f"| {last['modules']} ({last['scipy modules']}) | {last['dispatchers']} dispatcher(s), index "
            f"{last['index bytes']:,} B, code {last['code bytes']:,} B |"
        )


def _run(tree: Path, program: str, *args) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", program, *map(str, args)], capture_output=True, text=True, env=env, cwd=tree
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {args} failed\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def networks_per_second(tree: Path, n: int, threads: int, rule: str) -> tuple[float, float]:
    """Networks per second of wall time, and per second of CPU time (all threads): the second is steadier on a
    machine that others load, where a process waits for a core."""
    t = _run(tree, PROGRAM, n, threads, rule)
    return n / t["seconds"], n / t["cpu_seconds"]


def phases(trees: dict[str, Path], n: int, runs: int) -> None:
    """Where a replica-epoch's time goes in each checkout: the whole kernel and two ablations."""
    print("| checkout | whole kernel | per-epoch evaluation | training row body | the rest (shuffle, gather, update) |")
    print("|---|---|---|---|---|")
    for name, tree in trees.items():
        t = _run(tree, PHASES, n, runs)
        whole, evaluation = t["whole kernel"], t["whole kernel"] - t["without evaluation"]
        body = t["whole kernel"] - t["without the row body"]
        rest = whole - evaluation - body
        print(
            f"| {name} | {whole:.1f} us | {evaluation:.1f} us ({evaluation / whole:.0%}) | {body:.1f} us "
            f"({body / whole:.0%}) | {rest:.1f} us ({rest / whole:.0%}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="05656fe", help="the commit to compare against [05656fe]")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per rule, thread count and checkout [5]")
    parser.add_argument("--networks", type=int, default=4000, help="networks per timed run [4000]")
    parser.add_argument("--threads", default="1,2", help="kernel threads, comma-separated [1,2]")
    parser.add_argument("--rules", default="sgd,momentum,adam", help="update rules, comma-separated [all three]")
    parser.add_argument("--phases", action="store_true", help="where the time goes instead (one thread)")
    parser.add_argument("--load", action="store_true", help="what loading the cached kernel costs instead")
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
    threads = [int(t) for t in args.threads.split(",")]
    rules = args.rules.split(",")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; this checkout ({head}, "
        f"uncommitted changes included) against {args.base}; {args.networks} networks x 100 epochs, "
        f"{args.runs} runs each, alternating, median"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base_tree.resolve() if args.base_tree else Path(tmp) / "base"
        if not args.base_tree:
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True, capture_output=True
            )
        try:
            if args.load:
                load_costs({args.base: base, "this": ROOT}, args.runs)
                return
            if args.phases:
                phases({args.base: base, "this": ROOT}, min(args.networks, 512), args.runs)
                return
            base_rules = rules if "optimizer" in (base / "blobs_transfer/train/engine.py").read_text() else ["sgd"]
            plan = [(t, "base", base, r) for t in threads for r in base_rules]
            plan += [(t, "this", ROOT, r) for t in threads for r in rules]
            plan.sort(key=lambda p: (p[0], p[3]))  # each rule's two checkouts one after the other
            speeds: dict[tuple, list[tuple[float, float]]] = {}
            for _ in range(args.runs):
                for t, name, tree, rule in plan:
                    speeds.setdefault((t, name, rule), []).append(networks_per_second(tree, args.networks, t, rule))
            print(f"load average at the end {os.getloadavg()[0]:.2f}")
            print()
            print(
                f"| threads | rule | {args.base} networks/s | this networks/s | this / {args.base} "
                "| per CPU-second: base, this, ratio | runs, networks/s (base; this) |"
            )
            print("|---|---|---|---|---|---|---|")
            for t in threads:
                for rule in rules:
                    mine = speeds[(t, "this", rule)]
                    theirs = speeds.get((t, "base", rule))
                    wall, cpu = (statistics.median(v[i] for v in mine) for i in (0, 1))
                    runs = ", ".join(f"{v[0]:.0f}" for v in mine)
                    if theirs:
                        base_wall, base_cpu = (statistics.median(v[i] for v in theirs) for i in (0, 1))
                        print(
                            f"| {t} | {rule} | {base_wall:.0f} | {wall:.0f} | {wall / base_wall:.3f} "
                            f"| {base_cpu:.0f}, {cpu:.0f}, {cpu / base_cpu:.3f} "
                            f"| {', '.join(f'{v[0]:.0f}' for v in theirs)}; {runs} |"
                        )
                    else:
                        print(f"| {t} | {rule} | | {wall:.0f} | | , {cpu:.0f}, | {runs} |")
        finally:
            if not args.base_tree:
                subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
