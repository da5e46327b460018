"""Benchmark of the two training engines on the tutorial's repeated comparison (not a test).

Run from the repository root:

    .venv/bin/python benchmarks/bench_engines.py            # full run: the Keras reference takes ~8-10 min
    .venv/bin/python benchmarks/bench_engines.py --quick    # Keras time ESTIMATED from a few fits
    .venv/bin/python benchmarks/bench_engines.py --skip-keras

What it measures (see benchmarks/README.md):

1. The same comparison (4 arms x REPEATS x EPOCHS on Problem 2, transfer arms from one source model trained
   once, untimed) with engine="vectorized" (all repeats batched) and engine="keras" (one model.fit per repeat),
   training time against training time: `run.run_comparison` only. Python/TF import and the source model
   are excluded; the vectorised engine's one-off tf.function tracing and XLA compile are included.
2. The vectorised engine's training time and peak memory at 30, 100, 300 and 1000 repeats per arm, each size in
   a fresh subprocess (this script with --single N) so peaks do not accumulate.
3. The whole command `blobs-transfer compare --repeats REPEATS`, start-up included, in a temporary results folder
   that `blobs-transfer train-source` prepared; the median of a few runs.

Peak memory is the process's VmHWM (/proc/self/status), not getrusage's ru_maxrss: on Linux a child's ru_maxrss
starts from the peak RSS of the parent at exec time (the kernel carries the old address space's high-water mark
over exec), so every subprocess launched by a big parent would report at least the parent's peak.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REPEATS, DEFAULT_EPOCHS = 30, 100
SIZES = (30, 100, 300, 1000)
GIB = 1024**3

# Targets (for the defaults: 30 repeats x 100 epochs)
TARGET_RATIO = 200.0
TARGET_CLI_SECONDS = 8.0
TARGET_BIG_REPEATS = 1000
TARGET_BIG_SECONDS = 60.0
TARGET_BIG_BYTES = 2 * GIB


# --- small helpers ------------------------------------------------------------------------------


def import_tensorflow_quietly() -> float:
    """Import TensorFlow and Keras as the CLI does (start-up notices silenced); returns the import time in s."""
    from blobs_transfer.cli import quiet_tensorflow

    if "tensorflow" in sys.modules:
        return 0.0
    t = time.perf_counter()
    quiet_tensorflow()
    return time.perf_counter() - t


def status_bytes(field: str) -> int:
    """A /proc/self/status memory field (VmHWM = peak RSS of this address space, VmRSS = current) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def fmt_s(seconds: float) -> str:
    return f"{seconds:8.2f} s"


def fmt_mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:7.0f} MiB"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def make_config(repeats: int, epochs: int, engine: str):
    from blobs_transfer.config import Config

    cfg = Config()
    return dataclasses.replace(
        cfg,
        study=dataclasses.replace(cfg.study, repeats=repeats, engine=engine),
        training=dataclasses.replace(cfg.training, epochs=epochs),
    )


def train_source(epochs: int):
    """One source model on Problem 1 (untimed setup), with the vectorised engine; {problem: [weights]}."""
    from blobs_transfer.train import run

    cfg = make_config(1, epochs, "vectorized")
    models, result = run.train_sources(cfg, cfg.study.source_problem, 1)
    return {cfg.source_spec: models}, models[0].seed, float(result.final["test_accuracy"][0])


