"""The default (Numba) engine and `--engine tensorflow` side by side, and the ratios (a benchmark, not a test).

1. Training throughput: the tutorial's four arms, N networks in all (default 20,000), 100 epochs on Problem 2,
   transfer arms from one source model, each engine in a fresh process timing `run.train` only (the
   Numba kernel's disk cache warm; TensorFlow's tracing and XLA compile included, as a user pays them).
2. Whole commands from the shell under `/usr/bin/time -v` (wall time, peak RSS), one engine after the other:
   `compare --repeats 30`, `compare --repeats 5000` and `sweep --config configs/sweep.toml`, in a temporary
   results folder that `train-source` prepared.

3. The kernel's own exp and log against libm's (`np.exp`, `np.log`, one scalar call per element in Numba 0.62+):
   the same generated kernel with the calls swapped, one thread, per replica-epoch.

Prints every measurement, the ratio tensorflow / numba, and each target of issue 18 as MET or MISSED.

    .venv/bin/python benchmarks/bench_speed.py                    # everything: about 6-8 minutes on 2 cores
    .venv/bin/python benchmarks/bench_speed.py --networks 4000 --parts 1
    .venv/bin/python benchmarks/bench_speed.py --parts 2 --commands compare30
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("blobs-transfer")
ENGINES = ("numba", "tensorflow")
COMMANDS = {
    "compare30": ["compare", "--repeats", "30"],
    "compare5000": ["compare", "--repeats", "5000"],
    "sweep": ["sweep", "--config", str(ROOT / "configs" / "sweep.toml")],
}
# issue 18: (max seconds for numba, min ratio tensorflow / numba, max peak GiB)
TARGETS = {"compare30": (2.5, 3.0, None), "compare5000": (None, 3.0, 2.0), "sweep": (None, 3.0, 2.0)}
TRAIN_TARGET = (1000.0, 5.0)  # networks/s of the Numba engine, ratio to TensorFlow

CHILD = """
import json, sys, time
from blobs_transfer.train import run
from blobs_transfer.train import plan
from blobs_transfer.config import Config
from blobs_transfer.problems import make_problem
engine, n = sys.argv[1], int(sys.argv[2])
if engine == "tensorflow":
    from blobs_transfer.model.backend import import_tensorflow
    import_tensorflow()
cfg = Config()
(source,), _ = run.train_sources(cfg, 1, 1)  # untimed, and it warms the engine's compiled code
jobs = [(arm, source.weights if arm.uses_source else None, 10_000 + i)
        for i in range(n) for arm in [cfg.arms[i % len(cfg.arms)]]]