class EpochClock:
    """Progress callback that timestamps every report (vectorised: one per epoch; keras: one per fit)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def __call__(self, n: int) -> None:
        self.stamps.append(time.perf_counter())


def timed_comparison(cfg, sources):
    from blobs_transfer.train import run

    clock = EpochClock()
    t0 = time.perf_counter()
    result = run.run_comparison(cfg, sources, progress=clock)
    t1 = time.perf_counter()
    return result, t1 - t0, t0, t1, clock.stamps


def vectorized_breakdown(t0: float, t1: float, stamps: list[float]) -> dict:
    """Split a vectorised run (one group) into: up to the end of epoch 1 (set-up, initial evaluation, tracing,
    XLA compile, first epoch), the steady epochs, and what follows the last epoch (final evaluation, stitching)."""
    if not stamps:
        return {}
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    steady = statistics.median(steps) if steps else float("nan")
    return {
        "first_epoch_incl_compile": stamps[0] - t0,
        "steady_epoch_median": steady,
        "steady_epochs_total": stamps[-1] - stamps[0],
        "after_last_epoch": t1 - stamps[-1],
        "compile_overhead_estimate": (stamps[0] - t0) - (steady if steps else 0.0),
    }


def arm_table(result) -> dict[str, tuple[float, float, int]]:
    import numpy as np

    acc = result.final["test_accuracy"]
    out = {}
    for name in dict.fromkeys(r.arm.name for r in result.replicas):
        idx = [i for i, r in enumerate(result.replicas) if r.arm.name == name]
        a = np.asarray(acc[idx], dtype=float)
        out[name] = (float(np.nanmean(a)), float(np.nanstd(a, ddof=1)) if len(a) > 1 else float("nan"), len(a))
    return out


# --- --single N: one vectorised comparison in a fresh process -----------------------------------


def run_single(repeats: int, epochs: int) -> None:
    import_seconds = import_tensorflow_quietly()  # import cost is excluded from the training time
    sources, _, _ = train_source(epochs)
    before = status_bytes("VmHWM")
    cfg = make_config(repeats, epochs, "vectorized")
    result, seconds, t0, t1, stamps = timed_comparison(cfg, sources)
    out = {
        "repeats": repeats,
        "replicas": len(result.replicas),
        "epochs": epochs,
        "train_seconds": seconds,
        "import_seconds": import_seconds,
        "peak_rss_bytes": status_bytes("VmHWM"),
        "peak_rss_before_comparison_bytes": before,
        "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "breakdown": vectorized_breakdown(t0, t1, stamps),
    }
    print("RESULT " + json.dumps(out), flush=True)


def single_in_subprocess(repeats: int, epochs: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--single", str(repeats), "--epochs", str(epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"--single {repeats} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )


# --- the three parts ----------------------------------------------------------------------------


def header(args) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    from blobs_transfer.train.engine import JIT

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    gpus = tf.config.list_physical_devices("GPU")
    print("=" * 78)
    print("blobs-transfer engine benchmark")
    print("=" * 78)
    print(f"date          {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"machine       {platform.node()}  {platform.machine()}  {os.cpu_count()} cores ({affinity} usable)")
    print(f"cpu           {cpu_model()}")
    print(f"gpu           {', '.join(g.name for g in gpus) if gpus else 'none visible to TensorFlow'}")
    print(f"python        {platform.python_version()}  ({sys.executable})")
    print(f"tensorflow    {tf.__version__}   keras {keras.__version__}   numpy {np.__version__}")
    print(f"engine.JIT    {JIT}")
    print(f"study         4 arms x {args.repeats} repeats x {args.epochs} epochs on Problem 2, one source model")
    print(f"load average  {load_average()}  (at start)")
    if (args.repeats, args.epochs) != (DEFAULT_REPEATS, DEFAULT_EPOCHS):
        print(
            f"NOTE          targets are defined for {DEFAULT_REPEATS} repeats x {DEFAULT_EPOCHS} epochs; "
            "verdicts below are indicative only"
        )
    print()


def part1(args) -> dict:
    print(f"[1] Same comparison, both engines ({args.repeats} repeats x {args.epochs} epochs, 4 arms)")
    t = time.perf_counter()
    sources, seed, src_acc = train_source(args.epochs)
    print(
        f"    source model: seed {seed}, test accuracy {src_acc:.3f}  "
        f"(trained once, untimed, {time.perf_counter() - t:.1f} s)"
    )

    vec_cfg = make_config(args.repeats, args.epochs, "vectorized")
    vec_result, vec_s, t0, t1, stamps = timed_comparison(vec_cfg, sources)
    bd = vectorized_breakdown(t0, t1, stamps)
    n_rep = len(vec_result.replicas)
    print(f"    vectorized  {fmt_s(vec_s)}  training {n_rep} replicas (incl. tracing + XLA compile)")
    if bd:
        print(f"      up to end of epoch 1 (set-up, eval, trace, compile) {bd['first_epoch_incl_compile']:6.2f} s")
        print(
            f"      epochs 2..{args.epochs}: {bd['steady_epochs_total']:6.2f} s "
            f"(median {bd['steady_epoch_median'] * 1e3:.1f} ms/epoch)"
        )
        print(f"      after the last epoch (final eval, stitching)        {bd['after_last_epoch']:6.2f} s")
    _, warm_s, *_ = timed_comparison(vec_cfg, sources)
    print(
        f"    vectorized, second run in the same process: {warm_s:.2f} s "
        "(the compiled step is reused: no tracing or compile)"
    )

    out = {"vectorized_seconds": vec_s, "replicas": n_rep, "vec_table": arm_table(vec_result)}
    if args.skip_keras:
        print("    keras       skipped (--skip-keras)")
        print()
        return out

    if args.quick:
        q = min(args.quick_repeats, args.repeats)
        k_cfg = make_config(q, args.epochs, "keras")
        k_result, k_s, k0, _, k_stamps = timed_comparison(k_cfg, sources)
        fits = [b - a for a, b in zip([k0, *k_stamps], k_stamps)]
        n_total = 4 * args.repeats
        rest = fits[1:] if len(fits) > 1 else fits
        per_fit = statistics.mean(rest)
        keras_s = fits[0] + per_fit * (n_total - 1)
        print(
            f"    keras       ESTIMATE {fmt_s(keras_s)}  for {n_total} fits, extrapolated from {len(fits)} fits "
            f"({q} per arm) that took {k_s:.1f} s: first fit {fits[0]:.2f} s, then {per_fit:.2f} s/fit"
        )
        out["keras_estimated"] = True
    else:
        k_cfg = make_config(args.repeats, args.epochs, "keras")
        k_result, keras_s, k0, _, k_stamps = timed_comparison(k_cfg, sources)
        fits = [b - a for a, b in zip([k0, *k_stamps], k_stamps)]
        print(
            f"    keras       {fmt_s(keras_s)}  {len(fits)} fits: first {fits[0]:.2f} s, "
            f"median {statistics.median(fits):.2f} s/fit, min {min(fits):.2f}, max {max(fits):.2f}"
        )
        out["keras_estimated"] = False
    out["keras_seconds"] = keras_s
    out["keras_table"] = arm_table(k_result)
    ratio = keras_s / vec_s
    label = "ESTIMATED ratio" if args.quick else "ratio"
    print(
        f"    {label} keras / vectorized = {ratio:7.1f}x   target >= {TARGET_RATIO:.0f}x   "
        f"{verdict(ratio >= TARGET_RATIO)}{' (estimate)' if args.quick else ''}"
    )
    out["ratio"] = ratio

    print("    sanity check, mean (sd, n) test accuracy per arm:")
    print(f"      {'arm':<20} {'vectorized':>22} {'keras':>22}")
    for name, (m, s, n) in out["vec_table"].items():
        km, ks, kn = out["keras_table"].get(name, (float("nan"),) * 3)
        print(f"      {name:<20} {m:10.3f} ({s:.3f}, {n:4d}) {km:10.3f} ({ks:.3f}, {kn:4d})")
    print()
    return out


def part2(args) -> list[dict]:
    print(f"[2] Vectorized engine by size ({args.epochs} epochs, 4 arms; each size in a fresh process)")
    print(
        f"    {'repeats/arm':>11} {'replicas':>8} {'training':>11} {'to end ep.1':>11} {'ms/epoch':>9} "
        f"{'peak RSS':>11} {'before':>11}"
    )
    rows = []
    for n in args.sizes:
        r = single_in_subprocess(n, args.epochs)
        bd = r["breakdown"]
        print(
            f"    {n:>11} {r['replicas']:>8} {fmt_s(r['train_seconds']):>11} "
            f"{bd.get('first_epoch_incl_compile', float('nan')):9.2f} s "
            f"{bd.get('steady_epoch_median', float('nan')) * 1e3:9.1f} "
            f"{fmt_mib(r['peak_rss_bytes']):>11} {fmt_mib(r['peak_rss_before_comparison_bytes']):>11}",
            flush=True,
        )
        rows.append(r)
    print("    (peak RSS = whole-process VmHWM incl. TensorFlow; 'before' = peak before the comparison started)")
    big = [r for r in rows if r["repeats"] == TARGET_BIG_REPEATS]
    if big:
        b = big[0]
        print(
            f"    {TARGET_BIG_REPEATS} repeats: training {b['train_seconds']:.1f} s   "
            f"target <= {TARGET_BIG_SECONDS:.0f} s   "
            f"{verdict(b['train_seconds'] <= TARGET_BIG_SECONDS)}"
        )
        print(
            f"    {TARGET_BIG_REPEATS} repeats: peak RSS {b['peak_rss_bytes'] / GIB:.2f} GiB   target <= "
            f"{TARGET_BIG_BYTES / GIB:.0f} GiB   {verdict(b['peak_rss_bytes'] <= TARGET_BIG_BYTES)}"
        )
    print()
    return rows


def console_script() -> str:
    here = Path(sys.executable).parent / "blobs-transfer"
    return str(here) if here.exists() else (shutil.which("blobs-transfer") or "blobs-transfer")


def part3(args) -> dict:
    exe = console_script()
    cmd_text = f"blobs-transfer compare --repeats {args.repeats}" + (
        f" --epochs {args.epochs}" if args.epochs != DEFAULT_EPOCHS else ""
    )
    print(f"[3] Whole command from the shell: `{cmd_text}` (start-up included), {args.cli_runs} runs")
    times, details = [], []
    with tempfile.TemporaryDirectory(prefix="bench_blobs_") as tmp:
        t = time.perf_counter()
        prep = subprocess.run(
            [exe, "train-source", "--results-dir", tmp, "--epochs", str(args.epochs)], capture_output=True, text=True
        )
        if prep.returncode != 0:
            raise RuntimeError(f"train-source failed:\n{prep.stdout}\n{prep.stderr}")
        print(f"    prepared {tmp} with train-source ({time.perf_counter() - t:.1f} s, untimed)")
        cmd = [exe, "compare", "--repeats", str(args.repeats), "--results-dir", tmp]
        if args.epochs != DEFAULT_EPOCHS:
            cmd += ["--epochs", str(args.epochs)]
        for i in range(args.cli_runs):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            elapsed = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(
                    f"compare failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
                )
            times.append(elapsed)
            meta = {}
            lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
            run_dir = Path(lines[-1].strip()) if lines else None
            if run_dir is not None and (run_dir / "metadata.json").exists():
                meta = json.loads((run_dir / "metadata.json").read_text())
            train_s, wall_s = meta.get("training_seconds"), meta.get("wall_seconds")
            startup = elapsed - wall_s if isinstance(wall_s, (int, float)) else float("nan")
            parts = ""
            if isinstance(train_s, (int, float)):
                parts = (
                    f"  = start-up/imports/exit {startup:5.2f} s + training {train_s:5.2f} s"
                    f" + source load, outputs, report {wall_s - train_s:5.2f} s"
                )
            print(f"    run {i + 1}: {fmt_s(elapsed)}{parts}", flush=True)
            details.append({"seconds": elapsed, "training_seconds": train_s, "wall_seconds": wall_s})
    med = statistics.median(times)
    print(f"    median {med:.2f} s   target <= {TARGET_CLI_SECONDS:.0f} s   {verdict(med <= TARGET_CLI_SECONDS)}")
    print()
    return {"median": med, "runs": details}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="repeats per arm for parts 1 and 3 [30]")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs per model, all parts [100]")
    p.add_argument(
        "--quick",
        action="store_true",
        help="run the Keras reference for only --quick-repeats repeats per arm and EXTRAPOLATE its time",
    )
    p.add_argument(
        "--quick-repeats", type=int, default=2, help="repeats per arm of the Keras reference with --quick [2]"
    )
    p.add_argument("--skip-keras", action="store_true", help="do not run the Keras reference at all (no ratio)")
    p.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(SIZES),
        help="repeats per arm for part 2, comma-separated [30,100,300,1000]",
    )
    p.add_argument("--cli-runs", type=int, default=3, help="how many times part 3 runs the command [3]")
    p.add_argument("--parts", default="1,2,3", help="which parts to run, comma-separated [1,2,3]")
    p.add_argument("--single", type=int, metavar="N", help=argparse.SUPPRESS)  # internal: one size, fresh process
    args = p.parse_args(argv)

    if args.single is not None:
        run_single(args.single, args.epochs)
        return

    sys.path.insert(0, str(REPO))  # harmless when the package is installed (editable)
    started = time.perf_counter()
    import_tensorflow_quietly()
    header(args)
    parts = {int(x) for x in args.parts.split(",") if x.strip()}
    summary = []
    if 1 in parts:
        r1 = part1(args)
        if "ratio" in r1:
            est = " (ESTIMATE)" if r1["keras_estimated"] else ""
            summary.append(
                (
                    f"ratio keras/vectorized >= {TARGET_RATIO:.0f}x",
                    f"{r1['ratio']:.1f}x{est}",
                    r1["ratio"] >= TARGET_RATIO,
                )
            )
    if 2 in parts:
        rows = part2(args)
        big = [r for r in rows if r["repeats"] == TARGET_BIG_REPEATS]
        if big:
            summary.append(
                (
                    f"{TARGET_BIG_REPEATS} repeats training <= {TARGET_BIG_SECONDS:.0f} s",
                    f"{big[0]['train_seconds']:.1f} s",
                    big[0]["train_seconds"] <= TARGET_BIG_SECONDS,
                )
            )
            summary.append(
                (
                    f"{TARGET_BIG_REPEATS} repeats peak RSS <= {TARGET_BIG_BYTES / GIB:.0f} GiB",
                    f"{big[0]['peak_rss_bytes'] / GIB:.2f} GiB",
                    big[0]["peak_rss_bytes"] <= TARGET_BIG_BYTES,
                )
            )
    if 3 in parts:
        r3 = part3(args)
        summary.append(
            (
                f"whole command <= {TARGET_CLI_SECONDS:.0f} s",
                f"{r3['median']:.2f} s",
                r3["median"] <= TARGET_CLI_SECONDS,
            )
        )
    print("Summary")
    for name, value, ok in summary:
        print(f"    {verdict(ok)}  {name:<36} {value}")
    print(f"load average  {load_average()}  (at end; benchmark took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