problem = make_problem(cfg.target_spec)
start = time.perf_counter()
result = run.train(cfg, problem, jobs, engine=engine)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "mean_accuracy": float(result.final["test_accuracy"].mean())}))
"""


def peak_of(stderr: str) -> tuple[float, float]:
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    h, m, s = (float(g) if g else 0.0 for g in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))
    return h * 3600 + m * 60 + s, rss / 2**20


def command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS GiB) of one blobs-transfer command under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", str(EXE), *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(args)}\n{done.stderr[-2000:]}")
    return peak_of(done.stderr)


def with_engine(config: Path, engine: str, folder: Path) -> Path:
    """A copy of a config whose [study] engine is `engine`."""
    import tomllib

    import tomli_w

    data = tomllib.loads(config.read_text())
    data.setdefault("study", {})["engine"] = engine
    out = folder / f"{config.stem}-{engine}.toml"
    out.write_text(tomli_w.dumps(data))
    return out


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def training(networks: int, env: dict[str, str]) -> dict[str, dict]:
    out = {}
    for engine in ENGINES:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, engine, str(networks)], capture_output=True, text=True, env=env, cwd=ROOT
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        out[engine] = json.loads(done.stdout.strip().splitlines()[-1])
        rate = networks / out[engine]["seconds"]
        print(
            f"  {engine:<10} {out[engine]['seconds']:8.2f} s  {rate:8.0f} networks/s  "
            f"(mean test accuracy {out[engine]['mean_accuracy']:.3f})",
            flush=True,
        )
    ratio = out["tensorflow"]["seconds"] / out["numba"]["seconds"]
    rate = networks / out["numba"]["seconds"]
    print(f"  ratio tensorflow / numba: {ratio:.1f}x")
    print(
        f"  target: numba >= {TRAIN_TARGET[0]:.0f} networks/s: {verdict(rate >= TRAIN_TARGET[0])}; "
        f"ratio >= {TRAIN_TARGET[1]:.0f}x: {verdict(ratio >= TRAIN_TARGET[1])}"
    )
    return out


def commands(names: list[str], env: dict[str, str], runs: int) -> dict[str, dict]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        command(["train-source", "--results-dir", tmp], env)
        command(["compare", "--repeats", "2", "--epochs", "1", "--results-dir", tmp], env)  # warm the kernel cache
        for name in names:
            out[name] = {}
            for engine in ENGINES:
                argv = [*COMMANDS[name], "--results-dir", tmp]
                if name == "sweep":  # a sweep takes its engine from its config: a copy that sets it
                    argv[2] = str(with_engine(Path(argv[2]), engine, Path(tmp)))
                else:
                    argv += ["--engine", engine]
                measured = sorted(command(argv, env) for _ in range(runs if name == "compare30" else 1))
                wall, gib = measured[len(measured) // 2]
                out[name][engine] = {"seconds": wall, "peak_gib": gib, "all": measured}
                print(f"  {name:<12} {engine:<10} {wall:7.2f} s  peak {gib:5.2f} GiB", flush=True)
            numba, tf = out[name]["numba"], out[name]["tensorflow"]
            ratio = tf["seconds"] / numba["seconds"]
            most, min_ratio, max_gib = TARGETS[name]
            checks = [f"ratio {ratio:.1f}x (>= {min_ratio:.0f}x: {verdict(ratio >= min_ratio)})"]
            if most is not None:
                checks.append(f"numba <= {most} s: {verdict(numba['seconds'] <= most)}")
            if max_gib is not None:
                checks.append(f"numba peak <= {max_gib} GiB: {verdict(numba['peak_gib'] <= max_gib)}")
            print(f"  {name:<12} " + "; ".join(checks), flush=True)
    return out


LIBM = """
import importlib.util, sys, time
import numpy as np
from blobs_transfer.model import arms
from blobs_transfer.train import engine
from blobs_transfer.train import kernel
from blobs_transfer.config import Config
from blobs_transfer.problems import make_problem
variant, folder = sys.argv[1], sys.argv[2]
shapes = [(2, 5), (5, 5), (5, 3)]
text = kernel.kernel_source(shapes, "bench-" + variant)
if variant == "libm":
    text = text.replace("_exp(", "np.exp(").replace("_log(", "np.log(")
path = f"{folder}/mlp_{variant}.py"
open(path, "w").write(text)
spec = importlib.util.spec_from_file_location(f"bench_{variant}", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
engine._kernels[tuple(shapes)] = module
cfg = Config()
problem = make_problem(cfg.target_spec)
n = 1024
w = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, seeds.replica_rngs(s)[0]) for s in range(n)])
engine.train_replicas(problem, arms.stack([arms.unstack(w, 0)]), np.ones((1, 3), bool), [0], epochs=1,
                      batch_size=32)  # compile
start = time.process_time()
engine.train_replicas(problem, w, np.ones((n, 3), bool), list(range(n)), epochs=20, batch_size=32,
                      threads=1)
print((time.process_time() - start) / n / 20 * 1e6)
"""


def exp_and_log(env: dict[str, str]) -> dict[str, float]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("ours", "libm"):
            done = subprocess.run(
                [sys.executable, "-c", LIBM, variant, tmp], capture_output=True, text=True, env=env, cwd=ROOT
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr[-2000:])
            out[variant] = float(done.stdout.strip().splitlines()[-1])
            print(f"  {variant:<5} exp/log: {out[variant]:6.2f} us CPU per replica-epoch (one thread)", flush=True)
    print(f"  libm / ours: {out['libm'] / out['ours']:.2f}x")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=20_000, help="networks trained in part 1")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="commands of part 2")
    parser.add_argument("--runs", type=int, default=3, help="runs of compare --repeats 30 (median reported)")
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements here")
    args = parser.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print(f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}", flush=True)
    results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
    parts = set(args.parts.split(","))
    if "1" in parts:
        print(f"1. training {args.networks} networks, 100 epochs, the tutorial's four arms:")
        results["training"] = training(args.networks, env)
    if "2" in parts:
        print("2. whole commands (/usr/bin/time -v):")
        results["commands"] = commands(args.commands.split(","), env, args.runs)
    if "3" in parts:
        print("3. the kernel's exp and log against libm's:")
        results["exp_log"] = exp_and_log(env)
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
